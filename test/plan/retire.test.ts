/** The retire plan, table-driven: what a retirement deletes, terminates, leaves alone and keeps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conventionOf, parseName } from '../../src/naming.js';
import { describeRetire, planRetire, stateLocation, type RetireInput } from '../../src/plan/retire.js';
import type { Volume } from '../../src/model.js';
import { inst, rec, spec } from './fixtures.js';

const S = spec(`  ci: {count: 2, type: t3.small, state: {s3: "s3://demo-state/ci"}}
  db: {count: 1, type: m5.large, volume: {size: 20, type: gp3, device: /dev/sdf, mount: /data}}
`);
const conv = conventionOf(S);
const name = (n: string) => parseName(n, conv);

const a = inst('web-02', { id: 'i-00000000000000a01', ip: '10.0.8.1' });
const spare = inst('web-02', { id: 'i-00000000000000a02', ip: '10.0.8.2', state: 'pending' });
const gone = inst('web-02', { id: 'i-00000000000000a03', ip: '10.0.8.3', state: 'terminated' });
const stranger = inst('web-03', { id: 'i-00000000000000a04', ip: '10.0.8.4' });
const vol: Volume = { id: 'vol-0000000000000db01', az: 'us-east-1a', state: 'in-use', sizeGiB: 20, type: 'gp3', createTime: '2026-11-25T01:00:00Z', tags: {}, fleet: 'demo', name: 'db-01' };

const CASES: { title: string; name: string; now: RetireInput; deleteState?: boolean; want: { record: boolean; ids: string[]; strangers?: string[]; nothing?: RegExp; state?: { objects: number; delete: boolean } | null; volumes?: string[]; stillDesired: boolean } }[] = [
  { title: 'record and the instances tagged with the name (live ones)', name: 'web-02', now: { records: [rec('web-02', a.privateIp!)], instances: [a, spare, gone] }, want: { record: true, ids: [a.id, spare.id], stillDesired: true } },
  { title: 'an instance of another name the record points at is left alone', name: 'web-02', now: { records: [rec('web-02', stranger.privateIp!)], instances: [stranger] }, want: { record: true, ids: [], strangers: [stranger.id], stillDesired: true } },
  { title: 'no record, a live instance: terminate it', name: 'web-02', now: { records: [], instances: [a] }, want: { record: false, ids: [a.id], stillDesired: true } },
  { title: 'no record, only a dead instance: nothing', name: 'web-02', now: { records: [], instances: [gone] }, want: { record: false, ids: [], nothing: /^web-02 has no record and no live instance; nothing to retire$/, stillDesired: true } },
  { title: 'a name no longer desired', name: 'web-07', now: { records: [rec('web-07', '10.0.8.9')], instances: [] }, want: { record: true, ids: [], stillDesired: false } },
  { title: 'state kept by default, counted', name: 'ci-02', now: { records: [], instances: [inst('ci-02', { id: 'i-00000000000000c02' })], stateKeys: ['ci/ci-02/a', 'ci/ci-02/b'] }, want: { record: false, ids: ['i-00000000000000c02'], state: { objects: 2, delete: false }, stillDesired: true } },
  { title: '--delete-state with nothing else left still has work', name: 'ci-02', now: { records: [], instances: [], stateKeys: ['ci/ci-02/a'] }, deleteState: true, want: { record: false, ids: [], state: { objects: 1, delete: true }, stillDesired: true } },
  { title: 'state empty and nothing else: nothing, saying what the state holds', name: 'ci-01', now: { records: [], instances: [], stateKeys: [] }, deleteState: true, want: { record: false, ids: [], nothing: /^ci-01 has no record and no live instance \(its state s3:\/\/demo-state\/ci\/ci-01\/ holds 0 objects\); nothing to retire$/, state: { objects: 0, delete: true }, stillDesired: true } },
  { title: 'volumes are kept', name: 'db-01', now: { records: [rec('db-01', '10.0.8.7')], instances: [], volumes: [vol] }, want: { record: true, ids: [], volumes: [vol.id], stillDesired: true } },
];

for (const c of CASES) {
  test(`planRetire: ${c.title}`, () => {
    const p = planRetire(S, name(c.name), c.now, c.deleteState ? { deleteState: true } : {});
    assert.equal(p.name, c.name);
    assert.equal(p.record !== null, c.want.record);
    assert.deepEqual(p.instanceIds, c.want.ids);
    assert.deepEqual(p.strangers.map((x) => x.id), c.want.strangers ?? []);
    assert.deepEqual(p.volumesKept.map((v) => v.id), c.want.volumes ?? []);
    assert.equal(p.stillDesired, c.want.stillDesired);
    if (c.want.nothing) assert.match(p.nothing!, c.want.nothing);
    else assert.equal(p.nothing, undefined);
    if (c.want.state !== undefined) assert.deepEqual(p.state && { objects: p.state.objects, delete: p.state.delete }, c.want.state);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p, 'a plain value');
  });
}

test('stateLocation: only for a role with state.s3', () => {
  assert.deepEqual(stateLocation(S, 'ci-02'), { bucket: 'demo-state', prefix: 'ci/ci-02/', url: 's3://demo-state/ci/ci-02/' });
  assert.equal(stateLocation(S, 'web-01'), undefined);
  assert.equal(stateLocation(S, 'nope-01'), undefined);
});

test('describeRetire: the lines shown before confirming', () => {
  const p = planRetire(S, name('web-02'), { records: [rec('web-02', stranger.privateIp!)], instances: [stranger, a] });
  assert.deepEqual(describeRetire(p), [
    `delete the record web-02.prod.example.com A ${stranger.privateIp} (TTL 60 s), wait until INSYNC and the TTL`,
    `terminate ${a.id} (t3.medium running, ${a.privateIp})`,
    `leave ${stranger.id} alone: the record pointed at it, but it is tagged web-03`,
    "note: web-02 is still in fleet.yaml (role web): the next `fleet apply` launches it again; lower the role's count first to retire it for good",
  ]);
  const q = planRetire(S, name('ci-02'), { records: [rec('ci-02', '10.0.8.8')], instances: [], stateKeys: ['k'] }, { deleteState: true });
  assert.deepEqual(describeRetire(q), [
    'delete the record ci-02.prod.example.com A 10.0.8.8 (TTL 60 s), wait until INSYNC',
    'terminate nothing (no live instance tagged with the name)',
    'DELETE the 1 object of its state s3://demo-state/ci/ci-02/ once its instances are gone',
    "note: ci-02 is still in fleet.yaml (role ci): the next `fleet apply` launches it again; lower the role's count first to retire it for good",
  ]);
});
