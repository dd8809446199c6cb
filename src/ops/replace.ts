/**
 * Replace-by-name (DESIGN.md section 4): launch generation g+1 (or adopt a live instance of
 * the name), wait until it converges, compare-and-swap the record onto it, wait INSYNC and
 * the TTL, then terminate what served the name before.
 *
 * Failure before the swap: the new instance is terminated, DNS and the old instance stay as
 * they were. Failure after the swap: the old instance may be left running; it is an orphan
 * that the next apply collects. At no point is the name left without a record it had.
 */
import { DnsConflictError, FleetError } from '../errors.js';
import type { FleetName, Instance, RecordTarget, RoleSpec } from '../model.js';
import type { ShapeOverride } from '../plan/shape.js';
import type { OpsDeps } from './context.js';
import { swapChanges } from './dns.js';
import { describeShape, launchGeneration, type LaunchResult } from './launch.js';
import { terminateConfirmed } from './terminate.js';
import { finishing } from './locked.js';
import { replaceWithVolume, type VolumePlacement } from './volume.js';

export interface ReplaceJob {
  name: FleetName;
  role: RoleSpec;
  /** The generation to launch (ignored when adopting). */
  generation: number;
  /** Adopt this live instance instead of launching. */
  adopt?: string;
  override?: ShapeOverride;
  /** An explicit type is not swapped for another one on a capacity error (other AZs are still tried). */
  strictType?: boolean;
  /** What the record points at now; undefined: the name has no record. */
  replaces?: RecordTarget;
  /** Live instances that serve or claim the name now, terminated once the swap is INSYNC. */
  retire: string[];
  /** The lock's fencing token: tagged on the launch (fleet:fence) and journaled. */
  fencingToken?: string;
  /** Throws when the operation may no longer act (lock possibly lost, leadership lost). */
  guard?: () => void;
}

export interface ReplaceResult {
  name: string;
  instanceId: string;
  ip: string;
  generation: number;
  type: string;
  market: string;
  az: string;
  changeId: string;
  terminated: string[];
  /** Launch attempts, when launched (capacity fallbacks). */
  attempts?: LaunchResult['attempts'];
  /** Simulated/clock ms from start to the record pointing at the new instance. */
  msToServed: number;
  /** A role with a volume: where the name's volume went. */
  volume?: VolumePlacement;
  /** A role with a volume, replacing a serving instance: clock ms the name was unserved (old stopped until the swap was INSYNC). */
  unservedMs?: number;
}

