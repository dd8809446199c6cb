/**
 * The spot-interruption handler end to end: the local cloud emits EC2's and AWS Health's events
 * in their exact shapes, `fleet handle-event` (in-process, the real AWS SDK) acts on them, and
 * each test asserts the cloud's state through the local cloud's control. Every test works on its
 * own fleet and zone.
 *
 * Speed: the local cloud runs 20x real time and the CLI runs its waits on the same scale; times
 * asserted are simulated (the handler's clock), never wall time.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalCloud, urlSink, type LocalCloud, type LocalCloudControl } from '../../src/sim/index.js';
import { runCli } from '../../src/cli/run.js';
import type { CloudEvent } from '../../src/sim/types.js';
import type { EventOutcome } from '../../src/ops/interruption.js';
import { spawn } from 'node:child_process';
import { BIN, fleet, fleetProcess, tempDir, writeConfig } from '../cli/helpers.js';
import { assertFleetInvariants, sampleWhile, type FleetInfo } from '../cli/invariants.js';

const SPEED = 20;
const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
const SUBNETS = ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'];

function config(f: string, opts: { web?: number; batch?: number; avoid?: number } = {}): string {
  return `fleet: ${f}
region: us-east-1
dns:
  zone: ${f}.example.com
  ttl: 1
hub: hub-01
journal:
  bucket: ${f}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [${SUBNETS.join(', ')}]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${opts.web ?? 3}
    type: t3.medium
    alternatives: [t3a.medium]
    market: spot
    on-demand-fallback: true
  batch:
    count: ${opts.batch ?? 0}
    type: t3.medium
    market: spot
reconcile:
  converge-timeout: 10m
interruption:
  avoid-pool-minutes: ${opts.avoid ?? 30}
  on-demand-after: 5
`;
}

function names(opts: { web?: number; batch?: number } = {}): string[] {
  const n = (r: string, c: number) => Array.from({ length: c }, (_, i) => `${r}-${String(i + 1).padStart(2, '0')}`);
  return [...n('hub', 1), ...n('web', opts.web ?? 3), ...n('batch', opts.batch ?? 0)];
}

describe('fleet handle-event against the local cloud', () => {
  let cloud: LocalCloud;
  let control: LocalCloudControl;
  const run = (args: string[]) => fleet(args, { endpoint: cloud.endpoint });

  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
    control = cloud.control;
  });
  after(async () => {
    await cloud.close();
  });

  async function setup(f: string, opts: { web?: number; batch?: number; avoid?: number } = {}): Promise<{ cfg: string; info: FleetInfo }> {
    const cfg = writeConfig(config(f, opts));
    const init = await run(['init', '--config', cfg]);
    assert.equal(init.code, 0, init.stderr);
    const r = await run(['apply', '--yes', '--config', cfg, ...FAST]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const info: FleetInfo = { fleet: f, zone: `${f}.example.com`, names: names(opts), ttl: 1 };
    assertFleetInvariants(control, info);
    return { cfg, info };
  }

  function servedBy(f: string, name: string): string {
    const rec = control.route53.records(`${f}.example.com`).find((r) => r.type === 'A' && r.name === `${name}.${f}.example.com.`);
    assert.ok(rec, `${name} has a record`);
    const inst = control.ec2.instances().find((i) => i.privateIpAddress === rec.values[0] && (i.state === 'running' || i.state === 'pending'));
    assert.ok(inst, `${name}'s record ${rec.values[0]} points at a live instance`);
    return inst.instanceId;
  }

  /** The real bin as a child process with `input` on its standard input (the local cloud keeps answering: no spawnSync). */
  function pipe(args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', AWS_ENDPOINT_URL: cloud.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  function eventFile(e: CloudEvent | CloudEvent[] | string): string {
    const file = join(tempDir(), 'event.json');
    writeFileSync(file, typeof e === 'string' ? e : JSON.stringify(e));
    return file;
  }

  async function handle(cfg: string, e: CloudEvent | CloudEvent[] | string, extra: string[] = []): Promise<{ code: number; outcomes: EventOutcome[]; stderr: string }> {
    const r = await run(['--json', 'handle-event', eventFile(e), '--config', cfg, ...FAST, ...extra]);
    assert.ok(r.stdout.length > 0, `JSON on stdout; stderr: ${r.stderr}`);
    const body = JSON.parse(r.stdout) as { outcomes: EventOutcome[] };
    return { code: r.code, outcomes: body.outcomes, stderr: r.stderr };
  }

  test('interrupt web-03: within the two simulated minutes a converged replacement from another pool serves it', async () => {
    const f = 'spot1';
    const { cfg, info } = await setup(f);
    const old = control.ec2.instance(servedBy(f, 'web-03'))!;
    assert.equal(old.market, 'spot');
    const warning = control.interruptSpot(old.instanceId);
    assert.equal(warning['detail-type'], 'EC2 Spot Instance Interruption Warning');
    assert.equal(warning.source, 'aws.ec2');
    assert.deepEqual(warning.detail, { 'instance-id': old.instanceId, 'instance-action': 'terminate' });

    const { code, outcomes, stderr } = await handle(cfg, warning);
    assert.equal(code, 0, stderr);
    assert.equal(outcomes.length, 1);
    const o = outcomes[0]!;
    assert.equal(o.status, 'done', JSON.stringify(o));
    assert.equal(o.subjects[0]!.action, 'replace-now');
    assert.ok(o.subjects[0]!.eventToServedMs! < 120_000, `served ${o.subjects[0]!.eventToServedMs} ms after the warning (simulated)`);
    const now = control.ec2.instance(servedBy(f, 'web-03'))!;
    assert.notEqual(now.instanceId, old.instanceId);
    assert.ok(now.tags['fleet:converged'], 'the replacement converged');
    assert.notDeepEqual([now.instanceType, now.availabilityZone], [old.instanceType, old.availabilityZone], 'another pool');
    assert.equal(now.tags['fleet:generation'], '2');
    assert.ok(['shutting-down', 'terminated'].includes(control.ec2.instance(old.instanceId)!.state));
    assertFleetInvariants(control, info);

    // The pool is remembered, in S3: `fleet pools` (another command, another deps) shows it.
    const pools = await run(['--json', 'pools', '--config', cfg, '--time-scale', String(SPEED)]);
    assert.equal(pools.code, 0, pools.stderr);
    const p = JSON.parse(pools.stdout) as { avoided: { instanceType: string; az: string; until: string }[] };
    assert.deepEqual(p.avoided.map((x) => [x.instanceType, x.az]), [[old.instanceType, old.availabilityZone]]);
    assert.equal(Date.parse(p.avoided[0]!.until), Date.parse(warning.time) + 30 * 60_000);
  });

  test('rebalance recommendation first: a converged standby out of DNS, the swap at the warning, the name never unserved', async () => {
    const f = 'spot2';
    const { cfg, info } = await setup(f);
    const old = servedBy(f, 'web-02');
    const rebalance = control.ec2.rebalanceRecommendation(old);
    const first = await handle(cfg, rebalance);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.outcomes[0]!.subjects[0]!.action, 'prewarm-standby', JSON.stringify(first.outcomes));
    const standby = first.outcomes[0]!.subjects[0]!.standby!.instanceId;
    const sv = control.ec2.instance(standby)!;
    assert.equal(sv.tags['fleet:standby'], rebalance.time.replace('Z', '.000Z'));
    assert.equal(sv.tags['fleet:name'], 'web-02');
    assert.ok(sv.tags['fleet:converged']);
    assert.equal(servedBy(f, 'web-02'), old, 'the standby is kept out of DNS');

    // Reconcile knows it: not an orphan while it waits.
    const plan = await run(['--json', 'plan', '--config', cfg, '--time-scale', String(SPEED)]);
    const pv = JSON.parse(plan.stdout) as { actions: { kind: string; instanceId?: string }[]; notes: string[] };
    assert.equal(pv.actions.filter((a) => a.instanceId === standby).length, 0, plan.stdout);
    assert.ok(pv.notes.some((n) => n.includes(standby) && n.includes('standby')), plan.stdout);
    // `fleet ls` shows it as a standby, not an orphan.
    const ls = JSON.parse((await run(['--json', 'ls', '--config', cfg])).stdout) as { orphans: unknown[]; standbys?: { instance: { id: string }; name: string }[] };
    assert.deepEqual(ls.orphans, []);
    assert.deepEqual(ls.standbys?.map((x) => [x.instance.id, x.name]), [[standby, 'web-02']]);
    const lsText = (await run(['ls', '--config', cfg])).stdout;
    assert.match(lsText, new RegExp(`^1 standby instance .*\\n(.*\\n)?${standby}\\s+web-02\\s`, 'm'));

    const warning = control.interruptSpot(old);
    const sampled = await sampleWhile(control, info, handle(cfg, warning), { servedOnly: true, everyMs: 5 });
    assert.deepEqual(sampled.problems, [], 'web-02 never unserved');
    assert.ok(sampled.samples > 0);
    const second = sampled.result;
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.outcomes[0]!.subjects[0]!.action, 'swap-to-standby');
    assert.equal(servedBy(f, 'web-02'), standby);
    assert.ok(second.outcomes[0]!.subjects[0]!.eventToServedMs! < 120_000);
  });

  test('an AWS Health retirement event for two instances replaces both, well before the start', async () => {
    const f = 'spot3';
    const { cfg, info } = await setup(f);
    const a = servedBy(f, 'web-01');
    const b = servedBy(f, 'hub-01');
    const e = control.ec2.healthEvent([a, b], { eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED', startInMs: 3 * 24 * 3600_000 });
    assert.equal(e.source, 'aws.health');
    assert.equal(e['detail-type'], 'AWS Health Event');
    const { code, outcomes, stderr } = await handle(cfg, e);
    assert.equal(code, 0, stderr);
    assert.deepEqual(outcomes[0]!.subjects.map((s) => [s.name, s.action, s.status]).sort(), [
      ['hub-01', 'replace-before', 'done'],
      ['web-01', 'replace-before', 'done'],
    ]);
    assert.notEqual(servedBy(f, 'web-01'), a);
    assert.notEqual(servedBy(f, 'hub-01'), b);
    assertFleetInvariants(control, info);
  });

  test('the same warning three times, then the late rebalance and a state change: exactly one replacement', async () => {
    const f = 'spot4';
    const { cfg, info } = await setup(f);
    const old = servedBy(f, 'web-01');
    const warning = control.interruptSpot(old);
    control.resetCalls();
    // Two deliveries at once (they meet at the name's lock), then a third after both.
    const [x, y] = await Promise.all([handle(cfg, warning), handle(cfg, warning)]);
    const z = await handle(cfg, [warning]);
    for (const r of [x, y, z]) assert.equal(r.code, 0, r.stderr);
    const statuses = [x, y, z].map((r) => r.outcomes[0]!.status).sort();
    assert.deepEqual(statuses.filter((s) => s === 'done'), ['done'], JSON.stringify([x, y, z].map((r) => r.outcomes)));
    assert.equal(z.outcomes[0]!.status, 'duplicate');
    // The rebalance recommendation arrives after the warning: nothing to pre-warm any more.
    const late = await handle(cfg, { ...warning, id: 'late-rebalance-1', 'detail-type': 'EC2 Instance Rebalance Recommendation', detail: { 'instance-id': old } });
    assert.equal(late.outcomes[0]!.status, 'ignored', JSON.stringify(late.outcomes));
    // Its termination's state change: the name is served by the replacement, nothing to reconcile.
    const gone = await handle(cfg, { ...warning, id: 'late-state-1', 'detail-type': 'EC2 Instance State-change Notification', detail: { 'instance-id': old, state: 'terminated' } });
    assert.equal(gone.outcomes[0]!.status, 'ignored', JSON.stringify(gone.outcomes));
    assert.match(gone.outcomes[0]!.detail, /already served by/);
    assert.equal(control.calls()['ec2:RunInstances'], 1, 'one replacement launched');
    assertFleetInvariants(control, info);
  });

  test('a warning that arrives while an operator upgrades the name waits for the lock, then finds it replaced', async () => {
    const f = 'spot7';
    const { cfg, info } = await setup(f, { web: 1 });
    const old = servedBy(f, 'web-01');
    const before = new Set(control.ec2.instances().map((i) => i.instanceId));
    control.resetCalls();
    const upgrade = run(['upgrade', 'web-01', '--type', 't3a.medium', '--yes', '--config', cfg, ...FAST]);
    // The upgrade holds web-01's lock once its launch shows.
    const end = Date.now() + 60_000;
    while (!control.ec2.instances().some((i) => !before.has(i.instanceId) && i.tags['fleet:name'] === 'web-01')) {
      if (Date.now() > end) throw new Error('the upgrade never launched');
      await new Promise((r) => setTimeout(r, 5));
    }
    const warning = control.interruptSpot(old);
    const [up, h] = await Promise.all([upgrade, handle(cfg, warning)]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(h.code, 0, h.stderr);
    assert.equal(h.outcomes[0]!.status, 'ignored', JSON.stringify(h.outcomes));
    assert.match(h.outcomes[0]!.detail, /already served by/);
    assert.equal(control.calls()['ec2:RunInstances'], 1, 'only the upgrade launched');
    assert.equal(control.ec2.instance(servedBy(f, 'web-01'))!.instanceType, 't3a.medium');
    assertFleetInvariants(control, info);
  });

  test('pool memory: after an interruption in (t3.medium, us-east-1a) the next launches of any role avoid it, also from a fresh process', async () => {
    const f = 'spot5';
    const { cfg } = await setup(f, { web: 1 });
    const old = control.ec2.instance(servedBy(f, 'web-01'))!;
    assert.deepEqual([old.instanceType, old.availabilityZone], ['t3.medium', 'us-east-1a']);
    const warning = control.interruptSpot(old.instanceId);
    const r = await handle(cfg, warning);
    assert.equal(r.code, 0, r.stderr);
    const web = control.ec2.instance(servedBy(f, 'web-01'))!;
    assert.notDeepEqual([web.instanceType, web.availabilityZone], ['t3.medium', 'us-east-1a']);

    // Another role, launched by `fleet apply` in a separate process: its home AZ is us-east-1a,
    // yet it avoids the pool (the memory comes from S3, not from this process).
    const cfg2 = writeConfig(config(f, { web: 1, batch: 1 }));
    const apply = await fleetProcess(['apply', '--yes', '--config', cfg2, ...FAST], { env: { AWS_ENDPOINT_URL: cloud.endpoint }, timeoutMs: 120_000 });
    assert.equal(apply.code, 0, apply.stderr + apply.stdout);
    const batch = control.ec2.instance(servedBy(f, 'batch-01'))!;
    assert.equal(batch.market, 'spot');
    assert.notDeepEqual([batch.instanceType, batch.availabilityZone], ['t3.medium', 'us-east-1a'], 'the interrupted pool is avoided');
    assert.equal(batch.instanceType, 't3.medium');

    // Once the memory expires (30 simulated minutes), the pool is used again.
    control.clock.advance(31 * 60_000);
    const pools = await run(['--json', 'pools', '--config', cfg2, '--time-scale', String(SPEED)]);
    assert.deepEqual((JSON.parse(pools.stdout) as { avoided: unknown[] }).avoided, []);
  });

  test('--listen: the local cloud posts its events to the handler (fleet sim --event-sink); an interruption and a kill heal by themselves', async () => {
    const f = 'spot8';
    const { cfg, info } = await setup(f, { web: 2 });
    let out = '';
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const listening = runCli(['handle-event', '--listen', '0', '--verbose', '--config', cfg, ...FAST], {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: () => true },
      env: { PATH: process.env['PATH'], AWS_ENDPOINT_URL: cloud.endpoint },
      isTTY: false,
      cwd: process.cwd(),
      stdinIsTTY: false,
      stopSignal: stopped,
      ask: async () => '',
    });
    const until = async (cond: () => boolean, what: string) => {
      const end = Date.now() + 60_000;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`${what} did not happen; handler said:\n${out}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until(() => /http:\/\/127\.0\.0\.1:\d+\//.test(out), 'listening');
    const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!;
    // A malformed body is refused with 400; anything but POST with 405.
    assert.equal((await fetch(url, { method: 'POST', body: '{' })).status, 400);
    assert.equal((await fetch(url)).status, 405);
    control.setEventSink(urlSink(url));
    try {
      const old1 = servedBy(f, 'web-01');
      control.interruptSpot(old1);
      await until(() => {
        try {
          return servedBy(f, 'web-01') !== old1;
        } catch {
          return false;
        }
      }, 'web-01 replaced');
      // A kill from outside: the state change reconciles web-02.
      const old2 = servedBy(f, 'web-02');
      control.ec2.terminate(old2);
      await until(() => {
        try {
          return servedBy(f, 'web-02') !== old2 && Boolean(control.ec2.instance(servedBy(f, 'web-02'))!.tags['fleet:converged']);
        } catch {
          return false;
        }
      }, 'web-02 rebuilt');
    } finally {
      control.setEventSink(undefined);
      stop();
    }
    assert.equal(await listening, 0, out);
    assert.match(out, /replace-now: web-01 -> /);
    assert.match(out, /reconcile-name: web-02 -> /);
    assertFleetInvariants(control, info);
  });

  test('events outside the fleet, malformed ones and a dry run change nothing', async () => {
    const f = 'spot6';
    const { cfg, info } = await setup(f, { web: 1 });
    const before = assertFleetInvariants(control, info);
    const foreign = { version: '0', id: 'x-1', 'detail-type': 'EC2 Spot Instance Interruption Warning', source: 'aws.ec2', account: '123456789012', time: control.clock.nowIso(), region: 'us-east-1', resources: [], detail: { 'instance-id': 'i-0123456789abcdef0', 'instance-action': 'terminate' } };
    const r = await handle(cfg, [foreign, { source: 'aws.s3' }, 7] as unknown as CloudEvent[]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.outcomes.map((o) => o.status), ['ignored', 'ignored', 'ignored']);
    assert.match(r.outcomes[0]!.detail, /does not know/);
    // Dry run of a real warning: says what it would do, launches nothing, writes no marker.
    control.resetCalls();
    const warning = control.interruptSpot(servedBy(f, 'web-01'));
    const dry = await handle(cfg, warning, ['--dry-run']);
    assert.equal(dry.outcomes[0]!.status, 'would-do');
    assert.equal(dry.outcomes[0]!.subjects[0]!.action, 'replace-now');
    assert.equal(control.calls()['ec2:RunInstances'], undefined);
    assert.equal(control.calls()['s3:PutObject'], undefined);
    assert.deepEqual(assertFleetInvariants(control, info).served, before.served);
    // From standard input, through the real bin.
    const piped = await pipe(['--json', 'handle-event', '--config', cfg], JSON.stringify(foreign));
    assert.equal(piped.status, 0, piped.stderr);
    assert.deepEqual((JSON.parse(piped.stdout) as { outcomes: EventOutcome[] }).outcomes.map((o) => [o.eventId, o.status]), [['x-1', 'duplicate']]);
    const pipedBad = await pipe(['handle-event', '--config', cfg], '[{"id": 1,');
    assert.equal(pipedBad.status, 2);
    assert.match(pipedBad.stderr, /^fleet: standard input: not JSON: /);
    // Malformed JSON: exit 2, one message naming the file.
    const file = eventFile('{"source": ');
    const bad = await run(['handle-event', file, '--config', cfg]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, new RegExp(`^fleet: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not JSON: `));
  });
});
