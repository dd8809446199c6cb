/**
 * A role's own `instance-profile` overrides `defaults.instance-profile` at launch, so the CDK
 * app (infra/app) can grant each profile only its roles' state prefixes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalCloud } from '../../src/sim/index.js';
import { fleet, writeConfig } from './helpers.js';

const SPEED = 20;

test('apply launches each role with its own instance profile, else the default one', async () => {
  const cloud = await startLocalCloud({ clockSpeed: SPEED });
  try {
    const f = 'prof';
    const config = writeConfig(`fleet: ${f}
region: us-east-1
dns:
  zone: ${f}.example.com
  ttl: 1
hub: hub-01
journal:
  bucket: ${f}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
  instance-profile: fleet-node
roles:
  hub:
    count: 1
    type: t3.small
  ci:
    count: 2
    type: t3.medium
    instance-profile: fleet-node-ci
`);
    assert.equal((await fleet(['init', '--config', config], { endpoint: cloud.endpoint })).code, 0);
    const r = await fleet(['apply', '--yes', '--config', config, '--time-scale', String(SPEED), '--poll-ms', '200'], { endpoint: cloud.endpoint });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const profiles = cloud.control.ec2
      .instances()
      .filter((i) => i.tags['fleet:fleet'] === f)
      .map((i) => `${i.tags['fleet:name']} ${i.iamInstanceProfileArn?.replace(/^.*instance-profile\//, '')}`)
      .sort();
    assert.deepEqual(profiles, ['ci-01 fleet-node-ci', 'ci-02 fleet-node-ci', 'hub-01 fleet-node']);
  } finally {
    await cloud.close();
  }
});
