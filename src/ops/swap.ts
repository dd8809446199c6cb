/**
 * The end of every replacement, shared by replace-by-name (src/ops/replace.ts) and the volume
 * move (src/ops/volume.ts): compare-and-swap the record onto the new instance, wait INSYNC,
 * wait the TTL while resolvers may still send traffic to what served before, make sure the new
 * instance still runs, terminate the old one, and journal the result.
 *
 * Healing does not wait for nobody: when nothing that served before can still answer (the
 * record pointed at an instance already terminated, shutting down or stopped, or at no
 * instance at all), resolvers holding the old address reach nothing whatever we do, so the
 * swap waits for INSYNC only, not the TTL.
 */
import { FleetError } from '../errors.js';
import type { FleetName, Instance, RecordTarget, RoleSpec } from '../model.js';
import type { ShapeOverride } from '../plan/shape.js';
import type { OpsDeps } from './context.js';
import { swapChanges } from './dns.js';
import { journal } from './journal.js';
import { describeShape, type LaunchResult } from './launch.js';
import { finishing } from './locked.js';
import { terminateConfirmed } from './terminate.js';

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

export interface SnapshotCheck {
  snapshotId: string;
  /** Written blocks listed by ListSnapshotBlocks. */
  blocks: number;
  /** Blocks changed since the previous snapshot of the volume (ListChangedBlocks), when there is one. */
  changedSince?: { snapshotId: string; changed: number };
}

/** What happened to the name's volume in one operation. */
export interface VolumePlacement {
  /** The volume attached to the instance that serves (or is about to serve) the name. */
  volumeId: string;
  az: string;
  how: 'created' | 'already-attached' | 'moved' | 'copied';
  /** The volume the data came from (moved: the same id; copied: the old volume). */
  from?: { volumeId: string; instanceId?: string; az: string };
  /** Cross-AZ: the snapshots taken and what the EBS direct API listed. */
  snapshots?: { pre?: SnapshotCheck; final: SnapshotCheck };
  /** Cross-AZ: the old volume was deleted once the copy served. */
  deletedOld?: string;
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
  /** Clock ms from the swap until the old instances could go: INSYNC, plus the TTL when one of them could still answer. */
  settleMs?: number;
  /** Whether the TTL was waited (false: nothing that served before could still answer, INSYNC was enough). */
  ttlWaited?: boolean;
  /** A role with a volume: where the name's volume went. */
  volume?: VolumePlacement;
  /** A role with a volume, replacing a serving instance: clock ms the name was unserved (old stopped until the swap was INSYNC). */
  unservedMs?: number;
}

/**
 * Swap the record of the job's name onto `instance` (compare-and-swap from what the job saw).
 * The swap may have happened although the call failed: Route 53 applied it and the answer was
 * lost, and the SDK's retry of the same batch then conflicted with our own change (or gave
 * up). The record decides: if it points at the new instance, the name is swapped (and
 * terminating the new instance now would leave the name pointing at a dead one).
 */
export async function submitSwap(deps: OpsDeps, job: ReplaceJob, instance: Instance, ip: string): Promise<string> {
  const name = job.name.name;
  try {
    job.guard?.();
    return await deps.dnsWriter.submit(swapChanges(job.name.fqdn, job.replaces, ip, deps.spec.dns.ttl));
  } catch (err) {
    const confirmed = await confirmSwap(deps, job.name.fqdn, ip).catch(() => undefined);
    if (!confirmed) throw err;
    deps.log({ level: 'warn', event: 'swap-confirmed', msg: `${name}: the swap answered ${err instanceof Error ? err.message : String(err)}, but the record already points at ${instance.id} (${ip}): swapped`, name });
    return confirmed;
  }
}

/**
 * The old instances that could still answer a resolver holding the old address: pending,
 * running or stopping. Terminated, shutting-down and stopped ones answer nothing; one not
 * visible at all was terminated long ago (terminated instances stay visible for about an
 * hour, and these ids come from an observation, not a launch). When they cannot be checked,
 * every one of them is assumed to answer (the safe side: wait the TTL).
 */
async function stillAnswering(deps: OpsDeps, ids: string[]): Promise<{ answering: string[]; toTerminate: string[] }> {
  if (ids.length === 0) return { answering: [], toTerminate: [] };
  let seen: Map<string, Instance>;
  try {
    await deps.limiter.take('ec2:describe');
    seen = await deps.instances.describe(ids);
  } catch {
    return { answering: ids, toTerminate: ids };
  }
  const answering = ids.filter((id) => {
    const s = seen.get(id)?.state;
    return s === 'pending' || s === 'running' || s === 'stopping';
  });
  // A stopped (or stopping) instance still has to go; a terminated, shutting-down or unseen one is going or gone.
  const toTerminate = ids.filter((id) => {
    const s = seen.get(id)?.state;
    return s !== undefined && s !== 'terminated' && s !== 'shutting-down';
  });
  return { answering, toTerminate };
}

/**
 * After the swap: wait INSYNC, then the TTL only while something that served before can still
 * answer; check the new instance still runs; terminate the old ones. A lost lock stops before
 * the termination: the name is swapped and served, the old instance an orphan for the next
 * apply. Returns what was terminated and how long the wait after the swap took (clock ms).
 */
export async function settleSwap(
  deps: OpsDeps,
  job: ReplaceJob,
  converged: Instance,
  changeId: string,
  old: string[],
  onInsync?: () => void,
): Promise<{ terminated: string[]; waitedMs: number; ttlWaited: boolean }> {
  const name = job.name.name;
  const from = deps.clock.now().getTime();
  const { answering, toTerminate } = await stillAnswering(deps, old);
  await deps.dnsWriter.waitInsync(changeId, 10 * 60_000);
  onInsync?.();
  const ttlWaited = answering.length > 0;
  if (ttlWaited) await deps.clock.sleep(deps.spec.dns.ttl * 1000);
  else if (old.length > 0) deps.log({ level: 'info', event: 'no-ttl-wait', msg: `${name}: ${old.join(', ')} can no longer answer; INSYNC is enough, no TTL wait`, name });
  const waitedMs = deps.clock.now().getTime() - from;
  await deps.hook?.('insync', name);

  await checkStillServing(deps, job, converged, changeId);
  let terminated: string[] = [];
  if (toTerminate.length > 0) {
    // A lost lock stops here: the name is swapped and served; the old instance is an orphan for the next apply.
    // A stop does not: the swap is made, and completing it leaves no live instance without a record.
    finishing(job.guard)?.();
    try {
      await terminateConfirmed(deps, toTerminate, `replaced by ${converged.id}`);
      terminated = toTerminate;
    } catch (err) {
      deps.log({ level: 'warn', event: 'orphan-left', msg: `${name}: could not terminate ${toTerminate.join(', ')} (${err instanceof Error ? err.message : String(err)}); the next apply collects it`, name });
    }
  }
  await deps.hook?.('terminated', name);
  return { terminated, waitedMs, ttlWaited };
}

/** The journal entry of a finished replacement. */
export async function journalReplace(deps: OpsDeps, job: ReplaceJob, result: ReplaceResult): Promise<void> {
  const attempts = result.attempts;
  await journal(deps, 'replace', result.name, { ...result, shape: attempts ? describeShape(attempts[attempts.length - 1]!.shape) : 'adopted', ...(job.fencingToken ? { fencingToken: job.fencingToken } : {}) });
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
      seen = await deps.instances.describe([job.replaces.instanceId]);
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
