#!/usr/bin/env bash
# Set up whatever is missing and run the demo: build Stampede and the example scenario, start the
# built-in demo target on 127.0.0.1:18080, run plugins/rust-shop/plan.toml against it, stop the target.
# Safe to run again; later runs only rebuild what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh

ensure_rust_target
echo "==> building stampede (release; the first build compiles wasmtime and takes a while)"
cargo build --release -p stampede
echo "==> building the guest components"
bash scripts/build-guests.sh >/dev/null

bin="$root/target/release/stampede"
port=18080
if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "==> something already answers on 127.0.0.1:$port; using it as the target"
    target_pid=""
else
    echo "==> starting the demo target on 127.0.0.1:$port"
    "$bin" target --listen "127.0.0.1:$port" &
    target_pid=$!
    trap '[ -n "$target_pid" ] && kill "$target_pid" 2>/dev/null || true' EXIT
    wait_for_http "http://127.0.0.1:$port/healthz"
fi

echo "==> running plugins/rust-shop/plan.toml"
"$bin" run plugins/rust-shop/plan.toml --summary-json target/demo-summary.json \
    --summary-html target/demo-report.html
echo "==> summary JSON written to target/demo-summary.json, HTML report to target/demo-report.html"
