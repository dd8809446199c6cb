/**
 * `fleet init` and `fleet ls` end to end: the real CLI, the real AWS SDK clients, the local
 * cloud over HTTP on loopback.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { BOOTSTRAP_MARKER } from '../../src/bootstrap/marker.js';
import { fleet, fleetProcess, fleetYaml, writeConfig } from './helpers.js';
import type { Inventory } from '../../src/plan/inventory.js';

const creds = { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' };

function mutatingCalls(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => !/:(Describe|List|Get|Head)/.test(k)));
}

async function launch(ec2: EC2Client, name: string, opts: { fleet?: string; subnet?: string; type?: string } = {}): Promise<{ id: string; ip: string }> {
  const role = name.split('-')[0]!;
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: (opts.type ?? 't3.medium') as 't3.medium',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: opts.subnet ?? 'subnet-0aa00000000000001',
      UserData: Buffer.from(`#!/bin/sh\n${BOOTSTRAP_MARKER}\n`).toString('base64'),
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: 'fleet:fleet', Value: opts.fleet ?? 'demo' },
            { Key: 'fleet:name', Value: name },
            { Key: 'fleet:role', Value: role },
            { Key: 'fleet:generation', Value: '1' },
          ],
        },
      ],
    }),
  );
  const i = out.Instances![0]!;
  return { id: i.InstanceId!, ip: i.PrivateIpAddress! };
}

async function setRecords(r53: Route53Client, zoneId: string, recs: [string, string][]): Promise<void> {
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: recs.map(([name, ip]) => ({ Action: 'CREATE', ResourceRecordSet: { Name: name, Type: 'A', TTL: 60, ResourceRecords: [{ Value: ip }] } })) },
    }),
  );
}

describe('fleet init and fleet ls against the local cloud', () => {
  let cloud: LocalCloud;
  let ec2: EC2Client;
  let r53: Route53Client;
  before(async () => {
    cloud = await startLocalCloud({ delays: { bootMs: 10, convergeMs: 20, dnsSyncMs: 10 } });
    ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds });
    r53 = new Route53Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds });
  });
  after(async () => {
    ec2.destroy();
    r53.destroy();
    await cloud.close();
  });

  test('ls before init says to run init, exit 1', async () => {
    const config = writeConfig(fleetYaml({ fleet: 'before', zone: 'before.example.com' }));
    const r = await fleet(['ls', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hosted zone before\.example\.com does not exist; run `fleet init`/);
    assert.doesNotMatch(r.stderr, /at .*\.js/, 'no stack trace');
  });

  test('init --dry-run shows the plan and changes nothing', async () => {
    const config = writeConfig(fleetYaml({ fleet: 'dry', zone: 'dry.example.com' }));
    cloud.control.resetCalls();
    const r = await fleet(['init', '--dry-run', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hosted zone dry\.example\.com: would create/);
    assert.match(r.stdout, /journal bucket dry-fleet-journal: would create in us-east-1/);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
    assert.ok(!cloud.control.route53.zones().includes('dry.example.com'));
  });

  test('init creates the zone and the bucket, and a second init does nothing', async () => {
    const config = writeConfig(fleetYaml());
    const r1 = await fleet(['init', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /hosted zone prod\.example\.com: created \(Z/);
    assert.match(r1.stdout, /journal bucket demo-fleet-journal: created/);
    assert.ok(cloud.control.route53.zones().includes('prod.example.com'));
    assert.ok(cloud.control.s3.buckets().includes('demo-fleet-journal'));

    cloud.control.resetCalls();
    const r2 = await fleet(['--json', 'init', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r2.code, 0, r2.stderr);
    const out = JSON.parse(r2.stdout) as { steps: { action: string }[] };
    assert.deepEqual(
      out.steps.map((s) => s.action),
      ['exists', 'exists'],
    );
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {}, 'a second init makes no mutating call');
  });

  test('ls of an empty zone: every desired name is missing', async () => {
    const config = writeConfig(fleetYaml());
    const r = await fleet(['--json', 'ls', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    const inv = JSON.parse(r.stdout) as Inventory;
    assert.deepEqual(
      inv.rows.map((x) => x.name),
      ['hub-01', 'web-01', 'web-02', 'web-03', 'api-01', 'api-02'],
    );
    assert.ok(inv.rows.every((x) => x.problems.length === 1 && x.problems[0]!.kind === 'missing-record'));
    assert.equal(inv.summary.problems['missing-record'], 6);
    assert.deepEqual(inv.orphans, []);
    // SOA and NS at the apex are not reported as foreign records.
    assert.deepEqual(inv.ignored, []);

    const text = await fleet(['ls', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^NAME +INSTANCE +TYPE/m);
    assert.match(text.stdout, /web-02 .*no record .*fleet\.yaml wants web-02, but the zone has no record for it/);
    assert.match(text.stdout, /6 names \(6 desired\), 0 served, 0 converged; 6 missing-record/);
  });

  test('ls shows served names and the three kinds of drift', async () => {
    const config = writeConfig(fleetYaml());
    const zoneId = (await cloudZoneId(cloud, 'prod.example.com'))!;
    const web1 = await launch(ec2, 'web-01');
    const web2 = await launch(ec2, 'web-02', { subnet: 'subnet-0bb00000000000002' });
    const orphan = await launch(ec2, 'web-03');
    const otherFleet = await launch(ec2, 'web-03', { fleet: 'other' });
    await setRecords(r53, zoneId, [
      ['web-01.prod.example.com', web1.ip],
      ['web-02.prod.example.com', web2.ip],
      ['api-01.prod.example.com', '10.0.200.1'], // dead: nobody has this address
      ['db-01.prod.example.com', otherFleet.ip], // not desired, and the instance is another fleet's
      ['www.prod.example.com', '10.0.0.1'], // not a fleet name
    ]);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [web2.id] })); // web-02 now points at a dead instance
    // Wait until web-01 reports convergence (simulated delays are short).
    await waitFor(async () => {
      const r = await fleet(['--json', 'ls', '--config', config], { endpoint: cloud.endpoint });
      const inv = JSON.parse(r.stdout) as Inventory;
      return inv.rows.find((x) => x.name === 'web-01')?.instance?.converged !== undefined;
    });

    const r = await fleet(['--json', 'ls', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    const inv = JSON.parse(r.stdout) as Inventory;
    const row = (n: string) => inv.rows.find((x) => x.name === n)!;

    assert.equal(row('web-01').instance?.id, web1.id);
    assert.equal(row('web-01').instance?.state, 'running');
    assert.equal(row('web-01').instance?.market, 'on-demand');
    assert.equal(row('web-01').instance?.az, 'us-east-1a');
    assert.equal(row('web-01').instance?.generation, 1);
    assert.deepEqual(row('web-01').problems, []);

    assert.deepEqual(row('web-02').problems.map((p) => p.kind), ['dead-target']);
    assert.match(row('web-02').problems[0]!.message, new RegExp(`record points at ${web2.id} \\(${web2.ip.replace(/\./g, '\\.')}\\), which is (shutting-down|terminated)`));

    assert.deepEqual(row('api-01').problems.map((p) => p.kind), ['dead-target']);
    assert.match(row('api-01').problems[0]!.message, /10\.0\.200\.1, which no live instance of fleet demo has/);

    assert.deepEqual(row('db-01').problems.map((p) => p.kind), ['dead-target', 'not-desired']);
    assert.match(row('db-01').problems[1]!.message, /role db is not in fleet\.yaml/);

    assert.deepEqual(row('web-03').problems.map((p) => p.kind), ['missing-record']);
    assert.deepEqual(
      inv.orphans.map((o) => o.instance.id),
      [orphan.id],
      'the tagged web-03 no record points at is an orphan; the other fleet`s instance is not ours',
    );
    assert.deepEqual(inv.ignored.map((i) => i.name), ['www.prod.example.com']);

    const text = await fleet(['ls', '--config', config], { endpoint: cloud.endpoint });
    assert.match(text.stdout, /1 orphan instance/);
    assert.match(text.stdout, new RegExp(`${orphan.id} +web-03`));
    assert.match(text.stdout, /1 record in the zone is not a fleet name|1 record in the zone is not fleet names/);
  });

  test('progress on a terminal; quiet in JSON mode and in CI', async () => {
    const config = writeConfig(fleetYaml());
    const tty = await fleet(['ls', '--config', config], { endpoint: cloud.endpoint, isTTY: true });
    assert.equal(tty.code, 0, tty.stderr);
    assert.match(tty.stderr, /looking up zone prod\.example\.com…/);
    assert.match(tty.stderr, /\r\x1b\[K$/, 'the progress line is cleared before the table');
    const json = await fleet(['--json', 'ls', '--config', config], { endpoint: cloud.endpoint, isTTY: true });
    assert.equal(json.stderr, '');
    const ci = await fleet(['ls', '--config', config], { endpoint: cloud.endpoint, isTTY: true, env: { CI: 'true' } });
    assert.equal(ci.stderr, '');
  });

  test('ls --role filters, and an unknown or malformed role is exit 2 with the reason', async () => {
    const config = writeConfig(fleetYaml());
    const r = await fleet(['--json', 'ls', '--role', 'api', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    const inv = JSON.parse(r.stdout) as Inventory;
    assert.ok(inv.rows.length > 0 && inv.rows.every((x) => x.role === 'api'));
    assert.deepEqual(inv.orphans, []);

    cloud.control.resetCalls();
    const bad = await fleet(['ls', '--role', 'nope', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--role nope: no such role in .*fleet\.yaml \(roles: hub, web, api\)/);
    const evil = await fleet(['ls', '--role', 'Web;rm', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(evil.code, 2);
    assert.match(evil.stderr, /role must be lowercase/);
    assert.deepEqual(cloud.control.calls(), {}, 'bad input makes no call at all');
  });

  test('a broken fleet.yaml is exit 2 with file:line:column, and no call is made', async () => {
    const config = writeConfig(fleetYaml().replace('count: 3', 'count: three'));
    cloud.control.resetCalls();
    const r = await fleet(['ls', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /fleet\.yaml:\d+:\d+: roles\.web\.count/);
    assert.deepEqual(cloud.control.calls(), {});
  });

  test('ls of 5,000 names reads the zone and the instances in the minimum of pages', async () => {
    const zone = 'big.example.com';
    const config = writeConfig(fleetYaml({ fleet: 'big', zone, web: 5000, api: 0, digits: 4 }));
    const init = await fleet(['init', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(init.code, 0, init.stderr);
    const ids = cloud.control.ec2.seedInstances(
      Array.from({ length: 5000 }, (_, i) => ({
        instanceType: 't3.medium',
        az: ['us-east-1a', 'us-east-1b', 'us-east-1c'][i % 3]!,
        market: 'spot' as const,
        converged: true,
        tags: { 'fleet:fleet': 'big', 'fleet:name': `web-${String(i + 1).padStart(4, '0')}`, 'fleet:role': 'web', 'fleet:generation': '1' },
      })),
    );
    const byId = new Map(cloud.control.ec2.instances().map((i) => [i.instanceId, i]));
    cloud.control.route53.seedRecords(
      zone,
      ids.map((id, i) => ({ name: `web-${String(i + 1).padStart(4, '0')}.${zone}`, type: 'A', ttl: 60, values: [byId.get(id)!.privateIpAddress!] })),
    );
    cloud.control.resetCalls();
    const r = await fleet(['--json', 'ls', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stderr);
    const inv = JSON.parse(r.stdout) as Inventory;
    assert.equal(inv.rows.length, 5001);
    assert.equal(inv.summary.served, 5000);
    assert.equal(inv.summary.converged, 5000);
    assert.deepEqual(
      Object.entries(inv.summary.problems).filter(([, n]) => n > 0),
      [['missing-record', 1]],
      'only hub-01 is missing',
    );
    const calls = cloud.control.calls();
    // 5,000 records + SOA + NS = 5,002 record sets: ceil(5002/300) = 17 pages; 5,000 instances: 5 pages.
    assert.equal(calls['route53:ListResourceRecordSets'], 17);
    assert.equal(calls['ec2:DescribeInstances'], 5);
    assert.equal(calls['route53:ListHostedZonesByName'], 1);
    assert.deepEqual(mutatingCalls(calls), {});
  });

  test('the real bin: --help, a usage error, and ls through AWS_ENDPOINT_URL', async () => {
    const help = await fleetProcess(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: fleet/);
    assert.match(help.stdout, /ls .*inventory/);

    const usage = await fleetProcess(['ls', '--no-such-flag']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option '--no-such-flag'/);

    const config = writeConfig(fleetYaml());
    const r = await fleetProcess(['ls', '--role', 'web', '--config', config], { env: { AWS_ENDPOINT_URL: cloud.endpoint } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /web-01 +i-/);
  });

  test('an endpoint that refuses connections fails with a clear error, exit 1 (the test timeout bounds it; see deadline.test.ts)', async () => {
    const config = writeConfig(fleetYaml());
    const r = await fleet(['ls', '--config', config], { endpoint: 'http://127.0.0.1:9' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /looking up hosted zone prod\.example\.com: cannot reach the AWS endpoint \(connect ECONNREFUSED 127\.0\.0\.1:9\)/);
  });
});

async function cloudZoneId(cloud: LocalCloud, zone: string): Promise<string | undefined> {
  return cloud.control.route53.zoneId(zone);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
