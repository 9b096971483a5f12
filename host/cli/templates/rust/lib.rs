//! `{{name}}`: one request and two checks per iteration, then a pause.
//!
//! Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).

use std::time::Duration;

use stampede_sdk::{Scenario, check, context, http, sleep};

/// One virtual user: what it keeps between iterations.
struct User {
    base_url: String,
    think: Duration,
}

impl Scenario for User {
    /// Runs once per VU, before its first iteration (log in, read test data, ...).
    fn init(_setup_data: &[u8]) -> Self {
        let think_ms: u64 =
            context::param_parse_or("think_ms", 100).unwrap_or_else(|e| panic!("{e}"));
        User {
            base_url: context::param_or("base_url", "http://127.0.0.1:18080"),
            think: Duration::from_millis(think_ms),
        }
    }

    /// One iteration. `Err` fails this iteration only; a panic traps and the VU is re-created.
    fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
        let res = http::get(format!("{}/products", self.base_url))
            .name("products")
            .send();
        // Also after a request that got no response: a target that is down is not hammered as
        // fast as the VUs can loop.
        if let Ok(res) = &res {
            check("status is 200", res.status == 200);
            check("body lists products", res.text().contains("\"id\""));
        }
        sleep(self.think);
        res.map(drop).map_err(String::from)
    }
}

stampede_sdk::export_scenario!(User);
