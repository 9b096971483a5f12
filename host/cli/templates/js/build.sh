#!/usr/bin/env bash
# Build {{name}}.wasm with componentize-js (componentize-qjs for shared isolation), installed into
# sdk/js/node_modules by npm on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ ! -d sdk/js/node_modules ]]; then
    npm ci --prefix sdk/js --no-audit --no-fund
fi
node sdk/js/build.mjs{{new_flags}} scenario.js {{name}}.wasm
