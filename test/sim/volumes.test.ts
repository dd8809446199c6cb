/**
 * Conformance: EBS volumes and snapshots through EC2's query protocol, with the real
 * @aws-sdk/client-ec2 (CreateVolume, AttachVolume, DetachVolume, DeleteVolume,
 * DescribeVolumes, CreateSnapshot, DescribeSnapshots), success and error paths, pagination,
 * the instance side (terminate detaches, DescribeInstances' block device mappings) and the
 * throttling knob.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeSnapshots,
  paginateDescribeVolumes,
  type CreateVolumeCommandInput,
  type Snapshot,
  type Volume,
} from '@aws-sdk/client-ec2';
import type { SimDelays } from '../../src/sim/types.js';
import { cloudUnderTest, errorCode, errorStatus, eventually, simControl, type CloudUnderTest } from './harness.js';

let cloud: CloudUnderTest;
let run = 0;

before(async () => {
  cloud = await cloudUnderTest();
});
after(async () => {
  await cloud.close();
});

const az = (suffix: 'a' | 'b' | 'c'): string => `${cloud.region}${suffix}`;
const SUBNET_A = 'subnet-0aa00000000000001';
const SUBNET_B = 'subnet-0bb00000000000002';
/** A tag value unique to this process and call, to isolate Describe results on a shared endpoint. */
const unique = (what: string): string => `${what}-${process.pid}-${++run}-${Date.now()}`;

/** The fault and time knobs: in-process control, or the HTTP control endpoint of a local cloud elsewhere. */
interface Knobs {
  /** Set delays; returns the previous values of the keys set. */
  delays(d: Partial<SimDelays>): Promise<Partial<SimDelays>>;
  advance(ms: number): Promise<void>;
  throttling(on: boolean, buckets?: Record<string, { burst: number; refillPerSec: number }>): Promise<void>;
  /** The consistency window for new instances, when known. */
  consistencyWindowMs: number | undefined;
}

function knobs(): Knobs | undefined {
  const control = cloud.control;
  if (control) {
    return {
      async delays(d) {
        const prev: Partial<SimDelays> = {};
        for (const k of Object.keys(d) as (keyof SimDelays)[]) prev[k] = control.delays[k];
        Object.assign(control.delays, d);
        return prev;
      },
      advance: async (ms) => control.clock.advance(ms),
      throttling: async (on, buckets) => control.setThrottling(on, buckets),
      consistencyWindowMs: control.faults.consistencyWindowMs,
    };
  }
  if (cloud.isLocalCloud) {
    const ep = cloud.endpoint;
    return {
      async delays(d) {
        const all = (await simControl(ep, '/delays', {})) as SimDelays;
        const prev: Partial<SimDelays> = {};
        for (const k of Object.keys(d) as (keyof SimDelays)[]) prev[k] = all[k];
        await simControl(ep, '/delays', d);
        return prev;
      },
      advance: async (ms) => void (await simControl(ep, '/clock', { advanceMs: ms })),
      throttling: async (on, buckets) => void (await simControl(ep, '/throttling', { on, ...(buckets ? { buckets } : {}) })),
      consistencyWindowMs: undefined,
    };
  }
  return undefined;
}

async function createVolume(input: Partial<CreateVolumeCommandInput> = {}): Promise<Volume> {
  return cloud.clients.ec2.send(new CreateVolumeCommand({ AvailabilityZone: az('a'), Size: 8, VolumeType: 'gp3', ...input }));
}

async function describeVolume(volumeId: string): Promise<Volume> {
  const r = await cloud.clients.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
  assert.equal(r.Volumes?.length, 1);
  return r.Volumes![0]!;
}

async function waitVolume(volumeId: string, state: string): Promise<Volume> {
  return eventually(async () => {
    const v = await describeVolume(volumeId);
    return v.State === state ? v : undefined;
  });
}

async function describeSnapshot(snapshotId: string): Promise<Snapshot> {
  const r = await cloud.clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
  assert.equal(r.Snapshots?.length, 1);
  return r.Snapshots![0]!;
}

