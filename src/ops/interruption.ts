/**
 * The spot-interruption handler's flow (DESIGN.md section 4, Spot interruption), shared by the
 * two edges (`fleet handle-event` and the Lambda entry): parse, classify, act.
 *
 * At least once, in any order: an event whose done-marker exists (a create-only object keyed by
 * its id) is a duplicate and does nothing; concurrent duplicates meet at the name's lock, and
 * the one that comes second re-observes the name and finds it replaced. The marker is written
 * only once the event was handled, so a failed attempt is retried (Lambda retries twice).
 *
 * Acting on a name: classify from a fresh look (no lock when there is nothing to do), then take
 * the name's lock (waiting, e.g. behind an operator's upgrade), look again, classify again, and
 * act through the same flows as the CLI: replaceName, a standby launch, terminateConfirmed.
 */
import { FleetError } from '../errors.js';
import type { Instance } from '../model.js';
import { conventionOf, parseName } from '../naming.js';
import type { Records } from '../ports.js';
import { classify, describeInterruptionAction, fleetNameOf, GONE_STATES, type InterruptionAction, type SubjectEvent } from '../plan/interruption.js';
import { interruptionSettings } from '../plan/pools.js';
import { planReconcile } from '../plan/reconcile.js';
import { roleOf } from '../plan/shape.js';
import { describeEvent, instancesOf, parseEvents, type InstanceEvent, type ParsedEvent } from '../interruption/parse.js';
import type { OpsDeps } from './context.js';
import { guardOf, observeName, withNameLock } from './locked.js';
import type { PoolMemory } from './pools.js';
import { journal } from './journal.js';
import { replaceName, type ReplaceResult } from './replace.js';
import { prewarmStandby, retireStandby, type StandbyResult } from './standby.js';

export interface InterruptionDeps extends OpsDeps {
  /** Event markers (and pool memory) under the journal bucket. */
  records: Records;
  pools: PoolMemory;
}

export type OutcomeStatus = 'done' | 'ignored' | 'duplicate' | 'failed' | 'would-do';

export interface SubjectOutcome {
  instanceId: string;
  name?: string;
  status: Exclude<OutcomeStatus, 'duplicate'>;
  action: InterruptionAction['kind'];
  detail: string;
  /** A replacement or a swap: the new instance serving the name. */
  replaced?: Pick<ReplaceResult, 'instanceId' | 'type' | 'market' | 'az' | 'generation' | 'terminated' | 'msToServed'>;
  /** Clock ms from the event's time to the record pointing at a converged replacement. */
  eventToServedMs?: number;
  standby?: StandbyResult;
}

export interface EventOutcome {
  eventId?: string;
  kind: ParsedEvent['kind'];
  /** Clock ms from the event's time to when this handler began on it (delivery, cold start). */
  receivedMs?: number;
  status: OutcomeStatus;
  detail: string;
  subjects: SubjectOutcome[];
}

export interface HandleOptions {
  /** Classify and report; change nothing (no marker, no memory, no launch). */
  dryRun?: boolean;
}

export function markerKey(deps: OpsDeps, eventId: string): string {
  return `${deps.spec.fleet}/events/${eventId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200)}.json`;
}

/** Handle a raw input: one event or an array of them. Never throws for a malformed event. */
export async function handleEvents(deps: InterruptionDeps, raw: unknown, opts: HandleOptions = {}): Promise<EventOutcome[]> {
  const out: EventOutcome[] = [];
  for (const e of parseEvents(raw)) out.push(await handleEvent(deps, e, opts));
  return out;
}

