/**
 * The kill flow (src/ops/kill.ts) without the CLI, against the in-process local cloud with the
 * real SDK: the leashed terminator changes nothing, the real one kills exactly the serving
 * instance with its journal entry before and its outcome after; a recheck or an instance that
 * changed refuses under the lock; a kill followed by reconcile heals without waiting the TTL.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { killName, leashedTerminator, realTerminator, type Terminator } from '../../src/ops/kill.js';
import { reconcileOnce } from '../../src/ops/controller.js';
import { readJournal } from '../../src/ops/journal.js';
import { LockTimeoutError } from '../../src/coord/index.js';
import { convergedFleet, instancesOf, records, startOpsCloud, type OpsCloud, type TestFleet } from './harness.js';

const LIVE = new Set(['pending', 'running']);

function mutating(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => !/:(Describe|List|Get|Head)/.test(k)));
}

describe('ops: kill', () => {
  let oc: OpsCloud;
  before(async () => {
    oc = await startOpsCloud();
  });
  after(async () => oc.close());

  /** A converged fleet, built by the reconcile flow. */
  const converged = (fleet: string, ttl = 1): Promise<TestFleet> => convergedFleet(oc, { fleet, ttl, api: 1 });
  const serving = (fleet: string, name: string) => {
    const ip = records(oc, `${fleet}.example.com`).get(name)![0]!;
    return instancesOf(oc, fleet).find((i) => i.privateIpAddress === ip && LIVE.has(i.state))!;
  };

  test('leashed: reports the instance it would kill, takes no lock, changes nothing, journals nothing', async () => {
    const f = await converged('kleash');
    const victim = serving('kleash', 'web-02');
    // Someone holds web-02: a leashed kill does not stand in line.
    const held = await f.deps().coord!.lock('web-02', { operation: 'test', deadlineMs: 0 });
    try {
      oc.cloud.control.resetCalls();
      const out = await killName(f.deps(), { name: 'web-02', terminator: leashedTerminator, who: 'test' });
      assert.equal(out.status, 'would-kill');
      assert.ok(out.status === 'would-kill');
      assert.equal(out.instanceId, victim.instanceId);
      assert.equal(out.ip, victim.privateIpAddress);
      assert.equal(out.type, 't3.medium');
      assert.equal(out.generation, 1);
      assert.equal(out.fencingToken, undefined, 'no lock taken');
      assert.equal(out.journalKey, undefined);
      assert.deepEqual(mutating(oc.cloud.control.calls()), {});
      assert.equal(oc.cloud.control.ec2.instance(victim.instanceId)!.state, 'running');
      assert.deepEqual(await readJournal(f.deps(), { kind: 'kill' }), []);
      // The real one must wait for the holder (here: not at all, so it fails naming the holder).
      await assert.rejects(killName(f.deps(), { name: 'web-02', terminator: realTerminator, who: 'test' }), LockTimeoutError);
      assert.equal(oc.cloud.control.ec2.instance(victim.instanceId)!.state, 'running');
    } finally {
      await held.release();
    }
  });

  test('real: kills exactly the serving instance through the limiter; journal entry before, outcome after; the record stays', async () => {
    const f = await converged('kreal');
    const victim = serving('kreal', 'web-02');
    const others = instancesOf(oc, 'kreal').filter((i) => i.instanceId !== victim.instanceId);
    const deps = f.deps();
    /** A terminator that records what the journal held when it acted, then kills for real. */
    let journaledBefore: string[] = [];
    const witnessing: Terminator = {
      kind: 'terminate',
      acts: true,
      terminate: async (d, v, why) => {
        journaledBefore = oc.cloud.control.s3.objects('kreal-fleet-journal').map((o) => o.key).filter((k) => k.includes('-kill-'));
        await realTerminator.terminate(d, v, why);
      },
    };
    oc.cloud.control.resetCalls();
    const out = await killName(deps, { name: 'web-02', terminator: witnessing, who: 'chaos', journal: { seed: 42, night: 'n1' } });
    assert.equal(out.status, 'killed');
    assert.ok(out.status === 'killed');
    assert.equal(out.instanceId, victim.instanceId);
    assert.match(out.fencingToken!, /^\d{10}$/);
    assert.ok(out.journalKey);
    assert.deepEqual(journaledBefore, [`journal/${out.journalKey}`], 'the entry exists before the terminator acts, without its outcome');
    assert.deepEqual(mutating(oc.cloud.control.calls()), { 'ec2:TerminateInstances': 1, 's3:PutObject': 2 });
    assert.match(oc.cloud.control.ec2.instance(victim.instanceId)!.state, /^(shutting-down|terminated)$/);
    for (const i of others) assert.equal(oc.cloud.control.ec2.instance(i.instanceId)!.state, 'running', `${i.tags['fleet:name']} untouched`);
    assert.deepEqual(records(oc, 'kreal.example.com').get('web-02'), [victim.privateIpAddress], 'the record stays');

    const entries = await readJournal(deps, { kind: 'kill' });
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.equal(e.key, out.journalKey);
    const body = e.body as Record<string, unknown>;
    assert.equal(body['kind'], 'kill');
    assert.equal(body['name'], 'web-02');
    assert.equal(body['instanceId'], victim.instanceId);
    assert.equal(body['who'], 'chaos');
    assert.equal(body['seed'], 42);
    assert.equal(body['night'], 'n1');
    assert.equal(body['fencingToken'], out.fencingToken);
    assert.equal(body['terminator'], 'terminate');
    const outcome = e.outcome as Record<string, unknown>;
    assert.equal(outcome['status'], 'killed');
    assert.equal(outcome['instanceId'], victim.instanceId);
    // Reading by time: nothing since after the kill; the kill since before it.
    assert.equal((await readJournal(deps, { kind: 'kill', since: new Date(Date.parse(out.at) + 1000) })).length, 0);
    assert.equal((await readJournal(deps, { kind: 'kill', since: new Date(Date.parse(out.at) - 60_000) })).length, 1);
    assert.equal((await readJournal(deps, { kind: 'replace' })).length, 5, 'one replace per name of the first apply (hub, 3 web, 1 api)');

    // Killing it again: nothing serves the name, nothing is done.
    oc.cloud.control.resetCalls();
    const again = await killName(deps, { name: 'web-02', terminator: realTerminator, who: 'test' });
    assert.equal(again.status, 'nothing');
    assert.ok(again.status === 'nothing');
    assert.match(again.reason, /^web-02 is not served by a live instance \(record points at .*\); nothing to kill$/);
    assert.deepEqual(mutating(oc.cloud.control.calls()), {});
  });

  test('recheck under the lock refuses with its reason; it sees the name as it is now and the lock', async () => {
    const f = await converged('krecheck');
    const victim = serving('krecheck', 'web-01');
    let seen: { instances: string[]; token: string | undefined } | undefined;
    oc.cloud.control.resetCalls();
    const out = await killName(f.deps(), {
      name: 'web-01',
      terminator: realTerminator,
      who: 'chaos',
      recheck: (now, lock) => {
        seen = { instances: now.instances.map((i) => i.id), token: lock?.fencingToken };
        return 'not killing web-01: role web at its minimum of 3 converged';
      },
    });
    assert.deepEqual(out, { status: 'refused', name: 'web-01', reason: 'not killing web-01: role web at its minimum of 3 converged' });
    assert.ok(seen!.instances.includes(victim.instanceId));
    assert.match(seen!.token!, /^\d{10}$/);
    assert.deepEqual(mutating(oc.cloud.control.calls()), {}, 'nothing killed, nothing journaled');
    assert.equal(oc.cloud.control.ec2.instance(victim.instanceId)!.state, 'running');
  });

  test('journalRequired: no journal entry, no kill (the chaos job\'s minimum-time guard reads the journal back)', async () => {
    const f = await converged('kjournal');
    const victim = serving('kjournal', 'web-01');
    // Every attempt of the entry's PutObject fails (the clients make 5 attempts; src/aws/clients.ts).
    oc.cloud.control.failNext('s3', 'PutObject', 5, 503);
    await assert.rejects(killName(f.deps(), { name: 'web-01', terminator: realTerminator, who: 'chaos', journalRequired: true }), /journal entry for web-01 not written/);
    assert.equal(instancesOf(oc, 'kjournal').find((i) => i.instanceId === victim.instanceId)?.state, 'running');
    assert.equal(oc.cloud.control.calls()['ec2:TerminateInstances'] ?? 0, 0);
    // Without the requirement (fleet kill) a failed entry is a warning and the kill goes on.
    oc.cloud.control.failNext('s3', 'PutObject', 5, 503);
    const out = await killName(f.deps(), { name: 'web-01', terminator: realTerminator, who: 'fleet kill' });
    assert.equal(out.status, 'killed');
  });

  test('expectInstanceId: refused when another instance serves the name now', async () => {
    const f = await converged('kexpect');
    const victim = serving('kexpect', 'web-03');
    oc.cloud.control.resetCalls();
    const out = await killName(f.deps(), { name: 'web-03', terminator: realTerminator, who: 'fleet kill', expectInstanceId: 'i-0123456789abcdef0' });
    assert.equal(out.status, 'refused');
    assert.ok(out.status === 'refused');
    assert.equal(out.reason, `not killing web-03: it is served by ${victim.instanceId} now, not i-0123456789abcdef0 (it changed since it was chosen)`);
    assert.deepEqual(mutating(oc.cloud.control.calls()), {});
    const ok = await killName(f.deps(), { name: 'web-03', terminator: realTerminator, who: 'fleet kill', expectInstanceId: victim.instanceId });
    assert.equal(ok.status, 'killed');
  });

  test('bad input: a name that is not the fleet\'s is an InputError, nothing read', async () => {
    const f = await converged('kbad');
    oc.cloud.control.resetCalls();
    await assert.rejects(killName(f.deps(), { name: 'web-09', terminator: realTerminator, who: 'test' }), /web-09 is not a name of fleet kbad/);
    await assert.rejects(killName(f.deps(), { name: 'db-01', terminator: leashedTerminator, who: 'test' }), /db-01 is not a name of fleet kbad/);
    await assert.rejects(killName(f.deps(), { name: 'web-01; rm -rf /', terminator: leashedTerminator, who: 'test' }), /invalid name/);
    assert.deepEqual(oc.cloud.control.calls(), {});
  });

  test('heal timing: kill + reconcile serves the name again without waiting the TTL (its old instance is gone)', async () => {
    // A TTL of 300 s: 15 s of real time at this speed if it were waited.
    const ttl = 300;
    const f = await converged('kheal', ttl);
    const deps = f.deps();
    const victim = serving('kheal', 'web-02');
    // The killed instance stays shutting-down (with its address) while the name heals: the
    // record still points at an instance, which can no longer answer.
    const shutdown = oc.cloud.control.delays.shutdownMs;
    oc.cloud.control.delays.shutdownMs = 3600_000;
    let plan, outcomes;
    try {
      const killed = await killName(deps, { name: 'web-02', terminator: realTerminator, who: 'test' });
      assert.equal(killed.status, 'killed');
      assert.equal(oc.cloud.control.ec2.instance(victim.instanceId)!.state, 'shutting-down');
      ({ plan, outcomes } = await reconcileOnce(deps));
    } finally {
      oc.cloud.control.delays.shutdownMs = shutdown;
    }
    assert.deepEqual(plan.actions.map((a) => [a.kind, 'name' in a ? a.name : undefined]), [['launch', 'web-02']]);
    const r = outcomes[0]!.result!;
    assert.ok(outcomes[0]!.ok, outcomes[0]!.error);
    assert.equal(r.generation, 2);
    assert.equal(r.ttlWaited, false, 'the old instance could no longer answer: no TTL wait');
    assert.ok(r.settleMs! < (ttl * 1000) / 2, `settled ${r.settleMs} ms (clock) after the swap, well under the ${ttl} s TTL`);
    assert.deepEqual(r.terminated, [], 'nothing left to terminate: the killed instance is going already');
    assert.ok(f.events.some((e) => e.event === 'no-ttl-wait' && e['name'] === 'web-02'), 'the old instance was considered, and found unable to answer');
    assert.notEqual(records(oc, 'kheal.example.com').get('web-02')![0], victim.privateIpAddress);
  });
});
