#!/usr/bin/env node
// Build a JavaScript scenario into a Stampede component (world stampede:scenario/scenario@0.2.0).
//
//   node sdk/js/build.mjs [--if-stale] [--shared] [--wit DIR] [--world NAME] <entry.js> <out.wasm>
//
// --shared: a scenario for shared isolation (it imports shared.js): built with componentize-qjs (the
// QuickJS engine, ~1.7 MiB components, a few KiB per VU) for the world scenario-shared-futures, whose
// imports are futures, which componentize-js cannot build and componentize-qjs can await. The rest
// of this comment is about the default, componentize-js.
//
// Runs componentize-js (StarlingMonkey) directly through its API, with the `fetch-event` engine
// feature disabled (a scenario is not an HTTP server): the component imports the Stampede interfaces,
// plain WASI 0.2 (stdio, clocks, random) and wasi:http/outgoing-handler, which serves `fetch()`; the
// host routes it through the same pooled client, timing and target allowlist as `http.send`.
//
// The scenario may import other modules by relative path, this SDK's `stampede.js` included: the
// build evaluates them from a folder that contains both the entry and this SDK, and the snapshot
// holds them, so the component reads no file at run time.
//
// --if-stale: do nothing when <out.wasm> is newer than the entry's folder's .js/.mjs files, this SDK
// (its .js files, build.mjs, package-lock.json) and the WIT folder.
//
// Needs `npm ci` in this folder first (scripts call `npm ci --prefix sdk/js`).

import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdkDir = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error(
    'usage: node sdk/js/build.mjs [--if-stale] [--shared] [--wit DIR] [--world NAME] <entry.js> <out.wasm>',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    ifStale: false,
    shared: false,
    wit: resolve(sdkDir, '../../wit'),
    world: undefined,
    positional: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--if-stale') opts.ifStale = true;
    else if (arg === '--shared') opts.shared = true;
    else if (arg === '--wit') opts.wit = resolve(value());
    else if (arg === '--world') opts.world = value();
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else opts.positional.push(arg);
  }
  if (opts.positional.length !== 2) usage('expected <entry.js> and <out.wasm>');
  opts.world ??= opts.shared ? 'scenario-shared-futures' : 'scenario';
  return opts;
}

/** The deepest folder that contains every path in `paths` (absolute paths). */
function commonAncestor(paths) {
  const split = paths.map((p) => p.split(sep));
  const first = split[0];
  let n = 0;
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join(sep) || sep;
}

