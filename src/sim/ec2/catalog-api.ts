/**
 * Read-only EC2 catalogue actions of the local cloud: DescribeImages, DescribeSubnets,
 * DescribeAvailabilityZones, DescribeSecurityGroups, DescribeVpcs, DescribeRegions.
 */
import { AwsError } from '../types.js';
import type { Ec2Params } from './query.js';
import type { Ec2ActionHandler } from './volumes.js';
import { compileFilters, matchesAll, type ValueMatcher } from './filters.js';
import { el, rawResponse } from './render.js';
import { DEFAULT_SECURITY_GROUP, DEFAULT_VPC_ID, IMAGES, type AzDef, type ImageDef, type Subnet, type Topology } from './topology.js';

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

  const DescribeSecurityGroups: Ec2ActionHandler = (p, req) => {
    const ids = p.list('GroupId');
    for (const id of ids) {
      if (!/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) throw new AwsError('InvalidGroupId.Malformed', `Invalid id: "${id}" (expecting "sg-...")`);
      if (id !== DEFAULT_SECURITY_GROUP.id) throw new AwsError('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    }
    for (const n of p.list('GroupName')) {
      if (n !== DEFAULT_SECURITY_GROUP.name) throw new AwsError('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC '${DEFAULT_VPC_ID}'`);
    }
    const table: Record<string, Pred<null>> = {
      'group-id': (m) => () => m.test(DEFAULT_SECURITY_GROUP.id),
      'group-name': (m) => () => m.test(DEFAULT_SECURITY_GROUP.name),
      'vpc-id': (m) => () => m.test(DEFAULT_VPC_ID),
      'owner-id': (m) => () => m.test(account),
      description: (m) => () => m.test('default VPC security group'),
    };
    const preds = compileFilters(p.filters(), table, (name) => (name.startsWith('tag:') ? () => false : undefined));
    const show = matchesAll(preds, null);
    const item =
      `<item>${el('ownerId', account)}${el('groupId', DEFAULT_SECURITY_GROUP.id)}${el('groupName', DEFAULT_SECURITY_GROUP.name)}` +
      `<groupDescription>default VPC security group</groupDescription>${el('vpcId', DEFAULT_VPC_ID)}` +
      '<ipPermissions/><ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item></ipPermissionsEgress>' +
      `${el('securityGroupArn', `arn:aws:ec2:${region}:${account}:security-group/${DEFAULT_SECURITY_GROUP.id}`)}</item>`;
    return rawResponse('DescribeSecurityGroups', req.requestId, `<securityGroupInfo>${show ? item : ''}</securityGroupInfo>`);
  };

  const DescribeVpcs: Ec2ActionHandler = (p, req) => {
    const ids = p.list('VpcId');
    for (const id of ids) {
      if (!/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) throw new AwsError('InvalidVpcId.Malformed', `Invalid id: "${id}" (expecting "vpc-...")`);
      if (id !== DEFAULT_VPC_ID) throw new AwsError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
    }
    const table: Record<string, Pred<null>> = {
      'vpc-id': (m) => () => m.test(DEFAULT_VPC_ID),
      'is-default': (m) => () => m.test('true'),
      isDefault: (m) => () => m.test('true'),
      'cidr-block': (m) => () => topology.vpcCidrs.some((c) => m.test(c)),
      cidr: (m) => () => topology.vpcCidrs.some((c) => m.test(c)),
      state: (m) => () => m.test('available'),
      'owner-id': (m) => () => m.test(account),
    };
    const preds = compileFilters(p.filters(), table, (name) => (name.startsWith('tag:') ? () => false : undefined));
    const assoc = topology.vpcCidrs
      .map((c, i) => `<item><cidrBlock>${c}</cidrBlock><associationId>vpc-cidr-assoc-0f1ee7${String(i).padStart(11, '0')}</associationId><cidrBlockState><state>associated</state></cidrBlockState></item>`)
      .join('');
    const item =
      `<item>${el('vpcId', DEFAULT_VPC_ID)}${el('ownerId', account)}<state>available</state>${el('cidrBlock', topology.vpcCidrs[0])}` +
      `<cidrBlockAssociationSet>${assoc}</cidrBlockAssociationSet><dhcpOptionsId>dopt-0f1ee70000000000a</dhcpOptionsId><instanceTenancy>default</instanceTenancy><isDefault>true</isDefault></item>`;
    return rawResponse('DescribeVpcs', req.requestId, `<vpcSet>${matchesAll(preds, null) ? item : ''}</vpcSet>`);
  };

  const DescribeRegions: Ec2ActionHandler = (_p, req) =>
    rawResponse(
      'DescribeRegions',
      req.requestId,
      `<regionInfo><item>${el('regionName', region)}${el('regionEndpoint', `ec2.${region}.amazonaws.com`)}<optInStatus>opt-in-not-required</optInStatus></item></regionInfo>`,
    );

  return { DescribeImages, DescribeSubnets, DescribeAvailabilityZones, DescribeSecurityGroups, DescribeVpcs, DescribeRegions };
}
