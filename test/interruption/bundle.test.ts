/**
 * The Lambda artifact: `scripts/bundle.mjs` builds it with esbuild, and the BUNDLED handler (the
 * .mjs, not the sources) handles events against the in-process local cloud: a malformed event is
 * logged and ignored, a spot warning replaces the name. Log lines are JSON.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { loadConfig } from '../../src/config/index.js';
import { fleet, ROOT, tempDir, writeConfig } from '../cli/helpers.js';

const SPEED = 20;

type Handler = (event: unknown, context?: { getRemainingTimeInMillis(): number; awsRequestId: string }) => Promise<{ outcomes: { status: string; kind: string; subjects: { action: string; status: string }[] }[] }>;

function bundle(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run `fn` capturing what is written to stdout (the handler's JSON log lines). */
async function capture<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; lines: string[] }> {
  const orig = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await fn(), lines: text.split('\n').filter((l) => l !== '') };
  } catch (error) {
    return { error, lines: text.split('\n').filter((l) => l !== '') };
  } finally {
    process.stdout.write = orig;
  }
}

describe('the bundled Lambda handler', () => {
  let cloud: LocalCloud;
  let out: string;
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
    out = tempDir();
  });
  after(async () => {
    await cloud.close();
  });

  test('bundle.mjs: unknown entries are usage errors; one ESM file plus its map per entry', () => {
    const bad = bundle(['--only', 'nosuch', '--outdir', out]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown entry "nosuch"; entries: interruption, chaos/);
    const r = bundle(['--only', 'interruption', '--outdir', out]);
    assert.equal(r.status, 0, r.stderr);
    const line = JSON.parse(r.stdout.trim()) as { entry: string; bytes: number };
    assert.equal(line.entry, 'interruption');
    const file = join(out, 'interruption', 'index.mjs');
    assert.ok(existsSync(file) && existsSync(`${file}.map`));
    assert.equal(statSync(file).size, line.bytes);
  });

  test('the bundle handles a malformed event (logged, ignored, no throw) and a spot warning (the name replaced)', async () => {
    const file = join(out, 'interruption', 'index.mjs');
    if (!existsSync(file)) assert.equal(bundle(['--only', 'interruption', '--outdir', out]).status, 0);
    // A fleet served on the local cloud, set up by the CLI.
    const cfg = writeConfig(`fleet: lam
region: us-east-1
dns: {zone: lam.example.com, ttl: 1}
hub: hub-01
journal: {bucket: lam-fleet-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
  web: {count: 1, type: t3.medium, alternatives: [t3a.medium], market: spot}
reconcile: {converge-timeout: 10m}
`);
    assert.equal((await fleet(['init', '--config', cfg], { endpoint: cloud.endpoint })).code, 0);
    const applied = await fleet(['apply', '--yes', '--config', cfg, '--time-scale', String(SPEED), '--poll-ms', '200'], { endpoint: cloud.endpoint });
    assert.equal(applied.code, 0, applied.stderr);

    // The Lambda's environment, as the stack sets it (plus the local cloud).
    const env: Record<string, string> = {
      FLEET_SPEC_JSON: JSON.stringify(await loadConfig(cfg)),
      AWS_ENDPOINT_URL: cloud.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDLOCALCLOUD',
      AWS_SECRET_ACCESS_KEY: 'local-cloud',
      FLEET_TIME_SCALE: String(SPEED),
      FLEET_POLL_MS: '200',
      FLEET_LOCK_DIR: join(tempDir(), 'locks'),
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const mod = (await import(pathToFileURL(file).href)) as { handler: Handler };
      assert.equal(typeof mod.handler, 'function');
      const ctx = { getRemainingTimeInMillis: () => 300_000, awsRequestId: 'req-0001-test' };

      const junk = await capture(() => mod.handler({ source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning', detail: 'nope' }, ctx));
      assert.equal(junk.error, undefined, String(junk.error));
      assert.equal(junk.value!.outcomes[0]!.status, 'ignored');
      for (const l of junk.lines) assert.doesNotThrow(() => JSON.parse(l), `a JSON log line: ${l}`);
      assert.ok(junk.lines.some((l) => (JSON.parse(l) as { event: string }).event === 'event-ignored'));

      const rec = cloud.control.route53.records('lam.example.com').find((r) => r.name === 'web-01.lam.example.com.')!;
      const old = cloud.control.ec2.instances().find((i) => i.privateIpAddress === rec.values[0] && i.state === 'running')!;
      const warning = cloud.control.interruptSpot(old.instanceId);
      const r = await capture(() => mod.handler(warning, ctx));
      assert.equal(r.error, undefined, `${String(r.error)}\n${r.lines.join('\n')}`);
      const o = r.value!.outcomes[0]!;
      assert.equal(o.status, 'done', JSON.stringify(o));
      assert.equal(o.subjects[0]!.action, 'replace-now');
      const now = cloud.control.route53.records('lam.example.com').find((x) => x.name === 'web-01.lam.example.com.')!;
      const served = cloud.control.ec2.instances().find((i) => i.privateIpAddress === now.values[0] && i.state === 'running')!;
      assert.notEqual(served.instanceId, old.instanceId);
      assert.ok(served.tags['fleet:converged']);
      const logged = r.lines.map((l) => JSON.parse(l) as { level: string; event: string; requestId?: string });
      assert.ok(logged.every((l) => l.requestId === 'req-0001-test' && typeof l.event === 'string' && typeof l.level === 'string'));
      assert.ok(logged.some((l) => l.event === 'swapped'));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
