/** The pure preflight: table-driven, from a spec and the account's answers to problems at fleet.yaml paths. */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { partitionOf, preflightProblems, preflightQuestions, type AccountAnswers, type ExtraType } from '../../src/plan/preflight.js';
import { spec } from './fixtures.js';

const X86 = ['x86_64'];
const ARM = ['arm64'];
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const SUBNETS = { 'subnet-0aa00000000000001': 'us-east-1a', 'subnet-0bb00000000000002': 'us-east-1b', 'subnet-0cc00000000000003': 'us-east-1c' };

/** A sound account for fixtures.spec(); `edit` changes it. */
function account(edit: (a: AccountAnswers) => void = () => {}): AccountAnswers {
  const types = new Map<string, string[]>([['t3.small', X86], ['t3.medium', X86], ['t3a.medium', X86], ['m5.large', X86], ['t4g.small', ARM], ['c7i.large', X86]]);
  const a: AccountAnswers = {
    region: 'us-east-1',
    types,
    offerings: new Map(AZS.map((az) => [az, new Set([...types.keys()].filter((t) => !(az === 'us-east-1c' && t === 'c7i.large')))])),
    images: new Map([
      ['ami-0123456789abcdef0', { id: 'ami-0123456789abcdef0', architecture: 'x86_64', state: 'available' }],
      ['ami-0d12a0000000000b1', { id: 'ami-0d12a0000000000b1', architecture: 'arm64', state: 'available', name: 'debian-12-arm64' }],
    ]),
    subnets: new Map(Object.entries(SUBNETS).map(([id, az]) => [id, { az, vpcId: 'vpc-0000000a' }])),
    securityGroups: new Map([['sg-0123456789abcdef0', { vpcId: 'vpc-0000000a' }]]),
  };
  edit(a);
  return a;
}

const show = (ps: ReturnType<typeof preflightProblems>) => ps.map((p) => `${p.path ? p.path.join('.') : p.flag}: ${p.message}`);

const CASES: { name: string; extra?: string; account?: (a: AccountAnswers) => void; types?: ExtraType[]; problems: RegExp[] }[] = [
  { name: 'a sound fleet', problems: [] },
  { name: 'an unknown alternative', extra: '  api: {count: 1, type: m5.large, alternatives: [t3.99xlarge]}', problems: [/^roles\.api\.alternatives\.0: instance type t3\.99xlarge does not exist in us-east-1/] },
  { name: 'a type not offered in one AZ', extra: '  api: {count: 1, type: c7i.large}', problems: [/^roles\.api\.type: instance type c7i\.large is not offered in us-east-1c \(the AZ of subnet-0cc00000000000003, role api's subnets\); offered in us-east-1a, us-east-1b/] },
  { name: 'a type not offered, but the role keeps to AZs that offer it', extra: '  api: {count: 1, type: c7i.large, subnets: [subnet-0aa00000000000001]}', problems: [] },
  { name: 'an arm64 image with x86 types', extra: '  api: {count: 1, type: m5.large, image: ami-0d12a0000000000b1}', problems: [/^roles\.api\.type: instance type m5\.large runs x86_64, but role api's image ami-0d12a0000000000b1 \(debian-12-arm64\) is arm64/] },
  { name: 'an arm64 type with the default x86 image', extra: '  api: {count: 1, type: t4g.small}', problems: [/^roles\.api\.type: instance type t4g\.small runs arm64, but role api's image ami-0123456789abcdef0 is x86_64/] },
  { name: 'a missing image, once for all roles', account: (a) => a.images.clear(), problems: [/^defaults\.image: image ami-0123456789abcdef0 does not exist in us-east-1/] },
  { name: 'a subnet of another VPC', account: (a) => a.subnets.set('subnet-0bb00000000000002', { az: 'us-east-1b', vpcId: 'vpc-0000000b' }), problems: [/^defaults\.subnets\.1: subnet subnet-0bb00000000000002 is in vpc-0000000b, but security group sg-0123456789abcdef0 is in vpc-0000000a/] },
  { name: 'a missing subnet and security group', account: (a) => { a.subnets.delete('subnet-0cc00000000000003'); a.securityGroups.clear(); }, problems: [/^defaults\.security-groups\.0: security group sg-0123456789abcdef0 does not exist/, /^defaults\.subnets\.2: subnet subnet-0cc00000000000003 does not exist/] },
  { name: 'a --type that does not exist', types: [{ type: 't3.99xlarge', role: 'web' }], problems: [/^--type: --type t3\.99xlarge: instance type does not exist in us-east-1/] },
  { name: 'a --type not offered in the role\'s AZs', types: [{ type: 'c7i.large', role: 'web' }], problems: [/^--type: --type c7i\.large: instance type is not offered in us-east-1c/] },
  { name: 'an instance profile ARN of another partition', extra: '', account: (a) => (a.region = 'cn-north-1'), problems: [/^defaults\.instance-profile: instance profile ARN names partition aws, but cn-north-1 is in partition aws-cn/] },
];

for (const c of CASES) {
  test(`preflight: ${c.name}`, () => {
    let s = spec(c.extra ?? '');
    if (c.name.includes('instance profile')) s = { ...s, defaults: { ...s.defaults, instanceProfile: 'arn:aws:iam::123456789012:instance-profile/fleet-node' } };
    const got = show(preflightProblems(s, account(c.account), c.types ?? []));
    assert.equal(got.length, c.problems.length, got.join('\n'));
    c.problems.forEach((re, i) => assert.match(got[i]!, re));
  });
}

test('preflight: an image from a flag exists and runs the types it launches', () => {
  const s = spec();
  assert.deepEqual(show(preflightProblems(s, account(), [], [{ id: 'ami-0123456789abcdef0', role: 'web' }])), []);
  assert.deepEqual(show(preflightProblems(s, account(), [], [{ id: 'ami-0d12a0000000000b1', role: 'web', types: ['t3.medium'] }])), ['--image: --image ami-0d12a0000000000b1 (debian-12-arm64) is arm64, but instance type t3.medium of role web runs x86_64']);
  assert.deepEqual(show(preflightProblems(s, account(), [], [{ id: 'ami-0000000000000dead', role: 'web' }])), ['--image: --image ami-0000000000000dead: image does not exist in us-east-1 (DescribeImages)']);
  assert.deepEqual(preflightQuestions(s, [], [{ id: 'ami-0000000000000dead', role: 'web' }]).images, [{ id: 'ami-0123456789abcdef0' }, { id: 'ami-0000000000000dead' }]);
});

test('preflight questions: every type, image, subnet and group once, with the flags', () => {
  const q = preflightQuestions(spec('  api: {count: 1, type: m5.large, image: ami-0d12a0000000000b1, subnets: [subnet-0aa00000000000001]}'), [{ type: 'c7i.large' }]);
  assert.deepEqual(q.types.sort(), ['c7i.large', 'm5.large', 't3.medium', 't3.small', 't3a.medium']);
  assert.deepEqual(q.images, [{ id: 'ami-0123456789abcdef0' }, { id: 'ami-0d12a0000000000b1' }]);
  assert.deepEqual(q.subnets, Object.keys(SUBNETS));
  assert.deepEqual(q.securityGroups, ['sg-0123456789abcdef0']);
  assert.equal(partitionOf('us-gov-west-1'), 'aws-us-gov');
  assert.equal(partitionOf('eu-west-1'), 'aws');
});
