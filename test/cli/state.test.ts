/**
 * `state.s3` end to end (DESIGN.md section 4, stateful exceptions): generated config kept per
 * name under `s3://bucket/<prefix>/<name>/`, restored by the instance at boot and saved back by
 * it. The local cloud plays the bootstrap: an instance notes which keys the prefix held when it
 * booted (control.ec2.instance(id).restoredState); the test writes objects under the prefix to
 * stand for the instance saving its state.
 *
 * The controller keeps a name's prefix across replacements (kill, upgrade), and never deletes
 * it when a name is retired unless asked (`fleet retire NAME --delete-state`).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import type { InstanceView } from '../../src/sim/ec2/instances.js';
import { fleet, writeConfig, type CliResult } from './helpers.js';
import { assertFleetInvariants, type FleetInfo } from './invariants.js';

const SPEED = 20;
const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
const LIVE = new Set(['pending', 'running']);

function yaml(f: string, ci = 2): string {
  return `fleet: ${f}
region: us-east-1
dns:
  zone: ${f}.example.com
  ttl: 1
hub: hub-01
journal:
  bucket: ${f}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  ci:
    count: ${ci}
    type: t3.medium
    alternatives: [t3a.medium]
    market: on-demand
    state:
      s3: s3://${f}-state/ci
reconcile:
  orphan-grace: 0s
`;
}

describe('state.s3 follows its name', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED });
  });
  after(async () => {
    await cloud.close();
  });

  const run = (args: string[], opts: { answer?: string } = {}): Promise<CliResult> => fleet([...args, ...FAST], { endpoint: cloud.endpoint, ...opts });
  const info = (f: string, ci = 2): FleetInfo => ({ fleet: f, zone: `${f}.example.com`, names: ['hub-01', ...Array.from({ length: ci }, (_, i) => `ci-0${i + 1}`)], ttl: 1 });
  const keys = (f: string, name?: string): string[] => cloud.control.s3.objects(`${f}-state`).map((o) => o.key).filter((k) => name === undefined || k.startsWith(`ci/${name}/`));
  const serving = (f: string, name: string, ci = 2): InstanceView => cloud.control.ec2.instance(assertFleetInvariants(cloud.control, info(f, ci)).served.get(name)!.instanceId)!;
  const recordOf = (f: string, name: string): string[] | undefined => cloud.control.route53.records(`${f}.example.com`).find((r) => r.type === 'A' && r.name === `${name}.${f}.example.com.`)?.values;
  /** The instance saving its generated state (what fleet-state-save does on a real instance). */
  const save = (f: string, name: string, files: Record<string, string>): void => {
    for (const [file, body] of Object.entries(files)) cloud.control.s3.putObject(`${f}-state`, `ci/${name}/${file}`, body);
  };

  async function setup(f: string): Promise<string> {
    const config = writeConfig(yaml(f));
    assert.equal((await fleet(['init', '--config', config], { endpoint: cloud.endpoint })).code, 0);
    cloud.control.s3.createBucket(`${f}-state`);
    const r = await run(['apply', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return config;
  }

  test('a kill (the chaos stand-in): the replacement starts from the saved prefix, which nothing deleted', async () => {
    const f = 'st-kill';
    const config = await setup(f);
    const first = serving(f, 'ci-01');
    assert.deepEqual(first.restoredState, [], 'a new name starts from an empty prefix');
    save(f, 'ci-01', { 'app.conf': 'port=8080\n', 'keys/host.pem': 'PEM' });
    save(f, 'ci-02', { 'app.conf': 'port=9090\n' });

    const k = await run(['kill', 'ci-01', '--yes', '--config', config]);
    assert.equal(k.code, 0, k.stderr);
    assert.ok(!LIVE.has(cloud.control.ec2.instance(first.instanceId)!.state));
    assert.deepEqual(keys(f, 'ci-01'), ['ci/ci-01/app.conf', 'ci/ci-01/keys/host.pem'], 'the kill left the prefix alone');

    const r = await run(['apply', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const next = serving(f, 'ci-01');
    assert.notEqual(next.instanceId, first.instanceId);
    assert.ok(Number(next.tags['fleet:generation']) > Number(first.tags['fleet:generation']));
    assert.deepEqual(next.restoredState, ['ci/ci-01/app.conf', 'ci/ci-01/keys/host.pem'], 'the replacement restored what its predecessor saved');
    assert.equal(cloud.control.s3.getObject(`${f}-state`, 'ci/ci-01/app.conf')!.toString(), 'port=8080\n');
    assert.deepEqual(keys(f, 'ci-02'), ['ci/ci-02/app.conf'], "the other name's state is its own");
  });

  test('an upgrade: the new instance starts from the prefix as saved up to then', async () => {
    const f = 'st-up';
    const config = await setup(f);
    save(f, 'ci-02', { 'a.conf': '1', 'b.conf': '2' });
    const old = serving(f, 'ci-02');
    const r = await run(['upgrade', 'ci-02', '--type', 't3a.medium', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const now = serving(f, 'ci-02');
    assert.notEqual(now.instanceId, old.instanceId);
    assert.equal(now.instanceType, 't3a.medium');
    assert.deepEqual(now.restoredState, ['ci/ci-02/a.conf', 'ci/ci-02/b.conf']);
    assert.deepEqual(keys(f, 'ci-02'), ['ci/ci-02/a.conf', 'ci/ci-02/b.conf']);
  });

  test('retire keeps the prefix; --delete-state deletes it (and only it); dry run and confirmation as for kill', async () => {
    const f = 'st-retire';
    const config = await setup(f);
    save(f, 'ci-02', { 'app.conf': 'x', 'cache/1': 'y' });
    save(f, 'ci-01', { 'app.conf': 'z' });
    const victim = serving(f, 'ci-02');

    // Dry run: the plan, nothing changed.
    const dry = await run(['retire', 'ci-02', '--dry-run', '--config', config]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^retire ci-02:$/m);
    assert.match(dry.stdout, new RegExp(`delete the record ci-02\\.${f}\\.example\\.com A ${victim.privateIpAddress!.replace(/\./g, '\\.')} \\(TTL 1 s\\)`));
    assert.match(dry.stdout, new RegExp(`terminate ${victim.instanceId} `));
    assert.match(dry.stdout, new RegExp(`keep its state s3://${f}-state/ci/ci-02/ \\(2 objects; --delete-state deletes it\\)`));
    assert.match(dry.stdout, /note: ci-02 is still in fleet\.yaml \(role ci\): the next `fleet apply` launches it again from its saved state/);
    assert.deepEqual(recordOf(f, 'ci-02'), [victim.privateIpAddress]);
    // No terminal and no --yes: refused, exit 2; a "no" on a terminal: cancelled, exit 1.
    const refused = await run(['retire', 'ci-02', '--config', config]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to retire ci-02 without --yes/);
    const no = await run(['retire', 'ci-02', '--config', config], { answer: 'n' });
    assert.equal(no.code, 1);
    assert.equal(cloud.control.ec2.instance(victim.instanceId)!.state, 'running');

    // Retire: record first, then the instance; the state stays. Sampled while it runs.
    const order: string[] = [];
    const timer = setInterval(() => {
      const rec = recordOf(f, 'ci-02') !== undefined;
      const live = LIVE.has(cloud.control.ec2.instance(victim.instanceId)!.state);
      if (rec && !live) order.push('instance gone while the record still points at it');
    }, 2);
    let r: CliResult;
    try {
      r = await run(['retire', 'ci-02', '--yes', '--config', config]);
    } finally {
      clearInterval(timer);
    }
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(order, []);
    assert.equal(recordOf(f, 'ci-02'), undefined);
    assert.ok(!LIVE.has(cloud.control.ec2.instance(victim.instanceId)!.state));
    assert.match(r.stdout, new RegExp(`retired ci-02: record deleted, ${victim.instanceId} terminated, state s3://${f}-state/ci/ci-02/ kept`));
    assert.deepEqual(keys(f, 'ci-02'), ['ci/ci-02/app.conf', 'ci/ci-02/cache/1']);

    // Still in fleet.yaml: apply brings it back, from its saved state.
    const back = await run(['apply', '--yes', '--config', config]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.deepEqual(serving(f, 'ci-02').restoredState, ['ci/ci-02/app.conf', 'ci/ci-02/cache/1']);

    // --delete-state: the prefix goes, after the instance; other names keep theirs.
    const del = await run(['retire', 'ci-02', '--delete-state', '--yes', '--config', config]);
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.match(del.stdout, /DELETE the 2 objects of its state/);
    assert.match(del.stdout, /2 state objects deleted/);
    assert.deepEqual(keys(f, 'ci-02'), []);
    assert.deepEqual(keys(f, 'ci-01'), ['ci/ci-01/app.conf']);
    assert.ok(cloud.control.s3.objects(`${f}-fleet-journal`).some((o) => o.key.includes('-retire-ci-02-')), 'journaled');

    // Nothing left: nothing to retire.
    const again = await run(['retire', 'ci-02', '--delete-state', '--yes', '--config', config]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /ci-02 has no record and no live instance .*; nothing to retire/);
  });

  test('apply retiring a name fleet.yaml no longer wants keeps its state', async () => {
    const f = 'st-shrink';
    const config = await setup(f);
    save(f, 'ci-02', { 'app.conf': 'kept' });
    writeConfig(yaml(f, 1), config.slice(0, config.lastIndexOf('/')));
    const r = await run(['apply', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /retire ci-02: delete its record, then terminate/);
    assertFleetInvariants(cloud.control, info(f, 1));
    assert.deepEqual(keys(f, 'ci-02'), ['ci/ci-02/app.conf']);
  });

  test('bad retire input: exit 2, nothing changed', async () => {
    const f = 'st-bad';
    const config = await setup(f);
    const noState = await run(['retire', 'hub-01', '--delete-state', '--yes', '--config', config]);
    assert.equal(noState.code, 2);
    assert.match(noState.stderr, /--delete-state: role hub declares no state\.s3 in fleet\.yaml/);
    const badName = await run(['retire', 'CI-01', '--yes', '--config', config]);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /invalid name "CI-01"/);
    assertFleetInvariants(cloud.control, info(f));
  });
});
