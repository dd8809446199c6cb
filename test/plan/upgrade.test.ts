import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planUpgrade } from '../../src/plan/upgrade.js';
import { InputError } from '../../src/errors.js';
import { healthy, inst, spec } from './fixtures.js';

const ALL = ['hub-01', 'web-01', 'web-02', 'web-03'];

test('upgrade of a name: one step from the serving instance to the next generation', () => {
  const o = healthy(ALL);
  o.instances.push(inst('web-03', { state: 'terminated', generation: 6 }));
  const p = planUpgrade(spec(), o, 'web-03', { instanceType: 'm5.large' });
  assert.equal(p.steps.length, 1);
  const s = p.steps[0]!;
  assert.equal(s.name, 'web-03');
  assert.equal(s.from.instanceId, o.instances[3]!.id);
  assert.equal(s.generation, 7, 'above every generation seen, terminated ones included');
  assert.deepEqual(s.replaces, { ip: o.instances[3]!.privateIp, ttl: 60, instanceId: o.instances[3]!.id });
});

test('upgrade of a role: every name; names already in shape or not served are skipped with the reason', () => {
  const o = healthy(ALL);
  o.instances[1]!.type = 'm5.large';
  o.records.splice(3, 1); // web-03 has no record
  const p = planUpgrade(spec(), o, 'web', { instanceType: 'm5.large' });
  assert.deepEqual(p.steps.map((s) => s.name), ['web-02']);
  assert.deepEqual(p.skipped, [
    { name: 'web-01', reason: `already m5.large (${o.instances[1]!.id})` },
    { name: 'web-03', reason: 'it has no record; `fleet apply` creates it' },
  ]);
});

const BAD: [string, string, Record<string, string>, RegExp][] = [
  ['beyond the count', 'web-09', { instanceType: 'm5.large' }, /web-09 is not a name of fleet demo: role web has 3 names/],
  ['a role not in fleet.yaml', 'db-01', { instanceType: 'm5.large' }, /db-01: role db is not in fleet demo \(roles: hub, web\)/],
  ['an unknown role', 'db', { instanceType: 'm5.large' }, /db is neither a role of fleet demo \(roles: hub, web\) nor a name/],
  ['uppercase', 'WEB-03', { instanceType: 'm5.large' }, /names are lowercase/],
  ['another zone', 'web-03.other.example.com', { instanceType: 'm5.large' }, /not in zone prod\.example\.com/],
  ['a type the role does not allow', 'web-03', { instanceType: 'm5.xlarge' }, /instance type m5\.xlarge is not allowed for role web \(allowed: t3\.medium, t3a\.medium, m5\.large\)/],
  ['nothing to change', 'web-03', {}, /nothing to change: give --type, --market or --image/],
];

for (const [label, target, change, msg] of BAD) {
  test(`bad upgrade input: ${label}`, () => {
    assert.throws(
      () => planUpgrade(spec(), healthy(ALL), target, change),
      (err: unknown) => err instanceof InputError && err.exitCode === 2 && msg.test(err.message),
    );
  });
}
