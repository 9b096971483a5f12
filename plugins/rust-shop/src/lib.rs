//! `rust-shop`: the demo scenario for `stampede target`, the built-in demo shop.
//!
//! Each VU logs in once as `vu-<id>` and reads the product ids from `GET /products`. Then every iteration
//! runs one task picked by weight, and pauses for the `think_ms` param:
//!
//! | weight | task | requests (metric `name`) |
//! |---|---|---|
//! | 3 | browse | `GET /products` (`products`) |
//! | 2 | view a product | `GET /products/{id}` (`product`) |
//! | 1 | add to cart | `POST /cart` (`cart_add`), then `GET /cart` (`cart`) |
//!
//! Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
//!
//! JSON is handled with a few string scans instead of serde: the demo's responses are small and fixed,
//! and it keeps the component small.

use std::time::Duration;

use stampede_sdk::metrics::Counter;
use stampede_sdk::rng::Rng;
use stampede_sdk::{Scenario, Tasks, check, context, http, sleep, warn};

mod scan;

/// What one shopper carries between iterations.
struct Session {
    base_url: String,
    token: String,
    product_ids: Vec<u64>,
}

/// One VU: the session and the weighted task list (kept apart so `run_one` can borrow both).
struct Shopper {
    session: Session,
    tasks: Tasks<Session>,
    think: Duration,
}

impl Scenario for Shopper {
    fn init(_setup_data: &[u8]) -> Self {
        let base_url = context::param_or("base_url", "http://127.0.0.1:18080");
        let think_ms: u64 =
            context::param_parse_or("think_ms", 100).unwrap_or_else(|e| panic!("{e}"));
        let token = login(&base_url)
            .unwrap_or_else(|e| panic!("vu-{} cannot log in: {e}", context::vu_id()));
        let product_ids =
            list_products(&base_url).unwrap_or_else(|e| panic!("cannot list products: {e}"));
        let tasks = Tasks::new()
            .task(3, "browse", browse)
            .task(2, "view_product", view_product)
            .task(1, "add_to_cart", add_to_cart);
        Shopper {
            session: Session {
                base_url,
                token,
                product_ids,
            },
            tasks,
            think: Duration::from_millis(think_ms),
        }
    }

    fn iteration(&mut self, _scenario: &str) -> Result<(), String> {
        let result = self.tasks.run_one(&mut self.session);
        if !self.think.is_zero() {
            sleep(self.think);
        }
        result
    }
}

stampede_sdk::export_scenario!(Shopper);

/// `POST /login` as `vu-<id>`; returns the bearer token.
fn login(base_url: &str) -> Result<String, String> {
    let body = format!(
        r#"{{"username":"vu-{}","password":"secret"}}"#,
        context::vu_id()
    );
    let res = http::post(format!("{base_url}/login"))
        .name("login")
        .json_str(&body)
        .send()?;
    let text = res.text();
    let token = scan::string_field(&text, "token");
    if !check("logged in", res.status == 200 && token.is_some()) {
        return Err(format!("status {}: {text}", res.status));
    }
    Ok(token.unwrap_or_default().to_owned())
}

/// `GET /products`; returns the ids it lists.
fn list_products(base_url: &str) -> Result<Vec<u64>, String> {
    let res = http::get(format!("{base_url}/products"))
        .name("products")
        .send()?;
    let ids = scan::number_fields(&res.text(), "id");
    if !check("status is 200", res.status == 200) || ids.is_empty() {
        return Err(format!("status {}, {} product ids", res.status, ids.len()));
    }
    Ok(ids)
}

/// Weight 3: the product list.
fn browse(s: &mut Session) -> Result<(), String> {
    let res = http::get(format!("{}/products", s.base_url))
        .name("products")
        .send()?;
    check("status is 200", res.status == 200);
    // Listed: served as JSON (a response header, read through the SDK), with every product's id.
    check(
        "products listed",
        res.header("Content-Type") == Some("application/json")
            && scan::number_fields(&res.text(), "id").len() == s.product_ids.len(),
    );
    Ok(())
}

/// Weight 2: one product page, under the metric name `product` whatever the id.
fn view_product(s: &mut Session) -> Result<(), String> {
    let id = pick_product(s);
    let res = http::get(format!("{}/products/{id}", s.base_url))
        .name("product")
        .send()?;
    check("status is 200", res.status == 200);
    Ok(())
}

/// Weight 1: put one product in the cart, then read the cart back.
fn add_to_cart(s: &mut Session) -> Result<(), String> {
    let id = pick_product(s);
    let mut res = post_cart(s, id)?;
    if res.status == 401 {
        // The demo target can end sessions: log in again and retry once.
        warn!("vu-{}: session ended, logging in again", context::vu_id());
        s.token = login(&s.base_url)?;
        res = post_cart(s, id)?;
    }
    if check("status is 200", res.status == 200) {
        Counter::new("cart_items_added").add(1.0);
    }
    let res = http::get(format!("{}/cart", s.base_url))
        .name("cart")
        .bearer(&s.token)
        .send()?;
    check("status is 200", res.status == 200);
    check(
        "cart has items",
        scan::array_is_non_empty(&res.text(), "items"),
    );
    Ok(())
}

/// `POST /cart` with one unit of product `id`.
fn post_cart(s: &Session, id: u64) -> Result<http::Response, String> {
    http::post(format!("{}/cart", s.base_url))
        .name("cart_add")
        .bearer(&s.token)
        .json_str(&format!(r#"{{"product_id":{id},"quantity":1}}"#))
        .send()
        .map_err(String::from)
}

/// A product id drawn reproducibly from this VU's id and iteration.
fn pick_product(s: &Session) -> u64 {
    *Rng::for_iteration()
        .pick(&s.product_ids)
        .expect("init checked that products are listed")
}
