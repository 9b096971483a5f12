// `js-shop-shared`: js-shop's flow written for shared isolation (`sdk/js/shared.js`, built with
// `build.mjs --shared`): many VUs run as concurrent async calls in one QuickJS instance, so a VU
// costs a few KiB instead of a JavaScript engine of its own.
//
// Each VU logs in once as `vu-<id>` in `init` and reads the product ids from `GET /products`. Then
// every iteration runs one task picked by weight, and pauses for the `think_ms` param:
//
// | weight | task | requests (metric `name`) |
// |---|---|---|
// | 3 | browse | `GET /products` (`products`) |
// | 2 | view a product | `GET /products/{id}` (`product`) |
// | 1 | add to cart | `POST /cart` (`cart_add`), then `GET /cart` (`cart`) |
//
// Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
//
// What differs from js-shop: every request and sleep is `await`ed (only this VU waits); per-VU state
// lives on `this`, since module globals are shared by the instance's VUs; the VU id comes from the
// constructor and the iteration number from `iteration`, so random draws use
// `Rng.seeded(this.vuId, number)` (with the same streams as js-shop's `Rng.forIteration`, so the
// same VU and iteration draw the same task and product).
//
// Build: node sdk/js/build.mjs --shared plugins/js-shop-shared/scenario.js target/guest/js/js_shop_shared.wasm

import {
  Counter,
  IterationError,
  Rng,
  TASK_STREAM,
  Tasks,
  check,
  context,
  exportSharedScenario,
  http,
  log,
  sleepMs,
} from '../../sdk/js/shared.js';

const cartItemsAdded = new Counter('cart_items_added');

// Shared by every VU of the instance: it holds only the task table, no per-VU state. Each task gets
// `{ vu, rng }`: this VU and the generator for this iteration's draws.
const tasks = new Tasks()
  .task(3, 'browse', browse)
  .task(2, 'view_product', viewProduct)
  .task(1, 'add_to_cart', addToCart);

/** One shopper: the session it keeps between iterations. */
class Shopper {
  /** Quick and synchronous: no requests here. */
  constructor(vuId) {
    this.vuId = vuId;
  }

  /** Once per VU. A failure throws, which fails this VU's start (`vu_init_errors`); the host retries. */
  async init() {
    this.baseUrl = context.param('base_url', 'http://127.0.0.1:18080');
    this.thinkMs = context.paramInt('think_ms', 100);
    this.token = await login(this);
    this.productIds = await listProducts(this.baseUrl);
  }

  async iteration(scenario, number) {
    // Draws reproducible from the VU id and iteration number, passed along rather than kept on the
    // VU (a task of an iteration that timed out may still be running in the instance).
    const call = { vu: this, rng: Rng.seeded(this.vuId, number) };
    try {
      await tasks.runOne(call, Rng.seeded(this.vuId, number, TASK_STREAM));
    } finally {
      await sleepMs(this.thinkMs);
    }
  }
}

export const sharedRunner = exportSharedScenario(Shopper);

/** `POST /login` as `vu-<id>`; returns the bearer token. */
async function login(s) {
  const res = await http.post(
    `${s.baseUrl}/login`,
    { username: `vu-${s.vuId}`, password: 'secret' },
    { name: 'login' },
  );
  const token = res.status === 200 ? res.json().token : undefined;
  if (!check('logged in', typeof token === 'string')) {
    throw new IterationError(`login: status ${res.status}: ${res.text()}`);
  }
  return token;
}

/** `GET /products`; returns the ids it lists. */
async function listProducts(baseUrl) {
  const res = await http.get(`${baseUrl}/products`, { name: 'products' });
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
async function browse({ vu: s }) {
  const res = await http.get(`${s.baseUrl}/products`, { name: 'products' });
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
async function viewProduct({ vu: s, rng }) {
  const id = rng.pick(s.productIds);
  const res = await http.get(`${s.baseUrl}/products/${id}`, { name: 'product' });
  check('status is 200', res.status === 200);
}

/** Weight 1: put one product in the cart, then read the cart back. */
async function addToCart({ vu: s, rng }) {
  const id = rng.pick(s.productIds);
  let res = await postCart(s, id);
  if (res.status === 401) {
    // The demo target can end sessions: log in again and retry once.
    log.warn(`vu-${s.vuId}: session ended, logging in again`);
    s.token = await login(s);
    res = await postCart(s, id);
  }
  if (check('status is 200', res.status === 200)) {
    cartItemsAdded.add(1);
  }
  const cart = await http.get(`${s.baseUrl}/cart`, { name: 'cart', bearer: s.token });
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
