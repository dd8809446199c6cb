/**
 * The chaos night as an ops flow, without the CLI, against the in-process local cloud: a chaos
 * kill racing an operator's upgrade of the same name waits for the name's lock, then re-checks
 * the name as it is now and refuses (the instance it chose is gone); the spot-interruption kind
 * interrupts through the local cloud's port and the name heals.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { localCloudOps } from '../../src/cli/commands/rehearse.js';
import { runChaosNight } from '../../src/ops/chaos.js';
import { realTerminator } from '../../src/ops/kill.js';
import { spotInterruptionTerminator } from '../../src/ops/chaos-terminators.js';
import { reconcileOnce } from '../../src/ops/controller.js';
import { replaceName } from '../../src/ops/replace.js';
import { controlSpotInterrupter } from '../../src/sim/spot-port.js';
import { conventionOf, parseName } from '../../src/naming.js';
import type { OpsDeps } from '../../src/ops/context.js';
import type { LogEvent } from '../../src/ports.js';

function spec(fleet: string, chaos: string) {
  return parseConfig(
    `fleet: ${fleet}
region: us-east-1
dns: {zone: ${fleet}.example.com, ttl: 1}
hub: hub-01
journal: {bucket: ${fleet}-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
  web: {count: 3, type: t3.medium, market: spot}
  api: {count: 2, type: m5.large, alternatives: [m5.xlarge]}
chaos:
${chaos}`,
    'fleet.yaml',
  );
}

describe('the chaos night as an ops flow', () => {
  let cloud: LocalCloud;
  const dir = mkdtempSync(join(tmpdir(), 'fleet-chaos-ops-'));
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: 50, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
  });
  after(async () => {
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function wired(fleet: string, chaos: string, logs: LogEvent[] = []): Promise<{ ops: OpsDeps; close: () => Promise<void> }> {
    const w = await localCloudOps(spec(fleet, chaos), cloud, join(dir, fleet), (e) => logs.push(e));
    w.ops.pollMs = 200;
    for (let i = 0; i < 5 && (await reconcileOnce(w.ops)).plan.actions.length > 0; i++);
    return w;
  }

  const serving = (fleet: string, name: string) => cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === fleet && i.tags['fleet:name'] === name && i.state === 'running');

  test('a chaos kill racing an upgrade of the same name waits for the lock and re-checks', async () => {
    const logs: LogEvent[] = [];
    const { ops, close } = await wired('race', '  opt-out: [hub, web]\n', logs);
    try {
      // A seed whose victim is api-01 (leashed nights change nothing).
      let seed = 0;
      for (let s = 1; s < 50 && seed === 0; s++) if ((await runChaosNight(ops, { seed: s, who: 'probe' })).plan.victims[0]?.name === 'api-01') seed = s;
      assert.ok(seed > 0);
      const before = serving('race', 'api-01')[0]!;
      let upgraded: string | undefined;
      let upgrade: Promise<void> | undefined;
      const report = await runChaosNight(ops, {
        seed,
        terminators: { terminate: realTerminator },
        who: 'chaos test',
        // The operator's upgrade takes api-01's lock after the night planned, before it kills.
        afterPlan: async (plan) => {
          assert.equal(plan.victims[0]?.name, 'api-01');
          const lock = await ops.coord!.lock('api-01', { operation: 'upgrade' });
          upgrade = (async () => {
            try {
              const r = await replaceName(ops, {
                name: parseName('api-01', conventionOf(ops.spec)),
                role: ops.spec.roles.find((r) => r.name === 'api')!,
                generation: (before.tags['fleet:generation'] ? Number(before.tags['fleet:generation']) : 1) + 1,
                override: { instanceType: 'm5.xlarge' },
                strictType: true,
                replaces: { ip: before.privateIpAddress!, ttl: 1, instanceId: before.instanceId },
                retire: [],
                fencingToken: lock.fencingToken,
                guard: () => lock.assertHeld(),
              });
              upgraded = r.instanceId;
            } finally {
              await lock.release();
            }
          })();
        },
      });
      await upgrade;
      assert.ok(upgraded, 'the upgrade finished');
      assert.ok(logs.some((e) => e.event === 'lock-wait' && e['name'] === 'api-01'), 'the chaos kill waited for the lock');
      assert.deepEqual(report.kills, [], 'nothing killed');
      assert.deepEqual(report.refusedUnderLock, [{ name: 'api-01', reason: `not killing api-01: it is served by ${upgraded} now, not ${before.instanceId} (it changed since it was chosen)` }]);
      assert.deepEqual(serving('race', 'api-01').map((i) => [i.instanceId, i.instanceType]), [[upgraded, 'm5.xlarge']], 'the upgraded instance serves, untouched');
      const kills = (await ops.journal.list({ kind: 'kill' })).length;
      assert.equal(kills, 0, 'no chaos entry');
    } finally {
      await close();
    }
  });

  test('a spot interruption kill: warned through the local cloud, terminated two minutes later, rebuilt and measured', async () => {
    const { ops, close } = await wired('spotty', '  opt-out: [hub, api]\n  kinds: [spot-interruption]\n  rebuild-budget: 10m\n');
    try {
      const report = await runChaosNight(ops, { seed: 4, terminators: { 'spot-interruption': spotInterruptionTerminator(controlSpotInterrupter(cloud.control)) }, who: 'chaos test' });
      assert.equal(report.kills.length, 1, JSON.stringify(report.plan));
      const k = report.kills[0]!;
      assert.equal(k.kind, 'spot-interruption');
      assert.ok(cloud.control.events.some((e) => e['detail-type'] === 'EC2 Spot Instance Interruption Warning' && (e.detail as { 'instance-id': string })['instance-id'] === k.instanceId));
      assert.equal(k.withinBudget, true, k.state);
      assert.ok(k.timeToRebuiltMs! >= 120_000, `the instance served for the two minutes of the warning: ${k.timeToRebuiltMs}`);
      assert.ok(k.unservedMs < k.timeToRebuiltMs!, 'unserved only from the termination on');
      assert.equal(report.ok, true);
      const entries = await ops.journal.list({ kind: 'kill' });
      assert.equal(entries.length, 1);
      assert.equal((entries[0]!.body as { seed: number }).seed, 4);
      assert.equal((entries[0]!.outcome as { status: string }).status, 'killed');
      const proofs = await ops.journal.list({ kind: 'rebuilt' });
      assert.deepEqual(proofs.map((p) => { const b = p.body as { kill: string; status: string; withinBudget: boolean }; return [b.kill, b.status, b.withinBudget]; }), [[entries[0]!.key, 'rebuilt', true]]);
    } finally {
      await close();
    }
  });

  test('the inventory unreadable fails the night closed: no kill, the reason', async () => {
    const { ops, close } = await wired('blind', '  opt-out: [hub]\n');
    try {
      // Route 53 answers 500 to every listing for a while (the SDK's retries included).
      cloud.control.failNext('route53', 'ListResourceRecordSets', 20, 500);
      const report = await runChaosNight(ops, { seed: 1, terminators: { terminate: realTerminator }, who: 'chaos test' });
      assert.deepEqual(report.kills, []);
      assert.deepEqual(report.plan.victims, []);
      assert.equal(report.plan.stop.length, 1);
      assert.match(report.plan.stop[0]!, /^inventory unreadable: /);
      assert.equal((await ops.journal.list({ kind: 'kill' })).length, 0);
    } finally {
      cloud.control.faults.reset();
      await close();
    }
  });
});
