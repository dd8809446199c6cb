/** The init steps as a pure value, table-driven over what was observed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshCallerReference, initCallerReference, initChanges, planInit, type InitObserved, type InitPlan } from '../../src/plan/init.js';
import { spec } from './fixtures.js';

const ZONE_CREATE = { resource: 'hosted-zone', name: 'prod.example.com', action: 'create', callerReference: 'fleet-init/demo/prod.example.com', comment: 'fleet demo: the inventory of prod.example.com' } as const;
const ZONE_EXISTS = { resource: 'hosted-zone', name: 'prod.example.com', action: 'exists', id: 'Z0123456789ABCDEFGHIJ' } as const;
const bucket = (action: 'create' | 'exists', region = 'us-east-1') => ({ resource: 'bucket', name: 'demo-fleet-journal', action, region }) as const;

const cases: { name: string; observed: InitObserved; want: InitPlan; changes: boolean }[] = [
  {
    name: 'nothing there: create the zone, then the bucket',
    observed: { zone: undefined, bucket: 'no', region: 'us-east-1' },
    want: { fleet: 'demo', steps: [ZONE_CREATE, bucket('create')] },
    changes: true,
  },
  {
    name: 'both there: nothing to do',
    observed: { zone: { id: 'Z0123456789ABCDEFGHIJ' }, bucket: 'yes', region: 'us-east-1' },
    want: { fleet: 'demo', steps: [ZONE_EXISTS, bucket('exists')] },
    changes: false,
  },
  {
    name: 'zone there, bucket missing: the bucket in the observed region',
    observed: { zone: { id: 'Z0123456789ABCDEFGHIJ' }, bucket: 'no', region: 'eu-west-1' },
    want: { fleet: 'demo', steps: [ZONE_EXISTS, bucket('create', 'eu-west-1')] },
    changes: true,
  },
  {
    name: 'bucket there, zone missing: only the zone',
    observed: { zone: undefined, bucket: 'yes', region: 'us-east-1' },
    want: { fleet: 'demo', steps: [ZONE_CREATE, bucket('exists')] },
    changes: true,
  },
  {
    name: "the bucket is another account's: refused with the reason, nothing would change",
    observed: { zone: undefined, bucket: 'foreign', region: 'us-east-1' },
    want: {
      fleet: 'demo',
      steps: [ZONE_CREATE, bucket('create')],
      refusal: 'journal bucket demo-fleet-journal exists but this account may not use it (403); choose another journal.bucket in fleet.yaml',
    },
    changes: false,
  },
  {
    name: 'the bucket is in another region: refused, saying where it is and what to change',
    observed: { zone: { id: 'Z0123456789ABCDEFGHIJ' }, bucket: { elsewhere: 'eu-west-1' }, region: 'us-east-1' },
    want: {
      fleet: 'demo',
      steps: [ZONE_EXISTS, bucket('create')],
      refusal: 'journal bucket demo-fleet-journal exists in eu-west-1, not in us-east-1 where this fleet runs; set region: eu-west-1 in fleet.yaml or choose another journal.bucket',
    },
    changes: false,
  },
];

for (const c of cases) {
  test(`init plan: ${c.name}`, () => {
    const plan = planInit(spec(), c.observed);
    assert.deepEqual(plan, c.want);
    assert.equal(initChanges(plan), c.changes);
    assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan, 'the plan is plain data (--json prints it)');
  });
}

test('the caller reference is fixed per fleet and zone; a fresh one extends it with the given suffix', () => {
  assert.equal(initCallerReference('demo', 'prod.example.com'), 'fleet-init/demo/prod.example.com');
  assert.notEqual(initCallerReference('demo', 'prod.example.com'), initCallerReference('other', 'prod.example.com'));
  assert.equal(freshCallerReference('demo', 'prod.example.com', 'abc'), 'fleet-init/demo/prod.example.com/abc');
  // Route 53 takes at most 128 characters, with a fresh UUID suffix too: a long zone is spelled by its hash.
  const uuid = '00000000-0000-0000-0000-000000000000';
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example.com`;
  for (const zone of ['prod.example.com', long]) {
    assert.ok(freshCallerReference('f'.repeat(32), zone, uuid).length <= 128, zone);
    assert.equal(initCallerReference('f'.repeat(32), zone), initCallerReference('f'.repeat(32), zone), 'fixed');
  }
  assert.notEqual(initCallerReference('demo', long), initCallerReference('demo', long.replace('a', 'd')));
});
