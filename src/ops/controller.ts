/** One reconcile pass as a flow: read, plan, execute (the controller's term and the chaos job's healing). */
import type { Plan } from '../model.js';
import { planReconcile } from '../plan/reconcile.js';
import type { Progress } from '../ports.js';
import { executePlan, type ActionOutcome } from './apply.js';
import type { OpsDeps } from './context.js';
import { readObserved } from './observe.js';

const silent: Progress = { update() {}, done() {} };

export async function reconcileOnce(deps: OpsDeps, opts: { only?: string[]; progress?: Progress } = {}): Promise<{ plan: Plan; outcomes: ActionOutcome[] }> {
  const observed = await readObserved(deps.spec, deps, opts.progress ?? silent);
  const full = planReconcile(deps.spec, observed, deps.clock.now(), { orphanGraceMs: deps.spec.reconcile.orphanGraceMs });
  const only = opts.only ? new Set(opts.only) : undefined;
  const plan: Plan = only ? { ...full, actions: full.actions.filter((a) => a.name !== undefined && only.has(a.name)) } : full;
  const outcomes = plan.actions.length ? await executePlan(deps, plan, opts.progress ?? silent) : [];
  return { plan, outcomes };
}
