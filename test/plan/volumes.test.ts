/** The planner and volumes that follow names (pure; table-driven). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReconcile, describeAction } from '../../src/plan/reconcile.js';
import { currentVolume } from '../../src/plan/volume.js';
import type { Instance, Volume } from '../../src/model.js';
import { NOW, healthy, inst, rec, spec } from './fixtures.js';

const GRACE = { orphanGraceMs: 15 * 60_000 };
const DB = '  db: {count: 1, type: m5.large, volume: {size: 10, device: /dev/sdf, mount: /srv/db}}\n';
const NAMES = ['hub-01', 'web-01', 'web-02', 'web-03', 'db-01'];

let n = 0;
function vol(name: string, opts: Partial<Volume> & { on?: Instance } = {}): Volume {
  n++;
  const v: Volume = {
    id: opts.id ?? `vol-${String(n).padStart(17, '0')}`,
    az: opts.az ?? opts.on?.az ?? 'us-east-1a',
    state: opts.state ?? (opts.on ? 'in-use' : 'available'),
    sizeGiB: 10,
    type: 'gp3',
    createTime: opts.createTime ?? new Date(NOW.getTime() - 86_400_000 + n * 1000).toISOString(),
    tags: { 'fleet:fleet': 'demo', 'fleet:volume-of': name, ...(opts.tags ?? {}) },
    fleet: opts.fleet ?? 'demo',
    name,
  };
  if (opts.on) v.attachment = { instanceId: opts.on.id, device: '/dev/sdf', state: 'attached' };
  else if (opts.attachment) v.attachment = opts.attachment;
  return v;
}

function served() {
  const o = healthy(NAMES);
  const db = o.instances.find((i) => i.name === 'db-01')!;
  return { o, db };
}

test('a served name with its volume attached: nothing to do; without volumes read, nothing either', () => {
  const { o, db } = served();
  assert.deepEqual(planReconcile(spec(DB), { ...o, volumes: [vol('db-01', { on: db })] }, NOW, GRACE).actions, []);
  assert.deepEqual(planReconcile(spec(DB), o, NOW, GRACE).actions, [], 'volumes not observed: the planner does not guess');
});

const cases: Array<{ name: string; volumes: (db: Instance) => Volume[]; expect: string | undefined; note?: RegExp }> = [
  { name: 'available in its AZ', volumes: () => [vol('db-01', { id: 'vol-a' })], expect: 'reattach vol-a to DB, which serves db-01 (its volume vol-a is available, not to DB, which serves it)' },
  {
    name: 'attached to a stopped instance',
    volumes: () => [vol('db-01', { id: 'vol-a', state: 'in-use', attachment: { instanceId: 'i-stopped', device: '/dev/sdf', state: 'attached' } })],
    expect: 'reattach vol-a to DB, which serves db-01 (stopping and detaching it from i-stopped first) (its volume vol-a is attached to i-stopped, not to DB, which serves it)',
  },
  { name: 'no volume at all', volumes: () => [], expect: 'create the volume of db-01 and attach it to DB (it has no volume; DB serves it)' },
  { name: 'in another AZ: a note, not an action', volumes: () => [vol('db-01', { id: 'vol-b', az: 'us-east-1b' })], expect: undefined, note: /db-01: its volume vol-b is in us-east-1b, i-\d+ serves it from us-east-1a; replace the name/ },
  { name: "another name's volume does not count", volumes: (db) => [vol('db-02', { on: db }), vol('db-01', { id: 'vol-a' })], expect: 'reattach vol-a to DB, which serves db-01 (its volume vol-a is available, not to DB, which serves it)' },
  { name: 'a deleting volume does not count', volumes: () => [vol('db-01', { id: 'vol-d', state: 'deleting' })], expect: 'create the volume of db-01 and attach it to DB (it has no volume; DB serves it)' },
];

for (const c of cases) {
  test(`a served name whose volume is not on its instance: ${c.name}`, () => {
    const { o, db } = served();
    const plan = planReconcile(spec(DB), { ...o, volumes: c.volumes(db) }, NOW, GRACE);
    const lines = plan.actions.map(describeAction).map((l) => l.replaceAll(db.id, 'DB'));
    assert.deepEqual(lines, c.expect === undefined ? [] : [c.expect]);
    for (const a of plan.actions) assert.equal(a.kind === 'reattach' && a.instanceId, db.id);
    if (c.note) assert.ok(plan.notes.some((x) => c.note!.test(x)), plan.notes.join('\n'));
  });
}

test('a copy serving, its source kept: a note', () => {
  const { o, db } = served();
  const src = vol('db-01', { id: 'vol-src', az: 'us-east-1b' });
  const copy = vol('db-01', { id: 'vol-copy', on: db, tags: { 'fleet:volume-from': 'vol-src' } });
  const plan = planReconcile(spec(DB), { ...o, volumes: [src, copy] }, NOW, GRACE);
  assert.deepEqual(plan.actions, []);
  assert.match(plan.notes.join('\n'), /db-01: vol-src \(us-east-1b\) is the volume vol-copy was copied from; it is kept/);
});

test('a launch or an adoption says where its volume is', () => {
  const o = healthy(NAMES.filter((x) => x !== 'db-01'));
  const dead = inst('db-01', { state: 'stopped' });
  o.instances.push(dead);
  o.records.push(rec('db-01', dead.privateIp!));
  const v = vol('db-01', { id: 'vol-a', state: 'in-use', attachment: { instanceId: dead.id, device: '/dev/sdf', state: 'attached' } });
  const launch = planReconcile(spec(DB), { ...o, volumes: [v] }, NOW, GRACE).actions;
  assert.equal(launch.length, 1);
  assert.equal(launch[0]!.kind, 'launch');
  assert.deepEqual(launch[0]!.kind === 'launch' && launch[0]!.volume, { volumeId: 'vol-a', az: 'us-east-1a', state: 'in-use', attachedTo: dead.id });
  assert.match(describeAction(launch[0]!), new RegExp(`its volume vol-a \\(us-east-1a, attached to ${dead.id}\\) follows it\\)$`));

  // The new instance of a cut-off replacement: adopted, with the volume of its AZ.
  const fresh = inst('db-01', { generation: 2, az: 'us-east-1b' });
  const copy = vol('db-01', { id: 'vol-b', az: 'us-east-1b', tags: { 'fleet:volume-from': 'vol-a' } });
  const adopt = planReconcile(spec(DB), { records: o.records, instances: [...o.instances, fresh], volumes: [v, copy] }, NOW, GRACE).actions;
  assert.equal(adopt[0]!.kind, 'adopt');
  assert.equal(adopt[0]!.kind === 'adopt' && adopt[0]!.volume?.volumeId, 'vol-b');
  // Roles without a volume carry no volume note.
  const web = planReconcile(spec(DB), { records: o.records.filter((r) => !r.name.startsWith('web-01')), instances: o.instances, volumes: [v] }, NOW, GRACE).actions;
  assert.ok(web.every((a) => !('volume' in a) || a.volume === undefined || ('name' in a && a.name === 'db-01')));
});

test('currentVolume: attached to the serving instance, else in the AZ (the newest), else the original', () => {
  const a = vol('x-01', { id: 'vol-a', az: 'us-east-1a' });
  const b = vol('x-01', { id: 'vol-b', az: 'us-east-1b', tags: { 'fleet:volume-from': 'vol-a' } });
  const serving = inst('x-01', { az: 'us-east-1b' });
  const on = vol('x-01', { id: 'vol-c', on: serving, az: 'us-east-1c' });
  assert.equal(currentVolume([]), undefined);
  assert.equal(currentVolume([a, b, on], serving.id)?.id, 'vol-c');
  assert.equal(currentVolume([a, b], serving.id, 'us-east-1b')?.id, 'vol-b');
  assert.equal(currentVolume([a, b], undefined, 'us-east-1c')?.id, 'vol-a', 'no volume in that AZ: the original');
  assert.equal(currentVolume([a, b])?.id, 'vol-a', 'the copy is not the original');
});

test('a stopped instance of a role with a volume that no record points at is collected; one the record points at, or of another role, is not', () => {
  const { o, db } = served();
  const old = inst('db-01', { state: 'stopped', generation: 0 });
  const web = inst('web-02', { state: 'stopped', generation: 0 });
  const plan = planReconcile(spec(DB), { records: o.records, instances: [...o.instances, old, web], volumes: [vol('db-01', { on: db })] }, NOW, GRACE);
  assert.deepEqual(plan.actions.map((a) => [a.kind, 'instanceId' in a ? a.instanceId : '']), [['collect', old.id]]);
  // Pointed at (a volume move between its stop and its swap): left alone; the name is repaired instead.
  const mid = planReconcile(spec(DB), { records: [...o.records.filter((r) => !r.name.startsWith('db-01')), rec('db-01', old.privateIp!)], instances: [...o.instances, old], volumes: [vol('db-01', { on: db })] }, NOW, GRACE);
  assert.ok(!mid.actions.some((a) => a.kind === 'collect' && a.instanceId === old.id));
  // Volumes not observed: no stopped instance is touched.
  assert.deepEqual(planReconcile(spec(DB), { records: o.records, instances: [...o.instances, old] }, NOW, GRACE).actions, []);
});
