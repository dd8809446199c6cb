/** EC2 adapter: the fleet's instances, read with filtered, paginated DescribeInstances. */
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeSecurityGroupsCommand,
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
import type { ImageRef, Instance, Snapshot, Volume, VolumeState } from '../model.js';
import type { AccountCatalog, BeforePage, Catalog, CatalogImage, CreateVolumeRequest, Instances, LaunchRequest, PageProgress, Volumes } from '../ports.js';
import { TAG } from '../tags.js';
import { compactPage, instanceFrom, parseDescribeInstancesPage } from './compact-page.js';
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


/** What the SDK deserializes in place of a listing page read by compactPage. */
const EMPTY_DESCRIBE_INSTANCES = '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><reservationSet/></DescribeInstancesResponse>';

export function fromSdkInstance(i: SdkInstance): Instance {
  return instanceFrom({
    id: i.InstanceId ?? '',
    ...(i.State?.Name !== undefined ? { state: i.State.Name } : {}),
    ...(i.InstanceType !== undefined ? { type: i.InstanceType } : {}),
    ...(i.InstanceLifecycle !== undefined ? { lifecycle: i.InstanceLifecycle } : {}),
    ...(i.Placement?.AvailabilityZone !== undefined ? { az: i.Placement.AvailabilityZone } : {}),
    ...(i.LaunchTime !== undefined ? { launchTime: i.LaunchTime } : {}),
    ...(i.SubnetId !== undefined ? { subnetId: i.SubnetId } : {}),
    ...(i.PrivateIpAddress !== undefined ? { privateIp: i.PrivateIpAddress } : {}),
    ...(i.ImageId !== undefined ? { imageId: i.ImageId } : {}),
    tags: tagsOf(i.Tags),
  });
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
  const describeInstances = async (what: string, filters: Filter[], onPage?: PageProgress, beforePage?: BeforePage): Promise<Instance[]> => {
    const out: Instance[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      await beforePage?.();
      // The page is read by a scanner that keeps only the fields fleet maps, not by the SDK's
      // deserializer (src/aws/compact-page.ts): a 1,000-instance page costs a fraction.
      const command = new DescribeInstancesCommand({ Filters: filters, MaxResults: 1000, ...(token ? { NextToken: token } : {}) });
      const page = compactPage(command, parseDescribeInstancesPage, EMPTY_DESCRIBE_INSTANCES);
      try {
        await client.send(command);
      } catch (err) {
        throw cloudError(what, err);
      }
      pages++;
      const { instances, nextToken } = page();
      for (const i of instances) out.push(i);
      onPage?.({ pages, items: out.length });
      token = nextToken;
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
    listFleetInstances(fleet: string, onPage?: PageProgress, beforePage?: BeforePage): Promise<Instance[]> {
      return describeInstances(`listing instances of fleet ${fleet}`, [{ Name: `tag:${TAG.fleet}`, Values: [fleet] }], onPage, beforePage);
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
  const catalog: Catalog = { resolveImage: ec2.resolveImage, subnetZones: ec2.subnetZones, ...createEc2Catalog(client) };
  return { instances: inst, volumes, catalog };
}

/** Filter values per request: EC2 takes up to 200 values in one filter; fleet names far fewer. */
const FILTER_CHUNK = 100;

function chunks<T>(items: readonly T[], n = FILTER_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/**
 * The preflight's reads (DescribeInstanceTypes, DescribeInstanceTypeOfferings, DescribeImages,
 * DescribeSubnets, DescribeSecurityGroups), each by filter, so that what does not exist is
 * simply absent from the answer rather than failing the whole request.
 */
export function createEc2Catalog(client: EC2Client): AccountCatalog {
  /** Every page of a paginated Describe*, mapping each page to items. */
  async function pages<R extends { NextToken?: string | undefined }>(what: string, call: (token: string | undefined) => Promise<R>, each: (page: R) => void): Promise<void> {
    let token: string | undefined;
    let n = 0;
    do {
      let res: R;
      try {
        res = await call(token);
      } catch (err) {
        throw cloudError(what, err);
      }
      each(res);
      token = res.NextToken || undefined;
      if (++n > 10_000) throw new FleetError(`${what}: the endpoint keeps answering with a next page`, { exitCode: 1 });
    } while (token);
  }

  return {
    async instanceTypes(types) {
      const out = new Map<string, string[]>();
      for (const part of chunks([...new Set(types)])) {
        await pages(
          `describing instance types ${part.join(', ')}`,
          (token) => client.send(new DescribeInstanceTypesCommand({ Filters: [{ Name: 'instance-type', Values: part }], MaxResults: 100, ...(token ? { NextToken: token } : {}) })),
          (res) => {
            for (const t of res.InstanceTypes ?? []) if (t.InstanceType) out.set(t.InstanceType, [...(t.ProcessorInfo?.SupportedArchitectures ?? [])]);
          },
        );
      }
      return out;
    },

    async offerings(types, azs) {
      const out = new Map<string, Set<string>>(azs.map((az) => [az, new Set<string>()]));
      if (types.length === 0 || azs.length === 0) return out;
      for (const part of chunks([...new Set(types)])) {
        await pages(
          `describing the offerings of ${part.join(', ')} in ${azs.join(', ')}`,
          (token) =>
            client.send(
              new DescribeInstanceTypeOfferingsCommand({
                LocationType: 'availability-zone',
                Filters: [
                  { Name: 'instance-type', Values: part },
                  { Name: 'location', Values: [...azs] },
                ],
                MaxResults: 1000,
                ...(token ? { NextToken: token } : {}),
              }),
            ),
          (res) => {
            for (const o of res.InstanceTypeOfferings ?? []) if (o.Location && o.InstanceType) out.get(o.Location)?.add(o.InstanceType);
          },
        );
      }
      return out;
    },

    async image(ref: ImageRef): Promise<CatalogImage | undefined> {
      let res;
      try {
        res =
          'id' in ref
            ? await client.send(new DescribeImagesCommand({ ImageIds: [ref.id] }))
            : await client.send(new DescribeImagesCommand({ Owners: [ref.owner], Filters: [{ Name: 'name', Values: [ref.namePattern] }, { Name: 'state', Values: ['available'] }] }));
      } catch (err) {
        const code = awsCode(err);
        if (code === 'InvalidAMIID.NotFound' || code === 'InvalidAMIID.Malformed' || code === 'InvalidAMIID.Unavailable') return undefined;
        throw cloudError('id' in ref ? `looking up image ${ref.id}` : `resolving image ${ref.owner}/${ref.namePattern}`, err);
      }
      const img = (res.Images ?? []).filter((i) => i.ImageId).sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
      if (!img?.ImageId) return undefined;
      return { id: img.ImageId, architecture: img.Architecture ?? 'unknown', state: img.State ?? 'available', ...(img.Name ? { name: img.Name } : {}) };
    },

    async subnets(ids) {
      const out = new Map<string, { az: string; vpcId: string }>();
      for (const part of chunks([...new Set(ids)])) {
        await pages(
          `describing subnets ${part.join(', ')}`,
          (token) => client.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: part }], ...(token ? { NextToken: token } : {}) })),
          (res) => {
            for (const s of res.Subnets ?? []) if (s.SubnetId && s.AvailabilityZone && s.VpcId) out.set(s.SubnetId, { az: s.AvailabilityZone, vpcId: s.VpcId });
          },
        );
      }
      return out;
    },

    async securityGroups(ids) {
      const out = new Map<string, { vpcId: string }>();
      for (const part of chunks([...new Set(ids)])) {
        await pages(
          `describing security groups ${part.join(', ')}`,
          (token) => client.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: part }], ...(token ? { NextToken: token } : {}) })),
          (res) => {
            for (const g of res.SecurityGroups ?? []) if (g.GroupId && g.VpcId) out.set(g.GroupId, { vpcId: g.VpcId });
          },
        );
      }
      return out;
    },
  };
}
