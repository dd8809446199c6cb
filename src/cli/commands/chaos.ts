/**
 * `fleet chaos`: the nightly chaos monkey at the command line (leashed by default: it prints
 * the night and changes nothing), `fleet chaos history`, and `fleet chaos rehearse`. Parsing,
 * wiring and rendering only: the night is src/ops/chaos.ts, the choice src/plan/chaos.
 */
import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { FleetError, InputError } from '../../errors.js';
import type { ChaosKind, FleetSpec } from '../../model.js';
import { parseDurationSeconds } from '../../config/index.js';
import { MAX_SEED } from '../../plan/chaos/pick.js';
import { failureReport, fmtMs, runChaosNight, summaryLine, type NightReport } from '../../ops/chaos.js';
import { spotInterruptionTerminator } from '../../ops/chaos-terminators.js';
import { realTerminator, type Terminator } from '../../ops/kill.js';
import { readJournal } from '../../ops/journal.js';
import { httpSpotInterrupter, isLocalCloud } from '../../sim/spot-port.js';
import { makeProgress, confirm, type CliIo } from '../io.js';
import { makeOpsDeps, type OpsCliOptions } from '../opsdeps.js';
import type { Deps } from '../wiring.js';
import { userInfo, hostname } from 'node:os';

export interface ChaosOptions extends OpsCliOptions {
  seed?: string;
  unleash?: boolean;
  yes?: boolean;
  nightly?: boolean;
  waitForController?: boolean;
}

/** The chaos job waits this long for a name someone else works on (an upgrade), then re-checks it. */
const DEFAULT_CHAOS_WAIT = '10m';

export function parseSeed(v: string | undefined, rng: () => number): number {
  if (v === undefined) return rng();
  if (!/^[0-9]+$/.test(v) || Number(v) > MAX_SEED) throw new InputError(`--seed ${JSON.stringify(v)}: expected a whole number 0..${MAX_SEED}`);
  return Number(v);
}

/** A random seed at the edge (the core never draws randomness itself). */
export const randomSeed = (): number => randomInt(0, MAX_SEED);

function who(io: CliIo): string {
  let user = io.env['USER'] ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry: keep $USER */
  }
  return `chaos by ${user}@${hostname()}`;
}

/** The terminators an unleashed night may use: terminate always; a spot interruption on a local cloud. */
async function terminators(spec: FleetSpec, deps: Deps): Promise<Partial<Record<ChaosKind, Terminator>>> {
  const out: Partial<Record<ChaosKind, Terminator>> = { terminate: realTerminator };
  if (spec.chaos.kinds.includes('spot-interruption') && deps.endpoint && (await isLocalCloud(deps.endpoint))) out['spot-interruption'] = spotInterruptionTerminator(httpSpotInterrupter(deps.endpoint));
  return out;
}

export async function chaosCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: ChaosOptions, rng: () => number = randomSeed): Promise<number> {
  const seed = parseSeed(o.seed, rng);
  // The nightly job follows fleet.yaml's leash; at the command line only --unleash kills.
  const unleash = o.nightly ? !spec.chaos.leashed : Boolean(o.unleash);
  if (unleash && !o.yes && !o.nightly && !io.stdinIsTTY) throw new InputError('refusing to unleash chaos without --yes: there is no terminal to ask (add --yes to a cron line or a script)');
  // A leashed night does not wait for a name someone works on: it says who holds it.
  const ops = await makeOpsDeps(spec, deps, io, json, { ...o, wait: o.wait ?? (unleash ? DEFAULT_CHAOS_WAIT : '0') });
  const kinds = unleash ? await terminators(spec, deps) : undefined;
  if (kinds && !spec.chaos.kinds.some((k) => kinds[k])) {
    throw new InputError(`chaos.kinds [${spec.chaos.kinds.join(', ')}]: a spot interruption can only be made on the local cloud (fleet sim); add terminate to kinds`);
  }
  if (unleash && !o.yes && !o.nightly && !(await confirm(io, `unleash chaos on fleet ${spec.fleet} (seed ${seed}): kill up to ${spec.chaos.maxKillsPerRun} name${spec.chaos.maxKillsPerRun === 1 ? '' : 's'}?`))) {
    throw new FleetError('cancelled; nothing was changed', { exitCode: 1 });
  }
  if (o.waitForController && ops.coord && !(await ops.coord.leader().current())) {
    ops.log({ level: 'warn', event: 'no-leader', msg: `--wait-for-controller: no controller leads fleet ${spec.fleet} now; the names killed will wait for one` });
  }
  const report = await runChaosNight(ops, {
    seed,
    ...(kinds ? { terminators: kinds } : {}),
    who: `${who(io)}${o.nightly ? ' (nightly)' : ''}`,
    heal: o.waitForController ? 'controller' : 'reconcile',
    progress: makeProgress(io, json),
  });
  if (json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else render(io, report, ops.clock.now());
  if (!report.ok) {
    if (!json) io.stderr.write(`fleet: chaos night failed: ${report.stopped ? 'stopped by a stop condition' : `${report.kills.filter((k) => !k.withinBudget).length} of ${report.kills.length} names not rebuilt within ${fmtMs(report.budgetMs)}`} (seed ${report.seed})\n`);
    return 1;
  }
  return 0;
}

function render(io: CliIo, r: NightReport, now: Date): void {
  const w = (s: string) => io.stdout.write(s + '\n');
  if (r.leashed) {
    w(`chaos night (leashed: nothing is changed), seed ${r.seed}; replay with --seed ${r.seed}`);
    for (const k of r.wouldKill) if (k.status === 'would-kill') w(`  would kill ${k.name}: ${k.instanceId} (${k.type} ${k.market} ${k.az}) by ${r.plan.victims.find((v) => v.name === k.name)?.kind ?? 'terminate'}`);
    for (const x of r.refusedUnderLock) w(`  refused ${x.name}: ${x.reason}`);
    for (const x of r.plan.refused) w(`  refused ${x.name}: ${x.reason}`);
    for (const x of r.plan.excluded) w(`  not eligible ${x.name}: ${x.reason}`);
    for (const s of r.plan.stop) w(`  no kill: ${s}`);
    for (const n of r.plan.notes) w(`  note: ${n}`);
    w(summaryLine(r));
    return;
  }
  if (r.ok) {
    // Silence is the goal: one line when every name came back within the budget.
    w(summaryLine(r));
    return;
  }
  w(failureReport(r, now));
}

// ---- history ---------------------------------------------------------------------------

export interface HistoryOptions {
  since?: string;
}

/** `--since 2026-11-01` or `--since 7d` (that long ago). */
export function parseSince(v: string | undefined, now: Date): Date {
  if (v === undefined) return new Date(now.getTime() - 30 * 86400_000);
  if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(v) && !Number.isNaN(Date.parse(v + 'T00:00:00Z'))) return new Date(v + 'T00:00:00Z');
  const s = /^[0-9]+$/.test(v) ? undefined : parseDurationSeconds(v);
  if (s === undefined) throw new InputError(`--since ${JSON.stringify(v)}: expected a date YYYY-MM-DD or a duration such as 7d or 12h`);
  return new Date(now.getTime() - s * 1000);
}

