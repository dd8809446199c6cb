/**
 * `fleet chaos rehearse --nights 30 [--report FILE.html] [--seed N]`: a month of chaos nights
 * against an in-process local cloud (src/sim) whose clock jumps from night to night and runs
 * fast within each, with spot interruptions sprinkled over the days between, through the same
 * night flow as the real job (src/ops/chaos.ts). Per role it reports kills, time-to-rebuilt
 * p50/p95/max, minutes with a name unserved and the nights the guards refused, and why.
 *
 * Wiring only (the edge): the local cloud, AWS SDK clients to it, an ops clock that IS the
 * local cloud's clock (it jumps with it), a private lock directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../errors.js';
import type { FleetSpec } from '../../model.js';
import type { Log } from '../../ports.js';
import type { OpsClock } from '../../ops/clock.js';
import type { OpsDeps } from '../../ops/context.js';
import { DnsWriter } from '../../ops/dns.js';
import { RateLimiter } from '../../ops/limiter.js';
import { InstanceWatcher } from '../../ops/watcher.js';
import { reconcileOnce } from '../../ops/controller.js';
import { runChaosNight } from '../../ops/chaos.js';
import { realTerminator } from '../../ops/kill.js';
import { spotInterruptionTerminator } from '../../ops/chaos-terminators.js';
import { mulberry32, MAX_SEED } from '../../plan/chaos/pick.js';
import { nextRun } from '../../plan/chaos/schedule.js';
import { LIVE_STATES } from '../../plan/inventory.js';
import { TAG } from '../../tags.js';
import { startLocalCloud, type LocalCloud } from '../../sim/index.js';
import type { SimClock } from '../../sim/clock.js';
import { controlSpotInterrupter } from '../../sim/spot-port.js';
import { figures, type RehearsalResult, type RehearsedNight } from '../../chaos/stats.js';
import { rehearsalHtml } from '../../chaos/report.js';
import { fmtMs, whyNoVictim } from '../../ops/chaos.js';
import { makeProgress, type CliIo } from '../io.js';
import { makeDeps, resolvedRegion } from '../wiring.js';
import { makeOpsDeps } from '../opsdeps.js';
import { parseSeed, writeReportFile } from './chaos.js';
import { executeInit, readInitPlan } from '../../ops/init.js';

export interface RehearseOptions {
  nights: string;
  seed: string;
  report?: string;
  speed: string;
}

/** A fixed start, so a rehearsal replays exactly: Monday 2 November 2026, midnight UTC. */
export const REHEARSAL_START = Date.parse('2026-11-02T00:00:00Z');

/** Realistic-ish instance life on the local cloud: boot 20 s, converge 2 min, DNS sync 30 s. */
const REHEARSAL_DELAYS = { bootMs: 20_000, convergeMs: 120_000, dnsSyncMs: 30_000, shutdownMs: 20_000, terminatedVisibleMs: 3600_000 };

