import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReconcile, describeAction } from '../../src/plan/reconcile.js';
import type { Action } from '../../src/model.js';
import { NOW, healthy, inst, rec, spec } from './fixtures.js';

const ALL = ['hub-01', 'web-01', 'web-02', 'web-03'];
const GRACE = { orphanGraceMs: 15 * 60_000 };

function kinds(actions: Action[]): string[] {
  return actions.map((a) => `${a.kind}:${'name' in a && a.name ? a.name : 'instanceId' in a ? a.instanceId : ''}`);
}

test('a converged fleet plans nothing', () => {
  const plan = planReconcile(spec(), healthy(ALL), NOW, GRACE);
  assert.deepEqual(plan.actions, []);
  assert.deepEqual(plan.notes, []);
});

test('from empty: one launch of generation 1 per desired name, in role order', () => {
  const plan = planReconcile(spec(), { records: [], instances: [] }, NOW, GRACE);
  assert.deepEqual(kinds(plan.actions), ['launch:hub-01', 'launch:web-01', 'launch:web-02', 'launch:web-03']);
  for (const a of plan.actions) {
    assert.equal(a.kind, 'launch');
    if (a.kind === 'launch') {
      assert.equal(a.generation, 1);
      assert.equal(a.replaces, undefined);
    }
  }
});

test('a record pointing at a terminated instance: launch the next generation and swap from the dead address', () => {
  const o = healthy(ALL);
  const dead = o.instances[2]!; // web-02
  dead.state = 'terminated';
  dead.generation = 4;
  const plan = planReconcile(spec(), o, NOW, GRACE);
  assert.equal(plan.actions.length, 1);
  const a = plan.actions[0]!;
  assert.equal(a.kind, 'launch');
  if (a.kind !== 'launch') return;
  assert.equal(a.name, 'web-02');
  assert.equal(a.generation, 5, 'generations only go up');
  assert.deepEqual(a.replaces, { ip: dead.privateIp, ttl: 60, instanceId: dead.id });
  assert.match(describeAction(a), /launch web-02 generation 5, then swap its record from/);
});

test('a record pointing at an address nobody has, while the name\'s own instance lives: adopt it, swapping from that address', () => {
  const o = healthy(ALL);
  o.records[1] = rec('web-01', '10.9.9.9');
  const plan = planReconcile(spec(), o, NOW, GRACE);
  assert.equal(plan.actions.length, 1);
  const a = plan.actions[0]!;
  assert.ok(a.kind === 'adopt');
  if (a.kind !== 'adopt') return;
  assert.equal(a.instanceId, o.instances[1]!.id);
  assert.deepEqual(a.replaces, { ip: '10.9.9.9', ttl: 60 });
});

test('a record pointing at an address nobody has, and no instance of the name: launch, swapping from that address', () => {
  const o = healthy(ALL);
  o.instances.splice(1, 1);
  o.records[1] = rec('web-01', '10.9.9.9');
  const plan = planReconcile(spec(), o, NOW, GRACE);
  const a = plan.actions[0]!;
  assert.ok(a.kind === 'launch' && a.name === 'web-01');
  if (a.kind === 'launch') assert.deepEqual(a.replaces, { ip: '10.9.9.9', ttl: 60 });
});

test('crash between launch and DNS: a live instance tagged with the name and no record is adopted, not launched again', () => {
  const o = healthy(['hub-01', 'web-01', 'web-03']);
  const cut = inst('web-02', { ageMs: 30_000, generation: 1 });
  o.instances.push(cut);
  const plan = planReconcile(spec(), o, NOW, GRACE);
  assert.deepEqual(kinds(plan.actions), ['adopt:web-02']);
  const a = plan.actions[0]!;
  assert.ok(a.kind === 'adopt' && a.instanceId === cut.id && a.ip === cut.privateIp && a.replaces === undefined);
});

