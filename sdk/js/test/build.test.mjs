// build.mjs's checks before it builds anything: a syntax error in the entry names its file and line
// (componentize-js says only "failed to parse JS source"), and a comment naming the other flavour's
// export does not pick the flavour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const build = fileURLToPath(new URL('../build.mjs', import.meta.url));

/** Run build.mjs on an entry file holding `source`; its exit status and stderr. */
function buildSource(source, ...flags) {
  const dir = mkdtempSync(join(tmpdir(), 'stampede-build-test-'));
  const entry = join(dir, 'scenario.js');
  writeFileSync(entry, source);
  const out = spawnSync(process.execPath, [build, ...flags, entry, join(dir, 'out.wasm')], {
    encoding: 'utf8',
  });
  return { status: out.status, stderr: out.stderr, entry };
}

test('a syntax error in the entry is reported with its file and line', () => {
  const { status, stderr, entry } = buildSource(
    "import { http } from './sdk/js/stampede.js';\nfunction f() {\n  let x = ;\n}\n",
  );
  assert.equal(status, 1, stderr);
  assert.match(stderr, new RegExp(`^error: ${entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3\n  let x = ;\n +\\^\nSyntaxError: Unexpected token ';'\n$`));
});

test('a comment naming the other flavour does not decide the flavour', () => {
  // Without the comment rule this stopped at "uses shared.js (exportSharedScenario)" (exit 2);
  // here the build goes on to the syntax check, which fails (exit 1) before anything is built.
  const { status, stderr } = buildSource(
    '// Not exportSharedScenario: this one is per VU.\n/* exportSharedScenario */\nlet = ;\n',
  );
  assert.equal(status, 1, stderr);
  assert.match(stderr, /SyntaxError/);
  const shared = buildSource('export const sharedRunner = exportSharedScenario(User);\n');
  assert.equal(shared.status, 2, shared.stderr);
  assert.match(shared.stderr, /uses shared.js \(exportSharedScenario\): build it with --shared/);
});

test("an import of k6's modules says what to import instead", () => {
  const { status, stderr } = buildSource("import http from 'k6/http';\nimport { sleep } from 'k6';\n");
  assert.equal(status, 2, stderr);
  assert.match(stderr, /imports 'k6\/http': k6's modules do not exist in Stampede; import \{ http, check, sleep, \.\.\. \} from the SDK's stampede.js/);
});