async function waitSnapshot(snapshotId: string): Promise<Snapshot> {
  return eventually(async () => {
    const s = await describeSnapshot(snapshotId);
    return s.State === 'completed' ? s : undefined;
  });
}

async function launch(subnetId = SUBNET_A): Promise<string> {
  const r = await cloud.clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.small', SubnetId: subnetId, MinCount: 1, MaxCount: 1 }));
  const id = r.Instances![0]!.InstanceId!;
  await eventually(async () => {
    const d = await cloud.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return d.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running';
  });
  return id;
}

test('CreateVolume: gp3 defaults, tags, creating -> available, DescribeVolumes by id', async () => {
  const name = unique('vol');
  const v = await createVolume({ Size: 20, TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'Name', Value: name }] }] });
  assert.match(v.VolumeId!, /^vol-[0-9a-f]{17}$/);
  assert.equal(v.Size, 20);
  assert.equal(v.VolumeType, 'gp3');
  assert.equal(v.Iops, 3000);
  assert.equal(v.Throughput, 125);
  assert.equal(v.AvailabilityZone, az('a'));
  assert.equal(v.Encrypted, false);
  assert.ok(v.State === 'creating' || v.State === 'available');
  assert.ok(v.CreateTime instanceof Date);
  assert.deepEqual(v.Tags, [{ Key: 'Name', Value: name }]);
  const ready = await waitVolume(v.VolumeId!, 'available');
  assert.deepEqual(ready.Attachments, []);
  assert.equal(ready.SnapshotId, '');
});

test('CreateVolume: gp2 reports its baseline IOPS; io1/io2 take provisioned IOPS; default type is gp2', async () => {
  const gp2 = await createVolume({ VolumeType: undefined, Size: 100 });
  assert.equal(gp2.VolumeType, 'gp2');
  assert.equal(gp2.Iops, 300);
  assert.equal(gp2.Throughput, undefined);
  const io2 = await createVolume({ VolumeType: 'io2', Size: 10, Iops: 5000 });
  assert.equal(io2.Iops, 5000);
  const st1 = await createVolume({ VolumeType: 'st1', Size: 125 });
  assert.equal(st1.Iops, undefined);
  const gp3 = await createVolume({ Size: 100, Iops: 16000, Throughput: 1000 });
  assert.equal(gp3.Iops, 16000);
  assert.equal(gp3.Throughput, 1000);
});

test('CreateVolume: validation errors are the AWS codes', async () => {
  const ec2 = cloud.clients.ec2;
  const cases: [Partial<CreateVolumeCommandInput>, string][] = [
    [{ AvailabilityZone: undefined }, 'MissingParameter'],
    [{ AvailabilityZone: `${cloud.region}z` }, 'InvalidParameterValue'],
    [{ AvailabilityZone: 'eu-west-9a' }, 'InvalidParameterValue'],
    [{ Size: undefined }, 'MissingParameter'],
    [{ VolumeType: 'gp9' as 'gp3' }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp2', Size: 16_385 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp3', Size: 65_537 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp3', Size: 0 }, 'InvalidParameterValue'],
    [{ VolumeType: 'st1', Size: 124 }, 'InvalidParameterValue'],
    [{ VolumeType: 'standard', Size: 1025 }, 'InvalidParameterValue'],
    [{ VolumeType: 'io1', Size: 3, Iops: 100 }, 'InvalidParameterValue'],
    [{ VolumeType: 'io1', Size: 10 }, 'MissingParameter'],
    [{ VolumeType: 'io1', Size: 10, Iops: 501 }, 'InvalidParameterValue'],
    [{ VolumeType: 'io2', Size: 10, Iops: 99 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp2', Iops: 3000 }, 'InvalidParameterCombination'],
    [{ VolumeType: 'sc1', Size: 500, Iops: 3000 }, 'InvalidParameterCombination'],
    [{ VolumeType: 'gp3', Iops: 2999 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp3', Size: 8, Iops: 4001 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp3', Throughput: 124 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp3', Throughput: 1000 }, 'InvalidParameterValue'],
    [{ VolumeType: 'gp2', Throughput: 200 }, 'InvalidParameterCombination'],
    [{ VolumeType: 'gp3', MultiAttachEnabled: true }, 'InvalidParameterCombination'],
    [{ SnapshotId: 'snap-nothex' }, 'InvalidSnapshotID.Malformed'],
    [{ SnapshotId: 'snap-0123456789abcdef0' }, 'InvalidSnapshot.NotFound'],
    [{ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'a', Value: 'b' }] }] }, 'InvalidParameterValue'],
    [{ TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'aws:x', Value: 'b' }] }] }, 'InvalidParameterValue'],
    [{ TagSpecifications: [{ ResourceType: 'volume', Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }] }, 'TagLimitExceeded'],
  ];
  for (const [input, code] of cases) {
    const p = ec2.send(new CreateVolumeCommand({ AvailabilityZone: az('a'), Size: 8, VolumeType: 'gp3', ...input }));
    assert.equal(await errorCode(p), code, `CreateVolume ${JSON.stringify(input).slice(0, 120)}`);
  }
  assert.equal(await errorStatus(ec2.send(new CreateVolumeCommand({ AvailabilityZone: `${cloud.region}z`, Size: 8 }))), 400);
  const dry = ec2.send(new CreateVolumeCommand({ AvailabilityZone: az('a'), Size: 8, DryRun: true }));
  assert.equal(await errorCode(dry), 'DryRunOperation');
});

