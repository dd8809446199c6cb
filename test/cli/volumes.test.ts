/**
 * Volumes that follow a name (DESIGN.md section 4, stateful exceptions), end to end: the CLI
 * (in-process, the real AWS SDK) against the local cloud. The data is "written" on the local
 * cloud's volume records (control.ec2.writeVolumeBlocks) and its presence is checked on those
 * records — not through the CLI — at every step, by a sampler that runs while the operation
 * does: at no moment may the name's data exist nowhere.
 *
 * Speed: the local cloud runs 20x real time and the CLI runs its waits on the same scale.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EC2Client, DescribeVolumesCommand, DetachVolumeCommand } from '@aws-sdk/client-ec2';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import type { VolumeView } from '../../src/sim/ec2/volumes.js';
import type { InstanceView } from '../../src/sim/ec2/instances.js';
import { fleet, fleetProcess, writeConfig, type CliResult } from './helpers.js';
import { assertFleetInvariants, type FleetInfo } from './invariants.js';

const SPEED = 20;
const FAST = ['--time-scale', String(SPEED), '--poll-ms', '200'];
const SUBNETS = ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'];
const LIVE = new Set(['pending', 'running']);
const DATA = { 0: 'superblock-v1', 7: 'journal-a', 2047: 'rows-1' } as const;
const creds = { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' };

function yaml(f: string, opts: { market?: string; count?: number } = {}): string {
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
  subnets: [${SUBNETS.join(', ')}]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  db:
    count: ${opts.count ?? 1}
    type: m5.large
    alternatives: [m5.xlarge]
    market: ${opts.market ?? 'on-demand'}
    volume: {size: 10, type: gp3, device: /dev/sdf, mount: /srv/db, iops: 3000, throughput: 250}
reconcile:
  orphan-grace: 0s
  converge-timeout: 5m
`;
}

interface JournalEntry {
  kind: string;
  name: string;
  instanceId?: string;
  unservedMs?: number;
  msToServed?: number;
  volume?: {
    volumeId: string;
    az: string;
    how: string;
    from?: { volumeId: string; az: string; instanceId?: string };
    snapshots?: { pre?: { snapshotId: string; blocks: number; changedSince?: { snapshotId: string; changed: number } }; final: { snapshotId: string; blocks: number; changedSince?: { snapshotId: string; changed: number } } };
    deletedOld?: string;
  };
}

describe('a volume follows its name', () => {
  let cloud: LocalCloud;
  let ec2: EC2Client;
  before(async () => {
    cloud = await startLocalCloud({ clockSpeed: SPEED });
    ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: creds });
  });
  after(async () => {
    ec2.destroy();
    await cloud.close();
  });

  /** A mutating command, on the cloud's time scale. */
  const run = (args: string[], env: Record<string, string> = {}) => fleet([...args, ...FAST], { endpoint: cloud.endpoint, env });
  /** init, plan: no waits to scale. */
  const look = (args: string[]) => fleet(args, { endpoint: cloud.endpoint });
  const info = (f: string, count = 1): FleetInfo => ({ fleet: f, zone: `${f}.example.com`, names: ['hub-01', ...Array.from({ length: count }, (_, i) => `db-0${i + 1}`)], ttl: 1 });
  /** The name's volumes as the local cloud has them (deleting ones included, deleted ones gone). */
  const volumesOf = (f: string, name: string): VolumeView[] => cloud.control.ec2.volumes().filter((v) => v.tags['fleet:fleet'] === f && v.tags['fleet:volume-of'] === name);
  const instancesOf = (f: string, name: string): InstanceView[] => cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === f && i.tags['fleet:name'] === name);
  const holdsData = (v: VolumeView): boolean => Object.entries(DATA).every(([k, token]) => v.blocks.get(Number(k)) === token);
  const journal = (f: string): JournalEntry[] =>
    cloud.control.s3.objects(`${f}-fleet-journal`).map((o) => JSON.parse(cloud.control.s3.getObject(`${f}-fleet-journal`, o.key)!.toString('utf8')) as JournalEntry);

  /**
   * While `op` runs, sample the cloud every few ms: the name's data must always exist on at
   * least one volume that is not being deleted, and a volume is never attached to two
   * instances. Returns every distinct (volume, state, attached-to) seen, in order.
   */
  async function sampled<T>(f: string, name: string, op: () => Promise<T>, also?: () => void): Promise<{ result: T; seen: string[]; problems: string[] }> {
    const seen: string[] = [];
    const problems: string[] = [];
    const sample = (): void => {
      also?.();
      const vols = volumesOf(f, name);
      const keep = vols.filter((v) => v.state !== 'deleting' && holdsData(v));
      if (keep.length === 0) problems.push(`at ${cloud.control.clock.nowIso()} no volume of ${name} holds its data: ${JSON.stringify(vols.map((v) => [v.volumeId, v.state]))}`);
      for (const v of vols) {
        const line = `${v.volumeId} ${v.az} ${v.state}${v.attachment ? ` ${v.attachment.status} ${v.attachment.instanceId}` : ''}`;
        if (seen[seen.length - 1] !== line && !seen.includes(line)) seen.push(line);
      }
    };
    const timer = setInterval(sample, 3);
    try {
      const result = await op();
      sample();
      return { result, seen, problems };
    } finally {
      clearInterval(timer);
    }
  }

  /** The A record of a name, as the local cloud has it. */
  const recordOf = (f: string, name: string): string | undefined =>
    cloud.control.route53.records(`${f}.example.com`).find((r) => r.type === 'A' && r.name === `${name}.${f}.example.com.`)?.values[0];

  /**
   * A sampler of the record of `name` and the tags of its instances: every value the record
   * takes, with the `fleet:mounted` tag its instance carried when the record was first seen
   * pointing at it.
   */
  function recordWatch(f: string, name: string): { sample: () => void; changes: { ip: string | undefined; instanceId?: string; mounted?: string }[] } {
    const changes: { ip: string | undefined; instanceId?: string; mounted?: string }[] = [];
    const sample = (): void => {
      const ip = recordOf(f, name);
      if (changes.length > 0 && changes[changes.length - 1]!.ip === ip) return;
      const inst = instancesOf(f, name).find((i) => i.privateIpAddress === ip && LIVE.has(i.state));
      changes.push({ ip, ...(inst ? { instanceId: inst.instanceId } : {}), ...(inst?.tags['fleet:mounted'] !== undefined ? { mounted: inst.tags['fleet:mounted'] } : {}) });
    };
    return { sample, changes };
  }

  async function setup(f: string, count = 1): Promise<{ config: string; volume: VolumeView; serving: InstanceView }> {
    const config = writeConfig(yaml(f, { count }));
    assert.equal((await look(['init', '--config', config])).code, 0);
    const r = await run(['apply', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const snap = assertFleetInvariants(cloud.control, info(f, count));
    const serving = cloud.control.ec2.instance(snap.served.get('db-01')!.instanceId)!;
    const vols = volumesOf(f, 'db-01');
    assert.equal(vols.length, 1, 'one volume for db-01');
    const volume = vols[0]!;
    cloud.control.ec2.writeVolumeBlocks(volume.volumeId, { ...DATA });
    return { config, volume: cloud.control.ec2.volume(volume.volumeId)!, serving };
  }

  test('first launch: the volume is created in the instance AZ, tagged with the name, attached before the name is served', async () => {
    const f = 'vol-first';
    const config = writeConfig(yaml(f));
    assert.equal((await look(['init', '--config', config])).code, 0);
    const plan = await look(['plan', '--config', config]);
    assert.match(plan.stdout, /launch db-01 generation 1, then create its record \(no record\)/);
    cloud.control.resetCalls();
    const r = await run(['apply', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const snap = assertFleetInvariants(cloud.control, info(f));
    const serving = snap.served.get('db-01')!;
    const vols = volumesOf(f, 'db-01');
    assert.equal(vols.length, 1);
    const v = vols[0]!;
    assert.equal(v.az, serving.az, 'created in the AZ of the instance');
    assert.equal(v.sizeGiB, 10);
    assert.equal(v.type, 'gp3');
    assert.deepEqual(v.attachment, { instanceId: serving.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.equal(v.tags['fleet:fleet'], f);
    assert.equal(v.tags['fleet:volume-of'], 'db-01');
    assert.equal(cloud.control.calls()['ec2:CreateVolume'], 1, 'one CreateVolume');
    // The hub has no volume.
    assert.equal(volumesOf(f, 'hub-01').length, 0);
    // Served names of a role with a volume, each with its volume: nothing to do.
    const again = await run(['apply', '--yes', '--config', config]);
    assert.match(again.stdout, /converged: nothing to do/);
  });

  test('upgrade in the same AZ: launch beside, converge, stop the old, move the volume, swap; the name is briefly unserved and the window is measured', async () => {
    const f = 'vol-same';
    const { config, volume, serving } = await setup(f);

    const dry = await run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--dry-run', '--config', config]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /db-01: launch generation 2 in the AZ of its volume, wait converged; then db-01 is briefly unserved: stop i-[0-9a-f]+ \(m5\.large on-demand\), move its volume to the new instance/);

    const watch = recordWatch(f, 'db-01');
    const { result: r, seen, problems } = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]), watch.sample);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^done: db-01 -> i-[0-9a-f]+ \\(m5\\.xlarge on-demand, generation 2\\); ${serving.instanceId} terminated; volume ${volume.volumeId} moved; unserved \\d+\\.\\d s$`, 'm'));
    assert.match(r.stderr, /db-01: briefly unserved from now: stopping i-[0-9a-f]+ to move vol-[0-9a-f]+ to i-[0-9a-f]+/);
    assert.match(r.stderr, /db-01: served again by i-[0-9a-f]+ \(record INSYNC\) after \d+ ms unserved/);
    assert.deepEqual(problems, []);
    const after = assertFleetInvariants(cloud.control, info(f));
    const now = after.served.get('db-01')!;
    assert.notEqual(now.instanceId, serving.instanceId);
    assert.equal(now.instanceType, 'm5.xlarge');
    assert.equal(now.az, volume.az, 'launched in the AZ of the volume');
    // The same volume, with its data, attached to the instance that serves the name.
    const vols = volumesOf(f, 'db-01');
    assert.deepEqual(vols.map((v) => v.volumeId), [volume.volumeId], 'no new volume');
    assert.deepEqual(vols[0]!.attachment, { instanceId: now.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(vols[0]!));
    // It went from the old instance, through available, to the new one: the cloud's record of
    // the volume's attachments shows the detach from the old completed before the attach to the
    // new was asked for (sampling states cannot prove it: 'available' may last a single tick).
    const iOld = seen.findIndex((l) => l.endsWith(`attached ${serving.instanceId}`));
    const iNew = seen.findIndex((l) => l.endsWith(`attached ${now.instanceId}`));
    assert.ok(iOld >= 0 && iOld < iNew, `attached to the old, then to the new: ${seen.join(' | ')}`);
    const history = vols[0]!.attachments;
    assert.deepEqual(history.map((a) => a.instanceId), [serving.instanceId, now.instanceId], JSON.stringify(history));
    const was = history[0]!;
    const is = history[1]!;
    assert.ok(was.detachedAt !== undefined && was.detachedAt <= is.attachTime, `detached from the old (${was.detachedAt}) before attached to the new (${is.attachTime})`);
    assert.equal(is.detachedAt, undefined, 'still attached to the new one');
    assert.ok(!LIVE.has(cloud.control.ec2.instance(serving.instanceId)!.state), 'the old instance is terminated');
    // The record swapped once, from the old instance to the new one, and only once the new one had mounted the volume.
    assert.deepEqual(watch.changes.map((c) => c.instanceId), [serving.instanceId, now.instanceId], JSON.stringify(watch.changes));
    assert.equal(watch.changes[1]!.mounted, volume.volumeId, `the new instance carried fleet:mounted=${volume.volumeId} when the record first pointed at it: ${JSON.stringify(watch.changes)}`);
    assert.equal(cloud.control.ec2.instance(now.instanceId)!.tags['fleet:mounted'], volume.volumeId);
    // The unserved window: measured, journaled, bounded by stop + detach + attach + INSYNC.
    const entry = journal(f).find((e) => e.kind === 'replace' && e.instanceId === now.instanceId)!;
    assert.ok(entry, 'the replacement is journaled');
    assert.equal(entry.volume?.how, 'moved');
    assert.equal(entry.volume?.from?.instanceId, serving.instanceId);
    assert.ok(typeof entry.unservedMs === 'number' && entry.unservedMs > 0 && entry.unservedMs < entry.msToServed!, `unserved ${entry.unservedMs} ms of ${entry.msToServed} ms`);
    const d = cloud.control.delays;
    assert.ok(entry.unservedMs >= d.shutdownMs + 2 * d.attachMs + d.convergeMs, `the window covers stop, detach, attach and the mount by the next agent run: ${entry.unservedMs} ms`);
  });

  test('kill, then apply: the replacement is launched in the AZ of the volume and gets it before it converges', async () => {
    const f = 'vol-heal';
    const { config, volume, serving } = await setup(f);
    const k = await run(['kill', 'db-01', '--yes', '--config', config]);
    assert.equal(k.code, 0, k.stderr);
    const plan = await look(['plan', '--config', config]);
    assert.match(plan.stdout, new RegExp(`launch db-01 generation 2, then swap its record .*its volume ${volume.volumeId} \\(${volume.az}, (attached to ${serving.instanceId}|available)\\) follows it`));
    const { result: r, problems } = await sampled(f, 'db-01', () => run(['apply', '--yes', '--config', config]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(problems, []);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(now.az, volume.az);
    const v = cloud.control.ec2.volume(volume.volumeId)!;
    assert.deepEqual(v.attachment, { instanceId: now.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(v));
    // Attached before convergence (the first agent run mounts it): the attachment is older than the converged tag.
    const inst = cloud.control.ec2.instance(now.instanceId)!;
    const described = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volume.volumeId] }));
    const attachTime = described.Volumes![0]!.Attachments![0]!.AttachTime!;
    assert.ok(attachTime.getTime() <= Date.parse(inst.tags['fleet:converged']!), `attached at ${attachTime.toISOString()}, converged at ${inst.tags['fleet:converged']}`);
    assert.equal(journal(f).find((e) => e.kind === 'replace' && e.instanceId === inst.instanceId)?.unservedMs, undefined, 'no window of our making: the name was unserved already');
  });

  test('no capacity in the volume AZ: the new instance runs in another AZ, the data moves by a verified snapshot, the old volume goes only after the new one serves', async () => {
    const f = 'vol-xaz';
    const { config, volume, serving } = await setup(f);
    cloud.control.addCapacityRule({ az: volume.az });
    let moved: Awaited<ReturnType<typeof sampled<CliResult>>>;
    try {
      moved = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]));
    } finally {
      cloud.control.clearCapacityRules();
    }
    const r = moved.result;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`volume copied from ${volume.volumeId} \\(${volume.az}\\) to vol-[0-9a-f]+ \\(us-east-1[a-c]\\) by snapshot snap-[0-9a-f]+ \\(3 blocks, 0 changed since snap-[0-9a-f]+\\), ${volume.volumeId} deleted; unserved`));
    assert.deepEqual(moved.problems, [], 'the data existed somewhere at every moment');
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.notEqual(now.az, volume.az, 'launched in another AZ');
    const vols = volumesOf(f, 'db-01').filter((v) => v.state !== 'deleting');
    assert.equal(vols.length, 1, `one volume left: ${JSON.stringify(vols.map((v) => v.volumeId))}`);
    const copy = vols[0]!;
    assert.notEqual(copy.volumeId, volume.volumeId);
    assert.equal(copy.az, now.az);
    assert.deepEqual(copy.attachment, { instanceId: now.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(copy), 'the copy holds the data');
    assert.equal(copy.tags['fleet:volume-from'], volume.volumeId);
    const old = cloud.control.ec2.volume(volume.volumeId);
    assert.ok(old === undefined || old.state === 'deleting', 'the old volume is deleted');
    // The old volume was deleted only once the copy was attached to the instance serving the name.
    const iCopy = moved.seen.findIndex((l) => l.startsWith(copy.volumeId) && l.endsWith(`attached ${now.instanceId}`));
    const iGone = moved.seen.findIndex((l) => l.startsWith(volume.volumeId) && l.includes('deleting'));
    assert.ok(iCopy >= 0 && (iGone < 0 || iCopy < iGone), moved.seen.join(' | '));
    // Two snapshots of the volume: one while the old instance served, one after it stopped; both verified.
    const snaps = cloud.control.ec2.snapshots().filter((s) => s.volumeId === volume.volumeId);
    assert.equal(snaps.length, 2);
    const entry = journal(f).find((e) => e.kind === 'replace' && e.instanceId === now.instanceId)!;
    assert.equal(entry.volume?.how, 'copied');
    assert.equal(entry.volume?.deletedOld, volume.volumeId);
    assert.equal(entry.volume?.snapshots?.final.blocks, Object.keys(DATA).length, 'ListSnapshotBlocks lists every written block');
    assert.equal(entry.volume?.snapshots?.final.changedSince?.snapshotId, entry.volume?.snapshots?.pre?.snapshotId);
    assert.equal(entry.volume?.snapshots?.final.changedSince?.changed, 0, 'nothing written between the two snapshots');
    assert.equal(copy.snapshotId, entry.volume?.snapshots?.final.snapshotId, 'the copy comes from the final snapshot');
    assert.ok((entry.unservedMs ?? 0) > 0);
    assert.ok(!LIVE.has(cloud.control.ec2.instance(serving.instanceId)!.state));

    // Move it back (the first AZ full this time): the blocks written since count as changed against the last snapshot.
    cloud.control.ec2.writeVolumeBlocks(copy.volumeId, { 9: 'journal-b', 10: 'journal-c' });
    cloud.control.addCapacityRule({ az: copy.az });
    let back: CliResult;
    try {
      back = await run(['upgrade', 'db-01', '--type', 'm5.large', '--yes', '--config', config]);
    } finally {
      cloud.control.clearCapacityRules();
    }
    assert.equal(back.code, 0, back.stdout + back.stderr);
    const again = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.notEqual(again.az, copy.az);
    const e2 = journal(f).find((e) => e.kind === 'replace' && e.instanceId === again.instanceId)!;
    assert.equal(e2.volume?.snapshots?.pre?.changedSince?.snapshotId, entry.volume?.snapshots?.final.snapshotId, 'compared with the snapshot the volume was made from');
    assert.equal(e2.volume?.snapshots?.pre?.changedSince?.changed, 2, 'the two blocks written since');
    assert.equal(e2.volume?.snapshots?.final.blocks, Object.keys(DATA).length + 2);
    const last = volumesOf(f, 'db-01').filter((v) => v.state !== 'deleting');
    assert.equal(last.length, 1);
    assert.ok(holdsData(last[0]!) && last[0]!.blocks.get(9) === 'journal-b');
  });

  test('a spot role: a one-time spot instance cannot be stopped, so it is terminated to quiesce the volume, then the volume moves', async () => {
    const f = 'vol-spot';
    const config = writeConfig(yaml(f, { market: 'spot' }));
    assert.equal((await look(['init', '--config', config])).code, 0);
    assert.equal((await run(['apply', '--yes', '--config', config])).code, 0);
    const serving = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(serving.market, 'spot');
    const volume = volumesOf(f, 'db-01')[0]!;
    cloud.control.ec2.writeVolumeBlocks(volume.volumeId, { ...DATA });
    const { result: r, problems } = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /cannot be stopped \(UnsupportedOperation: a one-time spot instance\); terminating it/);
    assert.deepEqual(problems, []);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    const v = cloud.control.ec2.volume(volume.volumeId)!;
    assert.deepEqual(v.attachment, { instanceId: now.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(v));
  });

  test('no capacity anywhere: nothing changes, the old instance keeps serving with its volume', async () => {
    const f = 'vol-full';
    const { config, volume, serving } = await setup(f);
    cloud.control.addCapacityRule({ instanceType: 'm5.xlarge' });
    let r: CliResult;
    try {
      r = await run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]);
    } finally {
      cloud.control.clearCapacityRules();
    }
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /no capacity for db-01/);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(now.instanceId, serving.instanceId);
    assert.deepEqual(cloud.control.ec2.volume(volume.volumeId)!.attachment, { instanceId: serving.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.equal(cloud.control.ec2.snapshots().filter((s) => s.volumeId === volume.volumeId).length, 0, 'no snapshot: nothing moved');
  });

  test('the new instance never converges: the old one stays untouched and keeps its volume', async () => {
    const f = 'vol-noconv';
    const config = writeConfig(yaml(f).replace('converge-timeout: 5m', 'converge-timeout: 30s'));
    assert.equal((await look(['init', '--config', config])).code, 0);
    assert.equal((await run(['apply', '--yes', '--config', config])).code, 0);
    const serving = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    const volume = volumesOf(f, 'db-01')[0]!;
    cloud.control.ec2.setConvergence({ names: ['db-01'], converge: 'never' });
    let r: CliResult;
    try {
      r = await run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]);
    } finally {
      cloud.control.ec2.setConvergence(undefined);
    }
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /rolled back/);
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state, 'running', 'never stopped');
    assert.deepEqual(cloud.control.ec2.volume(volume.volumeId)!.attachment?.instanceId, serving.instanceId);
    assertFleetInvariants(cloud.control, info(f));
  });

  test('attaching to the new instance fails after the old one was stopped: the volume goes back, the old instance runs again, the record never moved', async () => {
    const f = 'vol-rollback';
    const { config, volume, serving } = await setup(f);
    // Every attempt of the SDK (5) at the one AttachVolume to the new instance fails.
    cloud.control.failNext('ec2', 'AttachVolume', 5, 503);
    const { result: r, problems } = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`rolled back \\(i-[0-9a-f]+ terminated; ${volume.volumeId} back on ${serving.instanceId}, which runs again; DNS untouched\\)`), r.stdout);
    assert.deepEqual(problems, []);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(now.instanceId, serving.instanceId, 'the old instance serves again (its address survived the stop)');
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state, 'running');
    assert.deepEqual(cloud.control.ec2.volume(volume.volumeId)!.attachment, { instanceId: serving.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(cloud.control.ec2.volume(volume.volumeId)!));
    for (const i of instancesOf(f, 'db-01')) if (i.instanceId !== serving.instanceId) assert.ok(!LIVE.has(i.state), `${i.instanceId} terminated`);
  });

  test('the volume moves to the new instance but is never mounted there: the upgrade fails before the swap and rolls back; the old instance runs again with it', async () => {
    const f = 'vol-nomount';
    const config = writeConfig(yaml(f).replace('converge-timeout: 5m', 'converge-timeout: 30s'));
    assert.equal((await look(['init', '--config', config])).code, 0);
    assert.equal((await run(['apply', '--yes', '--config', config])).code, 0);
    const serving = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    const volume = volumesOf(f, 'db-01')[0]!;
    cloud.control.ec2.writeVolumeBlocks(volume.volumeId, { ...DATA });
    // The first launch attaches before convergence; the agent run after that mounts it (convergeMs later).
    for (let n = 0; n < 200 && cloud.control.ec2.instance(serving.instanceId)!.tags['fleet:mounted'] === undefined; n++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.tags['fleet:mounted'], volume.volumeId, 'the first instance mounted its volume');
    const record = recordOf(f, 'db-01');
    assert.equal(record, serving.ip);
    // Once the new instance converged, its agent stops mounting anything (the rule also covers the old one, which converged and mounted long ago).
    let ruled: string | undefined;
    const watch = recordWatch(f, 'db-01');
    const also = (): void => {
      watch.sample();
      if (ruled) return;
      const fresh = instancesOf(f, 'db-01').find((i) => i.instanceId !== serving.instanceId && i.tags['fleet:converged'] !== undefined);
      if (fresh) {
        ruled = fresh.instanceId;
        cloud.control.ec2.setConvergence({ names: ['db-01'], converge: 'never' });
      }
    };
    let out: Awaited<ReturnType<typeof sampled<CliResult>>>;
    try {
      out = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]), also);
    } finally {
      cloud.control.ec2.setConvergence(undefined);
    }
    const r = out.result;
    assert.ok(ruled, 'the new instance converged');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`timed out .*to mount ${volume.volumeId}`), r.stdout);
    assert.match(r.stdout, new RegExp(`rolled back \\(${ruled} terminated; ${volume.volumeId} back on ${serving.instanceId}, which runs again; DNS untouched\\)`), r.stdout);
    assert.deepEqual(out.problems, []);
    // The record never moved.
    assert.deepEqual(watch.changes.map((c) => c.ip), [record], JSON.stringify(watch.changes));
    assert.equal(recordOf(f, 'db-01'), record);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(now.instanceId, serving.instanceId, 'the old instance serves again');
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state, 'running');
    assert.deepEqual(cloud.control.ec2.volume(volume.volumeId)!.attachment, { instanceId: serving.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(cloud.control.ec2.volume(volume.volumeId)!));
    assert.notEqual(cloud.control.ec2.instance(ruled)?.tags['fleet:mounted'], volume.volumeId, 'the new instance never mounted it');
    for (const i of instancesOf(f, 'db-01')) if (i.instanceId !== serving.instanceId) assert.ok(!LIVE.has(i.state), `${i.instanceId} terminated`);
  });

  test('across AZs, attaching the copy fails: the copy is deleted, the original never was; the old instance runs again with it', async () => {
    const f = 'vol-xrollback';
    const { config, volume, serving } = await setup(f);
    cloud.control.addCapacityRule({ az: volume.az });
    cloud.control.failNext('ec2', 'AttachVolume', 5, 503);
    let moved: Awaited<ReturnType<typeof sampled<CliResult>>>;
    try {
      moved = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]));
    } finally {
      cloud.control.clearCapacityRules();
    }
    assert.equal(moved.result.code, 1, moved.result.stdout + moved.result.stderr);
    assert.match(moved.result.stdout, new RegExp(`the copy vol-[0-9a-f]+ deleted \\(the original ${volume.volumeId} is intact\\); ${volume.volumeId} back on ${serving.instanceId}, which runs again`));
    assert.deepEqual(moved.problems, []);
    assert.equal(assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!.instanceId, serving.instanceId);
    const vols = volumesOf(f, 'db-01').filter((v) => v.state !== 'deleting');
    assert.deepEqual(vols.map((v) => v.volumeId), [volume.volumeId]);
    assert.deepEqual(vols[0]!.attachment, { instanceId: serving.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(vols[0]!));
  });

  test('a spot role whose old instance was terminated to quiesce, then the move fails: the volume is kept, and the next apply serves the name with it', async () => {
    const f = 'vol-spotfail';
    const config = writeConfig(yaml(f, { market: 'spot' }));
    assert.equal((await look(['init', '--config', config])).code, 0);
    assert.equal((await run(['apply', '--yes', '--config', config])).code, 0);
    const volume = volumesOf(f, 'db-01')[0]!;
    cloud.control.ec2.writeVolumeBlocks(volume.volumeId, { ...DATA });
    cloud.control.failNext('ec2', 'AttachVolume', 5, 503);
    const { result: r, problems } = await sampled(f, 'db-01', () => run(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config]));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /was terminated to free vol-[0-9a-f]+; db-01 is unserved until `fleet apply` launches it again with its volume/);
    assert.deepEqual(problems, [], 'the volume was never deleted');
    assert.equal(cloud.control.ec2.volume(volume.volumeId)!.state, 'available');
    const healed = await run(['apply', '--yes', '--config', config]);
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    const v = cloud.control.ec2.volume(volume.volumeId)!;
    assert.deepEqual(v.attachment, { instanceId: now.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.ok(holdsData(v));
  });

  test('a crash between detach and attach: the next apply attaches the volume to the instance that serves the name', async () => {
    const f = 'vol-crash';
    const { config, volume, serving } = await setup(f);
    const crashed = await fleetProcess(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config, ...FAST], {
      env: { AWS_ENDPOINT_URL: cloud.endpoint, FLEET_TEST_CRASH_AT: 'detached:db-01' },
      timeoutMs: 60_000,
    });
    assert.match(crashed.stderr, /FLEET_TEST_CRASH_AT: crashing at detached of db-01/, crashed.stderr);
    // What the crash left: the old instance stopped, the volume on nobody, the new instance converged and unserved.
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state, 'stopped');
    const left = cloud.control.ec2.volume(volume.volumeId)!;
    assert.ok(!left.attachment || left.attachment.status === 'detaching', `detached: ${JSON.stringify(left.attachment)}`);
    assert.ok(holdsData(left));
    const fresh = instancesOf(f, 'db-01').filter((i) => i.instanceId !== serving.instanceId);
    assert.equal(fresh.length, 1);
    assert.ok(fresh[0]!.tags['fleet:converged']);

    const plan = await look(['plan', '--config', config]);
    assert.match(plan.stdout, new RegExp(`adopt ${fresh[0]!.instanceId} .* as db-01, swapping its record from .*its volume ${volume.volumeId}`));
    const { result: healed, problems } = await sampled(f, 'db-01', () => run(['apply', '--yes', '--config', config]));
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    assert.deepEqual(problems, []);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(now.instanceId, fresh[0]!.instanceId, 'the converged new instance now serves');
    const v = cloud.control.ec2.volume(volume.volumeId)!;
    assert.deepEqual(v.attachment, { instanceId: now.instanceId, device: '/dev/sdf', status: 'attached' }, 'the volume is on the instance that serves the name');
    assert.ok(holdsData(v));
    assert.ok(!LIVE.has(cloud.control.ec2.instance(serving.instanceId)!.state), 'the stopped old instance is terminated');
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state !== 'stopped', true);
    const again = await run(['apply', '--yes', '--config', config]);
    assert.match(again.stdout, /converged: nothing to do/);
  });

  test('a cross-AZ move crashed right after its swap: the next apply collects the stopped old instance; the original volume is kept, never deleted blind', async () => {
    const f = 'vol-xcrash';
    const { config, volume, serving } = await setup(f);
    cloud.control.addCapacityRule({ az: volume.az });
    let crashed: CliResult;
    try {
      crashed = await fleetProcess(['upgrade', 'db-01', '--type', 'm5.xlarge', '--yes', '--config', config, ...FAST], {
        env: { AWS_ENDPOINT_URL: cloud.endpoint, FLEET_TEST_CRASH_AT: 'swapped:db-01' },
        timeoutMs: 60_000,
      });
    } finally {
      cloud.control.clearCapacityRules();
    }
    assert.match(crashed.stderr, /crashing at swapped of db-01/, crashed.stderr);
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state, 'stopped', 'the old instance was stopped to quiesce the volume');
    const copy = volumesOf(f, 'db-01').find((v) => v.volumeId !== volume.volumeId)!;
    assert.ok(copy && holdsData(copy));

    const plan = await look(['plan', '--config', config, '--time-scale', String(SPEED)]);
    assert.match(plan.stdout, new RegExp(`terminate orphan ${serving.instanceId} \\(${serving.instanceId} \\(tagged db-01, generation 1\\) is stopped, no record points at it\\)`));
    const healed = await run(['apply', '--yes', '--config', config]);
    assert.equal(healed.code, 0, healed.stdout + healed.stderr);
    const now = assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!;
    assert.equal(cloud.control.ec2.volume(copy.volumeId)!.attachment?.instanceId, now.instanceId);
    assert.equal(cloud.control.ec2.instance(serving.instanceId)!.state === 'stopped', false, 'the stopped old instance is collected');
    // It detaches once the old instance is terminated (shutting-down now).
    const t0 = Date.now();
    while (cloud.control.ec2.volume(volume.volumeId)!.state !== 'available' && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
    const original = cloud.control.ec2.volume(volume.volumeId)!;
    assert.equal(original.state, 'available', 'the original is kept');
    assert.ok(holdsData(original));
    const after = await look(['plan', '--config', config]);
    assert.match(after.stdout, new RegExp(`converged: nothing to do[\\s\\S]*note: db-01: ${volume.volumeId} \\(${volume.az}\\) is the volume ${copy.volumeId} was copied from; it is kept`));
  });

  test('a served name whose volume was detached by hand: plan shows a reattach, apply attaches it back', async () => {
    const f = 'vol-reattach';
    const { config, volume, serving } = await setup(f);
    await ec2.send(new DetachVolumeCommand({ VolumeId: volume.volumeId, InstanceId: serving.instanceId }));
    const t0 = Date.now();
    while (cloud.control.ec2.volume(volume.volumeId)!.attachment) {
      assert.ok(Date.now() - t0 < 10_000);
      await new Promise((r) => setTimeout(r, 5));
    }
    const plan = await look(['plan', '--config', config]);
    assert.match(plan.stdout, new RegExp(`reattach ${volume.volumeId} to ${serving.instanceId}, which serves db-01 \\(its volume ${volume.volumeId} is available, not to ${serving.instanceId}, which serves it\\)`));
    const r = await run(['apply', '--yes', '--config', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(cloud.control.ec2.volume(volume.volumeId)!.attachment, { instanceId: serving.instanceId, device: '/dev/sdf', status: 'attached' });
    assert.equal(assertFleetInvariants(cloud.control, info(f)).served.get('db-01')!.instanceId, serving.instanceId, 'the serving instance was never replaced');
    assert.ok(journal(f).some((e) => e.kind === 'reattach' && e.name === 'db-01'));
    assert.match((await run(['apply', '--yes', '--config', config])).stdout, /converged: nothing to do/);
  });
});