export async function replaceName(deps: OpsDeps, job: ReplaceJob): Promise<ReplaceResult> {
  // A role with a volume: the volume follows the name (src/ops/volume.ts).
  if (job.role.volume) return replaceWithVolume(deps, job, job.role.volume);
  const started = deps.clock.now().getTime();
  const name = job.name.name;
  let instance: Instance;
  let generation: number;
  let attempts: LaunchResult['attempts'] | undefined;
  if (job.adopt) {
    const seen = (await deps.compute.describe([job.adopt])).get(job.adopt);
    if (!seen || !seen.privateIp) throw new FleetError(`${name}: ${job.adopt} is gone; nothing to adopt`);
    instance = seen;
    generation = seen.generation ?? 0;
  } else {
    const launched = await launchGeneration(deps, job.name, job.role, job.generation, {
      ...(job.override ? { override: job.override } : {}),
      ...(job.strictType ? { strictType: true } : {}),
      ...(job.fencingToken ? { fencingToken: job.fencingToken } : {}),
      ...(job.guard ? { guard: job.guard } : {}),
    });
    instance = launched.instance;
    generation = launched.generation;
    attempts = launched.attempts;
    await deps.hook?.('launched', name);
  }

  // Until the swap, any failure rolls back: terminate the new instance, leave DNS alone.
  let converged: Instance;
  let changeId: string;
  try {
    deps.log({ level: 'info', event: 'waiting', msg: `${name}: waiting for ${instance.id} to converge`, name, instanceId: instance.id });
    // A stop ends the wait: the launch is not swapped yet, so the rollback below undoes it
    // (terminateConfirmed is not given the signal: the rollback runs to its end after a stop).
    converged = await deps.watcher.converged(instance.id, deps.spec.reconcile.convergeTimeoutMs, deps.signal);
    await deps.hook?.('converged', name);
    if (!converged.privateIp) throw new FleetError(`${name}: ${instance.id} converged without a private address`);
    const ip = converged.privateIp;
    try {
      job.guard?.();
      changeId = await deps.dnsWriter.submit(swapChanges(job.name.fqdn, job.replaces, ip, deps.spec.dns.ttl));
    } catch (err) {
      // The swap may have happened although this call failed: Route 53 applied it and the answer
      // was lost, and the SDK's retry of the same batch then conflicted with our own change (or
      // gave up). The record decides: if it points at the new instance, the name is swapped, and
      // terminating the new instance now would leave the name pointing at a dead one.
      const confirmed = await confirmSwap(deps, job.name.fqdn, ip).catch(() => undefined);
      if (!confirmed) throw err;
      deps.log({ level: 'warn', event: 'swap-confirmed', msg: `${name}: the swap answered ${err instanceof Error ? err.message : String(err)}, but the record already points at ${instance.id} (${ip}): swapped`, name });
      changeId = confirmed;
    }
  } catch (err) {
    const why = err instanceof DnsConflictError ? `the record of ${name} changed underneath this operation` : err instanceof Error ? err.message : String(err);
    deps.log({ level: 'warn', event: 'rollback', msg: `${name}: rolling back: terminating ${instance.id} (${why}); DNS untouched`, name, instanceId: instance.id });
    try {
      await terminateConfirmed(deps, [instance.id], `rollback of ${name}`);
    } catch (cleanup) {
      throw new FleetError(`${name}: ${why}; AND the rollback failed to terminate ${instance.id}: ${cleanup instanceof Error ? cleanup.message : String(cleanup)} — the next apply collects it`, { cause: err });
    }
    throw new FleetError(`${name}: ${why}; rolled back (${instance.id} terminated, DNS untouched)${await unservedNote(deps, job)}`, { cause: err, data: { name, instanceId: instance.id } });
  }
  const msToServed = deps.clock.now().getTime() - started;
  deps.log({ level: 'info', event: 'swapped', msg: `${name}: record now points at ${converged.id} (${converged.privateIp})`, name, instanceId: converged.id, changeId });
  await deps.hook?.('swapped', name);

  // After the swap: resolvers must move before the old instance goes. A name that had no
  // record (or only a dead address) has no old instance to protect: INSYNC is enough.
  const old = [...new Set([...(job.replaces?.instanceId ? [job.replaces.instanceId] : []), ...job.retire])].filter((id) => id !== converged.id);
  await deps.dnsWriter.waitInsync(changeId, 10 * 60_000);
  if (old.length > 0) await deps.clock.sleep(deps.spec.dns.ttl * 1000);
  await deps.hook?.('insync', name);

  await checkStillServing(deps, job, converged, changeId);
  let terminated: string[] = [];
  if (old.length > 0) {
    // A lost lock stops here: the name is swapped and served; the old instance is an orphan for the next apply.
    // A stop does not: the swap is made, and completing it leaves no live instance without a record.
    finishing(job.guard)?.();
    try {
      await terminateConfirmed(deps, old, `replaced by ${converged.id}`);
      terminated = old;
    } catch (err) {
      deps.log({ level: 'warn', event: 'orphan-left', msg: `${name}: could not terminate ${old.join(', ')} (${err instanceof Error ? err.message : String(err)}); the next apply collects it`, name });
    }
  }
  await deps.hook?.('terminated', name);

  const result: ReplaceResult = {
    name,
    instanceId: converged.id,
    ip: converged.privateIp,
    generation,
    type: converged.type,
    market: converged.market,
    az: converged.az,
    changeId,
    terminated,
    msToServed,
    ...(attempts ? { attempts } : {}),
  };
  await journal(deps, 'replace', name, { ...result, shape: attempts ? describeShape(attempts[attempts.length - 1]!.shape) : 'adopted', ...(job.fencingToken ? { fencingToken: job.fencingToken } : {}) });
  return result;
}

/**
 * After a rollback the name is as it was, which is not always served: a kill-first upgrade
 * terminated the old instance first, a heal replaced a dead one. Say so, rather than let
 * "rolled back" suggest the name still works.
 */