test('CreateVolume: ClientToken makes it idempotent; other parameters -> IdempotentParameterMismatch', async () => {
  const token = unique('tok');
  const a = await createVolume({ ClientToken: token, Size: 9 });
  const b = await createVolume({ ClientToken: token, Size: 9 });
  assert.equal(b.VolumeId, a.VolumeId);
  assert.equal(await errorCode(createVolume({ ClientToken: token, Size: 10 })), 'IdempotentParameterMismatch');
});

test('AttachVolume / DetachVolume / DeleteVolume: lifecycle and every refusal', async () => {
  const ec2 = cloud.clients.ec2;
  const instanceId = await launch(SUBNET_A);
  const v = await createVolume();
  const other = await createVolume();
  const inB = await createVolume({ AvailabilityZone: az('b') });
  await waitVolume(v.VolumeId!, 'available');
  await waitVolume(other.VolumeId!, 'available');
  await waitVolume(inB.VolumeId!, 'available');

  // refusals before attaching
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: 'vol-xyz', InstanceId: instanceId, Device: '/dev/sdf' }))), 'InvalidVolumeID.Malformed');
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: 'vol-0123456789abcdef0', InstanceId: instanceId, Device: '/dev/sdf' }))), 'InvalidVolume.NotFound');
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: 'i-0123456789abcdef0', Device: '/dev/sdf' }))), 'InvalidInstanceID.NotFound');
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: 'i-bad', Device: '/dev/sdf' }))), 'InvalidInstanceID.Malformed');
  for (const device of ['/dev/sda1', '/dev/xvda', '/dev/foo', 'sdf', '/dev/sdzz']) {
    assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: device }))), 'InvalidParameterValue', device);
  }
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: inB.VolumeId!, InstanceId: instanceId, Device: '/dev/sdf' }))), 'InvalidVolume.ZoneMismatch');
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/sdf', DryRun: true }))), 'DryRunOperation');

  // attach: attaching -> attached
  const att = await ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/sdf' }));
  assert.equal(att.State, 'attaching');
  assert.equal(att.VolumeId, v.VolumeId);
  assert.equal(att.InstanceId, instanceId);
  assert.equal(att.Device, '/dev/sdf');
  assert.equal(att.DeleteOnTermination, false);
  assert.ok(att.AttachTime instanceof Date);
  const inUse = await eventually(async () => {
    const d = await describeVolume(v.VolumeId!);
    return d.Attachments?.[0]?.State === 'attached' ? d : undefined;
  });
  assert.equal(inUse.State, 'in-use');
  assert.equal(inUse.Attachments![0]!.InstanceId, instanceId);

  // DescribeInstances lists it in the block device mappings
  const di = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const bdm = di.Reservations![0]!.Instances![0]!.BlockDeviceMappings ?? [];
  const mapped = bdm.find((m) => m.Ebs?.VolumeId === v.VolumeId);
  assert.equal(mapped?.DeviceName, '/dev/sdf');
  assert.equal(mapped?.Ebs?.Status, 'attached');

  // refusals while attached
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/sdg' }))), 'VolumeInUse');
  const busy = ec2.send(new AttachVolumeCommand({ VolumeId: other.VolumeId!, InstanceId: instanceId, Device: '/dev/sdf' }));
  assert.equal(await errorCode(busy), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: other.VolumeId!, InstanceId: instanceId, Device: '/dev/xvdf' }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! }))), 'VolumeInUse');
  assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: 'i-0123456789abcdef0' }))), 'InvalidAttachment.NotFound');
  assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId!, Device: '/dev/sdg' }))), 'InvalidAttachment.NotFound');
  assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: other.VolumeId! }))), 'IncorrectState');

  // a second volume on another device
  const att2 = await ec2.send(new AttachVolumeCommand({ VolumeId: other.VolumeId!, InstanceId: instanceId, Device: '/dev/sdg' }));
  assert.equal(att2.State, 'attaching');

  // detach: detaching -> available
  const det = await ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/sdf' }));
  assert.equal(det.State, 'detaching');
  assert.equal(det.InstanceId, instanceId);
  const free = await waitVolume(v.VolumeId!, 'available');
  assert.deepEqual(free.Attachments, []);
  assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId! }))), 'IncorrectState');

  // the device is free again
  const again = await ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/xvdf' }));
  assert.equal(again.State, 'attaching');
  await ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId!, Force: true }));
  await waitVolume(v.VolumeId!, 'available');

  // delete: deleting -> gone
  assert.equal(await errorCode(ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId!, DryRun: true }))), 'DryRunOperation');
  await ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! }));
  await eventually(async () => (await errorCode(describeVolume(v.VolumeId!))) === 'InvalidVolume.NotFound');
  assert.equal(await errorCode(ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId! }))), 'InvalidVolume.NotFound');
  assert.equal(await errorCode(ec2.send(new DeleteVolumeCommand({ VolumeId: 'vol-1' }))), 'InvalidVolumeID.Malformed');
});

