/**
 * fleet.yaml's five-field cron -> an EventBridge Scheduler cron expression (DESIGN.md section 7):
 * six fields `cron(minutes hours day-of-month month day-of-week year)`, `?` in exactly one of
 * the two day fields, day-of-week 1-7 = SUN-SAT, and a time zone beside it.
 *
 * Vixie cron ORs the two day fields when both are restricted (`0 3 1 * mon` runs on the 1st
 * AND on every Monday); EventBridge has no way to say that (one of them must be `?`), so such
 * an expression is refused rather than translated into a schedule that runs on other days.
 */
import { InputError } from '../errors.js';
import { parseCron, type CronField } from './cron.js';

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** Why `tz` is not an IANA time zone Intl knows, or undefined. */
export function timezoneProblem(tz: string): string | undefined {
  if (tz.trim() === '') return 'time zone is empty; expected an IANA name such as Europe/Paris or UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `${JSON.stringify(tz)} is not an IANA time zone such as Europe/Paris, America/New_York or UTC`;
  }
}

/** Values as the shortest list of single values and `a-b` runs. */
function runs(values: readonly number[], render: (v: number) => string): string {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    // Two neighbours read better as a list than as a range.
    if (j - i >= 2) out.push(`${render(values[i]!)}-${render(values[j]!)}`);
    else for (let k = i; k <= j; k++) out.push(render(values[k]!));
    i = j + 1;
  }
  return out.join(',');
}

function full(f: CronField, min: number, max: number): boolean {
  return f.star || (f.values.length === max - min + 1 && f.values[0] === min);
}

function render(f: CronField, min: number, max: number, name: (v: number) => string = String): string {
  return full(f, min, max) ? '*' : runs(f.values, name);
}

/**
 * Translate a five-field cron (as `src/config/cron.ts` reads it) for EventBridge Scheduler.
 * Throws InputError when the cron does not parse, the time zone is unknown, or EventBridge
 * cannot express the schedule.
 */
export function toEventBridgeCron(cron: string, timezone: string): { expression: string; timezone: string } {
  const tz = timezoneProblem(timezone);
  if (tz !== undefined) throw new InputError(tz);
  const c = parseCron(cron);
  const domAll = full(c.dayOfMonth, 1, 31);
  const dowAll = full(c.dayOfWeek, 0, 6);
  const minute = render(c.minute, 0, 59);
  const hour = render(c.hour, 0, 23);
  const month = render(c.month, 1, 12);
  let dom: string;
  let dow: string;
  if (!c.dayOfMonth.star && !c.dayOfWeek.star) {
    // Both written: cron ORs them. One that covers every day makes every day match.
    if (!domAll && !dowAll) {
      throw new InputError(
        `"${cron.trim()}" restricts both day-of-month and day-of-week, which cron reads as either one (OR); EventBridge Scheduler needs "?" in one of them and cannot express that: keep one day field and make the other "*"`,
      );
    }
    dom = '*';
    dow = '?';
  } else if (!c.dayOfWeek.star && !dowAll) {
    dom = '?';
    dow = runs(c.dayOfWeek.values, (v) => DAY_NAMES[v]!);
  } else {
    dom = render(c.dayOfMonth, 1, 31);
    dow = '?';
  }
  return { expression: `cron(${minute} ${hour} ${dom} ${month} ${dow} *)`, timezone };
}

/** Why EventBridge cannot take this cron and time zone, or undefined (for the schema's messages). */
export function eventBridgeProblem(cron: string, timezone: string): string | undefined {
  try {
    toEventBridgeCron(cron, timezone);
    return undefined;
  } catch (e) {
    if (e instanceof InputError) return e.message;
    throw e;
  }
}