async function unservedNote(deps: OpsDeps, job: ReplaceJob): Promise<string> {
  const rec = job.replaces;
  if (!rec) return '';
  let live = false;
  if (rec.instanceId) {
    try {
      await deps.limiter.take('ec2:describe');
      const i = (await deps.compute.describe([rec.instanceId])).get(rec.instanceId);
      live = !i || i.state === 'pending' || i.state === 'running'; // unseen: do not claim it is gone
    } catch {
      return '';
    }
  }
  return live ? '' : `; ${job.name.name} is left unserved (its record points at ${rec.ip}, which no live instance has) until \`fleet apply\` rebuilds it`;
}

/**
 * The new instance may die between the swap and the end of the wait (a spot interruption, a
 * hardware failure). Terminating the old one then would leave the name pointing at nothing:
 * instead, when the old instance still runs, swap the record back onto it (compare-and-swap,
 * so a change by someone else is never overwritten) and fail. When nothing else can serve the
 * name, fail without terminating anything: the next apply rebuilds the name.
 */
export async function checkStillServing(deps: OpsDeps, job: ReplaceJob, converged: Instance, changeId: string): Promise<void> {
  const name = job.name.name;
  // Through the watcher: one DescribeInstances covers every replacement checking at once.
  let now: Instance;
  try {
    now = await deps.watcher.wait(converged.id, 'to be seen after the swap', 60_000, () => true);
  } catch (err) {
    deps.log({ level: 'warn', event: 'check-failed', msg: `${name}: could not check ${converged.id} before terminating the old instance: ${err instanceof Error ? err.message : String(err)}`, name });
    return;
  }
  if (now.state === 'pending' || now.state === 'running') return;
  const why = `${converged.id} is ${now.state} after the swap`;
  let seen = new Map<string, Instance>();
  if (job.replaces?.instanceId) {
    try {
      await deps.limiter.take('ec2:describe');
      seen = await deps.compute.describe([job.replaces.instanceId]);
    } catch {
      /* the old instance cannot be checked: do not swap back onto it */
    }
  }
  const back = job.replaces?.instanceId ? seen.get(job.replaces.instanceId) : undefined;
  if (job.replaces && back && back.state === 'running' && back.privateIp === job.replaces.ip) {
    deps.log({ level: 'warn', event: 'swap-back', msg: `${name}: ${why}; swapping the record back to ${back.id} (${back.privateIp})`, name });
    try {
      const id = await deps.dnsWriter.submit(swapChanges(job.name.fqdn, { ip: converged.privateIp!, ttl: deps.spec.dns.ttl }, job.replaces.ip, job.replaces.ttl));
      await deps.dnsWriter.waitInsync(id, 10 * 60_000);
    } catch (err) {
      throw new FleetError(`${name}: ${why}, and swapping the record back to ${back.id} failed (${err instanceof Error ? err.message : String(err)}); nothing was terminated; the next apply repairs the name`, { cause: err });
    }
    throw new FleetError(`${name}: ${why}; the record points at ${back.id} again, which kept running (change ${changeId} undone)`, { data: { name, instanceId: converged.id } });
  }
  throw new FleetError(`${name}: ${why}; nothing else can serve the name, so nothing was terminated; the next apply rebuilds it`, { data: { name, instanceId: converged.id } });
}

/**
 * When the record of `fqdn` is exactly `ip`, return the id of a change whose INSYNC covers the
 * change that put it there: a compare-and-swap of the record onto itself (changes of a zone are
 * applied in order). Undefined when the record is anything else.
 */
export async function confirmSwap(deps: OpsDeps, fqdn: string, ip: string): Promise<string | undefined> {
  await deps.limiter.take('route53:api');
  const rec = await deps.dns.getRecord(deps.zoneId, fqdn);
  if (!rec || rec.values.length !== 1 || rec.values[0] !== ip) return undefined;
  return deps.dnsWriter.submit(swapChanges(fqdn, { ip, ttl: rec.ttl }, ip, rec.ttl));
}

/** One create-only journal object per operation on a name. Never fails the operation. */
export async function journal(deps: OpsDeps, kind: string, name: string, body: Record<string, unknown>): Promise<void> {
  const at = deps.clock.now().toISOString();
  const key = `${deps.spec.fleet}/${at.slice(0, 10)}/${at}-${kind}-${name}-${deps.operationId}.json`;
  try {
    await deps.limiter.take('s3:write');
    await deps.journal.create(key, { kind, name, at, operation: deps.operationId, ...body });
  } catch (err) {
    deps.log({ level: 'warn', event: 'journal-failed', msg: `journal entry for ${name} not written: ${err instanceof Error ? err.message : String(err)}`, name });
  }
}
