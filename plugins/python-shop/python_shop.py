"""`python-shop`: the demo scenario for `stampede target` (the built-in demo shop), in Python.

The same flow as plugins/rust-shop. Each VU logs in once as `vu-<id>` and reads the product ids from
`GET /products`. Then every iteration runs one task picked by weight, and pauses for the `think_ms` param:

| weight | task | requests (metric `name`) |
|---|---|---|
| 3 | browse | `GET /products` (`products`) |
| 2 | view a product | `GET /products/{id}` (`product`) |
| 1 | add to cart | `POST /cart` (`cart_add`), then `GET /cart` (`cart`) |

Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).

componentize-py finds the exported `vu` resource as `Vu` in the module `runner` (see runner.py) and the
interface's free functions (`setup`, `teardown`) as the class `Runner` in this app module.
"""

import stampede
from stampede import Fail, Rng, Tasks, check

# The exported interface's setup/teardown: the defaults (no setup data, nothing to tear down).
from stampede import Runner  # noqa: F401  (componentize-py looks it up in this module)


class Vu(stampede.Vu):
    """One shopper: a session token, the product ids, and the weighted task list."""

    def __init__(self, setup_data: bytes) -> None:
        self.base_url = stampede.param("base_url", "http://127.0.0.1:18080")
        self.think_ms = stampede.param_int("think_ms", 100)
        self.token = login(self.base_url)
        self.product_ids = list_products(self.base_url)
        self.tasks = (
            Tasks()
            .task(3, "browse", browse)
            .task(2, "view_product", view_product)
            .task(1, "add_to_cart", add_to_cart)
        )

    def iteration(self, scenario: str) -> None:
        try:
            self.tasks.run_one(self)
        finally:
            # Think time even after a failed task, as the Rust scenario does.
            stampede.sleep_ms(self.think_ms)


def login(base_url: str) -> str:
    """`POST /login` as `vu-<id>`; returns the bearer token."""
    res = stampede.post(
        f"{base_url}/login",
        json={"username": f"vu-{stampede.vu_id()}", "password": "secret"},
        name="login",
    )
    token = _json_field(res, "token")
    if not check("logged in", res.status == 200 and isinstance(token, str)):
        raise Fail(f"vu-{stampede.vu_id()} cannot log in: status {res.status}: {res.text()}")
    return token


def list_products(base_url: str) -> list:
    """`GET /products`; returns the ids it lists."""
    res = stampede.get(f"{base_url}/products", name="products")
    ids = _product_ids(res)
    if not check("status is 200", res.status == 200) or not ids:
        raise Fail(f"cannot list products: status {res.status}, {len(ids)} product ids")
    return ids


def browse(vu: Vu) -> None:
    """Weight 3: the product list."""
    res = stampede.get(f"{vu.base_url}/products", name="products")
    check("status is 200", res.status == 200)
    # Listed: served as JSON (a response header), with every product's id.
    check("products listed", res.header("Content-Type") == "application/json"
          and len(_product_ids(res)) == len(vu.product_ids))


def view_product(vu: Vu) -> None:
    """Weight 2: one product page, under the metric name `product` whatever the id."""
    pid = Rng.for_iteration().pick(vu.product_ids)
    res = stampede.get(f"{vu.base_url}/products/{pid}", name="product")
    check("status is 200", res.status == 200)


def add_to_cart(vu: Vu) -> None:
    """Weight 1: put one product in the cart, then read the cart back."""
    pid = Rng.for_iteration().pick(vu.product_ids)
    res = _post_cart(vu, pid)
    if res.status == 401:
        # The demo target can end sessions: log in again and retry once.
        stampede.warn(f"vu-{stampede.vu_id()}: session ended, logging in again")
        vu.token = login(vu.base_url)
        res = _post_cart(vu, pid)
    if check("status is 200", res.status == 200):
        stampede.counter_add("cart_items_added", 1.0)
    res = stampede.get(f"{vu.base_url}/cart", name="cart", bearer=vu.token)
    check("status is 200", res.status == 200)
    items = _json_field(res, "items")
    check("cart has items", isinstance(items, list) and len(items) > 0)


def _post_cart(vu: Vu, pid: int) -> stampede.Response:
    return stampede.post(
        f"{vu.base_url}/cart",
        json={"product_id": pid, "quantity": 1},
        name="cart_add",
        bearer=vu.token,
    )


def _json_field(res: stampede.Response, key: str):
    """`key` of a JSON object body, or None when the body is not such an object."""
    try:
        doc = res.json()
    except ValueError:
        return None
    return doc.get(key) if isinstance(doc, dict) else None


def _product_ids(res: stampede.Response) -> list:
    try:
        doc = res.json()
    except ValueError:
        return []
    if not isinstance(doc, list):
        return []
    return [p["id"] for p in doc if isinstance(p, dict) and isinstance(p.get("id"), int)]
