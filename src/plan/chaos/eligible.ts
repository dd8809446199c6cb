/**
 * Who may be killed (as Netflix's Chaos Monkey's `eligible/`): names of roles not opted out,
 * whose instance is not tagged `fleet:chaos=opt-out`, served by a converged instance, and not
 * killed within the policy's minimum time (per the journal).
 */
import { optedOut } from '../../config/chaos-policy.js';
import type { FleetSpec } from '../../model.js';
import { CHAOS_OPT_OUT, TAG } from '../../tags.js';
import { buildInventory, LIVE_STATES, type Inventory, type InventoryRow } from '../inventory.js';
import type { Candidate, ChaosView, KillRecord, Refusal } from './types.js';

/** The serving instance when the name is served and converged with no problem, else why not. */
export function servedAndConverged(row: InventoryRow): { ok: true } | { ok: false; why: string } {
  if (!row.instance || !LIVE_STATES.has(row.instance.state)) return { ok: false, why: row.problems[0]?.message ?? 'not served' };
  if (row.problems.length > 0) return { ok: false, why: row.problems.map((p) => p.message).join('; ') };
  if (!row.instance.converged) return { ok: false, why: `${row.instance.id} has not reported convergence` };
  return { ok: true };
}

function ago(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 120 ? `${m} min` : m < 48 * 60 ? `${Math.round(m / 60)} h` : `${Math.round(m / 1440)} d`;
}

/** The latest kill of `name` in the journal, if any. */
export function lastKill(journal: readonly KillRecord[], name: string): KillRecord | undefined {
  let last: KillRecord | undefined;
  for (const k of journal) if (k.name === name && (!last || k.at > last.at)) last = k;
  return last;
}

/** Why `row` may not be killed, or undefined when it may. */
export function ineligibility(spec: FleetSpec, row: InventoryRow, journal: readonly KillRecord[], now: Date): string | undefined {
  if (!row.desired) return 'not a name fleet.yaml wants';
  const pattern = optedOut(spec.chaos.optOutRoles, row.role);
  if (pattern !== undefined) return pattern === row.role ? `role ${row.role} is opted out` : `role ${row.role} is opted out (pattern "${pattern}")`;
  const served = servedAndConverged(row);
  if (!served.ok) return `not served by a converged instance: ${served.why}`;
  if (row.instance!.tags[TAG.chaos] === CHAOS_OPT_OUT) return `${row.instance!.id} is tagged ${TAG.chaos}=${CHAOS_OPT_OUT}`;
  const last = lastKill(journal, row.name);
  const min = spec.chaos.minSecondsBetweenKills * 1000;
  if (last && now.getTime() - Date.parse(last.at) < min) {
    return `killed ${ago(now.getTime() - Date.parse(last.at))} ago (${last.at}); minimum time between kills ${ago(min)}`;
  }
  return undefined;
}

export interface Eligibility {
  inventory: Inventory;
  eligible: Candidate[];
  excluded: Refusal[];
}

/** Every desired name, split into eligible candidates (in name order) and excluded ones with the reason. */
export function eligibleNames(spec: FleetSpec, view: ChaosView & { observed: NonNullable<ChaosView['observed']> }): Eligibility {
  const inventory = buildInventory(spec, view.observed);
  const eligible: Candidate[] = [];
  const excluded: Refusal[] = [];
  for (const row of inventory.rows) {
    if (!row.desired) continue;
    const why = ineligibility(spec, row, view.journal, view.now);
    if (why === undefined) eligible.push({ name: row.name, role: row.role, instance: row.instance! });
    else excluded.push({ name: row.name, reason: why });
  }
  eligible.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { inventory, eligible, excluded };
}
