/**
 * Upgrade one name or every name of a role by replacement (DESIGN.md section 4): each step
 * launches the next generation in the new shape beside the serving instance (or, with
 * `maxSurge` 0, terminates it first: kill-first), waits until it converged, swaps the record
 * and terminates the old one (src/ops/replace.ts). At most `maxSurge` (or, kill-first,
 * `maxUnavailable`) names at a time.
 *
 * Each step runs under the name's lock. When someone may have acted on the name since the plan
 * was made (we waited for its lock, or a newer generation shows), the name is observed and
 * planned again; otherwise the plan stands (a stale record is caught anyway: the swap is a
 * compare-and-swap). So planUpgrade runs once for the plan, and once more per name only when
 * that name changed.
 */
import PQueue from 'p-queue';
import { InputError } from '../errors.js';
import { conventionOf, parseName } from '../naming.js';
import { roleOf } from '../plan/shape.js';
import { planUpgrade, upgradeTargets, type UpgradeChange, type UpgradePlan, type UpgradeStep } from '../plan/upgrade.js';
import type { LockHandle } from '../coord/index.js';
import type { Progress } from '../ports.js';
import type { OpsDeps } from './context.js';
import { changedSince, guardOf, observeName, withNameLock } from './locked.js';
import { quietProgress, readObserved } from './observe.js';
import { replaceName, type ReplaceResult } from './replace.js';
import { terminateConfirmed } from './terminate.js';

export interface UpgradeRequest {
  /** A name (web-03) or a role (web). */
  target: string;
  change: UpgradeChange;
  /** Names replaced at once with a new instance beside the old; 0: kill-first. */
  maxSurge: number;
  /** Kill-first: names unserved at once. */
  maxUnavailable: number;
  progress?: Progress;
  /** The plan shown to (and confirmed by) the operator; read and made here when absent. */
  plan?: UpgradePlan;
}

export interface UpgradeStepResult {
  name: string;
  ok: boolean;
  error?: string;
  result?: ReplaceResult;
  /** Nothing done to this name, and why (done meanwhile by someone else). */
  skipped?: string;
}

export interface UpgradeResult {
  plan: UpgradePlan;
  results: UpgradeStepResult[];
}

/** The fleet as it is now, planned for the upgrade (no lock, no change). */
export async function readUpgradePlan(deps: OpsDeps, target: string, change: UpgradeChange, progress: Progress = quietProgress): Promise<UpgradePlan> {
  const observed = await readObserved(deps.spec, deps, progress, { id: deps.zoneId, name: deps.spec.dns.zone });
  return planUpgrade(deps.spec, observed, target, change);
}

export async function upgradeFlow(deps: OpsDeps, req: UpgradeRequest): Promise<UpgradeResult> {
  if (req.maxSurge === 0 && req.maxUnavailable === 0) throw new InputError('max surge and max unavailable cannot both be 0: nothing could be replaced');
  const { role } = upgradeTargets(deps.spec, req.target); // InputError for a bad target
  const roleSpec = roleOf(deps.spec, role)!;
  const conv = conventionOf(deps.spec);
  const progress = req.progress ?? quietProgress;
  const plan = req.plan ?? (await readUpgradePlan(deps, req.target, req.change, progress));
  const killFirst = req.maxSurge === 0;
  const queue = new PQueue({ concurrency: killFirst ? req.maxUnavailable : req.maxSurge });
  const results: UpgradeStepResult[] = [];
  let done = 0;

  const upgradeStep = async (step: UpgradeStep, lock: LockHandle | undefined): Promise<ReplaceResult> => {
    const guard = guardOf(deps, lock);
    if (killFirst) {
      guard();
      await terminateConfirmed(deps, [step.from.instanceId], `${step.name}: --max-surge 0 replaces kill-first`);
    }
    const change = req.change;
    return replaceName(deps, {
      name: parseName(step.name, conv),
      role: roleSpec,
      generation: step.generation,
      // What the upgrade does not change is kept from the instance serving now (not taken from fleet.yaml).
      override: {
        instanceType: change.instanceType ?? step.from.type,
        // A market the role has anyway is left to the role, so its on-demand fallback still applies.
        ...(change.market ? { market: change.market } : step.from.market !== roleSpec.market ? { market: step.from.market } : {}),
        ...(change.imageId ? { image: { id: change.imageId } } : step.from.imageId ? { image: { id: step.from.imageId } } : {}),
      },
      strictType: change.instanceType !== undefined,
      // Kill-first has terminated the old instance already.
      replaces: killFirst ? { ip: step.replaces.ip, ttl: step.replaces.ttl } : step.replaces,
      retire: [],
      guard,
      ...(lock ? { fencingToken: lock.fencingToken } : {}),
    });
  };

  await Promise.all(
    plan.steps.map((step) =>
      queue.add(async () => {
        progress.update(`upgrade: ${done}/${plan.steps.length} done, replacing ${step.name}…`);
        try {
          const outcome = await withNameLock(deps, step.name, 'upgrade', async (lock, { waited }): Promise<{ done: ReplaceResult } | { skipped: string }> => {
            // The plan stands unless someone may have acted on the name since it was made.
            if (!waited && !(await changedSince(deps, step.name, step.generation - 1))) return { done: await upgradeStep(step, lock) };
            const now = await observeName(deps, parseName(step.name, conv).fqdn, step.name);
            const again = planUpgrade(deps.spec, now, step.name, req.change);
            const fresh = again.steps[0];
            if (!fresh) return { skipped: again.skipped[0]?.reason ?? 'nothing to do' };
            return { done: await upgradeStep(fresh, lock) };
          });
          if ('done' in outcome) results.push({ name: step.name, ok: true, result: outcome.done });
          else if (outcome.skipped.startsWith('already')) results.push({ name: step.name, ok: true, skipped: `${outcome.skipped}: done meanwhile by whoever held ${step.name} before` });
          // Changed under us into something this upgrade must not touch (killed, record gone): say so, fail.
          else results.push({ name: step.name, ok: false, error: `${step.name} changed while this upgrade waited for it: ${outcome.skipped}` });
        } catch (err) {
          results.push({ name: step.name, ok: false, error: err instanceof Error ? err.message : String(err) });
        }
        done++;
      }),
    ),
  );
  progress.done();
  // In plan order.
  const order = new Map(plan.steps.map((s, i) => [s.name, i]));
  results.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  return { plan, results };
}