test('AttachVolume: an instance that is not running or stopped -> IncorrectState; a creating volume -> IncorrectState', async (t) => {
  const k = knobs();
  if (!k) return t.skip('needs the local cloud control: slows boot and volume creation to observe pending states');
  const saved = await k.delays({ bootMs: 600_000, attachMs: 600_000 });
  try {
    const r = await cloud.clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.small', SubnetId: SUBNET_A, MinCount: 1, MaxCount: 1 }));
    const pendingId = r.Instances![0]!.InstanceId!;
    const creating = await createVolume();
    assert.equal(creating.State, 'creating');
    await k.delays({ attachMs: saved.attachMs! });
    const ready = await createVolume();
    await waitVolume(ready.VolumeId!, 'available');
    const code = await errorCode(cloud.clients.ec2.send(new AttachVolumeCommand({ VolumeId: ready.VolumeId!, InstanceId: pendingId, Device: '/dev/sdf' })));
    // Inside a consistency window the new instance is not found yet, which is AWS too.
    if (k.consistencyWindowMs === 0) assert.equal(code, 'IncorrectState');
    else assert.ok(code === 'IncorrectState' || code === 'InvalidInstanceID.NotFound', code);
    await k.delays({ bootMs: saved.bootMs! });
    const running = await launch();
    assert.equal(await errorCode(cloud.clients.ec2.send(new AttachVolumeCommand({ VolumeId: creating.VolumeId!, InstanceId: running, Device: '/dev/sdf' }))), 'IncorrectState');
    assert.equal(await errorCode(cloud.clients.ec2.send(new DeleteVolumeCommand({ VolumeId: creating.VolumeId! }))), 'IncorrectState');
  } finally {
    await k.delays(saved);
  }
});

