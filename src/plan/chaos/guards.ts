/**
 * Whether to kill (as Chaos Monkey's checker, and AWS FIS's stop conditions): per-run and
 * per-role caps, never below a role's minimum converged count (counting tonight's kills),
 * blackout windows, and an outage check that FAILS CLOSED: an unreadable inventory, a name
 * unserved, a role under its minimum, an operation in progress (a lock held) -> no kill.
 */
import type { FleetSpec } from '../../model.js';
import type { Inventory } from '../inventory.js';
import { activeBlackout, localTime } from './blackout.js';
import { servedAndConverged } from './eligible.js';
import type { Candidate, ChaosView } from './types.js';

const WEEKDAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export function minConverged(spec: FleetSpec, role: string): number {
  return spec.chaos.minConvergedPerRole[role] ?? spec.chaos.defaultMinConverged;
}

/** Converged, serving names of `role`, not counting names killed tonight (a spot interruption leaves one running for two minutes). */
export function convergedCount(inv: Inventory, view: ChaosView, role: string): number {
  const killed = new Set(view.killedTonight.map((k) => k.name));
  return inv.rows.filter((r) => r.desired && r.role === role && !killed.has(r.name) && servedAndConverged(r).ok).length;
}

function list(items: string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/**
 * The outage check: every reason the fleet is not healthy enough to kill anything now; empty
 * when it is. Names killed tonight are expected to be down until healed: they are not a breach.
 */
export function outageCheck(spec: FleetSpec, view: ChaosView, inv: Inventory | undefined): string[] {
  if (view.observed === undefined || inv === undefined) return [`inventory unreadable: ${view.unreadable ?? 'no observation'}`];
  const out: string[] = [];
  for (const l of view.locks) out.push(`operation in progress: ${l.name} is held (${l.holder})`);
  const killed = new Set(view.killedTonight.map((k) => k.name));
  const unserved = inv.rows.filter((r) => r.desired && !killed.has(r.name)).flatMap((r) => {
    const s = servedAndConverged(r);
    return s.ok ? [] : [`${r.name} (${s.why})`];
  });
  if (unserved.length > 0) out.push(`${unserved.length} name${unserved.length === 1 ? '' : 's'} unserved: ${list(unserved)}`);
  for (const role of spec.roles) {
    const min = Math.min(minConverged(spec, role.name), role.count);
    // Tonight's kills stayed within the minimum when made: a role below it now is degraded.
    const live = convergedCount(inv, view, role.name);
    if (live < min) out.push(`role ${role.name} under its minimum: ${live} converged, at least ${min} required`);
  }
  return out;
}

/** Why the clock is inside a blackout window, or undefined. */
export function blackoutCheck(spec: FleetSpec, now: Date): string | undefined {
  const w = activeBlackout(spec.chaos.blackouts, now, spec.chaos.timezone);
  if (!w) return undefined;
  const t = localTime(now, spec.chaos.timezone);
  const hhmm = `${String(Math.floor(t.minute / 60)).padStart(2, '0')}:${String(t.minute % 60).padStart(2, '0')}`;
  return `blackout window ${w.text} (now ${WEEKDAY[t.weekday]} ${t.date} ${hhmm} ${spec.chaos.timezone})`;
}

/**
 * Whether `c` may be killed, given the kills already made tonight and the ones planned before
 * it: a refusal reason (`not killing web-02: role web at its minimum of 3 converged`), or undefined.
 */
export function guardKill(spec: FleetSpec, view: ChaosView, inv: Inventory, c: Candidate, planned: readonly Candidate[]): string | undefined {
  const p = spec.chaos;
  const tonight = view.killedTonight.length + planned.length;
  if (tonight >= p.maxKillsPerRun) return `not killing ${c.name}: ${tonight} kill${tonight === 1 ? '' : 's'} this run already (max-kills-per-run ${p.maxKillsPerRun})`;
  const inRole = view.killedTonight.filter((k) => k.role === c.role).length + planned.filter((x) => x.role === c.role).length;
  if (inRole >= p.maxKillsPerRole) return `not killing ${c.name}: ${inRole} kill${inRole === 1 ? '' : 's'} in role ${c.role} this run already (max-kills-per-role ${p.maxKillsPerRole})`;
  const min = minConverged(spec, c.role);
  const after = convergedCount(inv, view, c.role) - planned.filter((x) => x.role === c.role).length - 1;
  if (after < min) return `not killing ${c.name}: role ${c.role} at its minimum of ${min} converged`;
  return undefined;
}
