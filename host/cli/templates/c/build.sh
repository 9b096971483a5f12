#!/usr/bin/env bash
# Build {{name}}.wasm: clang (wasm32-wasi, wasi-libc) and the `stampede` binary (set STAMPEDE to use
# another one than the one on the PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
make STAMPEDE="${STAMPEDE:-stampede}"
