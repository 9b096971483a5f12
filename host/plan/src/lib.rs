//! The Stampede test plan: a TOML file naming the scenario component, the targets it may hit, its
//! scenarios (each driven by an executor), options and thresholds.
//!
//! This crate is pure: it parses and validates plans and computes their timelines and fleet shares; it
//! runs nothing. The worker runs executors, the coordinator splits them over workers with [`Segment`]s.
//!
//! 1. [`load`] a plan file (or [`parse`] text): every problem is reported at once, each with its TOML path,
//!    in file order ([`PlanErrors`]).
//! 2. Optionally [`Plan::apply_overrides`] from the command line (`--vus`, `--duration`).
//! 3. Split the load: give each worker a [`Segment`] and run [`Executor::for_segment`] of each scenario.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//! use stampede_plan::{Segment, parse};
//!
//! let text = r#"
//!     component = "shop.wasm"
//!     targets = ["http://127.0.0.1:18080"]
//!
//!     [scenarios.browse]
//!     executor = "constant-vus"
//!     vus = 10
//!     duration = "30s"
//!
//!     [thresholds]
//!     "http_req_duration{name:login}" = ["p(95) < 200ms"]
//! "#;
//! let plan = parse(text, Path::new("plans"))?;
//! assert_eq!(plan.component, Path::new("plans/shop.wasm"));
//! assert_eq!(plan.total_duration(), Duration::from_secs(30 + 30)); // duration + graceful stop
//! assert!(plan.allows("http://127.0.0.1:18080/cart"));
//!
//! let workers = Segment::split_even(3);
//! let shares: Vec<u64> = workers.iter().map(|s| plan.scenarios[0].executor.for_segment(s).max_vus()).collect();
//! assert_eq!(shares, [3, 3, 4]);
//!
//! let err = parse("component = 1", Path::new(".")).unwrap_err();
//! assert!(err.to_string().starts_with("invalid plan, 3 problems:\n  component: expected a string, found integer 1"));
//! # Ok::<(), stampede_plan::PlanErrors>(())
//! ```
//!
//! The format is documented key by key in the modules: [`Plan`] (top level), [`Options`], [`Scenario`],
//! [`Executor`] (one file per executor), [`Threshold`] and [`Origin`].

mod error;
pub mod executor;
mod options;
mod origin;
mod pause;
mod plan;
mod reader;
mod scenario;
mod segment;
mod threshold;
pub mod units;

pub use error::{PlanError, PlanErrors};
pub use executor::{
    Arrivals, ConstantArrivalRate, ConstantVus, EXECUTORS, Executor, PerVuIterations,
    RampingArrivalRate, RampingVus, SharedIterations, Stage, owns,
};
pub use options::{
    MAX_MEMORY_LIMIT, MIN_MEMORY_LIMIT, Options, default_summary_trend_stats, parse_trend_stats,
};
pub use origin::{Origin, OriginError};
pub use pause::{Pause, PauseRng};
pub use plan::{Plan, load, parse};
pub use scenario::{
    DEFAULT_GRACEFUL_STOP, DEFAULT_VUS_PER_INSTANCE, Isolation, MAX_VUS_PER_INSTANCE, Scenario,
};
pub use segment::{Ratio, Segment, SegmentError};
pub use threshold::Threshold;
