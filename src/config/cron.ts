/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), as Vixie cron
 * reads them: `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, lists `a,b,c`, month
 * names jan-dec and day names sun-sat (any case; names also in ranges: mon-fri).
 * Day-of-week 0 and 7 are both Sunday. Not supported, on purpose: macros (`@daily`),
 * seconds or year fields, `?`, `L`, `W`, `#`, and a step after a single value (`5/15`:
 * write `5-59/15`), because implementations disagree on them.
 */
import { InputError } from '../errors.js';

export interface CronField {
  /** Values the field matches, ascending, without duplicates. */
  values: number[];
  /** The field was `*` (matters for day-of-month/day-of-week, which cron ORs when both are restricted). */
  star: boolean;
}

export interface CronSchedule {
  minute: CronField;
  hour: CronField;
  dayOfMonth: CronField;
  month: CronField;
  /** 0 = Sunday .. 6 = Saturday (7 is folded into 0). */
  dayOfWeek: CronField;
}

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

const FIELDS: readonly FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS },
];

/** A cron expression that does not parse; exit code 2 like every input error. */
export class CronError extends InputError {}

function value(text: string, def: FieldDef): number {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n < def.min || n > def.max) throw new CronError(`${def.name} ${text} is out of range ${def.min}-${def.max}`);
    return n;
  }
  if (def.names) {
    const i = def.names.indexOf(text.toLowerCase());
    if (i !== -1) return def === FIELDS[3] ? i + 1 : i;
    throw new CronError(`${def.name} "${text}" is neither a number ${def.min}-${def.max} nor a name ${def.names[0]}-${def.names[def.names.length - 1]}`);
  }
  throw new CronError(`${def.name} "${text}" is not a number ${def.min}-${def.max}`);
}

function field(text: string, def: FieldDef): CronField {
  const values = new Set<number>();
  const items = text.split(',');
  for (const item of items) {
    if (item === '') throw new CronError(`${def.name} field "${text}" has an empty list item`);
    const m = /^([^/]*)(?:\/(.*))?$/.exec(item)!;
    const base = m[1]!;
    const stepText = m[2];
    let lo: number;
    let hi: number;
    if (base === '*') {
      lo = def.min;
      hi = def === FIELDS[4] ? 6 : def.max;
    } else if (base.includes('-')) {
      const [a, b, ...rest] = base.split('-');
      if (rest.length > 0 || !a || !b) throw new CronError(`${def.name} range "${base}" is not of the form a-b`);
      lo = value(a, def);
      hi = value(b, def);
      if (lo > hi) throw new CronError(`${def.name} range "${base}" runs backwards`);
    } else {
      if (base === '') throw new CronError(`${def.name} field "${text}" has a step without a range`);
      if (stepText !== undefined) throw new CronError(`${def.name} "${item}": a step needs a range or *, e.g. "${base}-${def.max}/${stepText}"`);
      lo = hi = value(base, def);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^[0-9]+$/.test(stepText)) throw new CronError(`${def.name} step "${stepText}" is not a whole number`);
      step = Number(stepText);
      const span = def.max - def.min + 1;
      if (step < 1 || step > span) throw new CronError(`${def.name} step ${stepText} is out of range 1-${span}`);
    }
    for (let v = lo; v <= hi; v += step) values.add(def === FIELDS[4] && v === 7 ? 0 : v);
  }
  return { values: [...values].sort((a, b) => a - b), star: text === '*' };
}

/** Parse a 5-field cron expression; throws an Error whose message says what is wrong. */
export function parseCron(expr: string): CronSchedule {
  const trimmed = expr.trim();
  if (trimmed === '') throw new CronError('cron expression is empty');
  if (trimmed.startsWith('@')) throw new CronError(`macros like "${trimmed.split(/\s/)[0]}" are not supported; write the 5 fields, e.g. "0 3 * * *"`);
  const parts = trimmed.split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(`cron expression has ${parts.length} field${parts.length === 1 ? '' : 's'}; expected 5: minute hour day-of-month month day-of-week`);
  }
  const bad = /[^0-9a-zA-Z*,/-]/.exec(trimmed.replace(/\s+/g, ''));
  if (bad) throw new CronError(`cron expression contains "${bad[0]}", which is not supported; use numbers, names, * , - and /`);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = parts.map((p, i) => field(p, FIELDS[i]!)) as [CronField, CronField, CronField, CronField, CronField];
  return { minute, hour, dayOfMonth, month, dayOfWeek };
}

/** Why `expr` is not a valid 5-field cron expression, or undefined when it is. */
export function cronProblem(expr: string): string | undefined {
  try {
    parseCron(expr);
    return undefined;
  } catch (e) {
    if (e instanceof CronError) return e.message;
    throw e;
  }
}
