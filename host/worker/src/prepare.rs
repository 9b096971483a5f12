//! Turning an [`Assignment`] into a ready share: the plan re-derived from its source, the executors
//! scaled to this worker's segment, the engine checked for that many VUs, the component compiled.

use crate::executor::ScenarioRun;
use crate::wasm::{ScenarioInfo, WasmFactory};
use crate::{WorkerOptions, bad_input};
use stampede_metrics::{Catalog, Collector, TagSet};
use stampede_plan::{Isolation, Plan, Ratio, Segment};
use stampede_proto::{Assignment, FailureKind, SegmentSpec};
use stampede_runtime::{
    AllowedOrigin, ClientIdentity, ClientTls, EngineLimits, HttpClient, LoadedScenario, RunContext,
    RuntimeError, SharedGroup, VuIdentity,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A worker's share, ready to start.
pub(crate) struct Prepared {
    pub(crate) plan: Plan,
    /// The segment's parts, one per thread that runs VUs.
    pub(crate) parts: Vec<Segment>,
    pub(crate) scenario: Arc<LoadedScenario>,
    pub(crate) run: Arc<RunContext>,
}

/// Convert the wire form of a segment.
pub fn segment_from_spec(spec: SegmentSpec) -> Result<Segment, String> {
    let r = |(n, d): (u64, u64)| Ratio::new(n, d).map_err(|e| e.to_string());
    Segment::new(r(spec.from)?, r(spec.to)?).map_err(|e| e.to_string())
}

/// A runtime error as a failure message, classed by whose fault it is.
fn runtime_failure(e: RuntimeError) -> (String, FailureKind) {
    let kind = if e.is_bad_input() {
        FailureKind::BadInput
    } else {
        FailureKind::Internal
    };
    (e.to_string(), kind)
}

pub(crate) fn prepare(
    opts: &WorkerOptions,
    a: Assignment,
) -> Result<Prepared, (String, FailureKind)> {
    let mut plan = stampede_plan::parse(&a.plan.toml, Path::new(".")).map_err(bad_input)?;
    plan.apply_overrides(a.plan.vus, a.plan.duration_ms.map(Duration::from_millis))
        .map_err(bad_input)?;
    let segment = segment_from_spec(a.segment).map_err(bad_input)?;
    let most_threads = plan.most_threads(&segment);
    let parts = segment.split((opts.threads as u64).clamp(1, most_threads));
    // Component instances, not VUs: with shared isolation one instance hosts many VUs (each
    // thread fills instances of its own).
    let share_instances: u64 = parts
        .iter()
        .flat_map(|part| {
            plan.scenarios
                .iter()
                .map(|s| s.instances_for(s.executor.for_segment(part).max_vus()))
        })
        .sum();
    let limits = EngineLimits {
        max_vus: share_instances,
        memory_limit: plan.options.memory_limit,
    };
    let what = format!("component {}", a.component.name);
    let scenario = LoadedScenario::load(
        limits,
        &a.component.bytes,
        &a.component.sha256,
        &what,
        opts.cache_dir.as_deref(),
    )
    .map_err(runtime_failure)?;
    check_isolation(&plan, &scenario, &a.component.name).map_err(bad_input)?;
    let allowed = plan
        .targets
        .iter()
        .map(|o| AllowedOrigin {
            scheme: o.scheme.clone(),
            host: o.host.to_ascii_lowercase(),
            port: o.port,
        })
        .collect();
    let client = a.plan.tls_client_pem.as_ref();
    let tls = client_tls(&plan, a.plan.tls_ca_pem.as_deref(), client).map_err(bad_input)?;
    let env = plan
        .env
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
        .collect();
    let run = Arc::new(RunContext {
        client: HttpClient::with_max_connections(allowed, plan.options.max_connections)
            .with_body_limit(plan.options.memory_limit)
            .with_tls(tls),
        http_timeout: plan.options.http_timeout,
        params: plan
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        env,
        worker_id: opts.worker_id.clone(),
        collector: Arc::new(Collector::default()),
        catalog: Arc::new(Mutex::new(Catalog::with_builtins())),
        cpu_budget: plan.options.cpu_budget,
        call_timeout: plan.options.iteration_timeout,
        memory_limit: plan.options.memory_limit,
        discard_response_bodies: plan.options.discard_response_bodies,
        cookies: plan.options.cookies,
        max_redirects: plan.options.max_redirects,
        release_stack_after: plan.options.release_stack_after,
        // Not waited on: VUs run on threads with contexts of their own (`for_thread`), and each
        // thread waits for its own orphans.
        orphans: Arc::default(),
    });
    Ok(Prepared {
        plan,
        parts,
        scenario: Arc::new(scenario),
        run,
    })
}

/// How the run verifies `https://` servers: the plan's `insecure-skip-tls-verify`, or Mozilla's roots
/// plus the certificates of its `tls-ca-file`, whose text came with the assignment (`ca_pem`); and
/// the client certificate and key it presents (`client_pem`, likewise) when the plan names them.
fn client_tls(
    plan: &Plan,
    ca_pem: Option<&str>,
    client_pem: Option<&(String, String)>,
) -> Result<ClientTls, String> {
    let insecure = plan.options.insecure_skip_tls_verify;
    // Texts a plan names must come with the assignment (an older coordinator would not send them).
    let missing = |key: &str, file: &std::path::Path| {
        format!(
            "the plan names options.{key} ({}) but its text did not come with the assignment; run \
             the same Stampede version on the coordinator and the workers",
            file.display()
        )
    };
    if let (Some(file), None) = (&plan.options.tls_client_cert, client_pem) {
        return Err(missing("tls-client-cert", file));
    }
    let identity = client_pem.map(|(cert_pem, key_pem)| ClientIdentity { cert_pem, key_pem });
    let ca_pem = match (&plan.options.tls_ca_file, ca_pem) {
        (Some(file), None) if !insecure => return Err(missing("tls-ca-file", file)),
        (Some(_), pem) => pem,
        (None, _) => None,
    };
    ClientTls::with_identity(ca_pem, insecure, identity)
        .map(|tls| tls.with_http2(plan.options.http2))
        .map_err(|e| e.to_string())
}

/// `isolation = "shared"` needs a component built for the world `scenario-shared`. (The other way
/// round works: a shared-world component with the default isolation gets one instance per VU.)
/// `stampede validate` checks it too.
pub fn check_isolation(
    plan: &Plan,
    scenario: &LoadedScenario,
    component: &str,
) -> Result<(), String> {
    if scenario.is_shared() {
        return Ok(());
    }
    match plan
        .scenarios
        .iter()
        .find(|s| s.isolation == Isolation::Shared)
    {
        Some(s) => Err(format!(
            "scenario \"{}\" has isolation = \"shared\", but component {component} is built for the world `{}` (one instance per VU, synchronous calls). Build it for a shared world (Rust SDK: feature \"shared\" and SharedScenario; Python SDK: stampede.SharedVu; JavaScript SDK: shared.js, built with `build.mjs --shared` for `scenario-shared-futures`; `stampede new --shared` scaffolds each; see docs/isolation.md), or remove `isolation` to give each VU its own instance",
            s.name,
            scenario.world()
        )),
        None => Ok(()),
    }
}

impl Prepared {
    /// Tags of every sample of plan scenario `i`.
    fn tags(&self, i: usize) -> TagSet {
        let s = &self.plan.scenarios[i];
        let mut tags = s.tags.clone();
        tags.insert("scenario", s.name.clone());
        tags
    }

    /// VUs of this share for one worker thread, reporting through `run`.
    pub(crate) fn factory(&self, run: Arc<RunContext>, setup_data: Arc<[u8]>) -> WasmFactory {
        WasmFactory {
            scenario: self.scenario.clone(),
            run: run.clone(),
            setup_data: setup_data.clone(),
            scenarios: (0..self.plan.scenarios.len())
                .map(|i| {
                    let s = &self.plan.scenarios[i];
                    let who = VuIdentity::new(0, s.name.as_str().into(), self.tags(i));
                    // A shared-world component always runs through a group; with the default
                    // isolation each of its instances hosts one VU.
                    let shared = self.scenario.is_shared().then(|| {
                        let per_instance = match s.isolation {
                            Isolation::Shared => s.vus_per_instance as usize,
                            Isolation::Instance => 1,
                        };
                        Arc::new(SharedGroup::new(
                            self.scenario.clone(),
                            run.clone(),
                            who.clone(),
                            setup_data.clone(),
                            per_instance,
                        ))
                    });
                    ScenarioInfo {
                        who,
                        exec: s.exec.as_str().into(),
                        shared,
                    }
                })
                .collect(),
        }
    }

    /// The scenarios of `segment` (this worker's, or a thread's part of it), scaled, with
    /// fleet-unique VU ids: scenario `i` owns the ids after every earlier scenario's VUs, and the
    /// segment the part of them it covers.
    pub(crate) fn scenario_runs(&self, segment: &Segment) -> Vec<ScenarioRun> {
        let mut offset = 1;
        let mut runs = Vec::new();
        for (i, s) in self.plan.scenarios.iter().enumerate() {
            let total = s.executor.max_vus();
            let mut scenario = s.clone();
            scenario.executor = s.executor.for_segment(segment);
            runs.push(ScenarioRun::new(
                i,
                scenario,
                offset + segment.index_range(total).start,
                self.tags(i),
            ));
            offset += total;
        }
        runs
    }
}

/// Thread `k`'s share of a worker's `max-connections` over `threads` VU threads: an even split
/// (as segments split any total), so the shares add up to the cap and differ by one at most.
/// (There are never more threads than connections.)
pub(crate) fn connection_share(max: Option<u64>, threads: usize, k: usize) -> Option<u64> {
    max.map(|max| Segment::split_even(threads.max(1) as u64)[k].scale(max))
}

#[cfg(test)]
mod tests {
    use super::{client_tls, connection_share};

    fn plan(options: &str) -> stampede_plan::Plan {
        let toml = format!(
            "component = \"x.wasm\"\ntargets = [\"https://127.0.0.1:8443\"]\n[options]\n{options}\n[scenarios.main]\nexecutor = \"constant-vus\"\nduration = \"1s\"\n"
        );
        stampede_plan::parse(&toml, std::path::Path::new("/plans")).unwrap()
    }

    /// A plan that names a CA file needs its certificates in the assignment (the worker cannot
    /// read the coordinator's files); the error says what is wrong.
    #[test]
    fn a_named_ca_file_must_come_with_the_assignment() {
        let named = plan("tls-ca-file = \"ca.pem\"");
        let err = client_tls(&named, None, None).err().expect("refused");
        assert!(err.contains("/plans/ca.pem"), "{err}");
        assert!(err.contains("same Stampede version"), "{err}");
        let client = plan("tls-client-cert = \"c.pem\"\ntls-client-key = \"k.pem\"");
        let err = client_tls(&client, None, None).err().expect("refused");
        assert!(
            err.contains("options.tls-client-cert (/plans/c.pem)"),
            "{err}"
        );
        assert!(client_tls(&plan(""), None, None).is_ok());
        assert!(client_tls(&plan("insecure-skip-tls-verify = true"), None, None).is_ok());
        let err = client_tls(&named, Some("no certificate"), None)
            .err()
            .expect("refused");
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn connection_shares_add_up_to_the_cap_and_differ_by_one_at_most() {
        for max in [1, 2, 3, 7, 2000] {
            for threads in 1..=max.min(9) as usize {
                let shares: Vec<u64> = (0..threads)
                    .map(|k| connection_share(Some(max), threads, k).unwrap())
                    .collect();
                assert_eq!(shares.iter().sum::<u64>(), max, "{max} over {threads}");
                assert!(shares.iter().all(|&s| s >= 1), "{shares:?}");
                let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(hi - lo <= 1, "{shares:?}");
            }
        }
        assert_eq!(connection_share(None, 2, 1), None);
    }
}
