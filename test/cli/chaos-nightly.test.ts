/**
 * The two scheduled edges over the chaos night: scripts/nightly-chaos (cron: a lock against
 * overlapping runs, quiet on success, non-zero with the report on failure) and the Lambda
 * entry (src/chaos/lambda.ts: JSON log lines, a failed night as one "chaos-report" error line).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { loadConfig } from '../../src/config/index.js';
import { makeHandler } from '../../src/chaos/lambda.js';
import { BIN, ROOT, fleet, tempDir, writeConfig } from './helpers.js';

const SCRIPT = join(ROOT, 'scripts', 'nightly-chaos');
const FAST = ['--time-scale', '20', '--poll-ms', '200'];

function config(name: string, chaos: string): string {
  return `fleet: ${name}
region: us-east-1
dns: {zone: ${name}.example.com, ttl: 1}
hub: hub-01
journal: {bucket: ${name}-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
  api: {count: 2, type: m5.large}
chaos:
  opt-out: [hub]
${chaos}`;
}

function script(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(SCRIPT, args, { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', FLEET_BIN: `${process.execPath} ${BIN}`, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

describe('the nightly chaos job: cron script and Lambda entry', () => {
  let cloud: LocalCloud;
  const dir = tempDir();
  const env = (): Record<string, string> => ({ AWS_ENDPOINT_URL: cloud.endpoint, FLEET_LOCK_DIR: join(dir, 'locks'), FLEET_CHAOS_LOCK: join(dir, 'nightly.lock') });

  async function setup(name: string, chaos: string): Promise<string> {
    const file = writeConfig(config(name, chaos));
    assert.equal((await fleet(['init', '--config', file], { endpoint: cloud.endpoint, env: env() })).code, 0);
    const r = await fleet(['apply', '--yes', '--config', file, ...FAST], { endpoint: cloud.endpoint, env: env() });
    assert.equal(r.code, 0, r.stderr);
    return file;
  }

  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: 20, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
  });
  after(async () => {
    await cloud.close();
  });

  test('nightly-chaos with a leashed policy: quiet, nothing killed', async () => {
    const file = await setup('nightleash', '  leashed: true\n');
    const before = cloud.control.s3.objects('nightleash-journal').map((o) => o.key);
    const r = await script(['--config', file, ...FAST], env());
    assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(cloud.control.s3.objects('nightleash-journal').map((o) => o.key), before);
  });

  test('nightly-chaos: quiet on success; a second run while one holds the lock does not start; non-zero with the report on failure', async () => {
    const file = await setup('nightly', '  leashed: false\n  rebuild-budget: 1m\n');
    const ok = await script(['--config', file, '--seed', '2', ...FAST], env());
    assert.deepEqual(ok, { code: 0, stdout: '', stderr: '' }, 'silence is the goal');
    // The kill happened: one journal entry.
    assert.equal(cloud.control.s3.objects('nightly-journal').filter((o) => /-kill-.*\.json$/.test(o.key)).length, 1);

    // Overlap: hold the lock as a running night would (flock on the same file), then try.
    const holder = spawn('flock', [env()['FLEET_CHAOS_LOCK']!, 'cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.on('spawn', () => resolve()));
    // `cat` echoes a line once flock holds the lock and ran it: an event, not a sleep.
    const held = new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    holder.stdin.write('held\n');
    await held;
    const second = await script(['--config', file, ...FAST], env());
    holder.stdin.end();
    await new Promise((resolve) => holder.on('exit', resolve));
    assert.equal(second.code, 75);
    assert.match(second.stderr, /^nightly-chaos: another run holds .*nightly\.lock; not starting a second one$/m);

    // Failure: every launch of api's type fails, so the night cannot heal within the budget.
    cloud.control.addCapacityRule({ instanceType: 'm5.large' });
    try {
      const bad = await script(['--config', file, '--seed', '9', ...FAST], { ...env(), FLEET_LOCK_DIR: join(dir, 'locks2') });
      assert.equal(bad.code, 1, bad.stderr);
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, /^CHAOS NIGHT FAILED \(seed 9/m);
      assert.match(bad.stderr, /^ {2}api-0\d: NOT REBUILT /m);
    } finally {
      cloud.control.clearCapacityRules();
    }
  });

  test('the Lambda entry: the same night from FLEET_SPEC_JSON, JSON lines, a leashed policy changes nothing, an unleashed one kills and heals', async () => {
    const leashedFile = await setup('lambda', '  leashed: true\n');
    const lines: string[] = [];
    const context = { getRemainingTimeInMillis: () => 900_000, awsRequestId: 'req-1' };
    const base = { AWS_ENDPOINT_URL: cloud.endpoint, AWS_REGION: 'us-east-1', FLEET_LOCK_DIR: join(dir, 'lambda-locks'), FLEET_TIME_SCALE: '20', FLEET_POLL_MS: '200', PATH: process.env['PATH'] };
    const before = cloud.control.s3.objects('lambda-journal').length;
    const leashed = await makeHandler({ ...base, FLEET_SPEC_JSON: JSON.stringify(await loadConfig(leashedFile)) }, (l) => lines.push(l))({ seed: 5 }, context);
    assert.equal(leashed.ok, true);
    assert.equal(leashed.seed, 5);
    assert.match(leashed.summary, /^chaos \(leashed, seed 5\): would kill api-0\d .*; nothing changed$/);
    assert.equal(cloud.control.s3.objects('lambda-journal').length, before);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `a JSON line: ${l}`);

    const unleashedSpec = { ...(await loadConfig(leashedFile)) };
    unleashedSpec.chaos = { ...unleashedSpec.chaos, leashed: false };
    // api on spot, and spot interrupted its type in every AZ a minute ago (the handler's pool
    // memory, in the journal bucket): the heal's launch reads it and tries those pools last, as apply does.
    unleashedSpec.roles = unleashedSpec.roles.map((r) => (r.name === 'api' ? { ...r, market: 'spot' as const } : r));
    const at = new Date(cloud.control.clock.now() - 60_000).toISOString();
    for (const { az } of cloud.control.ec2.subnets()) {
      const rec = { instanceType: 'm5.large', az, role: 'api', at, eventId: `seed-${az}` };
      cloud.control.s3.putObject('lambda-journal', `${unleashedSpec.journal.prefix}/lambda/pools/${at}-seed-${az}.json`, JSON.stringify(rec));
    }
    lines.length = 0;
    const night = await makeHandler({ ...base, FLEET_SPEC_JSON: JSON.stringify(unleashedSpec) }, (l) => lines.push(l))({ seed: 5 }, context);
    assert.equal(night.ok, true, night.summary);
    assert.equal(night.kills.length, 1);
    assert.equal(night.kills[0]!.withinBudget, true);
    const events = lines.map((l) => JSON.parse(l) as { level: string; event: string; name?: string });
    assert.ok(events.some((e) => e.event === 'chaos-night' && e.level === 'info'));
    assert.ok(!events.some((e) => e.level === 'error'));
    assert.ok(events.some((e) => e.event === 'pools-avoided' && e.name === night.kills[0]!.name), 'the heal consulted the pool memory');

    // Too little time left in the invocation: no kill is started, and that is reported loudly.
    lines.length = 0;
    const late = await makeHandler({ ...base, FLEET_SPEC_JSON: JSON.stringify(unleashedSpec) }, (l) => lines.push(l))({ seed: 6 }, { getRemainingTimeInMillis: () => 10_000 });
    assert.equal(late.ok, false);
    assert.deepEqual(late.kills, []);
    const report = lines.map((l) => JSON.parse(l) as { level: string; event: string; stopped?: string[] }).find((e) => e.event === 'chaos-report');
    assert.equal(report?.level, 'error');
    assert.match(report?.stopped?.[0] ?? '', /^(deadline .* reached before api-0\d|stopped before api-0\d: the Lambda invocation is about to time out)$/);

    lines.length = 0;
    const broken = await makeHandler({ ...base, FLEET_SPEC_JSON: '{"fleet": 1}' }, (l) => lines.push(l))({}, context);
    assert.equal(broken.ok, false);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { level: string; event: string; msg: string })).map((e) => [e.level, e.event, e.msg]), [['error', 'chaos-report', 'chaos night not run: FLEET_SPEC_JSON is not a fleet spec: missing fleet, dns.zone, dns.ttl, roles, journal.bucket, defaults.subnets, reconcile.convergeTimeoutMs, naming.indexDigits, chaos']]);
  });
});
