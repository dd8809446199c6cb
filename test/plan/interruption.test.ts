/** classify (pure): event + the name as it is now -> one action. Table-driven. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, type SubjectEvent } from '../../src/plan/interruption.js';
import { DEFAULT_INTERRUPTION } from '../../src/plan/pools.js';
import type { Instance } from '../../src/model.js';
import { inst, NOW, rec, spec } from './fixtures.js';

const S = spec();
const T = NOW.toISOString();
const ev = (kind: SubjectEvent['kind'], instanceId: string, extra: Record<string, unknown> = {}): SubjectEvent =>
  ({ kind, id: 'e-1', time: T, region: 'us-east-1', instanceId, ...(kind === 'spot-warning' ? { action: 'terminate' } : {}), ...(kind === 'scheduled-change' ? { eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED' } : {}), ...extra }) as SubjectEvent;
const standby = (name: string, since: string, opts: Partial<Instance> & { ageMs?: number } = {}): Instance => {
  const i = inst(name, { generation: 2, ...opts });
  i.tags['fleet:standby'] = since;
  return i;
};
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

interface Case {
  name: string;
  event: (web: Instance) => SubjectEvent;
  /** Instances of web-03 besides the serving one. */
  others?: Instance[];
  subject?: (web: Instance) => Instance | undefined;
  /** Where the record points: 'self' (default), 'none', or an IP. */
  record?: 'self' | 'none' | string;
  want: string;
  match?: RegExp;
  check?: (a: ReturnType<typeof classify>, web: Instance, others: Instance[]) => void;
}