export async function handleEvent(deps: InterruptionDeps, e: ParsedEvent, opts: HandleOptions = {}): Promise<EventOutcome> {
  if (e.kind === 'ignored') {
    deps.log({ level: 'info', event: 'event-ignored', msg: describeEvent(e), ...(e.id ? { eventId: e.id } : {}) });
    return { ...(e.id ? { eventId: e.id } : {}), kind: e.kind, status: 'ignored', detail: e.reason, subjects: [] };
  }
  const base = { eventId: e.id, kind: e.kind, receivedMs: deps.clock.now().getTime() - Date.parse(e.time) };
  if (e.kind === 'state-change' && !GONE_STATES.has(e.state)) {
    // pending, running: nothing can follow from them; no call is worth making.
    deps.log({ level: 'debug', event: 'event-ignored', msg: `${describeEvent(e)}: nothing to do`, eventId: e.id });
    return { ...base, status: 'ignored', detail: `${e.instanceId} is ${e.state}; nothing to do`, subjects: [] };
  }
  deps.log({ level: 'info', event: 'event-received', msg: describeEvent(e), eventId: e.id, kind: e.kind });
  if (deps.signal?.aborted) return { ...base, status: 'failed', detail: 'stopped before handling (deadline)', subjects: [] };
  const marker = markerKey(deps, e.id);
  if (!opts.dryRun) {
    await deps.limiter.take('s3:read');
    const seen = await deps.records.read(marker);
    if (seen !== undefined) {
      deps.log({ level: 'info', event: 'event-duplicate', msg: `event ${e.id} was handled before; nothing to do`, eventId: e.id });
      return { ...base, status: 'duplicate', detail: `event ${e.id} was handled before`, subjects: [] };
    }
  }
  // The subjects, as EC2 knows them now (one call for a scheduled change about several).
  const ids = instancesOf(e);
  await deps.limiter.take('ec2:describe');
  const seen = await deps.instances.describe(ids);
  if (e.kind === 'spot-warning' && !opts.dryRun) await rememberPool(deps, e, seen.get(e.instanceId));
  const subjects = await Promise.all(ids.map((id) => handleSubject(deps, subjectEvent(e, id), seen.get(id), opts)));
  const failed = subjects.filter((s) => s.status === 'failed');
  const status: OutcomeStatus = failed.length > 0 ? 'failed' : opts.dryRun ? 'would-do' : subjects.every((s) => s.status === 'ignored') ? 'ignored' : 'done';
  if (failed.length === 0 && !opts.dryRun) {
    await deps.limiter.take('s3:write');
    await deps.records.create(marker, { eventId: e.id, kind: e.kind, at: deps.clock.now().toISOString(), operation: deps.operationId, subjects: subjects.map((s) => ({ instanceId: s.instanceId, name: s.name, action: s.action, status: s.status })) });
  }
  return { ...base, status, detail: subjects.map((s) => s.detail).join('; '), subjects };
}

function subjectEvent(e: InstanceEvent, instanceId: string): SubjectEvent {
  if (e.kind !== 'scheduled-change') return e;
  const { instanceIds: _ignored, ...rest } = e;
  return { ...rest, instanceId };
}

/** Every spot interruption of a fleet instance is remembered (type, AZ, role, time); failure to write it does not stop the replacement. */
async function rememberPool(deps: InterruptionDeps, e: Extract<InstanceEvent, { kind: 'spot-warning' }>, subject: Instance | undefined): Promise<void> {
  if (!subject || subject.fleet !== deps.spec.fleet || subject.market !== 'spot') return;
  try {
    await deps.limiter.take('s3:write');
    await deps.pools.remember({ instanceType: subject.type, az: subject.az, ...(subject.role ? { role: subject.role } : {}), at: e.time, instanceId: subject.id, eventId: e.id });
    deps.log({ level: 'info', event: 'pool-remembered', msg: `pool ${subject.type} ${subject.az} interrupted at ${e.time}: launches avoid it for ${Math.round(interruptionSettings(deps.spec).avoidPoolMs / 60_000)} min`, instanceType: subject.type, az: subject.az });
  } catch (err) {
    deps.log({ level: 'warn', event: 'pool-memory-failed', msg: `pool ${subject.type} ${subject.az} not recorded: ${err instanceof Error ? err.message : String(err)}` });
  }
}

