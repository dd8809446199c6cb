/**
 * The chaos policy's own leaves (issue 10): blackout windows, role patterns, kinds. Kept out
 * of schema.ts so that the schema gains one block, and so the pure core can reuse the
 * pattern matcher that validation uses (a pattern that matches nothing is an error there).
 */
import type { BlackoutWindow, ChaosKind } from '../model.js';

export const CHAOS_KINDS: readonly ChaosKind[] = ['terminate', 'spot-interruption'];

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** A role pattern: a role name, or a wildcard with `*` (any run) and `?` (one character). */
export function rolePatternProblem(p: string): string | undefined {
  if (!/^[a-z0-9*?]+$/.test(p)) return `${JSON.stringify(p)} is not a role name or a wildcard (lowercase letters, digits, * and ?)`;
  return undefined;
}

export function matchesRole(pattern: string, role: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return re.test(role);
}

export function optedOut(patterns: readonly string[], role: string): string | undefined {
  return patterns.find((p) => matchesRole(p, role));
}

/** `mon`, `sat-sun`, `fri-mon` (wraps): the days it names, or a message. */
export function parseDays(text: string): number[] | string {
  const t = text.trim().toLowerCase();
  const one = (d: string): number | undefined => {
    const i = DAYS.indexOf(d as (typeof DAYS)[number]);
    return i < 0 ? undefined : i;
  };
  const m = /^([a-z]+)(?:-([a-z]+))?$/.exec(t);
  const a = m ? one(m[1]!) : undefined;
  const b = m && m[2] !== undefined ? one(m[2]) : a;
  if (a === undefined || b === undefined) return `${JSON.stringify(text)} is not a day (sun..sat) or a range of days such as mon-fri`;
  const out: number[] = [];
  for (let d = a; ; d = (d + 1) % 7) {
    out.push(d);
    if (d === b) break;
  }
  return out;
}

/** `HH:MM-HH:MM` (the end excluded; an end before the start wraps past midnight). */
export function parseHours(text: string): { from: number; to: number } | string {
  const m = /^\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*$/.exec(text);
  const bad = `${JSON.stringify(text)} is not a time range HH:MM-HH:MM such as "09:00-17:00" (24-hour clock; may wrap past midnight: "22:00-06:00")`;
  if (!m) return bad;
  const [h1, m1, h2, m2] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 || (h2 === 24 && m2 !== 0)) return bad;
  const from = h1 * 60 + m1;
  const to = h2 * 60 + m2;
  if (from === to) return `${JSON.stringify(text)} is an empty time range`;
  return { from, to: to === 1440 ? 0 : to };
}

function dateOk(d: string): boolean {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(d)) return false;
  const t = new Date(d + 'T00:00:00Z');
  return !Number.isNaN(t.getTime()) && t.toISOString().slice(0, 10) === d;
}

/** `2026-12-24` or `2026-12-20..2027-01-02` (inclusive). */
export function parseDateRange(text: string): { from: string; to: string } | string {
  const [a, b, ...rest] = text.trim().split('..');
  const to = b ?? a;
  if (rest.length > 0 || a === undefined || to === undefined || !dateOk(a) || !dateOk(to)) {
    return `${JSON.stringify(text)} is not a date YYYY-MM-DD or a range of dates YYYY-MM-DD..YYYY-MM-DD`;
  }
  if (to < a) return `date range ${JSON.stringify(text)} runs backwards`;
  return { from: a, to };
}

/** A window as fleet.yaml wrote it, for refusals. */
export function describeWindow(w: { days?: string[]; hours?: string; dates?: string[] }): string {
  const parts: string[] = [];
  if (w.days) parts.push(`days ${w.days.join(',')}`);
  if (w.hours) parts.push(`hours ${w.hours}`);
  if (w.dates) parts.push(`dates ${w.dates.join(',')}`);
  return parts.join(' ');
}

export type RawWindow = { days?: string[]; hours?: string; dates?: string[] };

export function toWindow(w: { days?: number[][]; hours?: { from: number; to: number }; dates?: { from: string; to: string }[] }, raw: RawWindow): BlackoutWindow {
  const out: BlackoutWindow = { text: describeWindow(raw) };
  if (w.days) out.days = [...new Set(w.days.flat())].sort((a, b) => a - b);
  if (w.hours) out.hours = w.hours;
  if (w.dates) out.dates = w.dates;
  return out;
}
