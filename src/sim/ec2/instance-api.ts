/**
 * The EC2 instance actions of the local cloud: RunInstances, DescribeInstances,
 * TerminateInstances, StopInstances, StartInstances, CreateTags, DeleteTags and
 * DescribeInstanceAttribute, with AWS's validation, error codes and messages.
 */
import { AwsError, type SimContext, type SimRequest } from '../types.js';
import { escapeXml } from '../server.js';
import type { Ec2Params } from './query.js';
import type { Ec2ActionHandler } from './volumes.js';
import { isBootstrap, type InstanceRecord, type InstanceStore, type MetadataOptions, type SpotInfo, type StateChange } from './instances.js';
import { el, rawResponse, reservationXml, runInstancesXml, stateChangesXml, type RenderCtx } from './render.js';
import { DEFAULT_SECURITY_GROUP, DEFAULT_VPC_ID, IMAGES, INSTANCE_TYPES, ipToInt, offeredIn, type Subnet } from './topology.js';

/** Decoded user data limit. */
export const MAX_USER_DATA_BYTES = 16 * 1024;
export const MAX_TAGS_PER_RESOURCE = 50;
export const MAX_CLIENT_TOKEN = 64;

/** Tag resource types RunInstances accepts in TagSpecification. */
const RUN_TAGGABLE = new Set(['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu']);

/**
 * What the volume store offers beyond the VolumeStore contract of volumes.ts (its ADDED
 * methods): optional here so this file compiles against either version.
 */
export interface VolumeExtras {
  createAttachedVolume(spec: {
    instanceId: string;
    az: string;
    device: string;
    sizeGiB?: number;
    type?: string;
    snapshotId?: string;
    deleteOnTermination?: boolean;
    tags?: Record<string, string>;
  }): string;
  hasResource(resourceId: string): boolean;
  createTags(resourceId: string, tags: { key: string; value: string }[]): boolean;
  deleteTags(resourceId: string, tags: { key: string; value?: string }[]): boolean;
  tagsOf(resourceId: string): Record<string, string> | undefined;
}

interface BlockDevice {
  device: string;
  sizeGiB?: number;
  type?: string;
  snapshotId?: string;
  deleteOnTermination?: boolean;
}

const VOLUME_TYPES = new Set(['standard', 'io1', 'io2', 'gp2', 'sc1', 'st1', 'gp3']);

interface TokenRecord {
  hash: string;
  reservationId: string;
  records: InstanceRecord[];
}

export interface InstanceApiDeps {
  ctx: SimContext;
  store: InstanceStore;
  renderCtx(): RenderCtx;
  /** The volume store's extra methods, where it has them. */
  volumes: Partial<VolumeExtras>;
}

const AMI_RE = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_RE = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SG_RE = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;

