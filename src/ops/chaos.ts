/**
 * The chaos night as an ops flow (DESIGN.md section 4, "Chaos"): read the world, plan the
 * night (pure: src/plan/chaos), then for each victim, with the outage check before it (a
 * breach stops the night, as AWS FIS's stop conditions end an experiment), kill it through
 * `killName` with a re-check under the name's lock, the journal entry written before acting;
 * then prove the healing: drive reconcile (or wait for the controller) and measure each name's
 * time-to-rebuilt (kill -> DNS points at a converged replacement) on the injected clock,
 * journal it, and compare it with the policy's budget.
 *
 * The CLI, scripts/nightly-chaos and the scheduled Lambda are edges over `runChaosNight`.
 */
import { randomUUID } from 'node:crypto';
import { describeHolder } from '../coord/index.js';
import type { ChaosKind, DnsRecord, Instance } from '../model.js';
import { conventionOf, parseName, tryParseName } from '../naming.js';
import { LIVE_STATES } from '../plan/inventory.js';
import { planChaos, recheckVictim } from '../plan/chaos/pick.js';
import { outageCheck } from '../plan/chaos/guards.js';
import { buildInventory } from '../plan/inventory.js';
import type { ChaosPlan, ChaosView, HeldLock, KillRecord, Refusal, Victim } from '../plan/chaos/types.js';
import type { Progress } from '../ports.js';
import type { OpsDeps } from './context.js';
import { reconcileOnce } from './controller.js';
import { journal, readJournal } from './journal.js';
import { killName, leashedTerminator, type KillOutcome, type Terminator } from './kill.js';
import { observeName } from './locked.js';
import { readObserved } from './observe.js';

/** How the night heals what it killed. */
export type HealMode =
  /** Drive reconcile itself, for the killed names only. */
  | 'reconcile'
  /** Wait for the controller's leader to rebuild them (`--wait-for-controller`). */
  | 'controller';

export interface NightOptions {
  seed: number;
  /** Unleashed: the terminators that act, by kind. Leashed (undefined): nothing is changed. */
  terminators?: Partial<Record<ChaosKind, Terminator>>;
  /** Who runs the night (journaled): `chaos by alice@ops-1`, `chaos (lambda)`. */
  who: string;
  heal?: HealMode;
  progress?: Progress;
  /** Stop starting new kills after this clock time (a Lambda's remaining time). */
  deadline?: Date;
  /** Called once the night is planned, before its first kill (tests race an operator here). */
  afterPlan?: (plan: ChaosPlan) => Promise<void> | void;
}

/** One kill of the night, and what became of the name. */
export interface NightKill {
  name: string;
  role: string;
  kind: ChaosKind;
  instanceId: string;
  generation?: number;
  killedAt: string;
  journalKey?: string;
  fencingToken?: string;
  /** When DNS pointed at a converged replacement (undefined: not within the budget). */
  rebuiltAt?: string;
  replacement?: string;
  timeToRebuiltMs?: number;
  /** Clock ms the name had no live instance behind its record (a spot interruption serves two more minutes). */
  unservedMs: number;
  /** When the name's record started pointing at no live instance (clock time), if it did. */
  unservedFrom?: string;
  /** What the name looks like at the end: `rebuilt on i-...`, or why not. */
  state: string;
  withinBudget: boolean;
}

export interface NightReport {
  nightId: string;
  seed: number;
  at: string;
  leashed: boolean;
  plan: ChaosPlan;
  /** Leashed: what the night would kill (each re-checked under its lock). */
  wouldKill: KillOutcome[];
  kills: NightKill[];
  /** Victims refused under their lock (the name changed meanwhile), each with the reason. */
  refusedUnderLock: Refusal[];
  /** A stop condition that ended the night between kills. */
  stopped?: string[];
  budgetMs: number;
  /** Every kill rebuilt within the budget and no stop condition: exit 0. */
  ok: boolean;
}

