/**
 * The upgrade flow (src/ops/upgrade.ts) without the CLI, against the local cloud: one name, a
 * whole role (rerun: nothing to do), and kill-first.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readJournal } from '../../src/ops/journal.js';
import { readUpgradePlan, upgradeFlow } from '../../src/ops/upgrade.js';
import { convergedFleet, instancesOf, records, startOpsCloud, type OpsCloud, type TestFleet } from './harness.js';

const LIVE = new Set(['pending', 'running']);

describe('ops: upgrade', () => {
  let oc: OpsCloud;
  before(async () => {
    oc = await startOpsCloud();
  });
  after(async () => oc.close());

  const converged = (fleet: string): Promise<TestFleet> => convergedFleet(oc, { fleet, api: 1 });
  const serving = (fleet: string, name: string) => {
    const ip = records(oc, `${fleet}.example.com`).get(name)?.[0];
    return instancesOf(oc, fleet).find((i) => i.privateIpAddress === ip && LIVE.has(i.state));
  };

  test('one name: the next generation in the new type beside the old, swapped, the TTL waited (the old one served), the old terminated', async () => {
    const f = await converged('uname');
    const old = serving('uname', 'web-02')!;
    const others = ['hub-01', 'web-01', 'web-03', 'api-01'].map((n) => [n, serving('uname', n)!.instanceId] as const);
    const deps = f.deps();
    const { plan, results } = await upgradeFlow(deps, { target: 'web-02', change: { instanceType: 't3a.medium' }, maxSurge: 1, maxUnavailable: 0 });
    assert.deepEqual(plan.steps.map((s) => [s.name, s.from.instanceId, s.generation]), [['web-02', old.instanceId, 2]]);
    assert.equal(results.length, 1);
    const r = results[0]!;
    assert.ok(r.ok, r.error);
    assert.equal(r.result!.type, 't3a.medium');
    assert.equal(r.result!.generation, 2);
    assert.deepEqual(r.result!.terminated, [old.instanceId]);
    assert.equal(r.result!.ttlWaited, true, 'the old instance still answered: resolvers get the TTL to move');
    assert.ok(r.result!.settleMs! >= f.spec.dns.ttl * 1000, `settled after ${r.result!.settleMs} ms (clock), at least the TTL`);
    const now = serving('uname', 'web-02')!;
    assert.equal(now.instanceId, r.result!.instanceId);
    assert.equal(now.instanceType, 't3a.medium');
    assert.equal(now.market, 'spot', 'what the upgrade does not change is kept');
    assert.match(oc.cloud.control.ec2.instance(old.instanceId)!.state, /^(shutting-down|terminated)$/);
    for (const [n, id] of others) assert.equal(serving('uname', n)!.instanceId, id, `${n} untouched`);
    const j = await readJournal(deps, { kind: 'replace' });
    assert.ok(j.some((e) => (e.body as Record<string, unknown>)['instanceId'] === now.instanceId && /^\d{10}$/.test(String((e.body as Record<string, unknown>)['fencingToken']))));
  });

  test('a role, two at a time; rerun: nothing to do', async () => {
    const f = await converged('urole');
    const before = new Map(['web-01', 'web-02', 'web-03'].map((n) => [n, serving('urole', n)!.instanceId]));
    const deps = f.deps();
    const { results } = await upgradeFlow(deps, { target: 'web', change: { instanceType: 't3a.medium' }, maxSurge: 2, maxUnavailable: 0 });
    assert.deepEqual(results.map((r) => [r.name, r.ok, r.result?.generation]), [['web-01', true, 2], ['web-02', true, 2], ['web-03', true, 2]]);
    for (const [n, id] of before) {
      const now = serving('urole', n)!;
      assert.notEqual(now.instanceId, id);
      assert.equal(now.instanceType, 't3a.medium');
      assert.ok(!LIVE.has(oc.cloud.control.ec2.instance(id)!.state), `${id} terminated`);
    }
    const again = await readUpgradePlan(deps, 'web', { instanceType: 't3a.medium' });
    assert.deepEqual(again.steps, []);
    assert.deepEqual(again.skipped.map((s) => s.name), ['web-01', 'web-02', 'web-03']);
    assert.ok(again.skipped.every((s) => s.reason.startsWith('already t3a.medium')));
    oc.cloud.control.resetCalls();
    const rerun = await upgradeFlow(deps, { target: 'web', change: { instanceType: 't3a.medium' }, maxSurge: 2, maxUnavailable: 0 });
    assert.deepEqual(rerun.results, []);
    assert.deepEqual(Object.keys(oc.cloud.control.calls()).filter((k) => !/:(Describe|List|Get|Head)/.test(k)), []);
  });

  test('kill-first (max surge 0): the old instance goes first, the name is rebuilt in the new shape without waiting the TTL', async () => {
    const f = await converged('ukill');
    const old = serving('ukill', 'web-03')!;
    const { results } = await upgradeFlow(f.deps(), { target: 'web-03', change: { market: 'on-demand' }, maxSurge: 0, maxUnavailable: 1 });
    const r = results[0]!;
    assert.ok(r.ok, r.error);
    assert.equal(r.result!.market, 'on-demand');
    assert.equal(r.result!.ttlWaited, false, 'nothing old could answer: INSYNC only');
    assert.deepEqual(r.result!.terminated, [], 'terminated before the launch, not after');
    assert.ok(!LIVE.has(oc.cloud.control.ec2.instance(old.instanceId)!.state));
    assert.equal(serving('ukill', 'web-03')!.market, 'on-demand');
  });

  test('bad input: a target that is neither a role nor a name, both limits 0', async () => {
    const f = await converged('ubad');
    await assert.rejects(upgradeFlow(f.deps(), { target: 'nope', change: { instanceType: 't3a.medium' }, maxSurge: 1, maxUnavailable: 0 }), /nope is neither a role of fleet ubad/);
    await assert.rejects(upgradeFlow(f.deps(), { target: 'web', change: { instanceType: 't3a.medium' }, maxSurge: 0, maxUnavailable: 0 }), /cannot both be 0/);
  });
});