test('crash during an upgrade, before the swap: the new generation is an orphan; collected after the grace, noted before', () => {
  const o = healthy(ALL);
  const fresh = inst('web-03', { ageMs: 60_000, generation: 2 });
  o.instances.push(fresh);
  const young = planReconcile(spec(), o, NOW, GRACE);
  assert.deepEqual(young.actions, []);
  assert.match(young.notes.join('\n'), new RegExp(`${fresh.id} \\(tagged web-03, generation 2\\): no record points at it, but it is 60 s old \\(grace 900 s\\); left alone`));
  const old = planReconcile(spec(), o, NOW, { orphanGraceMs: 0 });
  assert.deepEqual(kinds(old.actions), [`collect:web-03`]);
  assert.ok(old.actions[0]!.kind === 'collect' && old.actions[0]!.instanceId === fresh.id);
});

test('crash during an upgrade, after the swap: the old generation is the orphan', () => {
  const o = healthy(ALL);
  const oldWeb3 = o.instances[3]!;
  const newWeb3 = inst('web-03', { generation: 2 });
  o.instances.push(newWeb3);
  o.records[3] = rec('web-03', newWeb3.privateIp!);
  const plan = planReconcile(spec(), o, NOW, { orphanGraceMs: 0 });
  assert.deepEqual(plan.actions.map((a) => a.kind === 'collect' && a.instanceId), [oldWeb3.id]);
});

test('a record pointing at an unconverged instance is left alone with a note', () => {
  const o = healthy(ALL);
  delete o.instances[1]!.converged;
  const plan = planReconcile(spec(), o, NOW, GRACE);
  assert.deepEqual(plan.actions, []);
  assert.match(plan.notes[0]!, /web-01: record points at .*, which has not reported convergence yet; left alone/);
});

test('a name no longer desired is retired: record first, then its instances', () => {
  const o = healthy([...ALL, 'web-04', 'db-01']);
  const plan = planReconcile(spec(), o, NOW, GRACE);
  assert.deepEqual(kinds(plan.actions), ['retire:web-04', 'retire:db-01']);
  const a = plan.actions[0]!;
  assert.ok(a.kind === 'retire');
  if (a.kind === 'retire') {
    assert.deepEqual(a.record, { ttl: 60, values: [o.instances[4]!.privateIp] });
    assert.deepEqual(a.instanceIds, [o.instances[4]!.id]);
  }
});

test('instances of other fleets are never touched', () => {
  const o = healthy(ALL);
  o.instances.push(inst('web-09', { fleet: 'other', ageMs: 86_400_000 }));
  const plan = planReconcile(spec(), o, NOW, { orphanGraceMs: 0 });
  assert.deepEqual(plan.actions, []);
});

test('a record pointing at a live instance of another name: launch for this name, never terminate the other', () => {
  const o = healthy(ALL);
  const web1 = o.instances[1]!;
  o.records[2] = rec('web-02', web1.privateIp!); // web-02 points at web-01's instance
  const plan = planReconcile(spec(), o, NOW, { orphanGraceMs: 0 });
  const launch = plan.actions.find((a) => a.kind === 'launch' || a.kind === 'adopt')!;
  assert.equal('name' in launch && launch.name, 'web-02');
  if (launch.kind === 'adopt' || launch.kind === 'launch') assert.equal(launch.replaces?.instanceId, undefined, 'web-01 is not ours to kill');
  assert.ok(!plan.actions.some((a) => a.kind === 'collect' && a.instanceId === web1.id));
});

test('a record with several values is not guessed at', () => {
  const o = healthy(ALL);
  o.records[1] = rec('web-01', [o.instances[1]!.privateIp!, '10.9.9.9']);
  const plan = planReconcile(spec(), o, NOW, GRACE);
  assert.deepEqual(plan.actions, []);
  assert.match(plan.notes.join('\n'), /web-01: record holds 2 values; fix it by hand/);
});

test('the plan is a pure function of its inputs', () => {
  const o = healthy(['hub-01']);
  const a = JSON.stringify(planReconcile(spec(), o, NOW, GRACE));
  const b = JSON.stringify(planReconcile(spec(), o, NOW, GRACE));
  assert.equal(a, b);
});
