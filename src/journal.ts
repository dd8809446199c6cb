/**
 * The journal's key format, shared by ops (which writes entries) and the S3 adapter (which
 * lists them by time and kind): `<fleet>/<YYYY-MM-DD>/<ISO time>-<kind>-<name>-<operation>.json`,
 * and an entry's outcome beside it at `<key>.outcome`. Keys sort by fleet, then time.
 * Pure: no I/O.
 */

/** The sibling object holding an entry's outcome (written create-only once the operation ends). */
export const OUTCOME_SUFFIX = '.outcome';

export function journalKey(fleet: string, at: string, kind: string, name: string, operationId: string): string {
  return `${fleet}/${at.slice(0, 10)}/${at}-${kind}-${name}-${operationId}.json`;
}

/** The parts of an entry's key (relative to the journal prefix); undefined for anything else. */
export function parseJournalKey(key: string): { fleet: string; at: string; kind: string; rest: string; outcome: boolean } | undefined {
  const m = /^(.+)\/(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)-([a-z][a-z0-9]*)-(.+)\.json(\.outcome)?$/.exec(key);
  if (!m || !m[3]!.startsWith(m[2]!)) return undefined;
  return { fleet: m[1]!, at: m[3]!, kind: m[4]!, rest: m[5]!, outcome: m[6] !== undefined };
}

/** The key to list after so that a listing of `fleet` starts at the day of `since` (keys sort by day). */
export function journalStartAfter(fleet: string, since: Date): string {
  // '/' sorts before every digit: "<fleet>/<day>" sorts just before the first key of that day.
  return `${fleet}/${since.toISOString().slice(0, 10)}`;
}
