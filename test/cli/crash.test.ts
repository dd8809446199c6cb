/**
 * Crash safety: the real bin runs as a child process with FLEET_TEST_CRASH_AT=<step>:<name>,
 * which makes it SIGKILL itself when a replacement reaches that step (launched, converged,
 * swapped, insync, terminated). Then `fleet apply --yes` (orphan-grace 0s) must finish or undo
 * the cut-off work, and the cloud's own state must satisfy the fleet's invariants: every name
 * served by exactly one live converged instance tagged with it, no live tagged instance without
 * a record, generations never going down, a journal that tells no lie.
 *
 * The local cloud runs SPEED times faster than real time, in-process; the child reaches it
 * through AWS_ENDPOINT_URL and runs its waits on the same scale (--time-scale).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import type { InstanceView } from '../../src/sim/ec2/instances.js';
import { fleet, fleetProcess, writeConfig, type CliResult } from './helpers.js';
import { assertFleetInvariants, type FleetInfo, type FleetSnapshot } from './invariants.js';

const SPEED = 20;
const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
const STEPS = ['launched', 'converged', 'swapped', 'insync', 'terminated'] as const;
type Step = (typeof STEPS)[number];
const LIVE = new Set(['pending', 'running']);

function yaml(f: string, web = 3, ttl = 1): string {
  return `fleet: ${f}
region: us-east-1
dns:
  zone: ${f}.example.com
  ttl: ${ttl}
hub: hub-01
journal:
  bucket: ${f}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${web}
    type: t3.medium
    alternatives: [t3a.medium]
    market: spot
    on-demand-fallback: true
reconcile:
  orphan-grace: 0s
  converge-timeout: 5m
`;
}

function desired(web = 3): string[] {
  return ['hub-01', ...Array.from({ length: web }, (_, i) => `web-0${i + 1}`)];
}

interface JournalEntry {
  key: string;
  kind: string;
  name: string;
  at: string;
  operation: string;
  instanceId?: string;
  generation?: number;
  instanceIds?: string[];
  terminated?: string[];
}

describe('crash injection: the CLI dies at each step, the next apply finishes or undoes the work', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED });
  });
  after(async () => {
    await cloud.close();
  });

  const info = (f: string, previous?: FleetSnapshot): FleetInfo => ({ fleet: f, zone: `${f}.example.com`, names: desired(), ttl: 1, ...(previous ? { previous } : {}) });
  const instancesOf = (f: string, name?: string): InstanceView[] =>
    cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === f && (name === undefined || i.tags['fleet:name'] === name));
  const recordOf = (f: string, name: string): string[] | undefined =>
    cloud.control.route53.records(`${f}.example.com`).find((r) => r.type === 'A' && r.name === `${name}.${f}.example.com.`)?.values;

  /** The child process: the real bin, the local cloud through AWS_ENDPOINT_URL, crashing at `crashAt`. */
  const child = (args: string[], crashAt?: string): Promise<CliResult> =>
    fleetProcess([...args, ...FAST], { env: { AWS_ENDPOINT_URL: cloud.endpoint, ...(crashAt ? { FLEET_TEST_CRASH_AT: crashAt } : {}) }, timeoutMs: 60_000 });
  const apply = (config: string): Promise<CliResult> => fleet(['apply', '--yes', '--config', config, ...FAST], { endpoint: cloud.endpoint });

  const setup = async (f: string, ttl = 1): Promise<string> => {
    const config = writeConfig(yaml(f, 3, ttl));
    const r = await fleet(['init', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    return config;
  };

  const journal = (f: string): JournalEntry[] => {
    const objects = cloud.control.s3.objects(`${f}-fleet-journal`);
    // An entry's outcome sits beside it (`<key>.outcome`, src/ops/journal.ts): never without its entry.
    const keys = new Set(objects.map((o) => o.key));
    for (const o of objects) if (o.key.endsWith('.outcome')) assert.ok(keys.has(o.key.slice(0, -'.outcome'.length)), `${o.key}: its entry exists`);
    return objects.filter((o) => !o.key.endsWith('.outcome')).map((o) => {
      const text = cloud.control.s3.getObject(`${f}-fleet-journal`, o.key)!.toString('utf8');
      let body: JournalEntry;
      assert.doesNotThrow(() => (body = JSON.parse(text) as JournalEntry), `journal ${o.key} is JSON`);
      return { ...body!, key: o.key };
    });
  };

  /**
   * The journal tells no lie: every entry is well formed and under its fleet's prefix; a
   * `replace` entry names an instance tagged with that name and generation; a `collect` entry
   * names an instance that is no longer live; and no `replace` names `cutOff` (the launch of
   * the crashed operation, which died before its last step, unless an apply adopted it).
   */
  const assertJournal = (f: string, cutOff?: string): JournalEntry[] => {
    const entries = journal(f);
    const all = new Map(cloud.control.ec2.instances().map((i) => [i.instanceId, i]));
    for (const e of entries) {
      assert.match(e.key, new RegExp(`^journal/${f}/\\d{4}-\\d{2}-\\d{2}/.*-${e.kind}-.*-${e.operation}\\.json$`), `journal key ${e.key}`);
      assert.ok(['replace', 'collect', 'retire', 'kill'].includes(e.kind), `known kind: ${e.kind}`);
      assert.ok(Number.isFinite(Date.parse(e.at)), `${e.key}: at is a time`);
      if (e.kind === 'replace') {
        const i = all.get(e.instanceId!);
        assert.ok(i, `${e.key}: ${e.instanceId} exists`);
        assert.equal(i.tags['fleet:name'], e.name, `${e.key}: ${e.instanceId} is tagged ${e.name}`);
        assert.equal(Number(i.tags['fleet:generation']), e.generation, `${e.key}: generation`);
        assert.notEqual(e.instanceId, cutOff, `${e.key}: the crashed operation journals no completed replacement`);
      }
      if (e.kind === 'collect') assert.ok(!LIVE.has(all.get(e.instanceId!)?.state ?? 'terminated'), `${e.key}: ${e.instanceId} is not live`);
    }
    return entries;
  };

  describe('upgrade web-03, crashed at each step', () => {
    const f = 'crash-up';
    let config: string;
    before(async () => {
      config = await setup(f);
      const r = await apply(config);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assertFleetInvariants(cloud.control, info(f));
    });

    for (const step of STEPS) {
      test(`crash at ${step}`, async () => {
        const before = assertFleetInvariants(cloud.control, info(f));
        const old = before.served.get('web-03')!;
        const to = old.instanceType === 't3.medium' ? 't3a.medium' : 't3.medium';
        const known = new Set(instancesOf(f).map((i) => i.instanceId));

        const crashed = await child(['upgrade', 'web-03', '--type', to, '--yes', '--config', config], `${step}:web-03`);
        assert.match(crashed.stderr, new RegExp(`FLEET_TEST_CRASH_AT: crashing at ${step} of web-03`), crashed.stderr);
        assert.notEqual(crashed.code, 0);
        assert.doesNotMatch(crashed.stdout, /^done:/m, 'the upgrade never reported done');

        // What the crash left behind, step by step.
        const fresh = instancesOf(f, 'web-03').filter((i) => !known.has(i.instanceId));
        assert.equal(fresh.length, 1, 'the upgrade launched exactly one instance');
        const nu = fresh[0]!;
        assert.equal(Number(nu.tags['fleet:generation']), Math.max(...instancesOf(f, 'web-03').filter((i) => known.has(i.instanceId)).map((i) => Number(i.tags['fleet:generation']))) + 1);
        const swapped = step === 'swapped' || step === 'insync' || step === 'terminated';
        assert.deepEqual(recordOf(f, 'web-03'), [swapped ? nu.privateIpAddress : old.ip], `after a crash at ${step} the record points at the ${swapped ? 'new' : 'old'} instance`);
        assert.equal(LIVE.has(cloud.control.ec2.instance(old.instanceId)!.state), step !== 'terminated', `the old instance is ${step === 'terminated' ? 'terminating' : 'still live'}`);
        if (step !== 'launched') assert.ok(nu.tags['fleet:converged'], 'the new instance converged');

        // The next apply finishes or undoes the work.
        const healed = await apply(config);
        assert.equal(healed.code, 0, healed.stdout + healed.stderr);
        const after = assertFleetInvariants(cloud.control, info(f, before));
        const now = after.served.get('web-03')!;
        if (swapped) {
          assert.equal(now.instanceId, nu.instanceId, 'the swap stands: web-03 is served by the new instance');
          assert.equal(now.instanceType, to);
          assert.ok(now.generation > old.generation, 'the generation went up');
        } else {
          assert.equal(now.instanceId, old.instanceId, 'the swap never happened: the old instance still serves');
          assert.ok(!LIVE.has(cloud.control.ec2.instance(nu.instanceId)!.state), 'the cut-off launch was collected');
        }
        // Work left: the orphan (the new instance before the swap, the old one after it), nothing once terminated.
        const orphan = swapped ? old.instanceId : nu.instanceId;
        if (step === 'terminated') assert.match(healed.stdout, /converged: nothing to do/);
        else assert.match(healed.stdout, new RegExp(`terminate orphan ${orphan} `));
        for (const n of desired()) assert.equal(instancesOf(f, n).filter((i) => LIVE.has(i.state)).length, 1, `${n}: one live instance`);

        const entries = assertJournal(f, nu.instanceId);
        if (step !== 'terminated') assert.ok(entries.some((e) => e.kind === 'collect' && e.instanceId === orphan), 'the collection is journaled');
        // A second apply has nothing left to do.
        const again = await apply(config);
        assert.equal(again.code, 0);
        assert.match(again.stdout, /converged: nothing to do/);
      });
    }
  });

  describe('apply from empty, crashed at web-03', () => {
    for (const step of ['launched', 'converged', 'swapped'] as const) {
      test(`crash at ${step}: the next apply adopts the cut-off launch, never a second one`, async () => {
        const f = `crash-ap-${step}`;
        const config = await setup(f);
        const crashed = await child(['apply', '--yes', '--config', config], `${step}:web-03`);
        assert.match(crashed.stderr, new RegExp(`FLEET_TEST_CRASH_AT: crashing at ${step} of web-03`), crashed.stderr);
        const cut = instancesOf(f, 'web-03');
        assert.equal(cut.length, 1);
        assert.deepEqual(recordOf(f, 'web-03'), step === 'swapped' ? [cut[0]!.privateIpAddress] : undefined);

        const healed = await apply(config);
        assert.equal(healed.code, 0, healed.stdout + healed.stderr);
        const after = assertFleetInvariants(cloud.control, info(f));
        assert.equal(after.served.get('web-03')!.instanceId, cut[0]!.instanceId, 'the crashed launch now serves web-03');
        assert.equal(instancesOf(f, 'web-03').length, 1, 'never a second launch of web-03');
        if (step !== 'swapped') assert.match(healed.stdout, new RegExp(`adopt ${cut[0]!.instanceId} \\(${cut[0]!.privateIpAddress!.replace(/\./g, '\\.')}\\) as web-03, creating its record`));
        // The other names were in flight too when the process died: each is served by one instance.
        for (const n of desired()) assert.equal(instancesOf(f, n).length, 1, `${n}: launched once`);
        assertJournal(f);
      });
    }

    test('crash at launched while new instances are still invisible: the rerun launches with the same ClientToken and gets the same instance', async () => {
      const f = 'crash-ap-ec';
      const config = await setup(f);
      // An hour of invisibility (fixed per instance at launch): the rerun is sure to plan while
      // the launches are hidden, however long a busy machine takes to start it (a 60 s window
      // was 3 s of real time at this speed). Once the rerun has sent its RunInstances, the
      // test moves the clock past the window so that the rerun sees what it got back.
      const WINDOW = 3_600_000;
      cloud.control.setConsistencyWindow(WINDOW);
      try {
        const crashed = await child(['apply', '--yes', '--config', config], 'launched:web-03');
        assert.match(crashed.stderr, /crashing at launched of web-03/);
        const cut = instancesOf(f, 'web-03');
        assert.equal(cut.length, 1);
        assert.equal(cut[0]!.visible, false, 'the cut-off launch is not visible to DescribeInstances yet');

        const launches = (): number => cloud.control.calls()['ec2:RunInstances'] ?? 0;
        const sent = launches();
        let done = false;
        const rerun = apply(config).finally(() => {
          done = true;
        });
        while (!done && launches() === sent) await new Promise((r) => setTimeout(r, 10));
        cloud.control.setConsistencyWindow(0);
        cloud.control.clock.advance(WINDOW);
        const healed = await rerun;
        assert.equal(healed.code, 0, healed.stdout + healed.stderr);
        assert.match(healed.stdout, /launch web-03 generation 1, then create its record \(no record\)/, 'the rerun cannot see the launch, so it plans it again');
        assertFleetInvariants(cloud.control, info(f));
        assert.equal(instancesOf(f, 'web-03').length, 1, 'the same ClientToken returned the first launch');
        for (const n of desired()) assert.equal(instancesOf(f, n).length, 1, `${n}: launched once`);
      } finally {
        cloud.control.setConsistencyWindow(0);
      }
    });
  });

  test('crash right after the swap: the next apply still waits INSYNC and the TTL before it terminates the old instance', async () => {
    // Resolvers may hold the old address until the swap is INSYNC and the TTL has passed. The
    // old instance was launched long ago, so its age says nothing about when it stopped serving.
    const f = 'crash-drain';
    const ttl = 30;
    const config = await setup(f, ttl);
    assert.equal((await apply(config)).code, 0);
    const before = assertFleetInvariants(cloud.control, { ...info(f), ttl });
    const old = before.served.get('web-03')!;
    const sync = cloud.control.delays.dnsSyncMs;
    cloud.control.delays.dnsSyncMs = 20_000;
    try {
      const crashed = await child(['upgrade', 'web-03', '--type', 't3a.medium', '--yes', '--config', config], 'swapped:web-03');
      const crashedAt = cloud.control.clock.now();
      assert.match(crashed.stderr, /crashing at swapped of web-03/);
      assert.notDeepEqual(recordOf(f, 'web-03'), [old.ip], 'the record was swapped');

      let terminatedAt: number | undefined;
      const watch = setInterval(() => {
        if (terminatedAt === undefined && !LIVE.has(cloud.control.ec2.instance(old.instanceId)!.state)) terminatedAt = cloud.control.clock.now();
      }, 5);
      let healed: CliResult;
      try {
        healed = await apply(config);
      } finally {
        clearInterval(watch);
      }
      assert.equal(healed.code, 0, healed.stdout + healed.stderr);
      assert.match(healed.stdout, new RegExp(`terminate orphan ${old.instanceId} `));
      assert.ok(terminatedAt !== undefined, 'the old instance was terminated');
      const waited = terminatedAt - crashedAt;
      assert.ok(waited >= 20_000 + ttl * 1000, `the old instance was terminated ${Math.round(waited / 1000)} s (simulated) after the swap; the swap needs 20 s to be INSYNC, then the ${ttl} s TTL`);
      assertFleetInvariants(cloud.control, { ...info(f, before), ttl });
    } finally {
      cloud.control.delays.dnsSyncMs = sync;
    }
  });

  test('kill-first upgrade (--max-surge 0) crashed at launched: the old instance is gone, the next apply adopts the new one', async () => {
    const f = 'crash-kf';
    const config = await setup(f);
    assert.equal((await apply(config)).code, 0);
    const before = assertFleetInvariants(cloud.control, info(f));
    const old = before.served.get('web-02')!;
    const crashed = await child(['upgrade', 'web-02', '--type', 't3a.medium', '--max-surge', '0', '--yes', '--config', config], 'launched:web-02');
    assert.match(crashed.stderr, /crashing at launched of web-02/);
    assert.ok(!LIVE.has(cloud.control.ec2.instance(old.instanceId)!.state), 'kill-first: the old instance was terminated first');
    const cut = instancesOf(f, 'web-02').filter((i) => i.instanceId !== old.instanceId);
    assert.equal(cut.length, 1);
    const healed = await apply(config);
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    assert.match(healed.stdout, new RegExp(`adopt ${cut[0]!.instanceId} .* as web-02, swapping its record from ${old.ip.replace(/\./g, '\\.')}`));
    const after = assertFleetInvariants(cloud.control, info(f, before));
    assert.equal(after.served.get('web-02')!.instanceId, cut[0]!.instanceId);
    assert.equal(after.served.get('web-02')!.instanceType, 't3a.medium');
    assert.equal(instancesOf(f, 'web-02').length, 2, 'no third launch');
  });

  test('upgrade of a role with --max-surge 3, crashed when web-03 swapped: the other names, wherever they were, end served once', async () => {
    const f = 'crash-role';
    const config = await setup(f);
    assert.equal((await apply(config)).code, 0);
    const before = assertFleetInvariants(cloud.control, info(f));
    const crashed = await child(['upgrade', 'web', '--type', 't3a.medium', '--max-surge', '3', '--yes', '--config', config], 'swapped:web-03');
    assert.match(crashed.stderr, /crashing at swapped of web-03/);
    const healed = await apply(config);
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    const after = assertFleetInvariants(cloud.control, info(f, before));
    assert.equal(after.served.get('web-03')!.instanceType, 't3a.medium');
    for (const n of desired()) assert.equal(instancesOf(f, n).filter((i) => LIVE.has(i.state)).length, 1, `${n}: one live instance`);
    assertJournal(f);
    // Rerunning the upgrade finishes what the crash left undone, and only that.
    const rest = await fleet(['upgrade', 'web', '--type', 't3a.medium', '--max-surge', '3', '--yes', '--config', config, ...FAST], { endpoint: cloud.endpoint });
    assert.equal(rest.code, 0, rest.stdout + rest.stderr);
    const done = assertFleetInvariants(cloud.control, info(f, after));
    for (const n of ['web-01', 'web-02', 'web-03']) assert.equal(done.served.get(n)!.instanceType, 't3a.medium');
    assert.match(rest.stdout, /skip web-03: already t3a\.medium/);
  });
});
