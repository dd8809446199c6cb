/**
 * `fleet chaos` end to end: the real CLI (in-process, the real AWS SDK) against the local cloud.
 * Each test works on its own fleet and zone. The local cloud runs 20x real time and the CLI runs
 * its waits on the same scale (`--time-scale 20 --poll-ms 200`); nothing waits on wall time.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud, type LocalCloud, type LocalCloudControl } from '../../src/sim/index.js';
import { fleet, tempDir, writeConfig, type CliResult } from './helpers.js';
import { spawnFleet, until } from './coord-helpers.js';
import { assertFleetInvariants, type FleetInfo } from './invariants.js';
import type { NightReport } from '../../src/ops/chaos.js';

const SPEED = 20;
const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
const SUBNETS = ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'];

interface Shape {
  fleet: string;
  web?: number;
  api?: number;
  chaos: string;
  /** reconcile.interval (the controller's period). */
  interval?: string;
}

function config(s: Shape): string {
  return `fleet: ${s.fleet}
region: us-east-1
dns:
  zone: ${s.fleet}.example.com
  ttl: 1
hub: hub-01
journal:
  bucket: ${s.fleet}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [${SUBNETS.join(', ')}]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${s.web ?? 3}
    type: t3.medium
    market: spot
  api:
    count: ${s.api ?? 2}
    type: m5.large
    alternatives: [m5.xlarge]
reconcile:
  converge-timeout: 10m
${s.interval ? `  interval: ${s.interval}\n` : ''}chaos:
${s.chaos}`;
}

function names(s: Shape): string[] {
  const n = (role: string, count: number) => Array.from({ length: count }, (_, i) => `${role}-${String(i + 1).padStart(2, '0')}`);
  return ['hub-01', ...n('web', s.web ?? 3), ...n('api', s.api ?? 2)];
}

function journalKeys(control: LocalCloudControl, s: Shape): string[] {
  const bucket = `${s.fleet}-fleet-journal`;
  return control.s3.buckets().includes(bucket) ? control.s3.objects(bucket).map((o) => o.key).sort() : [];
}

/** Every instance of the fleet with its state and every A record: what "nothing changed" compares. */
function world(control: LocalCloudControl, s: Shape): unknown {
  return {
    instances: control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === s.fleet).map((i) => [i.instanceId, i.state]).sort(),
    records: control.route53.records(`${s.fleet}.example.com`).filter((r) => r.type === 'A').map((r) => [r.name, r.values.join(',')]).sort(),
    journal: journalKeys(control, s),
  };
}

function exit2(r: CliResult, re: RegExp): void {
  assert.equal(r.code, 2, `exit 2 expected; stdout ${r.stdout} stderr: ${r.stderr}`);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, 'no stack trace');
}

