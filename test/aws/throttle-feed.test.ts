/**
 * A throttle AWS answers reaches the run's rate limiters (src/aws/clients.ts onThrottle ->
 * ops/limiter.ts ThrottleFeed): the real SDK clients against the local cloud with its
 * AWS-like buckets, its clock frozen so that nothing refills unless the test says so.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { createRoute53Dns } from '../../src/aws/route53.js';
import { createEc2 } from '../../src/aws/ec2.js';
import { bucketOfCall, RateLimiter, ThrottleFeed } from '../../src/ops/limiter.js';
import { manualClock } from '../../src/clock.js';

let cloud: LocalCloud;
let clients: AwsClients;
const feed = new ThrottleFeed();
const heard: string[] = [];

before(async () => {
  cloud = await startLocalCloud({ clockSpeed: 1e-9 });
  clients = createClients({
    endpoint: cloud.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' },
    maxAttempts: 2,
    onThrottle: (service, command) => {
      heard.push(`${service} ${command}`);
      feed.report(service, command);
    },
  });
});

after(async () => {
  clients.destroy();
  await cloud.close();
});

test('a throttled attempt is reported with its service and command, and empties that bucket of every limiter of the run', async () => {
  const clock = manualClock(new Date('2026-12-07T00:00:00Z'));
  const a = feed.add(new RateLimiter(clock));
  const b = feed.add(new RateLimiter(clock));
  await a.take('route53:api');
  await b.take('ec2:describe');
  cloud.control.setThrottling(true, { 'route53:api': { burst: 1, refillPerSec: 1 } });
  try {
    const dns = createRoute53Dns(clients.route53);
    assert.equal(await dns.findZone('none.example.com'), undefined); // the bucket's only token
    await assert.rejects(dns.findZone('none.example.com'), /Throttling|Rate exceeded/);
    assert.deepEqual(heard, ['Route 53 ListHostedZonesByName', 'Route 53 ListHostedZonesByName'], 'both attempts reported');
    assert.equal(feed.reported.get('route53:api'), 2);
    // AWS's bucket is empty: each limiter's route53:api goes to minus its reserve (2 of Route
    // 53's 50 tokens), once, and minus one more for each retry the SDK makes outside it: -4.
    // At 10 per second the next call waits until 5 tokens have come back. That holds for `b`
    // too, which had not used Route 53 yet. ec2:describe is untouched.
    const taken = [false, false];
    const waiting = [a, b].map((l, k) => l.take('route53:api').then(() => (taken[k] = true)));
    await clock.sleeping(2); // both takes wait on the clock
    clock.advance(400);
    await clock.sleeping(2);
    assert.deepEqual(taken, [false, false], 'still owed after 4 tokens came back');
    clock.advance(100);
    await Promise.all(waiting);
    assert.deepEqual(taken, [true, true]);
    let described = false;
    await b.take('ec2:describe').then(() => (described = true));
    assert.equal(described, true, 'another bucket is not emptied');
    // An EC2 call that is not throttled reports nothing.
    await createEc2(clients.ec2).instances.listFleetInstances('none');
    assert.equal(heard.length, 2);
  } finally {
    cloud.control.setThrottling(false);
  }
});

test('bucketOfCall: the bucket each call is paced on', () => {
  assert.equal(bucketOfCall('EC2', 'RunInstances'), 'ec2:run-instances');
  assert.equal(bucketOfCall('EC2', 'DescribeInstances'), 'ec2:describe');
  assert.equal(bucketOfCall('EC2', 'TerminateInstances'), 'ec2:terminate-instances');
  assert.equal(bucketOfCall('EC2', 'CreateTags'), 'ec2:tags');
  assert.equal(bucketOfCall('EC2', 'AttachVolume'), 'ec2:mutating');
  assert.equal(bucketOfCall('Route 53', 'ChangeResourceRecordSets'), 'route53:api');
  assert.equal(bucketOfCall('S3', 'PutObject'), 's3:write');
  assert.equal(bucketOfCall('S3', 'GetObject'), 's3:read');
  assert.equal(bucketOfCall('EBS', 'ListSnapshotBlocks'), undefined);
});
