/** When the nightly schedule fires, in the policy's time zone (the rehearsal steps night to night with it). */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { nextRun } from '../../src/plan/chaos/schedule.js';

const cases: Array<{ name: string; cron: string; tz: string; after: string; next: string }> = [
  { name: 'weekdays at 03:00 UTC, from a Friday evening', cron: '0 3 * * 1-5', tz: 'UTC', after: '2026-11-27T20:00:00Z', next: '2026-11-30T03:00:00.000Z' },
  { name: 'strictly after: at the very minute, the next day', cron: '0 3 * * *', tz: 'UTC', after: '2026-11-25T03:00:00Z', next: '2026-11-26T03:00:00.000Z' },
  { name: '03:00 in Paris is 02:00 UTC in winter', cron: '0 3 * * *', tz: 'Europe/Paris', after: '2026-11-25T12:00:00Z', next: '2026-11-26T02:00:00.000Z' },
  { name: '03:00 in Paris is 01:00 UTC in summer', cron: '0 3 * * *', tz: 'Europe/Paris', after: '2026-07-01T12:00:00Z', next: '2026-07-02T01:00:00.000Z' },
  { name: 'the night the clocks go back in New York (01:30 happens twice: the first)', cron: '30 1 * * *', tz: 'America/New_York', after: '2026-11-01T00:00:00Z', next: '2026-11-01T05:30:00.000Z' },
  { name: 'both day fields restricted: either matches (cron OR)', cron: '0 3 1 * mon', tz: 'UTC', after: '2026-11-25T12:00:00Z', next: '2026-11-30T03:00:00.000Z' },
  { name: 'steps and lists', cron: '*/20 4,5 * * *', tz: 'UTC', after: '2026-11-25T04:41:00Z', next: '2026-11-25T05:00:00.000Z' },
];
for (const c of cases) {
  test(`nextRun: ${c.name}`, () => {
    assert.equal(nextRun(c.cron, c.tz, new Date(c.after)).toISOString(), c.next);
  });
}

test('nextRun: a date that never comes is an error, not a hang', () => {
  assert.throws(() => nextRun('0 3 31 2 *', 'UTC', new Date('2026-01-01T00:00:00Z')), /does not fire within 400 days/);
});
