/**
 * EventBridge events that can take an instance away (DESIGN.md section 7), parsed into our own
 * shapes keyed on `source` + `detail-type`. Pure. Anything else, or anything malformed, is an
 * `ignored` result with the reason: never a throw (a throw would only make EventBridge retry
 * an event that can never be handled).
 *
 * Shapes, as AWS documents them and as the AWS Node Termination Handler and Karpenter read them:
 * - aws.ec2 "EC2 Spot Instance Interruption Warning": detail.instance-id, detail.instance-action
 *   (terminate | stop | hibernate). The resource ARN carries an AZ where the account should be:
 *   we read detail.instance-id only.
 * - aws.ec2 "EC2 Instance Rebalance Recommendation": detail.instance-id.
 * - aws.ec2 "EC2 Instance State-change Notification": detail.instance-id, detail.state.
 * - aws.health "AWS Health Event": detail.service EC2, detail.eventTypeCategory scheduledChange,
 *   detail.eventTypeCode (AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED, ..._MAINTENANCE_...),
 *   detail.affectedEntities[].entityValue (instance ids, possibly several), detail.startTime
 *   (RFC 1123 "Sat, 05 Jun 2016 15:10:09 GMT" or ISO).
 */
import type { InstanceState } from '../model.js';

export const DETAIL_TYPES = {
  spotWarning: 'EC2 Spot Instance Interruption Warning',
  rebalance: 'EC2 Instance Rebalance Recommendation',
  stateChange: 'EC2 Instance State-change Notification',
  health: 'AWS Health Event',
} as const;

interface Base {
  /** The EventBridge event id (dedupe key). */
  id: string;
  /** When AWS emitted the event (ISO). */
  time: string;
  region: string;
}

export type SpotAction = 'terminate' | 'stop' | 'hibernate';

export type InstanceEvent =
  | (Base & { kind: 'spot-warning'; instanceId: string; action: SpotAction })
  | (Base & { kind: 'rebalance'; instanceId: string })
  | (Base & { kind: 'state-change'; instanceId: string; state: InstanceState })
  | (Base & { kind: 'scheduled-change'; instanceIds: string[]; eventTypeCode: string; startTime?: string });

export interface IgnoredEvent {
  kind: 'ignored';
  /** The event id when there was one. */
  id?: string;
  reason: string;
}

