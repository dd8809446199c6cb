/**
 * Retire a name: the one implementation behind `fleet retire NAME` and apply's retirement of
 * names fleet.yaml no longer wants. The plan is src/plan/retire.ts; this flow reads what it
 * needs (the name, its state prefix) and executes it under the name's lock: the journal entry
 * first, then the record (exact delete, so a concurrent change fails it and nothing else
 * happens), INSYNC and the TTL, then the instances tagged with the name, then — only when
 * asked — the state objects (listed again: an instance may have saved more before it went).
 */
import { FleetError } from '../errors.js';
import type { FleetName } from '../model.js';
import { conventionOf, parseName } from '../naming.js';
import { planRetire, stateLocation, type RetirePlan } from '../plan/retire.js';
import type { LockHandle } from '../coord/index.js';
import type { OpsDeps } from './context.js';
import { journal } from './journal.js';
import { guardOf, observeName, withNameLock } from './locked.js';
import { terminateConfirmed } from './terminate.js';

export interface RetireRequest {
  /** Short name, web-03. */
  name: string;
  /** Delete the objects of the name's state.s3 prefix once its instances are gone. */
  deleteState?: boolean;
  /** Who asks (journaled): 'fleet retire', 'apply'... */
  who?: string;
}

export type RetireOutcome =
  | { status: 'retired'; plan: RetirePlan; recordDeleted: boolean; terminated: string[]; stateDeleted?: number; fencingToken?: string }
  | { status: 'nothing'; plan: RetirePlan; reason: string };

/** Read the name as it is now (and its state prefix, for a role with one) and plan its retirement. No lock, no change. */
export async function readRetirePlan(deps: OpsDeps, name: FleetName, opts: { deleteState?: boolean } = {}): Promise<RetirePlan> {
  const now = await observeName(deps, name.fqdn, name.name);
  const loc = stateLocation(deps.spec, name.name);
  let stateKeys: string[] | undefined;
  if (loc && deps.objects) {
    await deps.limiter.take('s3:read');
    stateKeys = (await deps.objects.list(loc.bucket, loc.prefix)).map((o) => o.key);
  }
  return planRetire(deps.spec, name, { ...now, ...(stateKeys ? { stateKeys } : {}) }, opts);
}

/** Execute a retire plan; the caller holds the name's lock (`lock`), or there is no coordinator. */
export async function executeRetire(deps: OpsDeps, plan: RetirePlan, lock: LockHandle | undefined, who = 'fleet retire'): Promise<RetireOutcome> {
  if (plan.nothing) return { status: 'nothing', plan, reason: plan.nothing };
  const guard = guardOf(deps, lock);
  const fence = lock ? { fencingToken: lock.fencingToken } : {};
  // On record before it happens.
  await journal(deps, 'retire', plan.name, { ...summary(plan), who, ...fence });
  if (plan.record) {
    guard();
    const changeId = await deps.dnsWriter.submit([{ action: 'DELETE', name: plan.fqdn, type: 'A', ttl: plan.record.ttl, values: plan.record.values }]);
    await deps.dnsWriter.waitInsync(changeId, 10 * 60_000);
    // Resolvers may send traffic to the old address for the TTL: only then do its instances go.
    // With no live instance to terminate there is nothing left to answer them: no TTL wait.
    if (plan.instanceIds.length > 0) await deps.clock.sleep(plan.record.ttl * 1000);
  }
  if (plan.instanceIds.length > 0) {
    // Once the record is gone a stop does not stop the rest: an instance without a record would be left.
    if (plan.record) guard.finishing();
    else guard();
    await terminateConfirmed(deps, plan.instanceIds, `${plan.name} retired`);
  }
  let stateDeleted: number | undefined;
  if (plan.state?.delete) {
    if (!deps.objects) throw new FleetError(`${plan.name}: no state store to delete ${plan.state.location} with`);
    guard();
    await deps.limiter.take('s3:read');
    const all = (await deps.objects.list(plan.state.bucket, plan.state.prefix)).map((o) => o.key);
    await deps.limiter.take('s3:write');
    stateDeleted = await deps.objects.deleteMany(plan.state.bucket, all);
    if (stateDeleted !== all.length) throw new FleetError(`${plan.name}: deleted ${stateDeleted} of ${all.length} objects of ${plan.state.location}`);
  }
  return { status: 'retired', plan, recordDeleted: plan.record !== null, terminated: plan.instanceIds, ...(stateDeleted !== undefined ? { stateDeleted } : {}), ...fence };
}

/** Retire one name: under its lock, read it again, plan, execute. */
export async function retireName(deps: OpsDeps, req: RetireRequest): Promise<RetireOutcome> {
  const name = parseName(req.name, conventionOf(deps.spec));
  return withNameLock(deps, name.name, 'retire', async (lock) => {
    const plan = await readRetirePlan(deps, name, { deleteState: Boolean(req.deleteState) });
    return executeRetire(deps, plan, lock, req.who ?? 'fleet retire');
  });
}

/** What the journal (and --json) says about a retirement. */
export function summary(plan: RetirePlan): Record<string, unknown> {
  return {
    name: plan.name,
    record: plan.record,
    instanceIds: plan.instanceIds,
    strangers: plan.strangers,
    state: plan.state ? { location: plan.state.location, objects: plan.state.objects, delete: plan.state.delete } : null,
    volumesKept: plan.volumesKept.map((v) => v.id),
    stillDesired: plan.stillDesired,
  };
}
