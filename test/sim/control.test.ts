/**
 * The local cloud's control endpoint validates every knob (range and type) with 400 and a
 * reason, and no request can break it: after each bad request the clock still answers and a
 * RunInstances still launches.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';

import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { makeClients, type Clients } from './harness.js';

let cloud: LocalCloud;
let clients: Clients;

before(async () => {
  cloud = await startLocalCloud();
  clients = makeClients(cloud.endpoint, 'us-east-1');
});
after(async () => cloud.close());

async function control(path: string, body: unknown, method = 'POST'): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${cloud.endpoint}/_sim${path}`, { method, headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function stillWorks(): Promise<void> {
  const clock = await fetch(`${cloud.endpoint}/_sim/clock`);
  assert.equal(clock.status, 200);
  const now = Date.parse(((await clock.json()) as { now: string }).now);
  assert.ok(Number.isFinite(now), 'the clock tells a valid time');
  const run = await clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  assert.equal(run.Instances?.length, 1);
}

const BAD: [path: string, body: unknown, reason: RegExp][] = [
  ['/clock', { speed: 1e308 }, /"speed" must be a number 0\.000001\.\.1000000, got 1e\+308/],
  ['/clock', { advanceMs: 9e15 }, /"advanceMs" must be a number 0\.\.315360000000, got 9000000000000000/],
  ['/clock', { speed: 0 }, /"speed" must be a number/],
  ['/clock', { speed: 'fast' }, /"speed" must be a number .*got "fast"/],
  ['/clock', { advanceMs: -1 }, /"advanceMs" must be/],
  ['/clock', { sped: 2 }, /the clock takes speed and advanceMs only/],
  ['/delays', { bootMs: 1e308 }, /"bootMs" must be a number 0\.\.604800000/],
  ['/delays', { convergeMs: -5 }, /"convergeMs" must be/],
  ['/delays', { nope: 1 }, /unknown delay "nope"/],
  ['/fail-next', { service: 'ec2', action: 'RunInstances', n: 1.5 }, /"n" must be a whole number/],
  ['/fail-next', { service: 'ec2', action: 'RunInstances', n: 1, status: 200 }, /"status" must be a whole number 500\.\.599/],
  ['/fail-next', { service: 'x'.repeat(10_000), action: 'RunInstances', n: 1 }, /"service" must be at most 256 characters/],
  ['/capacity', { code: 'NoSuchCode' }, /"code" must be one of InsufficientInstanceCapacity/],
  ['/capacity', { times: 0 }, /"times" must be a whole number 1\.\./],
  ['/throttling', { on: true, buckets: { 'ec2:describe': { burst: -1, refillPerSec: 1 } } }, /"burst" must be a number 1\.\./],
  ['/throttling', { on: true, buckets: { 'ec2:describe': { burst: 1, refillPerSec: 1e308 } } }, /"refillPerSec" must be/],
  ['/throttling', { on: true, buckets: [] }, /"buckets" must be an object/],
  ['/consistency', { ms: 1e20 }, /"ms" must be a number 0\.\.604800000/],
  ['/route53/quota', { recordSets: 1e20 }, /"recordSets" must be a whole number 1\.\.10000000/],
  ['/route53/prior-request-not-complete', { zone: 'Z1', n: 1e300 }, /"n" must be a whole number 0\.\.1000000/],
  ['/s3/conflict-next', { bucket: 'b', key: 'k', n: -1 }, /"n" must be a whole number/],
  ['/event-sink', { url: 'file:///etc/passwd' }, /"url" must be an http\(s\) URL or null/],
  ['/clock', '[1,2]', /body must be a JSON object/],
  ['/clock', '{"speed":', /body is not valid JSON/],
];

for (const [path, body, reason] of BAD) {
  test(`POST /_sim${path} ${typeof body === 'string' ? body : JSON.stringify(body).slice(0, 80)}: 400 with the reason, and the cloud still works`, async () => {
    const r = await control(path, body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(String(r.body['error']), reason);
    await stillWorks();
  });
}

test('the knobs still take good values, and the clock refuses a jump past the last date', async () => {
  assert.equal((await control('/clock', { speed: 1_000_000 })).status, 200);
  assert.equal((await control('/clock', { speed: 1 })).status, 200);
  assert.equal((await control('/clock', { advanceMs: 1000 })).status, 200);
  assert.equal((await control('/delays', { bootMs: 0 })).status, 200);
  assert.throws(() => cloud.control.clock.advance(9e15), /past the last date/);
  assert.throws(() => cloud.control.clock.setSpeed(1e308), /at most 1000000/);
  await stillWorks();
});
