/**
 * The local cloud's state simulation: an instance whose user-data is a fleet bootstrap naming
 * a `state_s3` location notes, when it first boots (before its first agent run, as the real
 * bootstrap restores the prefix), which objects that prefix of the local S3 holds
 * (`control.ec2.instance(id).restoredState`). Objects written later (the instance saving its
 * state) do not change what it restored; the next instance of the name sees them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { stateLocationOf } from '../../src/sim/ec2/instances.js';
import { renderUserData } from '../../src/bootstrap/userdata.js';
import { parseConfig } from '../../src/config/index.js';
import { parseName } from '../../src/naming.js';
import { ROOT } from '../cli/helpers.js';

const SPEC = parseConfig(
  `fleet: demo
dns:
  zone: prod.example.com
hub: hub-01
journal:
  bucket: demo-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  ci:
    count: 2
    type: t3.small
    state:
      s3: s3://demo-fleet-state/ci
  web:
    count: 1
    type: t3.small
`,
  'fleet.yaml',
);

function userData(name: string): string {
  return renderUserData({ spec: SPEC, name: parseName(name, { zone: 'prod.example.com', indexDigits: 2 }), generation: 1 });
}

test('stateLocationOf reads the data block of a rendered bootstrap', () => {
  assert.deepEqual(stateLocationOf(userData('ci-02')), { bucket: 'demo-fleet-state', prefix: 'ci/ci-02/' });
  assert.equal(stateLocationOf(userData('web-01')), undefined, 'a role without state.s3 renders state_s3=\'\'');
  const fixture = readFileSync(join(ROOT, 'test', 'fixtures', 'bootstrap', 'ci-01.sh'), 'utf8');
  assert.deepEqual(stateLocationOf(fixture), { bucket: 'demo-fleet-state', prefix: 'ci/ci-01/' });
});

test('stateLocationOf: shell quoting, and anything else is no location', () => {
  const block = (line: string) => `#!/bin/sh\n# ---- data: rendered per name, validated, single-quoted; nothing else in this script varies\nname='x'\n${line}\n# ---- end of data\n`;
  assert.deepEqual(stateLocationOf(block(`state_s3='s3://b-1/p'\\''q/x-01/'`)), { bucket: 'b-1', prefix: "p'q/x-01/" }, "an embedded quote as '\\''");
  assert.deepEqual(stateLocationOf(block(`state_s3=s3://b-1/x-01/`)), { bucket: 'b-1', prefix: 'x-01/' }, 'unquoted plain characters');
  assert.equal(stateLocationOf(block(`state_s3=''`)), undefined);
  assert.equal(stateLocationOf(block(`state_s3='s3://b-1/x`)), undefined, 'unterminated quote');
  assert.equal(stateLocationOf(block(`state_s3=$(curl evil)`)), undefined, 'not a plain word');
  assert.equal(stateLocationOf(block(`state_s3='https://b-1/x/'`)), undefined, 'not s3://');
  assert.equal(stateLocationOf(`#!/bin/sh\nstate_s3='s3://b-1/x/'\n`), undefined, 'outside a data block');
  assert.equal(stateLocationOf(block(`# state_s3='s3://b-1/x/'`)), undefined, 'a comment');
});

const BOOT_MS = 3_600_000;
const CONVERGE_MS = 3_600_000;

describe('instances restore their state prefix at first boot', () => {
  let cloud: LocalCloud;
  let ec2: EC2Client;
  before(async () => {
    // Real-time speed and an hour to boot and an hour to converge: nothing moves on its own
    // while the test runs; the test moves the simulated clock itself (no race with the boot).
    cloud = await startLocalCloud({ clockSpeed: 1, delays: { bootMs: BOOT_MS, convergeMs: CONVERGE_MS } });
    ec2 = new EC2Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' } });
  });
  after(async () => {
    ec2.destroy();
    await cloud.close();
  });

  const launch = async (ud: string): Promise<string> => {
    const r = await ec2.send(
      new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: 'subnet-0aa00000000000001', UserData: Buffer.from(ud).toString('base64') }),
    );
    return r.Instances![0]!.InstanceId!;
  };
  /** Move the simulated clock by `ms`, then `cond` holds. */
  const later = (ms: number, cond: () => boolean, what: string): void => {
    cloud.control.clock.advance(ms);
    assert.ok(cond(), what);
  };

  test('the keys under the prefix at boot, not the ones saved later; other names and other prefixes are not restored', async () => {
    const s3 = cloud.control.s3;
    s3.createBucket('demo-fleet-state');
    s3.putObject('demo-fleet-state', 'ci/ci-01/config.json', '{"v":1}');
    s3.putObject('demo-fleet-state', 'ci/ci-01/keys/host.pem', 'x');
    s3.putObject('demo-fleet-state', 'ci/ci-02/config.json', 'other name');
    s3.putObject('demo-fleet-state', 'ci/ci-01x/config.json', 'another prefix that merely starts alike');

    const first = await launch(userData('ci-01'));
    assert.equal(cloud.control.ec2.instance(first)!.state, 'pending');
    assert.equal(cloud.control.ec2.instance(first)!.restoredState, undefined, 'not booted yet');
    later(BOOT_MS, () => cloud.control.ec2.instance(first)!.state === 'running', 'running after the boot delay');
    later(CONVERGE_MS, () => cloud.control.ec2.instance(first)!.tags['fleet:converged'] !== undefined, 'converged after the convergence delay');
    assert.deepEqual(cloud.control.ec2.instance(first)!.restoredState, ['ci/ci-01/config.json', 'ci/ci-01/keys/host.pem']);

    // The instance saves more; what it restored stays what it restored.
    s3.putObject('demo-fleet-state', 'ci/ci-01/config.json', '{"v":2}');
    s3.putObject('demo-fleet-state', 'ci/ci-01/generated.conf', 'y');
    assert.deepEqual(cloud.control.ec2.instance(first)!.restoredState, ['ci/ci-01/config.json', 'ci/ci-01/keys/host.pem']);

    // The next instance of the name starts from what was saved.
    const second = await launch(userData('ci-01'));
    later(BOOT_MS + CONVERGE_MS, () => cloud.control.ec2.instance(second)!.tags['fleet:converged'] !== undefined, 'the second converged');
    assert.deepEqual(cloud.control.ec2.instance(second)!.restoredState, ['ci/ci-01/config.json', 'ci/ci-01/generated.conf', 'ci/ci-01/keys/host.pem']);
  });

  test('no state location, a missing bucket, no bootstrap', async () => {
    const web = await launch(userData('web-01'));
    later(BOOT_MS + CONVERGE_MS, () => cloud.control.ec2.instance(web)!.tags['fleet:converged'] !== undefined, 'web-01 converged');
    assert.equal(cloud.control.ec2.instance(web)!.restoredState, undefined, 'a role without state.s3 restores nothing');

    const spec = parseConfig(
      `fleet: demo\ndns:\n  zone: prod.example.com\nhub: hub-01\njournal:\n  bucket: demo-journal\ndefaults:\n  image: ami-0123456789abcdef0\n  subnets: [subnet-0aa00000000000001]\n  security-groups: [sg-0123456789abcdef0]\nroles:\n  hub:\n    count: 1\n    type: t3.small\n  ci:\n    count: 1\n    type: t3.small\n    state:\n      s3: s3://no-such-bucket/ci\n`,
      'fleet.yaml',
    );
    const missing = await launch(renderUserData({ spec, name: parseName('ci-01', { zone: 'prod.example.com', indexDigits: 2 }), generation: 1 }));
    later(BOOT_MS, () => cloud.control.ec2.instance(missing)!.state === 'running', 'running after the boot delay');
    later(CONVERGE_MS, () => cloud.control.ec2.instance(missing)!.restoredState !== undefined, 'restored at first boot');
    assert.deepEqual(cloud.control.ec2.instance(missing)!.restoredState, [], 'nothing to restore from a bucket that does not exist');

    const plain = await launch(`#!/bin/sh\n# ---- data: rendered per name, validated, single-quoted; nothing else in this script varies\nstate_s3='s3://demo-fleet-state/ci/ci-01/'\n# ---- end of data\n`);
    later(BOOT_MS, () => cloud.control.ec2.instance(plain)!.state === 'running', 'running after the boot delay');
    assert.equal(cloud.control.ec2.instance(plain)!.restoredState, undefined, 'not a fleet bootstrap: nothing restores anything');
  });
});
