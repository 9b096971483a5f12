#!/usr/bin/env bash
# Build {{name}}.wasm with componentize-py (installed on first use into target/sdk-python/venv, or
# $STAMPEDE_PYTHON_TOOLS/venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
sdk/python/build.sh src scenario {{name}}.wasm
