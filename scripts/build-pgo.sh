#!/usr/bin/env bash
# Build `stampede` for load generation with profile-guided optimisation (PGO): the `dist` profile
# (fat LTO, one codegen unit) built with instrumentation, run on a training load, then built again
# with the recorded profile, which lays out the hot code together and its branches the way they go.
# Measured on 2 cores: ~1.13x the requests per core of the plain `dist` build (BENCHMARKS.md).
#
# Result: target/pgo/stampede. Two full builds from scratch: ~25 minutes on 2 cores, ~4 GB of disk
# under target/pgo.
#
# Needs `llvm-profdata` of the LLVM major version rustc was built with (`rustc -vV`), installed from
# Debian's package `llvm-N` when missing. The training load runs the repository's scenarios against
# `stampede target` (plain and with TLS) on 127.0.0.1 only, for ~30 s in all, and stops by itself.
#
# usage: scripts/build-pgo.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh

llvm="$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
host="$(rustc -vV | sed -n 's/^host: //p')"
profdata="llvm-profdata-$llvm"
if ! command -v "$profdata" >/dev/null; then
    apt_install "llvm-$llvm" || {
        echo "error: PGO needs $profdata (LLVM $llvm, as rustc); install Debian's llvm-$llvm" >&2
        exit 1
    }
fi
ensure_rust_target
bash scripts/build-guests.sh >/dev/null

work="$root/target/pgo"
rm -rf "$work/raw" "$work/train"
mkdir -p "$work/train"

# 1. Instrumented build. `--target` keeps the flags off build scripts and proc macros.
echo "==> building an instrumented stampede (target/pgo/gen; ~12 minutes)" >&2
RUSTFLAGS="-Cprofile-generate=$work/raw" CARGO_TARGET_DIR="$work/gen" \
    cargo build --profile dist -p stampede --target "$host" --quiet
gen="$work/gen/$host/dist/stampede"

# 2. Training load: the kinds of run the binary serves (one instance per VU at low and high
# concurrency, an arrival rate, shared isolation, the demo shop with its POSTs, checks and
# thresholds, and HTTPS, where the demo target chooses HTTP/2). The targets' own profiles go
# elsewhere and are not used.
port=18098
origin="http://127.0.0.1:$port"
tls_origin="https://127.0.0.1:$((port + 1))"
LLVM_PROFILE_FILE="$work/train/target-%p.profraw" "$gen" target --listen "127.0.0.1:$port" \
    >"$work/train/target.log" 2>&1 &
target_pid=$!
LLVM_PROFILE_FILE="$work/train/target-%p.profraw" "$gen" target --tls \
    --listen "127.0.0.1:$((port + 1))" >"$work/train/tls-target.log" 2>&1 &
tls_target_pid=$!
trap 'kill "$target_pid" "$tls_target_pid" 2>/dev/null || true' EXIT
wait_for_http "$origin/"
# (Its certificate is self-signed: curl -k, and the plan skips verification.)
wait_for_http "$tls_origin/" -k

guests="$root/target/guest/wasm32-wasip2/release"
cat >"$work/train/get.toml" <<EOF
component = "$guests/rust_get.wasm"
targets = ["$origin"]
[params]
url = "$origin/"
[scenarios.get]
executor = "constant-vus"
vus = 50
duration = "8s"
EOF
cat >"$work/train/mixed.toml" <<EOF
component = "$guests/fixture_shared.wasm"
targets = ["$origin"]
[params]
mode = "think"
sleep_ms = "5"
url = "$origin/"
[scenarios.shared]
executor = "constant-vus"
vus = 200
duration = "4s"
isolation = "shared"
[scenarios.rate]
executor = "constant-arrival-rate"
rate = 2000
duration = "4s"
pre-allocated-vus = 50
EOF
cat >"$work/train/https.toml" <<EOF
component = "$guests/rust_get.wasm"
targets = ["$tls_origin"]
[params]
url = "$tls_origin/"
[options]
insecure-skip-tls-verify = true
[scenarios.get]
executor = "constant-vus"
vus = 50
duration = "4s"
EOF
sed -e "s#^component = .*#component = \"$guests/rust_shop.wasm\"#" -e "s#http://127.0.0.1:18080#$origin#g" \
    -e 's#^duration = .*#duration = "5s"#' plugins/rust-shop/plan.toml >"$work/train/shop.toml"

echo "==> training run (~30 s against 127.0.0.1:$port and :$((port + 1)))" >&2
export STAMPEDE_CACHE_DIR="$work/train/cache"
"$gen" run "$work/train/get.toml" --quiet --duration 1s --vus 1 >/dev/null # compile, unmeasured
"$gen" run "$work/train/get.toml" --quiet >/dev/null
"$gen" run "$work/train/get.toml" --quiet --vus 5 --duration 3s >/dev/null
"$gen" run "$work/train/mixed.toml" --quiet >/dev/null
"$gen" run "$work/train/shop.toml" --quiet >/dev/null
"$gen" run "$work/train/https.toml" --quiet >/dev/null
kill "$target_pid" "$tls_target_pid" 2>/dev/null || true
wait "$target_pid" "$tls_target_pid" 2>/dev/null || true
trap - EXIT
"$profdata" merge -o "$work/merged.profdata" "$work"/raw/*.profraw

# 3. The optimised build.
echo "==> building stampede with the profile (target/pgo/use; ~12 minutes)" >&2
RUSTFLAGS="-Cprofile-use=$work/merged.profdata" CARGO_TARGET_DIR="$work/use" \
    cargo build --profile dist -p stampede --target "$host" --quiet
cp "$work/use/$host/dist/stampede" "$work/stampede"
echo "built target/pgo/stampede" >&2
