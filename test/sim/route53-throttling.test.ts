/**
 * The local cloud models Route 53's current throttling (src/sim/faults.ts): an account bucket
 * for all APIs (50 / 10 per second), a bucket per API action (default 50 / 10), and a
 * change-throughput bucket counting record changes; either empty bucket answers HTTP 400
 * `Throttling` "Rate exceeded" and applies nothing. The simulated clock is all but frozen
 * (speed 1e-9) and moved by hand, so no bucket refills behind the test's back.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type Change,
} from '@aws-sdk/client-route-53';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';

let cloud: LocalCloud;
let r53: Route53Client;
let zoneId: string;

async function outcome(p: Promise<unknown>): Promise<'ok' | { code: string; status: number; message: string }> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { code: e.name, status: e.$metadata?.httpStatusCode ?? 0, message: e.message };
  }
}

const list = () => r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 1 }));
const getZone = () => r53.send(new GetHostedZoneCommand({ Id: zoneId }));
const creates = (from: number, n: number): Change[] =>
  Array.from({ length: n }, (_, k) => ({ Action: 'CREATE', ResourceRecordSet: { Name: `web-${String(from + k).padStart(3, '0')}.throttle.example.com`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: `10.0.0.${from + k}` }] } }));
const change = (changes: Change[]) => r53.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }));

/** Calls `fn` n times in a row; how many succeeded before the first throttle, and that throttle. */
async function drain(fn: () => Promise<unknown>, max = 200): Promise<{ ok: number; throttle: Awaited<ReturnType<typeof outcome>> }> {
  let ok = 0;
  for (let i = 0; i < max; i++) {
    const r = await outcome(fn());
    if (r !== 'ok') return { ok, throttle: r };
    ok++;
  }
  return { ok, throttle: 'ok' };
}

const THROTTLED = { code: 'Throttling', status: 400, message: 'Rate exceeded' };

describe('local cloud Route 53 throttling (account, per action, change throughput)', () => {
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: 1e-9 });
    r53 = new Route53Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 });
    const out = await r53.send(new CreateHostedZoneCommand({ Name: 'throttle.example.com', CallerReference: 'throttle-test' }));
    zoneId = out.HostedZone!.Id!.replace('/hostedzone/', '');
  });
  after(async () => {
    r53.destroy();
    await cloud.close();
  });

  test('the account bucket: 50 requests of any actions, then Throttling "Rate exceeded" (HTTP 400)', async () => {
    cloud.control.setThrottling(true);
    // 30 of one action and 20 of another: neither action's own bucket (50) is empty...
    for (let i = 0; i < 30; i++) assert.equal(await outcome(list()), 'ok');
    for (let i = 0; i < 20; i++) assert.equal(await outcome(getZone()), 'ok');
    // ...but the account's is.
    assert.deepEqual(await outcome(list()), THROTTLED);
    assert.deepEqual(await outcome(getZone()), THROTTLED);
    assert.equal(cloud.control.faults.throttled.get('route53:ListResourceRecordSets'), 1);
    // 10 per second: one simulated second later, 10 more.
    cloud.control.clock.advance(1000);
    const after1s = await drain(getZone);
    assert.equal(after1s.ok, 10);
    assert.deepEqual(after1s.throttle, THROTTLED);
    cloud.control.setThrottling(false);
  });

  test("each action's own bucket: 50 ListResourceRecordSets empty it while other actions go on", async () => {
    cloud.control.setThrottling(true, { 'route53:api': { burst: 10_000, refillPerSec: 10_000 } });
    const lists = await drain(list);
    assert.equal(lists.ok, 50);
    assert.deepEqual(lists.throttle, THROTTLED);
    assert.equal(await outcome(getZone()), 'ok', 'GetHostedZone has a bucket of its own');
    cloud.control.clock.advance(500);
    assert.equal((await drain(list)).ok, 5, '10 per second refill: 5 in half a second');
    cloud.control.setThrottling(false);
  });

  test('change throughput: each record change takes a token; a batch the bucket cannot hold is throttled and applies nothing', async () => {
    cloud.control.setThrottling(true, { 'route53:changes': { burst: 5, refillPerSec: 1 } });
    assert.equal(await outcome(change(creates(1, 3))), 'ok');
    // Two tokens left: a batch of three changes is throttled whole.
    assert.deepEqual(await outcome(change(creates(4, 3))), THROTTLED);
    const names = cloud.control.route53.records('throttle.example.com').map((r) => r.name);
    assert.ok(!names.some((n) => n.startsWith('web-004')), 'the throttled batch changed nothing');
    // A throttled request took no token from any bucket: a batch of two still fits.
    assert.equal(await outcome(change(creates(4, 2))), 'ok');
    assert.deepEqual(await outcome(change(creates(6, 1))), THROTTLED);
    cloud.control.clock.advance(1000);
    assert.equal(await outcome(change(creates(6, 1))), 'ok', 'one change per second refill');
    // Reads take no change tokens.
    assert.equal(await outcome(list()), 'ok');
    cloud.control.setThrottling(false);
  });

  test('throttling off: none of the buckets apply', async () => {
    cloud.control.setThrottling(false);
    assert.equal((await drain(list, 120)).ok, 120);
  });
});
