/** Blackout windows read in the policy's time zone. Pure: Intl's calendar is data, not a clock. */
import type { BlackoutWindow } from '../../model.js';

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The wall-clock date, weekday and minute of the day at `at` in `timezone`. */
export function localTime(at: Date, timezone: string): { date: string; weekday: number; minute: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return { date: `${parts['year']}-${parts['month']}-${parts['day']}`, weekday: WEEKDAYS[parts['weekday']!]!, minute: Number(parts['hour']) * 60 + Number(parts['minute']) };
}

function inHours(h: { from: number; to: number }, minute: number): boolean {
  return h.from < h.to ? minute >= h.from && minute < h.to : minute >= h.from || minute < h.to;
}

/** The first window `at` falls in, or undefined. */
export function activeBlackout(windows: readonly BlackoutWindow[], at: Date, timezone: string): BlackoutWindow | undefined {
  if (windows.length === 0) return undefined;
  const t = localTime(at, timezone);
  return windows.find(
    (w) =>
      (w.days === undefined || w.days.includes(t.weekday)) &&
      (w.hours === undefined || inHours(w.hours, t.minute)) &&
      (w.dates === undefined || w.dates.some((d) => t.date >= d.from && t.date <= d.to)),
  );
}
