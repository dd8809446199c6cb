/** EC2 adapter: the fleet's instances, read with filtered, paginated DescribeInstances. */
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type EC2Client,
  type Filter,
  type Instance as SdkInstance,
  type Snapshot as SdkSnapshot,
  type Volume as SdkVolume,
  type VolumeType as SdkVolumeType,
} from '@aws-sdk/client-ec2';
import type { ImageRef, Instance, InstanceState, Snapshot, Volume, VolumeState } from '../model.js';
import type { Catalog, CreateVolumeRequest, Instances, LaunchRequest, PageProgress, Volumes } from '../ports.js';
import { TAG } from '../tags.js';
import { awsCode, cloudError } from './errors.js';
import { CapacityError, FleetError, InputError } from '../errors.js';

/** Errors that mean "no capacity for this type/AZ/market now": change one of them. */
export const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'UnfulfillableCapacity',
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
  'InstanceLimitExceeded',
  'InsufficientFreeAddressesInSubnet',
]);

/** Launch errors that are the caller's mistake (a type, an image, a subnet that does not exist). */
const INPUT_CODES: ReadonlySet<string> = new Set([
  'InvalidAMIID.NotFound',
  'InvalidAMIID.Malformed',
  'InvalidSubnetID.NotFound',
  'InvalidGroup.NotFound',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'Unsupported',
]);

const STATES: readonly InstanceState[] = ['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped'];

export function fromSdkInstance(i: SdkInstance): Instance {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  const stateName = i.State?.Name as InstanceState | undefined;
  const gen = tags[TAG.generation];
  const generation = gen !== undefined && /^\d+$/.test(gen) ? Number(gen) : undefined;
  const out: Instance = {
    id: i.InstanceId ?? '',
    state: stateName && STATES.includes(stateName) ? stateName : 'pending',
    type: i.InstanceType ?? '',
    market: i.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    az: i.Placement?.AvailabilityZone ?? '',
    launchTime: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : '',
    tags,
  };
  if (i.SubnetId) out.subnetId = i.SubnetId;
  if (i.PrivateIpAddress) out.privateIp = i.PrivateIpAddress;
  if (i.ImageId) out.imageId = i.ImageId;
  if (tags[TAG.fleet] !== undefined) out.fleet = tags[TAG.fleet];
  if (tags[TAG.name] !== undefined) out.name = tags[TAG.name];
  if (tags[TAG.role] !== undefined) out.role = tags[TAG.role];
  if (generation !== undefined) out.generation = generation;
  if (tags[TAG.converged]) out.converged = tags[TAG.converged];
  return out;
}

const VOLUME_STATES: readonly VolumeState[] = ['creating', 'available', 'in-use', 'deleting', 'deleted', 'error'];
const ATTACH_STATES = ['attaching', 'attached', 'detaching', 'detached'] as const;

