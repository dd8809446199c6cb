/**
 * The policy push flow (src/ops/policy.ts) against the in-process local cloud with the real SDK
 * and no CLI: read the directory and the location, plan, execute (uploads first, deletions
 * last); a rerun writes nothing; a stop starts no new write and a rerun finishes the push; bad
 * directories are refused before anything is read from S3.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { createS3Objects } from '../../src/aws/s3.js';
import { InputError } from '../../src/errors.js';
import type { LogEvent } from '../../src/ports.js';
import { executePolicyPush, readPolicyDir, readPolicyPlan, type PolicyDeps } from '../../src/ops/policy.js';
import type { PolicyChange, PolicyTarget } from '../../src/plan/policy.js';

const BUCKET = 'ops-policy';
let cloud: LocalCloud;
let clients: AwsClients;
let deps: PolicyDeps;
const dirs: string[] = [];

before(async () => {
  cloud = await startLocalCloud();
  cloud.control.s3.createBucket(BUCKET);
  clients = createClients({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' }, maxAttempts: 1 });
  deps = { objects: createS3Objects(clients.s3) };
});
after(async () => {
  clients.destroy();
  await cloud.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function masterfiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ops-policy-'));
  dirs.push(dir);
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), body);
  }
  return dir;
}

const target = (prefix: string): PolicyTarget => ({ bucket: BUCKET, base: `${prefix}/`, location: `s3://${BUCKET}/${prefix}/` });
const under = (prefix: string): Record<string, string> =>
  Object.fromEntries(cloud.control.s3.objects(BUCKET).filter((x) => x.key.startsWith(`${prefix}/`)).map((x) => [x.key.slice(prefix.length + 1), cloud.control.s3.getObject(BUCKET, x.key)!.toString()]));
const writes = (): number => {
  const c = cloud.control.calls();
  return (c['s3:PutObject'] ?? 0) + (c['s3:DeleteObject'] ?? 0) + (c['s3:DeleteObjects'] ?? 0);
};

test('push mirrors the directory: adds, updates, deletes (uploads first, deletions last); a rerun writes nothing', async () => {
  const files = { 'promises.cf': 'bundle common def {}\n', 'update.cf': 'bundle agent update {}\n', 'services/web.cf': 'bundle agent web {}\n' };
  const dir = masterfiles(files);
  cloud.control.s3.putObject(BUCKET, 'a/aaa-gone.cf', 'stale\n');
  cloud.control.s3.putObject(BUCKET, 'a/update.cf', 'old\n');
  cloud.control.s3.putObject(BUCKET, 'a/promises.cf', files['promises.cf']);
  cloud.control.s3.putObject(BUCKET, 'a-sibling/keep.cf', 'keep\n');

  const plan = await readPolicyPlan(deps, target('a'), dir);
  assert.deepEqual(plan.changes, [
    { op: 'add', key: 'a/services/web.cf', file: 'services/web.cf' },
    { op: 'update', key: 'a/update.cf', file: 'update.cf' },
    { op: 'delete', key: 'a/aaa-gone.cf' },
  ]);
  assert.equal(plan.unchanged, 1);

  const order: string[] = [];
  const events: LogEvent[] = [];
  cloud.control.resetCalls();
  const result = await executePolicyPush({ ...deps, log: (e) => events.push(e) }, plan, (c) => order.push(`${c.op} ${c.key}`));
  assert.deepEqual(order, ['add a/services/web.cf', 'update a/update.cf', 'delete a/aaa-gone.cf'], 'the deletion after every upload');
  assert.deepEqual(result.changes, plan.changes);
  assert.deepEqual(under('a'), files, 'the prefix mirrors the directory');
  assert.equal(cloud.control.s3.getObject(BUCKET, 'a-sibling/keep.cf')?.toString(), 'keep\n', 'a sibling prefix is left alone');
  assert.deepEqual(cloud.control.calls()['s3:PutObject'], 2);
  assert.deepEqual(cloud.control.calls()['s3:DeleteObject'], 1);
  assert.deepEqual(events.map((e) => e.event), ['policy-add', 'policy-update', 'policy-delete']);
  const etag = cloud.control.s3.objects(BUCKET).find((x) => x.key === 'a/update.cf')!.etag;
  assert.equal(etag, `"${createHash('md5').update(files['update.cf']).digest('hex')}"`);

  cloud.control.resetCalls();
  const again = await readPolicyPlan(deps, target('a'), dir);
  assert.deepEqual(again.changes, []);
  assert.equal(again.unchanged, 3);
  await executePolicyPush(deps, again);
  assert.equal(writes(), 0);
});

test('a stop during the push starts no new write; a rerun pushes the rest', async () => {
  const files = { 'a.cf': 'a\n', 'b.cf': 'b\n', 'c.cf': 'c\n' };
  const dir = masterfiles(files);
  cloud.control.s3.putObject(BUCKET, 'stop/old.cf', 'old\n');
  const plan = await readPolicyPlan(deps, target('stop'), dir);
  assert.equal(plan.changes.length, 4);

  const stop = new AbortController();
  const done: PolicyChange[] = [];
  cloud.control.resetCalls();
  await assert.rejects(
    executePolicyPush({ ...deps, signal: stop.signal }, plan, (c) => {
      done.push(c);
      stop.abort(new Error('stopped by SIGTERM'));
    }),
    /stopped by SIGTERM/,
  );
  assert.deepEqual(done.map((c) => c.key), ['stop/a.cf']);
  assert.equal(writes(), 1, 'nothing after the stop');
  assert.deepEqual(under('stop'), { 'a.cf': 'a\n', 'old.cf': 'old\n' }, 'the stale object stays until every upload is done');

  const rest = await readPolicyPlan(deps, target('stop'), dir);
  assert.deepEqual(rest.changes.map((c) => `${c.op} ${c.key}`), ['add stop/b.cf', 'add stop/c.cf', 'delete stop/old.cf']);
  await executePolicyPush(deps, rest);
  assert.deepEqual(under('stop'), files);
});

test('a guard that fails (a lost lock) writes nothing', async () => {
  const dir = masterfiles({ 'x.cf': 'x\n' });
  const plan = await readPolicyPlan(deps, target('guarded'), dir);
  cloud.control.resetCalls();
  await assert.rejects(
    executePolicyPush({ ...deps, guard: () => { throw new Error('no longer ours'); } }, plan),
    /no longer ours/,
  );
  assert.equal(writes(), 0);
  assert.deepEqual(under('guarded'), {});
});

test('bad directories are refused (exit 2) before S3 is read: missing, a file, a symlink inside, empty', async () => {
  const root = masterfiles({ 'f.cf': 'f\n' });
  const withLink = masterfiles({ 'ok.cf': 'ok\n' });
  symlinkSync(join(root, 'f.cf'), join(withLink, 'link.cf'));
  const empty = masterfiles({});
  cloud.control.s3.putObject(BUCKET, 'bad/keep.cf', 'keep\n');
  cloud.control.resetCalls();
  const cases: [string, RegExp][] = [
    [join(root, 'nope'), /^--dir x: .*nope does not exist$/],
    [join(root, 'f.cf'), /^--dir x: .*f\.cf is not a directory$/],
    [withLink, /link\.cf: not a regular file or directory \(symlinks and special files are not pushed\)$/],
    [empty, /holds no files; refusing to empty s3:\/\/ops-policy\/bad\/$/],
  ];
  for (const [dir, want] of cases) {
    await assert.rejects(readPolicyPlan(deps, target('bad'), dir, '--dir x'), (e: unknown) => e instanceof InputError && e.exitCode === 2 && want.test(e.message), dir);
  }
  assert.deepEqual(cloud.control.calls(), {}, 'no S3 call at all');
  assert.deepEqual(under('bad'), { 'keep.cf': 'keep\n' });
  assert.deepEqual(await readPolicyDir(root), [{ rel: 'f.cf', md5: createHash('md5').update('f\n').digest('hex') }]);
});