test('TerminateInstances: attached volumes detach and become available; the root volume (DeleteOnTermination) is deleted', async () => {
  const ec2 = cloud.clients.ec2;
  const instanceId = await launch(SUBNET_B);
  const roots = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }));
  assert.equal(roots.Volumes?.length, 1, 'RunInstances made the root volume');
  const root = roots.Volumes![0]!;
  assert.equal(root.State, 'in-use');
  assert.equal(root.AvailabilityZone, az('b'));
  assert.equal(root.Attachments?.[0]?.DeleteOnTermination, true);
  assert.equal(root.Attachments?.[0]?.InstanceId, instanceId);

  const v = await createVolume({ AvailabilityZone: az('b') });
  await waitVolume(v.VolumeId!, 'available');
  await ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/sdh' }));
  await eventually(async () => (await describeVolume(v.VolumeId!)).Attachments?.[0]?.State === 'attached');
  const both = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }));
  assert.deepEqual(both.Volumes?.map((x) => x.VolumeId).sort(), [root.VolumeId, v.VolumeId].sort());

  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  const free = await waitVolume(v.VolumeId!, 'available');
  assert.deepEqual(free.Attachments, []);
  await eventually(async () => (await errorCode(describeVolume(root.VolumeId!))) === 'InvalidVolume.NotFound');
  const byInstance = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }));
  assert.deepEqual(byInstance.Volumes, []);
});

test('AttachVolume to a stopped instance works, as on AWS', async () => {
  const ec2 = cloud.clients.ec2;
  const instanceId = await launch(SUBNET_A);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
  await eventually(async () => {
    const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return d.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'stopped';
  });
  const v = await createVolume();
  await waitVolume(v.VolumeId!, 'available');
  const att = await ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId!, InstanceId: instanceId, Device: '/dev/sdp' }));
  assert.equal(att.State, 'attaching');
  await eventually(async () => (await describeVolume(v.VolumeId!)).Attachments?.[0]?.State === 'attached');
});

