/** When the nightly schedule next fires, in the policy's time zone (pure: the time is given). */
import { parseCron } from '../../config/cron.js';
import { localTime } from './blackout.js';

/** The first minute strictly after `after` at which `cron` fires in `timezone` (searches 400 days). */
export function nextRun(cron: string, timezone: string, after: Date): Date {
  const c = parseCron(cron);
  const has = (f: { values: number[] }, v: number) => f.values.includes(v);
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  const end = t + 400 * 86400_000;
  while (t < end) {
    const d = new Date(t);
    const l = localTime(d, timezone);
    const [, month, day] = l.date.split('-').map(Number) as [number, number, number];
    const hour = Math.floor(l.minute / 60);
    const minute = l.minute % 60;
    const domOk = has(c.dayOfMonth, day);
    const dowOk = has(c.dayOfWeek, l.weekday);
    // Vixie cron: when both day fields are restricted, either one matches.
    const dayOk = c.dayOfMonth.star || c.dayOfWeek.star ? domOk && dowOk : domOk || dowOk;
    if (!has(c.month, month) || !dayOk) {
      t += (1440 - l.minute) * 60_000; // the next local midnight (time zones shift by whole minutes)
      continue;
    }
    if (!has(c.hour, hour)) {
      t += (60 - minute) * 60_000;
      continue;
    }
    if (has(c.minute, minute)) return d;
    t += 60_000;
  }
  throw new RangeError(`"${cron}" does not fire within 400 days`);
}
