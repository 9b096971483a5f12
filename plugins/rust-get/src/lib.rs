//! The smallest useful scenario: each iteration GETs the plan param `url` and checks the status,
//! then, when the param `sleep_ms` is set, thinks that long (`sleep` in the guest). The benchmarks in
//! `bench/` use it to compare Stampede with wrk and a raw hyper client, and (with `sleep_ms`) to
//! measure the memory of an idle VU.

use stampede_sdk::{Scenario, check, context, export_scenario, http, sleep};
use std::time::Duration;

struct Get {
    url: String,
    think: Option<Duration>,
}

impl Scenario for Get {
    fn init(_setup_data: &[u8]) -> Self {
        // Parsed without `format!` (a static message): it would double the component's data,
        // which every VU maps and touches (bench/memory.py measures with this component).
        let think = context::param("sleep_ms").map(|ms| match ms.parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => panic!("the param `sleep_ms` must be a whole number of milliseconds"),
        });
        Get {
            url: context::param_or("url", "http://127.0.0.1:18080/"),
            think: think.filter(|think| !think.is_zero()),
        }
    }

    fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
        let resp = http::get(self.url.as_str()).name("get").send()?;
        check("status is 200", resp.status == 200);
        if let Some(think) = self.think {
            sleep(think);
        }
        Ok(())
    }
}

export_scenario!(Get);