test('CreateTags / DeleteTags on volumes and snapshots; tag filters follow', async () => {
  const ec2 = cloud.clients.ec2;
  const v = await createVolume();
  await waitVolume(v.VolumeId!, 'available');
  const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
  const name = unique('web-03');
  await ec2.send(new CreateTagsCommand({ Resources: [v.VolumeId!, s.SnapshotId!], Tags: [{ Key: 'fleet:name', Value: name }] }));
  const vols = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:fleet:name', Values: [name] }] }));
  assert.deepEqual(vols.Volumes?.map((x) => x.VolumeId), [v.VolumeId]);
  assert.deepEqual(vols.Volumes?.[0]?.Tags, [{ Key: 'fleet:name', Value: name }]);
  const snaps = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:fleet:name', Values: [name] }] }));
  assert.deepEqual(snaps.Snapshots?.map((x) => x.SnapshotId), [s.SnapshotId]);
  await ec2.send(new DeleteTagsCommand({ Resources: [v.VolumeId!], Tags: [{ Key: 'fleet:name' }] }));
  const after = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:fleet:name', Values: [name] }] }));
  assert.deepEqual(after.Volumes, []);
  assert.equal(await errorCode(ec2.send(new CreateTagsCommand({ Resources: ['vol-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] }))), 'InvalidVolume.NotFound');
});

test('DescribeVolumes: filters, MaxResults/NextToken paging over 23 volumes, the paginator', async () => {
  const ec2 = cloud.clients.ec2;
  const group = unique('page');
  const ids: string[] = [];
  for (let i = 0; i < 23; i++) {
    const v = await createVolume({
      AvailabilityZone: az(i % 2 === 0 ? 'a' : 'c'),
      Size: 1 + i,
      TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'group', Value: group }, ...(i < 5 ? [{ Key: `first-five-${group}`, Value: String(i) }] : [])] }],
    });
    ids.push(v.VolumeId!);
  }
  const byTag = [{ Name: 'tag:group', Values: [group] }];

  // manual paging
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await ec2.send(new DescribeVolumesCommand({ Filters: byTag, MaxResults: 5, NextToken: token }));
    assert.ok((r.Volumes?.length ?? 0) <= 5);
    seen.push(...(r.Volumes ?? []).map((v) => v.VolumeId!));
    token = r.NextToken;
    pages++;
    assert.ok(pages < 50, 'paging must end');
  } while (token);
  assert.deepEqual([...seen].sort(), [...ids].sort());
  assert.equal(new Set(seen).size, 23);
  assert.ok(pages >= 5);

  // the SDK paginator
  const viaPaginator: string[] = [];
  for await (const page of paginateDescribeVolumes({ client: ec2, pageSize: 7 }, { Filters: byTag })) viaPaginator.push(...(page.Volumes ?? []).map((v) => v.VolumeId!));
  assert.deepEqual([...viaPaginator].sort(), [...ids].sort());

  // filters
  const count = async (filters: { Name: string; Values: string[] }[]): Promise<number> => {
    const r = await ec2.send(new DescribeVolumesCommand({ Filters: [...byTag, ...filters] }));
    return r.Volumes?.length ?? 0;
  };
  assert.equal(await count([{ Name: 'availability-zone', Values: [az('c')] }]), 11);
  assert.equal(await count([{ Name: 'availability-zone', Values: [az('a'), az('c')] }]), 23);
  assert.equal(await count([{ Name: 'tag-key', Values: [`first-five-${group}`] }]), 5);
  assert.equal(await count([{ Name: `tag:first-five-${group}`, Values: ['1', '3'] }]), 2);
  assert.equal(await count([{ Name: 'tag:group', Values: [`${group.slice(0, -3)}*`] }]), 23);
  assert.equal(await count([{ Name: 'volume-id', Values: [ids[0]!, ids[4]!] }]), 2);
  assert.equal(await count([{ Name: 'size', Values: ['3'] }]), 1);
  assert.equal(await count([{ Name: 'snapshot-id', Values: ['snap-0123456789abcdef0'] }]), 0);
  await eventually(async () => (await count([{ Name: 'status', Values: ['available'] }])) === 23);
  assert.equal(await count([{ Name: 'status', Values: ['in-use'] }]), 0);

  // refusals
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ MaxResults: 4 }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ MaxResults: 501 }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ VolumeIds: [ids[0]!], MaxResults: 5 }))), 'InvalidParameterCombination');
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken: 'not-a-token' }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ VolumeIds: [ids[0]!, 'vol-0123456789abcdef0'] }))), 'InvalidVolume.NotFound');
  assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ VolumeIds: ['volume-1'] }))), 'InvalidVolumeID.Malformed');
});

