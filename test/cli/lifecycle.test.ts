/**
 * The lifecycle commands end to end: `fleet plan`, `apply`, `upgrade`, `kill` through the CLI
 * (in-process, the real AWS SDK) against the local cloud on loopback. Every test asserts the
 * cloud's state (through the local cloud's control, not the CLI) and the CLI's output and
 * exit code. Each test works on its own fleet and zone, so tests do not depend on each other.
 *
 * Speed: the local cloud runs 20x real time and the CLI runs its waits, timeouts and rates on
 * the same scale (`--time-scale 20 --poll-ms 200`); records have a TTL of 1 s.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startLocalCloud, type LocalCloud, type LocalCloudControl } from '../../src/sim/index.js';
import { BOOTSTRAP_MARKER } from '../../src/bootstrap/marker.js';
import type { Inventory } from '../../src/plan/inventory.js';
import type { Plan } from '../../src/model.js';
import { fleet, fleetProcess, writeConfig, type CliResult } from './helpers.js';
import { assertFleetInvariants, fleetViolations, sampleWhile, type FleetInfo, type FleetSnapshot } from './invariants.js';

const SPEED = 20;
const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
const SUBNETS = ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'];
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const creds = { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' };

/** The preflight's reads, one each, before any mutating command (src/ops/preflight.ts). */
const PREFLIGHT_READS = { 'ec2:DescribeImages': 1, 'ec2:DescribeInstanceTypeOfferings': 1, 'ec2:DescribeInstanceTypes': 1, 'ec2:DescribeSecurityGroups': 1, 'ec2:DescribeSubnets': 1 };

function mutatingCalls(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => !/:(Describe|List|Get|Head)/.test(k)));
}

interface Shape {
  fleet: string;
  hub?: number;
  web?: number;
  api?: number;
  /** reconcile.orphan-grace; omitted: the default (15m). */
  grace?: string;
  digits?: number;
}

/** fleet.yaml for a test fleet: hub on-demand, web spot with alternatives and on-demand fallback, api on-demand. */
function fleetConfig(s: Shape): string {
  return `fleet: ${s.fleet}
region: us-east-1
dns:
  zone: ${s.fleet}.example.com
  ttl: 1
naming:
  index-digits: ${s.digits ?? 2}
hub: hub-${'1'.padStart(s.digits ?? 2, '0')}
journal:
  bucket: ${s.fleet}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [${SUBNETS.join(', ')}]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: ${s.hub ?? 1}
    type: t3.small
  web:
    count: ${s.web ?? 4}
    type: t3.medium
    alternatives: [t3a.medium, m5.large]
    market: spot
    on-demand-fallback: true
  api:
    count: ${s.api ?? 2}
    type: m5.large
    market: on-demand
reconcile:
${s.grace !== undefined ? `  orphan-grace: ${s.grace}\n` : ''}  converge-timeout: 10m
  concurrency: 20
`;
}

function namesOf(s: Shape): string[] {
  const d = s.digits ?? 2;
  const n = (role: string, count: number) => Array.from({ length: count }, (_, i) => `${role}-${String(i + 1).padStart(d, '0')}`);
  return [...n('hub', s.hub ?? 1), ...n('web', s.web ?? 4), ...n('api', s.api ?? 2)];
}

function infoOf(s: Shape, previous?: FleetSnapshot): FleetInfo {
  return { fleet: s.fleet, zone: `${s.fleet}.example.com`, names: namesOf(s), ttl: 1, ...(previous ? { previous } : {}) };
}

/** Records of the fleet's zone as name -> values (A records only). */
function aRecords(control: LocalCloudControl, zone: string): Map<string, string[]> {
  return new Map(control.route53.records(zone).filter((r) => r.type === 'A').map((r) => [r.name.slice(0, r.name.indexOf('.')), r.values]));
}

function stateOf(control: LocalCloudControl, id: string): string | undefined {
  return control.ec2.instance(id)?.state;
}

