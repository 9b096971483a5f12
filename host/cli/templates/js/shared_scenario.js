// `{{name}}`: one request and two checks per iteration, then a pause. Built for shared isolation:
// many VUs run as concurrent async calls in one QuickJS instance (`isolation = "shared"` in
// plan.toml).
//
// Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
//
// `await` every request and sleep: only this VU waits, the others run meanwhile. Module globals are
// shared by the instance's VUs; keep per-VU state on `this`. Any exception fails just the call (its
// stack is logged); `fail(message)` fails it with that message.

import { check, context, exportSharedScenario, http, sleepMs } from './sdk/js/shared.js';

/** One virtual user: the constructor and `init` run once per VU, `iteration` in a loop. */
class User {
  /** Quick and synchronous: no requests here. */
  constructor(vuId) {
    this.vuId = vuId;
  }

  /** Once per VU, before its first iteration (log in here). */
  async init() {
    this.baseUrl = context.param('base_url', 'http://127.0.0.1:18080');
    // A bad `think_ms` throws: this VU's start fails, and it retries a second later.
    this.thinkMs = context.paramInt('think_ms', 100);
  }

  async iteration(scenario, number) {
    try {
      const res = await http.get(`${this.baseUrl}/products`, { name: 'products' });
      check('status is 200', res.status === 200);
      check('body lists products', res.text().includes('"id"'));
    } finally {
      // Also after a request that got no response (it rejects): a target that is down is not
      // hammered as fast as the VUs can loop.
      await sleepMs(this.thinkMs);
    }
  }
}

export const sharedRunner = exportSharedScenario(User);
