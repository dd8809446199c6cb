/**
 * The retire flow (src/ops/retire.ts) without the CLI, against the local cloud: the same
 * implementation retires a name asked for by name (`fleet retire`'s flow) and a name fleet.yaml
 * no longer wants (apply's retire action, through reconcileOnce).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { reconcileOnce } from '../../src/ops/controller.js';
import { readJournal } from '../../src/ops/journal.js';
import { retireName } from '../../src/ops/retire.js';
import { convergedFleet, fleetText, instancesOf, records, startOpsCloud, type OpsCloud, type TestFleet } from './harness.js';

const LIVE = new Set(['pending', 'running']);

describe('ops: retire', () => {
  let oc: OpsCloud;
  before(async () => {
    oc = await startOpsCloud();
  });
  after(async () => oc.close());

  const converged = (fleet: string): Promise<TestFleet> => convergedFleet(oc, { fleet, api: 1 });
  const liveOf = (fleet: string, name: string) => instancesOf(oc, fleet).filter((i) => i.tags['fleet:name'] === name && LIVE.has(i.state));

  /** While `op` runs, the record must never point at an instance that is no longer live. */
  async function recordFirst<T>(fleet: string, name: string, id: string, op: () => Promise<T>): Promise<{ result: T; violations: number }> {
    let violations = 0;
    const timer = setInterval(() => {
      const rec = records(oc, `${fleet}.example.com`).get(name);
      if (rec && !LIVE.has(oc.cloud.control.ec2.instance(id)!.state)) violations++;
    }, 2);
    try {
      return { result: await op(), violations };
    } finally {
      clearInterval(timer);
    }
  }

  test('retireName: record first, then the instance tagged with the name; under the lock, journaled; a second retire finds nothing', async () => {
    const f = await converged('rname');
    const victim = liveOf('rname', 'web-03')[0]!;
    const before = new Map(instancesOf(oc, 'rname').map((i) => [i.instanceId, i.state]));
    const deps = f.deps();
    const { result: out, violations } = await recordFirst('rname', 'web-03', victim.instanceId, () => retireName(deps, { name: 'web-03', who: 'test' }));
    assert.equal(violations, 0, 'the instance went only after the record');
    assert.equal(out.status, 'retired');
    assert.ok(out.status === 'retired');
    assert.equal(out.recordDeleted, true);
    assert.deepEqual(out.terminated, [victim.instanceId]);
    assert.match(out.fencingToken!, /^\d{10}$/);
    assert.equal(out.plan.stillDesired, true, 'web-03 is still in fleet.yaml: the plan says the next apply brings it back');
    assert.equal(records(oc, 'rname.example.com').get('web-03'), undefined);
    assert.match(oc.cloud.control.ec2.instance(victim.instanceId)!.state, /^(shutting-down|terminated)$/);
    for (const [id, state] of before) if (id !== victim.instanceId) assert.equal(oc.cloud.control.ec2.instance(id)!.state, state, `${id} untouched`);
    const j = await readJournal(deps, { kind: 'retire' });
    assert.equal(j.length, 1);
    const body = j[0]!.body as Record<string, unknown>;
    assert.deepEqual(body['instanceIds'], [victim.instanceId]);
    assert.equal(body['who'], 'test');
    assert.equal(body['fencingToken'], out.fencingToken);

    oc.cloud.control.resetCalls();
    const again = await retireName(deps, { name: 'web-03' });
    assert.equal(again.status, 'nothing');
    assert.ok(again.status === 'nothing');
    assert.match(again.reason, /^web-03 has no record and no live instance; nothing to retire$/);
    assert.deepEqual(Object.keys(oc.cloud.control.calls()).filter((k) => !/:(Describe|List|Get|Head)/.test(k)), []);
  });

  test('apply retires the names fleet.yaml no longer wants through the same flow', async () => {
    const f = await converged('rapply');
    const gone = liveOf('rapply', 'web-03')[0]!;
    const kept = new Map(instancesOf(oc, 'rapply').filter((i) => i.instanceId !== gone.instanceId).map((i) => [i.instanceId, i.state]));
    const small = parseConfig(fleetText({ fleet: 'rapply', api: 1, web: 2 }), f.config);
    const deps = f.deps({ spec: small });
    const { result, violations } = await recordFirst('rapply', 'web-03', gone.instanceId, () => reconcileOnce(deps));
    assert.equal(violations, 0);
    assert.deepEqual(result.plan.actions.map((a) => [a.kind, 'name' in a ? a.name : undefined]), [['retire', 'web-03']]);
    assert.ok(result.outcomes.every((o) => o.ok), JSON.stringify(result.outcomes));
    assert.equal(records(oc, 'rapply.example.com').get('web-03'), undefined);
    assert.match(oc.cloud.control.ec2.instance(gone.instanceId)!.state, /^(shutting-down|terminated)$/);
    for (const [id, state] of kept) assert.equal(oc.cloud.control.ec2.instance(id)!.state, state, `${id} untouched`);
    const j = await readJournal(deps, { kind: 'retire' });
    assert.equal(j.length, 1);
    assert.equal((j[0]!.body as Record<string, unknown>)['who'], 'apply');
    assert.equal((j[0]!.body as Record<string, unknown>)['stillDesired'], false);
    // Converged for the smaller fleet: nothing more to do.
    assert.deepEqual((await reconcileOnce(deps)).plan.actions, []);
  });
});
