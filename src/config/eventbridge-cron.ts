/**
 * TEMP(contract): the chaos engineer owns this file; this is a faithful minimal version so the
 * CDK app can be written against the contract. fleet.yaml's five-field cron -> EventBridge
 * Scheduler's six fields `cron(min hour day-of-month month day-of-week year)`, where one of
 * the two day fields must be `?` and day-of-week counts 1 = SUN .. 7 = SAT.
 */
import { InputError } from '../errors.js';
import { parseCron, type CronField } from './cron.js';

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** Ascending values as a list of ranges: [1,2,3,5] -> "1-3,5". */
function ranges(values: readonly number[], show: (n: number) => string = String): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    parts.push(j > i ? `${show(values[i]!)}-${show(values[j]!)}` : show(values[i]!));
    i = j + 1;
  }
  return parts.join(',');
}

function plain(f: CronField): string {
  return f.star ? '*' : ranges(f.values);
}

export function toEventBridgeCron(cron: string, timezone: string): { expression: string; timezone: string } {
  const s = parseCron(cron);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new InputError(`time zone ${JSON.stringify(timezone)} is not an IANA time zone such as UTC or Europe/Paris`);
  }
  const domRestricted = !s.dayOfMonth.star;
  const dowRestricted = !s.dayOfWeek.star;
  if (domRestricted && dowRestricted) {
    throw new InputError(
      `cron ${JSON.stringify(cron)} restricts both day-of-month and day-of-week (cron runs on either); EventBridge Scheduler needs one of them to be "*"`,
    );
  }
  const dom = dowRestricted ? '?' : plain(s.dayOfMonth);
  const dow = dowRestricted ? ranges(s.dayOfWeek.values, (n) => DAY_NAMES[n]!) : '?';
  return { expression: `cron(${plain(s.minute)} ${plain(s.hour)} ${dom} ${plain(s.month)} ${dow} *)`, timezone };
}
