//! `hyper-loop`: the reference generator the benchmarks compare Stampede with. The least a Rust
//! load generator can do per request: a pooled keep-alive hyper-util client, one GET, read the body,
//! record the latency in an HDR histogram. No scripting, no per-request metrics beyond that.
//!
//! ```text
//! hyper-loop URL --connections 50 --duration 10            # closed model: 50 loops back to back
//! hyper-loop URL --rate 5000 --duration 10 --connections 200  # open model: 5,000 starts per second
//! hyper-loop URL --connections 50 --requests 20000   # closed model, 20,000 requests in all
//! ```
//!
//! Prints one JSON object: requests, errors, dropped (open model), seconds, req_per_s, p50_ms, p90_ms, p99_ms, max_ms.
//! Runs on a single-threaded tokio runtime (pin it with `taskset` to measure one core). Refuses any
//! host but 127.0.0.1 / [::1] / localhost: it is a benchmark tool, not a load tool.

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    url: http::Uri,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
    /// Closed model: stop after this many requests in all (the duration still bounds the run).
    requests: Option<u64>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut url = None;
    let mut connections = 50;
    let mut duration = Duration::from_secs(10);
    let mut rate = None;
    let mut requests = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--connections" | "-c" => connections = value()?.parse()?,
            "--duration" | "-d" => duration = Duration::from_secs_f64(value()?.parse()?),
            "--rate" | "-r" => rate = Some(value()?.parse()?),
            "--requests" | "-n" => requests = Some(value()?.parse()?),
            s if s.starts_with('-') => bail!("unknown option {s}"),
            s => url = Some(s.parse::<http::Uri>()?),
        }
    }
    let url = url.context(
        "usage: hyper-loop URL [--connections N] [--duration S] [--rate R | --requests N]",
    )?;
    let host = url.host().unwrap_or_default();
    if !matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost") {
        bail!("hyper-loop only sends to 127.0.0.1, [::1] or localhost, not {host}");
    }
    if duration > Duration::from_secs(600) {
        bail!("--duration is limited to 600 s");
    }
    if rate.is_some() && requests.is_some() {
        bail!("--requests is for the closed model; leave out --rate");
    }
    Ok(Args {
        url,
        connections: connections.max(1),
        duration,
        rate,
        requests,
    })
}

type Hist = Arc<Mutex<Histogram<u64>>>;

struct Counts {
    hist: Histogram<u64>,
    errors: u64,
    /// Open model: starts skipped because `connections` requests were already in flight.
    dropped: u64,
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (counts, secs) = rt.block_on(run(args))?;
    let h = &counts.hist;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let out = serde_json::json!({
        "requests": h.len(),
        "errors": counts.errors,
        "dropped": counts.dropped,
        "seconds": secs,
        "req_per_s": h.len() as f64 / secs,
        "p50_ms": ms(0.5),
        "p90_ms": ms(0.9),
        "p99_ms": ms(0.99),
        "max_ms": h.max() as f64 / 1000.0,
    });
    println!("{out}");
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<(Counts, f64)> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::MAX)
        .build(connector);
    let hist: Hist = Arc::new(Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut dropped = 0u64;
    let start = Instant::now();
    let end = start + args.duration;
    let one = {
        let (client, hist, errors, url) = (
            client.clone(),
            hist.clone(),
            errors.clone(),
            args.url.clone(),
        );
        move || {
            let (client, hist, errors, url) =
                (client.clone(), hist.clone(), errors.clone(), url.clone());
            async move {
                let t0 = Instant::now();
                let ok = match client.get(url).await {
                    Ok(resp) => resp.into_body().collect().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    let us = t0.elapsed().as_micros().max(1) as u64;
                    hist.lock().unwrap().saturating_record(us);
                } else {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    };
    match args.rate {
        None => {
            let started = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let limit = args.requests.unwrap_or(u64::MAX);
            let mut tasks = Vec::new();
            for _ in 0..args.connections {
                let (one, started) = (one.clone(), started.clone());
                tasks.push(tokio::spawn(async move {
                    // Counted only with --requests, so the loop bench/http.sh runs is unchanged.
                    while Instant::now() < end
                        && (limit == u64::MAX
                            || started.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < limit)
                    {
                        one().await;
                    }
                }));
            }
            for t in tasks {
                t.await?;
            }
        }
        Some(rate) => {
            // Open model: a start every 1/rate s, at most `connections` in flight (the rest dropped,
            // like an arrival-rate executor's max-vus).
            let permits = Arc::new(tokio::sync::Semaphore::new(args.connections));
            let period = Duration::from_secs_f64(1.0 / rate);
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let total = (rate * args.duration.as_secs_f64()).round() as u64;
            let mut handles = Vec::new();
            for _ in 0..total {
                ticker.tick().await;
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    dropped += 1;
                    continue;
                };
                let fut = one();
                handles.push(tokio::spawn(async move {
                    fut.await;
                    drop(permit);
                }));
            }
            for h in handles {
                h.await?;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let hist = hist.lock().unwrap().clone();
    Ok((
        Counts {
            hist,
            errors: errors.load(std::sync::atomic::Ordering::Relaxed),
            dropped,
        },
        secs,
    ))
}
