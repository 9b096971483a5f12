//! Helpers: build the guests once, start targets, write plans, run the binary.

use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Build every guest component once per test binary (a no-op when they are up to date).
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(root().join("scripts/build-guests.sh"))
            .output()
            .expect("running scripts/build-guests.sh");
        assert!(
            out.status.success(),
            "guest build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let path = root()
        .join("target/guest/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A demo target on a free loopback port.
pub struct Target {
    pub addr: SocketAddr,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Target {
    pub async fn start() -> Target {
        let (addr, handle) = stampede_target::spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Target { addr, handle }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `target_requests_total` as the target's own /metrics reports it.
    pub async fn requests(&self) -> u64 {
        self.counter("target_requests_total").await
    }

    /// `target_connections_total` (connections accepted) as the target's /metrics reports it, not
    /// counting the connection this scrape opens. Every scrape opens one: ask this first.
    pub async fn connections(&self) -> u64 {
        self.counter("target_connections_total").await - 1
    }

    /// A counter from the target's own /metrics.
    async fn counter(&self, name: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.origin()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} in /metrics"))
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// A plan for the `fixture_basic` component against `target`, in mode `mode`.
/// `extra` is inserted at the top level (after `[params]`'s mode/url), e.g. more params or tables.
pub fn fixture_plan(target: &Target, mode: &str, params: &str, rest: &str) -> String {
    fixture_plan_for("fixture_basic", target, mode, "/", params, rest)
}

/// Like [`fixture_plan`], for the fixture component `fixture` with `url` at `path` on `target`.
pub fn fixture_plan_for(
    fixture: &str,
    target: &Target,
    mode: &str,
    path: &str,
    params: &str,
    rest: &str,
) -> String {
    component_plan(&guest(fixture), target, mode, path, params, rest)
}

/// Like [`fixture_plan_for`], for the component at `wasm` (one not built by cargo).
pub fn component_plan(
    wasm: &Path,
    target: &Target,
    mode: &str,
    path: &str,
    params: &str,
    rest: &str,
) -> String {
    format!(
        r#"component = "{wasm}"
targets = ["{origin}"]

[params]
mode = "{mode}"
url = "{origin}{path}"
{params}

{rest}
"#,
        wasm = wasm.display(),
        origin = target.origin(),
    )
}

/// A plan for the test component at `wasm` in `mode` (GET `/`, `sleep_ms` 300) with `vus` constant VUs
/// for `duration`, `per_instance` VUs per shared instance (`None`: the default isolation, one
/// instance per VU).
pub fn mode_plan(
    wasm: &Path,
    target: &Target,
    mode: &str,
    vus: u64,
    duration: &str,
    per_instance: Option<u32>,
) -> String {
    let mut scenario = constant(vus, duration);
    if let Some(n) = per_instance {
        scenario += &format!("isolation = \"shared\"\nvus-per-instance = {n}\n");
    }
    component_plan(wasm, target, mode, "/", "sleep_ms = \"300\"", &scenario)
}

/// `[scenarios.main]` with constant VUs.
pub fn constant(vus: u64, duration: &str) -> String {
    format!(
        "[scenarios.main]\nexecutor = \"constant-vus\"\nvus = {vus}\nduration = \"{duration}\"\ngraceful-stop = \"2s\"\n"
    )
}

/// The result of one `stampede run`.
pub struct Run {
    pub output: Output,
    pub summary: Option<Value>,
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn summary(&self) -> &Value {
        self.summary
            .as_ref()
            .unwrap_or_else(|| panic!("no summary JSON; stderr:\n{}", self.stderr()))
    }

    /// `metrics.<name>.<field>` from the summary, 0 when absent.
    pub fn metric(&self, name: &str, field: &str) -> f64 {
        self.summary()["metrics"][name][field]
            .as_f64()
            .unwrap_or(0.0)
    }

    /// Passes of the check `name` in the summary's `checks` list.
    pub fn check_passes(&self, name: &str) -> u64 {
        self.check_field(name, "passes")
    }

    /// Fails of the check `name` in the summary's `checks` list.
    #[allow(dead_code)]
    pub fn check_fails(&self, name: &str) -> u64 {
        self.check_field(name, "fails")
    }

    fn check_field(&self, name: &str, field: &str) -> u64 {
        self.summary()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c[field].as_u64())
            .unwrap_or(0)
    }
}

/// Tests that assert a schedule to the millisecond run alone: on a 2-core machine a test running
/// beside them (another run, a component build) stalls their run by several ms now and then. They
/// hold this lock for writing ([`run_plan_alone`]); every other `stampede` process and component
/// build holds it for reading ([`sharing_the_machine`]) while it runs. Guards never nest: std's lock
/// lets a waiting writer go first (on Linux, whose futex-based lock does so; not a documented
/// guarantee), so a second read in the same test would wait for ever.
///
/// It is std's lock, held across the `.await` of a child process (hence the `allow`s): the builds
/// that take it are synchronous, and every test has a runtime of its own and runs one process at a
/// time, so no task of the same runtime waits for it meanwhile.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held while a test's process or build runs (see [`MACHINE`]).
pub fn sharing_the_machine() -> std::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|e| e.into_inner())
}

/// Like [`run_plan`], with no other test's process or build running meanwhile.
#[allow(clippy::await_holding_lock)]
pub async fn run_plan_alone(plan: &str, args: &[&str]) -> Run {
    let _alone = MACHINE.write().unwrap_or_else(|e| e.into_inner());
    run_plan_now(plan, args, &[]).await
}

/// Write `plan` to a temp dir and run `stampede run` on it with `args`.
#[allow(clippy::await_holding_lock)]
pub async fn run_plan(plan: &str, args: &[&str]) -> Run {
    let _shared = sharing_the_machine();
    run_plan_now(plan, args, &[]).await
}

/// A `STAMPEDE_LOG` filter that shows when a shared instance drops the resource of a VU whose `init`
/// failed.
pub const DROPS_LOGGED: &str = "warn,guest=info,stampede_runtime::shared=debug";

/// What a shared run (with [`DROPS_LOGGED`]) whose even VUs fail to start must show: exit 0, the
/// failure's message `says` logged, no instance ended, at least 2 failed starts (VUs 2 and 4 at the
/// start, and again at their retries a second later), the resource of each dropped in its instance
/// without a failure (at least as many: a retry that fails as the run ends may be dropped without
/// its error being counted), and requests from the odd VUs.
pub fn assert_only_even_starts_failed(run: &Run, says: &str) {
    let stderr = run.stderr();
    assert_eq!(run.code(), 0, "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(!stderr.contains("shared instance ended"), "{stderr}");
    let errors = run.metric("vu_init_errors", "count");
    assert!(errors >= 2.0, "{errors} init errors:\n{stderr}");
    assert!(run.metric("http_reqs", "count") > 0.0, "odd VUs iterate");
    let dropped = stderr
        .lines()
        .filter(|l| l.contains("dropped the resource of a VU whose init failed"))
        .collect::<Vec<_>>();
    assert!(
        dropped.len() as f64 >= errors,
        "{errors} init errors:\n{stderr}"
    );
    assert!(dropped.iter().all(|l| l.contains("ok=true")), "{stderr}");
}

/// What a shared run in which exactly one iteration failed (and the instance carried on) must
/// show: exit 0, no instance ended, one iteration error and no failed start, many iterations, one
/// request per other iteration plus `setup_requests`, and each of them seen by `target`.
pub async fn assert_only_one_iteration_failed(run: &Run, target: &Target, setup_requests: f64) {
    let stderr = run.stderr();
    assert_eq!(run.code(), 0, "{stderr}");
    assert!(!stderr.contains("shared instance ended"), "{stderr}");
    assert_eq!(run.metric("iteration_errors", "count"), 1.0);
    assert_eq!(run.metric("vu_init_errors", "count"), 0.0);
    let iterations = run.metric("iterations", "count");
    assert!(iterations > 100.0, "{}", run.stdout());
    let reqs = run.metric("http_reqs", "count");
    assert_eq!(reqs, iterations - 1.0 + setup_requests);
    assert_eq!(reqs as u64, target.requests().await);
}

/// Like [`run_plan`], with `STAMPEDE_LOG` set to `log` (a tracing filter).
#[allow(clippy::await_holding_lock)]
pub async fn run_plan_logging(plan: &str, log: &str) -> Run {
    let _shared = sharing_the_machine();
    run_plan_now(plan, &[], &[("STAMPEDE_LOG", log)]).await
}

async fn run_plan_now(plan: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let summary_path = dir.path().join("summary.json");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .arg("run")
        .arg(&plan_path)
        .arg("--quiet")
        .arg("--summary-json")
        .arg(&summary_path)
        .args(args)
        .env("STAMPEDE_CACHE_DIR", root().join("target/test-cache"))
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let summary = std::fs::read(&summary_path)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    Run {
        output,
        summary,
        dir,
    }
}

/// Run `stampede` with raw arguments.
#[allow(clippy::await_holding_lock)]
pub async fn stampede(args: &[&str]) -> Output {
    let _shared = sharing_the_machine();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .env("STAMPEDE_CACHE_DIR", root().join("target/test-cache"))
        .output()
        .await
        .unwrap()
}

/// Run a plugin's own `plan.toml` (`plugins/<plugin>/plan.toml`) against a fresh target: its
/// `http://127.0.0.1:18080` becomes the target's origin and its component path `component_in_plan`
/// becomes `component`. Asserts what every example must show: exit 0, every check passes, and
/// `http_reqs` > 0 equals what the target itself counted. Returns the run and that request count.
pub async fn run_plugin_exactly(
    plugin: &str,
    component_in_plan: &str,
    component: &Path,
    args: &[&str],
) -> (Run, f64) {
    let target = Target::start().await;
    let plan = std::fs::read_to_string(root().join("plugins").join(plugin).join("plan.toml"))
        .unwrap()
        .replace("http://127.0.0.1:18080", &target.origin())
        .replace(component_in_plan, &component.display().to_string());
    assert!(
        plan.contains(&target.origin()) && plan.contains(&*component.to_string_lossy()),
        "{plan}"
    );
    let before = target.requests().await;
    let run = run_plan(&plan, args).await;
    assert_eq!(
        run.code(),
        0,
        "stderr:\n{}\nstdout:\n{}",
        run.stderr(),
        run.stdout()
    );
    let reqs = run.metric("http_reqs", "count");
    assert!(reqs > 0.0, "{}", run.stdout());
    assert_eq!(run.metric("checks", "fails"), 0.0, "{}", run.stdout());
    assert!(run.metric("checks", "passes") > 0.0, "{}", run.stdout());
    assert_eq!(
        reqs as u64,
        target.requests().await - before,
        "http_reqs vs target_requests_total"
    );
    assert!(run.stdout().contains("✓ checks"), "{}", run.stdout());
    (run, reqs)
}

/// What a 10-VU run of a `*-shop` plugin (the rust-shop flow) must show beyond
/// [`run_plugin_exactly`]: all 10 VUs, no failed iteration, every VU logged in once, and each
/// weighted task ran.
pub fn assert_shop_flow(run: &Run) {
    assert_eq!(run.metric("vus_max", "max"), 10.0);
    assert_eq!(
        run.metric("iteration_errors", "count"),
        0.0,
        "{}",
        run.stderr()
    );
    assert!(run.check_passes("logged in") >= 10, "{}", run.stdout());
    for name in ["status is 200", "products listed", "cart has items"] {
        assert!(run.check_passes(name) > 0, "check {name}: {}", run.stdout());
    }
    assert!(run.metric("cart_items_added", "count") > 0.0);
}

/// Load (compile, uncached) the component at `path` in this process, on an engine for two VUs.
pub fn load_component(path: &Path) -> stampede_runtime::LoadedScenario {
    let bytes = std::fs::read(path).unwrap();
    let limits = stampede_runtime::EngineLimits {
        max_vus: 2,
        memory_limit: 64 << 20,
    };
    let what = path.display().to_string();
    // Compiling is a build too (see `MACHINE`).
    let _shared = sharing_the_machine();
    stampede_runtime::LoadedScenario::load(limits, &bytes, "unused", &what, None).unwrap()
}
