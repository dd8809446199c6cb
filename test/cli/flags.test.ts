/**
 * Flags and environment are input like any other: each misuse below is exit 2 with its
 * reason, and the local cloud sees no call at all (checked before any AWS call).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { checkCount, checkDuration, checkEndpoint } from '../../src/cli/flags.js';
import { InputError } from '../../src/errors.js';
import { fleet, fleetProcess, fleetYaml, tempDir, writeConfig } from './helpers.js';

describe('flags are input', () => {
  let cloud: LocalCloud;
  let config: string;
  let lockDir: string;
  before(async () => {
    cloud = await startLocalCloud();
    config = writeConfig(fleetYaml());
    lockDir = tempDir();
    const init = await fleet(['init', '--config', config], { endpoint: cloud.endpoint });
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => cloud.close());

  const CASES: { name: string; args: () => string[]; env?: () => Record<string, string>; stderr: RegExp }[] = [
    { name: 'a region that is not a region name', args: () => ['--region', 'us-east-1;x', 'ls', '--config', config], stderr: /--region: "us-east-1;x" is not an AWS Region code such as us-east-1/ },
    { name: 'AWS_REGION that is not a region name', args: () => ['ls', '--config', writeConfig(fleetYaml().replace('region: us-east-1\n', ''))], env: () => ({ AWS_REGION: '$(reboot)' }), stderr: /AWS_REGION: "\$\(reboot\)" is not an AWS Region code/ },
    { name: 'an empty --endpoint (must not fall back to AWS)', args: () => ['--endpoint', '', 'ls', '--config', config], stderr: /--endpoint is empty/ },
    { name: 'an endpoint that is not http(s)', args: () => ['--endpoint', 'file:///etc/passwd', 'ls', '--config', config], stderr: /--endpoint "file:\/\/\/etc\/passwd": the endpoint must be http or https, not "file"/ },
    { name: 'an endpoint that is not a URL', args: () => ['--endpoint', 'localhost 4566', 'ls', '--config', config], stderr: /--endpoint "localhost 4566" is not a URL/ },
    { name: 'an endpoint with credentials', args: () => ['--endpoint', 'http://user:secret@127.0.0.1:1', 'ls', '--config', config], stderr: /holds credentials/ },
    { name: 'a huge --max-surge', args: () => ['upgrade', 'web', '--type', 'm5.large', '--max-surge', '99999999999999999999999', '--yes', '--config', config], stderr: /--max-surge "99999999999999999999999": at most 1000 names at a time/ },
    { name: 'a negative --max-unavailable', args: () => ['upgrade', 'web', '--type', 'm5.large', '--max-unavailable', '-1', '--yes', '--config', config], stderr: /--max-unavailable "-1": expected a whole number 0\.\.1000/ },
    { name: 'a --wait that is not a duration', args: () => ['apply', '--wait', 'forever', '--yes', '--config', config], stderr: /--wait "forever": expected a duration/ },
    { name: 'a --wait too long', args: () => ['apply', '--wait', '400d', '--yes', '--config', config], stderr: /--wait "400d": at most 1d/ },
    { name: 'a --time-scale out of range', args: () => ['apply', '--time-scale', '1e308', '--yes', '--config', config], stderr: /--time-scale "1e308": at most 100000/ },
    { name: 'a --poll-ms that is not a number', args: () => ['apply', '--poll-ms', '', '--yes', '--config', config], stderr: /--poll-ms "": expected a number > 0/ },
    { name: 'a lock directory that is a file (locks)', args: () => ['locks', '--config', config], env: () => ({ FLEET_LOCK_DIR: fileIn(lockDir) }), stderr: /lock directory ".*" \(from FLEET_LOCK_DIR\): a part of the path is a file, not a directory/ },
    { name: 'a lock directory that is a file (apply)', args: () => ['apply', '--yes', '--config', config], env: () => ({ FLEET_LOCK_DIR: fileIn(lockDir) }), stderr: /lock directory ".*" \(from FLEET_LOCK_DIR\): a part of the path is a file/ },
  ];

  for (const c of CASES) {
    test(`${c.name}: exit 2 with the reason, no AWS call`, async () => {
      cloud.control.resetCalls();
      const r = await fleet(c.args(), { endpoint: cloud.endpoint, env: { FLEET_LOCK_DIR: lockDir, ...(c.env?.() ?? {}) } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.stderr);
      assert.doesNotMatch(r.stderr, /unexpected failure|\n\s+at /, 'no stack');
      assert.deepEqual(cloud.control.calls(), {}, 'no call reached the cloud');
    });
  }

  test('a lock directory that cannot be created, through the real bin: exit 2, no stack', async () => {
    const r = await fleetProcess(['locks', '--config', config], { env: { FLEET_LOCK_DIR: join(fileIn(lockDir), 'sub'), AWS_ENDPOINT_URL: cloud.endpoint } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^fleet: lock directory ".*" \(from FLEET_LOCK_DIR\): a part of the path is a file, not a directory\n$/);
  });

  test('an empty AWS_ENDPOINT_URL is unset, as for the SDK; a good --endpoint overrides it', async () => {
    assert.equal(checkEndpoint(undefined, ''), undefined);
    assert.equal(checkEndpoint(`${cloud.endpoint}/`, 'http://127.0.0.1:1'), cloud.endpoint);
    const r = await fleet(['--endpoint', cloud.endpoint, '--json', 'ls', '--config', config], { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', FLEET_LOCK_DIR: lockDir } });
    assert.equal(r.code, 0, r.stderr);
  });
});

function fileIn(dir: string): string {
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, '');
  return file;
}

test('counts and durations: bounds, and no 1e+23 in a message', () => {
  assert.equal(checkCount('--max-surge', '0'), 0);
  assert.equal(checkCount('--max-surge', '0007'), 7);
  assert.equal(checkCount('--max-surge', '1000'), 1000);
  assert.throws(() => checkCount('--max-surge', '1001'), (e: unknown) => e instanceof InputError && /at most 1000/.test(e.message));
  assert.throws(() => checkCount('--max-surge', '1e3'), InputError);
  assert.throws(() => checkCount('--max-surge', '9'.repeat(400)), (e: unknown) => e instanceof InputError && !/e\+|Infinity/.test(e.message) && e.message.length < 200);
  assert.equal(checkDuration('--wait', '90s'), 90_000);
  assert.equal(checkDuration('--wait', '5m'), 300_000);
  assert.equal(checkDuration('--wait', '30'), 30_000);
  assert.equal(checkDuration('--wait', undefined), 0);
  assert.throws(() => checkDuration('--wait', '99999999999999999999'), InputError);
  assert.throws(() => checkDuration('--wait', '-5s'), InputError);
});

test('fleet sim: a speed or a delay beyond the local cloud\'s bounds is exit 2, not a RangeError', async () => {
  for (const [args, re] of [
    [['sim', '--port', '0', '--speed', '1e308'], /--speed "1e308": expected a number from 0\.001 to 1000000/],
    [['sim', '--port', '0', '--boot-ms', '9e15'], /--boot-ms "9e15": expected a number from 0 to 604800000/],
  ] as const) {
    const r = await fleet([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /unexpected failure/);
  }
});
