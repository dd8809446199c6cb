/**
 * The init flow (src/ops/init.ts) against the in-process local cloud with the real SDK and no
 * CLI: observe -> plan -> execute; a rerun changes nothing; a caller reference spent by a
 * deleted zone is replaced by a fresh one; concurrent inits make one zone; a foreign bucket
 * and a stop create nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteHostedZoneCommand, GetHostedZoneCommand } from '@aws-sdk/client-route-53';
import { GetBucketLocationCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { createRoute53Dns } from '../../src/aws/route53.js';
import { createS3Blobs } from '../../src/aws/s3.js';
import { parseConfig } from '../../src/config/index.js';
import { FleetError } from '../../src/errors.js';
import type { FleetSpec } from '../../src/model.js';
import type { LogEvent } from '../../src/ports.js';
import { executeInit, readInitPlan, type InitDeps } from '../../src/ops/init.js';

let cloud: LocalCloud;
let clients: AwsClients;
let deps: InitDeps;

before(async () => {
  cloud = await startLocalCloud();
  clients = createClients({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 });
  deps = { dns: createRoute53Dns(clients.route53), blobs: createS3Blobs(clients.s3) };
});
after(async () => {
  clients.destroy();
  await cloud.close();
});

function spec(fleet: string, zone: string): FleetSpec {
  return parseConfig(
    `fleet: ${fleet}
dns: {zone: ${zone}}
hub: hub-01
journal: {bucket: ${fleet}-fleet-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
`,
    'fleet.yaml',
  );
}

const mutating = (): Record<string, number> => Object.fromEntries(Object.entries(cloud.control.calls()).filter(([k]) => !/:(Describe|List|Get|Head)/.test(k)));
const zonesNamed = (zone: string): number => cloud.control.route53.zones().filter((z) => z === zone).length;

test('init creates the zone (fixed caller reference) and the bucket in the region; a rerun plans and does nothing', async () => {
  const s = spec('one', 'one.example.com');
  // Wired for eu-west-1, as the edge does for fleet.yaml's region.
  const eu = createClients({ endpoint: cloud.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 });
  after(() => eu.destroy());
  const deps: InitDeps = { dns: createRoute53Dns(eu.route53), blobs: createS3Blobs(eu.s3) };
  const plan = await readInitPlan(s, deps, 'eu-west-1');
  assert.deepEqual(plan.steps.map((x) => `${x.resource} ${x.action}`), ['hosted-zone create', 'bucket create']);
  const done = await executeInit(deps, plan);
  const zone = done.steps[0]!;
  assert.ok(zone.resource === 'hosted-zone' && zone.id?.startsWith('Z'), JSON.stringify(zone));
  const got = await clients.route53.send(new GetHostedZoneCommand({ Id: zone.id }));
  assert.equal(got.HostedZone?.CallerReference, 'fleet-init/one/one.example.com');
  assert.ok(cloud.control.s3.buckets().includes('one-fleet-journal'));
  const loc = await eu.s3.send(new GetBucketLocationCommand({ Bucket: 'one-fleet-journal' }));
  assert.equal(loc.LocationConstraint, 'eu-west-1');

  cloud.control.resetCalls();
  const again = await readInitPlan(s, deps, 'eu-west-1');
  assert.deepEqual(again.steps.map((x) => `${x.resource} ${x.action}`), ['hosted-zone exists', 'bucket exists']);
  assert.equal(again.steps[0]!.resource === 'hosted-zone' && again.steps[0]!.id, zone.id);
  await executeInit(deps, again);
  assert.deepEqual(mutating(), {}, 'a rerun makes no mutating call');
  assert.equal(zonesNamed('one.example.com'), 1);
});

test('a zone deleted since spent the fixed caller reference: init creates it again with a fresh one', async () => {
  const s = spec('two', 'two.example.com');
  const first = await executeInit(deps, await readInitPlan(s, deps, 'us-east-1'));
  const firstId = first.steps[0]!.resource === 'hosted-zone' ? first.steps[0]!.id : undefined;
  await clients.route53.send(new DeleteHostedZoneCommand({ Id: firstId }));
  assert.equal(zonesNamed('two.example.com'), 0);

  const events: LogEvent[] = [];
  const plan = await readInitPlan(s, deps, 'us-east-1');
  assert.deepEqual(plan.steps.map((x) => x.action), ['create', 'exists']);
  const done = await executeInit({ ...deps, log: (e) => events.push(e), unique: () => 'second' }, plan);
  const step = done.steps[0]!;
  assert.ok(step.resource === 'hosted-zone');
  assert.equal(step.callerReference, 'fleet-init/two/two.example.com/second');
  assert.notEqual(step.id, firstId);
  assert.equal(zonesNamed('two.example.com'), 1);
  assert.ok(events.some((e) => e.event === 'init-fresh-reference' && e.level === 'warn'), JSON.stringify(events));
});

test('two inits at once create one zone: the second create finds the first one by its caller reference', async () => {
  const s = spec('three', 'three.example.com');
  const [a, b] = await Promise.all([readInitPlan(s, deps, 'us-east-1'), readInitPlan(s, deps, 'us-east-1')]);
  const [x, y] = await Promise.all([executeInit(deps, a), executeInit(deps, b)]);
  assert.equal(zonesNamed('three.example.com'), 1);
  const idOf = (r: typeof x): string | undefined => (r.steps[0]!.resource === 'hosted-zone' ? r.steps[0]!.id : undefined);
  assert.equal(idOf(x), idOf(y));
  assert.ok(cloud.control.s3.buckets().includes('three-fleet-journal'));
});

test("a journal bucket of another account (403): the plan is refused with the reason, and executing it creates nothing", async () => {
  const s = spec('four', 'four.example.com');
  // The bucket exists; S3 answers 403 to an account that does not own it (here: a request that
  // expects another owner, which the local cloud refuses as S3 does).
  cloud.control.s3.createBucket('four-fleet-journal');
  const other = new S3Client({ endpoint: cloud.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 });
  after(() => other.destroy());
  other.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-expected-bucket-owner'] = '999999999999';
      return next(args);
    },
    { step: 'build', name: 'anotherAccount' },
  );
  const deps: InitDeps = { dns: createRoute53Dns(clients.route53), blobs: createS3Blobs(other) };
  const plan = await readInitPlan(s, deps, 'us-east-1');
  assert.match(plan.refusal ?? '', /journal bucket four-fleet-journal exists but this account may not use it \(403\)/);
  cloud.control.resetCalls();
  await assert.rejects(executeInit(deps, plan), (e: unknown) => e instanceof FleetError && e.exitCode === 1 && /may not use it/.test(e.message));
  assert.deepEqual(mutating(), {});
  assert.equal(zonesNamed('four.example.com'), 0);
});

test('a journal bucket in another region (301): refused with its region, nothing created', async () => {
  const s = spec('six', 'six.example.com');
  cloud.control.s3.createBucket('six-fleet-journal', 'eu-west-1');
  const plan = await readInitPlan(s, deps, 'us-east-1');
  assert.match(plan.refusal ?? '', /journal bucket six-fleet-journal exists in eu-west-1, not in us-east-1/);
  cloud.control.resetCalls();
  await assert.rejects(executeInit(deps, plan), (e: unknown) => e instanceof FleetError && e.exitCode === 1 && /set region: eu-west-1/.test(e.message));
  assert.deepEqual(mutating(), {});
  assert.equal(zonesNamed('six.example.com'), 0);
});

test('a stop before execution starts no create; after a stop between the zone and the bucket, a rerun finishes', async () => {
  const s = spec('five', 'five.example.com');
  const stopped = new AbortController();
  stopped.abort(new Error('stopped by SIGINT'));
  cloud.control.resetCalls();
  await assert.rejects(executeInit({ ...deps, signal: stopped.signal }, await readInitPlan(s, deps, 'us-east-1')), /stopped by SIGINT/);
  assert.deepEqual(mutating(), {});

  // The guard trips after the zone: the bucket is not started; the next init creates only it.
  let creates = 0;
  const guard = (): void => {
    if (creates++ === 1) throw new Error('stopped after the zone');
  };
  await assert.rejects(executeInit({ ...deps, guard }, await readInitPlan(s, deps, 'us-east-1')), /stopped after the zone/);
  assert.equal(zonesNamed('five.example.com'), 1);
  assert.ok(!cloud.control.s3.buckets().includes('five-fleet-journal'));
  const rest = await readInitPlan(s, deps, 'us-east-1');
  assert.deepEqual(rest.steps.map((x) => x.action), ['exists', 'create']);
  await executeInit(deps, rest);
  assert.ok(cloud.control.s3.buckets().includes('five-fleet-journal'));
});
