/** The event parsers on the exact shapes AWS emits (DESIGN.md section 7) and on broken ones: a result, never a throw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvent, parseEvents, type ParsedEvent } from '../../src/interruption/parse.js';

const ID = 'i-0abc1234567890def';
const spot = {
  version: '0',
  id: '1e5527d7-bb36-4607-3370-4164db56a40e',
  'detail-type': 'EC2 Spot Instance Interruption Warning',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2026-11-25T03:00:00Z',
  region: 'us-east-1',
  resources: [`arn:aws:ec2:us-east-1a:instance/${ID}`],
  detail: { 'instance-id': ID, 'instance-action': 'terminate' },
};
const rebalance = { ...spot, id: 'r-1', 'detail-type': 'EC2 Instance Rebalance Recommendation', detail: { 'instance-id': ID } };
const stateChange = { ...spot, id: 's-1', 'detail-type': 'EC2 Instance State-change Notification', resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${ID}`], detail: { 'instance-id': ID, state: 'terminated' } };
const health = {
  version: '0',
  id: '7fb65329-1628-4cf3-a740-95fg457h1402',
  'detail-type': 'AWS Health Event',
  source: 'aws.health',
  account: '123456789012',
  time: '2026-11-25T03:00:00Z',
  region: 'us-east-1',
  resources: [ID, 'i-0abc1234567890aaa'],
  detail: {
    eventArn: 'arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/x',
    service: 'EC2',
    eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
    eventTypeCategory: 'scheduledChange',
    startTime: 'Sat, 28 Nov 2026 15:10:09 GMT',
    eventDescription: [{ language: 'en_US', latestDescription: 'retirement' }],
    affectedEntities: [{ entityValue: ID, tags: {} }, { entityValue: 'i-0abc1234567890aaa' }, { entityValue: 'vol-0123' }],
  },
};

const cases: { name: string; input: unknown; want: Partial<ParsedEvent> & { kind: ParsedEvent['kind'] }; reason?: RegExp }[] = [
  { name: 'spot warning', input: spot, want: { kind: 'spot-warning', instanceId: ID, action: 'terminate', id: spot.id, time: '2026-11-25T03:00:00.000Z', region: 'us-east-1' } },
  { name: 'spot warning, stop action', input: { ...spot, detail: { 'instance-id': ID, 'instance-action': 'stop' } }, want: { kind: 'spot-warning', action: 'stop' } },
  { name: 'rebalance recommendation', input: rebalance, want: { kind: 'rebalance', instanceId: ID, id: 'r-1' } },
  { name: 'state change', input: stateChange, want: { kind: 'state-change', instanceId: ID, state: 'terminated' } },
  {
    name: 'health scheduled change, two instances, a volume skipped',
    input: health,
    want: { kind: 'scheduled-change', instanceIds: [ID, 'i-0abc1234567890aaa'], eventTypeCode: 'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED', startTime: '2026-11-28T15:10:09.000Z' },
  },
  { name: 'health with ISO startTime', input: { ...health, detail: { ...health.detail, startTime: '2026-11-28T15:10:09Z', eventTypeCode: 'AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED' } }, want: { kind: 'scheduled-change', startTime: '2026-11-28T15:10:09.000Z' } },
  // Broken or foreign: ignored with the reason.
  { name: 'null', input: null, want: { kind: 'ignored' }, reason: /expected a JSON object/ },
  { name: 'a string', input: 'hello', want: { kind: 'ignored' }, reason: /expected a JSON object/ },
  { name: 'another source', input: { ...spot, source: 'aws.autoscaling' }, want: { kind: 'ignored', id: spot.id }, reason: /not an event this handler acts on/ },
  { name: 'another detail-type', input: { ...spot, 'detail-type': 'EC2 Fleet Spot Instance Request' }, want: { kind: 'ignored' }, reason: /not an event this handler acts on/ },
  { name: 'detail-type not a string', input: { ...spot, 'detail-type': 7 }, want: { kind: 'ignored' }, reason: /"detail-type" must be a string, got 7/ },
  { name: 'missing id', input: { ...spot, id: undefined }, want: { kind: 'ignored' }, reason: /"id" must be a non-empty string/ },
  { name: 'bad time', input: { ...spot, time: 'yesterday' }, want: { kind: 'ignored' }, reason: /"time" must be an ISO time/ },
  { name: 'missing detail', input: { ...spot, detail: undefined }, want: { kind: 'ignored' }, reason: /"detail" must be an object/ },
  { name: 'instance-id a number', input: { ...spot, detail: { 'instance-id': 12, 'instance-action': 'terminate' } }, want: { kind: 'ignored' }, reason: /detail.instance-id must be an instance id, got 12/ },
  { name: 'instance-id malformed', input: { ...rebalance, detail: { 'instance-id': 'i-xyz' } }, want: { kind: 'ignored' }, reason: /instance id, got "i-xyz"/ },
  { name: 'unknown instance-action', input: { ...spot, detail: { 'instance-id': ID, 'instance-action': 'explode' } }, want: { kind: 'ignored' }, reason: /instance-action must be one of/ },
  { name: 'unknown state', input: { ...stateChange, detail: { 'instance-id': ID, state: 'gone' } }, want: { kind: 'ignored' }, reason: /detail.state must be one of/ },
  { name: 'health, another service', input: { ...health, detail: { ...health.detail, service: 'RDS' } }, want: { kind: 'ignored' }, reason: /service "RDS" is not EC2/ },
  { name: 'health, an issue not a scheduled change', input: { ...health, detail: { ...health.detail, eventTypeCategory: 'issue' } }, want: { kind: 'ignored' }, reason: /is not scheduledChange/ },
  { name: 'health, entities not a list', input: { ...health, detail: { ...health.detail, affectedEntities: 'i-1' } }, want: { kind: 'ignored' }, reason: /affectedEntities must be a list/ },
  { name: 'health, no instance', input: { ...health, detail: { ...health.detail, affectedEntities: [{ entityValue: 'vol-1' }] } }, want: { kind: 'ignored' }, reason: /no instance among affectedEntities/ },
  { name: 'health, bad startTime', input: { ...health, detail: { ...health.detail, startTime: 'soon' } }, want: { kind: 'ignored' }, reason: /startTime must be a time/ },
];

for (const c of cases) {
  test(`parseEvent: ${c.name}`, () => {
    const got = parseEvent(c.input);
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${k} of ${JSON.stringify(got)}`);
    if (c.reason) assert.match((got as { reason: string }).reason, c.reason);
  });
}

test('parseEvents: an array is a batch, parsed element by element; an empty one is ignored', () => {
  const got = parseEvents([spot, 42, rebalance]);
  assert.deepEqual(got.map((e) => e.kind), ['spot-warning', 'ignored', 'rebalance']);
  assert.deepEqual(parseEvents([]).map((e) => e.kind), ['ignored']);
  assert.deepEqual(parseEvents(health).map((e) => e.kind), ['scheduled-change']);
});

test('parseEvent never throws, whatever it is given', () => {
  const weird: unknown[] = [undefined, 0, true, [], Symbol.iterator, { detail: null }, { source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning', id: 'x', time: '2026-01-01T00:00:00Z', detail: [] }];
  for (const w of weird) assert.equal(parseEvent(w).kind, 'ignored');
});
