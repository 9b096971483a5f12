//! C scenarios: `plugins/c-shop`, built with its Makefile (the C SDK in `sdk/c`, bindings from
//! `stampede guest bindings-c`, clang for wasm32-wasi, `stampede guest componentize`), runs the
//! rust-shop flow against a demo target, and every request it sends is one the target saw.
//!
//! Needs `make`, `clang`, `wasm-ld` and wasi-libc (Debian: `clang lld wasi-libc
//! libclang-rt-14-dev-wasm32`; `scripts/lib.sh` has `ensure_c_toolchain`). make rebuilds only what
//! changed.

use crate::common::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Where the Makefile puts c-shop, relative to the repository root.
const C_SHOP: &str = "target/guest/c/c_shop.wasm";

/// The c-shop component (`make -C plugins/c-shop`, once per test process).
fn c_shop() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = root();
            let _shared = sharing_the_machine();
            let out = Command::new("make")
                .arg("-C")
                .arg(root.join("plugins/c-shop"))
                .arg(format!("STAMPEDE={}", env!("CARGO_BIN_EXE_stampede")))
                .output()
                .unwrap_or_else(|e| panic!("make: cannot start it ({e}); is make installed?"));
            assert!(
                out.status.success(),
                "make -C plugins/c-shop failed (it needs clang, wasm-ld and wasi-libc):\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let wasm = root.join(C_SHOP);
            assert!(wasm.exists(), "{} was not built", wasm.display());
            wasm
        })
        .clone()
}

/// The c-shop plan, 10 VUs for 10 s: exit 0, every check passes, and `http_reqs` equals what the
/// target counted.
#[tokio::test(flavor = "multi_thread")]
async fn c_shop_plan_counts_exactly_what_the_target_saw() {
    let wasm = c_shop();
    let (run, _) = run_plugin_exactly(
        "c-shop",
        &format!("../../{C_SHOP}"),
        &wasm,
        &["--vus", "10", "--duration", "10s"],
    )
    .await;
    assert_shop_flow(&run);
}

/// A C component of the world `scenario` runs on the engine without component-model concurrency,
/// as Rust ones do (host/runtime/src/engine.rs).
#[test]
fn c_components_get_the_engine_without_concurrency() {
    assert!(!load_component(&c_shop()).concurrency_support());
}
