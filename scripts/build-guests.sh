#!/usr/bin/env bash
# Build every Rust guest component (example plugins and test fixtures) for wasm32-wasip2, in release.
#
# Each workspace has its own .cargo/config.toml (target wasm32-wasip2, target dir target/guest, small
# stack), so we cd into it rather than pass --manifest-path. Cargo makes this a no-op when nothing
# changed. Prints the produced .wasm paths; exits non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=wasm32-wasip2
out="$root/target/guest/$target/release"

# The workspaces' .cargo/config.toml choose the target and target dir; don't let the caller's
# environment send the output elsewhere.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET CARGO_BUILD_TARGET_DIR
# Host flags (e.g. -D warnings, target-cpu=native) must not replace the guests' own rustflags.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

source "$root/scripts/lib.sh"
ensure_rust_target

# workspace directory : produced components (lib names), in build order
workspaces=(
    "plugins:rust_get rust_shop"
    "tests/fixtures:fixture_basic fixture_wasi wrong_world"
    # Its own workspace: built with the SDK's `shared` feature (world scenario-shared).
    "tests/fixtures/fixture-shared:fixture_shared"
)

for entry in "${workspaces[@]}"; do
    dir="${entry%%:*}"
    echo "building guests in $dir" >&2
    (cd "$root/$dir" && cargo build --release --quiet)
done

for entry in "${workspaces[@]}"; do
    for lib in ${entry#*:}; do
        wasm="$out/$lib.wasm"
        if [[ ! -f "$wasm" ]]; then
            echo "error: expected component $wasm was not produced" >&2
            exit 1
        fi
        # A component's preamble is `\0asm` then version 0x0d 0x00 and layer 0x01 0x00
        # (a core module would have 01 00 00 00).
        if [[ "$(od -An -tx1 -j4 -N4 "$wasm" | tr -d ' \n')" != "0d000100" ]]; then
            echo "error: $wasm is not a WebAssembly component" >&2
            exit 1
        fi
        echo "$wasm"
    done
done

# JavaScript guests: componentize-js and componentize-qjs (pinned in sdk/js/package-lock.json); needs
# node >= 20 and npm.
if [[ ! -d "$root/sdk/js/node_modules" ]]; then
    echo "installing the JS SDK toolchain (npm ci in sdk/js)" >&2
    npm ci --prefix "$root/sdk/js" --no-audit --no-fund >&2
fi
node "$root/sdk/js/build.mjs" --if-stale "$root/plugins/js-shop/scenario.js" "$root/target/guest/js/js_shop.wasm" >&2
echo "$root/target/guest/js/js_shop.wasm"
# Shared isolation: componentize-qjs (QuickJS), pinned in the same package-lock.json.
node "$root/sdk/js/build.mjs" --if-stale --shared "$root/tests/fixtures/js-shared/scenario.js" "$root/target/guest/js/js_shared.wasm" >&2
echo "$root/target/guest/js/js_shared.wasm"
node "$root/sdk/js/build.mjs" --if-stale --shared "$root/plugins/js-shop-shared/scenario.js" "$root/target/guest/js/js_shop_shared.wasm" >&2
echo "$root/target/guest/js/js_shop_shared.wasm"

# Python guests: componentize-py (pinned in sdk/python/requirements.txt), installed on first use into
# target/sdk-python/venv; needs python3 with venv and pip. A no-op when up to date.
bash "$root/sdk/python/build.sh" "$root/plugins/python-shop" python_shop "$root/target/guest/python/python_shop.wasm"
bash "$root/sdk/python/build.sh" "$root/tests/fixtures/py-shared" py_shared "$root/target/guest/python/py_shared.wasm"

# C guests: the Makefile generates the bindings and componentizes with the stampede binary itself, so
# they are built only once `target/release/stampede` exists (build the host first). make rebuilds only
# what changed; ensure_c_toolchain installs clang, wasm-ld and wasi-libc (Debian) when missing.
stampede="$root/target/release/stampede"
if [[ -x "$stampede" ]]; then
    ensure_c_toolchain
    make -s -C "$root/plugins/c-shop" STAMPEDE="$stampede" >&2
    echo "$root/target/guest/c/c_shop.wasm"
else
    echo "skipping the C guests: $stampede is not built yet (cargo build --release -p stampede)" >&2
fi
