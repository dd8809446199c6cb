/**
 * `fleet policy push` end to end against the local cloud: the masterfiles directory
 * (infra/cfengine) mirrored to fleet.yaml's `policy:` location, which the hub syncs into its
 * masterfiles directory at bootstrap. Unchanged files (MD5 = ETag) are not uploaded again;
 * objects whose file is gone are deleted; --dry-run and a refused confirmation change nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { fleet, fleetYaml, ROOT, tempDir, writeConfig } from './helpers.js';

const BUCKET = 'demo-fleet-policy';
const PREFIX = 'fleet/masterfiles';
const CFENGINE = join(ROOT, 'infra', 'cfengine');

let cloud: LocalCloud;
const dirs: string[] = [];

before(async () => {
  cloud = await startLocalCloud();
  cloud.control.s3.createBucket(BUCKET);
});

after(async () => {
  await cloud?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Relative paths of every file under `dir`, '/'-separated, sorted. */
function filesOf(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split('\\').join('/'))
    .sort();
}

/** A config with `policy:` and a copy of infra/cfengine to push (so the test may edit it). */
function setup(policy = `s3://${BUCKET}/${PREFIX}`): { config: string; dir: string } {
  const work = tempDir();
  dirs.push(work);
  const config = writeConfig(fleetYaml().replace(/^hub: (.*)$/m, `hub: $1\npolicy: ${policy}`), work);
  const dir = join(work, 'masterfiles');
  cpSync(CFENGINE, dir, { recursive: true });
  return { config, dir };
}

const remoteKeys = (): string[] =>
  cloud.control.s3.objects(BUCKET).map((o) => o.key).filter((k) => k.startsWith(`${PREFIX}/`)).map((k) => k.slice(PREFIX.length + 1)).sort();
const writes = (): { put: number; del: number } => {
  const c = cloud.control.calls();
  return { put: c['s3:PutObject'] ?? 0, del: (c['s3:DeleteObject'] ?? 0) + (c['s3:DeleteObjects'] ?? 0) };
};

test('policy push: every file of infra/cfengine uploaded; a second push changes nothing; a removed file is deleted', async () => {
  const { config, dir } = setup();
  const local = filesOf(CFENGINE);
  assert.ok(local.includes('promises.cf') && local.includes('update.cf'), local.join(' '));
  assert.ok(local.some((f) => f.includes('/')), 'infra/cfengine has subdirectories');
  // Something stale under the prefix, and something outside it that must stay.
  cloud.control.s3.putObject(BUCKET, `${PREFIX}/old/gone.cf`, 'bundle agent gone {}\n');
  cloud.control.s3.putObject(BUCKET, 'fleet/masterfiles-other/keep.cf', 'keep\n');

  cloud.control.resetCalls();
  const first = await fleet(['-c', config, 'policy', 'push', '--dir', dir, '--yes'], { endpoint: cloud.endpoint });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(remoteKeys(), local, 'the prefix mirrors the directory');
  for (const f of local) {
    assert.deepEqual(cloud.control.s3.getObject(BUCKET, `${PREFIX}/${f}`), readFileSync(join(CFENGINE, f)), f);
  }
  assert.deepEqual(writes(), { put: local.length, del: 1 });
  assert.match(first.stdout, new RegExp(`added ${PREFIX}/promises\\.cf`));
  assert.match(first.stdout, new RegExp(`deleted ${PREFIX}/old/gone\\.cf`));
  assert.match(first.stdout, new RegExp(`${local.length} added, 0 updated, 1 deleted, 0 unchanged`));
  assert.ok(cloud.control.s3.getObject(BUCKET, 'fleet/masterfiles-other/keep.cf'), 'objects outside the prefix are left alone');

  // Again: nothing to do, no writes at all.
  cloud.control.resetCalls();
  const second = await fleet(['-c', config, 'policy', 'push', '--dir', dir, '--yes'], { endpoint: cloud.endpoint });
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(writes(), { put: 0, del: 0 });
  assert.match(second.stdout, /is up to date .*nothing to push/);

  // One file changed, one removed: one PutObject, one DeleteObject.
  const changed = 'promises.cf';
  const removed = local.find((f) => f.includes('/'))!;
  writeFileSync(join(dir, changed), readFileSync(join(dir, changed), 'utf8') + '# changed\n');
  rmSync(join(dir, removed));
  cloud.control.resetCalls();
  const third = await fleet(['-c', config, 'policy', 'push', '--dir', dir, '--yes'], { endpoint: cloud.endpoint });
  assert.equal(third.code, 0, third.stderr);
  assert.deepEqual(writes(), { put: 1, del: 1 });
  assert.deepEqual(remoteKeys(), local.filter((f) => f !== removed));
  const etag = cloud.control.s3.objects(BUCKET).find((o) => o.key === `${PREFIX}/${changed}`)!.etag;
  assert.equal(etag, `"${createHash('md5').update(readFileSync(join(dir, changed))).digest('hex')}"`);
  assert.match(third.stdout, new RegExp(`updated ${PREFIX}/promises\\.cf`));
  assert.match(third.stdout, new RegExp(`deleted ${PREFIX}/${removed.replace(/[.]/g, '\\.')}`));
});

