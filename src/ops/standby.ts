/**
 * Standbys (DESIGN.md section 4, Spot interruption): on a rebalance recommendation, an instance
 * launched and converged for the name, tagged `fleet:standby=<recommendation time>` and kept out
 * of DNS, so that the warning (or an old enough recommendation) costs only a DNS swap.
 * Reconcile knows them (src/plan/reconcile.ts): not orphans while the standby window lasts,
 * collected after it.
 */
import { FleetError } from '../errors.js';
import type { FleetName, Instance, RoleSpec } from '../model.js';
import { TAG } from '../tags.js';
import type { OpsDeps } from './context.js';
import { describeShape, launchGeneration } from './launch.js';
import { terminateConfirmed } from './terminate.js';

export interface StandbyJob {
  name: FleetName;
  role: RoleSpec;
  generation: number;
  /** ISO time of the rebalance recommendation: the standby's tag value (its window starts there). */
  recommendedAt: string;
  fencingToken?: string;
  guard?: () => void;
}

export interface StandbyResult {
  instanceId: string;
  generation: number;
  type: string;
  market: string;
  az: string;
  /** Clock ms from the launch to converged. */
  msToReady: number;
}

/** Launch a standby and wait until it converged; on any failure it is terminated (nothing left behind). */
export async function prewarmStandby(deps: OpsDeps, job: StandbyJob): Promise<StandbyResult> {
  const started = deps.clock.now().getTime();
  const launched = await launchGeneration(deps, job.name, job.role, job.generation, {
    extraTags: { [TAG.standby]: job.recommendedAt },
    ...(job.fencingToken ? { fencingToken: job.fencingToken } : {}),
    ...(job.guard ? { guard: job.guard } : {}),
  });
  const id = launched.instance.id;
  deps.log({ level: 'info', event: 'standby-launched', msg: `${job.name.name}: standby ${id} launched (${describeShape(launched.shape)}), kept out of DNS`, name: job.name.name, instanceId: id });
  let ready: Instance;
  try {
    ready = await deps.watcher.converged(id, deps.spec.reconcile.convergeTimeoutMs);
  } catch (err) {
    deps.log({ level: 'warn', event: 'rollback', msg: `${job.name.name}: standby ${id} did not converge (${err instanceof Error ? err.message : String(err)}); terminating it`, name: job.name.name, instanceId: id });
    await terminateConfirmed(deps, [id], `standby of ${job.name.name} did not converge`).catch((e: unknown) =>
      deps.log({ level: 'warn', event: 'orphan-left', msg: `${job.name.name}: could not terminate standby ${id} (${e instanceof Error ? e.message : String(e)}); reconcile collects it after the standby window`, name: job.name.name }),
    );
    throw new FleetError(`${job.name.name}: standby ${id} did not converge; terminated`, { cause: err, data: { name: job.name.name, instanceId: id } });
  }
  deps.log({ level: 'info', event: 'standby-ready', msg: `${job.name.name}: standby ${id} converged`, name: job.name.name, instanceId: id });
  return { instanceId: id, generation: launched.generation, type: ready.type, market: ready.market, az: ready.az, msToReady: deps.clock.now().getTime() - started };
}

/** Terminate a standby that is no longer wanted (the instance outlived the window). */
export async function retireStandby(deps: OpsDeps, name: string, standbyId: string, why: string, guard?: () => void): Promise<void> {
  guard?.();
  await terminateConfirmed(deps, [standbyId], `standby of ${name}: ${why}`);
}
