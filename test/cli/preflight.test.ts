/**
 * The preflight against the account, on the local cloud: what AWS would refuse (a type that
 * does not exist, a type not offered in one subnet's AZ, an arm64 image with an x86 type, a
 * subnet of another VPC) is exit 2 at its fleet.yaml line, from `validate --online`, `plan`,
 * `apply` and `upgrade --type`, and the cloud sees no mutating call.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { OTHER_VPC } from '../../src/sim/ec2/topology.js';
import { fleet, fleetYaml, tempDir, writeConfig } from './helpers.js';

/** Calls that change something: anything but Describe/List/Get/Head. */
function mutatingCalls(calls: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(calls).filter(([k]) => !/:(Describe|List|Get|Head)/.test(k)));
}

/** 1-based line of the first line of `text` containing `needle` (after `after`, when given). */
function lineOf(text: string, needle: string, after?: string): number {
  const lines = text.split('\n');
  const start = after ? lines.findIndex((l) => l.includes(after)) : 0;
  const i = lines.findIndex((l, k) => k >= start && l.includes(needle));
  assert.ok(i >= 0, `${needle} not in the file`);
  return i + 1;
}

describe('preflight against the account', () => {
  let cloud: LocalCloud;
  let lockDir: string;
  before(async () => {
    cloud = await startLocalCloud();
    lockDir = tempDir();
    const init = await fleet(['init', '--config', writeConfig(fleetYaml())], { endpoint: cloud.endpoint });
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => cloud.close());

  const run = (args: string[]) => fleet(args, { endpoint: cloud.endpoint, env: { FLEET_LOCK_DIR: lockDir } });

  const CASES: { name: string; yaml: () => string; problem: (yaml: string) => RegExp }[] = [
    {
      name: 'a type that does not exist (in alternatives)',
      yaml: () => fleetYaml().replace('    type: m5.large\n', '    type: m5.large\n    alternatives: [m5.xlarge, t3.99xlarge]\n'),
      problem: (y) => new RegExp(`fleet\\.yaml:${lineOf(y, 't3.99xlarge')}:\\d+: roles\\.api\\.alternatives\\[1\\]: instance type t3\\.99xlarge does not exist in us-east-1 \\(DescribeInstanceTypes\\)`),
    },
    {
      name: "a type not offered in one subnet's AZ",
      yaml: () => fleetYaml().replace('subnet-0bb00000000000002]', 'subnet-0bb00000000000002, subnet-0cc00000000000003]').replace('    type: m5.large\n', '    type: c7i.large\n'),
      problem: (y) => new RegExp(`fleet\\.yaml:${lineOf(y, 'c7i.large')}:11: roles\\.api\\.type: instance type c7i\\.large is not offered in us-east-1c .*; offered in us-east-1a, us-east-1b`),
    },
    {
      name: 'an arm64 image with an x86 type',
      yaml: () => fleetYaml().replace('    type: m5.large\n', '    type: m5.large\n    image: ami-0d12a0000000000b1\n'),
      problem: (y) => new RegExp(`fleet\\.yaml:${lineOf(y, 'm5.large')}:11: roles\\.api\\.type: instance type m5\\.large runs x86_64, but role api's image ami-0d12a0000000000b1 \\(debian-12-arm64-.*\\) is arm64`),
    },
    {
      name: 'a subnet of another VPC',
      yaml: () => fleetYaml().replace('subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002]', `subnets: [subnet-0aa00000000000001, ${OTHER_VPC.subnetId}]`),
      problem: (y) => new RegExp(`fleet\\.yaml:${lineOf(y, OTHER_VPC.subnetId)}:\\d+: defaults\\.subnets\\[1\\]: subnet ${OTHER_VPC.subnetId} is in ${OTHER_VPC.id}, but security group sg-0123456789abcdef0 is in vpc-0f1ee70000000000a`),
    },
    {
      name: 'a security group and a subnet that do not exist',
      yaml: () => fleetYaml().replace('security-groups: [sg-0123456789abcdef0]', 'security-groups: [sg-0123456789abcdef0, sg-0000000000000dead]').replace('subnet-0bb00000000000002]', 'subnet-0000000000000dead]'),
      problem: () => /defaults\.subnets\[1\]: subnet subnet-0000000000000dead does not exist in us-east-1[\s\S]*defaults\.security-groups\[1\]: security group sg-0000000000000dead does not exist/,
    },
  ];

  for (const c of CASES) {
    test(`${c.name}: validate --online, plan and apply exit 2 at the line, no mutating call`, async () => {
      const yaml = c.yaml();
      const config = writeConfig(yaml);
      cloud.control.resetCalls();
      for (const args of [['validate', '--online'], ['plan'], ['apply', '--yes']]) {
        const r = await run([...args, '--config', config]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, c.problem(yaml), args.join(' '));
        assert.doesNotMatch(r.stderr, /unexpected failure/);
      }
      assert.deepEqual(mutatingCalls(cloud.control.calls()), {}, 'no mutating call');
      // Offline validation does not ask the account: the file itself is fine.
      const offline = await run(['validate', '--config', config]);
      assert.equal(offline.code, 0, offline.stderr);
    });
  }

  test('upgrade --type of a type that does not exist, or not offered in the role\'s AZs: exit 2, nothing launched', async () => {
    // The reproduction: a well-formed type that does not exist, allowed in alternatives.
    const yaml = fleetYaml().replace('    type: m5.large\n', '    type: m5.large\n    alternatives: [t3.99xlarge]\n');
    const config = writeConfig(yaml);
    cloud.control.resetCalls();
    const r = await run(['upgrade', 'api', '--type', 't3.99xlarge', '--yes', '--config', config]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`fleet\\.yaml:${lineOf(yaml, 't3.99xlarge')}:\\d+: roles\\.api\\.alternatives\\[0\\]: instance type t3\\.99xlarge does not exist in us-east-1`));
    assert.match(r.stderr, /--type t3\.99xlarge: instance type does not exist in us-east-1/);
    // A type the role allows by fleet.yaml but not offered in one of its AZs.
    const withAlt = writeConfig(fleetYaml().replace('subnet-0bb00000000000002]', 'subnet-0bb00000000000002, subnet-0cc00000000000003]').replace('    type: m5.large\n', '    type: m5.large\n    alternatives: [c7i.large]\n'));
    const r2 = await run(['upgrade', 'api', '--type', 'c7i.large', '--yes', '--config', withAlt]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /c7i\.large is not offered in us-east-1c/);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {}, 'no mutating call');
    assert.equal(cloud.control.calls()['ec2:RunInstances'], undefined);
  });

  test('upgrade --image of another architecture, or that does not exist: exit 2, nothing launched', async () => {
    const config = writeConfig(fleetYaml());
    cloud.control.resetCalls();
    const arm = await run(['upgrade', 'api', '--image', 'ami-0d12a0000000000b1', '--yes', '--config', config]);
    assert.equal(arm.code, 2, arm.stderr);
    assert.match(arm.stderr, /--image ami-0d12a0000000000b1 \(debian-12-arm64-[^)]*\) is arm64, but instance type m5\.large of role api runs x86_64/);
    const gone = await run(['upgrade', 'api', '--image', 'ami-0000000000000dead', '--yes', '--config', config]);
    assert.equal(gone.code, 2, gone.stderr);
    assert.match(gone.stderr, /--image ami-0000000000000dead: image does not exist in us-east-1/);
    assert.deepEqual(mutatingCalls(cloud.control.calls()), {}, 'no mutating call');
  });

  test('a sound fleet.yaml passes validate --online and says what it checked', async () => {
    const config = writeConfig(fleetYaml());
    cloud.control.resetCalls();
    const r = await run(['validate', '--online', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /account \(us-east-1\): ok — 3 instance types offered in us-east-1a, us-east-1b; image ami-0123456789abcdef0 \(x86_64\); 2 subnets and 1 security group in vpc-0f1ee70000000000a/);
    const calls = cloud.control.calls();
    assert.deepEqual(mutatingCalls(calls), {});
    for (const a of ['DescribeInstanceTypes', 'DescribeInstanceTypeOfferings', 'DescribeImages', 'DescribeSubnets', 'DescribeSecurityGroups']) assert.equal(calls[`ec2:${a}`], 1, a);
    const json = await run(['--json', 'validate', '--online', '--config', config]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { online: { types: string[] } }).online.types, ['m5.large', 't3.medium', 't3.small']);
  });
});
