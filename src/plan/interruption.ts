/**
 * What to do about an event that can take an instance away (DESIGN.md section 4, Spot
 * interruption): pure. The event, the name as it is now (its record and every instance tagged
 * with it, standbys included), the instance the event is about, the time and the settings in;
 * one action out. The ops flow (src/ops/interruption.ts) classifies once to decide whether to
 * take the name's lock, and again under it, from a fresh look: whoever held the lock before
 * (an operator's upgrade, a duplicate of this event) may have done the work.
 *
 * Events arrive at least once and in any order, so every rule reads the name as it is, never
 * the history: a warning for an instance that no longer serves its name does nothing.
 */
import type { DnsRecord, FleetSpec, Instance, InterruptionSettings } from '../model.js';
import { conventionOf, tryParseName } from '../naming.js';
import { TAG } from '../tags.js';
import type { InstanceEvent } from '../interruption/parse.js';
import { LIVE_STATES } from './inventory.js';

export type InterruptionAction =
  /** Replace the name now, into another pool (the interrupted one is avoided). */
  | { kind: 'replace-now'; name: string; role: string; instanceId: string; generation: number; reason: string }
  /** Point the record at the converged standby (compare-and-swap), then terminate `instanceId`. */
  | { kind: 'swap-to-standby'; name: string; role: string; instanceId: string; standbyId: string; reason: string }
  /** Launch and converge a standby for the name (tagged fleet:standby, kept out of DNS). */
  | { kind: 'prewarm-standby'; name: string; role: string; instanceId: string; generation: number; recommendedAt: string; reason: string }
  /** The instance serving the name stopped or went: rebuild the name (reconcile it alone). */
  | { kind: 'reconcile-name'; name: string; role: string; instanceId: string; reason: string }
  /** A scheduled change (retirement, maintenance): replace the name now, well before `startTime`. */
  | { kind: 'replace-before'; name: string; role: string; instanceId: string; generation: number; startTime?: string; reason: string }
  /** The standby outlived its window: terminate it. */
  | { kind: 'retire-standby'; name: string; role: string; instanceId: string; standbyId: string; reason: string }
  | { kind: 'ignore'; name?: string; instanceId?: string; reason: string };

/** One instance's event: a scheduled change about several instances is classified once per instance. */
export type SubjectEvent = Exclude<InstanceEvent, { kind: 'scheduled-change' }> | (Omit<Extract<InstanceEvent, { kind: 'scheduled-change' }>, 'instanceIds'> & { instanceId: string });

export interface NameNow {
  /** The name's A record, if any. */
  record?: DnsRecord;
  /** Instances tagged with the name (every state), and the one the record points at. */
  instances: readonly Instance[];
}

export interface ClassifyInput {
  spec: FleetSpec;
  event: SubjectEvent;
  /** The instance the event is about, as described now; undefined when EC2 does not know it (any more). */
  subject: Instance | undefined;
  /** The subject's name as it is now (undefined when the subject carries no fleet name). */
  name: NameNow | undefined;
  now: Date;
  settings: InterruptionSettings;
}

/** States of a state-change notification that can leave a name unserved. */
export const GONE_STATES: ReadonlySet<string> = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** The warning precedes the action by two minutes; older than this, it is history. */
export const WARNING_STALE_MS = 10 * 60_000;

/** The recommendation time a standby was launched for (its fleet:standby tag), in ms; NaN when not a standby. */
export function standbySince(i: Instance): number {
  const v = i.tags[TAG.standby];
  return v === undefined ? NaN : Date.parse(v);
}

export function isStandby(i: Instance): boolean {
  return i.tags[TAG.standby] !== undefined;
}

/** The fleet name an instance carries, when it is a name fleet.yaml wants; or why not. */
export function fleetNameOf(spec: FleetSpec, i: Instance | undefined): { name: string; role: string } | string {
  if (!i) return 'EC2 does not know the instance (any more)';
  if (i.fleet !== spec.fleet) return `${i.id} is not an instance of fleet ${spec.fleet}${i.fleet ? ` (it belongs to ${i.fleet})` : ''}`;
  if (!i.name) return `${i.id} carries no fleet:name tag`;
  const n = tryParseName(i.name, conventionOf(spec));
  const role = n ? spec.roles.find((r) => r.name === n.role) : undefined;
  if (!n || !role || n.index > role.count) return `${i.id} is tagged ${i.name}, which fleet.yaml does not want`;
  return { name: n.name, role: n.role };
}

