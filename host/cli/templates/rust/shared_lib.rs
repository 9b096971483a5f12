//! `{{name}}`: one request and two checks per iteration, then a pause. Built for shared isolation:
//! many VUs run as concurrent async calls in one instance (`isolation = "shared"` in plan.toml).
//!
//! Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
//!
//! Inside `init` and `iteration`, use `send_async().await` and `sleep_async(..).await`: they suspend
//! only this VU. The blocking `send()` and `sleep()` stall every VU of the instance. Globals
//! (`static`s) are shared by the instance's VUs; keep per-VU state in `User`.

use std::time::Duration;

use stampede_sdk::{SharedScenario, check, context, http, sleep_async};

/// One virtual user: what it keeps between iterations.
struct User {
    base_url: String,
    think: Duration,
}

impl SharedScenario for User {
    /// Runs once per VU, before its first iteration (log in, read test data, ...). `Err` fails this
    /// VU's start; the host retries it later.
    async fn init(_setup_data: &[u8]) -> Result<Self, String> {
        let think_ms: u64 = context::param_parse_or("think_ms", 100)?;
        Ok(User {
            base_url: context::param_or("base_url", "http://127.0.0.1:18080"),
            think: Duration::from_millis(think_ms),
        })
    }

    /// One iteration. `Err` fails this iteration only; a panic traps the instance, and all of its
    /// VUs are re-created.
    async fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
        let res = http::get(format!("{}/products", self.base_url))
            .name("products")
            .send_async()
            .await;
        // Also after a request that got no response: a target that is down is not hammered as
        // fast as the VUs can loop.
        if let Ok(res) = &res {
            check("status is 200", res.status == 200);
            check("body lists products", res.text().contains("\"id\""));
        }
        sleep_async(self.think).await;
        res.map(drop).map_err(String::from)
    }
}

stampede_sdk::export_shared_scenario!(User);