const cases: Case[] = [
  { name: 'warning for the serving instance: replace now, next generation', event: (w) => ev('spot-warning', w.id), want: 'replace-now', check: (a) => assert.equal((a as { generation: number }).generation, 2) },
  { name: 'warning with a converged standby: swap to it', event: (w) => ev('spot-warning', w.id), others: [standby('web-03', minutesAgo(5))], want: 'swap-to-standby', check: (a, _w, o) => assert.equal((a as { standbyId: string }).standbyId, o[0]!.id) },
  { name: 'warning with a standby still converging: replace now (generation above it)', event: (w) => ev('spot-warning', w.id), others: [standby('web-03', minutesAgo(1), { converged: '' })], want: 'replace-now', check: (a) => assert.equal((a as { generation: number }).generation, 3) },
  { name: 'warning for an instance already replaced: ignore', event: (w) => ev('spot-warning', w.id), record: '10.9.9.9', others: [inst('web-03', { ip: '10.9.9.9', generation: 2 })], want: 'ignore', match: /already served by/ },
  { name: 'warning, instance gone and still in the record: reconcile', event: (w) => ev('spot-warning', w.id), subject: (w) => ({ ...w, state: 'terminated' }), want: 'reconcile-name' },
  { name: 'warning long ago for a live instance: stale', event: (w) => ev('spot-warning', w.id, { time: minutesAgo(30) }), want: 'ignore', match: /stale/ },
  { name: 'not a fleet instance', event: (w) => ev('spot-warning', w.id), subject: (w) => ({ ...w, fleet: 'other' }), want: 'ignore', match: /not an instance of fleet demo/ },
  { name: 'unknown instance', event: (w) => ev('spot-warning', w.id), subject: () => undefined, want: 'ignore', match: /does not know/ },
  { name: 'a name fleet.yaml does not want', event: (w) => ev('spot-warning', w.id), subject: (w) => ({ ...w, name: 'web-09' }), want: 'ignore', match: /does not want/ },
  { name: 'rebalance: pre-warm a standby', event: (w) => ev('rebalance', w.id), want: 'prewarm-standby', check: (a) => assert.equal((a as { recommendedAt: string }).recommendedAt, T) },
  { name: 'rebalance with a standby converging: wait', event: (w) => ev('rebalance', w.id), others: [standby('web-03', minutesAgo(2), { converged: '' })], want: 'ignore', match: /converging/ },
  { name: 'rebalance redelivered, standby ready, recommendation young: wait for the warning', event: (w) => ev('rebalance', w.id), others: [standby('web-03', minutesAgo(5))], want: 'ignore', match: /waiting for the warning/ },
  { name: 'rebalance, standby ready, recommendation older than standby-max-age: swap', event: (w) => ev('rebalance', w.id), others: [standby('web-03', minutesAgo(25))], want: 'swap-to-standby' },
  { name: 'rebalance, the instance outlived the window: retire the standby', event: (w) => ev('rebalance', w.id), others: [standby('web-03', minutesAgo(61))], want: 'retire-standby' },
  { name: 'rebalance older than the window without a standby: ignore', event: (w) => ev('rebalance', w.id, { time: minutesAgo(90) }), want: 'ignore', match: /older than the standby window/ },
  { name: 'state change terminated of the serving instance: reconcile', event: (w) => ev('state-change', w.id, { state: 'terminated' }), subject: (w) => ({ ...w, state: 'terminated' }), want: 'reconcile-name' },
  { name: 'state change stopped: reconcile', event: (w) => ev('state-change', w.id, { state: 'stopped' }), subject: (w) => ({ ...w, state: 'stopped' }), want: 'reconcile-name' },
  {
    name: 'state change terminated, the address already gone from the description, the record dead: reconcile',
    event: (w) => ev('state-change', w.id, { state: 'terminated' }),
    subject: (w) => ({ ...w, state: 'terminated', privateIp: undefined }) as Instance,
    want: 'reconcile-name',
    match: /which no live instance has/,
  },
  {
    name: 'warning redelivered after the instance went, the record dead: reconcile',
    event: (w) => ev('spot-warning', w.id),
    subject: (w) => ({ ...w, state: 'terminated', privateIp: undefined }) as Instance,
    want: 'reconcile-name',
  },
  { name: 'state change running: nothing', event: (w) => ev('state-change', w.id, { state: 'running' }), want: 'ignore' },
  { name: 'state change of an instance nobody serves from: nothing', event: (w) => ev('state-change', w.id, { state: 'terminated' }), record: 'none', want: 'ignore', match: /has no record/ },
  { name: 'scheduled retirement: replace before the start', event: (w) => ev('scheduled-change', w.id, { startTime: '2026-11-28T00:00:00.000Z' }), want: 'replace-before', check: (a) => assert.equal((a as { startTime: string }).startTime, '2026-11-28T00:00:00.000Z') },
  { name: 'scheduled change, already replaced: nothing', event: (w) => ev('scheduled-change', w.id), record: '10.9.9.9', want: 'ignore' },
];

for (const c of cases) {
  test(`classify: ${c.name}`, () => {
    const web = inst('web-03', { market: 'spot' });
    const others = c.others ?? [];
    const subject = c.subject ? c.subject(web) : web;
    const record = c.record === 'none' ? undefined : rec('web-03', c.record === undefined || c.record === 'self' ? web.privateIp! : c.record);
    const a = classify({ spec: S, event: c.event(web), subject, name: { ...(record ? { record } : {}), instances: [subject ?? web, ...others] }, now: NOW, settings: DEFAULT_INTERRUPTION });
    assert.equal(a.kind, c.want, JSON.stringify(a));
    if (c.match) assert.match((a as { reason: string }).reason, c.match);
    c.check?.(a, web, others);
  });
}

