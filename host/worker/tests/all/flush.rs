//! `flush_loop`: numbered deltas every interval, and a last one when the run is done.

use crate::fake::{count, secs};
use stampede_metrics::{Collector, MetricKind, SampleBuffer, SeriesKey};
use stampede_proto::{MetricsDelta, WorkerMsg};
use stampede_worker::{RunShared, flush_loop};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

fn record(collector: &Collector, n: u64) {
    let mut buf = SampleBuffer::default();
    for _ in 0..n {
        buf.push(SeriesKey::untagged("iterations"), MetricKind::Counter, 1.0);
    }
    collector.flush(&mut buf);
}

fn deltas(rx: &mut mpsc::UnboundedReceiver<WorkerMsg>) -> Vec<MetricsDelta> {
    let mut out = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        match msg {
            WorkerMsg::Metrics(d) => out.push(d),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn numbers_deltas_and_sends_a_last_one_when_done() {
    let (_stop, stop_rx) = watch::channel(None);
    let shared = Arc::new(RunShared::new(Arc::new(Collector::default()), stop_rx));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (done, done_rx) = watch::channel(false);
    let t0 = Instant::now();
    let seq = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(flush_loop(
        shared.clone(),
        tx,
        t0,
        secs(1.0),
        done_rx,
        seq.clone(),
    ));

    shared.allocated.store(4, Ordering::Relaxed);
    shared.active.store(4, Ordering::Relaxed);
    sleep_until(t0 + secs(0.5)).await;
    record(&shared.collector, 1);
    // Nothing between 1s and 2s: an empty delta still goes out, keeping the numbering.
    sleep_until(t0 + secs(2.5)).await;
    record(&shared.collector, 2);
    shared.active.store(1, Ordering::Relaxed);
    sleep_until(t0 + secs(3.2)).await;
    record(&shared.collector, 3);
    shared.active.store(0, Ordering::Relaxed);
    sleep_until(t0 + secs(3.5)).await;
    done.send_replace(true);
    task.await.unwrap();

    let got = deltas(&mut rx);
    let seqs: Vec<u64> = got.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    let at: Vec<u64> = got.iter().map(|d| d.at_ms).collect();
    assert_eq!(
        at,
        [1000, 2000, 3000, 3500],
        "the last delta is cut when the run is done"
    );
    let iterations: Vec<u64> = got.iter().map(|d| count(&d.delta, "iterations")).collect();
    assert_eq!(
        iterations,
        [1, 0, 2, 3],
        "each sample is in exactly one delta"
    );
    assert!(got[1].delta.is_empty());
    let vus: Vec<(u64, u64)> = got.iter().map(|d| (d.vus, d.vus_max)).collect();
    assert_eq!(vus, [(4, 4), (4, 4), (1, 4), (0, 4)]);
    assert!(rx.recv().await.is_none(), "nothing follows the last delta");
    assert_eq!(
        seq.load(Ordering::Relaxed),
        4,
        "the next message (teardown's delta) goes on from here"
    );
}

#[tokio::test(start_paused = true)]
async fn numbering_goes_on_from_the_shared_counter() {
    let (_stop, stop_rx) = watch::channel(None);
    let shared = Arc::new(RunShared::new(Arc::new(Collector::default()), stop_rx));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (done, done_rx) = watch::channel(false);
    let t0 = Instant::now();
    let seq = Arc::new(AtomicU64::new(7));
    let task = tokio::spawn(flush_loop(shared, tx, t0, secs(1.0), done_rx, seq.clone()));
    sleep_until(t0 + secs(1.5)).await;
    done.send_replace(true);
    task.await.unwrap();

    let seqs: Vec<u64> = deltas(&mut rx).iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [7, 8]);
    assert_eq!(seq.load(Ordering::Relaxed), 9);
}

#[tokio::test(start_paused = true)]
async fn stops_when_the_coordinator_hangs_up() {
    let (_stop, stop_rx) = watch::channel(None);
    let shared = Arc::new(RunShared::new(Arc::new(Collector::default()), stop_rx));
    let (tx, rx) = mpsc::unbounded_channel();
    let (_done, done_rx) = watch::channel(false);
    let t0 = Instant::now();
    drop(rx);
    flush_loop(shared, tx, t0, secs(1.0), done_rx, Arc::default()).await;
    assert_eq!(
        t0.elapsed(),
        secs(1.0),
        "gives up at the first send that fails"
    );
}
