/**
 * The kill plan (`fleet kill NAME`, the chaos job's kills): a pure value saying which instance
 * a kill of a name would terminate, or why it terminates nothing. The instance killed is the
 * one the name's record points at, when it is live and tagged with the name; the record stays
 * (the name is rebuilt by the next reconcile, as after any failure).
 */
import type { DnsRecord, Instance } from '../model.js';
import { LIVE_STATES } from './inventory.js';

/** The name as observed now: its A record (zero or one) and the instances tagged with it or serving it. */
export interface NameObservation {
  records: DnsRecord[];
  instances: Instance[];
}

export type KillPlan =
  /** Terminate `victim`, which serves `name`. */
  | { kind: 'kill'; name: string; victim: Instance; record: { ttl: number; values: string[] } }
  /** There is something to kill, but it must not be: the reason says why. */
  | { kind: 'refused'; name: string; reason: string }
  /** Nothing serves the name: nothing to kill. */
  | { kind: 'nothing'; name: string; reason: string };

export interface KillPlanOptions {
  /** Refuse unless the name is served by this instance (the one an operator confirmed, or a chaos night picked). */
  expectInstanceId?: string;
}

export function planKill(name: string, now: NameObservation, opts: KillPlanOptions = {}): KillPlan {
  const rec = now.records[0];
  const serving = rec ? now.instances.find((i) => i.privateIp !== undefined && rec.values.includes(i.privateIp) && LIVE_STATES.has(i.state)) : undefined;
  if (!rec || !serving) {
    return { kind: 'nothing', name, reason: `${name} is not served by a live instance${rec ? ` (record points at ${rec.values.join(', ')})` : ' (no record)'}; nothing to kill` };
  }
  if (serving.name !== undefined && serving.name !== name) {
    return { kind: 'refused', name, reason: `not killing ${serving.id}: the record of ${name} points at it, but it is tagged ${serving.name}; \`fleet apply\` repairs the record` };
  }
  if (opts.expectInstanceId !== undefined && serving.id !== opts.expectInstanceId) {
    return { kind: 'refused', name, reason: `not killing ${name}: it is served by ${serving.id} now, not ${opts.expectInstanceId} (it changed since it was chosen)` };
  }
  return { kind: 'kill', name, victim: serving, record: { ttl: rec.ttl, values: [...rec.values] } };
}

/** One line for people: what the kill does. */
export function describeKill(plan: KillPlan): string {
  if (plan.kind !== 'kill') return plan.reason;
  const v = plan.victim;
  return `kill ${plan.name}: terminate ${v.id} (${v.type} ${v.market} ${v.az}, ${v.privateIp}); the record stays and the next \`fleet apply\` rebuilds the name`;
}
