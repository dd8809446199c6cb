/**
 * The Lambda entry from the sources (the bundle has its own test): a misconfigured function
 * says so in one JSON error line and throws; an invocation out of time starts nothing and
 * throws, so Lambda retries the event.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { handler } from '../../src/interruption/lambda.js';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { loadConfig } from '../../src/config/index.js';
import { fleet, tempDir, writeConfig } from '../cli/helpers.js';

let cloud: LocalCloud;
before(async () => {
  cloud = await startLocalCloud({ clockSpeed: 20, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
});
after(async () => {
  await cloud.close();
});

async function capture<T>(fn: () => Promise<T>): Promise<{ error?: unknown; lines: { level: string; event: string; msg: string }[] }> {
  const orig = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((c: string | Uint8Array) => {
    text += typeof c === 'string' ? c : Buffer.from(c).toString();
    return true;
  }) as typeof process.stdout.write;
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  } finally {
    process.stdout.write = orig;
  }
  return { error, lines: text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: string; event: string; msg: string }) };
}

test('the Lambda: no FLEET_SPEC_JSON is one JSON error line and a throw; then, out of time, nothing starts', async () => {
  delete process.env['FLEET_SPEC_JSON'];
  const ctx = { getRemainingTimeInMillis: () => 300_000, awsRequestId: 'req-1' };
  const bad = await capture(() => handler({}, ctx));
  assert.ok(bad.error instanceof Error);
  assert.deepEqual(bad.lines.map((l) => [l.level, l.event]), [['error', 'interruption-failed']]);
  assert.match(bad.lines[0]!.msg, /FLEET_SPEC_JSON is not set/);

  const cfg = writeConfig(`fleet: lamb
region: us-east-1
dns: {zone: lamb.example.com, ttl: 1}
hub: hub-01
journal: {bucket: lamb-fleet-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
  web: {count: 1, type: t3.medium, market: spot}
`);
  assert.equal((await fleet(['init', '--config', cfg], { endpoint: cloud.endpoint })).code, 0);
  const applied = await fleet(['apply', '--yes', '--config', cfg, '--time-scale', '20', '--poll-ms', '200'], { endpoint: cloud.endpoint });
  assert.equal(applied.code, 0, applied.stderr);
  Object.assign(process.env, {
    FLEET_SPEC_JSON: JSON.stringify(await loadConfig(cfg)),
    AWS_ENDPOINT_URL: cloud.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDLOCALCLOUD',
    AWS_SECRET_ACCESS_KEY: 'local-cloud',
    FLEET_TIME_SCALE: '20',
    FLEET_LOCK_DIR: join(tempDir(), 'locks'),
  });
  const web = cloud.control.ec2.instances().find((i) => i.tags['fleet:name'] === 'web-01' && i.state === 'running')!;
  const warning = cloud.control.interruptSpot(web.instanceId);
  cloud.control.resetCalls();
  // 10 s left: less than the 15 s safety margin.
  const late = await capture(() => handler(warning, { getRemainingTimeInMillis: () => 10_000, awsRequestId: 'req-2' }));
  assert.ok(late.error instanceof Error, 'thrown, so Lambda retries it');
  assert.match((late.error as Error).message, /not handled: stopped before handling \(deadline\)/);
  assert.ok(late.lines.some((l) => l.event === 'deadline'));
  assert.ok(late.lines.some((l) => l.level === 'error' && l.event === 'interruption-failed'));
  assert.equal(cloud.control.calls()['ec2:RunInstances'], undefined, 'nothing launched');
  assert.equal(cloud.control.calls()['s3:PutObject'], undefined, 'no marker: the retry handles it');

  // The retry, in time, replaces web-01.
  const retry = await capture(() => handler(warning, { getRemainingTimeInMillis: () => 300_000, awsRequestId: 'req-3' }));
  assert.equal(retry.error, undefined, String(retry.error));
  assert.ok(retry.lines.some((l) => l.event === 'swapped'));
  assert.equal(cloud.control.calls()['ec2:RunInstances'], 1);
});