export function instanceActions(deps: InstanceApiDeps): Record<string, Ec2ActionHandler> {
  const { ctx, store } = deps;
  const tokens = new Map<string, TokenRecord>();

  const dryRun = (p: Ec2Params): void => {
    if (p.bool('DryRun')) throw new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
  };

  const throttleResource = (bucket: string, n: number, action: string): void => {
    if (!ctx.faults.take(bucket, n)) {
      ctx.faults.countThrottle(`ec2:${action}`);
      throw new AwsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    }
  };

  const RunInstances: Ec2ActionHandler = (p: Ec2Params, req: SimRequest) => {
    const token = p.str('ClientToken');
    if (token !== undefined) {
      if (token.length > MAX_CLIENT_TOKEN || !/^[\x20-\x7e]*$/.test(token)) {
        throw new AwsError('InvalidParameterValue', `Value (${token}) for parameter clientToken is invalid. Client tokens are case-sensitive strings of up to ${MAX_CLIENT_TOKEN} ASCII characters.`);
      }
    }
    const hash = paramsHash(p);
    if (token) {
      const prior = tokens.get(token);
      if (prior) {
        if (prior.hash !== hash) {
          throw new AwsError('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
        }
        return rawResponse('RunInstances', req.requestId, runInstancesXml(prior.reservationId, prior.records, deps.renderCtx()));
      }
    }

    const imageId = p.req('ImageId');
    if (!AMI_RE.test(imageId)) throw new AwsError('InvalidAMIID.Malformed', `Invalid id: "${imageId}" (expecting "ami-...")`);
    const image = IMAGES.find((i) => i.imageId === imageId);
    if (!image) throw new AwsError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
    const typeName = p.str('InstanceType') ?? 'm1.small';
    const type = INSTANCE_TYPES.get(typeName);
    if (!type) throw new AwsError('InvalidParameterValue', `Invalid value '${typeName}' for InstanceType.`);
    if (type.architecture !== image.architecture) {
      throw new AwsError(
        'InvalidParameterValue',
        `The architecture '${type.architecture}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.`,
      );
    }

    const minCount = p.int('MinCount');
    const maxCount = p.int('MaxCount');
    if (minCount === undefined) throw new AwsError('MissingParameter', 'The request must contain the parameter MinCount');
    if (maxCount === undefined) throw new AwsError('MissingParameter', 'The request must contain the parameter MaxCount');
    if (minCount < 1) throw new AwsError('InvalidParameterValue', `Value (${minCount}) for parameter minCount is invalid. Expected a positive integer.`);
    if (maxCount < 1) throw new AwsError('InvalidParameterValue', `Value (${maxCount}) for parameter maxCount is invalid. Expected a positive integer.`);
    if (maxCount < minCount) {
      throw new AwsError('InvalidParameterValue', `Value (${maxCount}) for parameter maxCount is invalid. maxCount must be greater than or equal to minCount (${minCount}).`);
    }

    // User data: base64 as sent; limit applies to the decoded bytes.
    const userData = p.str('UserData');
    let bootstrap = false;
    if (userData !== undefined && userData !== '') {
      const compact = userData.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
        throw new AwsError('InvalidParameterValue', 'Invalid BASE64 encoding of user data.');
      }
      const decoded = Buffer.from(compact, 'base64');
      if (decoded.length > MAX_USER_DATA_BYTES) throw new AwsError('InvalidParameterValue', `User data is limited to ${MAX_USER_DATA_BYTES} bytes`);
      bootstrap = isBootstrap(decoded.toString('utf8'));
    }

    // Tags at launch.
    const instanceTags: [string, string][] = [];
    const seenTypes = new Set<string>();
    for (const spec of p.tagSpecifications()) {
      if (!spec.resourceType) throw new AwsError('InvalidParameterValue', 'Tag specification resource type must have a value');
      if (!RUN_TAGGABLE.has(spec.resourceType)) throw new AwsError('InvalidParameterValue', `'${spec.resourceType}' is not a valid taggable resource type for this operation.`);
      if (seenTypes.has(spec.resourceType)) throw new AwsError('InvalidParameterValue', 'The same resource type may not be specified more than once in tag specifications');
      seenTypes.add(spec.resourceType);
      if (spec.tags.length === 0) throw new AwsError('InvalidParameterValue', 'Tag specification must have at least one tag');
      const keys = new Set<string>();
      for (const t of spec.tags) {
        validateTag(t.key, t.value, 'launch');
        if (keys.has(t.key)) throw new AwsError('InvalidParameterValue', `Duplicate tag key '${t.key}' specified.`);
        keys.add(t.key);
      }
      if (spec.tags.length > MAX_TAGS_PER_RESOURCE) throw new AwsError('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
      if (spec.resourceType === 'instance') for (const t of spec.tags) instanceTags.push([t.key, t.value]);
    }

    // Placement: SubnetId, else Placement.AvailabilityZone's default subnet, else any default subnet.
    const subnetId = p.str('SubnetId');
    const azName = p.str('Placement.AvailabilityZone');
    if (azName !== undefined && !store.topology.az(azName)) throw new AwsError('InvalidParameterValue', `Invalid availability zone: [${azName}]`);
    let subnet: Subnet<InstanceRecord> | undefined;
    if (subnetId !== undefined) {
      if (!SUBNET_RE.test(subnetId)) throw new AwsError('InvalidSubnetID.Malformed', `Invalid id: "${subnetId}" (expecting "subnet-...")`);
      subnet = store.topology.subnets.get(subnetId);
      if (!subnet) throw new AwsError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
      if (azName !== undefined && azName !== subnet.az) {
        throw new AwsError('InvalidParameterCombination', `The specified Availability Zone (${azName}) does not match the Availability Zone of subnet '${subnetId}' (${subnet.az}).`);
      }
    } else if (azName !== undefined) {
      subnet = store.topology.defaultSubnet(azName);
      if (!subnet) throw new AwsError('InvalidParameterValue', `Invalid availability zone: [${azName}]`);
    }

    // Security groups: the VPC's default group is the only one.
    const groupIds = p.list('SecurityGroupId');
    const groupNames = p.list('SecurityGroup');
    for (const g of groupIds) {
      if (!SG_RE.test(g)) throw new AwsError('InvalidGroupId.Malformed', `Invalid id: "${g}" (expecting "sg-...")`);
      if (g !== DEFAULT_SECURITY_GROUP.id) throw new AwsError('InvalidGroup.NotFound', `The security group '${g}' does not exist in VPC '${DEFAULT_VPC_ID}'`);
    }
    for (const g of groupNames) {
      if (g !== DEFAULT_SECURITY_GROUP.name) throw new AwsError('InvalidGroup.NotFound', `The security group '${g}' does not exist in default VPC '${DEFAULT_VPC_ID}'`);
    }
    const groups = [{ ...DEFAULT_SECURITY_GROUP }];

    const profile = instanceProfile(p, ctx.account);
    const metadata = metadataOptions(p, image.imdsSupport === 'v2.0');
    const { market, spot } = marketOptions(p);

    let privateIp: number | undefined;
    const ipParam = p.str('PrivateIpAddress');
    if (ipParam !== undefined) {
      privateIp = ipToInt(ipParam);
      if (!Number.isFinite(privateIp)) throw new AwsError('InvalidParameterValue', `Value (${ipParam}) for parameter privateIpAddress is invalid. Not a valid IPv4 address.`);
      if (maxCount > 1) throw new AwsError('InvalidParameterCombination', 'Multiple instances cannot be launched with the same private IP address.');
      if (!subnet) subnet = store.topology.pickDefaultSubnet(1);
      if (!subnet || !subnet.contains(privateIp)) throw new AwsError('InvalidParameterValue', `Address ${ipParam} does not fall within the subnet's address range`);
      if (subnet.used.has(privateIp) || privateIp < subnet.firstUsable || privateIp > subnet.lastUsable) {
        throw new AwsError('InvalidIPAddress.InUse', `Address ${ipParam} is in use.`);
      }
    }

    const keyName = p.str('KeyName');
    const devices = blockDevices(p, image.rootDeviceName);
    const volumeTags = p.tagSpecifications().find((t) => t.resourceType === 'volume')?.tags ?? [];
    dryRun(p);

    // No subnet and no AZ: EC2 places the launch in an AZ that offers the type.
    if (!subnet) subnet = store.topology.pickDefaultSubnet(minCount, (az) => offeredIn(type.name, az)) ?? store.topology.defaultSubnet(store.topology.azs[0]!.name)!;

    if (!offeredIn(type.name, subnet.az)) {
      const offered = store.topology.azs.map((a) => a.name).filter((az) => offeredIn(type.name, az));
      throw new AwsError('Unsupported', `Your requested instance type (${type.name}) is not supported in your requested Availability Zone (${subnet.az}). Please retry your request by not specifying an Availability Zone or choosing ${offered.join(', ')}.`);
    }
    const capacity = ctx.faults.capacityError(type.name, subnet.az, market);
    if (capacity) throw capacityError(capacity, type.name, subnet.az, market, minCount, store.topology.azs.map((a) => a.name));

    const count = Math.min(maxCount, subnet.free);
    if (count < minCount) {
      throw new AwsError('InsufficientFreeAddressesInSubnet', 'The specified subnet does not have enough free addresses to satisfy the request.');
    }
    throttleResource('ec2:run-instances-resource', count, 'RunInstances');

    const { reservationId, records } = store.launch({
      image,
      type,
      subnet,
      count,
      ...(privateIp !== undefined ? { privateIp } : {}),
      market,
      ...(spot ? { spot } : {}),
      tags: instanceTags,
      ...(userData ? { userData } : {}),
      bootstrap,
      groups,
      ...(profile ? { profile } : {}),
      metadata,
      ...(token ? { clientToken: token } : {}),
      ...(keyName ? { keyName } : {}),
    });
    const createVolume = deps.volumes.createAttachedVolume;
    if (createVolume) {
      try {
        for (const r of records) {
          for (const d of devices) {
            createVolume({
              instanceId: r.id,
              az: subnet.az,
              device: d.device,
              ...(d.sizeGiB !== undefined ? { sizeGiB: d.sizeGiB } : {}),
              ...(d.type !== undefined ? { type: d.type } : {}),
              ...(d.snapshotId !== undefined ? { snapshotId: d.snapshotId } : {}),
              ...(d.deleteOnTermination !== undefined ? { deleteOnTermination: d.deleteOnTermination } : {}),
              ...(volumeTags.length > 0 ? { tags: Object.fromEntries(volumeTags.map((t) => [t.key, t.value])) } : {}),
            });
          }
        }
      } catch (err) {
        store.discard(records);
        throw err;
      }
    }
    store.announce(records);
    if (token) tokens.set(token, { hash, reservationId, records });
    // The answer describes the instances as launched (pending, as AWS answers RunInstances),
    // not as of whenever this line runs: on a starved CPU the boot delay of a fast local
    // cloud can pass between creating the records and rendering them.
    const launched = Math.min(...records.map((r) => r.launchTime));
    return rawResponse('RunInstances', req.requestId, runInstancesXml(reservationId, records, { ...deps.renderCtx(), now: launched }));
  };

  const DescribeInstances: Ec2ActionHandler = (p, req) => {
    const ids = p.list('InstanceId');
    const maxResults = p.int('MaxResults');
    if (ids.length > 0 && maxResults !== undefined) {
      throw new AwsError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
    }
    if (maxResults !== undefined && (maxResults < 5 || maxResults > 1000)) {
      throw new AwsError('InvalidParameterValue', `Value ( ${maxResults} ) for parameter maxResults is invalid. Parameter must be between 5 and 1000.`);
    }
    const nextToken = p.str('NextToken');
    const page = store.describe({
      ids,
      filters: p.filters(),
      ...(maxResults !== undefined ? { maxResults } : {}),
      ...(nextToken !== undefined && nextToken !== '' ? { nextToken } : {}),
    });
    const rc = deps.renderCtx();
    let x = '<reservationSet>';
    for (const g of page.groups) x += reservationXml(g, rc);
    x += '</reservationSet>';
    x += el('nextToken', page.nextToken);
    return rawResponse('DescribeInstances', req.requestId, x);
  };

  const requireIds = (p: Ec2Params): string[] => {
    const ids = p.list('InstanceId');
    if (ids.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter InstanceId');
    return ids;
  };

  const TerminateInstances: Ec2ActionHandler = (p, req) => {
    const records = store.resolve(requireIds(p));
    dryRun(p);
    throttleResource('ec2:terminate-instances-resource', records.length, 'TerminateInstances');
    const changes: StateChange[] = records.map((r) => store.terminate(r, 'user'));
    return rawResponse('TerminateInstances', req.requestId, stateChangesXml(changes));
  };

  const StopInstances: Ec2ActionHandler = (p, req) => {
    const records = store.resolve(requireIds(p));
    const now = store.now();
    for (const r of records) {
      if (r.market === 'spot' && r.spot?.type !== 'persistent') {
        throw new AwsError(
          'UnsupportedOperation',
          `You can't stop the Spot Instance '${r.id}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.`,
        );
      }
      const s = store.stateOf(r, now);
      if (s !== 'running' && s !== 'stopping' && s !== 'stopped') {
        throw new AwsError('IncorrectInstanceState', `This instance '${r.id}' is not in a state from which it can be stopped.`);
      }
    }
    dryRun(p);
    const changes = records.map((r) => store.stop(r));
    return rawResponse('StopInstances', req.requestId, stateChangesXml(changes));
  };

  const StartInstances: Ec2ActionHandler = (p, req) => {
    const records = store.resolve(requireIds(p));
    const now = store.now();
    for (const r of records) {
      const s = store.stateOf(r, now);
      if (s !== 'stopped' && s !== 'pending' && s !== 'running') {
        throw new AwsError('IncorrectInstanceState', `The instance '${r.id}' is not in a state from which it can be started.`);
      }
    }
    dryRun(p);
    const changes = records.map((r) => store.start(r));
    return rawResponse('StartInstances', req.requestId, stateChangesXml(changes));
  };

  /** Split ResourceId.N into instances (resolved) and volumes/snapshots (for the volume store). */
  const resources = (p: Ec2Params): { instances: InstanceRecord[]; others: string[] } => {
    const ids = p.list('ResourceId');
    if (ids.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter ResourceId');
    const instIds: string[] = [];
    const others: string[] = [];
    for (const id of ids) {
      if (id.startsWith('i-')) instIds.push(id);
      else if (/^(vol|snap)-[0-9a-f]+$/.test(id) && deps.volumes.hasResource) others.push(id);
      else throw new AwsError('InvalidID', `The ID '${id}' is not valid`);
    }
    for (const id of others) if (!deps.volumes.hasResource!(id)) throw notFoundFor(id);
    return { instances: instIds.length > 0 ? store.resolve(instIds) : [], others };
  };

  const CreateTags: Ec2ActionHandler = (p, req) => {
    const target = resources(p);
    const tags = p.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' }));
    if (tags.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter Tag');
    for (const t of tags) validateTag(t.key, t.value, 'api');
    for (const r of target.instances) {
      const keys = new Set(r.tags.keys());
      for (const t of tags) keys.add(t.key);
      if (keys.size > MAX_TAGS_PER_RESOURCE) throw new AwsError('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
    }
    dryRun(p);
    for (const id of target.others) {
      if (!deps.volumes.createTags?.(id, tags)) throw notFoundFor(id);
    }
    for (const r of target.instances) for (const t of tags) store.setTag(r, t.key, t.value);
    return rawResponse('CreateTags', req.requestId, '<return>true</return>');
  };

  const DeleteTags: Ec2ActionHandler = (p, req) => {
    const target = resources(p);
    const specs: { key: string; value?: string }[] = p.structs('Tag').map((t) => {
      const key = t.str('Key') ?? '';
      const value = t.str('Value');
      return value === undefined ? { key } : { key, value };
    });
    for (const s of specs) {
      if (s.key.toLowerCase().startsWith('aws:')) {
        throw new AwsError('InvalidParameterValue', `Value ( ${s.key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`);
      }
    }
    dryRun(p);
    for (const id of target.others) {
      const list = specs.length > 0 ? specs : Object.keys(deps.volumes.tagsOf?.(id) ?? {}).map((key) => ({ key }));
      if (!deps.volumes.deleteTags?.(id, list)) throw notFoundFor(id);
    }
    for (const r of target.instances) {
      if (specs.length === 0) {
        for (const k of [...r.tags.keys()]) store.deleteTag(r, k);
        continue;
      }
      for (const s of specs) {
        const cur = r.tags.get(s.key);
        if (cur === undefined) continue;
        if (s.value !== undefined && s.value !== cur) continue;
        store.deleteTag(r, s.key);
      }
    }
    return rawResponse('DeleteTags', req.requestId, '<return>true</return>');
  };

  const DescribeInstanceAttribute: Ec2ActionHandler = (p, req) => {
    const id = p.req('InstanceId');
    const attribute = p.req('Attribute');
    const [r] = store.resolve([id]);
    let body: string;
    switch (attribute) {
      case 'userData':
        body = r!.userData ? `<userData><value>${escapeXml(r!.userData)}</value></userData>` : '<userData/>';
        break;
      case 'instanceType':
        body = `<instanceType><value>${r!.type.name}</value></instanceType>`;
        break;
      case 'disableApiTermination':
        body = '<disableApiTermination><value>false</value></disableApiTermination>';
        break;
      case 'disableApiStop':
        body = '<disableApiStop><value>false</value></disableApiStop>';
        break;
      case 'instanceInitiatedShutdownBehavior':
        body = '<instanceInitiatedShutdownBehavior><value>stop</value></instanceInitiatedShutdownBehavior>';
        break;
      case 'rootDeviceName':
        body = `<rootDeviceName><value>${r!.image.rootDeviceName}</value></rootDeviceName>`;
        break;
      case 'groupSet':
        body = `<groupSet>${r!.groups.map((g) => `<item><groupId>${escapeXml(g.id)}</groupId><groupName>${escapeXml(g.name)}</groupName></item>`).join('')}</groupSet>`;
        break;
      case 'sourceDestCheck':
        body = '<sourceDestCheck><value>true</value></sourceDestCheck>';
        break;
      case 'ebsOptimized':
        body = '<ebsOptimized><value>false</value></ebsOptimized>';
        break;
      case 'enaSupport':
        body = '<enaSupport><value>true</value></enaSupport>';
        break;
      default:
        throw new AwsError('InvalidParameterValue', `Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
    }
    return rawResponse('DescribeInstanceAttribute', req.requestId, `<instanceId>${r!.id}</instanceId>${body}`);
  };

  return { RunInstances, DescribeInstances, TerminateInstances, StopInstances, StartInstances, CreateTags, DeleteTags, DescribeInstanceAttribute };
}

function notFoundFor(id: string): AwsError {
  if (id.startsWith('vol-')) return new AwsError('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
  if (id.startsWith('snap-')) return new AwsError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  return new AwsError('InvalidID', `The ID '${id}' is not valid`);
}

/** Tag rules: key 1..128 characters, value 0..256, no `aws:` prefix (any case). */
export function validateTag(key: string, value: string, where: 'launch' | 'api'): void {
  if (key.toLowerCase().startsWith('aws:')) {
    throw new AwsError(
      'InvalidParameterValue',
      where === 'launch' ? "Tag keys starting with 'aws:' are reserved for internal use" : `Value ( ${key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use`,
    );
  }
  if (key.length === 0) throw new AwsError('InvalidParameterValue', 'Tag key cannot be empty.');
  if ([...key].length > 128) throw new AwsError('InvalidParameterValue', `Value ( ${key} ) for parameter key is invalid. Tag key exceeds the maximum length of 128 characters.`);
  if ([...value].length > 256) throw new AwsError('InvalidParameterValue', `Value ( ${value} ) for parameter value is invalid. Tag value exceeds the maximum length of 256 characters.`);
}

/**
 * The volumes RunInstances makes per instance: the image's root device (8 GiB gp3, deleted on
 * termination) unless BlockDeviceMapping.N overrides or suppresses it (NoDevice), plus every
 * other mapped EBS device.
 */
function blockDevices(p: Ec2Params, rootDevice: string): BlockDevice[] {
  const out = new Map<string, BlockDevice>([[rootDevice, { device: rootDevice, sizeGiB: 8, type: 'gp3', deleteOnTermination: true }]]);
  for (const m of p.structs('BlockDeviceMapping')) {
    const device = m.str('DeviceName');
    if (!device) throw new AwsError('InvalidBlockDeviceMapping', 'The device name must be specified for each block device mapping.');
    if (m.has('NoDevice')) {
      out.delete(device);
      continue;
    }
    if (m.has('VirtualName')) continue; // instance store: not modelled
    if (!m.has('Ebs')) throw new AwsError('InvalidBlockDeviceMapping', `The block device mapping for ${device} must specify Ebs, NoDevice or VirtualName.`);
    const size = m.int('Ebs.VolumeSize');
    const type = m.str('Ebs.VolumeType');
    const snapshotId = m.str('Ebs.SnapshotId');
    const del = m.bool('Ebs.DeleteOnTermination');
    if (size !== undefined && size < 1) throw new AwsError('InvalidParameterValue', `Volume of size ${size}GB is smaller than the minimum of 1GB.`);
    if (type !== undefined && !VOLUME_TYPES.has(type)) throw new AwsError('InvalidParameterValue', `Value (${type}) for parameter volumeType is invalid. Valid values: ${[...VOLUME_TYPES].join(', ')}`);
    if (snapshotId !== undefined && !/^snap-([0-9a-f]{8}|[0-9a-f]{17})$/.test(snapshotId)) throw new AwsError('InvalidSnapshotID.Malformed', `Invalid id: "${snapshotId}" (expecting "snap-...")`);
    const base = out.get(device) ?? { device, deleteOnTermination: device === rootDevice };
    const dev: BlockDevice = { ...base };
    if (size !== undefined) dev.sizeGiB = size;
    else if (device !== rootDevice && snapshotId === undefined) dev.sizeGiB = 8;
    if (type !== undefined) dev.type = type;
    if (snapshotId !== undefined) {
      dev.snapshotId = snapshotId;
      if (size === undefined && device !== rootDevice) delete dev.sizeGiB;
    }
    if (del !== undefined) dev.deleteOnTermination = del;
    out.set(device, dev);
  }
  return [...out.values()];
}

/** Canonical parameters of a RunInstances call, for ClientToken idempotency. */
function paramsHash(p: Ec2Params): string {
  const skip = new Set(['Action', 'Version', 'ClientToken', 'DryRun']);
  return [...p.flat.entries()]
    .filter(([k]) => !skip.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function instanceProfile(p: Ec2Params, account: string): { arn: string; id: string } | undefined {
  const name = p.str('IamInstanceProfile.Name');
  const arn = p.str('IamInstanceProfile.Arn');
  if (name !== undefined && arn !== undefined) {
    throw new AwsError('InvalidParameterCombination', "The parameter 'iamInstanceProfile.name' may not be used in combination with 'iamInstanceProfile.arn'");
  }
  let profileName: string;
  let profileArn: string;
  if (arn !== undefined) {
    const m = /^arn:aws[a-z-]*:iam::(\d{12}):instance-profile\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]{1,128})$/.exec(arn);
    if (!m) throw new AwsError('InvalidParameterValue', `Value (${arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`);
    profileName = m[2]!;
    profileArn = arn;
  } else if (name !== undefined) {
    if (!/^[\w+=,.@-]{1,128}$/.test(name)) throw new AwsError('InvalidParameterValue', `Value (${name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`);
    profileName = name;
    profileArn = `arn:aws:iam::${account}:instance-profile/${name}`;
  } else {
    return undefined;
  }
  return { arn: profileArn, id: `AIPA${stableId(profileName, 17)}` };
}

function stableId(s: string, len: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < len; round++) {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i) + round;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    for (let k = 0; k < 6 && out.length < len; k++) out += alphabet[(h >>> (k * 5)) & 31];
  }
  return out;
}

function metadataOptions(p: Ec2Params, imdsV2Only: boolean): MetadataOptions {
  const tokens = p.str('MetadataOptions.HttpTokens') ?? (imdsV2Only ? 'required' : 'optional');
  if (tokens !== 'optional' && tokens !== 'required') {
    throw new AwsError('InvalidParameterValue', `Value (${tokens}) for parameter HttpTokens is invalid. Valid values are: optional, required`);
  }
  const endpoint = p.str('MetadataOptions.HttpEndpoint') ?? 'enabled';
  if (endpoint !== 'enabled' && endpoint !== 'disabled') {
    throw new AwsError('InvalidParameterValue', `Value (${endpoint}) for parameter HttpEndpoint is invalid. Valid values are: enabled, disabled`);
  }
  const hop = p.int('MetadataOptions.HttpPutResponseHopLimit') ?? (imdsV2Only ? 2 : 1);
  if (hop < 1 || hop > 64) {
    throw new AwsError('InvalidParameterValue', `Value (${hop}) for parameter HttpPutResponseHopLimit is invalid. Valid values are between 1 and 64.`);
  }
  return { httpTokens: tokens, httpEndpoint: endpoint, hopLimit: hop };
}

function marketOptions(p: Ec2Params): { market: 'spot' | 'on-demand'; spot: Omit<SpotInfo, 'requestId'> | undefined } {
  const marketType = p.str('InstanceMarketOptions.MarketType');
  if (marketType === undefined) {
    if (p.has('InstanceMarketOptions.SpotOptions')) {
      throw new AwsError('InvalidParameterCombination', 'SpotOptions can only be specified when MarketType is spot.');
    }
    return { market: 'on-demand', spot: undefined };
  }
  if (marketType === 'capacity-block') throw new AwsError('UnsupportedOperation', 'The local cloud does not model Capacity Blocks.');
  if (marketType !== 'spot') throw new AwsError('InvalidParameterValue', `Value (${marketType}) for parameter marketType is invalid.`);
  const type = p.str('InstanceMarketOptions.SpotOptions.SpotInstanceType') ?? 'one-time';
  if (type !== 'one-time' && type !== 'persistent') throw new AwsError('InvalidParameterValue', `Value (${type}) for parameter spotInstanceType is invalid.`);
  const behavior = p.str('InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior') ?? 'terminate';
  if (behavior !== 'terminate' && behavior !== 'stop' && behavior !== 'hibernate') {
    throw new AwsError('InvalidParameterValue', `Value (${behavior}) for parameter instanceInterruptionBehavior is invalid.`);
  }
  if (type === 'one-time' && behavior !== 'terminate') {
    throw new AwsError('InvalidParameterCombination', `The request with type 'one-time' is not supported when instanceInterruptionBehavior is set to '${behavior}'.`);
  }
  const maxPrice = p.str('InstanceMarketOptions.SpotOptions.MaxPrice');
  if (maxPrice !== undefined && !/^\d+(\.\d+)?$/.test(maxPrice)) {
    throw new AwsError('InvalidParameterValue', `Value (${maxPrice}) for parameter maxPrice is invalid.`);
  }
  return { market: 'spot', spot: { type, behavior } };
}

/** The capacity error a fault rule asks for, with AWS's own wording. */
function capacityError(code: string, type: string, az: string, market: 'spot' | 'on-demand', count: number, azs: string[]): AwsError {
  const others = azs.filter((a) => a !== az).join(', ');
  switch (code) {
    case 'InsufficientInstanceCapacity':
      return new AwsError(
        code,
        market === 'spot'
          ? 'There is no Spot capacity available that matches your request.'
          : `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${az}). Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not specifying an Availability Zone in your request or choosing ${others}.`,
      );
    case 'UnfulfillableCapacity':
      return new AwsError(code, 'Unable to fulfill capacity due to your request configuration. Please adjust your request and try again.');
    case 'SpotMaxPriceTooLow':
      return new AwsError(code, 'Your Spot request price of 0.001 is lower than the minimum required Spot request fulfillment price of 0.0045.');
    case 'MaxSpotInstanceCountExceeded':
      return new AwsError(code, 'Max spot instance count exceeded');
    case 'InstanceLimitExceeded':
      return new AwsError(
        code,
        `You have requested more instances (${count}) than your current instance limit of 0 allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
      );
    default:
      return new AwsError(code, `Capacity error ${code} for ${type} in ${az} (${market}).`);
  }
}
