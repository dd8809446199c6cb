/**
 * Start at once: `fleet --help`, `fleet plan --help` and `fleet validate` load no AWS SDK, no
 * local cloud, no AWS adapter, no p-queue and no ZooKeeper client. Asserts on WHAT the CLI
 * process loads (every module URL the ESM loader resolves, recorded by
 * scripts/load-recorder.mjs), never on how long it takes; the CPU ratios are in `npm run bench`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from './helpers.js';

const RECORDER = join(ROOT, 'scripts', 'load-recorder.mjs');
const EXAMPLE = join(ROOT, 'fleet.yaml');

/** Run the CLI as a child process with the load recorder; the resolved module URLs. */
function loaded(args: string[], bin = BIN): { code: number; stdout: string; stderr: string; urls: string[] } {
  const log = join(mkdtempSync(join(tmpdir(), 'fleet-load-')), 'loaded.txt');
  const r = spawnSync(process.execPath, ['--import', RECORDER, bin, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FLEET_LOAD_LOG: log, AWS_ENDPOINT_URL: '', CI: '1' },
  });
  const urls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, urls };
}

/** What no start-up path may load: the SDK, the local cloud, the adapters, the heavy runtime deps. */
const HEAVY: [string, RegExp][] = [
  ['the AWS SDK', /\/node_modules\/@aws-sdk\/|\/node_modules\/@smithy\//],
  ['the local cloud', /\/src\/sim\//],
  ['an AWS adapter', /\/src\/aws\//],
  ['the ops flows', /\/src\/ops\//],
  ['p-queue', /\/node_modules\/p-queue\//],
  ['the ZooKeeper client', /\/node_modules\/node-zookeeper-client\//],
];

function assertLight(what: string, urls: string[]): void {
  for (const [name, re] of HEAVY) {
    const hits = urls.filter((u) => re.test(u));
    assert.deepEqual(hits, [], `${what} loaded ${name}: ${hits.slice(0, 3).join(', ')}`);
  }
}

test('fleet --help loads commander and the CLI, nothing that talks to AWS', () => {
  const r = loaded(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: fleet/);
  // The recorder works: it saw the CLI's own modules.
  assert.ok(r.urls.some((u) => u.endsWith('/src/cli/run.js')), 'the recorder saw src/cli/run.js');
  assert.ok(r.urls.some((u) => u.includes('/node_modules/commander/')));
  assertLight('fleet --help', r.urls);
  // Not even the config parser: help needs no fleet.yaml.
  assert.deepEqual(r.urls.filter((u) => /\/node_modules\/(zod|yaml)\//.test(u)), []);
});

test('fleet plan --help loads no AWS SDK and no local cloud', () => {
  const r = loaded(['plan', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: fleet plan/);
  assertLight('fleet plan --help', r.urls);
});

test('fleet validate of the example loads the config parser and nothing that talks to AWS', () => {
  const r = loaded(['validate', '--config', EXAMPLE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: ok — fleet /);
  assert.ok(r.urls.some((u) => u.endsWith('/src/config/index.js')), 'validate loaded the config parser');
  assertLight('fleet validate', r.urls);
});

test('a bad flag is a usage error (exit 2) without loading the SDK', () => {
  const r = loaded(['validate', '--no-such-flag']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
  assertLight('a usage error', r.urls);
});

test('a command that talks to AWS does load the SDK (the recorder would see it)', () => {
  // A malformed endpoint fails in the wiring, after the SDK is loaded and before any call.
  const r = loaded(['ls', '--config', EXAMPLE, '--endpoint', 'ftp://nowhere']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /endpoint must be http\(s\)/);
  assert.ok(r.urls.some((u) => /\/node_modules\/@aws-sdk\/client-route-53\//.test(u)), 'ls loaded the Route 53 client');
});
