//! `stampede inspect`: the plan's timeline without running it.

use crate::exit::{Failure, bad_input};
use stampede_plan::units::format_duration;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// The most rows `--step` may print: a timeline longer than this is not read, and a step of a
/// microsecond over a long plan would print billions.
const MAX_ROWS: u128 = 100_000;

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
    if let Some(step) = args.step {
        check_step(step, plan.planned_end()).map_err(bad_input)?;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    crate::out::closed_pipe_is_ok(print(&args, &plan, &mut out).and_then(|()| out.flush()))
        .map_err(|e| Failure::Internal(anyhow::Error::new(e).context("cannot write to stdout")))
}

/// `--step` must be more than zero and give at most [`MAX_ROWS`] rows over `total`.
fn check_step(step: Duration, total: Duration) -> anyhow::Result<()> {
    if step.is_zero() {
        anyhow::bail!("--step must be more than 0, for example --step 5s");
    }
    let rows = total.as_nanos() / step.as_nanos() + 1;
    if rows > MAX_ROWS {
        // Rounded up to two significant digits: 330us 4ns becomes 340us.
        let least = total.as_nanos().div_ceil(MAX_ROWS - 1);
        let unit = 10u128.pow(least.ilog10().saturating_sub(1));
        let least =
            Duration::from_nanos(u64::try_from(least.div_ceil(unit) * unit).unwrap_or(u64::MAX));
        anyhow::bail!(
            "--step {} gives {rows} rows over the plan's {}; at most {MAX_ROWS} are printed: \
             choose a step of at least {}",
            format_duration(step),
            format_duration(total),
            format_duration(least)
        );
    }
    Ok(())
}

fn print(
    args: &InspectArgs,
    plan: &stampede_plan::Plan,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(out, "plan: {}", args.plan.display())?;
    writeln!(out, "component: {}", plan.component.display())?;
    writeln!(out, "max VUs: {}", plan.max_vus())?;
    writeln!(
        out,
        "total duration: {} (including graceful stops)",
        format_duration(plan.total_duration())
    )?;
    writeln!(out, "scenarios:")?;
    for s in &plan.scenarios {
        let end = s.start_time + s.executor.max_duration();
        writeln!(
            out,
            "  {} (exec {:?}): starts at {}, ends by {} (+{} graceful stop)",
            s.name,
            s.exec,
            format_duration(s.start_time),
            format_duration(end),
            format_duration(s.graceful_stop)
        )?;
        writeln!(out, "    {}", s.executor.describe())?;
        if s.isolation == stampede_plan::Isolation::Shared {
            writeln!(
                out,
                "    isolation shared: up to {} VUs per instance, {} instance(s) at most",
                s.vus_per_instance,
                s.instances_for(s.executor.max_vus())
            )?;
        }
        if !s.pause.is_zero() {
            if s.pause.min == s.pause.max {
                writeln!(
                    out,
                    "    pause between iterations: {}",
                    format_duration(s.pause.min)
                )?;
            } else {
                writeln!(
                    out,
                    "    pause between iterations: {} to {}, uniformly",
                    format_duration(s.pause.min),
                    format_duration(s.pause.max)
                )?;
            }
        }
    }
    if let Some(step) = args.step {
        let names: Vec<&str> = plan.scenarios.iter().map(|s| s.name.as_str()).collect();
        writeln!(
            out,
            "\nplanned VUs by time:\n  {:>8}  {}",
            "t",
            names.join("  ")
        )?;
        let pools: Vec<&str> = plan
            .scenarios
            .iter()
            .filter(|s| s.executor.is_arrival_rate())
            .map(|s| s.name.as_str())
            .collect();
        if !pools.is_empty() {
            writeln!(
                out,
                "  ({}: arrival rate, so the most VUs its pool may hold; the rate is above)",
                pools.join(", ")
            )?;
        }
        // Every step up to the planned end, and the end itself when no step lands on it (graceful
        // stops after it start no VU).
        let end = plan.planned_end();
        let steps = std::iter::successors(Some(Duration::ZERO), |t| Some(*t + step))
            .take_while(|t| *t <= end);
        let last = (!end.as_nanos().is_multiple_of(step.as_nanos())).then_some(end);
        for t in steps.chain(last) {
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
            writeln!(out, "  {:>8}  {}", format_duration(t), vus.join("  "))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_must_be_positive_and_give_a_readable_number_of_rows() {
        let minute = Duration::from_secs(60);
        assert!(check_step(Duration::from_secs(1), minute).is_ok());
        assert!(check_step(Duration::from_millis(1), minute).is_ok()); // 60,001 rows
        let zero = check_step(Duration::ZERO, minute).unwrap_err().to_string();
        assert!(zero.contains("more than 0"), "{zero}");
        let tiny = check_step(Duration::from_micros(1), minute)
            .unwrap_err()
            .to_string();
        assert!(tiny.contains("60000001 rows"), "{tiny}");
        assert!(tiny.contains("at least 610us"), "{tiny}");
        // The step it suggests is accepted.
        assert!(check_step(Duration::from_micros(610), minute).is_ok());
    }
}