/** Poll a condition (real time) instead of sleeping a fixed time. */
async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One line of stderr, `fleet: <message>`, and nothing on stdout. */
function oneMessage(r: CliResult, re: RegExp): void {
  assert.equal(r.code, 2, `exit 2 expected; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one message expected, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^fleet: /);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/, 'no stack trace');
}

describe('fleet plan / apply / upgrade / kill against the local cloud', () => {
  let cloud: LocalCloud;
  let ec2: EC2Client;
  const run = (args: string[], opts: { answer?: string; env?: Record<string, string> } = {}) => fleet(args, { endpoint: cloud.endpoint, ...opts });

  /** Write fleet.yaml, `fleet init`, and (unless told not to) `fleet apply --yes`. */
  async function setup(s: Shape, opts: { apply?: boolean } = {}): Promise<{ config: string; info: FleetInfo; snapshot?: FleetSnapshot }> {
    const config = writeConfig(fleetConfig(s));
    const init = await run(['init', '--config', config]);
    assert.equal(init.code, 0, init.stderr);
    const info = infoOf(s);
    if (opts.apply === false) return { config, info };
    const r = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return { config, info, snapshot: assertFleetInvariants(cloud.control, info) };
  }

  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
    ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds });
  });
  after(async () => {
    ec2.destroy();
    await cloud.close();
  });

  test('apply from empty: one launch per name, tags at launch, IMDSv2, bootstrap user-data, a journal object per name', async () => {
    const s: Shape = { fleet: 'empty' };
    const { config, info } = await setup(s, { apply: false });
    const names = namesOf(s);

    const plan = await run(['plan', '--config', config]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`^plan for fleet empty \\(${names.length} actions\\):$`, 'm'));
    for (const n of names) {
      const lines = plan.stdout.split('\n').filter((l) => l.includes(` ${n} `));
      assert.deepEqual(lines, [`  launch ${n} generation 1, then create its record (no record)`], `one launch for ${n}`);
    }
    const pj = await run(['--json', 'plan', '--config', config]);
    const planValue = JSON.parse(pj.stdout) as Plan;
    assert.deepEqual(
      planValue.actions.map((a) => [a.kind, 'name' in a ? a.name : undefined]),
      names.map((n) => ['launch', n]),
    );

    cloud.control.resetCalls();
    const r = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${names.length} of ${names.length} actions done$`, 'm'));
    assert.match(r.stdout, /^done: web-02 -> i-[0-9a-f]+ \(t3\.medium spot us-east-1b, 10\.0\.16\.\d+, generation 1\)$/m);
    const calls = cloud.control.calls();
    assert.equal(calls['ec2:RunInstances'], names.length, 'one RunInstances per name');
    assert.equal(calls['ec2:TerminateInstances'], undefined, 'nothing terminated');
    assert.equal(calls['ec2:CreateTags'], undefined, 'every tag given at launch');
    assert.ok(calls['route53:ChangeResourceRecordSets']! >= 1 && calls['route53:ChangeResourceRecordSets']! < names.length, `records written in batches: ${calls['route53:ChangeResourceRecordSets']}`);
    assert.equal(calls['s3:PutObject'], names.length, 'one journal object per name');

    // The inventory as the CLI shows it.
    const ls = await run(['--json', 'ls', '--config', config]);
    assert.equal(ls.code, 0, ls.stderr);
    const inv = JSON.parse(ls.stdout) as Inventory;
    assert.deepEqual(
      inv.rows.map((x) => x.name),
      names,
    );
    const expect: Record<string, { type: string; market: string }> = { hub: { type: 't3.small', market: 'on-demand' }, web: { type: 't3.medium', market: 'spot' }, api: { type: 'm5.large', market: 'on-demand' } };
    for (const row of inv.rows) {
      assert.deepEqual(row.problems, [], `${row.name}: ${JSON.stringify(row.problems)}`);
      assert.equal(row.instance?.state, 'running');
      assert.ok(row.instance?.converged, `${row.name} converged`);
      assert.equal(row.instance?.type, expect[row.role]!.type, `${row.name} type`);
      assert.equal(row.instance?.market, expect[row.role]!.market, `${row.name} market`);
      assert.equal(row.instance?.az, AZS[(row.index - 1) % AZS.length], `${row.name} spread over the AZs by index`);
      assert.equal(row.record?.ttl, 1);
    }
    assert.deepEqual(inv.orphans, []);
    assert.equal(inv.summary.served, names.length);
    assert.equal(inv.summary.converged, names.length);
    assert.deepEqual(new Set(inv.rows.filter((x) => x.role === 'web').map((x) => x.instance!.az)), new Set(AZS), 'web names in every AZ');

    // The instances as the cloud has them.
    const snap = assertFleetInvariants(cloud.control, info);
    for (const n of names) {
      const v = cloud.control.ec2.instance(snap.served.get(n)!.instanceId)!;
      const { 'fleet:converged': conv, 'fleet:fence': fence, ...tags } = v.tags;
      assert.ok(conv, `${n}: fleet:converged tag`);
      assert.match(fence ?? '', /^\d{10}$/, `${n}: the lock's fencing token is tagged at launch`);
      // Nothing per run in the launch: a rerun's same ClientToken must carry the same parameters.
      assert.deepEqual(tags, { 'fleet:fleet': 'empty', 'fleet:name': n, 'fleet:role': n.split('-')[0], 'fleet:generation': '1', Name: `${n}.empty.example.com` });
      assert.equal(v.metadataOptions.httpTokens, 'required', `${n}: IMDSv2 required`);
      assert.equal(v.bootstrap, true, `${n}: user-data is a fleet bootstrap`);
      assert.ok(v.userData !== undefined && Buffer.byteLength(v.userData) < 16 * 1024, `${n}: user-data ${Buffer.byteLength(v.userData ?? '')} bytes, under 16 KB`);
      assert.match(v.userData!, new RegExp(`^name='${n}'$`, 'm'));
      assert.ok(v.clientToken?.startsWith(`${n}-g1-`) && v.clientToken.length <= 64, `${n}: ClientToken ${v.clientToken}`);
      assert.equal(v.subnetId, SUBNETS[(Number(n.split('-')[1]) - 1) % SUBNETS.length]);
    }

    // One create-only journal object per name, saying what was done.
    const journal = cloud.control.s3.objects('empty-fleet-journal');
    assert.equal(journal.length, names.length);
    for (const n of names) {
      const objs = journal.filter((o) => o.key.includes(`-replace-${n}-`));
      assert.equal(objs.length, 1, `one journal object for ${n}`);
      assert.match(objs[0]!.key, /^journal\/empty\/\d{4}-\d\d-\d\d\//);
      const body = JSON.parse(cloud.control.s3.getObject('empty-fleet-journal', objs[0]!.key)!.toString('utf8')) as { kind: string; name: string; instanceId: string; generation: number };
      assert.equal(body.kind, 'replace');
      assert.equal(body.name, n);
      assert.equal(body.instanceId, snap.served.get(n)!.instanceId);
      assert.equal(body.generation, 1);
    }
  });

  test('apply again is a no-op: no mutating call, the minimum of reads, "nothing to do"', async () => {
    const s: Shape = { fleet: 'noop' };
    const { config, info, snapshot } = await setup(s);
    cloud.control.resetCalls();
    const r = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'fleet noop is converged: nothing to do\n');
    const calls = cloud.control.calls();
    assert.deepEqual(mutatingCalls(calls), {});
    const { ['route53:ListHostedZonesByName']: zoneLookups, ...reads } = calls;
    // One page of records (7 + SOA + NS), one page of instances.
    assert.deepEqual(reads, { ...PREFLIGHT_READS, 'ec2:DescribeInstances': 1, 'route53:ListResourceRecordSets': 1 });
    assert.ok(zoneLookups! >= 1);
    assert.deepEqual(assertFleetInvariants(cloud.control, { ...info, previous: snapshot! }).served, snapshot!.served, 'same instances serve every name');

    // --json says the same.
    cloud.control.resetCalls();
    const j = await run(['--json', 'apply', '--yes', '--config', config, ...FAST]);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { dryRun: boolean; plan: Plan; outcomes: unknown[] };
    assert.deepEqual(out.plan.actions, []);
    assert.deepEqual(out.outcomes, []);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
  });

  test('apply of a converged fleet of 1,200 names reads in the minimum of pages', async () => {
    const s: Shape = { fleet: 'pages', web: 1199, api: 0, digits: 4 };
    const { config, info } = await setup(s, { apply: false });
    const zone = info.zone;
    const webs = namesOf(s).filter((n) => n.startsWith('web-'));
    const specs = ['hub-0001', ...webs].map((n) => ({
      instanceType: n.startsWith('hub') ? 't3.small' : 't3.medium',
      subnetId: SUBNETS[(Number(n.split('-')[1]) - 1) % 3]!,
      market: (n.startsWith('hub') ? 'on-demand' : 'spot') as 'spot' | 'on-demand',
      converged: true,
      tags: { 'fleet:fleet': 'pages', 'fleet:name': n, 'fleet:role': n.split('-')[0]!, 'fleet:generation': '1', Name: `${n}.${zone}` },
    }));
    const ids = cloud.control.ec2.seedInstances(specs);
    const ipOf = new Map(cloud.control.ec2.instances().map((i) => [i.instanceId, i.privateIpAddress]));
    cloud.control.route53.seedRecords(
      zone,
      ids.map((id, k) => ({ name: `${specs[k]!.tags['fleet:name']}.${zone}`, type: 'A', ttl: 1, values: [ipOf.get(id)!] })),
    );
    assertFleetInvariants(cloud.control, info);
    cloud.control.resetCalls();
    const r = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'fleet pages is converged: nothing to do\n');
    const { ['route53:ListHostedZonesByName']: zoneLookups, ...reads } = cloud.control.calls();
    // 1,200 A records + SOA + NS = 1,202: ceil(1202/300) = 5 pages; 1,200 instances: ceil(1200/1000) = 2 pages.
    assert.deepEqual(reads, { ...PREFLIGHT_READS, 'ec2:DescribeInstances': 2, 'route53:ListResourceRecordSets': 5 });
    assert.ok(zoneLookups! >= 1);
  });

  test(
    'apply of a converged fleet looks the zone up once',
    async () => {
      const { config } = await setup({ fleet: 'zonelookup' });
      cloud.control.resetCalls();
      const r = await run(['apply', '--yes', '--config', config, ...FAST]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(cloud.control.calls(), { ...PREFLIGHT_READS, 'ec2:DescribeInstances': 1, 'route53:ListHostedZonesByName': 1, 'route53:ListResourceRecordSets': 1 });
    },
  );

  test('plan --json and apply --dry-run change nothing and agree', async () => {
    const s: Shape = { fleet: 'dry' };
    const { config, info, snapshot } = await setup(s);
    // Work to show: web-02's instance dies (the service terminates it), and fleet.yaml now wants api-03.
    const dead = snapshot!.served.get('web-02')!;
    cloud.control.ec2.terminate(dead.instanceId);
    await waitFor(() => stateOf(cloud.control, dead.instanceId) === 'terminated');
    const grown = writeConfig(fleetConfig({ ...s, api: 3 }));
    const records = aRecords(cloud.control, info.zone);
    const instances = JSON.stringify(cloud.control.ec2.instances().map((i) => [i.instanceId, i.state]));

    cloud.control.resetCalls();
    const p = await run(['--json', 'plan', '--config', grown]);
    assert.equal(p.code, 0, p.stderr);
    const d = await run(['--json', 'apply', '--dry-run', '--config', grown, ...FAST]);
    assert.equal(d.code, 0, d.stderr);
    const pt = await run(['plan', '--config', grown]);
    const dt = await run(['apply', '--dry-run', '--config', grown, ...FAST]);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {}, 'plan and --dry-run make no mutating call');

    const plan = JSON.parse(p.stdout) as Plan;
    const dry = JSON.parse(d.stdout) as { dryRun: boolean; plan: Plan; outcomes: unknown[] };
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.outcomes, []);
    assert.deepEqual(dry.plan, plan, 'apply --dry-run plans exactly what plan shows');
    assert.deepEqual(
      plan.actions.map((a) => [a.kind, 'name' in a ? a.name : undefined, a.kind === 'launch' ? a.generation : undefined, a.kind === 'launch' ? a.replaces?.ip : undefined]),
      [
        ['launch', 'web-02', 2, dead.ip],
        ['launch', 'api-03', 1, undefined],
      ],
    );
    assert.equal(pt.stdout, dt.stdout, 'the text forms agree too');
    assert.match(dt.stdout, new RegExp(`launch web-02 generation 2, then swap its record from ${dead.ip.replace(/\./g, '\\.')} \\(record points at`));

    // Nothing changed in the cloud.
    assert.deepEqual(aRecords(cloud.control, info.zone), records);
    assert.equal(JSON.stringify(cloud.control.ec2.instances().map((i) => [i.instanceId, i.state])), instances);
  });

  test('upgrade of a name: new generation, one record change, old one terminated, others untouched, fleet.yaml suggestion; rerun is a no-op', async () => {
    const s: Shape = { fleet: 'upg' };
    const { config, info, snapshot } = await setup(s);
    const old = snapshot!.served.get('web-03')!;
    const before = aRecords(cloud.control, info.zone);

    // --dry-run first: the steps, and nothing changes.
    cloud.control.resetCalls();
    const dry = await run(['upgrade', 'web-03', '--type', 'm5.large', '--dry-run', '--config', config, ...FAST]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^upgrade web-03 to m5\.large: 1 name, 1 at a time$/m);
    assert.match(
      dry.stdout,
      new RegExp(`^  web-03: launch generation 2 beside ${old.instanceId} \\(t3\\.medium spot\\), wait converged, swap the record \\(${old.ip.replace(/\./g, '\\.')} -> new\\), wait INSYNC and the TTL \\(1 s\\), terminate ${old.instanceId}$`, 'm'),
    );
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
    assert.equal(stateOf(cloud.control, old.instanceId), 'running');

    cloud.control.resetCalls();
    const changes = cloud.control.route53.changes();
    const r = await run(['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    const after = assertFleetInvariants(cloud.control, { ...info, previous: snapshot! });
    const now = after.served.get('web-03')!;
    assert.notEqual(now.instanceId, old.instanceId);
    assert.equal(now.instanceType, 'm5.large');
    assert.equal(now.market, 'spot', 'the role market is kept');
    assert.equal(now.generation, 2);
    assert.match(stateOf(cloud.control, old.instanceId)!, /^(shutting-down|terminated)$/);
    assert.match(r.stdout, new RegExp(`^done: web-03 -> ${now.instanceId} \\(m5\\.large spot, generation 2\\); ${old.instanceId} terminated$`, 'm'));
    for (const [n, sv] of snapshot!.served) if (n !== 'web-03') assert.equal(after.served.get(n)!.instanceId, sv.instanceId, `${n} untouched`);

    // The record changed exactly once: one change batch, and only web-03's value differs.
    assert.equal(cloud.control.route53.changes() - changes, 1);
    const calls = cloud.control.calls();
    assert.deepEqual(mutatingCalls(calls), { 'ec2:RunInstances': 1, 'ec2:TerminateInstances': 1, 'route53:ChangeResourceRecordSets': 1, 's3:PutObject': 1 });
    const afterRecords = aRecords(cloud.control, info.zone);
    assert.deepEqual(afterRecords.get('web-03'), [now.ip]);
    assert.deepEqual(new Map([...afterRecords].filter(([n]) => n !== 'web-03')), new Map([...before].filter(([n]) => n !== 'web-03')));

    // The fleet.yaml edit that keeps it, with file:line.
    const typeLine = readFileSync(config, 'utf8').split('\n').findIndex((l, k, all) => l.trim() === 'type: t3.medium' && all[k - 2]?.trim() === 'web:') + 1;
    assert.ok(typeLine > 0);
    assert.ok(r.stdout.includes(`${config}:${typeLine}: roles.web.type: t3.medium -> m5.large`), r.stdout);
    assert.match(r.stdout, /web-03 now differs from fleet\.yaml/);

    // Rerun: already there, nothing changes.
    cloud.control.resetCalls();
    const again = await run(['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`skip web-03: already m5\\.large \\(${now.instanceId}\\)`));
    assert.match(again.stdout, /nothing to upgrade/);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
    assertFleetInvariants(cloud.control, { ...info, previous: after });

    // And apply leaves the upgraded name alone.
    cloud.control.resetCalls();
    const apply = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(apply.stdout, 'fleet upg is converged: nothing to do\n');
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
  });

  test('upgrade of a role with --max-surge 2: every name replaced, never fewer than count served', async () => {
    const s: Shape = { fleet: 'surge' };
    const { config, info, snapshot } = await setup(s);
    const webs = info.names.filter((n) => n.startsWith('web-'));
    let maxLiveWeb = 0;
    const live = (c: LocalCloudControl) => c.ec2.instances().filter((i) => i.tags['fleet:fleet'] === 'surge' && i.tags['fleet:role'] === 'web' && (i.state === 'pending' || i.state === 'running')).length;
    const work = run(['upgrade', 'web', '--type', 'm5.large', '--max-surge', '2', '--yes', '--config', config, ...FAST]);
    const sampled = await sampleWhile(cloud.control, info, work, {
      servedOnly: true,
      everyMs: 2,
      extra: (c) => {
        maxLiveWeb = Math.max(maxLiveWeb, live(c));
        return [];
      },
    });
    const r = sampled.result;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(sampled.problems, [], 'every name served by a live converged instance at every sample');
    assert.ok(sampled.samples > 20, `sampled ${sampled.samples} times`);
    assert.ok(maxLiveWeb > webs.length, `a surge was seen (at most ${maxLiveWeb} live web instances)`);
    assert.ok(maxLiveWeb <= webs.length + 2, `never more than count + max-surge live web instances (${maxLiveWeb})`);
    assert.match(r.stdout, /^upgrade web to m5\.large: 4 names, 2 at a time$/m);

    const after = assertFleetInvariants(cloud.control, { ...info, previous: snapshot! });
    for (const n of webs) {
      const was = snapshot!.served.get(n)!;
      const now = after.served.get(n)!;
      assert.equal(now.instanceType, 'm5.large', n);
      assert.equal(now.generation, 2, n);
      assert.match(stateOf(cloud.control, was.instanceId)!, /^(shutting-down|terminated)$/, `${n}: old instance terminated`);
      assert.match(r.stdout, new RegExp(`^done: ${n} -> ${now.instanceId} \\(m5\\.large spot, generation 2\\); ${was.instanceId} terminated$`, 'm'));
    }
    for (const n of info.names.filter((x) => !x.startsWith('web-'))) assert.equal(after.served.get(n)!.instanceId, snapshot!.served.get(n)!.instanceId, `${n} untouched`);
    assert.match(r.stdout, /fleet\.yaml still says the old shape/);
    assert.match(r.stdout, /roles\.web\.type: t3\.medium -> m5\.large/);

    // Kill-first: --max-surge 0 --max-unavailable 1. One name at a time is unserved, never more.
    let maxUnserved = 0;
    let maxLive = 0;
    const killFirst = run(['upgrade', 'web', '--type', 't3a.medium', '--max-surge', '0', '--max-unavailable', '1', '--yes', '--config', config, ...FAST]);
    const k = await sampleWhile(cloud.control, info, killFirst, {
      servedOnly: true,
      mayBeUnserved: new Set(webs),
      everyMs: 2,
      extra: (c) => {
        const { snapshot: now } = fleetViolations(c, info, { servedOnly: true });
        maxUnserved = Math.max(maxUnserved, webs.filter((n) => !now.served.has(n)).length);
        maxLive = Math.max(maxLive, live(c));
        return [];
      },
    });
    assert.equal(k.result.code, 0, k.result.stderr + k.result.stdout);
    assert.deepEqual(k.problems, []);
    assert.match(k.result.stdout, /^upgrade web to t3a\.medium: 4 names, 1 at a time, kill-first \(--max-surge 0: each name is unserved while it is replaced\)$/m);
    assert.match(k.result.stdout, /^ {2}web-01: terminate i-[0-9a-f]+ \(m5\.large spot\), launch generation 3/m);
    assert.equal(maxUnserved, 1, 'each name is unserved while it is replaced, one at a time');
    assert.ok(maxLive <= webs.length, `kill-first never runs more than count web instances (${maxLive})`);
    const final = assertFleetInvariants(cloud.control, { ...info, previous: after });
    for (const n of webs) {
      assert.equal(final.served.get(n)!.instanceType, 't3a.medium', n);
      assert.equal(final.served.get(n)!.generation, 3, n);
      assert.match(stateOf(cloud.control, after.served.get(n)!.instanceId)!, /^(shutting-down|terminated)$/);
    }
  });

  test(
    'upgrade changes only what it is told: --market keeps the upgraded type, --image keeps type and market',
    async () => {
      const s: Shape = { fleet: 'keep' };
      const { config, info, snapshot } = await setup(s);
      const t = await run(['upgrade', 'web-03', '--type', 'm5.large', '--yes', '--config', config, ...FAST]);
      assert.equal(t.code, 0, t.stderr);
      const m = await run(['upgrade', 'web-03', '--market', 'on-demand', '--yes', '--config', config, ...FAST]);
      assert.equal(m.code, 0, m.stderr);
      const afterMarket = assertFleetInvariants(cloud.control, { ...info, previous: snapshot! }).served.get('web-03')!;
      assert.deepEqual([afterMarket.instanceType, afterMarket.market, afterMarket.generation], ['m5.large', 'on-demand', 3]);
      const i = await run(['upgrade', 'web-03', '--image', 'ami-0d12a0000000000a1', '--yes', '--config', config, ...FAST]);
      assert.equal(i.code, 0, i.stderr);
      const afterImage = assertFleetInvariants(cloud.control, info).served.get('web-03')!;
      assert.deepEqual([afterImage.instanceType, afterImage.market, afterImage.generation], ['m5.large', 'on-demand', 4]);
      assert.equal(cloud.control.ec2.instance(afterImage.instanceId)!.imageId, 'ami-0d12a0000000000a1');
    },
  );

  test(
    'kill-first upgrade terminates each old instance once',
    async () => {
      const { config } = await setup({ fleet: 'killonce' });
      cloud.control.resetCalls();
      const r = await run(['upgrade', 'web', '--type', 'm5.large', '--max-surge', '0', '--yes', '--config', config, ...FAST]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(cloud.control.calls()['ec2:TerminateInstances'], 4);
    },
  );

  test('collect on a sped-up cloud: apply --time-scale compares orphan ages on the cloud clock', async () => {
    const s: Shape = { fleet: 'fastorph', web: 2, api: 0, grace: '0s' };
    const { config, info, snapshot } = await setup(s);
    // A tagged instance launched by hand, with no record: with grace 0s it is collected at once.
    const [orphan] = cloud.control.ec2.seedInstances([{ instanceType: 't3.medium', subnetId: SUBNETS[0]!, converged: true, tags: { 'fleet:fleet': 'fastorph', 'fleet:name': 'web-07', 'fleet:role': 'web', 'fleet:generation': '1' } }]);
    const d = await run(['apply', '--dry-run', '--config', config, ...FAST]);
    assert.match(d.stdout, new RegExp(`^  terminate orphan ${orphan}`, 'm'));
    const r = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1 of 1 actions done$/m);
    assert.match(stateOf(cloud.control, orphan!)!, /^(shutting-down|terminated)$/);
    assertFleetInvariants(cloud.control, { ...info, previous: snapshot! });
  });

  test(
    'plan agrees with apply --dry-run about orphans on a sped-up cloud',
    async () => {
      const s: Shape = { fleet: 'planorph', web: 2, api: 0, grace: '0s' };
      const { config } = await setup(s);
      const [orphan] = cloud.control.ec2.seedInstances([{ instanceType: 't3.medium', subnetId: SUBNETS[0]!, converged: true, tags: { 'fleet:fleet': 'planorph', 'fleet:name': 'web-07', 'fleet:role': 'web', 'fleet:generation': '1' } }]);
      const p = await run(['plan', '--config', config, '--time-scale', String(SPEED)]);
      const d = await run(['apply', '--dry-run', '--config', config, ...FAST]);
      assert.match(d.stdout, new RegExp(`terminate orphan ${orphan}`));
      assert.equal(p.stdout, d.stdout);
    },
  );

  test(
    'a rerun after a crash right after RunInstances gets the original launch back while it is still invisible',
    async () => {
      const s: Shape = { fleet: 'rerun', web: 0, api: 0 };
      const { config, info } = await setup(s, { apply: false });
      // An hour of invisibility (fixed per instance at launch): the rerun is sure to plan while
      // hub-01 is hidden, however long a busy machine takes to start it (40 s was 2 s of real
      // time at this speed, and a late rerun saw hub-01 and proved nothing). Once the rerun
      // has sent its RunInstances, the test moves the clock past the window.
      const WINDOW = 3_600_000;
      cloud.control.setConsistencyWindow(WINDOW);
      try {
        const crashed = await fleetProcess(['apply', '--yes', '--config', config, ...FAST], { env: { AWS_ENDPOINT_URL: cloud.endpoint, FLEET_TEST_CRASH_AT: 'launched' } });
        assert.match(crashed.stderr, /crashing at launched of hub-01/);
        const launches = (): number => cloud.control.calls()['ec2:RunInstances'] ?? 0;
        const sent = launches();
        let done = false;
        const rerun = run(['apply', '--yes', '--config', config, ...FAST]).finally(() => {
          done = true;
        });
        while (!done && launches() === sent) await new Promise((r) => setTimeout(r, 10));
        assert.equal(launches(), sent + 1, 'the rerun, not seeing hub-01, launched it again (with the same ClientToken)');
        cloud.control.setConsistencyWindow(0);
        cloud.control.clock.advance(WINDOW);
        const r = await rerun;
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.equal(cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === 'rerun').length, 1, 'launched once');
        assertFleetInvariants(cloud.control, info);
      } finally {
        cloud.control.setConsistencyWindow(0);
      }
    },
  );

  test('kill + heal: kill terminates exactly the serving instance, ls shows the dead target, apply rebuilds generation 2', async () => {
    const s: Shape = { fleet: 'heal' };
    const { config, info, snapshot } = await setup(s);
    const victim = snapshot!.served.get('web-02')!;

    cloud.control.resetCalls();
    const k = await run(['kill', 'web-02', '--yes', '--config', config, ...FAST]);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, new RegExp(`^kill web-02: terminate ${victim.instanceId} \\(t3\\.medium spot us-east-1b, ${victim.ip.replace(/\./g, '\\.')}\\)`, 'm'));
    assert.match(k.stdout, new RegExp(`^killed ${victim.instanceId}; web-02 now points at a dead instance until \`fleet apply\` rebuilds it$`, 'm'));
    // Two journal objects: the entry (before the kill) and its outcome beside it (after).
    assert.deepEqual(mutatingCalls(cloud.control.calls()), { 'ec2:TerminateInstances': 1, 's3:PutObject': 2 });
    for (const i of cloud.control.ec2.instances().filter((x) => x.tags['fleet:fleet'] === 'heal')) {
      if (i.instanceId === victim.instanceId) assert.match(i.state, /^(shutting-down|terminated)$/);
      else assert.equal(i.state, 'running', `${i.tags['fleet:name']} untouched`);
    }
    assert.deepEqual(aRecords(cloud.control, info.zone).get('web-02'), [victim.ip], 'the record stays');
    assert.ok(
      cloud.control.s3.objects('heal-fleet-journal').some((o) => o.key.includes('-kill-web-02-')),
      'the kill is journaled',
    );

    const ls = await run(['--json', 'ls', '--config', config]);
    const inv = JSON.parse(ls.stdout) as Inventory;
    assert.deepEqual(
      inv.rows.filter((x) => x.problems.length).map((x) => [x.name, x.problems.map((p) => p.kind)]),
      [['web-02', ['dead-target']]],
    );
    const text = await run(['ls', '--config', config]);
    assert.match(text.stdout, /web-02 .*dead-target|web-02 .*record points at/);

    cloud.control.resetCalls();
    const a = await run(['apply', '--yes', '--config', config, ...FAST]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, new RegExp(`launch web-02 generation 2, then swap its record from ${victim.ip.replace(/\./g, '\\.')}`));
    assert.match(a.stdout, /^1 of 1 actions done$/m);
    const healed = assertFleetInvariants(cloud.control, { ...info, previous: snapshot! });
    const now = healed.served.get('web-02')!;
    assert.equal(now.generation, 2);
    assert.notEqual(now.ip, victim.ip);
    assert.equal(now.instanceType, 't3.medium');
    assert.equal(now.market, 'spot');
    assert.deepEqual(mutatingCalls(cloud.control.calls()), { 'ec2:RunInstances': 1, 'route53:ChangeResourceRecordSets': 1, 's3:PutObject': 1 });
    for (const [n, sv] of snapshot!.served) if (n !== 'web-02') assert.equal(healed.served.get(n)!.instanceId, sv.instanceId);

    // Killing a name whose instance is already dead does nothing.
    cloud.control.resetCalls();
    cloud.control.ec2.terminate(now.instanceId);
    const again = await run(['kill', 'web-02', '--yes', '--config', config, ...FAST]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /web-02 is not served by a live instance \(record points at .*\); nothing to kill/);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
  });

  test('confirmation: no terminal and no --yes refuses (exit 2); "n" cancels (exit 1); "y" proceeds', async () => {
    const s: Shape = { fleet: 'ask' };
    const { config, info } = await setup(s, { apply: false });

    cloud.control.resetCalls();
    const refused = await run(['apply', '--config', config, ...FAST]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^fleet: refusing to apply 7 actions to fleet ask without --yes: there is no terminal to ask \(add --yes to a cron line or a script\)$/m);
    assert.match(refused.stdout, /^plan for fleet ask \(7 actions\):$/m, 'the plan is shown first');
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});

    const no = await run(['apply', '--config', config, ...FAST], { answer: 'n' });
    assert.equal(no.code, 1);
    assert.match(no.stderr, /apply 7 actions to fleet ask\? \[y\/N\] /);
    assert.match(no.stderr, /\[y\/N\] fleet: cancelled; nothing was changed\n$/);
    const empty = await run(['apply', '--config', config, ...FAST], { answer: '' });
    assert.equal(empty.code, 1, 'an empty answer is no');
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
    assert.equal(cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === 'ask').length, 0);

    const yes = await run(['apply', '--config', config, ...FAST], { answer: 'y' });
    assert.equal(yes.code, 0, yes.stderr);
    assert.match(yes.stdout, /^7 of 7 actions done$/m);
    const snap = assertFleetInvariants(cloud.control, info);

    // kill and upgrade ask the same way.
    cloud.control.resetCalls();
    const kill = await run(['kill', 'web-01', '--config', config, ...FAST]);
    assert.equal(kill.code, 2);
    assert.match(kill.stderr, /^fleet: refusing to terminate i-[0-9a-f]+ serving web-01 without --yes/m);
    const killNo = await run(['kill', 'web-01', '--config', config, ...FAST], { answer: 'no' });
    assert.equal(killNo.code, 1);
    assert.match(killNo.stderr, /cancelled; nothing was changed/);
    const upg = await run(['upgrade', 'web-01', '--type', 'm5.large', '--config', config, ...FAST]);
    assert.equal(upg.code, 2);
    assert.match(upg.stderr, /^fleet: refusing to replace 1 instance of fleet ask without --yes/m);
    const upgNo = await run(['upgrade', 'web-01', '--type', 'm5.large', '--config', config, ...FAST], { answer: 'N' });
    assert.equal(upgNo.code, 1);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
    assert.deepEqual(assertFleetInvariants(cloud.control, { ...info, previous: snap }).served, snap.served);

    const killYes = await run(['kill', 'web-01', '--config', config, ...FAST], { answer: 'yes' });
    assert.equal(killYes.code, 0, killYes.stderr);
    assert.match(stateOf(cloud.control, snap.served.get('web-01')!.instanceId)!, /^(shutting-down|terminated)$/);
  });

  test('bad input: exit 2, one clear message, no call at all', async () => {
    const s: Shape = { fleet: 'bad' };
    const { config, snapshot } = await setup(s);
    const cases: { args: string[]; message: RegExp }[] = [
      { args: ['upgrade', 'web-09', '--type', 'm5.large'], message: /web-09 is not a name of fleet bad: role web has 4 names/ },
      { args: ['upgrade', 'db-01', '--type', 'm5.large'], message: /db-01: role db is not in fleet bad \(roles: hub, web, api\)/ },
      { args: ['upgrade', 'WEB-03', '--type', 'm5.large'], message: /invalid name "WEB-03": contains uppercase "W"; names are lowercase/ },
      { args: ['upgrade', 'web-3', '--type', 'm5.large'], message: /invalid name "web-3": index must be zero-padded to 2 digits \(web-03\)/ },
      { args: ['upgrade', 'web-03.other.example.com', '--type', 'm5.large'], message: /web-03\.other\.example\.com is not in zone bad\.example\.com/ },
      { args: ['upgrade', 'db', '--type', 'm5.large'], message: /db is neither a role of fleet bad \(roles: hub, web, api\) nor a name/ },
      {
        args: ['upgrade', 'web-03', '--type', 'm5.xlarge'],
        message: /instance type m5\.xlarge is not allowed for role web \(allowed: t3\.medium, t3a\.medium, m5\.large\); add it to roles\.web\.alternatives in fleet\.yaml first/,
      },
      { args: ['upgrade', 'web-03', '--type', 'garbage!'], message: /--type "garbage!": expected an instance type such as m5\.large/ },
      { args: ['upgrade', 'web-03'], message: /nothing to change: give --type, --market or --image/ },
      { args: ['upgrade', 'web-03', '--market', 'cheap'], message: /--market "cheap": expected spot or on-demand/ },
      { args: ['upgrade', 'web-03', '--image', 'ami-xyz'], message: /--image "ami-xyz": expected an AMI id/ },
      { args: ['upgrade', 'web', '--type', 'm5.large', '--max-surge', '0', '--max-unavailable', '0'], message: /--max-surge and --max-unavailable cannot both be 0: nothing could be replaced/ },
      { args: ['upgrade', 'web', '--type', 'm5.large', '--max-surge', 'two'], message: /--max-surge "two": expected a whole number 0\.\.1000/ },
      { args: ['kill', 'web-03.other.example.com'], message: /web-03\.other\.example\.com is not in zone bad\.example\.com/ },
      { args: ['kill', 'web-09'], message: /web-09 is not a name of fleet bad/ },
      { args: ['kill', 'db-01'], message: /db-01 is not a name of fleet bad/ },
      { args: ['kill', 'web-03; rm -rf /'], message: /invalid name "web-03; rm -rf \/": contains ";", which is not allowed/ },
      { args: ['apply', '--time-scale', '0'], message: /--time-scale "0": expected a number > 0/ },
    ];
    const broken = writeConfig(fleetConfig(s).replace('count: 4', 'count: four'));
    const brokenMessage = /^fleet: 1 problem in .*fleet\.yaml:$/;
    for (const c of cases) {
      cloud.control.resetCalls();
      const r = await run([...c.args, '--yes', '--config', config, ...(c.args.includes('--time-scale') ? [] : FAST)]);
      oneMessage(r, c.message);
      assert.deepEqual(cloud.control.calls(), {}, `${c.args.join(' ')}: no call at all`);
    }

    // A fleet.yaml with an error: every command that would change something refuses, with the line.
    for (const args of [['apply'], ['plan'], ['upgrade', 'web-03', '--type', 'm5.large'], ['kill', 'web-03']]) {
      cloud.control.resetCalls();
      const r = await run([...args, ...(args[0] === 'plan' ? [] : ['--yes', ...FAST]), '--config', broken]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.match(lines[0]!, brokenMessage);
      assert.equal(lines.length, 2, r.stderr);
      assert.match(lines[1]!, /fleet\.yaml:\d+:\d+: roles\.web\.count/);
      assert.deepEqual(cloud.control.calls(), {}, `${args.join(' ')} with a broken fleet.yaml: no call at all`);
    }
    assertFleetInvariants(cloud.control, { ...infoOf(s), previous: snapshot! });
  });

  test('retire: a shrunk role loses its last names, record first, then instance', async () => {
    const s: Shape = { fleet: 'shrink' };
    const { info, snapshot } = await setup(s);
    const small: Shape = { ...s, web: 2 };
    const config = writeConfig(fleetConfig(small));
    const gone = ['web-03', 'web-04'].map((n) => snapshot!.served.get(n)!);

    const plan = await run(['plan', '--config', config]);
    for (const g of gone) assert.match(plan.stdout, new RegExp(`^  retire ${g.name}: delete its record, then terminate ${g.instanceId} \\(not in fleet\\.yaml\\)$`, 'm'));

    // Record first: whenever a retired name's instance is no longer live, its record is already gone.
    let sawRecordGoneInstanceLive = false;
    const work = run(['apply', '--yes', '--config', config, ...FAST]);
    const sampled = await sampleWhile(cloud.control, infoOf(small), work, {
      servedOnly: true,
      everyMs: 1,
      extra: (c) => {
        const recs = aRecords(c, info.zone);
        const out: string[] = [];
        for (const g of gone) {
          const st = c.ec2.instance(g.instanceId)!.state;
          const live = st === 'pending' || st === 'running';
          if (!live && recs.has(g.name)) out.push(`${g.name}: ${g.instanceId} is ${st} while its record still exists`);
          if (live && !recs.has(g.name)) sawRecordGoneInstanceLive = true;
        }
        return out;
      },
    });
    assert.equal(sampled.result.code, 0, sampled.result.stderr);
    assert.deepEqual(sampled.problems, []);
    assert.ok(sawRecordGoneInstanceLive, 'the record went before the instance (seen between the two)');
    assert.match(sampled.result.stdout, /^2 of 2 actions done$/m);
    for (const g of gone) assert.match(stateOf(cloud.control, g.instanceId)!, /^(shutting-down|terminated)$/);
    assertFleetInvariants(cloud.control, { ...infoOf(small), previous: snapshot! });

    const ls = await run(['--json', 'ls', '--config', config]);
    const inv = JSON.parse(ls.stdout) as Inventory;
    assert.deepEqual(
      inv.rows.map((x) => x.name),
      namesOf(small),
    );
    assert.ok(inv.rows.every((x) => x.problems.length === 0));
    assert.deepEqual(inv.orphans, []);
    const journal = cloud.control.s3.objects('shrink-fleet-journal').filter((o) => /-retire-web-0[34]-/.test(o.key));
    assert.equal(journal.length, 2);
  });
});

