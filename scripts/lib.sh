# Shared helpers for the scripts in this folder (sourced, not run).

# The guest target; `rustup target add` is a no-op when it is installed.
ensure_rust_target() {
    if ! command -v rustup >/dev/null; then
        echo "warning: rustup not found; assuming the wasm32-wasip2 target is installed" >&2
    elif ! rustup target list --installed | grep -qx wasm32-wasip2; then
        echo "==> installing the Rust target wasm32-wasip2" >&2
        rustup target add wasm32-wasip2 >&2
    fi
}

# Wait up to 10 s for a URL to answer.
wait_for_http() {
    for _ in $(seq 1 100); do
        if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "error: $1 did not answer within 10 s" >&2
    return 1
}
