// `{{name}}`: one request and two checks per iteration, then a pause.
//
// Params: `base_url` (default `http://127.0.0.1:18080`), `think_ms` (default 100).
// `fetch()` works as well (make `iteration` async and await it); the `http` helper is synchronous,
// names requests and costs less per request.

import { check, context, exportScenario, http, sleepMs } from './sdk/js/stampede.js';

/** One virtual user: the constructor runs once per VU, `iteration` in a loop. */
class User {
  constructor() {
    this.baseUrl = context.param('base_url', 'http://127.0.0.1:18080');
    this.thinkMs = context.paramInt('think_ms', 100);
  }

  iteration() {
    try {
      const res = http.get(`${this.baseUrl}/products`, { name: 'products' });
      check('status is 200', res.status === 200);
      check('body lists products', res.text().includes('"id"'));
    } finally {
      // Also after a request that got no response (it throws): a target that is down is not
      // hammered as fast as the VUs can loop.
      sleepMs(this.thinkMs);
    }
  }
}

export const runner = exportScenario(User);
