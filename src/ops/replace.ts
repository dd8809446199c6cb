/**
 * Replace-by-name (DESIGN.md section 4): launch generation g+1 (or adopt a live instance of
 * the name), wait until it converges, compare-and-swap the record onto it, wait INSYNC and
 * the TTL (INSYNC only when what served before is gone already: src/ops/swap.ts), then
 * terminate what served the name before.
 *
 * Failure before the swap: the new instance is terminated, DNS and the old instance stay as
 * they were. Failure after the swap: the old instance may be left running; it is an orphan
 * that the next apply collects. At no point is the name left without a record it had.
 */
import { DnsConflictError, FleetError } from '../errors.js';
import type { Instance } from '../model.js';
import type { OpsDeps } from './context.js';
import { launchGeneration, type LaunchResult } from './launch.js';
import { journalReplace, settleSwap, submitSwap, type ReplaceJob, type ReplaceResult } from './swap.js';
import { terminateConfirmed } from './terminate.js';
import { replaceWithVolume } from './volume.js';

export type { ReplaceJob, ReplaceResult, VolumePlacement } from './swap.js';

export async function replaceName(deps: OpsDeps, job: ReplaceJob): Promise<ReplaceResult> {
  // A role with a volume: the volume follows the name (src/ops/volume.ts).
  if (job.role.volume) return replaceWithVolume(deps, job, job.role.volume);
  const started = deps.clock.now().getTime();
  const name = job.name.name;
  let instance: Instance;
  let generation: number;
  let attempts: LaunchResult['attempts'] | undefined;
  if (job.adopt) {
    const seen = (await deps.instances.describe([job.adopt])).get(job.adopt);
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
    changeId = await submitSwap(deps, job, instance, converged.privateIp);
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

  // After the swap: resolvers must move before the old instance goes; a name whose old
  // instance is already gone (a heal) waits for INSYNC only (src/ops/swap.ts).
  const old = [...new Set([...(job.replaces?.instanceId ? [job.replaces.instanceId] : []), ...job.retire])].filter((id) => id !== converged.id);
  const { terminated, waitedMs, ttlWaited } = await settleSwap(deps, job, converged, changeId, old);

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
    settleMs: waitedMs,
    ttlWaited,
    ...(attempts ? { attempts } : {}),
  };
  await journalReplace(deps, job, result);
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
      const i = (await deps.instances.describe([rec.instanceId])).get(rec.instanceId);
      live = !i || i.state === 'pending' || i.state === 'running'; // unseen: do not claim it is gone
    } catch {
      return '';
    }
  }
  return live ? '' : `; ${job.name.name} is left unserved (its record points at ${rec.ip}, which no live instance has) until \`fleet apply\` rebuilds it`;
}