test('CreateSnapshot / DescribeSnapshots: pending -> completed with progress, filters, paging, refusals', async () => {
  const ec2 = cloud.clients.ec2;
  const v = await createVolume({ Size: 12 });
  assert.equal(await errorCode(ec2.send(new CreateSnapshotCommand({ VolumeId: 'vol-0123456789abcdef0' }))), 'InvalidVolume.NotFound');
  assert.equal(await errorCode(ec2.send(new CreateSnapshotCommand({ VolumeId: 'vol-x' }))), 'InvalidVolumeID.Malformed');
  await waitVolume(v.VolumeId!, 'available');
  const group = unique('snaps');
  const s = await ec2.send(
    new CreateSnapshotCommand({ VolumeId: v.VolumeId!, Description: 'nightly', TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'group', Value: group }] }] }),
  );
  assert.match(s.SnapshotId!, /^snap-[0-9a-f]{17}$/);
  assert.equal(s.VolumeId, v.VolumeId);
  assert.equal(s.VolumeSize, 12);
  assert.equal(s.Description, 'nightly');
  assert.ok(s.State === 'pending' || s.State === 'completed');
  assert.match(s.Progress!, /^\d{1,3}%$/);
  assert.ok(s.StartTime instanceof Date);
  assert.equal(s.OwnerId !== undefined && s.OwnerId !== '', true);
  assert.deepEqual(s.Tags, [{ Key: 'group', Value: group }]);
  const done = await waitSnapshot(s.SnapshotId!);
  assert.equal(done.Progress, '100%');

  // more snapshots for paging: 23 in all
  const ids = [s.SnapshotId!];
  for (let i = 1; i < 23; i++) {
    const x = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId!, TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'group', Value: group }] }] }));
    ids.push(x.SnapshotId!);
  }
  const byTag = [{ Name: 'tag:group', Values: [group] }];
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: byTag, MaxResults: 5, NextToken: token }));
    assert.ok((r.Snapshots?.length ?? 0) <= 5);
    seen.push(...(r.Snapshots ?? []).map((x) => x.SnapshotId!));
    token = r.NextToken;
    assert.ok(++pages < 50);
  } while (token);
  assert.deepEqual([...seen].sort(), [...ids].sort());
  const viaPaginator: string[] = [];
  for await (const page of paginateDescribeSnapshots({ client: ec2, pageSize: 10 }, { Filters: [{ Name: 'volume-id', Values: [v.VolumeId!] }] })) {
    viaPaginator.push(...(page.Snapshots ?? []).map((x) => x.SnapshotId!));
  }
  assert.deepEqual([...viaPaginator].sort(), [...ids].sort());

  await eventually(async () => {
    const r = await ec2.send(new DescribeSnapshotsCommand({ Filters: [...byTag, { Name: 'status', Values: ['completed'] }] }));
    return r.Snapshots?.length === 23;
  });
  const byVolume = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'volume-id', Values: [v.VolumeId!] }, { Name: 'description', Values: ['night*'] }] }));
  assert.deepEqual(byVolume.Snapshots?.map((x) => x.SnapshotId), [s.SnapshotId]);
  const otherOwner = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['999999999999'], Filters: byTag }));
  assert.deepEqual(otherOwner.Snapshots, []);

  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [s.SnapshotId!], MaxResults: 5 }))), 'InvalidParameterCombination');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ MaxResults: 1001 }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ MaxResults: 4 }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-0123456789abcdef0'] }))), 'InvalidSnapshot.NotFound');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-zz'] }))), 'InvalidSnapshotID.Malformed');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['someone'] }))), 'InvalidUserID.Malformed');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ MaxResults: 5, NextToken: '%%%' }))), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] }))), 'InvalidParameterValue');
  const wrongType = ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId!, TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'a', Value: 'b' }] }] }));
  assert.equal(await errorCode(wrongType), 'InvalidParameterValue');
  assert.equal(await errorCode(ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId!, DryRun: true }))), 'DryRunOperation');
});

test('CreateVolume from a snapshot: size rules, the snapshot size by default, any AZ', async () => {
  const ec2 = cloud.clients.ec2;
  const v = await createVolume({ Size: 4 });
  await waitVolume(v.VolumeId!, 'available');
  const s = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
  await waitSnapshot(s.SnapshotId!);
  assert.equal(await errorCode(createVolume({ SnapshotId: s.SnapshotId!, Size: 3 })), 'InvalidParameterValue');
  assert.equal(await errorCode(createVolume({ SnapshotId: s.SnapshotId!, Size: undefined, VolumeType: 'st1' })), 'InvalidParameterValue');
  const copy = await createVolume({ SnapshotId: s.SnapshotId!, Size: undefined, AvailabilityZone: az('b') });
  assert.equal(copy.Size, 4);
  assert.equal(copy.SnapshotId, s.SnapshotId);
  assert.equal(copy.AvailabilityZone, az('b'));
  const bigger = await createVolume({ SnapshotId: s.SnapshotId!, Size: 16, AvailabilityZone: az('c') });
  assert.equal(bigger.Size, 16);
  const fromSnap = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'snapshot-id', Values: [s.SnapshotId!] }] }));
  assert.deepEqual(fromSnap.Volumes?.map((x) => x.VolumeId).sort(), [copy.VolumeId, bigger.VolumeId].sort());
});

