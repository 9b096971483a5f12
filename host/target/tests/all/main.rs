//! Integration tests for the demo target: a real server on an ephemeral loopback port, driven with
//! reqwest, plus `app()` driven without a socket.

mod basic;
mod counting;
mod oneshot;
mod serve;
mod shop;

use std::net::SocketAddr;

use tokio::task::JoinHandle;

/// A demo target on `127.0.0.1:0`, stopped when dropped.
struct Server {
    addr: SocketAddr,
    client: reqwest::Client,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start() -> Self {
        let (addr, handle) = stampede_target::spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Self {
            addr,
            client,
            handle,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The `/metrics` body.
    async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// The value of the sample `name` (including any labels) in a Prometheus text body.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{metrics}"))
        .parse()
        .unwrap()
}
