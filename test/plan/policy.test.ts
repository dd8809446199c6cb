/** The policy diff as a pure value, table-driven: local files with MD5s against listed objects with ETags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPolicyPush, policyCounts, policyTarget, type PolicyChange, type PolicyFile, type PolicyTarget } from '../../src/plan/policy.js';
import { InputError } from '../../src/errors.js';
import type { StoredObject } from '../../src/ports.js';
import { spec } from './fixtures.js';

const T: PolicyTarget = { bucket: 'pol', base: 'm/', location: 's3://pol/m/' };
const f = (rel: string, md5 = `md5-${rel}`): PolicyFile => ({ rel, md5 });
const o = (key: string, etag = `md5-${key.slice(2)}`): StoredObject => ({ key, etag, size: 1 });

const cases: { name: string; local: PolicyFile[]; remote: StoredObject[]; changes: PolicyChange[]; unchanged: number }[] = [
  {
    name: 'an empty location: every file added, in path order',
    local: [f('update.cf'), f('promises.cf'), f('services/web.cf')],
    remote: [],
    changes: [
      { op: 'add', key: 'm/promises.cf', file: 'promises.cf' },
      { op: 'add', key: 'm/services/web.cf', file: 'services/web.cf' },
      { op: 'add', key: 'm/update.cf', file: 'update.cf' },
    ],
    unchanged: 0,
  },
  {
    name: 'in sync: nothing to do',
    local: [f('promises.cf'), f('services/web.cf')],
    remote: [o('m/promises.cf'), o('m/services/web.cf')],
    changes: [],
    unchanged: 2,
  },
  {
    name: 'a changed file is updated (MD5 differs from the ETag); the others are unchanged',
    local: [f('promises.cf', 'new'), f('update.cf')],
    remote: [o('m/promises.cf', 'old'), o('m/update.cf')],
    changes: [{ op: 'update', key: 'm/promises.cf', file: 'promises.cf' }],
    unchanged: 1,
  },
  {
    name: 'objects whose file is gone are deleted, after every write',
    local: [f('b.cf'), f('z.cf')],
    remote: [o('m/a/gone.cf'), o('m/b.cf', 'stale'), o('m/y.cf')],
    changes: [
      { op: 'update', key: 'm/b.cf', file: 'b.cf' },
      { op: 'add', key: 'm/z.cf', file: 'z.cf' },
      { op: 'delete', key: 'm/a/gone.cf' },
      { op: 'delete', key: 'm/y.cf' },
    ],
    unchanged: 0,
  },
  {
    name: 'objects outside the prefix (a sibling prefix, the bucket root) are never touched',
    local: [f('keep.cf')],
    remote: [o('m/keep.cf'), { key: 'm-other/x.cf', etag: 'x', size: 1 }, { key: 'root.cf', etag: 'x', size: 1 }],
    changes: [],
    unchanged: 1,
  },
  {
    name: 'a multipart ETag (not an MD5) is uploaded again',
    local: [f('big.dat', '0123456789abcdef0123456789abcdef')],
    remote: [o('m/big.dat', '0123456789abcdef0123456789abcdef-3')],
    changes: [{ op: 'update', key: 'm/big.dat', file: 'big.dat' }],
    unchanged: 0,
  },
];

for (const c of cases) {
  test(`policy diff: ${c.name}`, () => {
    const plan = planPolicyPush(T, '/src/masterfiles', c.local, c.remote);
    assert.deepEqual(plan.changes, c.changes);
    assert.equal(plan.unchanged, c.unchanged);
    assert.deepEqual({ location: plan.location, bucket: plan.bucket, base: plan.base, dir: plan.dir }, { location: 's3://pol/m/', bucket: 'pol', base: 'm/', dir: '/src/masterfiles' });
    const n = policyCounts(plan);
    assert.equal(n.add + n.update + n.delete, c.changes.length);
    assert.equal(n.unchanged, c.unchanged);
  });
}

test('policy diff: an empty directory is refused (it would empty the location), exit 2', () => {
  assert.throws(
    () => planPolicyPush(T, '/src/empty', [], [o('m/promises.cf')]),
    (e: unknown) => e instanceof InputError && e.exitCode === 2 && e.message === '/src/empty holds no files; refusing to empty s3://pol/m/',
  );
});

const withPolicy = (policy: string): ReturnType<typeof spec> => spec(`policy: ${policy}\n`);

test('policy target: the prefix with its slash; no policy: and no prefix are refused with the reason, exit 2', () => {
  const cases: { policy?: string; want: PolicyTarget | RegExp }[] = [
    { policy: 's3://demo-policy/masterfiles', want: { bucket: 'demo-policy', base: 'masterfiles/', location: 's3://demo-policy/masterfiles/' } },
    { policy: 's3://demo-policy/fleet/masterfiles/', want: { bucket: 'demo-policy', base: 'fleet/masterfiles/', location: 's3://demo-policy/fleet/masterfiles/' } },
    { policy: 's3://demo-policy', want: /^policy: s3:\/\/demo-policy has no prefix; give one such as "policy: s3:\/\/demo-policy\/masterfiles"/ },
    { want: /^fleet\.yaml has no policy: location; add one such as "policy: s3:\/\// },
  ];
  for (const c of cases) {
    const s = c.policy === undefined ? spec() : withPolicy(c.policy);
    if (c.want instanceof RegExp) assert.throws(() => policyTarget(s, 'fleet.yaml'), (e: unknown) => e instanceof InputError && (c.want as RegExp).test(e.message), c.policy);
    else assert.deepEqual(policyTarget(s, 'fleet.yaml'), c.want);
  }
});