function tagsOf(list: { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const t of list ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return tags;
}

export function fromSdkVolume(v: SdkVolume): Volume {
  const tags = tagsOf(v.Tags);
  const state = v.State as VolumeState | undefined;
  const out: Volume = {
    id: v.VolumeId ?? '',
    az: v.AvailabilityZone ?? '',
    state: state && VOLUME_STATES.includes(state) ? state : 'creating',
    sizeGiB: v.Size ?? 0,
    type: v.VolumeType ?? '',
    createTime: v.CreateTime ? new Date(v.CreateTime).toISOString() : '',
    tags,
  };
  if (v.SnapshotId) out.snapshotId = v.SnapshotId;
  if (tags[TAG.fleet] !== undefined) out.fleet = tags[TAG.fleet];
  if (tags[TAG.volumeOf] !== undefined) out.name = tags[TAG.volumeOf];
  // One attachment (no Multi-Attach here); a detached one is no attachment.
  const a = (v.Attachments ?? []).find((x) => x.InstanceId && x.State !== 'detached');
  if (a?.InstanceId) {
    const st = a.State as (typeof ATTACH_STATES)[number] | undefined;
    out.attachment = { instanceId: a.InstanceId, device: a.Device ?? '', state: st && ATTACH_STATES.includes(st) ? st : 'attaching' };
  }
  return out;
}

export function fromSdkSnapshot(s: SdkSnapshot): Snapshot {
  const state = s.State as Snapshot['state'] | undefined;
  const out: Snapshot = {
    id: s.SnapshotId ?? '',
    volumeId: s.VolumeId ?? '',
    state: state ?? 'pending',
    startTime: s.StartTime ? new Date(s.StartTime).toISOString() : '',
    sizeGiB: s.VolumeSize ?? 0,
    tags: tagsOf(s.Tags),
  };
  if (s.Progress) out.progress = s.Progress;
  return out;
}

/** The EC2 ports, one client behind them: instances, volumes (and snapshots), the image/subnet catalog. */
export interface Ec2Ports {
  instances: Instances;
  volumes: Volumes;
  catalog: Catalog;
}

export function createEc2(client: EC2Client): Ec2Ports {
  /** Every volume matching the filters, every page. */
  const describeVolumes = async (what: string, filters: Filter[]): Promise<Volume[]> => {
    const out: Volume[] = [];
    let token: string | undefined;
    do {
      let res;
      try {
        res = await client.send(new DescribeVolumesCommand({ Filters: filters, MaxResults: 500, ...(token ? { NextToken: token } : {}) }));
      } catch (err) {
        throw cloudError(what, err);
      }
      for (const v of res.Volumes ?? []) out.push(fromSdkVolume(v));
      token = res.NextToken || undefined;
    } while (token);
    return out;
  };
  /** Every instance matching the filters (always filtered, 1,000 a page), every page. */
  const describeInstances = async (what: string, filters: Filter[], onPage?: PageProgress): Promise<Instance[]> => {
    const out: Instance[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      let res;
      try {
        res = await client.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
      } catch (err) {
        throw cloudError(what, err);
      }
      pages++;
      for (const r of res.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId) out.push(fromSdkInstance(i));
      onPage?.({ pages, items: out.length });
      token = res.NextToken || undefined;
    } while (token);
    return out;
  };
  const describeSnapshots = async (what: string, filters: Filter[]): Promise<Snapshot[]> => {
    const out: Snapshot[] = [];
    let token: string | undefined;
    do {
      let res;
      try {
        res = await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: filters, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
      } catch (err) {
        throw cloudError(what, err);
      }
      for (const s of res.Snapshots ?? []) out.push(fromSdkSnapshot(s));
      token = res.NextToken || undefined;
    } while (token);
    return out;
  };
  const ec2 = {
    listFleetInstances(fleet: string, onPage?: PageProgress): Promise<Instance[]> {
      return describeInstances(`listing instances of fleet ${fleet}`, [{ Name: `tag:${TAG.fleet}`, Values: [fleet] }], onPage);
    },

    async launch(req: LaunchRequest): Promise<Instance> {
      const tags = Object.entries(req.tags).map(([Key, Value]) => ({ Key, Value }));
      let res;
      try {
        res = await client.send(
          new RunInstancesCommand({
            ClientToken: req.clientToken,
            ImageId: req.imageId,
            InstanceType: req.instanceType as _InstanceType,
            MinCount: 1,
            MaxCount: 1,
            SubnetId: req.subnetId,
            SecurityGroupIds: req.securityGroupIds,
            ...(req.instanceProfile ? { IamInstanceProfile: req.instanceProfile.startsWith('arn:') ? { Arn: req.instanceProfile } : { Name: req.instanceProfile } } : {}),
            UserData: req.userDataBase64,
            MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
            ...(req.market === 'spot'
              ? { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } } }
              : {}),
            TagSpecifications: [
              { ResourceType: 'instance', Tags: tags },
              { ResourceType: 'volume', Tags: tags },
            ],
          }),
        );
      } catch (err) {
        const code = awsCode(err);
        const what = `launching ${req.tags[TAG.name] ?? 'an instance'} as ${req.instanceType} ${req.market} in ${req.subnetId}`;
        if (code && CAPACITY_CODES.has(code)) throw new CapacityError(what, code, err);
        if (code && INPUT_CODES.has(code)) throw new InputError(`${what}: ${code}: ${err instanceof Error ? err.message : ''}`, { cause: err });
        throw cloudError(what, err);
      }
      const inst = res.Instances?.[0];
      if (!inst?.InstanceId) throw new FleetError('RunInstances returned no instance', { exitCode: 1 });
      return fromSdkInstance(inst);
    },

    async describe(ids: string[]): Promise<Map<string, Instance>> {
      const out = new Map<string, Instance>();
      // By filter, not InstanceIds: an id not visible yet (eventual consistency) is simply
      // absent instead of failing the whole call with InvalidInstanceID.NotFound.
      for (let i = 0; i < ids.length; i += 200) {
        const what = `describing ${ids.length === 1 ? ids[0] : `${ids.length} instances`}`;
        for (const inst of await describeInstances(what, [{ Name: 'instance-id', Values: ids.slice(i, i + 200) }])) out.set(inst.id, inst);
      }
      return out;
    },

    byClientToken(fleet: string, token: string): Promise<Instance[]> {
      return describeInstances(`looking up the launch with client token ${token}`, [
        { Name: `tag:${TAG.fleet}`, Values: [fleet] },
        { Name: 'client-token', Values: [token] },
      ]);
    },

    byName(fleet: string, name: string): Promise<Instance[]> {
      return describeInstances(`looking up the instances of ${name}`, [
        { Name: `tag:${TAG.fleet}`, Values: [fleet] },
        { Name: `tag:${TAG.name}`, Values: [name] },
      ]);
    },

    async byPrivateIp(fleet: string, ips: string[]): Promise<Instance[]> {
      const out: Instance[] = [];
      for (let i = 0; i < ips.length; i += 200) {
        const chunk = ips.slice(i, i + 200);
        out.push(
          ...(await describeInstances(`looking up the instances at ${chunk.join(', ')}`, [
            { Name: `tag:${TAG.fleet}`, Values: [fleet] },
            { Name: 'private-ip-address', Values: chunk },
          ])),
        );
      }
      return out;
    },

    async terminate(ids: string[]): Promise<void> {
      for (let i = 0; i < ids.length; i += 1000) {
        try {
          await client.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) }));
        } catch (err) {
          throw cloudError(`terminating ${ids.slice(i, i + 1000).join(', ')}`, err);
        }
      }
    },

    async stop(ids: string[]): Promise<void> {
      try {
        await client.send(new StopInstancesCommand({ InstanceIds: ids }));
      } catch (err) {
        throw cloudError(`stopping ${ids.join(', ')}`, err);
      }
    },

    async start(ids: string[]): Promise<void> {
      try {
        await client.send(new StartInstancesCommand({ InstanceIds: ids }));
      } catch (err) {
        throw cloudError(`starting ${ids.join(', ')}`, err);
      }
    },

    async subnetZones(subnetIds: string[]): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      if (subnetIds.length === 0) return out;
      let token: string | undefined;
      do {
        let res;
        try {
          res = await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: subnetIds }], ...(token ? { NextToken: token } : {}) }));
        } catch (err) {
          throw cloudError(`looking up the availability zones of ${subnetIds.join(', ')}`, err);
        }
        for (const s of res.Subnets ?? []) if (s.SubnetId && s.AvailabilityZone) out.set(s.SubnetId, s.AvailabilityZone);
        token = res.NextToken || undefined;
      } while (token);
      return out;
    },

    listFleetVolumes(fleet: string): Promise<Volume[]> {
      return describeVolumes(`listing the volumes of fleet ${fleet}`, [
        { Name: `tag:${TAG.fleet}`, Values: [fleet] },
        { Name: 'tag-key', Values: [TAG.volumeOf] },
      ]);
    },

    volumesOfName(fleet: string, name: string): Promise<Volume[]> {
      return describeVolumes(`looking up the volume of ${name}`, [
        { Name: `tag:${TAG.fleet}`, Values: [fleet] },
        { Name: `tag:${TAG.volumeOf}`, Values: [name] },
      ]);
    },

    async describeVolume(id: string): Promise<Volume | undefined> {
      // By filter: a volume that is gone is simply absent (no InvalidVolume.NotFound).
      return (await describeVolumes(`describing ${id}`, [{ Name: 'volume-id', Values: [id] }]))[0];
    },

    async createVolume(req: CreateVolumeRequest): Promise<Volume> {
      let res;
      try {
        res = await client.send(
          new CreateVolumeCommand({
            ClientToken: req.clientToken,
            AvailabilityZone: req.az,
            Size: req.sizeGiB,
            VolumeType: req.type as SdkVolumeType,
            ...(req.iops !== undefined ? { Iops: req.iops } : {}),
            ...(req.throughputMiBps !== undefined ? { Throughput: req.throughputMiBps } : {}),
            ...(req.snapshotId ? { SnapshotId: req.snapshotId } : {}),
            TagSpecifications: [{ ResourceType: 'volume', Tags: Object.entries(req.tags).map(([Key, Value]) => ({ Key, Value })) }],
          }),
        );
      } catch (err) {
        const code = awsCode(err);
        const what = `creating a ${req.sizeGiB} GiB ${req.type} volume in ${req.az}${req.snapshotId ? ` from ${req.snapshotId}` : ''}`;
        if (code === 'InvalidParameterValue' || code === 'InvalidParameterCombination') throw new InputError(`${what}: ${code}: ${err instanceof Error ? err.message : ''}`, { cause: err });
        throw cloudError(what, err);
      }
      return fromSdkVolume({ ...res, Attachments: [] });
    },

    async attachVolume(volumeId: string, instanceId: string, device: string): Promise<void> {
      try {
        await client.send(new AttachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId, Device: device }));
      } catch (err) {
        throw cloudError(`attaching ${volumeId} to ${instanceId} as ${device}`, err);
      }
    },

    async detachVolume(volumeId: string, instanceId: string): Promise<void> {
      try {
        await client.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: instanceId }));
      } catch (err) {
        throw cloudError(`detaching ${volumeId} from ${instanceId}`, err);
      }
    },

    async deleteVolume(volumeId: string): Promise<void> {
      try {
        await client.send(new DeleteVolumeCommand({ VolumeId: volumeId }));
      } catch (err) {
        throw cloudError(`deleting ${volumeId}`, err);
      }
    },

    async createSnapshot(volumeId: string, description: string, tags: Record<string, string>): Promise<Snapshot> {
      let res;
      try {
        res = await client.send(
          new CreateSnapshotCommand({
            VolumeId: volumeId,
            Description: description.slice(0, 255),
            TagSpecifications: [{ ResourceType: 'snapshot', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
          }),
        );
      } catch (err) {
        throw cloudError(`snapshotting ${volumeId}`, err);
      }
      return fromSdkSnapshot(res);
    },

    async describeSnapshot(id: string): Promise<Snapshot | undefined> {
      return (await describeSnapshots(`describing ${id}`, [{ Name: 'snapshot-id', Values: [id] }]))[0];
    },

    async snapshotsOfVolume(volumeId: string): Promise<Snapshot[]> {
      const list = await describeSnapshots(`listing the snapshots of ${volumeId}`, [{ Name: 'volume-id', Values: [volumeId] }]);
      return list.sort((a, b) => a.startTime.localeCompare(b.startTime) || a.id.localeCompare(b.id));
    },

    async resolveImage(ref: ImageRef): Promise<string> {
      if ('id' in ref) {
        // Check it exists before anything is launched with it.
        let found;
        try {
          found = await client.send(new DescribeImagesCommand({ ImageIds: [ref.id] }));
        } catch (err) {
          const code = awsCode(err);
          if (code === 'InvalidAMIID.NotFound' || code === 'InvalidAMIID.Malformed' || code === 'InvalidAMIID.Unavailable') {
            throw new InputError(`image ${ref.id} does not exist in this region (${code})`, { cause: err });
          }
          throw cloudError(`looking up image ${ref.id}`, err);
        }
        const img = found.Images?.[0];
        if (!img) throw new InputError(`image ${ref.id} does not exist in this region`);
        if (img.State && img.State !== 'available') throw new InputError(`image ${ref.id} is ${img.State}, not available`);
        return ref.id;
      }
      let res;
      try {
        res = await client.send(
          new DescribeImagesCommand({
            Owners: [ref.owner],
            Filters: [
              { Name: 'name', Values: [ref.namePattern] },
              { Name: 'state', Values: ['available'] },
            ],
          }),
        );
      } catch (err) {
        throw cloudError(`resolving image ${ref.owner}/${ref.namePattern}`, err);
      }
      const images = (res.Images ?? []).filter((i) => i.ImageId).sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''));
      const newest = images[0];
      if (!newest?.ImageId) throw new FleetError(`no available image of owner ${ref.owner} matches ${JSON.stringify(ref.namePattern)}`, { exitCode: 1 });
      return newest.ImageId;
    },
  };
  const inst: Instances = {
    listFleetInstances: ec2.listFleetInstances,
    launch: ec2.launch,
    describe: ec2.describe,
    byClientToken: ec2.byClientToken,
    byName: ec2.byName,
    byPrivateIp: ec2.byPrivateIp,
    terminate: ec2.terminate,
    stop: ec2.stop,
    start: ec2.start,
  };
  const volumes: Volumes = {
    listFleetVolumes: ec2.listFleetVolumes,
    volumesOfName: ec2.volumesOfName,
    describeVolume: ec2.describeVolume,
    createVolume: ec2.createVolume,
    attachVolume: ec2.attachVolume,
    detachVolume: ec2.detachVolume,
    deleteVolume: ec2.deleteVolume,
    createSnapshot: ec2.createSnapshot,
    describeSnapshot: ec2.describeSnapshot,
    snapshotsOfVolume: ec2.snapshotsOfVolume,
  };
  const catalog: Catalog = { resolveImage: ec2.resolveImage, subnetZones: ec2.subnetZones };
  return { instances: inst, volumes, catalog };
}
