#!/usr/bin/env bash
# Throughput per generator core: Stampede (the rust-get plugin: 1 GET + 1 check per iteration), wrk
# (Debian's package), hyper-loop (bench/hyper-loop, a minimal hyper-util client loop), Goose
# (crates.io, bench/goose-get, built into target/goose) and Locust (PyPI, FastHttpUser and HttpUser,
# installed into target/bench-venv) against the
# same targets (nginx from Debian's packages with one worker, then `stampede target`), in the same
# invocation. Installs wrk and nginx with apt when missing; the measuring is bench/throughput.py.
#
# Each target is pinned to CPU 0 and each generator to CPU 1 (taskset, when there are 2+ CPUs), so
# "requests per second" is per generator core. Load goes only to 127.0.0.1; each run is bounded by
# DURATION and stops by itself.
#
# With --https first: the same over TLS, Stampede against wrk only (see bench/throughput.py).
#
# usage: bench/http.sh [--https] [DURATION_SECONDS=10] [CONNECTIONS=50] [ROUNDS=3]
set -euo pipefail
https=()
if [ "${1:-}" = "--https" ]; then
    https=(--https)
    shift
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
secs="${1:-10}"
conns="${2:-50}"
rounds="${3:-3}"

for pkg in wrk nginx; do
    command -v "$pkg" >/dev/null || [ -x "/usr/sbin/$pkg" ] || {
        echo "==> installing $pkg" >&2
        apt_install "$pkg" >/dev/null
    }
done
# Locust (PyPI) as a peer, in a virtualenv of its own under target/ (plain HTTP only).
if [ ${#https[@]} -eq 0 ] && [ ! -x target/bench-venv/bin/locust ]; then
    echo "==> installing locust into target/bench-venv" >&2
    { python3 -m venv target/bench-venv && target/bench-venv/bin/pip install -q locust; } >&2 ||
        echo "locust could not be installed: it is left out" >&2
fi
ensure_rust_target
# Goose (crates.io) as a peer: its own workspace, built into target/goose (plain HTTP only).
[ ${#https[@]} -gt 0 ] || (cd bench/goose-get && CARGO_TARGET_DIR="$root/target/goose" cargo build --release -q) >&2 ||
    echo "goose could not be built: it is left out" >&2
build_generators
bash scripts/build-guests.sh >/dev/null

python3 bench/throughput.py "${https[@]}" "$secs" "$conns" "$rounds"