export interface HistoryRow {
  at: string;
  name: string;
  instanceId?: string;
  kind?: string;
  seed?: number;
  night?: string;
  who?: string;
  outcome?: { status?: string; timeToRebuiltMs?: number; withinBudget?: boolean; state?: string };
  key: string;
}

export async function chaosHistoryCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: HistoryOptions & OpsCliOptions): Promise<number> {
  const since = parseSince(o.since, new Date());
  const ops = await makeOpsDeps(spec, deps, io, json, o);
  const [entries, proofs] = await Promise.all([readJournal(ops, { since, kind: 'kill' }), readJournal(ops, { since, kind: 'rebuilt' })]);
  // Each kill's proof of healing: the `rebuilt` entry that names its key.
  const proofOf = new Map<string, HistoryRow['outcome']>();
  for (const p of proofs) {
    const b = (p.body ?? {}) as Record<string, unknown>;
    if (typeof b['kill'] === 'string') proofOf.set(b['kill'], b as HistoryRow['outcome']);
  }
  const rows: HistoryRow[] = [];
  for (const e of entries) {
    const b = (e.body ?? {}) as Record<string, unknown>;
    if (b['chaos'] !== true || typeof b['name'] !== 'string') continue;
    rows.push({
      at: String(b['at']),
      name: b['name'],
      ...(typeof b['instanceId'] === 'string' ? { instanceId: b['instanceId'] } : {}),
      ...(typeof b['kind'] === 'string' ? { kind: b['kind'] } : {}),
      ...(typeof b['seed'] === 'number' ? { seed: b['seed'] } : {}),
      ...(typeof b['night'] === 'string' ? { night: b['night'] } : {}),
      ...(typeof b['who'] === 'string' ? { who: b['who'] } : {}),
      ...(proofOf.has(e.key) ? { outcome: proofOf.get(e.key)! } : {}),
      key: e.key,
    });
  }
  if (json) {
    io.stdout.write(JSON.stringify({ since: since.toISOString(), kills: rows }, null, 2) + '\n');
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(`no chaos kill of fleet ${spec.fleet} since ${since.toISOString()}\n`);
    return 0;
  }
  io.stdout.write(`chaos kills of fleet ${spec.fleet} since ${since.toISOString()}:\n`);
  for (const r of rows) {
    const out = !r.outcome ? 'no proof of healing recorded (still healing, or the night was cut off)' : r.outcome.status === 'rebuilt' ? `rebuilt in ${fmtMs(r.outcome.timeToRebuiltMs ?? NaN)}${r.outcome.withinBudget === false ? ' (OVER BUDGET)' : ''}` : `NOT REBUILT: ${r.outcome.state ?? ''}`;
    io.stdout.write(`  ${r.at}  ${r.name}  ${r.instanceId ?? '?'}  ${r.kind ?? 'terminate'}  seed ${r.seed ?? '?'}  night ${r.night ?? '?'}  ${out}\n`);
  }
  return 0;
}

export async function writeReportFile(file: string, html: string): Promise<void> {
  try {
    await writeFile(file, html);
  } catch (err) {
    throw new InputError(`--report ${file}: cannot write it (${err instanceof Error ? err.message : String(err)})`);
  }
}
