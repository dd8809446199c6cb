/**
 * The observe step reads a large zone at Route 53's rate without a throttled call: the local
 * cloud models Route 53's account and per-action buckets (50, refill 10 per second), the
 * limiter paces each page. Time is the local cloud's simulated clock, nearly frozen and moved
 * only by the limiter's waits (a virtual ops clock), so the elapsed time is exact and no wall
 * time is involved.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Route53Client } from '@aws-sdk/client-route-53';
import { EC2Client } from '@aws-sdk/client-ec2';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createRoute53Dns } from '../../src/aws/route53.js';
import { createEc2 } from '../../src/aws/ec2.js';
import { parseConfig } from '../../src/config/index.js';
import { readObserved, quietProgress } from '../../src/ops/observe.js';
import { RateLimiter, ThrottleFeed } from '../../src/ops/limiter.js';
import { reportThrottles } from '../../src/aws/clients.js';
import type { OpsClock } from '../../src/ops/clock.js';
import { fleetYaml } from '../cli/helpers.js';

const ZONE = 'pace.example.com';
const RECORDS = 20_000; // + SOA and NS: 67 pages of 300, past the 50-request burst
const INSTANCES = 2_500; // 3 pages of 1,000

let cloud: LocalCloud;
let r53: Route53Client;
let ec2: EC2Client;

/** An ops clock on the local cloud's time: a wait moves that time forward, at once. */
function virtualClock(c: LocalCloud): OpsClock {
  return {
    now: () => new Date(c.control.clock.now()),
    sleep: async (ms) => {
      c.control.clock.advance(ms);
    },
  };
}

before(async () => {
  cloud = await startLocalCloud({ clockSpeed: 1e-9 });
  const common = { endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 };
  r53 = new Route53Client(common);
  ec2 = new EC2Client(common);
  cloud.control.route53.seedRecords(
    ZONE,
    Array.from({ length: RECORDS }, (_, i) => ({ name: `web-${String(i + 1).padStart(5, '0')}.${ZONE}`, type: 'A', ttl: 60, values: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] })),
  );
  cloud.control.ec2.seedInstances(
    Array.from({ length: INSTANCES }, (_, i) => ({ instanceType: 't3.medium', converged: true, tags: { 'fleet:fleet': 'pace', 'fleet:name': `web-${String(i + 1).padStart(5, '0')}`, 'fleet:role': 'web' } })),
  );
});

after(async () => {
  r53.destroy();
  ec2.destroy();
  await cloud.close();
});

const spec = () => parseConfig(fleetYaml({ fleet: 'pace', zone: ZONE, web: RECORDS, digits: 5, recordQuota: 100_000 }), 'fleet.yaml');

test('paced by the limiter: every page read, not one throttled call, in about the floor Route 53 imposes', async () => {
  cloud.control.setThrottling(true);
  cloud.control.resetCalls();
  const clock = virtualClock(cloud);
  const limiter = new RateLimiter(clock);
  const started = clock.now().getTime();
  const o = await readObserved(spec(), { dns: createRoute53Dns(r53), ...createEc2(ec2), limiter }, { update: () => {}, done: () => {} });
  const elapsed = (clock.now().getTime() - started) / 1000;
  assert.equal(o.records.length, RECORDS + 2);
  assert.equal(o.instances.length, INSTANCES);
  const calls = cloud.control.calls();
  assert.equal(calls['route53:ListResourceRecordSets'], Math.ceil((RECORDS + 2) / 300), 'one call per page, no retries');
  assert.equal(calls['ec2:DescribeInstances'], Math.ceil(INSTANCES / 1000));
  assert.equal(calls['route53:ListHostedZonesByName'], 1);
  assert.deepEqual(Object.fromEntries(cloud.control.faults.throttled), {}, 'no throttled call');
  // Route 53's floor for these requests: the 68 calls past a burst of 50 at 10 per second.
  const requests = calls['route53:ListResourceRecordSets']! + 1;
  const floor = (requests - 50) / 10;
  assert.ok(elapsed >= floor * 0.99, `not faster than Route 53 allows: ${elapsed} s against a floor of ${floor} s`);
  // Paced at Route 53's rate with 2 tokens of its burst in reserve (src/ops/limiter.ts): the
  // floor plus 0.2 s, whatever the zone's size.
  const paced = (requests - 48) / 10;
  assert.ok(Math.abs(elapsed - paced) < 0.05, `paced at Route 53's rate: ${elapsed} s, expected ${paced.toFixed(2)} s (floor ${floor} s)`);
  cloud.control.setThrottling(false);
});

