/**
 * Conformance: the catalogue reads a preflight makes, with the real @aws-sdk/client-ec2:
 * DescribeInstanceTypes (architectures; InvalidInstanceType for a type that does not exist),
 * DescribeInstanceTypeOfferings by AZ, RunInstances answering Unsupported in an AZ that does
 * not offer the type (and placing it where it is offered when no AZ is asked), and a second VPC.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  RunInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { cloudUnderTest, errorCode, type CloudUnderTest } from './harness.js';

let cloud: CloudUnderTest;
before(async () => {
  cloud = await cloudUnderTest();
});
after(async () => cloud.close());

const AMI = 'ami-0123456789abcdef0';

test('DescribeInstanceTypes: architectures by type, by filter; a type that does not exist is InvalidInstanceType', async () => {
  const ec2 = cloud.clients.ec2;
  const r = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.medium', 't4g.small'] }));
  const arch = Object.fromEntries((r.InstanceTypes ?? []).map((t) => [t.InstanceType, t.ProcessorInfo?.SupportedArchitectures]));
  assert.deepEqual(arch, { 't3.medium': ['x86_64'], 't4g.small': ['arm64'] });
  assert.equal(await errorCode(ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.99xlarge' as _InstanceType] }))), 'InvalidInstanceType');
  // By filter, what does not exist is simply absent.
  const f = await ec2.send(new DescribeInstanceTypesCommand({ Filters: [{ Name: 'instance-type', Values: ['t3.99xlarge', 'm5.large'] }] }));
  assert.deepEqual(f.InstanceTypes?.map((t) => t.InstanceType), ['m5.large']);
  // Paging over the whole catalogue.
  let token: string | undefined;
  let n = 0;
  do {
    const p = await ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 100, ...(token ? { NextToken: token } : {}) }));
    n += p.InstanceTypes?.length ?? 0;
    token = p.NextToken;
  } while (token);
  assert.ok(n > 200, `${n} types`);
});

test('DescribeInstanceTypeOfferings by AZ: c7i is not offered in the third AZ; RunInstances there is Unsupported', async (t) => {
  const ec2 = cloud.clients.ec2;
  const region = cloud.region;
  const r = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: ['c7i.large', 'm5.large'] }] }));
  const where = (type: string) => (r.InstanceTypeOfferings ?? []).filter((o) => o.InstanceType === type).map((o) => o.Location).sort();
  assert.deepEqual(where('m5.large'), [`${region}a`, `${region}b`, `${region}c`]);
  assert.deepEqual(where('c7i.large'), [`${region}a`, `${region}b`]);
  const byId = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone-id', Filters: [{ Name: 'instance-type', Values: ['m5.large'] }] }));
  assert.equal(byId.InstanceTypeOfferings?.length, 3);
  assert.ok(byId.InstanceTypeOfferings!.every((o) => o.LocationType === 'availability-zone-id'));
  if (!cloud.isLocalCloud) return t.skip('the AZ that lacks c7i is the local cloud\'s');
  assert.equal(await errorCode(ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 'c7i.large', MinCount: 1, MaxCount: 1, SubnetId: 'subnet-0cc00000000000003' }))), 'Unsupported');
  // Without a subnet or an AZ, EC2 picks an AZ that offers the type.
  for (let i = 0; i < 3; i++) {
    const run = await ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 'c7i.large', MinCount: 1, MaxCount: 1 }));
    assert.notEqual(run.Instances?.[0]?.Placement?.AvailabilityZone, `${region}c`);
  }
});

test('a second VPC with its own subnet and security group', async (t) => {
  if (!cloud.isLocalCloud) return t.skip('the local cloud\'s topology');
  const ec2 = cloud.clients.ec2;
  const vpcs = await ec2.send(new DescribeVpcsCommand({}));
  assert.deepEqual(vpcs.Vpcs?.map((v) => [v.VpcId, v.IsDefault]), [['vpc-0f1ee70000000000a', true], ['vpc-0b0b0b0000000000b', false]]);
  const sub = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: ['vpc-0b0b0b0000000000b'] }] }));
  assert.deepEqual(sub.Subnets?.map((s) => s.SubnetId), ['subnet-0dd00000000000004']);
  const sg = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: ['sg-0b0b0b0b0b0b0b0b0', 'sg-0123456789abcdef0', 'sg-0000000000000dead'] }] }));
  assert.deepEqual(sg.SecurityGroups?.map((g) => [g.GroupId, g.VpcId]).sort(), [['sg-0123456789abcdef0', 'vpc-0f1ee70000000000a'], ['sg-0b0b0b0b0b0b0b0b0', 'vpc-0b0b0b0000000000b']]);
  assert.equal(await errorCode(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0000000000000dead'] }))), 'InvalidGroup.NotFound');
});
