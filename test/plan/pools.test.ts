/** Pool memory (pure): avoided pools, roles forced on-demand, the order launches try shapes in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avoidedPools, DEFAULT_INTERRUPTION, onDemandRoles, orderByMemory, type PoolInterruption } from '../../src/plan/pools.js';
import { NOW } from './fixtures.js';

const ago = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const S = { ...DEFAULT_INTERRUPTION, avoidPoolMs: 30 * 60_000, onDemandAfter: 3 };

test('avoidedPools: a pool interrupted within N minutes, until its latest interruption + N', () => {
  const recs: PoolInterruption[] = [
    { instanceType: 't3.medium', az: 'us-east-1a', at: ago(20), role: 'web' },
    { instanceType: 't3.medium', az: 'us-east-1a', at: ago(5), role: 'web' },
    { instanceType: 'm5.large', az: 'us-east-1b', at: ago(31), role: 'web' },
    { instanceType: 't3a.medium', az: 'us-east-1c', at: 'garbage' },
  ];
  assert.deepEqual(avoidedPools(recs, NOW, S), [{ instanceType: 't3.medium', az: 'us-east-1a', until: ago(-25) }]);
  assert.deepEqual(avoidedPools(recs, new Date(NOW.getTime() + 26 * 60_000), S), []);
  assert.deepEqual(avoidedPools(recs, NOW, { ...S, avoidPoolMs: 0 }), []);
});

test('onDemandRoles: k interruptions within an hour, until the k-th most recent leaves the hour', () => {
  const recs: PoolInterruption[] = [10, 20, 50].map((m) => ({ instanceType: 't3.medium', az: 'us-east-1a', at: ago(m), role: 'web' }));
  recs.push({ instanceType: 'm5.large', az: 'us-east-1a', at: ago(1), role: 'api' });
  assert.deepEqual(onDemandRoles(recs, NOW, S), [{ role: 'web', interruptions: 3, until: ago(-10) }]);
  assert.deepEqual(onDemandRoles(recs, new Date(NOW.getTime() + 11 * 60_000), S), []);
  assert.deepEqual(onDemandRoles(recs, NOW, { ...S, onDemandAfter: 0 }), []);
  assert.equal(onDemandRoles(recs, NOW, { ...S, onDemandAfter: 4 }).length, 0);
});

test('orderByMemory: avoided spot shapes go last; a forced role tries on-demand first', () => {
  const zones: Record<string, string> = { 'subnet-a': 'us-east-1a', 'subnet-b': 'us-east-1b' };
  const shapes = [
    { instanceType: 't3.medium', market: 'spot' as const, subnetId: 'subnet-a' },
    { instanceType: 't3.medium', market: 'spot' as const, subnetId: 'subnet-b' },
    { instanceType: 't3a.medium', market: 'spot' as const, subnetId: 'subnet-a' },
  ];
  const avoid = [{ instanceType: 't3.medium', az: 'us-east-1a' }];
  const r = orderByMemory(shapes, (s) => zones[s], avoid, false);
  assert.deepEqual(r.shapes.map((s) => `${s.instanceType}/${s.subnetId}`), ['t3.medium/subnet-b', 't3a.medium/subnet-a', 't3.medium/subnet-a']);
  assert.equal(r.avoided.length, 1);
  const f = orderByMemory(shapes, (s) => zones[s], avoid, true);
  assert.deepEqual(f.shapes.map((s) => s.market), ['on-demand', 'on-demand', 'on-demand', 'spot', 'spot', 'spot']);
  // On-demand shapes are not at risk from spot memory: not moved.
  assert.equal(f.shapes[0]!.subnetId, 'subnet-a');
  // Unknown zones are never avoided.
  assert.deepEqual(orderByMemory(shapes, () => undefined, avoid, false).shapes, shapes);
});

import { spec } from './fixtures.js';
import { ConfigError } from '../../src/errors.js';

test('fleet.yaml interruption: defaults, values, and line-numbered errors', () => {
  assert.deepEqual(spec().interruption, { avoidPoolMs: 30 * 60_000, onDemandAfter: 3, standbyMaxAgeMs: 20 * 60_000, standbyWindowMs: 60 * 60_000 });
  assert.deepEqual(spec('interruption:\n  avoid-pool-minutes: 5\n  on-demand-after: 0\n  standby-max-age: 90s\n  standby-window: 2h\n').interruption, {
    avoidPoolMs: 5 * 60_000,
    onDemandAfter: 0,
    standbyMaxAgeMs: 90_000,
    standbyWindowMs: 2 * 3600_000,
  });
  let err: unknown;
  try {
    spec('interruption:\n  avoid-pool-minutes: "ten"\n  standby-window: 10s\n  surprise: 1\n');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, String(err));
  const lines = err.problems.map((p) => `${p.line}:${p.path}`);
  assert.deepEqual(lines, ['13:interruption.avoid-pool-minutes', '14:interruption.standby-window', '15:interruption.surprise']);
  assert.match(err.problems[0]!.message, /expected a number of minutes/);
  assert.match(err.problems[1]!.message, /out of range 1m to 7d/);
});
