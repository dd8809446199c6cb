/**
 * Victims from a seeded generator: same seed + same fleet + same journal -> same victims, so
 * `fleet chaos --seed N` replays a night exactly. mulberry32: a small, well-known 32-bit
 * generator (Tommy Ettinger's), plenty for choosing a few names.
 */
import { optedOut } from '../../config/chaos-policy.js';
import type { ChaosKind, FleetSpec } from '../../model.js';
import { eligibleNames } from './eligible.js';
import { blackoutCheck, guardKill, minConverged, outageCheck } from './guards.js';
import type { Candidate, ChaosPlan, ChaosView, Refusal, Victim } from './types.js';

export type Rng = () => number;

/** A generator of floats in [0, 1) from a 32-bit integer seed. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeds are whole numbers 0..2^32-1 (printed and journaled). */
export const MAX_SEED = 0xffffffff;

/** Fisher-Yates with `rng`: a new array, the input untouched. */
export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The kinds of kill that fit an instance: a spot interruption only interrupts a spot instance. */
export function kindsFor(kinds: readonly ChaosKind[], market: string): ChaosKind[] {
  return kinds.filter((k) => k !== 'spot-interruption' || market === 'spot');
}

/**
 * Pick victims among `candidates` in the order `rng` shuffles them, each accepted only when
 * `guard` lets it (given those accepted before it); each gets a kind that fits it.
 */
export function pickVictims(candidates: readonly Candidate[], kinds: readonly ChaosKind[], rng: Rng, guard: (c: Candidate, planned: readonly Candidate[]) => string | undefined): { victims: Victim[]; refused: Refusal[] } {
  const victims: Victim[] = [];
  const refused: Refusal[] = [];
  for (const c of shuffle(candidates, rng)) {
    const why = guard(c, victims);
    if (why !== undefined) {
      refused.push({ name: c.name, reason: why });
      continue;
    }
    const fit = kindsFor(kinds, c.instance.market);
    if (fit.length === 0) {
      refused.push({ name: c.name, reason: `not killing ${c.name}: ${c.instance.id} is ${c.instance.market}, and the policy's only kind of kill (${kinds.join(', ')}) needs a spot instance` });
      continue;
    }
    victims.push({ ...c, kind: fit[Math.floor(rng() * fit.length)]! });
  }
  return { victims, refused };
}

/** The night's plan from the view and the seed: who, whether, and which victims. */
export function planChaos(spec: FleetSpec, view: ChaosView, seed: number): ChaosPlan {
  const plan: ChaosPlan = { seed, at: view.now.toISOString(), victims: [], refused: [], excluded: [], stop: [], notes: [] };
  for (const r of spec.roles) {
    const min = minConverged(spec, r.name);
    if (r.count > 0 && min >= r.count && optedOut(spec.chaos.optOutRoles, r.name) === undefined) plan.notes.push(`role ${r.name} is never killed: its minimum of ${min} converged is not below its count of ${r.count}`);
  }
  const blackout = blackoutCheck(spec, view.now);
  if (blackout) plan.stop.push(blackout);
  if (view.observed === undefined) {
    plan.stop.push(...outageCheck(spec, view, undefined));
    return plan;
  }
  const e = eligibleNames(spec, { ...view, observed: view.observed });
  plan.excluded = e.excluded;
  plan.stop.push(...outageCheck(spec, view, e.inventory));
  if (plan.stop.length > 0) return plan;
  const picked = pickVictims(e.eligible, spec.chaos.kinds, mulberry32(seed), (c, planned) => guardKill(spec, view, e.inventory, c, planned));
  plan.victims = picked.victims;
  plan.refused = picked.refused;
  return plan;
}

/**
 * Under the victim's lock, with the name as it is now merged into the last full view: is it
 * still eligible, and do the guards still let it? A refusal reason, or undefined.
 */
export function recheckVictim(spec: FleetSpec, view: ChaosView, name: string): string | undefined {
  if (view.observed === undefined) return outageCheck(spec, view, undefined)[0];
  const blackout = blackoutCheck(spec, view.now);
  if (blackout) return `not killing ${name}: ${blackout}`;
  const e = eligibleNames(spec, { ...view, observed: view.observed });
  const stop = outageCheck(spec, view, e.inventory);
  if (stop.length > 0) return `not killing ${name}: ${stop.join('; ')}`;
  const c = e.eligible.find((x) => x.name === name);
  if (!c) return `not killing ${name}: ${e.excluded.find((x) => x.name === name)?.reason ?? 'not a name of the fleet'}`;
  return guardKill(spec, view, e.inventory, c, []);
}
