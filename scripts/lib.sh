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

# rustfmt, for the format check of the test suite.
ensure_rustfmt() {
    if ! cargo fmt --version >/dev/null 2>&1; then
        echo "==> installing rustfmt" >&2
        rustup component add rustfmt >&2
    fi
}

# Build what bench/ measures: stampede and hyper-loop with the profile STAMPEDE_PROFILE (default
# `dist`: fat LTO, one codegen unit, the build for load generation; ~10 minutes the first time).
# Quiet unless the build fails, then again with its output. STAMPEDE_PROFILE=pgo measures
# target/pgo/stampede (built by scripts/build-pgo.sh when missing, ~25 minutes; rebuild it after
# changing the code) against the `dist` hyper-loop.
build_generators() {
    local profile="${STAMPEDE_PROFILE:-dist}" packages=(-p stampede -p hyper-loop)
    if [[ "$profile" == pgo ]]; then
        profile=dist packages=(-p hyper-loop)
    fi
    cargo build --profile "$profile" "${packages[@]}" >/dev/null 2>&1 ||
        cargo build --profile "$profile" "${packages[@]}"
    if [[ "${STAMPEDE_PROFILE:-}" == pgo ]]; then
        if [[ ! -x target/pgo/stampede ]]; then
            bash scripts/build-pgo.sh
        else
            echo "==> measuring target/pgo/stampede as built $(date -r target/pgo/stampede -u '+%F %H:%M UTC')" \
                "(scripts/build-pgo.sh rebuilds it)" >&2
        fi
    fi
}

# Wait up to 10 s for a URL to answer; more arguments go to curl (`-k` for a self-signed server).
wait_for_http() {
    local url="$1"
    shift
    for _ in $(seq 1 100); do
        if curl -fsS "$@" "$url" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "error: $url did not answer within 10 s" >&2
    return 1
}

# Install Debian packages with apt-get (through sudo unless root).
apt_install() {
    if ! command -v apt-get >/dev/null; then
        echo "error: please install these packages (Debian names): $*" >&2
        return 1
    fi
    local sudo=""
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null; then
            echo "error: installing $* needs root or sudo" >&2
            return 1
        fi
        sudo=sudo
    fi
    echo "==> installing $*" >&2
    $sudo apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# The C guest toolchain (clang, wasm-ld, wasi-libc, compiler-rt builtins for wasm32), installed from
# Debian's packages when clang or the wasi-libc headers are missing. A no-op otherwise.
ensure_c_toolchain() {
    if command -v clang >/dev/null && command -v wasm-ld >/dev/null && [[ -f /usr/include/wasm32-wasi/stdlib.h ]]; then
        return 0
    fi
    apt_install clang lld wasi-libc libclang-rt-14-dev-wasm32
}
