/**
 * `fleet policy push`: upload the CFEngine masterfiles (infra/cfengine) to the `policy:`
 * location of fleet.yaml, which the hub syncs into its masterfiles directory at bootstrap.
 *
 * One object per file, at `<prefix>/<relative path>`; objects under the prefix whose file is
 * gone are deleted (the location mirrors the directory, as the hub's `aws s3 sync --delete`
 * mirrors the location). A file whose MD5 equals its object's ETag is left alone, so a second
 * push changes nothing. (An ETag is the MD5 only for single-part, non-KMS uploads; any other
 * object is uploaded again, which is harmless.)
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

import { createS3Objects } from '../../aws/s3.js';
import { InputError } from '../../errors.js';
import type { FleetSpec } from '../../model.js';
import type { ObjectStore } from '../../ports.js';
import type { CliIo } from '../io.js';
import type { Deps } from '../wiring.js';
import { mayProceed } from './mutate.js';

export interface PolicyPushOptions {
  dir?: string;
  dryRun?: boolean;
  yes?: boolean;
}

export const DEFAULT_POLICY_DIR = 'infra/cfengine';

export interface PolicyChange {
  op: 'add' | 'update' | 'delete';
  key: string;
  /** The local file (relative to the directory), for add and update. */
  file?: string;
}

export interface PolicyPushResult {
  location: string;
  dir: string;
  dryRun: boolean;
  changes: PolicyChange[];
  unchanged: number;
}

interface LocalFile {
  rel: string;
  path: string;
  md5: string;
}

/** Every regular file under `dir`, with '/'-separated relative paths, in path order. */
async function walk(dir: string): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    const entries = await readdir(abs, { withFileTypes: true });
    for (const e of entries) {
      const p = join(abs, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await visit(p, r);
      else if (e.isFile()) out.push({ rel: r, path: p, md5: createHash('md5').update(await readFile(p)).digest('hex') });
      else throw new InputError(`${p}: not a regular file or directory (symlinks and special files are not pushed)`);
    }
  };
  await visit(dir, '');
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function describe(c: PolicyChange, dryRun: boolean): string {
  const verb = { add: dryRun ? 'would add' : 'added', update: dryRun ? 'would update' : 'updated', delete: dryRun ? 'would delete' : 'deleted' }[c.op];
  return `${verb} ${c.key}`;
}

export async function policyPushCommand(
  spec: FleetSpec,
  configFile: string,
  deps: Deps,
  io: CliIo,
  json: boolean,
  o: PolicyPushOptions,
  store: ObjectStore = createS3Objects(deps.clients.s3),
): Promise<number> {
  const loc = spec.policyS3;
  if (!loc) {
    throw new InputError(`${configFile} has no policy: location; add one such as "policy: s3://my-fleet-policy/masterfiles" (where the hub fetches its masterfiles)`);
  }
  if (loc.prefix === '') {
    // A push mirrors the prefix, deleting what the directory does not hold: never a whole bucket.
    throw new InputError(`policy: s3://${loc.bucket} has no prefix; give one such as "policy: s3://${loc.bucket}/masterfiles" (a push deletes every object under it that the directory does not hold)`);
  }
  const given = o.dir ?? DEFAULT_POLICY_DIR;
  const dir = isAbsolute(given) ? given : resolve(io.cwd, given);
  const st = await lstat(dir).catch(() => undefined);
  if (!st) throw new InputError(`--dir ${given}: ${dir} does not exist`);
  if (!st.isDirectory()) throw new InputError(`--dir ${given}: ${dir} is not a directory`);

  const base = loc.prefix === '' ? '' : `${loc.prefix}/`;
  const location = `s3://${loc.bucket}/${base}`;
  const files = await walk(dir);
  if (files.length === 0) throw new InputError(`--dir ${given}: ${dir} holds no files; refusing to empty ${location}`);
  const remote = new Map((await store.list(loc.bucket, base)).map((r) => [r.key, r]));

  const changes: PolicyChange[] = [];
  let unchanged = 0;
  const local = new Set<string>();
  for (const f of files) {
    const key = `${base}${f.rel}`;
    local.add(key);
    const r = remote.get(key);
    if (!r) changes.push({ op: 'add', key, file: f.rel });
    else if (r.etag !== f.md5) changes.push({ op: 'update', key, file: f.rel });
    else unchanged++;
  }
  for (const key of remote.keys()) if (!local.has(key)) changes.push({ op: 'delete', key });

  const result = (dryRun: boolean): PolicyPushResult => ({ location, dir, dryRun, changes, unchanged });
  const count = (op: PolicyChange['op']): number => changes.filter((c) => c.op === op).length;
  const summary = `${count('add')} to add, ${count('update')} to update, ${count('delete')} to delete, ${unchanged} unchanged`;

  if (changes.length === 0) {
    if (json) io.stdout.write(JSON.stringify(result(Boolean(o.dryRun)), null, 2) + '\n');
    else io.stdout.write(`${location} is up to date with ${dir} (${unchanged} file${unchanged === 1 ? '' : 's'}): nothing to push\n`);
    return 0;
  }
  if (o.dryRun) {
    if (json) io.stdout.write(JSON.stringify(result(true), null, 2) + '\n');
    else {
      io.stdout.write(`policy push ${dir} -> ${location} (dry run: nothing changed): ${summary}\n`);
      for (const c of changes) io.stdout.write(`  ${describe(c, true)}\n`);
    }
    return 0;
  }
  if (!json) {
    io.stdout.write(`policy push ${dir} -> ${location}: ${summary}\n`);
    for (const c of changes) io.stdout.write(`  ${describe(c, true)}\n`);
  }
  await mayProceed(io, o, `push ${changes.length} change${changes.length === 1 ? '' : 's'} to ${location}`);
  // Uploads first, deletions last: a hub that syncs meanwhile never misses a file that stays.
  const byRel = new Map(files.map((f) => [f.rel, f]));
  for (const c of changes) {
    if (c.op === 'delete') continue;
    await store.put(loc.bucket, c.key, await readFile(byRel.get(c.file!)!.path));
    if (!json) io.stdout.write(`${describe(c, false)}\n`);
  }
  for (const c of changes) {
    if (c.op !== 'delete') continue;
    await store.delete(loc.bucket, c.key);
    if (!json) io.stdout.write(`${describe(c, false)}\n`);
  }
  if (json) io.stdout.write(JSON.stringify(result(false), null, 2) + '\n');
  else io.stdout.write(`pushed ${dir} to ${location}: ${count('add')} added, ${count('update')} updated, ${count('delete')} deleted, ${unchanged} unchanged\n`);
  return 0;
}