const silent: Progress = { update() {}, done() {} };

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Past kills from the journal (any `kill` entry: an operator's `fleet kill` counts too). */
export async function journalKills(deps: OpsDeps, since: Date): Promise<KillRecord[]> {
  const entries = await readJournal(deps, { since, kind: 'kill' });
  const out: KillRecord[] = [];
  for (const e of entries) {
    const b = e.body as { name?: unknown; at?: unknown; instanceId?: unknown; who?: unknown } | undefined;
    if (!b || typeof b.name !== 'string' || typeof b.at !== 'string') continue;
    out.push({ name: b.name, at: b.at, ...(typeof b.instanceId === 'string' ? { instanceId: b.instanceId } : {}), ...(typeof b.who === 'string' ? { who: b.who } : {}) });
  }
  return out;
}

/** Name locks held by someone now (the leader's lock is not an operation on a name). */
async function heldLocks(deps: OpsDeps, except?: string): Promise<HeldLock[]> {
  if (!deps.coord) return [];
  const conv = conventionOf(deps.spec);
  const now = deps.clock.now();
  const all = await deps.coord.holders();
  return all.filter((l) => l.holder !== undefined && l.name !== except && tryParseName(l.name, conv) !== undefined).map((l) => ({ name: l.name, holder: describeHolder(l.name, l.holder, now) }));
}

/** The world as data for the pure core; anything unreadable makes the view fail closed. */
export async function readChaosView(deps: OpsDeps, killedTonight: { name: string; role: string }[], progress: Progress = silent): Promise<ChaosView> {
  const now = deps.clock.now();
  const since = new Date(now.getTime() - deps.spec.chaos.minSecondsBetweenKills * 1000);
  try {
    const [observed, journal, locks] = await Promise.all([readObserved(deps.spec, deps, progress, { id: deps.zoneId, name: deps.spec.dns.zone }), journalKills(deps, since), heldLocks(deps)]);
    return { observed: { records: observed.records, instances: observed.instances }, locks, journal, killedTonight: [...killedTonight], now };
  } catch (err) {
    return { unreadable: msg(err), locks: [], journal: [], killedTonight: [...killedTonight], now };
  }
}

/** The last full view with one name as it is now under its lock. */
function withName(view: ChaosView, fqdn: string, name: string, now: { records: DnsRecord[]; instances: Instance[] }): ChaosView {
  if (!view.observed) return view;
  const records = [...view.observed.records.filter((r) => r.name !== fqdn), ...now.records];
  const fresh = new Set(now.instances.map((i) => i.id));
  const instances = [...view.observed.instances.filter((i) => i.name !== name && !fresh.has(i.id)), ...now.instances];
  return { ...view, observed: { records, instances } };
}

/** What a killed name looks like now: rebuilt (DNS -> a converged live replacement) or why not. */
async function nameNow(deps: OpsDeps, fqdn: string, name: string, killed: string): Promise<{ rebuilt?: Instance; killedLive: boolean; state: string }> {
  const now = await observeName(deps, fqdn, name);
  const rec = now.records[0];
  const killedInst = now.instances.find((i) => i.id === killed);
  const killedLive = killedInst !== undefined && LIVE_STATES.has(killedInst.state);
  if (!rec) return { killedLive, state: 'no record' };
  const target = now.instances.find((i) => i.privateIp !== undefined && rec.values.includes(i.privateIp) && LIVE_STATES.has(i.state));
  if (target && target.id !== killed && target.converged) return { rebuilt: target, killedLive, state: `rebuilt on ${target.id}` };
  if (target && target.id === killed) return { killedLive, state: `still served by the killed instance ${killed} (${target.state})` };
  if (target) return { killedLive, state: `record points at ${target.id}, which has not reported convergence` };
  const pending = now.instances.filter((i) => i.id !== killed && LIVE_STATES.has(i.state));
  return {
    killedLive,
    state: `unserved: record points at ${rec.values.join(', ')}, which no live instance has${pending.length ? `; ${pending.map((i) => `${i.id} ${i.converged ? 'converged' : 'converging'}`).join(', ')} not swapped in yet` : '; no replacement launched'}`,
  };
}

/**
 * Heal one killed name and measure it: reconcile it (or wait for the controller) until DNS
 * points at a converged replacement or the budget runs out. Each reconcile failure (capacity,
 * convergence timeout) is retried after the poll interval, within the budget.
 */
async function healAndMeasure(deps: OpsDeps, k: NightKill, mode: HealMode, budgetMs: number): Promise<void> {
  const fqdn = parseName(k.name, conventionOf(deps.spec)).fqdn;
  const killedAt = Date.parse(k.killedAt);
  const deadline = killedAt + budgetMs;
  const poll = deps.pollMs ?? 5000;
  let goneAt: number | undefined = k.kind === 'terminate' ? killedAt : undefined;
  let lastError: string | undefined;
  for (;;) {
    let seen: Awaited<ReturnType<typeof nameNow>>;
    try {
      seen = await nameNow(deps, fqdn, k.name, k.instanceId);
    } catch (err) {
      seen = { killedLive: true, state: `unreadable: ${msg(err)}` };
    }
    const now = deps.clock.now().getTime();
    if (goneAt === undefined && !seen.killedLive) goneAt = now;
    if (goneAt !== undefined) k.unservedFrom = new Date(goneAt).toISOString();
    if (seen.rebuilt) {
      k.rebuiltAt = new Date(now).toISOString();
      k.replacement = seen.rebuilt.id;
      k.timeToRebuiltMs = now - killedAt;
      k.unservedMs = goneAt === undefined ? 0 : Math.max(0, now - goneAt);
      k.withinBudget = k.timeToRebuiltMs <= budgetMs;
      k.state = seen.state;
      return;
    }
    const stopped = deps.signal?.aborted ? `; measuring stopped: ${msg(deps.signal.reason)}` : '';
    if (now >= deadline || stopped) {
      k.unservedMs = goneAt === undefined ? 0 : Math.max(0, now - goneAt);
      k.withinBudget = false;
      k.state = `${seen.state}${lastError ? `; last reconcile: ${lastError}` : ''}${stopped}`;
      return;
    }
    if (mode === 'reconcile' && !seen.killedLive) {
      try {
        const r = await reconcileOnce(deps, { only: [k.name] });
        const failed = r.outcomes.find((o) => !o.ok);
        lastError = failed?.error ?? lastError;
        if (!failed && r.outcomes.length > 0) continue; // look again at once: the swap is done
      } catch (err) {
        lastError = msg(err);
      }
    }
    // A stop (Ctrl-C, the Lambda's end) ends the wait; the next turn records the state.
    await deps.clock.sleep(Math.min(poll, Math.max(1, deadline - deps.clock.now().getTime())), deps.signal).catch(() => undefined);
  }
}

/** Run one night. Leashed unless `terminators` is given. Never throws for a refusal: the report says why. */
export async function runChaosNight(deps: OpsDeps, opts: NightOptions): Promise<NightReport> {
  const progress = opts.progress ?? silent;
  const leashed = opts.terminators === undefined;
  const nightId = randomUUID().slice(0, 8);
  const budgetMs = deps.spec.chaos.rebuildBudgetSeconds * 1000;
  // Kinds this night can carry out (a spot interruption needs a cloud that can interrupt).
  const kinds = leashed ? deps.spec.chaos.kinds : deps.spec.chaos.kinds.filter((k) => opts.terminators![k] !== undefined);
  const spec = kinds.length === deps.spec.chaos.kinds.length ? deps.spec : { ...deps.spec, chaos: { ...deps.spec.chaos, kinds } };
  const d: OpsDeps = spec === deps.spec ? deps : { ...deps, spec };

  progress.update('chaos: reading the fleet, the journal and the locks…');
  let view = await readChaosView(d, [], progress);
  const plan = planChaos(spec, view, opts.seed);
  const report: NightReport = { nightId, seed: opts.seed, at: plan.at, leashed, plan, wouldKill: [], kills: [], refusedUnderLock: [], budgetMs, ok: true };
  d.log({ level: 'info', event: 'chaos-plan', msg: `chaos night ${nightId} seed ${opts.seed}: ${plan.victims.length ? plan.victims.map((v) => `${v.name} (${v.kind})`).join(', ') : 'no victim'}${plan.stop.length ? `; ${plan.stop.join('; ')}` : ''}`, seed: opts.seed, nightId });
  if (kinds.length === 0) {
    plan.stop.push(`no kind of kill this night can carry out (policy kinds: ${deps.spec.chaos.kinds.join(', ')})`);
    plan.victims = [];
  }
  const killedTonight: { name: string; role: string }[] = [];
  await opts.afterPlan?.(plan);

  for (const [i, v] of plan.victims.entries()) {
    if (d.signal?.aborted) {
      report.stopped = [`stopped before ${v.name}: ${msg(d.signal.reason)}`];
      break;
    }
    if (opts.deadline && d.clock.now() >= opts.deadline) {
      report.stopped = [`deadline ${opts.deadline.toISOString()} reached before ${v.name}`];
      break;
    }
    if (i > 0 && !leashed) {
      // The outage check between kills: a breach is a stop condition.
      view = await readChaosView(d, killedTonight, progress);
      const inv = view.observed ? buildInventory(spec, view.observed) : undefined;
      const breach = outageCheck(spec, view, inv);
      if (breach.length > 0) {
        report.stopped = breach;
        d.log({ level: 'warn', event: 'chaos-stop', msg: `chaos night ${nightId} stopped before ${v.name}: ${breach.join('; ')}`, nightId });
        break;
      }
    }
    progress.update(`chaos: ${leashed ? 'checking' : 'killing'} ${v.name}…`);
    const outcome = await killVictim(d, v, view, killedTonight, opts, nightId, leashed);
    if (outcome.status === 'would-kill') report.wouldKill.push(outcome);
    else if (outcome.status === 'killed') {
      killedTonight.push({ name: v.name, role: v.role });
      report.kills.push({
        name: v.name,
        role: v.role,
        kind: v.kind,
        instanceId: outcome.instanceId,
        ...(outcome.generation !== undefined ? { generation: outcome.generation } : {}),
        killedAt: outcome.at,
        ...(outcome.journalKey ? { journalKey: outcome.journalKey } : {}),
        ...(outcome.fencingToken ? { fencingToken: outcome.fencingToken } : {}),
        unservedMs: 0,
        state: 'killed',
        withinBudget: false,
      });
    } else if (outcome.status === 'refused' || outcome.status === 'nothing') report.refusedUnderLock.push({ name: v.name, reason: outcome.reason });
  }

  if (report.kills.length > 0) {
    progress.update(`chaos: healing ${report.kills.map((k) => k.name).join(', ')}…`);
    await Promise.all(report.kills.map((k) => healAndMeasure(d, k, opts.heal ?? 'reconcile', budgetMs)));
    // The proof, journaled beside the kill (its entry's outcome says it was killed): a
    // `rebuilt` entry per name, create-only like every entry, naming the kill's key.
    for (const k of report.kills) {
      await journal(d, 'rebuilt', k.name, {
        chaos: true,
        ...(k.journalKey ? { kill: k.journalKey } : {}),
        seed: opts.seed,
        night: nightId,
        instanceId: k.instanceId,
        status: k.rebuiltAt ? 'rebuilt' : 'not-rebuilt',
        state: k.state,
        killedAt: k.killedAt,
        ...(k.rebuiltAt ? { rebuiltAt: k.rebuiltAt, replacement: k.replacement, timeToRebuiltMs: k.timeToRebuiltMs } : {}),
        unservedMs: k.unservedMs,
        budgetMs,
        withinBudget: k.withinBudget,
      });
    }
  }
  progress.done();
  report.ok = report.kills.every((k) => k.withinBudget) && report.stopped === undefined;
  return report;
}

/** One victim through the kill flow, re-checked under its lock against the night's last view. */
function killVictim(deps: OpsDeps, v: Victim, view: ChaosView, killedTonight: { name: string; role: string }[], opts: NightOptions, nightId: string, leashed: boolean): Promise<KillOutcome> {
  const fqdn = parseName(v.name, conventionOf(deps.spec)).fqdn;
  return killName(deps, {
    name: v.name,
    terminator: leashed ? leashedTerminator : opts.terminators![v.kind]!,
    who: opts.who,
    expectInstanceId: v.instance.id,
    recheck: async (now) => {
      // Under the lock: the name as it is now, other locks as they are now (ours excluded).
      const locks = await heldLocks(deps, v.name).catch((err: unknown) => [{ name: '(coordinator)', holder: `unreadable: ${msg(err)}` }]);
      return recheckVictim(deps.spec, { ...withName(view, fqdn, v.name, now), locks, killedTonight: [...killedTonight], now: deps.clock.now() }, v.name);
    },
    journal: { chaos: true, seed: opts.seed, night: nightId, kind: v.kind },
    journalRequired: true,
  }).catch((err: unknown) => ({ status: 'refused' as const, name: v.name, reason: `not killing ${v.name}: ${msg(err)}` }));
}

/** Why a plan has no victim, in a few words per cause: `7 not eligible (4 killed within the minimum time, 3 opted out)`. */
export function whyNoVictim(plan: ChaosPlan): string[] {
  if (plan.stop.length > 0) return plan.stop;
  if (plan.refused.length > 0) return plan.refused.map((r) => r.reason);
  const causes = new Map<string, number>();
  for (const x of plan.excluded) {
    const c = /opted out/.test(x.reason) ? 'opted out' : /fleet:chaos=opt-out/.test(x.reason) ? 'tagged fleet:chaos=opt-out' : /^killed /.test(x.reason) ? 'killed within the minimum time' : /^not served/.test(x.reason) ? 'not served by a converged instance' : x.reason;
    causes.set(c, (causes.get(c) ?? 0) + 1);
  }
  return [`no eligible name (${[...causes.entries()].map(([c, n]) => `${n} ${c}`).join(', ') || 'the fleet has no name'})`];
}

/** The summary line of a night (silence is the goal: one line when all is well). */
export function summaryLine(r: NightReport): string {
  const seed = `seed ${r.seed}`;
  if (r.leashed) {
    const would = r.wouldKill.map((w) => (w.status === 'would-kill' ? `${w.name} (${w.instanceId})` : w.name));
    return `chaos (leashed, ${seed}): ${would.length ? `would kill ${would.join(', ')}` : `no kill: ${[...(r.plan.victims.length ? [] : whyNoVictim(r.plan)), ...r.refusedUnderLock.map((x) => x.reason)].join('; ')}`}; nothing changed`;
  }
  if (r.kills.length === 0) return `chaos (${seed}): no kill: ${[...(r.plan.victims.length ? [] : whyNoVictim(r.plan)), ...(r.stopped ?? []), ...r.refusedUnderLock.map((x) => x.reason)].join('; ')}`;
  const worst = Math.max(...r.kills.map((k) => k.timeToRebuiltMs ?? Infinity));
  return `chaos (${seed}): killed ${r.kills.map((k) => `${k.name} (${k.kind})`).join(', ')}; all rebuilt within the budget of ${fmtMs(r.budgetMs)} (slowest ${fmtMs(worst)})`;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The loud report of a night that failed: which name, in what state, for how long. */
export function failureReport(r: NightReport, now: Date): string {
  const lines = [`CHAOS NIGHT FAILED (seed ${r.seed}, night ${r.nightId}; replay with --seed ${r.seed})`];
  if (r.stopped) lines.push(`  stopped: ${r.stopped.join('; ')}`);
  for (const k of r.kills) {
    if (k.withinBudget) lines.push(`  ${k.name}: rebuilt in ${fmtMs(k.timeToRebuiltMs!)} (within ${fmtMs(r.budgetMs)})`);
    else if (k.rebuiltAt) lines.push(`  ${k.name}: rebuilt only after ${fmtMs(k.timeToRebuiltMs!)}, over the budget of ${fmtMs(r.budgetMs)}`);
    else lines.push(`  ${k.name}: NOT REBUILT ${fmtMs(now.getTime() - Date.parse(k.killedAt))} after it was killed (${k.kind} of ${k.instanceId} at ${k.killedAt}; budget ${fmtMs(r.budgetMs)}): ${k.state}`);
  }
  return lines.join('\n');
}