async function handleSubject(deps: InterruptionDeps, event: SubjectEvent, subject: Instance | undefined, opts: HandleOptions): Promise<SubjectOutcome> {
  const id = event.instanceId;
  const settings = interruptionSettings(deps.spec);
  const conv = conventionOf(deps.spec);
  const owner = fleetNameOf(deps.spec, subject);
  const ignored = (a: Extract<InterruptionAction, { kind: 'ignore' }>): SubjectOutcome => {
    deps.log({ level: 'info', event: 'event-no-op', msg: a.reason, instanceId: id, ...(a.name ? { name: a.name } : {}), eventId: event.id });
    return { instanceId: id, ...(a.name ? { name: a.name } : {}), status: 'ignored', action: 'ignore', detail: a.reason };
  };
  if (typeof owner === 'string') return ignored({ kind: 'ignore', instanceId: id, reason: owner });
  const name = parseName(owner.name, conv);
  const look = async () => {
    const now = await observeName(deps, name.fqdn, name.name);
    // The subject as seen now: through its name (tagged), else as described a moment ago.
    const subj = now.instances.find((i) => i.id === id) ?? subject;
    const rec = now.records[0];
    return { subj, action: classify({ spec: deps.spec, event, subject: subj, name: { ...(rec ? { record: rec } : {}), instances: now.instances }, now: deps.clock.now(), settings }), now };
  };
  try {
    const first = await look();
    if (first.action.kind === 'ignore') return ignored(first.action);
    if (opts.dryRun) return { instanceId: id, name: name.name, status: 'would-do', action: first.action.kind, detail: describeInterruptionAction(first.action) };
    return await withNameLock(deps, name.name, `interruption ${event.kind}`, async (lock) => {
      // Whoever held the name before us may have done the work: look again.
      const again = await look();
      const a = again.action;
      if (a.kind === 'ignore') return ignored(a);
      const role = roleOf(deps.spec, a.role);
      if (!role) throw new FleetError(`${a.name}: role ${a.role} is not in fleet.yaml`);
      const guard = guardOf(deps, lock);
      const fence = lock ? { fencingToken: lock.fencingToken } : {};
      deps.log({ level: 'info', event: 'interruption-action', msg: describeInterruptionAction(a), name: a.name, instanceId: id, eventId: event.id, action: a.kind });
      const rec = again.now.records[0];
      const replaces = rec && rec.values.length === 1 ? { ip: rec.values[0]!, ttl: rec.ttl, instanceId: id } : undefined;
      const done = (detail: string, extra: Partial<SubjectOutcome> = {}): SubjectOutcome => ({ instanceId: id, name: a.name, status: 'done', action: a.kind, detail, ...extra });
      const replaced = async (r: ReplaceResult, started: number): Promise<SubjectOutcome> => {
        const servedAt = started + r.msToServed;
        const eventToServedMs = servedAt - Date.parse(event.time);
        await journal(deps, 'interruption', a.name, { eventId: event.id, event: event.kind, action: a.kind, from: id, to: r.instanceId, eventToServedMs, ...fence });
        return done(`${a.name} -> ${r.instanceId} (${r.type} ${r.market} ${r.az}, generation ${r.generation}); served ${(eventToServedMs / 1000).toFixed(1)} s after the event`, {
          replaced: { instanceId: r.instanceId, type: r.type, market: r.market, az: r.az, generation: r.generation, terminated: r.terminated, msToServed: r.msToServed },
          eventToServedMs,
        });
      };
      switch (a.kind) {
        case 'replace-now':
        case 'replace-before': {
          const started = deps.clock.now().getTime();
          const r = await replaceName(deps, { name, role, generation: a.generation, ...(replaces ? { replaces } : {}), retire: [], guard, ...fence });
          return replaced(r, started);
        }
        case 'swap-to-standby': {
          const started = deps.clock.now().getTime();
          const r = await replaceName(deps, { name, role, generation: 0, adopt: a.standbyId, ...(replaces ? { replaces } : {}), retire: [], guard, ...fence });
          return replaced(r, started);
        }
        case 'prewarm-standby': {
          const standby = await prewarmStandby(deps, { name, role, generation: a.generation, recommendedAt: a.recommendedAt, guard, ...fence });
          await journal(deps, 'standby', a.name, { eventId: event.id, for: id, standby: standby.instanceId, recommendedAt: a.recommendedAt, ...fence });
          // The recommendation may be old enough by now: swap at once rather than wait for a warning.
          const late = await look();
          if (late.action.kind === 'swap-to-standby') {
            const started = deps.clock.now().getTime();
            const r = await replaceName(deps, { name, role, generation: 0, adopt: late.action.standbyId, ...(replaces ? { replaces } : {}), retire: [], guard, ...fence });
            return { ...(await replaced(r, started)), standby };
          }
          return done(`standby ${standby.instanceId} (${standby.type} ${standby.market} ${standby.az}) converged for ${a.name}; kept out of DNS until the warning`, { standby });
        }
        case 'retire-standby':
          await retireStandby(deps, a.name, a.standbyId, a.reason, guard);
          await journal(deps, 'standby-retired', a.name, { eventId: event.id, standby: a.standbyId, reason: a.reason, ...fence });
          return done(`standby ${a.standbyId} of ${a.name} terminated (${a.reason})`);
        case 'reconcile-name': {
          const plan = planReconcile(deps.spec, again.now, deps.clock.now(), { orphanGraceMs: deps.spec.reconcile.orphanGraceMs, only: a.name });
          const step = plan.actions.find((x) => (x.kind === 'launch' || x.kind === 'adopt') && x.name === a.name);
          if (!step || (step.kind !== 'launch' && step.kind !== 'adopt')) return done(`${a.name} needs no launch (${plan.notes.join('; ') || 'converged'})`);
          const started = deps.clock.now().getTime();
          const r = await replaceName(deps, {
            name,
            role,
            generation: step.kind === 'launch' ? step.generation : 0,
            ...(step.kind === 'adopt' ? { adopt: step.instanceId } : {}),
            ...(step.replaces ? { replaces: step.replaces } : {}),
            retire: [],
            guard,
            ...fence,
          });
          return replaced(r, started);
        }
      }
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    deps.log({ level: 'error', event: 'interruption-failed', msg: `${name.name}: ${msg}`, name: name.name, instanceId: id, eventId: event.id });
    return { instanceId: id, name: name.name, status: 'failed', action: 'ignore', detail: msg };
  }
}
