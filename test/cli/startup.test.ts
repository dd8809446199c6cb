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

/** The bundled executable users run (scripts/bundle-cli.mjs) and the map of its chunks' sources. */
const BUNDLE = join(ROOT, 'dist', 'bin', 'fleet.mjs');
const BUNDLE_META = join(ROOT, 'dist', 'bin', 'meta.json');

/**
 * For the bundle, a loaded chunk stands for the sources esbuild put into it: each chunk URL is
 * replaced by `/<source path>` of its inputs, so the same patterns apply to both builds.
 */
function sourcesOf(urls: string[]): string[] {
  const meta = JSON.parse(readFileSync(BUNDLE_META, 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const out: string[] = [];
  for (const u of urls) {
    const rel = u.startsWith('file://') ? u.slice(`file://${ROOT}/`.length) : u;
    const o = meta.outputs[rel];
    if (o) out.push(`${u}`, ...Object.keys(o.inputs).map((i) => `/${i}`));
    else out.push(u);
  }
  return out;
}

const BUILDS: [string, string][] = [
  ['dist/src', BIN],
  ['the bundle', BUNDLE],
];

/** Run the CLI as a child process with the load recorder; the resolved module URLs. */
function loaded(bin: string, args: string[]): { code: number; stdout: string; stderr: string; urls: string[] } {
  const log = join(mkdtempSync(join(tmpdir(), 'fleet-load-')), 'loaded.txt');
  const r = spawnSync(process.execPath, ['--import', RECORDER, bin, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FLEET_LOAD_LOG: log, AWS_ENDPOINT_URL: '', CI: '1' },
  });
  const raw = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  const urls = bin === BUNDLE ? sourcesOf(raw) : raw;
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

for (const [build, bin] of BUILDS) {
  test(`${build}: fleet --help loads commander and the CLI, nothing that talks to AWS`, () => {
    const r = loaded(bin, ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: fleet/);
    // The recorder works: it saw the CLI's own modules.
    assert.ok(r.urls.some((u) => /\/src\/cli\/run\.[jt]s$/.test(u)), 'the recorder saw src/cli/run.js');
    assert.ok(r.urls.some((u) => u.includes('/node_modules/commander/')));
    assertLight('fleet --help', r.urls);
    // Not even the config parser: help needs no fleet.yaml.
    assert.deepEqual(r.urls.filter((u) => /\/node_modules\/(zod|yaml)\//.test(u)), []);
  });

  test(`${build}: fleet plan --help loads no AWS SDK and no local cloud`, () => {
    const r = loaded(bin, ['plan', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: fleet plan/);
    assertLight('fleet plan --help', r.urls);
  });

  test(`${build}: fleet validate of the example loads the config parser and nothing that talks to AWS`, () => {
    const r = loaded(bin, ['validate', '--config', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: ok — fleet /);
    assert.ok(r.urls.some((u) => /\/src\/config\/index\.[jt]s$/.test(u)), 'validate loaded the config parser');
    assertLight('fleet validate', r.urls);
  });

  test(`${build}: a bad flag is a usage error (exit 2) without loading the SDK`, () => {
    const r = loaded(bin, ['validate', '--no-such-flag']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
    assertLight('a usage error', r.urls);
  });

  test(`${build}: a command that talks to AWS does load the SDK (the recorder would see it)`, () => {
    // A loopback port nobody listens on: the call is refused at once, after the SDK is loaded.
    const r = loaded(bin, ['ls', '--config', EXAMPLE, '--endpoint', 'http://127.0.0.1:1']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /127\.0\.0\.1:1/);
    assert.ok(r.urls.some((u) => /\/node_modules\/@aws-sdk\/client-route-53\//.test(u)), 'ls loaded the Route 53 client');
  });
}
