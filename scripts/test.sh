#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this): installs what is missing, builds the
# guest components, runs every host test (unit, golden, end-to-end with real processes on 127.0.0.1)
# and the SDK's host-side tests. Everything uses the release profile so wasmtime is built once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh

ensure_rust_target
ensure_c_toolchain
ensure_rustfmt
echo "==> format check (the host workspace and the guest workspaces: SDK, plugins, test components)"
for dir in . sdk/rust plugins tests/fixtures tests/fixtures/fixture-shared bench/goose-get; do
    (cd "$dir" && cargo fmt --all --check) || {
        echo "error: $dir is not formatted; run \`cargo fmt --all\` there" >&2
        exit 1
    }
done
echo "==> building the guest components"
bash scripts/build-guests.sh >/dev/null
echo "==> host workspace tests"
cargo test --release --workspace
echo "==> Rust SDK host-side tests"
(cd sdk/rust && CARGO_TARGET_DIR="$root/target/sdk-host" cargo test --quiet)
# The `shared` feature's pure parts (its doc examples are for the default world).
(cd sdk/rust && CARGO_TARGET_DIR="$root/target/sdk-host" cargo test --quiet --features shared --lib)
echo "==> JS SDK unit tests"
npm test --prefix sdk/js
echo "==> Python SDK unit tests"
python3 sdk/python/tests/test_stampede.py
