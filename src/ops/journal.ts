/**
 * The journal (DESIGN.md section 4): one create-only object per operation on a name, written
 * under the fleet and the time, and, for operations that record how they ended (kill), an
 * outcome object beside it — never an overwrite, so the history can be trusted as written.
 */
import { FleetError } from '../errors.js';
import { journalKey, OUTCOME_SUFFIX } from '../journal.js';
import type { JournalEntry } from '../ports.js';
import type { OpsDeps } from './context.js';

/**
 * Write one entry (create-only) and return its key. Never fails the operation: a journal that
 * cannot be written is logged as a warning (the cloud is the truth; the journal is its history).
 */
export async function journal(deps: OpsDeps, kind: string, name: string, body: object, opts: { required?: boolean } = {}): Promise<string> {
  const at = deps.clock.now().toISOString();
  const key = journalKey(deps.spec.fleet, at, kind, name, deps.operationId);
  let problem: string | undefined;
  try {
    await deps.limiter.take('s3:write');
    const created = await deps.journal.create(key, { kind, name, at, operation: deps.operationId, ...body });
    if (!created) problem = `journal entry ${key} exists already; not overwritten`;
  } catch (err) {
    problem = `journal entry for ${name} not written: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (problem !== undefined) {
    // Required: what reads the journal back (the chaos job's minimum time between kills) would
    // not see this operation, so it must not happen.
    if (opts.required) throw new FleetError(problem, { exitCode: 1 });
    deps.log({ level: 'warn', event: 'journal-failed', msg: problem, name });
  }
  return key;
}

/** Record how the operation of entry `key` ended, create-only at `${key}.outcome` (the entry itself is never rewritten). */
export async function completeEntry(deps: OpsDeps, key: string, outcome: object): Promise<void> {
  try {
    await deps.limiter.take('s3:write');
    await deps.journal.create(key + OUTCOME_SUFFIX, { at: deps.clock.now().toISOString(), operation: deps.operationId, ...outcome });
  } catch (err) {
    deps.log({ level: 'warn', event: 'journal-failed', msg: `outcome of journal entry ${key} not written: ${err instanceof Error ? err.message : String(err)}` });
  }
}

/** This fleet's entries (with their outcomes), optionally since a time and of one kind: the chaos history reads it. */
export async function readJournal(deps: OpsDeps, opts: { since?: Date; kind?: string } = {}): Promise<JournalEntry[]> {
  await deps.limiter.take('s3:read');
  return deps.journal.list({ fleet: deps.spec.fleet, ...opts });
}