export type ParsedEvent = InstanceEvent | IgnoredEvent;

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const STATES: readonly InstanceState[] = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'];
const SPOT_ACTIONS: readonly SpotAction[] = ['terminate', 'stop', 'hibernate'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Parse one event. */
export function parseEvent(raw: unknown): ParsedEvent {
  if (!isObject(raw)) return { kind: 'ignored', reason: `not an EventBridge event: expected a JSON object, got ${show(raw)}` };
  const idRaw = raw['id'];
  const id = typeof idRaw === 'string' && idRaw !== '' ? idRaw : undefined;
  const ignored = (reason: string): IgnoredEvent => ({ kind: 'ignored', ...(id ? { id } : {}), reason });
  const source = raw['source'];
  const detailType = raw['detail-type'];
  if (typeof source !== 'string') return ignored(`"source" must be a string, got ${show(source)}`);
  if (typeof detailType !== 'string') return ignored(`"detail-type" must be a string, got ${show(detailType)}`);
  const what = `${source} "${detailType}"`;
  const known =
    (source === 'aws.ec2' && (detailType === DETAIL_TYPES.spotWarning || detailType === DETAIL_TYPES.rebalance || detailType === DETAIL_TYPES.stateChange)) ||
    (source === 'aws.health' && detailType === DETAIL_TYPES.health);
  if (!known) return ignored(`${what} is not an event this handler acts on`);
  if (!id) return ignored(`${what}: "id" must be a non-empty string, got ${show(idRaw)}`);
  const time = raw['time'];
  if (typeof time !== 'string' || !Number.isFinite(Date.parse(time))) return ignored(`${what} ${id}: "time" must be an ISO time, got ${show(time)}`);
  const region = typeof raw['region'] === 'string' ? raw['region'] : '';
  const detail = raw['detail'];
  if (!isObject(detail)) return ignored(`${what} ${id}: "detail" must be an object, got ${show(detail)}`);
  const base: Base = { id, time: new Date(Date.parse(time)).toISOString(), region };

  if (source === 'aws.health') return parseHealth(base, detail, ignored);

  const instanceId = detail['instance-id'];
  if (typeof instanceId !== 'string' || !INSTANCE_ID.test(instanceId)) return ignored(`${what} ${id}: detail.instance-id must be an instance id, got ${show(instanceId)}`);
  switch (detailType) {
    case DETAIL_TYPES.spotWarning: {
      const action = detail['instance-action'];
      if (typeof action !== 'string' || !(SPOT_ACTIONS as readonly string[]).includes(action)) {
        return ignored(`${what} ${id}: detail.instance-action must be one of ${SPOT_ACTIONS.join(', ')}, got ${show(action)}`);
      }
      return { kind: 'spot-warning', ...base, instanceId, action: action as SpotAction };
    }
    case DETAIL_TYPES.rebalance:
      return { kind: 'rebalance', ...base, instanceId };
    default: {
      const state = detail['state'];
      if (typeof state !== 'string' || !(STATES as readonly string[]).includes(state)) return ignored(`${what} ${id}: detail.state must be one of ${STATES.join(', ')}, got ${show(state)}`);
      return { kind: 'state-change', ...base, instanceId, state: state as InstanceState };
    }
  }
}

function parseHealth(base: Base, detail: Record<string, unknown>, ignored: (reason: string) => IgnoredEvent): ParsedEvent {
  const what = `aws.health "${DETAIL_TYPES.health}" ${base.id}`;
  const service = detail['service'];
  if (service !== 'EC2') return ignored(`${what}: service ${show(service)} is not EC2`);
  const category = detail['eventTypeCategory'];
  if (category !== 'scheduledChange') return ignored(`${what}: eventTypeCategory ${show(category)} is not scheduledChange`);
  const code = detail['eventTypeCode'];
  if (typeof code !== 'string' || !/^AWS_EC2_[A-Z0-9_]+$/.test(code)) return ignored(`${what}: eventTypeCode must be an AWS_EC2_... code, got ${show(code)}`);
  const entities = detail['affectedEntities'];
  if (!Array.isArray(entities)) return ignored(`${what}: detail.affectedEntities must be a list, got ${show(entities)}`);
  // Other entity kinds (dedicated hosts, volumes) are not ours; instances are.
  const ids = [...new Set(entities.flatMap((e) => (isObject(e) && typeof e['entityValue'] === 'string' && INSTANCE_ID.test(e['entityValue']) ? [e['entityValue']] : [])))];
  if (ids.length === 0) return ignored(`${what}: no instance among affectedEntities`);
  const start = detail['startTime'];
  let startTime: string | undefined;
  if (start !== undefined) {
    const t = typeof start === 'string' ? Date.parse(start) : NaN;
    if (!Number.isFinite(t)) return ignored(`${what}: detail.startTime must be a time, got ${show(start)}`);
    startTime = new Date(t).toISOString();
  }
  return { kind: 'scheduled-change', ...base, instanceIds: ids, eventTypeCode: code, ...(startTime ? { startTime } : {}) };
}

/** One event or an array of them (a batch); anything else is one ignored result. */
export function parseEvents(raw: unknown): ParsedEvent[] {
  if (Array.isArray(raw)) return raw.length === 0 ? [{ kind: 'ignored', reason: 'an empty batch' }] : raw.map(parseEvent);
  return [parseEvent(raw)];
}

/** The instances an event is about. */
export function instancesOf(e: InstanceEvent): string[] {
  return e.kind === 'scheduled-change' ? e.instanceIds : [e.instanceId];
}

/** One line for logs and the CLI. */
export function describeEvent(e: ParsedEvent): string {
  switch (e.kind) {
    case 'ignored':
      return `ignored${e.id ? ` ${e.id}` : ''}: ${e.reason}`;
    case 'spot-warning':
      return `spot interruption warning for ${e.instanceId} (${e.action}) at ${e.time}`;
    case 'rebalance':
      return `rebalance recommendation for ${e.instanceId} at ${e.time}`;
    case 'state-change':
      return `${e.instanceId} is ${e.state} at ${e.time}`;
    case 'scheduled-change':
      return `${e.eventTypeCode} for ${e.instanceIds.join(', ')}${e.startTime ? ` starting ${e.startTime}` : ''}`;
  }
}
