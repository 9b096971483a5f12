// `js-shop`: the demo scenario for `stampede target` in JavaScript, the same flow as rust-shop.
//
// Each VU logs in once as `vu-<id>` and reads the product ids from `GET /products`. Then every
// iteration runs one task picked by weight, and pauses for the `think_ms` param:
//
// | weight | task | requests (metric `name`) |
// |---|---|---|
// | 3 | browse | `GET /products` (`products`) |
// | 2 | view a product | `GET /products/{id}` (`product`) |
// | 1 | add to cart | `POST /cart` (`cart_add`), then `GET /cart` (`cart`) |
//
// Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
//
// Build: node sdk/js/build.mjs plugins/js-shop/scenario.js target/guest/js/js_shop.wasm

import {
  Counter,
  IterationError,
  Rng,
  Tasks,
  check,
  context,
  exportScenario,
  http,
  log,
  sleepMs,
} from '../../sdk/js/stampede.js';

const cartItemsAdded = new Counter('cart_items_added');

const tasks = new Tasks()
  .task(3, 'browse', browse)
  .task(2, 'view_product', viewProduct)
  .task(1, 'add_to_cart', addToCart);

/** One shopper: the session it keeps between iterations. */
class Shopper {
  constructor() {
    this.baseUrl = context.param('base_url', 'http://127.0.0.1:18080');
    this.thinkMs = context.paramInt('think_ms', 100);
    // A failure here throws, which fails this VU's start (`vu_init_errors`); the host retries.
    this.token = login(this.baseUrl);
    this.productIds = listProducts(this.baseUrl);
  }

  iteration() {
    try {
      tasks.runOne(this);
    } finally {
      sleepMs(this.thinkMs);
    }
  }
}

export const runner = exportScenario(Shopper);

/** `POST /login` as `vu-<id>`; returns the bearer token. */
function login(baseUrl) {
  const res = http.post(
    `${baseUrl}/login`,
    { username: `vu-${context.vuId()}`, password: 'secret' },
    { name: 'login' },
  );
  const token = res.status === 200 ? res.json().token : undefined;
  if (!check('logged in', typeof token === 'string')) {
    throw new IterationError(`login: status ${res.status}: ${res.text()}`);
  }
  return token;
}

/** `GET /products`; returns the ids it lists. */
function listProducts(baseUrl) {
  const res = http.get(`${baseUrl}/products`, { name: 'products' });
  const ids = res.status === 200 ? productIds(res.json()) : [];
  if (!check('status is 200', res.status === 200) || ids.length === 0) {
    throw new IterationError(`products: status ${res.status}, ${ids.length} product ids`);
  }
  return ids;
}

function productIds(list) {
  return Array.isArray(list) ? list.map((p) => p.id).filter(Number.isInteger) : [];
}

/** Weight 3: the product list. */
function browse(s) {
  const res = http.get(`${s.baseUrl}/products`, { name: 'products' });
  check('status is 200', res.status === 200);
  // Listed: served as JSON (a response header), with every product's id.
  check(
    'products listed',
    res.status === 200 &&
      res.header('Content-Type') === 'application/json' &&
      productIds(res.json()).length === s.productIds.length,
  );
}

/** Weight 2: one product page, under the metric name `product` whatever the id. */
function viewProduct(s) {
  const id = pickProduct(s);
  const res = http.get(`${s.baseUrl}/products/${id}`, { name: 'product' });
  check('status is 200', res.status === 200);
}

/** Weight 1: put one product in the cart, then read the cart back. */
function addToCart(s) {
  const id = pickProduct(s);
  let res = postCart(s, id);
  if (res.status === 401) {
    // The demo target can end sessions: log in again and retry once.
    log.warn(`vu-${context.vuId()}: session ended, logging in again`);
    s.token = login(s.baseUrl);
    res = postCart(s, id);
  }
  if (check('status is 200', res.status === 200)) {
    cartItemsAdded.add(1);
  }
  const cart = http.get(`${s.baseUrl}/cart`, { name: 'cart', bearer: s.token });
  check('status is 200', cart.status === 200);
  const items = cart.status === 200 ? cart.json().items : undefined;
  check('cart has items', Array.isArray(items) && items.length > 0);
}

/** `POST /cart` with one unit of product `id`. */
function postCart(s, id) {
  return http.post(
    `${s.baseUrl}/cart`,
    { product_id: id, quantity: 1 },
    { name: 'cart_add', bearer: s.token },
  );
}

/** A product id drawn reproducibly from this VU's id and iteration. */
function pickProduct(s) {
  return Rng.forIteration().pick(s.productIds);
}
