#!/usr/bin/env bash
# Throughput per generator core: Stampede (the rust-get plugin: 1 GET + 1 check per iteration), wrk
# (Debian's package) and hyper-loop (bench/hyper-loop, a minimal hyper-util client loop) against the
# same targets (nginx from Debian's packages with one worker, then `stampede target`), in the same
# invocation. Installs wrk and nginx with apt when missing; the measuring is bench/throughput.py.
#
# Each target is pinned to CPU 0 and each generator to CPU 1 (taskset, when there are 2+ CPUs), so
# "requests per second" is per generator core. Load goes only to 127.0.0.1; each run is bounded by
# DURATION and stops by itself.
#
# usage: bench/http.sh [DURATION_SECONDS=10] [CONNECTIONS=50]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
secs="${1:-10}"
conns="${2:-50}"

for pkg in wrk nginx; do
    command -v "$pkg" >/dev/null || [ -x "/usr/sbin/$pkg" ] || {
        echo "==> installing $pkg" >&2
        apt_install "$pkg" >/dev/null
    }
done
ensure_rust_target
cargo build --release -p stampede -p hyper-loop >/dev/null 2>&1 || cargo build --release -p stampede -p hyper-loop
bash scripts/build-guests.sh >/dev/null

python3 bench/throughput.py "$secs" "$conns"
