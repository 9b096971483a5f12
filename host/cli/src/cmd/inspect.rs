//! `stampede inspect`: the plan's timeline without running it.

use crate::exit::{Failure, bad_input};
use stampede_plan::units::format_duration;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `stampede inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// The plan file.
    plan: PathBuf,
    /// Also print the planned VUs of every scenario at this step, e.g. 5s.
    #[arg(long, value_parser = stampede_plan::units::parse_duration)]
    step: Option<Duration>,
}

pub async fn run(args: InspectArgs) -> Result<(), Failure> {
    let plan = stampede_plan::load(&args.plan).map_err(bad_input)?;
    println!("plan: {}", args.plan.display());
    println!("component: {}", plan.component.display());
    println!("max VUs: {}", plan.max_vus());
    println!(
        "total duration: {} (including graceful stops)",
        format_duration(plan.total_duration())
    );
    println!("scenarios:");
    for s in &plan.scenarios {
        let end = s.start_time + s.executor.max_duration();
        println!(
            "  {} (exec {:?}): starts at {}, ends by {} (+{} graceful stop)",
            s.name,
            s.exec,
            format_duration(s.start_time),
            format_duration(end),
            format_duration(s.graceful_stop)
        );
        println!("    {}", s.executor.describe());
        if s.isolation == stampede_plan::Isolation::Shared {
            println!(
                "    isolation shared: up to {} VUs per instance, {} instance(s) at most",
                s.vus_per_instance,
                s.instances_for(s.executor.max_vus())
            );
        }
        if !s.pause.is_zero() {
            if s.pause.min == s.pause.max {
                println!(
                    "    pause between iterations: {}",
                    format_duration(s.pause.min)
                );
            } else {
                println!(
                    "    pause between iterations: {} to {}, uniformly",
                    format_duration(s.pause.min),
                    format_duration(s.pause.max)
                );
            }
        }
    }
    if let Some(step) = args.step.filter(|s| !s.is_zero()) {
        let names: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
        println!("\nplanned VUs by time:\n  {:>8}  {}", "t", names.join("  "));
        let mut t = Duration::ZERO;
        while t <= plan.total_duration() {
            let vus: Vec<String> = plan
                .scenarios
                .iter()
                .map(|s| {
                    let v = t
                        .checked_sub(s.start_time)
                        .map_or(0, |rel| s.executor.vus_at(rel));
                    format!("{v:>width$}", width = s.name.len())
                })
                .collect();
            println!("  {:>8}  {}", format_duration(t), vus.join("  "));
            t += step;
        }
    }
    Ok(())
}
