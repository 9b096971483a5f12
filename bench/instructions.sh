#!/usr/bin/env bash
# Instructions per request of Stampede and hyper-loop, counted by callgrind (valgrind from Debian's
# packages, installed when missing): a measure that repeats to ~0.2 % on a noisy machine. The
# measuring is bench/instructions.py; each run is bounded and targets only 127.0.0.1.
#
# usage: bench/instructions.sh [--nginx-headers K] [--top N] [N1=5000] [N2=25000]   (~3 minutes)
# (--nginx-headers: against nginx with K extra response headers, see bench/instructions.py)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/lib.sh
command -v valgrind >/dev/null || {
    echo "==> installing valgrind" >&2
    apt_install valgrind >/dev/null
}
ensure_rust_target
build_generators
bash scripts/build-guests.sh >/dev/null
python3 bench/instructions.py "$@"