/** The ops clock of the rehearsal: the local cloud's clock itself, so it jumps with it. */
function simOpsClock(clock: SimClock): OpsClock {
  return {
    now: () => new Date(Math.floor(clock.now())),
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const cancel = clock.after(Math.max(0, ms), () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        const onAbort = () => {
          cancel();
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

/** Ops deps wired to an in-process local cloud, on its own clock (which jumps with it), with local locks in `lockDir`. */
export async function localCloudOps(specIn: FleetSpec, cloud: LocalCloud, lockDir: string, log: Log = () => {}): Promise<{ ops: OpsDeps; close: () => Promise<void> }> {
  const spec: FleetSpec = { ...structuredClone(specIn), coordination: {}, region: specIn.region ?? cloud.control.region };
  const io: CliIo = { stdout: { write() {} }, stderr: { write() {} }, env: { FLEET_LOCK_DIR: lockDir }, isTTY: false, cwd: process.cwd(), stdinIsTTY: false, ask: async () => '' };
  const deps = makeDeps({ config: '', json: true, endpoint: cloud.endpoint, region: spec.region! }, spec, io);
  const close = async () => {
    for (const c of deps.cleanup) await c().catch(() => {});
    deps.clients.destroy();
  };
  try {
    await executeInit(deps, await readInitPlan(spec, deps, await resolvedRegion(deps)));
    const base = await makeOpsDeps(spec, deps, io, true, { wait: '10m' });
    // Everything that waits or paces runs on the local cloud's clock, which jumps between nights.
    const clock = simOpsClock(cloud.control.clock);
    const limiter = new RateLimiter(clock);
    const pollMs = 5000;
    const ops: OpsDeps = {
      ...base,
      clock,
      log,
      limiter,
      watcher: new InstanceWatcher(deps.instances, clock, limiter, log, { pollMs, visibilityGraceMs: 5 * 60_000 }),
      dnsWriter: new DnsWriter(deps.dns, base.zoneId, clock, limiter, log, { batchWindowMs: 1000, pollMs }),
      pollMs,
    };
    return { ops, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The rehearsal itself (the CLI and the bench call it). */
export async function rehearse(specIn: FleetSpec, opts: { nights: number; seed: number; speed: number; onNight?: (n: RehearsedNight) => void }): Promise<RehearsalResult> {
  const lockDir = mkdtempSync(join(tmpdir(), 'fleet-rehearsal-'));
  const cloud: LocalCloud = await startLocalCloud({ clockSpeed: opts.speed, startTime: REHEARSAL_START, delays: REHEARSAL_DELAYS, idSalt: opts.seed, region: specIn.region ?? 'us-east-1' });
  let close = async () => {};
  try {
    const wired = await localCloudOps(specIn, cloud, lockDir);
    close = wired.close;
    const ops = wired.ops;
    const spec = ops.spec;
    const clock = ops.clock;
    const sim = cloud.control;
    const rng = mulberry32(opts.seed);

    /** The controller: reconcile until nothing is left to do (or a bounded number of passes). */
    const converge = async (): Promise<void> => {
      for (let pass = 0; pass < 20; pass++) {
        const r = await reconcileOnce(ops);
        if (r.plan.actions.length === 0) return;
        if (r.outcomes.some((o) => !o.ok)) await clock.sleep(spec.reconcile.intervalMs);
      }
    };
    await converge();

    const terminators = { terminate: realTerminator, 'spot-interruption': spotInterruptionTerminator(controlSpotInterrupter(sim)) };
    const nights: RehearsedNight[] = [];
    let at = new Date(sim.clock.now());
    for (let n = 1; n <= opts.nights; n++) {
      const night = nextRun(spec.chaos.schedule, spec.chaos.timezone, at);
      // Spot interruptions sprinkled over the day before the night: the controller heals each.
      const interruptions: RehearsedNight['interruptions'] = [];
      const spots = sim.ec2.instances().filter((i) => i.market === 'spot' && i.state === 'running' && i.tags[TAG.fleet] === spec.fleet);
      const times = spots.filter(() => rng() < 0.08).map((i) => ({ i, t: at.getTime() + rng() * Math.max(0, night.getTime() - at.getTime() - 3600_000) }));
      times.sort((a, b) => a.t - b.t);
      for (const { i, t } of times) {
        const now = sim.clock.now();
        if (t > now) sim.clock.advance(t - now);
        const seen = sim.ec2.instance(i.instanceId);
        if (!seen || seen.state !== 'running') continue;
        sim.interruptSpot(i.instanceId);
        const name = i.tags[TAG.name] ?? '?';
        // The controller notices the termination at its next interval after the two-minute warning.
        sim.clock.advance(120_000 + REHEARSAL_DELAYS.shutdownMs);
        const gone = sim.clock.now();
        sim.clock.advance(Math.floor(rng() * spec.reconcile.intervalMs));
        await converge();
        const rebuilt = sim.ec2.instances().some((x) => x.tags[TAG.name] === name && x.instanceId !== i.instanceId && LIVE_STATES.has(x.state as never));
        interruptions.push({ name, role: name.replace(/-[0-9]+$/, ''), unservedMs: Math.max(0, sim.clock.now() - gone), unservedFrom: new Date(gone).toISOString(), rebuilt });
      }
      const now = sim.clock.now();
      if (night.getTime() > now) sim.clock.advance(night.getTime() - now);
      const seed = Math.floor(rng() * MAX_SEED);
      const report = await runChaosNight(ops, { seed, terminators, who: 'chaos rehearsal', heal: 'reconcile' });
      const rn: RehearsedNight = {
        night: n,
        at: report.at,
        seed,
        kills: report.kills.map((k) => ({ name: k.name, role: k.role, kind: k.kind, ...(k.timeToRebuiltMs !== undefined ? { timeToRebuiltMs: k.timeToRebuiltMs } : {}), unservedMs: k.unservedMs, ...(k.unservedFrom ? { unservedFrom: k.unservedFrom } : {}), withinBudget: k.withinBudget, state: k.state })),
        refused: report.kills.length ? [] : [...(report.plan.victims.length ? [] : whyNoVictim(report.plan)), ...report.refusedUnderLock.map((r) => r.reason)],
        ...(report.stopped ? { stopped: report.stopped } : {}),
        interruptions,
        ok: report.ok,
      };
      nights.push(rn);
      opts.onNight?.(rn);
      // Whatever the night left (a name not rebuilt in budget) is the controller's next.
      await converge();
      at = new Date(Math.max(sim.clock.now(), night.getTime()));
    }
    const roles = spec.roles.map((r) => r.name);
    return {
      seed: opts.seed,
      spec: { fleet: spec.fleet, schedule: spec.chaos.schedule, timezone: spec.chaos.timezone, budgetMs: spec.chaos.rebuildBudgetSeconds * 1000, roles: spec.roles.map((r) => ({ role: r.name, count: r.count, market: r.market })) },
      nights,
      figures: figures(nights, roles, spec.chaos.rebuildBudgetSeconds * 1000, Object.fromEntries(spec.roles.map((r) => [r.name, r.count]))),
    };
  } finally {
    await close();
    await cloud.close();
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function positiveInt(flag: string, v: string, max: number): number {
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new InputError(`${flag} ${JSON.stringify(v)}: expected a whole number 1..${max}`);
  return Number(v);
}

export function figuresText(r: RehearsalResult): string {
  const f = r.figures;
  const lines = [`chaos rehearsal of fleet ${r.spec.fleet}: ${f.nights} nights (seed ${r.seed}), budget ${fmtMs(f.budgetMs)}; ${f.failedNights} failed night${f.failedNights === 1 ? '' : 's'}; unserved ${f.unservedMinutesPerNight.toFixed(2)} name-minutes per night`];
  lines.push('  role        kills  p50         p95         max         over budget  unserved name-min  role outage min  spot interruptions');
  for (const x of f.roles) {
    const c = (ms: number | undefined) => (ms === undefined ? '-' : fmtMs(ms)).padEnd(12);
    lines.push(`  ${x.role.padEnd(12)}${String(x.kills).padEnd(7)}${c(x.p50Ms)}${c(x.p95Ms)}${c(x.maxMs)}${String(x.overBudget).padEnd(13)}${x.unservedMinutes.toFixed(1).padEnd(19)}${x.roleOutageMinutes.toFixed(1).padEnd(17)}${x.interruptions}`);
  }
  for (const x of f.refused) lines.push(`  refused ${x.nights} night${x.nights === 1 ? '' : 's'}: ${x.reason}`);
  return lines.join('\n') + '\n';
}

export async function rehearseCommand(spec: FleetSpec, io: CliIo, json: boolean, o: RehearseOptions): Promise<number> {
  const nights = positiveInt('--nights', o.nights, 366);
  const seed = parseSeed(o.seed, () => 1);
  const speed = Number(o.speed);
  if (!Number.isFinite(speed) || speed < 1 || speed > 100_000) throw new InputError(`--speed ${JSON.stringify(o.speed)}: expected a number 1..100000`);
  const progress = makeProgress(io, json);
  const r = await rehearse(spec, { nights, seed, speed, onNight: (n) => progress.update(`rehearsal: night ${n.night}/${nights} (${n.at.slice(0, 10)}): ${n.kills.length} kill${n.kills.length === 1 ? '' : 's'}`) });
  progress.done();
  if (o.report) await writeReportFile(o.report, rehearsalHtml(r));
  if (json) io.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else io.stdout.write(figuresText(r) + (o.report ? `report: ${o.report}\n` : ''));
  // A rehearsal is a report: its failed nights are findings in it, not a failure of the command.
  return 0;
}
