/**
 * The chaos rehearsal in `npm run bench`: FLEET_BENCH_CHAOS_NIGHTS (default 30; 0 skips it)
 * nights of the example fleet.yaml on the in-process local cloud (clock FLEET_BENCH_CHAOS_SPEED
 * times faster, default 200), through the same night flow as `fleet chaos`. Per role:
 * time-to-rebuilt p95 against the policy's budget, unserved name-minutes per night (a terminate
 * kill leaves its name unserved until it is rebuilt, so this measures how long that takes, spot interruptions
 * included), and minutes per night in which a whole role was down (the goal: 0 for every role
 * of more than one name). Simulated time, not wall time.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.js';
import { rehearse } from '../src/cli/commands/rehearse.js';
import { fmtMs } from '../src/ops/chaos.js';
import { envInt, printTable } from './bench-common.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export async function benchChaos(): Promise<{ ok: boolean }> {
  const nights = envInt('FLEET_BENCH_CHAOS_NIGHTS', 30);
  if (nights === 0) return { ok: true };
  const speed = envInt('FLEET_BENCH_CHAOS_SPEED', 200);
  const spec = await loadConfig(join(ROOT, 'fleet.yaml'));
  console.log(`\nfleet chaos rehearse, ${nights} nights of the example fleet.yaml — local cloud clock ${speed}x, times in simulated time`);
  const r = await rehearse(spec, { nights, seed: 1, speed });
  const f = r.figures;
  const counts = new Map(spec.roles.map((x) => [x.name, x.count]));
  printTable(
    f.roles.map((x) => ({
      role: x.role,
      names: counts.get(x.role) ?? 0,
      kills: x.kills,
      'p95 time-to-rebuilt': x.p95Ms === undefined ? '-' : fmtMs(x.p95Ms),
      budget: fmtMs(f.budgetMs),
      'p95 / budget': x.p95Ms === undefined ? '-' : (x.p95Ms / f.budgetMs).toFixed(2),
      'over budget': x.overBudget,
      'unserved name-min / night': (x.unservedMinutes / f.nights).toFixed(2),
      // The goal: 0 for every role of more than one name (a kill never takes a role's last name).
      'role down min / night': (x.roleOutageMinutes / f.nights).toFixed(2),
      'spot interruptions': x.interruptions,
    })),
    ['role'],
  );
  for (const x of f.refused) console.log(`  refused ${x.nights} night${x.nights === 1 ? '' : 's'}: ${x.reason}`);
  console.log(`  ${f.failedNights} failed night${f.failedNights === 1 ? '' : 's'} of ${f.nights}`);
  return { ok: f.failedNights === 0 };
}
