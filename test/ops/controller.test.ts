/**
 * One controller term (src/ops/controller.ts) without the CLI, against the local cloud: the
 * leader heals a dead name in one pass, journaling under the term's fencing token, on deps of
 * its own (the caller's are never written); a term whose leadership is lost acts on nothing.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LocalCoordinator, LockLostError, type LeaderTerm } from '../../src/coord/index.js';
import { controllerTerm, reconcileOnce } from '../../src/ops/controller.js';
import { readJournal } from '../../src/ops/journal.js';
import { instancesOf, prepareFleet, records, startOpsCloud, type OpsCloud } from './harness.js';

const LIVE = new Set(['pending', 'running']);

describe('ops: controller term', () => {
  let oc: OpsCloud;
  before(async () => {
    oc = await startOpsCloud();
  });
  after(async () => oc.close());

  const serving = (fleet: string, name: string) => {
    const ip = records(oc, `${fleet}.example.com`).get(name)?.[0];
    return instancesOf(oc, fleet).find((i) => i.privateIpAddress === ip && LIVE.has(i.state));
  };

  test('a term heals a killed name in one pass, journals with the leader\'s fencing token, and leaves the caller\'s deps as they were', async () => {
    const f = await prepareFleet(oc, { fleet: 'cterm', api: 1 });
    const deps = f.deps();
    assert.ok((await reconcileOnce(deps)).outcomes.every((o) => o.ok));
    const victim = serving('cterm', 'web-01')!;
    oc.cloud.control.ec2.terminate(victim.instanceId);

    const coord = new LocalCoordinator({ dir: join(oc.lockDir, 'cterm-leader') });
    const term = await coord.leader().campaign(undefined, { operation: 'controller' });
    const journalBefore = deps.journal;
    try {
      const stop = new AbortController();
      const result = await controllerTerm(deps, term, { stop: stop.signal, once: true });
      assert.deepEqual(result, { passes: 1, failures: 0, ended: 'once' });
    } finally {
      await term.resign();
      await coord.close();
    }
    const now = serving('cterm', 'web-01')!;
    assert.notEqual(now.instanceId, victim.instanceId);
    assert.equal(now.tags['fleet:generation'], '2');
    assert.equal(deps.guard, undefined, 'the caller\'s deps carry no term guard');
    assert.equal(deps.signal, undefined);
    assert.equal(deps.journal, journalBefore);
    const heal = (await readJournal(deps, { kind: 'replace' })).find((e) => (e.body as Record<string, unknown>)['instanceId'] === now.instanceId);
    assert.ok(heal, 'the heal is journaled');
    const leader = (heal.body as { leader?: { fencingToken: string; pid: number } }).leader;
    assert.equal(leader?.fencingToken, term.fencingToken);
    assert.equal(leader?.pid, process.pid);
  });

  test('a term whose leadership is lost acts on nothing', async () => {
    const f = await prepareFleet(oc, { fleet: 'clost', api: 1 });
    const lost = new AbortController();
    lost.abort(new LockLostError('leader', 'the session expired'));
    const term: LeaderTerm = {
      fencingToken: '0000000007',
      holder: { owner: 'x', host: 'elsewhere', pid: 1, operation: 'controller', since: new Date(0).toISOString() },
      lost: lost.signal,
      assertStillLeader: () => {
        throw lost.signal.reason;
      },
      resign: async () => {},
    };
    oc.cloud.control.resetCalls();
    const result = await controllerTerm(f.deps(), term, { stop: new AbortController().signal });
    assert.deepEqual(result, { passes: 0, failures: 0, ended: 'leadership-lost' });
    assert.deepEqual(Object.keys(oc.cloud.control.calls()).filter((k) => !/:(Describe|List|Get|Head)/.test(k)), []);
    assert.equal(instancesOf(oc, 'clost').length, 0);
    assert.ok(f.events.some((e) => e.event === 'leadership-lost'));
  });

  test('reconcileOnce with `only` plans and acts on those names alone', async () => {
    const f = await prepareFleet(oc, { fleet: 'conly', api: 1 });
    const { plan, outcomes } = await reconcileOnce(f.deps(), { only: ['web-02'] });
    assert.deepEqual(plan.actions.map((a) => [a.kind, 'name' in a ? a.name : undefined]), [['launch', 'web-02']]);
    assert.ok(outcomes[0]!.ok, outcomes[0]!.error);
    assert.deepEqual([...records(oc, 'conly.example.com').keys()], ['web-02']);
  });
});
