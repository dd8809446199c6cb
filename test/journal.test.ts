/** The journal's key format (src/journal.ts): written by ops, listed by time and kind by the S3 adapter. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { journalKey, journalStartAfter, OUTCOME_SUFFIX, parseJournalKey } from '../src/journal.js';

test('journalKey and parseJournalKey round-trip; names and fleets with hyphens', () => {
  const at = '2026-12-07T03:04:05.678Z';
  const key = journalKey('my-fleet', at, 'kill', 'web-03', 'ab12cd34');
  assert.equal(key, 'my-fleet/2026-12-07/2026-12-07T03:04:05.678Z-kill-web-03-ab12cd34.json');
  assert.deepEqual(parseJournalKey(key), { fleet: 'my-fleet', at, kind: 'kill', rest: 'web-03-ab12cd34', outcome: false });
  assert.deepEqual(parseJournalKey(key + OUTCOME_SUFFIX), { fleet: 'my-fleet', at, kind: 'kill', rest: 'web-03-ab12cd34', outcome: true });
});

test('parseJournalKey: anything else is not an entry', () => {
  for (const k of ['', 'x.json', 'f/2026-12-07/nope.json', 'f/2026-12-06/2026-12-07T03:04:05.678Z-kill-web-03-x.json', 'f/2026-12-07/2026-12-07T03:04:05.678Z-kill-web-03-x.txt']) {
    assert.equal(parseJournalKey(k), undefined, k);
  }
});

test('journalStartAfter sorts before every key of that day and after every key of the day before', () => {
  const since = new Date('2026-12-07T10:00:00Z');
  const after = journalStartAfter('f', since);
  const sameDay = journalKey('f', '2026-12-07T00:00:00.000Z', 'kill', 'web-01', 'x');
  const dayBefore = journalKey('f', '2026-12-06T23:59:59.999Z', 'kill', 'web-01', 'x');
  assert.ok(after < sameDay);
  assert.ok(dayBefore < after);
});