test('CreateSnapshot: progress on the simulated clock; a pending snapshot cannot make a volume', async (t) => {
  const k = knobs();
  if (!k) return t.skip('needs the local cloud control: slows snapshots and advances the clock');
  const ec2 = cloud.clients.ec2;
  const v = await createVolume({ Size: 4 });
  await waitVolume(v.VolumeId!, 'available');
  const saved = await k.delays({ snapshotMs: 600_000 });
  try {
    const pending = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
    assert.equal(pending.State, 'pending');
    assert.equal(pending.Progress, '0%');
    assert.equal(await errorCode(createVolume({ SnapshotId: pending.SnapshotId!, Size: undefined })), 'IncorrectState');
    await k.advance(300_000);
    assert.equal((await describeSnapshot(pending.SnapshotId!)).Progress, '50%');
    await k.advance(300_000);
    const completed = await describeSnapshot(pending.SnapshotId!);
    assert.equal(completed.State, 'completed');
    assert.equal(completed.Progress, '100%');
    const restored = await createVolume({ SnapshotId: pending.SnapshotId!, Size: undefined });
    assert.equal(restored.SnapshotId, pending.SnapshotId);
  } finally {
    await k.delays(saved);
  }
});

test('the volume data follows a snapshot into a new volume in another AZ; the snapshot records its parent', async (t) => {
  const control = cloud.control;
  if (!control) return t.skip('needs the in-process local cloud control: writes and reads volume blocks');
  const ec2 = cloud.clients.ec2;
  const v = await createVolume({ Size: 4 });
  await waitVolume(v.VolumeId!, 'available');
  const blocks: Record<number, string> = { 0: 'boot', 7: 'seven', 8191: 'last' };
  control.ec2.writeVolumeBlocks(v.VolumeId!, blocks);
  assert.throws(() => control.ec2.writeVolumeBlocks(v.VolumeId!, { 8192: 'past the end of 4 GiB' }), RangeError);
  assert.throws(() => control.ec2.writeVolumeBlocks(v.VolumeId!, { [-1]: 'negative' }), RangeError);
  assert.throws(() => control.ec2.writeVolumeBlocks('vol-0123456789abcdef0', { 1: 'x' }), RangeError);
  const s1 = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
  control.ec2.writeVolumeBlocks(v.VolumeId!, { 9: 'after the snapshot' });
  await waitSnapshot(s1.SnapshotId!);
  const copy = await createVolume({ SnapshotId: s1.SnapshotId!, Size: undefined, AvailabilityZone: az('b') });
  const bigger = await createVolume({ SnapshotId: s1.SnapshotId!, Size: 16, AvailabilityZone: az('c') });
  assert.deepEqual(Object.fromEntries(control.ec2.volume(copy.VolumeId!)!.blocks), blocks);
  assert.deepEqual(Object.fromEntries(control.ec2.volume(bigger.VolumeId!)!.blocks), blocks);
  assert.equal(control.ec2.volume(copy.VolumeId!)!.az, az('b'));
  assert.equal(control.ec2.volume(v.VolumeId!)!.blocks.get(9), 'after the snapshot');

  const s2 = await ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId! }));
  const rec = control.ec2.snapshots().find((x) => x.snapshotId === s2.SnapshotId);
  assert.equal(rec?.parentSnapshotId, s1.SnapshotId, 'a snapshot records the previous snapshot of its volume');
  assert.equal(rec?.blocks.get(9), 'after the snapshot');
  assert.equal(control.ec2.snapshots().find((x) => x.snapshotId === s1.SnapshotId)?.blocks.get(9), undefined);
});

test('throttling: CreateVolume past its bucket -> RequestLimitExceeded (503)', async (t) => {
  const k = knobs();
  if (!k) return t.skip('needs the local cloud control: turns on throttling with a small bucket');
  await k.throttling(true, { 'ec2:volumes': { burst: 3, refillPerSec: 0.001 } });
  try {
    for (let i = 0; i < 3; i++) await createVolume();
    assert.equal(await errorCode(createVolume()), 'RequestLimitExceeded');
    assert.equal(await errorStatus(createVolume()), 503);
    // Describe* use another bucket and still pass.
    const r = await cloud.clients.ec2.send(new DescribeVolumesCommand({ MaxResults: 5 }));
    assert.ok(Array.isArray(r.Volumes));
  } finally {
    await k.throttling(false);
  }
});
