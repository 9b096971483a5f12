// Node loader hooks for the SDK's unit tests: the world's import modules
// (`stampede:scenario/<interface>@0.2.0`) become modules whose functions call
// `globalThis.wit.<interface>.<function>`, which a test replaces with fakes.
// Registered by register.mjs (`node --import ./test/register.mjs --test test/`).

const INTERFACES = {
  http: ['send'],
  checks: ['check'],
  metrics: ['counterAdd', 'rateAdd', 'trendAdd', 'gaugeSet'],
  context: ['vuId', 'iteration', 'workerId', 'scenario', 'param', 'params', 'env'],
  time: ['sleep', 'nowMs'],
  log: ['write'],
  'http-future': ['send'],
  'time-future': ['sleep'],
};

const PATTERN = /^stampede:scenario\/([a-z-]+)@0\.2\.0$/;

export async function resolve(specifier, context, next) {
  if (PATTERN.test(specifier)) return { url: specifier, shortCircuit: true };
  return next(specifier, context);
}

export async function load(url, context, next) {
  const match = PATTERN.exec(url);
  if (!match) return next(url, context);
  const iface = match[1];
  const names = INTERFACES[iface];
  if (!names) throw new Error(`unknown interface ${iface}`);
  const source = names
    .map(
      (n) =>
        `export function ${n}(...args) { return globalThis.wit[${JSON.stringify(iface)}].${n}(...args); }`,
    )
    .join('\n');
  return { format: 'module', source, shortCircuit: true };
}
