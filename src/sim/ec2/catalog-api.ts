/**
 * Read-only EC2 catalogue actions of the local cloud: DescribeImages, DescribeSubnets,
 * DescribeAvailabilityZones, DescribeSecurityGroups, DescribeVpcs, DescribeRegions,
 * DescribeInstanceTypes and DescribeInstanceTypeOfferings (the catalogue of real types with
 * their architectures, and which AZ offers which: what a preflight asks before launching).
 */
import { AwsError } from '../types.js';
import type { Ec2Params } from './query.js';
import type { Ec2ActionHandler } from './volumes.js';
import { compileFilters, matchesAll, type ValueMatcher } from './filters.js';
import { el, rawResponse } from './render.js';
import { DEFAULT_VPC_ID, IMAGES, INSTANCE_TYPES, offeredIn, OTHER_VPC, SECURITY_GROUPS, type AzDef, type ImageDef, type InstanceTypeDef, type Subnet, type Topology } from './topology.js';

const AMI_RE = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_RE = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;

type Pred<T> = (m: ValueMatcher) => (item: T) => boolean;

/** Simple index-based pagination for small catalogues. */
function paginate<T>(items: T[], p: Ec2Params, range: [number, number] | undefined): { page: T[]; next: string | undefined } {
  const max = p.int('MaxResults');
  if (max !== undefined && range && (max < range[0] || max > range[1])) {
    throw new AwsError('InvalidParameterValue', `Value ( ${max} ) for parameter maxResults is invalid. Parameter must be between ${range[0]} and ${range[1]}.`);
  }
  const token = p.str('NextToken');
  let start = 0;
  if (token !== undefined && token !== '') {
    const m = /^p(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (!/^[A-Za-z0-9_-]+$/.test(token) || !m) throw new AwsError('InvalidParameterValue', `Value (${token}) for parameter NextToken is invalid. The token is invalid.`);
    start = Number(m[1]);
  }
  if (max === undefined) return { page: items.slice(start), next: undefined };
  const page = items.slice(start, start + max);
  const next = start + max < items.length ? Buffer.from(`p${start + max}`).toString('base64url') : undefined;
  return { page, next };
}

function imageXml(i: ImageDef): string {
  return (
    '<item>' +
    el('imageId', i.imageId) +
    el('imageLocation', `${i.ownerAlias ?? i.ownerId}/${i.name}`) +
    el('imageState', i.state) +
    el('imageOwnerId', i.ownerId) +
    el('creationDate', i.creationDate) +
    '<isPublic>true</isPublic>' +
    el('architecture', i.architecture) +
    '<imageType>machine</imageType>' +
    el('imageOwnerAlias', i.ownerAlias) +
    el('name', i.name) +
    el('description', i.description) +
    '<rootDeviceType>ebs</rootDeviceType>' +
    el('rootDeviceName', i.rootDeviceName) +
    `<blockDeviceMapping><item>${el('deviceName', i.rootDeviceName)}<ebs><snapshotId>snap-${i.imageId.slice(4)}</snapshotId><volumeSize>8</volumeSize><deleteOnTermination>true</deleteOnTermination><volumeType>gp3</volumeType><encrypted>false</encrypted></ebs></item></blockDeviceMapping>` +
    '<virtualizationType>hvm</virtualizationType><hypervisor>xen</hypervisor><enaSupport>true</enaSupport><sriovNetSupport>simple</sriovNetSupport>' +
    el('bootMode', i.bootMode) +
    '<platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances</usageOperation>' +
    el('imdsSupport', i.imdsSupport) +
    el('deprecationTime', new Date(Date.parse(i.creationDate) + 2 * 365 * 86400_000).toISOString()) +
    '</item>'
  );
}

export function catalogActions(topology: Topology<unknown>, account: string): Record<string, Ec2ActionHandler> {
  const region = topology.region;

  const DescribeImages: Ec2ActionHandler = (p, req) => {
    const ids = p.list('ImageId');
    for (const id of ids) if (!AMI_RE.test(id)) throw new AwsError('InvalidAMIID.Malformed', `Invalid id: "${id}" (expecting "ami-...")`);
    const missing = ids.filter((id) => !IMAGES.some((i) => i.imageId === id));
    if (missing.length === 1) throw new AwsError('InvalidAMIID.NotFound', `The image id '[${missing[0]}]' does not exist`);
    if (missing.length > 1) throw new AwsError('InvalidAMIID.NotFound', `The image ids '[${missing.join(', ')}]' do not exist`);
    const owners = p.list('Owner');
    for (const o of owners) {
      if (!/^\d{12}$/.test(o) && !['self', 'amazon', 'aws-marketplace', 'aws-backup-vault'].includes(o)) {
        throw new AwsError('InvalidUserID.Malformed', `Invalid user id: "${o}"`);
      }
    }
    const table: Record<string, Pred<ImageDef>> = {
      name: (m) => (i) => m.test(i.name),
      'image-id': (m) => (i) => m.test(i.imageId),
      state: (m) => (i) => m.test(i.state),
      architecture: (m) => (i) => m.test(i.architecture),
      'owner-id': (m) => (i) => m.test(i.ownerId),
      'owner-alias': (m) => (i) => m.test(i.ownerAlias),
      'is-public': (m) => () => m.test('true'),
      'image-type': (m) => () => m.test('machine'),
      'root-device-type': (m) => () => m.test('ebs'),
      'root-device-name': (m) => (i) => m.test(i.rootDeviceName),
      'virtualization-type': (m) => () => m.test('hvm'),
      hypervisor: (m) => () => m.test('xen'),
      'platform-details': (m) => () => m.test('Linux/UNIX'),
      description: (m) => (i) => m.test(i.description),
      'ena-support': (m) => () => m.test('true'),
      'creation-date': (m) => (i) => m.test(i.creationDate),
      'tag-key': () => () => false,
      'tag-value': () => () => false,
    };
    const preds = compileFilters(p.filters(), table, (name) => (name.startsWith('tag:') ? () => false : undefined));
    const items = IMAGES.filter((i) => {
      if (ids.length > 0 && !ids.includes(i.imageId)) return false;
      if (owners.length > 0 && !owners.some((o) => o === i.ownerId || o === i.ownerAlias || (o === 'self' && i.ownerId === account))) return false;
      return matchesAll(preds, i);
    });
    const { page, next } = paginate(items, p, [1, 1000]);
    return rawResponse('DescribeImages', req.requestId, `<imagesSet>${page.map(imageXml).join('')}</imagesSet>${el('nextToken', next)}`);
  };

  const subnetXml = (s: Subnet<unknown>): string =>
    '<item>' +
    el('subnetId', s.id) +
    el('subnetArn', `arn:aws:ec2:${region}:${account}:subnet/${s.id}`) +
    '<state>available</state>' +
    el('vpcId', s.vpcId) +
    el('cidrBlock', s.cidr) +
    '<ipv6CidrBlockAssociationSet/>' +
    el('availableIpAddressCount', s.free) +
    el('availabilityZone', s.az) +
    el('availabilityZoneId', s.azId) +
    el('defaultForAz', s.defaultForAz) +
    el('mapPublicIpOnLaunch', s.defaultForAz) +
    '<assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation>' +
    el('ownerId', account) +
    '<enableDns64>false</enableDns64><ipv6Native>false</ipv6Native>' +
    '<privateDnsNameOptionsOnLaunch><hostnameType>ip-name</hostnameType><enableResourceNameDnsARecord>false</enableResourceNameDnsARecord><enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord></privateDnsNameOptionsOnLaunch>' +
    '<blockPublicAccessStates><internetGatewayBlockMode>off</internetGatewayBlockMode></blockPublicAccessStates>' +
    '</item>';

  const DescribeSubnets: Ec2ActionHandler = (p, req) => {
    const ids = p.list('SubnetId');
    for (const id of ids) if (!SUBNET_RE.test(id)) throw new AwsError('InvalidSubnetID.Malformed', `Invalid id: "${id}" (expecting "subnet-...")`);
    for (const id of ids) if (!topology.subnets.has(id)) throw new AwsError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
    const table: Record<string, Pred<Subnet<unknown>>> = {
      'availability-zone': (m) => (s) => m.test(s.az),
      'availability-zone-id': (m) => (s) => m.test(s.azId),
      'vpc-id': (m) => (s) => m.test(s.vpcId),
      'subnet-id': (m) => (s) => m.test(s.id),
      'default-for-az': (m) => (s) => m.test(String(s.defaultForAz)),
      defaultForAz: (m) => (s) => m.test(String(s.defaultForAz)),
      state: (m) => () => m.test('available'),
      'cidr-block': (m) => (s) => m.test(s.cidr),
      cidrBlock: (m) => (s) => m.test(s.cidr),
      cidr: (m) => (s) => m.test(s.cidr),
      'owner-id': (m) => () => m.test(account),
      'map-public-ip-on-launch': (m) => (s) => m.test(String(s.defaultForAz)),
      'available-ip-address-count': (m) => (s) => m.test(String(s.free)),
      'subnet-arn': (m) => (s) => m.test(`arn:aws:ec2:${region}:${account}:subnet/${s.id}`),
      'tag-key': () => () => false,
      'tag-value': () => () => false,
    };
    const preds = compileFilters(p.filters(), table, (name) => (name.startsWith('tag:') ? () => false : undefined));
    const items = [...topology.subnets.values()].filter((s) => (ids.length === 0 || ids.includes(s.id)) && matchesAll(preds, s));
    const { page, next } = paginate(items, p, [5, 1000]);
    return rawResponse('DescribeSubnets', req.requestId, `<subnetSet>${page.map(subnetXml).join('')}</subnetSet>${el('nextToken', next)}`);
  };

  const azXml = (a: AzDef): string =>
    '<item>' +
    el('zoneName', a.name) +
    el('zoneId', a.id) +
    '<zoneState>available</zoneState><optInStatus>opt-in-not-required</optInStatus><messageSet/>' +
    el('regionName', region) +
    el('groupName', region) +
    el('networkBorderGroup', region) +
    '<zoneType>availability-zone</zoneType>' +
    '</item>';

  const DescribeAvailabilityZones: Ec2ActionHandler = (p, req) => {
    const names = p.list('ZoneName');
    const zoneIds = p.list('ZoneId');
    for (const n of names) if (!topology.az(n)) throw new AwsError('InvalidParameterValue', `Invalid availability zone: [${n}]`);
    for (const z of zoneIds) if (!topology.azs.some((a) => a.id === z)) throw new AwsError('InvalidParameterValue', `Invalid availability zone ID: [${z}]`);
    const table: Record<string, Pred<AzDef>> = {
      'zone-name': (m) => (a) => m.test(a.name),
      'zone-id': (m) => (a) => m.test(a.id),
      state: (m) => () => m.test('available'),
      'region-name': (m) => () => m.test(region),
      'zone-type': (m) => () => m.test('availability-zone'),
      'group-name': (m) => () => m.test(region),
      'group-long-name': (m) => () => m.test(region),
      'network-border-group': (m) => () => m.test(region),
      'opt-in-status': (m) => () => m.test('opt-in-not-required'),
    };
    const preds = compileFilters(p.filters(), table);
    const items = topology.azs.filter(
      (a) => (names.length === 0 || names.includes(a.name)) && (zoneIds.length === 0 || zoneIds.includes(a.id)) && matchesAll(preds, a),
    );
    return rawResponse('DescribeAvailabilityZones', req.requestId, `<availabilityZoneInfo>${items.map(azXml).join('')}</availabilityZoneInfo>`);
  };

  type Group = (typeof SECURITY_GROUPS)[number];
  const DescribeSecurityGroups: Ec2ActionHandler = (p, req) => {
    const ids = p.list('GroupId');
    for (const id of ids) {
      if (!/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) throw new AwsError('InvalidGroupId.Malformed', `Invalid id: "${id}" (expecting "sg-...")`);
      if (!SECURITY_GROUPS.some((g) => g.id === id)) throw new AwsError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    }
    for (const n of p.list('GroupName')) {
      // By name, EC2 looks in the default VPC only.
      if (!SECURITY_GROUPS.some((g) => g.name === n && g.vpcId === DEFAULT_VPC_ID)) throw new AwsError('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC '${DEFAULT_VPC_ID}'`);
    }
    const table: Record<string, Pred<Group>> = {
      'group-id': (m) => (g) => m.test(g.id),
      'group-name': (m) => (g) => m.test(g.name),
      'vpc-id': (m) => (g) => m.test(g.vpcId),
      'owner-id': (m) => () => m.test(account),
      description: (m) => (g) => m.test(g.description),
    };
    const preds = compileFilters(p.filters(), table, (name) => (name.startsWith('tag:') ? () => false : undefined));
    const names = p.list('GroupName');
    const items = SECURITY_GROUPS.filter((g) => (ids.length === 0 || ids.includes(g.id)) && (names.length === 0 || (names.includes(g.name) && g.vpcId === DEFAULT_VPC_ID)) && matchesAll(preds, g));
    const item = (g: Group): string =>
      `<item>${el('ownerId', account)}${el('groupId', g.id)}${el('groupName', g.name)}` +
      `${el('groupDescription', g.description)}${el('vpcId', g.vpcId)}` +
      '<ipPermissions/><ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item></ipPermissionsEgress>' +
      `${el('securityGroupArn', `arn:aws:ec2:${region}:${account}:security-group/${g.id}`)}</item>`;
    return rawResponse('DescribeSecurityGroups', req.requestId, `<securityGroupInfo>${items.map(item).join('')}</securityGroupInfo>`);
  };

  interface Vpc {
    id: string;
    cidrs: string[];
    isDefault: boolean;
  }
  const DescribeVpcs: Ec2ActionHandler = (p, req) => {
    const vpcs: Vpc[] = [
      { id: DEFAULT_VPC_ID, cidrs: topology.vpcCidrs, isDefault: true },
      { id: OTHER_VPC.id, cidrs: [OTHER_VPC.cidr], isDefault: false },
    ];
    const ids = p.list('VpcId');
    for (const id of ids) {
      if (!/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) throw new AwsError('InvalidVpcId.Malformed', `Invalid id: "${id}" (expecting "vpc-...")`);
      if (!vpcs.some((v) => v.id === id)) throw new AwsError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
    }
    const table: Record<string, Pred<Vpc>> = {
      'vpc-id': (m) => (v) => m.test(v.id),
      'is-default': (m) => (v) => m.test(String(v.isDefault)),
      isDefault: (m) => (v) => m.test(String(v.isDefault)),
      'cidr-block': (m) => (v) => v.cidrs.some((c) => m.test(c)),
      cidr: (m) => (v) => v.cidrs.some((c) => m.test(c)),
      state: (m) => () => m.test('available'),
      'owner-id': (m) => () => m.test(account),
    };
    const preds = compileFilters(p.filters(), table, (name) => (name.startsWith('tag:') ? () => false : undefined));
    const item = (v: Vpc): string => {
      const assoc = v.cidrs
        .map((c, i) => `<item><cidrBlock>${c}</cidrBlock><associationId>vpc-cidr-assoc-${v.id.slice(4, 10)}${String(i).padStart(11, '0')}</associationId><cidrBlockState><state>associated</state></cidrBlockState></item>`)
        .join('');
      return (
        `<item>${el('vpcId', v.id)}${el('ownerId', account)}<state>available</state>${el('cidrBlock', v.cidrs[0])}` +
        `<cidrBlockAssociationSet>${assoc}</cidrBlockAssociationSet><dhcpOptionsId>dopt-0f1ee70000000000a</dhcpOptionsId><instanceTenancy>default</instanceTenancy>${el('isDefault', v.isDefault)}</item>`
      );
    };
    const items = vpcs.filter((v) => (ids.length === 0 || ids.includes(v.id)) && matchesAll(preds, v));
    return rawResponse('DescribeVpcs', req.requestId, `<vpcSet>${items.map(item).join('')}</vpcSet>`);
  };

  const typeXml = (t: InstanceTypeDef): string =>
    '<item>' +
    el('instanceType', t.name) +
    el('currentGeneration', t.name !== 'm1.small') +
    '<freeTierEligible>false</freeTierEligible>' +
    '<supportedUsageClasses><item>on-demand</item><item>spot</item></supportedUsageClasses>' +
    '<supportedRootDeviceTypes><item>ebs</item></supportedRootDeviceTypes>' +
    '<supportedVirtualizationTypes><item>hvm</item></supportedVirtualizationTypes>' +
    el('bareMetal', t.name.endsWith('.metal')) +
    el('hypervisor', t.name.endsWith('.metal') ? undefined : 'nitro') +
    `<processorInfo><supportedArchitectures><item>${t.architecture}</item></supportedArchitectures></processorInfo>` +
    `<vCpuInfo>${el('defaultVCpus', t.vcpus)}</vCpuInfo>` +
    el('burstablePerformanceSupported', t.burstable) +
    '<instanceStorageSupported>false</instanceStorageSupported>' +
    '<ebsInfo><ebsOptimizedSupport>default</ebsOptimizedSupport><encryptionSupport>supported</encryptionSupport><nvmeSupport>required</nvmeSupport></ebsInfo>' +
    '</item>';

  const DescribeInstanceTypes: Ec2ActionHandler = (p, req) => {
    const names = p.list('InstanceType');
    if (names.length > 100) throw new AwsError('InvalidParameterValue', 'The maximum number of instance types that can be described in one request is 100.');
    const missing = [...new Set(names)].filter((n) => !INSTANCE_TYPES.has(n));
    if (missing.length > 0) throw new AwsError('InvalidInstanceType', `The following supplied instance types do not exist: [${missing.join(', ')}]`);
    const table: Record<string, Pred<InstanceTypeDef>> = {
      'instance-type': (m) => (t) => m.test(t.name),
      'processor-info.supported-architecture': (m) => (t) => m.test(t.architecture),
      'burstable-performance-supported': (m) => (t) => m.test(String(t.burstable)),
      'current-generation': (m) => (t) => m.test(String(t.name !== 'm1.small')),
      'vcpu-info.default-vcpus': (m) => (t) => m.test(String(t.vcpus)),
      'bare-metal': (m) => (t) => m.test(String(t.name.endsWith('.metal'))),
    };
    const preds = compileFilters(p.filters(), table);
    const items = [...INSTANCE_TYPES.values()].filter((t) => (names.length === 0 || names.includes(t.name)) && matchesAll(preds, t));
    if (names.length > 0 && p.int('MaxResults') !== undefined) throw new AwsError('InvalidParameterCombination', 'The parameter InstanceTypes cannot be used with the parameter MaxResults');
    const { page, next } = paginate(items, p, [5, 100]);
    return rawResponse('DescribeInstanceTypes', req.requestId, `<instanceTypeSet>${page.map(typeXml).join('')}</instanceTypeSet>${el('nextToken', next)}`);
  };

  interface Offering {
    type: string;
    locationType: string;
    location: string;
  }
  const DescribeInstanceTypeOfferings: Ec2ActionHandler = (p, req) => {
    const locationType = p.str('LocationType') ?? 'region';
    if (!['region', 'availability-zone', 'availability-zone-id', 'outpost'].includes(locationType)) {
      throw new AwsError('InvalidParameterValue', `Value (${locationType}) for parameter locationType is invalid. Valid values are: region, availability-zone, availability-zone-id, outpost.`);
    }
    const offerings: Offering[] = [];
    for (const t of INSTANCE_TYPES.keys()) {
      if (locationType === 'region') offerings.push({ type: t, locationType, location: region });
      else if (locationType === 'outpost') continue;
      else for (const a of topology.azs) if (offeredIn(t, a.name)) offerings.push({ type: t, locationType, location: locationType === 'availability-zone' ? a.name : a.id });
    }
    const table: Record<string, Pred<Offering>> = {
      'instance-type': (m) => (o) => m.test(o.type),
      location: (m) => (o) => m.test(o.location),
    };
    const preds = compileFilters(p.filters(), table);
    const items = offerings.filter((o) => matchesAll(preds, o));
    const { page, next } = paginate(items, p, [5, 1000]);
    const xml = (o: Offering): string => `<item>${el('instanceType', o.type)}${el('locationType', o.locationType)}${el('location', o.location)}</item>`;
    return rawResponse('DescribeInstanceTypeOfferings', req.requestId, `<instanceTypeOfferingSet>${page.map(xml).join('')}</instanceTypeOfferingSet>${el('nextToken', next)}`);
  };

  const DescribeRegions: Ec2ActionHandler = (_p, req) =>
    rawResponse(
      'DescribeRegions',
      req.requestId,
      `<regionInfo><item>${el('regionName', region)}${el('regionEndpoint', `ec2.${region}.amazonaws.com`)}<optInStatus>opt-in-not-required</optInStatus></item></regionInfo>`,
    );

  return { DescribeImages, DescribeSubnets, DescribeAvailabilityZones, DescribeSecurityGroups, DescribeVpcs, DescribeRegions, DescribeInstanceTypes, DescribeInstanceTypeOfferings };
}