test('policy push --dry-run shows the changes and changes nothing', async () => {
  const { config, dir } = setup(`s3://${BUCKET}/dry/run`);
  cloud.control.resetCalls();
  const r = await fleet(['-c', config, 'policy', 'push', '--dir', dir, '--dry-run'], { endpoint: cloud.endpoint });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(writes(), { put: 0, del: 0 });
  assert.equal(cloud.control.s3.objects(BUCKET).filter((o) => o.key.startsWith('dry/')).length, 0);
  assert.match(r.stdout, /dry run: nothing changed/);
  assert.match(r.stdout, /would add dry\/run\/promises\.cf/);
});

test('policy push without --yes and without a terminal refuses (exit 2) and changes nothing', async () => {
  const { config, dir } = setup(`s3://${BUCKET}/no/tty`);
  cloud.control.resetCalls();
  const r = await fleet(['-c', config, 'policy', 'push', '--dir', dir], { endpoint: cloud.endpoint });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /refusing to push \d+ changes to s3:\/\/demo-fleet-policy\/no\/tty\/ without --yes/);
  assert.deepEqual(writes(), { put: 0, del: 0 });
  // A person who answers no: exit 1, nothing changed.
  const no = await fleet(['-c', config, 'policy', 'push', '--dir', dir], { endpoint: cloud.endpoint, answer: 'n' });
  assert.equal(no.code, 1, no.stderr);
  assert.deepEqual(writes(), { put: 0, del: 0 });
});

test('policy push: a fleet.yaml without policy: is exit 2 with the reason; so is a missing directory', async () => {
  const work = tempDir();
  dirs.push(work);
  const config = writeConfig(fleetYaml(), work);
  const r = await fleet(['-c', config, 'policy', 'push', '--yes'], { endpoint: cloud.endpoint, cwd: ROOT });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no policy: location; add one such as "policy: s3:\/\//);
  const { config: withPolicy } = setup();
  const missing = await fleet(['-c', withPolicy, 'policy', 'push', '--dir', join(work, 'nope'), '--yes'], { endpoint: cloud.endpoint });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /does not exist/);
  // A location without a prefix would mirror (and so empty) a whole bucket: refused.
  cloud.control.resetCalls();
  const { config: bare, dir } = setup(`s3://${BUCKET}`);
  const whole = await fleet(['-c', bare, 'policy', 'push', '--dir', dir, '--yes'], { endpoint: cloud.endpoint });
  assert.equal(whole.code, 2, whole.stderr);
  assert.match(whole.stderr, /policy: s3:\/\/demo-fleet-policy has no prefix/);
  assert.deepEqual(writes(), { put: 0, del: 0 });
});

test('policy push: the default directory is infra/cfengine (relative to the working directory)', async () => {
  const { config } = setup(`s3://${BUCKET}/default/dir`);
  const r = await fleet(['-c', config, 'policy', 'push', '--dry-run'], { endpoint: cloud.endpoint, cwd: ROOT });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${CFENGINE.replace(/[.]/g, '\\.')} -> s3://${BUCKET}/default/dir/`));
  assert.equal((r.stdout.match(/would add /g) ?? []).length, filesOf(CFENGINE).length);
});
