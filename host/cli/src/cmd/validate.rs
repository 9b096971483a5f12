//! `stampede validate`: check a plan and its component, report every problem at once.

use crate::exit::{Failure, bad_input};
use std::path::PathBuf;

/// Arguments of `stampede validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The plan file.
    plan: PathBuf,
}

pub async fn run(args: ValidateArgs) -> Result<(), Failure> {
    let plan = stampede_plan::load(&args.plan).map_err(bad_input)?;
    let component = super::run::component_blob(&plan.component)?;
    super::run::read_tls_files(&plan)?;
    let scenario = stampede_runtime::LoadedScenario::load(
        // Checked for the plan, so a plan this process cannot host fails here as it would in `run`.
        stampede_runtime::EngineLimits {
            // Instances, not VUs, as `run` counts them (shared isolation hosts many VUs in one).
            max_vus: plan.max_instances(),
            memory_limit: plan.options.memory_limit,
        },
        &component.bytes,
        &component.sha256,
        &format!("component {}", component.name),
        stampede_runtime::default_cache_dir().as_deref(),
    )
    .map_err(bad_input)?;
    stampede_worker::check_isolation(&plan, &scenario, &component.name)
        .map_err(|e| bad_input(anyhow::anyhow!(e)))?;
    crate::out::line(&format!(
        "{}: ok ({} scenario{}, up to {} VUs, about {}; {} for the world `{}`)",
        args.plan.display(),
        plan.scenarios.len(),
        if plan.scenarios.len() == 1 { "" } else { "s" },
        plan.max_vus(),
        stampede_plan::units::format_duration(plan.total_duration()),
        component.name,
        scenario.world()
    ));
    Ok(())
}