describe('orphans against a local cloud on real time (orphan ages compare the CLI clock with launch times)', () => {
  let cloud: LocalCloud;
  let ec2: EC2Client;
  before(async () => {
    cloud = await startLocalCloud({ delays: { bootMs: 20, convergeMs: 50, dnsSyncMs: 20, shutdownMs: 20 } });
    ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds });
  });
  after(async () => {
    ec2.destroy();
    await cloud.close();
  });

  async function handLaunch(fleetName: string, name: string): Promise<string> {
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.medium',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: SUBNETS[0],
        UserData: Buffer.from(`#!/bin/sh\n${BOOTSTRAP_MARKER}\n`).toString('base64'),
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'fleet:fleet', Value: fleetName },
              { Key: 'fleet:name', Value: name },
              { Key: 'fleet:role', Value: name.split('-')[0]! },
              { Key: 'fleet:generation', Value: '1' },
            ],
          },
        ],
      }),
    );
    return out.Instances![0]!.InstanceId!;
  }

  test('collect: an orphan within the grace is left alone and noted; past the grace apply terminates it', async () => {
    const s: Shape = { fleet: 'orph', hub: 1, web: 2, api: 0 };
    const config = writeConfig(fleetConfig(s));
    const run = (args: string[]) => fleet(args, { endpoint: cloud.endpoint });
    assert.equal((await run(['init', '--config', config])).code, 0);
    const a = await run(['apply', '--yes', '--config', config, '--poll-ms', '20']);
    assert.equal(a.code, 0, a.stderr);
    const info = infoOf(s);
    const snap = assertFleetInvariants(cloud.control, info);
    const orphan = await handLaunch('orph', 'web-05');

    // Default grace (15 minutes): a launch in flight, left alone; plan notes it.
    const plan = await run(['plan', '--config', config]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^fleet orph is converged: nothing to do$/m);
    assert.match(plan.stdout, new RegExp(`^  note: ${orphan} \\(tagged web-05, generation 1\\): no record points at it, but it is \\d+ s old \\(grace 900 s\\); left alone$`, 'm'));
    cloud.control.resetCalls();
    const kept = await run(['apply', '--yes', '--config', config, '--poll-ms', '20']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /note: .*left alone/);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {});
    assert.match(stateOf(cloud.control, orphan)!, /^(pending|running)$/);

    // Grace 0s: collected.
    const now = writeConfig(fleetConfig({ ...s, grace: '0s' }));
    const p0 = await run(['plan', '--config', now]);
    assert.match(p0.stdout, new RegExp(`^  terminate orphan ${orphan} \\(${orphan} \\(tagged web-05, generation 1\\) is (pending|running), no record points at it\\)$`, 'm'));
    cloud.control.resetCalls();
    const c = await run(['apply', '--yes', '--config', now, '--poll-ms', '20']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^1 of 1 actions done$/m);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), { 'ec2:TerminateInstances': 1, 's3:PutObject': 1 });
    assert.match(stateOf(cloud.control, orphan)!, /^(shutting-down|terminated)$/);
    assert.deepEqual(assertFleetInvariants(cloud.control, { ...info, previous: snap }).served, snap.served);
    assert.ok(cloud.control.s3.objects('orph-fleet-journal').some((o) => o.key.includes('-collect-web-05-')));
  });
});