/**
 * The SDK's standard retry, its backoff moving the local cloud's clock instead of waiting in
 * real time (the clock is frozen otherwise): a throttled attempt is retried after 100 ms, 200
 * ms... of the cloud's time, as the SDK would after real ones.
 */
function virtualRetry(c: LocalCloud) {
  const token = (n: number) => ({ getRetryCount: () => n, getRetryDelay: () => 0 });
  return {
    mode: 'standard',
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (t: { getRetryCount(): number }, info: { errorType: string; error?: unknown }) => {
      const n = t.getRetryCount() + 1;
      if (n >= 5 || info.errorType !== 'THROTTLING') throw info.error;
      c.control.clock.advance(100 * n);
      return token(n);
    },
    recordSuccess: () => {},
  };
}

test("AWS's bucket already drained (a command just before): the first page is throttled and retried, then the limiter follows AWS's bucket and no other call is", async () => {
  cloud.control.setThrottling(true);
  const common = { endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' } };
  const r53r = new Route53Client({ ...common, retryStrategy: virtualRetry(cloud) });
  const ec2r = new EC2Client({ ...common, retryStrategy: virtualRetry(cloud) });
  // As the edges wire them: every throttled attempt reaches the run's limiters.
  const feed = new ThrottleFeed();
  reportThrottles(r53r, 'Route 53', (s, c) => feed.report(s, c));
  reportThrottles(ec2r, 'EC2', (s, c) => feed.report(s, c));
  try {
    // Another command used 45 of the account's 50 Route 53 tokens a moment ago.
    const drain = createRoute53Dns(r53);
    for (let i = 0; i < 45; i++) await drain.findZone(ZONE);
    cloud.control.resetCalls();
    const limiter = feed.add(new RateLimiter(virtualClock(cloud)));
    const o = await readObserved(spec(), { dns: createRoute53Dns(r53r), ...createEc2(ec2r), limiter }, quietProgress);
    assert.equal(o.records.length, RECORDS + 2);
    const throttled = Object.fromEntries(cloud.control.faults.throttled);
    // The zone lookup and 4 pages take AWS's last 5 tokens; the 5th page is throttled once and
    // retried; from then on the limiter's bucket is below AWS's (by its reserve and the retry
    // it owes), and every page waits its turn.
    assert.deepEqual(throttled, { 'route53:ListResourceRecordSets': 1 }, 'one throttled call, then none');
    assert.equal(cloud.control.calls()['route53:ListResourceRecordSets'], Math.ceil((RECORDS + 2) / 300) + 1, 'one page retried once');
  } finally {
    r53r.destroy();
    ec2r.destroy();
    cloud.control.setThrottling(false);
  }
});

test('without the limiter the same read is throttled (the buckets are real): the listing fails on Throttling', async () => {
  cloud.control.setThrottling(true);
  cloud.control.resetCalls();
  await assert.rejects(readObserved(spec(), { dns: createRoute53Dns(r53), ...createEc2(ec2) }, quietProgress), /Throttling|Rate exceeded/);
  assert.ok((cloud.control.faults.throttled.get('route53:ListResourceRecordSets') ?? 0) >= 1);
  cloud.control.setThrottling(false);
});
