/**
 * The journal (DESIGN.md section 2): one create-only object per operation or chaos kill, never
 * overwritten; an outcome is a sibling object `${key}.outcome`, also create-only.
 */
import { FleetError } from '../errors.js';
import type { OpsDeps } from './context.js';

/** Write an entry before acting; returns its key. Throws when it cannot be written. */
export async function journal(deps: OpsDeps, kind: string, name: string, body: object): Promise<string> {
  const at = deps.clock.now().toISOString();
  const key = `${deps.spec.fleet}/${at.slice(0, 10)}/${at}-${kind}-${name}-${deps.operationId}.json`;
  await deps.limiter.take('s3:write');
  const created = await deps.journal.create(key, { kind, name, at, operation: deps.operationId, ...body });
  if (!created) throw new FleetError(`journal entry ${key} exists already: entries are never overwritten`, { data: { key } });
  return key;
}

/** Complete an entry with its outcome (create-only sibling `${key}.outcome`). */
export async function completeEntry(deps: OpsDeps, key: string, outcome: object): Promise<void> {
  await deps.limiter.take('s3:write');
  const created = await deps.journal.create(`${key}.outcome`, { at: deps.clock.now().toISOString(), ...outcome });
  if (!created) throw new FleetError(`journal outcome ${key}.outcome exists already: entries are never overwritten`, { data: { key } });
}