/** Newest modification time (ms) among the files under `dir` accepted by `keep`. */
async function newestUnder(dir, keep) {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestUnder(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

async function isStale(entry, out, wit) {
  let built;
  try {
    built = (await stat(out)).mtimeMs;
  } catch {
    return true;
  }
  const js = (name) => name.endsWith('.js') || name.endsWith('.mjs');
  const sources = [
    await newestUnder(dirname(entry), js),
    await newestUnder(wit, (name) => name.endsWith('.wit')),
    ...(await Promise.all(
      ['stampede.js', 'shared.js', 'core.js', 'common.js', 'build.mjs', 'package-lock.json'].map(async (f) => {
        try {
          return (await stat(join(sdkDir, f))).mtimeMs;
        } catch {
          return 0;
        }
      }),
    )),
  ];
  return sources.some((t) => t > built);
}

/** Fail unless `bytes` starts with a component's preamble (`\0asm`, version 0x0d, layer 1). */
function assertComponent(bytes, tool) {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.readUInt32LE(0) !== 0x6d736100 || view.readUInt32LE(4) !== 0x0001000d) {
    throw new Error(`${tool} did not produce a component`);
  }
}

/**
 * Exit with the place of a syntax error in the entry file, if it has one: componentize-js reports
 * one in an imported module with its file, line and caret, but one in the entry only as "failed to
 * parse JS source". Node's own parser checks it as a module (what the build evaluates it as).
 */
function checkEntrySyntax(entry, source) {
  const check = spawnSync(process.execPath, ['--input-type=module', '--check'], {
    input: source,
    encoding: 'utf8',
  });
  if (check.status === 0 || check.error) return;
  // "[stdin]:LINE", the line, a caret, a blank line, "SyntaxError: ...", then Node's own stack.
  const lines = check.stderr.split('\n');
  const end = lines.findIndex((l) => /^\w*Error\b/.test(l));
  const shown = (end < 0 ? lines : lines.slice(0, end + 1)).filter((l) => l.trim() !== '');
  console.error(`error: ${shown.join('\n').replace(/^\[stdin\]/, entry)}`);
  process.exit(1);
}

/** The tool's module, or exit with what to run. */
async function load(name) {
  try {
    return await import(name);
  } catch (e) {
    console.error(`error: cannot load ${name} (${e.message}); run \`npm ci --prefix ${sdkDir}\``);
    process.exit(1);
  }
}

/** componentize-js (StarlingMonkey): the world `scenario`. */
async function buildWithComponentizeJs(entry, opts) {
  const { componentize } = await load('@bytecodealliance/componentize-js');
  // componentize-js maps the current directory to `/` while it evaluates the module graph when the
  // entry lies under it, so run from a folder holding both the scenario and this SDK. (Not `/`
  // itself: componentize-js would then cut a character off the entry's path.)
  let root = commonAncestor([dirname(entry), sdkDir]);
  if (root === sep) root = dirname(entry);
  process.chdir(root);
  const { component } = await componentize({
    sourcePath: entry,
    witPath: opts.wit,
    worldName: opts.world,
    disableFeatures: ['fetch-event'],
  });
  return component;
}

/** componentize-qjs (QuickJS): shared isolation's world `scenario-shared-futures`. */
async function buildWithComponentizeQjs(entry, opts) {
  const { componentize } = await load('componentize-qjs');
  // The module graph (the scenario, this SDK) is evaluated at build time from `moduleRoot`, which
  // must hold both.
  let moduleRoot = commonAncestor([dirname(entry), sdkDir]);
  if (moduleRoot === sep) moduleRoot = dirname(entry);
  const { component } = await componentize({
    witPath: opts.wit,
    world: opts.world,
    jsSource: await readFile(entry, 'utf8'),
    jsPath: entry,
    moduleRoot,
  });
  return component;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const entry = resolve(opts.positional[0]);
  const out = resolve(opts.positional[1]);

  if (opts.ifStale && !(await isStale(entry, out, opts.wit))) {
    console.error(`up to date: ${relative(process.cwd(), out) || out}`);
    return;
  }

  // The two flavours need different engines and worlds: say so before a confusing build error.
  const source = await readFile(entry, 'utf8');
  // Comments aside (block comments, and lines that are comments): a comment may name the other.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  if (!opts.shared && /\bexportSharedScenario\b/.test(code)) {
    usage(`${opts.positional[0]} uses shared.js (exportSharedScenario): build it with --shared`);
  }
  if (opts.shared && /\bexportScenario\b/.test(code)) {
    usage(`${opts.positional[0]} uses stampede.js (exportScenario): build it without --shared`);
  }

  const k6 = code.match(/\bfrom\s+['"](k6(?:\/[^'"]*)?)['"]|\bimport\s+['"](k6(?:\/[^'"]*)?)['"]/);
  if (k6) {
    usage(
      `${opts.positional[0]} imports '${k6[1] ?? k6[2]}': k6's modules do not exist in Stampede; ` +
        `import { http, check, sleep, ... } from the SDK's stampede.js by relative path instead ` +
        `(sdk/js/README.md lists what it has)`,
    );
  }
  checkEntrySyntax(opts.positional[0], source);

  const started = Date.now();
  const tool = opts.shared ? 'componentize-qjs' : 'componentize-js';
  let component;
  try {
    component = opts.shared
      ? await buildWithComponentizeQjs(entry, opts)
      : await buildWithComponentizeJs(entry, opts);
  } catch (e) {
    const text = String(e && e.message ? e.message : e);
    if (/unknown imported function/.test(text) && /Wizer|initiali[sz]/i.test(text)) {
      throw new Error(
        `${text}\n\nA host function (http, context, log, ...) was called at the top level of a module: ` +
          `top-level code runs once, at build time, where the host does not exist. Call it in the VU ` +
          `constructor or in iteration (or in static setup()).`,
      );
    }
    throw e;
  }
  assertComponent(component, tool);

  await mkdir(dirname(out), { recursive: true });
  const partial = `${out}.partial-${process.pid}`;
  await writeFile(partial, component);
  await rename(partial, out);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const mib = (component.byteLength / 1048576).toFixed(1);
  console.error(`built ${out} (${mib} MiB) in ${seconds} s`);
}

main().catch((e) => {
  console.error(`error: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