test('classify: no standby for a role with a volume', () => {
  const vs = spec('  queue: {count: 1, type: m5.large, market: spot, volume: {size: 10, device: /dev/sdf, mount: /var/lib/queue}}');
  const q = inst('queue-01', { market: 'spot' });
  const a = classify({ spec: vs, event: ev('rebalance', q.id), subject: q, name: { record: rec('queue-01', q.privateIp!), instances: [q] }, now: NOW, settings: DEFAULT_INTERRUPTION });
  assert.equal(a.kind, 'ignore');
  assert.match((a as { reason: string }).reason, /has a volume; no standby/);
  const w = classify({ spec: vs, event: ev('spot-warning', q.id), subject: q, name: { record: rec('queue-01', q.privateIp!), instances: [q] }, now: NOW, settings: DEFAULT_INTERRUPTION });
  assert.equal(w.kind, 'replace-now');
});

// ---- reconcile knows standbys (src/plan/reconcile.ts)

import { planReconcile } from '../../src/plan/reconcile.js';
import { healthy } from './fixtures.js';

test('reconcile: a standby waiting out of DNS is no orphan while its window lasts, collected after it', () => {
  const o = healthy(['hub-01', 'web-01', 'web-02', 'web-03']);
  const young = standby('web-02', minutesAgo(10), { ageMs: 10 * 60_000 });
  const old = standby('web-03', minutesAgo(61), { ageMs: 61 * 60_000 });
  const plan = planReconcile(S, { records: o.records, instances: [...o.instances, young, old] }, NOW, { orphanGraceMs: 15 * 60_000 });
  assert.deepEqual(plan.actions.map((a) => [a.kind, 'instanceId' in a ? a.instanceId : undefined]), [['collect', old.id]]);
  assert.match(plan.actions[0]!.kind === 'collect' ? plan.actions[0]!.reason : '', /standby whose window ended/);
  assert.ok(plan.notes.some((n) => n.includes(young.id) && /standby for web-02, kept out of DNS until 2026-11-25T03:50:00.000Z/.test(n)), plan.notes.join('\n'));
  // The window comes from fleet.yaml.
  const wide = spec('interruption: {standby-window: 2h, standby-max-age: 2h}');
  assert.deepEqual(planReconcile(wide, { records: o.records, instances: [...o.instances, young, old] }, NOW, { orphanGraceMs: 15 * 60_000 }).actions, []);
});

test('reconcile: a name whose instance died adopts its converged standby rather than launching', () => {
  const o = healthy(['hub-01', 'web-01', 'web-02', 'web-03']);
  o.instances[2]!.state = 'terminated';
  const sb = standby('web-02', minutesAgo(5));
  const plan = planReconcile(S, { records: o.records, instances: [...o.instances, sb] }, NOW, { orphanGraceMs: 15 * 60_000 });
  assert.deepEqual(plan.actions.map((a) => [a.kind, 'name' in a ? a.name : '', a.kind === 'adopt' ? a.instanceId : '']), [['adopt', 'web-02', sb.id]]);
});

test('reconcile: a converged standby past standby-max-age is adopted (swap), the serving instance replaced', () => {
  const o = healthy(['hub-01', 'web-01', 'web-02', 'web-03']);
  const serving = o.instances[2]!;
  const due = standby('web-02', minutesAgo(25), { ageMs: 25 * 60_000 });
  const young = standby('web-03', minutesAgo(5), { ageMs: 5 * 60_000 });
  const plan = planReconcile(S, { records: o.records, instances: [...o.instances, due, young] }, NOW, { orphanGraceMs: 15 * 60_000 });
  assert.equal(plan.actions.length, 1, JSON.stringify(plan.actions));
  const a = plan.actions[0]!;
  assert.equal(a.kind, 'adopt');
  if (a.kind !== 'adopt') return;
  assert.equal(a.instanceId, due.id);
  assert.deepEqual(a.replaces, { ip: serving.privateIp, ttl: 60, instanceId: serving.id });
  assert.match(a.reason, /25 min old \(standby-max-age 20 min\)/);
  // Not yet due: nothing but a note.
  assert.deepEqual(planReconcile(S, { records: o.records, instances: [...o.instances, young] }, NOW, { orphanGraceMs: 15 * 60_000 }).actions, []);
});
