/**
 * Pool memory (pure): from the interruptions seen (instance type, AZ, role, time), which pools
 * every launch avoids and until when, and which roles launch on-demand until they calm down.
 * Karpenter remembers unavailable offerings for three minutes, in memory; ours lives in S3
 * (src/ops/pools.ts) so that it survives restarts and is shared by the CLI and the Lambda.
 * No I/O, no clock: `now` is passed in.
 */
import type { FleetSpec, InterruptionSettings, Market } from '../model.js';
import type { LaunchShape } from './shape.js';

export const DEFAULT_INTERRUPTION: InterruptionSettings = {
  avoidPoolMs: 30 * 60_000,
  onDemandAfter: 3,
  standbyMaxAgeMs: 20 * 60_000,
  standbyWindowMs: 60 * 60_000,
};

/** A role interrupted `onDemandAfter` times within this window runs on-demand. */
export const CALM_WINDOW_MS = 60 * 60_000;

export function interruptionSettings(spec: FleetSpec): InterruptionSettings {
  return spec.interruption ?? DEFAULT_INTERRUPTION;
}

/** One interruption of a pool, as recorded. */
export interface PoolInterruption {
  instanceType: string;
  az: string;
  /** The role of the interrupted instance, when it was a fleet instance. */
  role?: string;
  /** ISO time of the interruption (the warning's time). */
  at: string;
  instanceId?: string;
  eventId?: string;
}

export interface AvoidedPool {
  instanceType: string;
  az: string;
  /** ISO time until which launches avoid it. */
  until: string;
}

export interface OnDemandRole {
  role: string;
  /** Interruptions within the last hour. */
  interruptions: number;
  /** ISO time when it calms down (fewer than k interruptions within an hour), unless interrupted again. */
  until: string;
}

/** Pools interrupted within `avoidPoolMs` before `now`, each with the latest `until`, soonest expiry last. */
export function avoidedPools(records: readonly PoolInterruption[], now: Date, s: InterruptionSettings): AvoidedPool[] {
  const until = new Map<string, { instanceType: string; az: string; until: number }>();
  for (const r of records) {
    const at = Date.parse(r.at);
    if (!Number.isFinite(at)) continue;
    const end = at + s.avoidPoolMs;
    if (end <= now.getTime() || at > now.getTime() + 60_000) continue;
    const key = `${r.instanceType} ${r.az}`;
    const prev = until.get(key);
    if (!prev || prev.until < end) until.set(key, { instanceType: r.instanceType, az: r.az, until: end });
  }
  return [...until.values()]
    .sort((a, b) => b.until - a.until || a.instanceType.localeCompare(b.instanceType) || a.az.localeCompare(b.az))
    .map((p) => ({ instanceType: p.instanceType, az: p.az, until: new Date(p.until).toISOString() }));
}

/** Roles interrupted at least `onDemandAfter` times within the hour before `now`. */
export function onDemandRoles(records: readonly PoolInterruption[], now: Date, s: InterruptionSettings): OnDemandRole[] {
  if (s.onDemandAfter <= 0) return [];
  const byRole = new Map<string, number[]>();
  for (const r of records) {
    if (!r.role) continue;
    const at = Date.parse(r.at);
    if (!Number.isFinite(at) || at <= now.getTime() - CALM_WINDOW_MS || at > now.getTime() + 60_000) continue;
    byRole.set(r.role, [...(byRole.get(r.role) ?? []), at]);
  }
  const out: OnDemandRole[] = [];
  for (const [role, times] of byRole) {
    if (times.length < s.onDemandAfter) continue;
    // Calm once the k-th most recent interruption leaves the window.
    const sorted = [...times].sort((a, b) => b - a);
    out.push({ role, interruptions: times.length, until: new Date(sorted[s.onDemandAfter - 1]! + CALM_WINDOW_MS).toISOString() });
  }
  return out.sort((a, b) => a.role.localeCompare(b.role));
}

/**
 * The launch shapes in the order memory prefers: shapes in an avoided pool move to the end
 * (kept: a launch never fails only because of memory; only spot shapes: the memory is of spot capacity), and for a role forced on-demand the
 * on-demand shapes come first (spot shapes stay, after them, for when on-demand has no capacity).
 * `zoneOf` maps a subnet to its AZ (undefined: unknown, never avoided).
 */
export function orderByMemory(
  shapes: readonly LaunchShape[],
  zoneOf: (subnetId: string) => string | undefined,
  avoided: readonly { instanceType: string; az: string }[],
  forceOnDemand: boolean,
): { shapes: LaunchShape[]; avoided: LaunchShape[] } {
  let list = [...shapes];
  if (forceOnDemand && list.some((s) => s.market === 'spot')) {
    const onDemand: LaunchShape[] = [];
    for (const s of list) {
      const od = { ...s, market: 'on-demand' as Market };
      if (!onDemand.some((o) => o.instanceType === od.instanceType && o.subnetId === od.subnetId)) onDemand.push(od);
    }
    list = [...onDemand, ...list.filter((s) => s.market === 'spot')];
  }
  // The memory is of spot capacity: an on-demand launch in the same type and AZ is not at risk.
  const isAvoided = (s: LaunchShape): boolean => {
    if (s.market !== 'spot') return false;
    const az = zoneOf(s.subnetId);
    return az !== undefined && avoided.some((p) => p.instanceType === s.instanceType && p.az === az);
  };
  const bad = list.filter(isAvoided);
  return { shapes: [...list.filter((s) => !isAvoided(s)), ...bad], avoided: bad };
}
