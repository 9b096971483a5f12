//! The live progress line: a spinner on a terminal, a plain line every few seconds otherwise.

use indicatif::{ProgressBar, ProgressStyle};
use stampede_coordinator::LiveStats;
use std::io::IsTerminal;
use std::time::Duration;
use tokio::sync::watch;

/// How often a non-terminal stderr gets a progress line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// A running progress display.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

fn line(s: &LiveStats, total: Duration) -> String {
    let secs = |d: Duration| format!("{:02}:{:02}", d.as_secs() / 60, d.as_secs() % 60);
    let mut l = format!(
        "{}/{}  vus {}/{}  iterations {}  reqs {} ({}/s)  errors {}",
        secs(s.elapsed),
        secs(total),
        s.vus,
        s.vus_max,
        s.iterations,
        s.http_reqs,
        s.rps,
        s.errors
    );
    if s.stopping.is_some() {
        l.push_str("  stopping");
    }
    l
}

impl Progress {
    /// Follow `live` until [`Progress::finish`].
    pub fn start(mut live: watch::Receiver<LiveStats>, total: Duration) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} running {msg}").expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            let b = bar.clone();
            let task = tokio::spawn(async move {
                while live.changed().await.is_ok() {
                    b.set_message(line(&live.borrow(), total));
                }
            });
            Progress {
                task,
                bar: Some(bar),
            }
        } else {
            let task = tokio::spawn(async move {
                let mut last = tokio::time::Instant::now();
                while live.changed().await.is_ok() {
                    if last.elapsed() >= PLAIN_EVERY {
                        crate::out::err_line(&format!("running {}", line(&live.borrow(), total)));
                        last = tokio::time::Instant::now();
                    }
                }
            });
            Progress { task, bar: None }
        }
    }

    /// Stop displaying.
    pub fn finish(self) {
        self.task.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
