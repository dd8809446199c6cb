/** The rehearsal's figures from its nights: percentiles, over-budget kills, unserved minutes, refused nights grouped by cause. */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { allDownMs, figures, percentile, type RehearsedNight } from '../../src/chaos/stats.js';

const kill = (role: string, ms: number | undefined, unservedMs = ms ?? 0, budget = 600_000) => ({ name: `${role}-01`, role, kind: 'terminate' as const, ...(ms !== undefined ? { timeToRebuiltMs: ms } : {}), unservedMs, withinBudget: ms !== undefined && ms <= budget, state: '' });
const night = (n: number, kills: ReturnType<typeof kill>[], refused: string[] = [], interruptions: RehearsedNight['interruptions'] = []): RehearsedNight => ({ night: n, at: `2026-11-0${n}T03:00:00Z`, seed: n, kills, refused, interruptions, ok: kills.every((k) => k.withinBudget) });

test('percentile: nearest rank', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 95), 10);
  assert.equal(percentile([7], 95), 7);
  assert.equal(percentile([], 50), undefined);
});

test('figures: per role, over budget, unserved minutes with spot interruptions, refused nights by cause', () => {
  const nights = [
    night(1, [kill('web', 120_000), kill('api', 300_000)]),
    night(2, [kill('web', 240_000)], [], [{ name: 'web-02', role: 'web', unservedMs: 60_000, rebuilt: true }]),
    night(3, [], ['blackout window days sat-sun (now Sat 2026-11-07 03:00 UTC)']),
    night(4, [], ['blackout window days sat-sun (now Sun 2026-11-08 03:00 UTC)']),
    night(5, [], ['1 name unserved: api-02 (record points at 10.0.0.9, which no live instance of fleet demo has)']),
    night(6, [kill('api', undefined, 600_000)]),
  ];
  const f = figures(nights, ['hub', 'web', 'api'], 600_000);
  assert.deepEqual(f.roles.find((r) => r.role === 'hub'), { role: 'hub', kills: 0, overBudget: 0, unservedMinutes: 0, roleOutageMinutes: 0, interruptions: 0 });
  assert.deepEqual(f.roles.find((r) => r.role === 'web'), { role: 'web', kills: 2, overBudget: 0, unservedMinutes: 7, roleOutageMinutes: 0, interruptions: 1, p50Ms: 120_000, p95Ms: 240_000, maxMs: 240_000 });
  const api = f.roles.find((r) => r.role === 'api')!;
  assert.equal(api.kills, 2);
  assert.equal(api.overBudget, 1);
  assert.equal(api.maxMs, Infinity, 'a kill never rebuilt is the worst');
  assert.deepEqual(f.refused, [
    { reason: 'blackout window days sat-sun', nights: 2 },
    { reason: 'names unserved', nights: 1 },
  ]);
  assert.equal(f.failedNights, 1);
  assert.equal(f.unservedMinutesPerNight, (7 + 15) / 6);
});

test('allDownMs: the time every name of a role is down at once', () => {
  const m = (a: number, b: number) => ({ from: a * 60_000, to: b * 60_000 });
  assert.equal(allDownMs([m(0, 10), m(5, 15)], 2), 5 * 60_000, 'two names down together from 5 to 10');
  assert.equal(allDownMs([m(0, 10), m(10, 15)], 2), 0, 'one after the other: never both');
  assert.equal(allDownMs([m(0, 10), m(5, 15)], 3), 0, 'a role of three is never all down');
  assert.equal(allDownMs([m(0, 4)], 1), 4 * 60_000, 'a role of one is down while its name is');
  assert.equal(allDownMs([m(0, 10), m(2, 3), m(2, 8), m(6, 7)], 3), 2 * 60_000, 'three at once from 2 to 3 and from 6 to 7');
});
