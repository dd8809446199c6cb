/**
 * The reconcile term of the controller (DESIGN.md section 4): while this replica leads,
 * observe, plan and execute every interval, each side effect checked against the term (still
 * leader) and everything written carrying the term's fencing token. `reconcileOnce` is one
 * pass (observe, plan, execute), the same pass `fleet apply` makes; the spot-interruption
 * handler reconciles one name with `only`.
 *
 * A term gets its own deps, derived from the caller's and never written back: its stop signal
 * (the caller's stop or the loss of leadership), its guard, its journal stamped with the
 * leader. Nothing of one term leaks into the next.
 */
import type { LeaderTerm } from '../coord/index.js';
import type { Plan } from '../model.js';
import type { Journal, Progress } from '../ports.js';
import { describeAction, planReconcile } from '../plan/reconcile.js';
import { executePlan, type ActionOutcome } from './apply.js';
import type { OpsDeps } from './context.js';
import { quietProgress, readObserved } from './observe.js';

/** One pass: read the fleet, plan (restricted to `only` names when given), execute. */
export async function reconcileOnce(deps: OpsDeps, opts: { only?: string[]; progress?: Progress } = {}): Promise<{ plan: Plan; outcomes: ActionOutcome[] }> {
  const progress = opts.progress ?? quietProgress;
  const observed = await readObserved(deps.spec, deps, progress, { id: deps.zoneId, name: deps.spec.dns.zone });
  let plan = planReconcile(deps.spec, observed, deps.clock.now(), { orphanGraceMs: deps.spec.reconcile.orphanGraceMs });
  if (opts.only) {
    const only = new Set(opts.only);
    plan = { ...plan, actions: plan.actions.filter((a) => ('name' in a && a.name !== undefined ? only.has(a.name) : false)) };
  }
  if (plan.actions.length === 0) return { plan, outcomes: [] };
  deps.guard?.();
  deps.log({ level: 'info', event: 'reconcile', msg: `reconciling: ${plan.actions.map(describeAction).join('; ')}`, actions: plan.actions.length });
  const outcomes = await executePlan(deps, plan, progress);
  return { plan, outcomes };
}

/** A journal whose entries say which leader wrote them (beside the name lock's fencing token). */
export function leaderJournal(journal: Journal, term: LeaderTerm): Journal {
  const leader = { fencingToken: term.fencingToken, host: term.holder.host, pid: term.holder.pid };
  return {
    create: (key, body) => journal.create(key, body && typeof body === 'object' ? { ...body, leader } : body),
    list: (opts) => journal.list(opts),
    read: (key) => journal.read(key),
  };
}

/** The deps of one term: the caller's, with the term's stop, guard and journal. */
export function termDeps(deps: OpsDeps, term: LeaderTerm, stop: AbortSignal): OpsDeps {
  return {
    ...deps,
    signal: AbortSignal.any([stop, term.lost, ...(deps.signal ? [deps.signal] : [])]),
    guard: () => {
      deps.guard?.();
      term.assertStillLeader();
    },
    journal: leaderJournal(deps.journal, term),
  };
}

export interface TermResult {
  /** Passes made. */
  passes: number;
  /** Consecutive failed passes at the end of the term (0: the last pass succeeded). */
  failures: number;
  /** Why the term ended. */
  ended: 'stopped' | 'leadership-lost' | 'once';
}

/**
 * Reconcile while leader: a pass every interval (backing off after failures, up to 8
 * intervals), until `stop` aborts, leadership is lost, or after one pass with `once`. A pass
 * that fails is logged and retried; it does not end the term. Does not resign: the caller,
 * which campaigned, does.
 */
export async function controllerTerm(deps: OpsDeps, term: LeaderTerm, opts: { stop: AbortSignal; once?: boolean }): Promise<TermResult> {
  const ops = termDeps(deps, term, opts.stop);
  const signal = ops.signal!;
  const log = ops.log;
  let failures = 0;
  let passes = 0;
  while (!signal.aborted) {
    passes++;
    try {
      const { outcomes } = await reconcileOnce(ops);
      const bad = outcomes.filter((x) => !x.ok);
      if (bad.length) log({ level: 'warn', event: 'reconcile-failed', msg: `${bad.length} of ${outcomes.length} actions failed: ${bad.map((x) => x.error).join('; ')}` });
      failures = 0;
    } catch (err) {
      failures++;
      log({ level: 'error', event: 'reconcile-error', msg: `reconcile failed: ${err instanceof Error ? err.message : String(err)}`, failures });
    }
    if (opts.once) return { passes, failures, ended: 'once' };
    await ops.clock.sleep(ops.spec.reconcile.intervalMs * Math.min(8, 2 ** Math.min(failures, 3)), signal).catch(() => {});
  }
  const lost = term.lost.aborted && !opts.stop.aborted;
  if (lost) log({ level: 'warn', event: 'leadership-lost', msg: `lost leadership of fleet ${ops.spec.fleet}; stopped before the next side effect` });
  return { passes, failures, ended: lost ? 'leadership-lost' : 'stopped' };
}
