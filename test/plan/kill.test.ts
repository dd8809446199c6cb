/** The kill plan, table-driven: which instance a kill of a name terminates, or why none. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeKill, planKill, type KillPlan } from '../../src/plan/kill.js';
import { inst, rec } from './fixtures.js';

const served = inst('web-02', { id: 'i-0000000000000aaaa', ip: '10.0.9.2', type: 't3.medium', market: 'spot', az: 'us-east-1b' });
const other = inst('web-03', { id: 'i-0000000000000bbbb', ip: '10.0.9.3' });
const dead = inst('web-02', { id: 'i-0000000000000cccc', ip: '10.0.9.4', state: 'terminated' });
const stopped = inst('web-02', { id: 'i-0000000000000dddd', ip: '10.0.9.5', state: 'stopped' });
const spare = inst('web-02', { id: 'i-0000000000000eeee', ip: '10.0.9.6' }); // tagged with the name, not in the record

const CASES: { name: string; now: { records: ReturnType<typeof rec>[]; instances: typeof served[] }; expect?: string; want: Pick<KillPlan, 'kind'> & { victim?: string; reason?: RegExp } }[] = [
  { name: 'the serving instance', now: { records: [rec('web-02', served.privateIp!)], instances: [served, spare] }, want: { kind: 'kill', victim: served.id } },
  { name: 'no record', now: { records: [], instances: [served] }, want: { kind: 'nothing', reason: /^web-02 is not served by a live instance \(no record\); nothing to kill$/ } },
  { name: 'the record points at a terminated instance', now: { records: [rec('web-02', dead.privateIp!)], instances: [dead, spare] }, want: { kind: 'nothing', reason: /record points at 10\.0\.9\.4\); nothing to kill$/ } },
  { name: 'the record points at a stopped instance', now: { records: [rec('web-02', stopped.privateIp!)], instances: [stopped] }, want: { kind: 'nothing', reason: /nothing to kill$/ } },
  { name: 'the record points at no instance at all', now: { records: [rec('web-02', '10.0.99.99')], instances: [spare] }, want: { kind: 'nothing', reason: /record points at 10\.0\.99\.99\)/ } },
  {
    name: 'the record points at an instance tagged with another name',
    now: { records: [rec('web-02', other.privateIp!)], instances: [other] },
    want: { kind: 'refused', reason: new RegExp(`^not killing ${other.id}: the record of web-02 points at it, but it is tagged web-03; \`fleet apply\` repairs the record$`) },
  },
  { name: 'expected instance serves', now: { records: [rec('web-02', served.privateIp!)], instances: [served] }, expect: served.id, want: { kind: 'kill', victim: served.id } },
  {
    name: 'another instance serves than the one expected',
    now: { records: [rec('web-02', served.privateIp!)], instances: [served] },
    expect: 'i-0000000000000ffff',
    want: { kind: 'refused', reason: new RegExp(`^not killing web-02: it is served by ${served.id} now, not i-0000000000000ffff`) },
  },
  { name: 'nothing serves, whatever was expected', now: { records: [], instances: [] }, expect: served.id, want: { kind: 'nothing', reason: /nothing to kill/ } },
];

for (const c of CASES) {
  test(`planKill: ${c.name}`, () => {
    const plan = planKill('web-02', c.now, c.expect !== undefined ? { expectInstanceId: c.expect } : {});
    assert.equal(plan.kind, c.want.kind);
    assert.equal(plan.name, 'web-02');
    if (plan.kind === 'kill') {
      assert.equal(plan.victim.id, c.want.victim);
      assert.deepEqual(plan.record, { ttl: 60, values: [plan.victim.privateIp] });
    } else assert.match(plan.reason, c.want.reason!);
  });
}

test('describeKill: the line shown before confirming', () => {
  const plan = planKill('web-02', { records: [rec('web-02', served.privateIp!)], instances: [served] });
  assert.equal(describeKill(plan), `kill web-02: terminate ${served.id} (t3.medium spot us-east-1b, 10.0.9.2); the record stays and the next \`fleet apply\` rebuilds the name`);
  assert.equal(describeKill(planKill('web-02', { records: [], instances: [] })), 'web-02 is not served by a live instance (no record); nothing to kill');
});

test('planKill is a value: it does not change what it was given', () => {
  const now = { records: [rec('web-02', served.privateIp!)], instances: [served] };
  const before = JSON.stringify(now);
  const plan = planKill('web-02', now);
  assert.equal(JSON.stringify(now), before);
  assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan, 'serializable as it is (--json prints it)');
});
