/** The rehearsal's figures, from its nights (pure): per role kills, time-to-rebuilt p50/p95/max, unserved minutes, refused nights. */
import type { ChaosKind } from '../model.js';

export interface RehearsedKill {
  name: string;
  role: string;
  kind: ChaosKind;
  timeToRebuiltMs?: number;
  unservedMs: number;
  /** ISO time the name became unserved (unserved until then + unservedMs). */
  unservedFrom?: string;
  withinBudget: boolean;
  state: string;
}

export interface RehearsedNight {
  night: number;
  at: string;
  seed: number;
  kills: RehearsedKill[];
  /** Why the night killed nothing (outage check, blackout), when it did not. */
  refused: string[];
  /** A stop condition between kills. */
  stopped?: string[];
  /** Spot interruptions of the day before (sprinkled in), each with its unserved time. */
  interruptions: { name: string; role: string; unservedMs: number; unservedFrom?: string; rebuilt: boolean }[];
  ok: boolean;
}

export interface RoleFigures {
  role: string;
  kills: number;
  p50Ms?: number;
  p95Ms?: number;
  maxMs?: number;
  /** Kills not rebuilt within the budget. */
  overBudget: number;
  /** Name-minutes unserved (chaos kills and spot interruptions). */
  unservedMinutes: number;
  /** Minutes in which no name of the role was served at all (the goal: 0 for a role of more than one name). */
  roleOutageMinutes: number;
  interruptions: number;
}

export interface RehearsalFigures {
  nights: number;
  budgetMs: number;
  roles: RoleFigures[];
  /** Nights that killed nothing, by reason (the reason's first words). */
  refused: { reason: string; nights: number }[];
  failedNights: number;
  unservedMinutesPerNight: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** The reason's kind, so that nights group: "blackout window days sat-sun", "1 name unserved", ... */
function reasonKind(r: string): string {
  if (r.startsWith('blackout window ')) return r.replace(/ \(now .*\)$/, '');
  if (/^\d+ names? unserved/.test(r)) return 'names unserved';
  if (r.startsWith('role ') && r.includes('under its minimum')) return r.replace(/: \d+ converged.*$/, '');
  if (r.startsWith('operation in progress')) return 'operation in progress (a lock held)';
  if (r.startsWith('inventory unreadable')) return 'inventory unreadable';
  if (r.startsWith('no eligible name')) return 'no eligible name';
  const m = /^not killing [a-z0-9]+-[0-9]+: (.*)$/.exec(r);
  if (m) return m[1]!.replace(/[a-z0-9]+-[0-9]+/g, '<name>');
  return r;
}

/** Time during which at least `count` of the intervals overlap (every name of a role down at once). */
export function allDownMs(intervals: readonly { from: number; to: number }[], count: number): number {
  if (count <= 0) return 0;
  const events = intervals.flatMap((i) => (i.to > i.from ? [{ t: i.from, d: 1 }, { t: i.to, d: -1 }] : [])).sort((a, b) => a.t - b.t || a.d - b.d);
  let down = 0;
  let since = 0;
  let total = 0;
  for (const e of events) {
    if (down >= count) total += e.t - since;
    down += e.d;
    since = e.t;
  }
  return total;
}

export function figures(nights: readonly RehearsedNight[], roles: readonly string[], budgetMs: number, counts: Record<string, number> = {}): RehearsalFigures {
  const out: RoleFigures[] = roles.map((role) => {
    const kills = nights.flatMap((n) => n.kills.filter((k) => k.role === role));
    const ttr = kills.flatMap((k) => (k.timeToRebuiltMs !== undefined ? [k.timeToRebuiltMs] : [])).sort((a, b) => a - b);
    const ints = nights.flatMap((n) => n.interruptions.filter((i) => i.role === role));
    const unserved = kills.reduce((s, k) => s + k.unservedMs, 0) + ints.reduce((s, i) => s + i.unservedMs, 0);
    const intervals = [...kills, ...ints].flatMap((x) => (x.unservedFrom ? [{ from: Date.parse(x.unservedFrom), to: Date.parse(x.unservedFrom) + x.unservedMs }] : []));
    const outage = allDownMs(intervals, counts[role] ?? Infinity);
    const f: RoleFigures = { role, kills: kills.length, overBudget: kills.filter((k) => !k.withinBudget).length, unservedMinutes: unserved / 60_000, roleOutageMinutes: outage / 60_000, interruptions: ints.length };
    const p50 = percentile(ttr, 50);
    const p95 = percentile(ttr, 95);
    if (p50 !== undefined) f.p50Ms = p50;
    if (p95 !== undefined) f.p95Ms = p95;
    if (ttr.length) f.maxMs = ttr[ttr.length - 1]!;
    // A kill never rebuilt has no time: it counts as over the budget, and as the worst.
    if (kills.some((k) => k.timeToRebuiltMs === undefined)) f.maxMs = Infinity;
    return f;
  });
  const refused = new Map<string, number>();
  for (const n of nights) {
    if (n.kills.length > 0) continue;
    const kinds = new Set(n.refused.map(reasonKind));
    if (kinds.size === 0) kinds.add('no eligible name passed the guards');
    for (const k of kinds) refused.set(k, (refused.get(k) ?? 0) + 1);
  }
  const totalUnserved = out.reduce((s, r) => s + r.unservedMinutes, 0);
  return {
    nights: nights.length,
    budgetMs,
    roles: out,
    refused: [...refused.entries()].map(([reason, n]) => ({ reason, nights: n })).sort((a, b) => b.nights - a.nights || a.reason.localeCompare(b.reason)),
    failedNights: nights.filter((n) => !n.ok).length,
    unservedMinutesPerNight: nights.length ? totalUnserved / nights.length : 0,
  };
}

export interface RehearsalResult {
  seed: number;
  spec: { fleet: string; schedule: string; timezone: string; budgetMs: number; roles: { role: string; count: number; market: string }[] };
  nights: RehearsedNight[];
  figures: RehearsalFigures;
}