export function classify(input: ClassifyInput): InterruptionAction {
  const { spec, event, subject, now, settings } = input;
  const id = event.instanceId;
  const owner = fleetNameOf(spec, subject);
  if (typeof owner === 'string') return { kind: 'ignore', instanceId: id, reason: owner };
  const { name, role } = owner;
  const base = { name, role, instanceId: id };
  const ignore = (reason: string): InterruptionAction => ({ kind: 'ignore', name, instanceId: id, reason: `${name}: ${reason}` });
  const view = input.name ?? { instances: [subject!] };
  const rec = view.record && view.record.type === 'A' ? view.record : undefined;
  const servedIp = rec && rec.values.length === 1 ? rec.values[0] : undefined;
  const serving = subject!.privateIp !== undefined && servedIp === subject!.privateIp;
  const live = (i: Instance) => LIVE_STATES.has(i.state);
  const servedBy = servedIp ? view.instances.find((i) => i.privateIp === servedIp && live(i)) : undefined;
  const standbys = view.instances.filter((i) => i.id !== id && live(i) && isStandby(i) && i.privateIp !== servedIp);
  const ready = standbys.filter((i) => i.state === 'running' && i.converged).sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0))[0];
  const nextGeneration = Math.max(0, ...view.instances.map((i) => i.generation ?? 0)) + 1;
  const elsewhere = servedBy ? `already served by ${servedBy.id}` : servedIp ? `its record points at ${servedIp}, not at ${id}` : 'it has no record';
  // A record pointing at an address no live instance has: the name is down, whoever the event
  // is about (a terminated instance no longer shows its address, so "is it the one serving?"
  // cannot always be answered; "is anyone serving?" can).
  const down = servedIp !== undefined && !servedBy;
  const rebuild = (why: string): InterruptionAction => ({ kind: 'reconcile-name', ...base, reason: `${why}; ${name}'s record points at ${servedIp}, which no live instance has` });

  switch (event.kind) {
    case 'spot-warning': {
      if (!serving && down && !live(subject!)) return rebuild(`${id} is ${subject!.state}`);
      if (!serving) return ignore(`${elsewhere}; nothing to replace`);
      if (!live(subject!)) {
        // The warning came late (or was redelivered): the instance is gone and the name points at it.
        return { kind: 'reconcile-name', ...base, reason: `${id} is ${subject!.state} and still serves the name` };
      }
      if (now.getTime() - Date.parse(event.time) > WARNING_STALE_MS) {
        return ignore(`warning of ${event.time} is stale, yet ${id} still runs and serves the name; left to reconcile`);
      }
      if (ready) return { kind: 'swap-to-standby', ...base, standbyId: ready.id, reason: `interruption warning; standby ${ready.id} is converged` };
      return { kind: 'replace-now', ...base, generation: nextGeneration, reason: `interruption warning for ${id} (${subject!.type} ${subject!.az}); two minutes to replace it` };
    }
    case 'rebalance': {
      if (!serving) return ignore(`${elsewhere}; no standby needed`);
      if (!live(subject!)) return { kind: 'reconcile-name', ...base, reason: `${id} is ${subject!.state} and still serves the name` };
      const standby = ready ?? standbys.sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0))[0];
      if (standby) {
        const since = standbySince(standby);
        const age = Number.isFinite(since) ? now.getTime() - since : 0;
        if (age >= settings.standbyWindowMs) {
          return { kind: 'retire-standby', ...base, standbyId: standby.id, reason: `${id} outlived the standby window (${Math.round(settings.standbyWindowMs / 60_000)} min since the recommendation)` };
        }
        if (standby === ready && age >= settings.standbyMaxAgeMs) {
          return { kind: 'swap-to-standby', ...base, standbyId: ready.id, reason: `the rebalance recommendation is ${Math.round(age / 60_000)} min old (standby-max-age ${Math.round(settings.standbyMaxAgeMs / 60_000)} min)` };
        }
        return ignore(`standby ${standby.id} is ${standby === ready ? 'ready' : 'converging'}; waiting for the warning`);
      }
      // A volume attaches to one instance at a time: a standby could not take it over without the
      // same unserved move the warning's replacement makes anyway.
      if (spec.roles.some((r) => r.name === role && r.volume)) return ignore(`role ${role} has a volume; no standby (the warning replaces the name)`);
      const age = now.getTime() - Date.parse(event.time);
      if (age >= settings.standbyWindowMs) return ignore(`recommendation of ${event.time} is older than the standby window; ${id} outlived it`);
      return { kind: 'prewarm-standby', ...base, generation: nextGeneration, recommendedAt: event.time, reason: `rebalance recommendation for ${id} (${subject!.type} ${subject!.az})` };
    }
    case 'state-change': {
      if (!GONE_STATES.has(event.state)) return ignore(`${id} is ${event.state}; nothing to do`);
      if (!serving && down) return rebuild(`${id} is ${event.state}`);
      if (!serving) {
        if (isStandby(subject!)) return ignore(`standby ${id} is ${event.state}; a later rebalance recommendation launches another`);
        return ignore(`${id} is ${event.state} but does not serve the name (${elsewhere})`);
      }
      return { kind: 'reconcile-name', ...base, reason: `${id}, which serves the name, is ${event.state}` };
    }
    case 'scheduled-change': {
      if (!serving) return ignore(`${elsewhere}; the ${event.eventTypeCode} of ${id} does not matter to it`);
      if (!live(subject!)) return { kind: 'reconcile-name', ...base, reason: `${id} is ${subject!.state} and still serves the name` };
      if (ready) return { kind: 'swap-to-standby', ...base, standbyId: ready.id, reason: `${event.eventTypeCode}; standby ${ready.id} is converged` };
      return {
        kind: 'replace-before',
        ...base,
        generation: nextGeneration,
        ...(event.startTime ? { startTime: event.startTime } : {}),
        reason: `${event.eventTypeCode} for ${id}${event.startTime ? `, scheduled ${event.startTime}` : ''}`,
      };
    }
  }
}

/** One line for people. */
export function describeInterruptionAction(a: InterruptionAction): string {
  switch (a.kind) {
    case 'ignore':
      return `ignore: ${a.reason}`;
    case 'replace-now':
      return `replace ${a.name} now (generation ${a.generation}, away from ${a.instanceId}'s pool): ${a.reason}`;
    case 'swap-to-standby':
      return `swap ${a.name} to standby ${a.standbyId}, then terminate ${a.instanceId}: ${a.reason}`;
    case 'prewarm-standby':
      return `pre-warm a standby for ${a.name} (generation ${a.generation}), kept out of DNS: ${a.reason}`;
    case 'reconcile-name':
      return `reconcile ${a.name}: ${a.reason}`;
    case 'replace-before':
      return `replace ${a.name} now${a.startTime ? `, before ${a.startTime}` : ''} (generation ${a.generation}): ${a.reason}`;
    case 'retire-standby':
      return `terminate standby ${a.standbyId} of ${a.name}: ${a.reason}`;
  }
}