describe('fleet chaos against the local cloud', () => {
  let cloud: LocalCloud;
  const lockDir = tempDir();
  const run = (args: string[], opts: { answer?: string } = {}) => fleet(args, { endpoint: cloud.endpoint, env: { FLEET_LOCK_DIR: lockDir, USER: 'tester' }, ...opts });

  async function setup(s: Shape): Promise<{ config: string; info: FleetInfo }> {
    const file = writeConfig(config(s));
    const init = await run(['init', '--config', file]);
    assert.equal(init.code, 0, init.stderr);
    const r = await run(['apply', '--yes', '--config', file, ...FAST]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const info: FleetInfo = { fleet: s.fleet, zone: `${s.fleet}.example.com`, names: names(s), ttl: 1 };
    assertFleetInvariants(cloud.control, info);
    return { config: file, info };
  }

  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
  });
  after(async () => {
    await cloud.close();
  });

  test('a leashed night (the default) prints its victims and the seed, and changes nothing', async () => {
    const s: Shape = { fleet: 'leash', chaos: '  opt-out: [hub]\n  max-kills-per-run: 2\n' };
    const { config: file } = await setup(s);
    const before = world(cloud.control, s);
    const r = await run(['chaos', '--seed', '42', '--config', file, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^chaos night \(leashed: nothing is changed\), seed 42; replay with --seed 42$/m);
    assert.match(r.stdout, /^ {2}would kill (web|api)-0\d: i-[0-9a-f]+ \(/m);
    assert.match(r.stdout, /^ {2}not eligible hub-01: role hub is opted out$/m);
    assert.match(r.stdout, /^chaos \(leashed, seed 42\): would kill .*; nothing changed$/m);
    assert.deepEqual(world(cloud.control, s), before, 'no instance, record or journal object changed');
    // The same seed replays the same night.
    const again = await run(['--json', 'chaos', '--seed', '42', '--config', file, ...FAST]);
    const report = JSON.parse(again.stdout) as NightReport;
    assert.equal(report.seed, 42);
    assert.deepEqual(report.plan.victims.map((v) => v.name), [...r.stdout.matchAll(/would kill ([a-z]+-\d+):/g)].map((m) => m[1]));
    // Without --seed a random one is drawn, printed all the same.
    const random = await run(['chaos', '--config', file, ...FAST]);
    assert.match(random.stdout, /seed \d+; replay with --seed \d+/);
  });

  test('bad input: --unleash without a terminal and without --yes, a bad seed -> exit 2, nothing changed', async () => {
    const s: Shape = { fleet: 'badflag', chaos: '  opt-out: [hub]\n' };
    const { config: file } = await setup(s);
    const before = world(cloud.control, s);
    exit2(await run(['chaos', '--unleash', '--config', file, ...FAST]), /^fleet: refusing to unleash chaos without --yes: there is no terminal to ask/);
    exit2(await run(['chaos', '--seed', 'x7', '--config', file, ...FAST]), /^fleet: --seed "x7": expected a whole number 0\.\.4294967295$/m);
    exit2(await run(['chaos', 'history', '--since', 'last tuesday', '--config', file]), /^fleet: --since "last tuesday": expected a date YYYY-MM-DD or a duration such as 7d or 12h$/m);
    assert.deepEqual(world(cloud.control, s), before);
  });

  test('bad policy: a role that could go to zero, an unknown role in opt-out, a cron EventBridge cannot express -> exit 2 with the line', async () => {
    const cases: Array<[string, RegExp]> = [
      ['  min-converged: {api: 0}\n', /fleet\.yaml:\d+:\d+: chaos\.min-converged\.api: min-converged 0 lets chaos kill the last converged name of role api \(count 2\): the role could go to zero/],
      ['  opt-out: [hbu]\n', /fleet\.yaml:\d+:\d+: chaos\.opt-out\[0\]: opt-out names "hbu", which is not a declared role \(did you mean 'hub'\?\)/],
      ['  opt-out: [db*]\n', /fleet\.yaml:\d+:\d+: chaos\.opt-out\[0\]: opt-out pattern "db\*" matches no declared role/],
      ['  schedule: "0 3 1 * mon"\n', /fleet\.yaml:\d+:\d+: chaos\.schedule: the nightly schedule cannot run on EventBridge Scheduler: .*both day-of-month and day-of-week/],
    ];
    cloud.control.resetCalls();
    for (const [chaos, re] of cases) {
      const file = writeConfig(config({ fleet: 'badpolicy', chaos }));
      const r = await run(['chaos', '--unleash', '--yes', '--config', file, ...FAST]);
      exit2(r, re);
      const line = Number(/fleet\.yaml:(\d+):/.exec(r.stderr)![1]);
      assert.ok(line >= 27, `the line of the chaos key, got ${line}`);
    }
    assert.deepEqual(cloud.control.calls(), {}, 'not one AWS call: rejected before anything');
  });

  test('an unleashed night kills within policy, the fleet heals, the journal holds exactly the kills, history shows them', async () => {
    const s: Shape = { fleet: 'unleash', web: 3, api: 2, chaos: '  opt-out: [hub]\n  max-kills-per-run: 2\n  max-kills-per-role: 1\n  rebuild-budget: 10m\n' };
    const { config: file, info } = await setup(s);
    const journalBefore = journalKeys(cloud.control, s);
    const r = await run(['chaos', '--unleash', '--yes', '--seed', '7', '--config', file, ...FAST]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one summary line, got:\n${r.stdout}`);
    const m = /^chaos \(seed 7\): killed ([a-z]+-\d+) \(terminate\), ([a-z]+-\d+) \(terminate\); all rebuilt within the budget of 10 min 0 s \(slowest \d+ s\)$/.exec(lines[0]!);
    assert.ok(m, lines[0]);
    const killed = [m[1]!, m[2]!].sort();
    assert.deepEqual(killed.map((n) => n.split('-')[0]).sort(), ['api', 'web'], 'one per role, hub opted out');
    // Healed: every name served by a converged instance of generation 2 for the killed ones.
    assertFleetInvariants(cloud.control, info);
    for (const n of killed) {
      const live = cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === s.fleet && i.tags['fleet:name'] === n && i.state === 'running');
      assert.equal(live.length, 1);
      assert.equal(live[0]!.tags['fleet:generation'], '2');
    }
    // The journal: exactly one kill entry per killed name (written before the kill), each completed.
    const added = journalKeys(cloud.control, s).filter((k) => !journalBefore.includes(k));
    const kills = added.filter((k) => /-kill-/.test(k) && k.endsWith('.json'));
    assert.deepEqual(kills.map((k) => /-kill-([a-z]+-\d+)-/.exec(k)![1]).sort(), killed);
    for (const k of kills) assert.ok(added.includes(`${k}.outcome`), `${k} has its outcome`);
    // The proof of healing: one `rebuilt` entry per kill, written after it.
    const proofs = added.filter((k) => /-rebuilt-/.test(k) && k.endsWith('.json'));
    assert.deepEqual(proofs.map((k) => /-rebuilt-([a-z]+-\d+)-/.exec(k)![1]).sort(), killed);
    assert.deepEqual(added.filter((k) => !kills.includes(k) && !proofs.includes(k) && !k.endsWith('.outcome') && !/-replace-/.test(k)), [], 'nothing else but the heals');
    const h = await run(['--json', 'chaos', 'history', '--config', file]);
    assert.equal(h.code, 0, h.stderr);
    const hist = JSON.parse(h.stdout) as { kills: { name: string; seed: number; outcome?: { status: string; withinBudget: boolean; timeToRebuiltMs: number } }[] };
    assert.deepEqual(hist.kills.map((k) => k.name).sort(), killed);
    for (const k of hist.kills) {
      assert.equal(k.seed, 7);
      assert.equal(k.outcome?.status, 'rebuilt');
      assert.equal(k.outcome?.withinBudget, true);
      assert.ok(k.outcome!.timeToRebuiltMs > 0);
    }
    const text = await run(['chaos', 'history', '--since', '1d', '--config', file]);
    for (const n of killed) assert.match(text.stdout, new RegExp(`  ${n}  i-[0-9a-f]+  terminate  seed 7  night [0-9a-f]+  rebuilt in \\d+ s`));
    // The minimum time between kills (default 1d) holds across runs, read from the journal.
    const next = await run(['--json', 'chaos', '--seed', '7', '--config', file, ...FAST]);
    const plan = (JSON.parse(next.stdout) as NightReport).plan;
    for (const n of killed) assert.match(plan.excluded.find((x) => x.name === n)?.reason ?? '', /^killed \d+ min ago .*minimum time between kills 24 h$/);
  });

  test('healing blocked (capacity errors for every option of the role) -> exit 1 with a loud report', async () => {
    const s: Shape = { fleet: 'blocked', chaos: '  opt-out: [hub, web]\n  rebuild-budget: 1m\n' };
    const { config: file } = await setup(s);
    // Every launch of api's types, in every AZ and market, fails for capacity.
    cloud.control.addCapacityRule({ instanceType: 'm5.large' });
    cloud.control.addCapacityRule({ instanceType: 'm5.xlarge' });
    try {
      const r = await run(['chaos', '--unleash', '--yes', '--seed', '3', '--config', file, ...FAST]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^CHAOS NIGHT FAILED \(seed 3, night [0-9a-f]+; replay with --seed 3\)$/m);
      assert.match(r.stdout, /^ {2}api-0\d: NOT REBUILT \d+ s after it was killed \(terminate of i-[0-9a-f]+ at .*; budget 60 s\): unserved: record points at [0-9.]+, which no live instance has; no replacement launched; last reconcile: .*InsufficientInstanceCapacity/m);
      assert.match(r.stderr, /^fleet: chaos night failed: 1 of 1 names not rebuilt within 60 s \(seed 3\)$/m);
      const h = JSON.parse((await run(['--json', 'chaos', 'history', '--config', file])).stdout) as { kills: { outcome?: { status: string; withinBudget: boolean } }[] };
      assert.equal(h.kills.length, 1);
      assert.deepEqual(h.kills[0]!.outcome && { status: h.kills[0]!.outcome.status, withinBudget: h.kills[0]!.outcome.withinBudget }, { status: 'not-rebuilt', withinBudget: false });
    } finally {
      cloud.control.clearCapacityRules();
    }
  });

  test('a degradation between two kills stops the night (a stop condition): one kill, exit 1, the reason', async () => {
    const s: Shape = { fleet: 'degrade', web: 3, api: 2, chaos: '  opt-out: [hub]\n  max-kills-per-run: 2\n  max-kills-per-role: 1\n' };
    const { config: file } = await setup(s);
    const hub = cloud.control.ec2.instances().find((i) => i.tags['fleet:fleet'] === s.fleet && i.tags['fleet:name'] === 'hub-01' && i.state === 'running')!;
    // When the first victim starts shutting down, the hub dies too (a degradation chaos did not make).
    let injected = false;
    cloud.control.setEventSink((e) => {
      const d = e.detail as { state?: string; 'instance-id'?: string };
      if (injected || e['detail-type'] !== 'EC2 Instance State-change Notification' || d.state !== 'shutting-down' || d['instance-id'] === hub.instanceId) return;
      const victim = cloud.control.ec2.instance(d['instance-id']!);
      if (victim?.tags['fleet:fleet'] !== s.fleet) return;
      injected = true;
      setImmediate(() => cloud.control.ec2.terminate(hub.instanceId));
    });
    try {
      const r = await run(['chaos', '--unleash', '--yes', '--seed', '11', '--config', file, ...FAST]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.ok(injected);
      assert.match(r.stdout, /^ {2}stopped: 1 name unserved: hub-01 \(record points at .*\); role hub under its minimum: 0 converged, at least 1 required$/m);
      assert.match(r.stdout, /^ {2}(web|api)-0\d: rebuilt in \d+ s \(within 15 min 0 s\)$/m);
      assert.match(r.stderr, /chaos night failed: stopped by a stop condition/);
      const kills = journalKeys(cloud.control, s).filter((k) => /-kill-/.test(k) && k.endsWith('.json'));
      assert.equal(kills.length, 1, 'the second kill was never made');
    } finally {
      cloud.control.setEventSink(undefined);
    }
  });

  test('an outage fails the night closed before any kill: exit 0, the reason, nothing killed', async () => {
    const s: Shape = { fleet: 'outage', chaos: '  opt-out: [hub]\n' };
    const { config: file } = await setup(s);
    const api = cloud.control.ec2.instances().find((i) => i.tags['fleet:fleet'] === s.fleet && i.tags['fleet:name'] === 'api-02' && i.state === 'running')!;
    cloud.control.ec2.terminate(api.instanceId);
    const journal = journalKeys(cloud.control, s);
    const r = await run(['chaos', '--unleash', '--yes', '--seed', '5', '--config', file, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^chaos \(seed 5\): no kill: 1 name unserved: api-02 \(record points at/m);
    assert.deepEqual(journalKeys(cloud.control, s), journal, 'no journal entry');
  });

  test('--wait-for-controller: the controller leader rebuilds what the night killed; the night measures it', async () => {
    const s: Shape = { fleet: 'withctl', chaos: '  opt-out: [hub]\n  rebuild-budget: 10m\n', interval: '2s' };
    const { config: file, info } = await setup(s);
    const ctl = spawnFleet(['controller', '--config', file, ...FAST], { AWS_ENDPOINT_URL: cloud.endpoint, FLEET_LOCK_DIR: lockDir }, 120_000);
    try {
      await until('a controller leads', 30_000, () => /leader of fleet withctl/.test(ctl.out.stderr));
      const r = await run(['chaos', '--unleash', '--yes', '--wait-for-controller', '--seed', '8', '--config', file, ...FAST]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^chaos \(seed 8\): killed ([a-z]+-\d+) \(terminate\); all rebuilt within the budget of 10 min 0 s/);
      const name = /killed ([a-z]+-\d+)/.exec(r.stdout)![1]!;
      // The heal is the controller's: its replace entry (written once the old address is
      // drained, after the night saw the name served again) carries the leader's term.
      const bucket = `${s.fleet}-fleet-journal`;
      const entries = () =>
        cloud.control.s3
          .objects(bucket)
          .filter((o) => o.key.includes(`-replace-${name}-`))
          .map((o) => JSON.parse(cloud.control.s3.getObject(bucket, o.key)!.toString('utf8')) as { leader?: { pid: number } });
      const heal = await until('the controller journaled its heal', 30_000, () => entries().find((e) => e.leader !== undefined));
      assert.equal(heal.leader?.pid, ctl.pid);
      assertFleetInvariants(cloud.control, info);
    } finally {
      ctl.kill('SIGTERM');
      await ctl.done;
    }
  });

  test('kinds [spot-interruption]: the CLI interrupts through the local cloud\'s control endpoint; the name is rebuilt after the two-minute warning', async () => {
    const s: Shape = { fleet: 'spotcli', chaos: '  opt-out: [hub, api]\n  kinds: [spot-interruption]\n  rebuild-budget: 10m\n' };
    const { config: file, info } = await setup(s);
    const r = await run(['--json', 'chaos', '--unleash', '--yes', '--seed', '2', '--config', file, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as NightReport;
    assert.equal(report.kills.length, 1);
    const k = report.kills[0]!;
    assert.equal(k.kind, 'spot-interruption');
    assert.ok(cloud.control.events.some((e) => e['detail-type'] === 'EC2 Spot Instance Interruption Warning' && (e.detail as { 'instance-id': string })['instance-id'] === k.instanceId));
    assert.equal(cloud.control.ec2.instance(k.instanceId)?.state, 'terminated');
    assert.ok(k.timeToRebuiltMs! >= 120_000, 'served through the warning, rebuilt after the termination');
    assertFleetInvariants(cloud.control, info);
  });
});
