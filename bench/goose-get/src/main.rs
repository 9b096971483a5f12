//! A minimal Goose load test for bench/throughput.py: each user GETs `/` in a loop without waiting.
//! Goose's own command line sets the host, users, hatch rate and run time; at the end this prints
//! one JSON line with the request count, run time and p50/p99 (ms) from Goose's metrics.

use goose::prelude::*;

async fn get(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/").await?;
    Ok(())
}

/// The `q` quantile of a `value -> count` histogram.
fn quantile(times: &std::collections::BTreeMap<u64, usize>, total: usize, q: f64) -> u64 {
    let want = ((total as f64) * q).ceil().max(1.0) as usize;
    let mut seen = 0;
    for (v, n) in times {
        seen += n;
        if seen >= want {
            return *v;
        }
    }
    0
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let metrics = GooseAttack::initialize()?
        .register_scenario(scenario!("Get").register_transaction(transaction!(get)))
        .execute()
        .await?;
    let mut requests = 0;
    let mut times = std::collections::BTreeMap::new();
    for r in metrics.requests.values() {
        requests += r.success_count + r.fail_count;
        for (us, n) in &r.raw_data.times_us {
            *times.entry(*us).or_insert(0) += n;
        }
    }
    let total: usize = times.values().sum();
    println!(
        "{{\"requests\":{requests},\"seconds\":{},\"p50_ms\":{},\"p99_ms\":{}}}",
        metrics.duration,
        quantile(&times, total, 0.5) as f64 / 1000.0,
        quantile(&times, total, 0.99) as f64 / 1000.0
    );
    Ok(())
}
