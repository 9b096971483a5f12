//! The smallest useful scenario: each iteration GETs the plan param `url` and checks the status.
//! The benchmarks in `bench/` use it to compare Stampede with wrk and a raw hyper client.

use stampede_sdk::{Scenario, check, context, export_scenario, http};

struct Get {
    url: String,
}

impl Scenario for Get {
    fn init(_setup_data: &[u8]) -> Self {
        Get {
            url: context::param_or("url", "http://127.0.0.1:18080/"),
        }
    }

    fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
        let resp = http::get(self.url.as_str()).name("get").send()?;
        check("status is 200", resp.status == 200);
        Ok(())
    }
}

export_scenario!(Get);
