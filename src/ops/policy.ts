/**
 * The `fleet policy push` flow: read the masterfiles directory (every regular file, with its
 * MD5) and the `policy:` location (objects with ETags), plan the diff (src/plan/policy.ts),
 * execute it: uploads first, deletions last, so a hub that syncs meanwhile never misses a file
 * that stays. A stop (deps.signal) or a failed guard starts no new write; what was done is
 * reported as it happens, and a rerun pushes the rest.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError, InputError } from '../errors.js';
import type { Log, ObjectStore } from '../ports.js';
import { planPolicyPush, type PolicyChange, type PolicyFile, type PolicyPlan, type PolicyTarget } from '../plan/policy.js';

export interface PolicyDeps {
  objects: ObjectStore;
  log?: Log;
  /** A stop (Ctrl-C, SIGTERM): no new write starts once it is aborted. */
  signal?: AbortSignal;
  /** Checked before each write besides the signal. */
  guard?: () => void;
}

export interface PolicyPushOutcome {
  location: string;
  dir: string;
  /** The changes carried out, in order (all of the plan's when the push finished). */
  changes: PolicyChange[];
  unchanged: number;
}

/**
 * Every regular file under `dir`, with '/'-separated relative paths and MD5s, in path order.
 * `label` names the directory in messages (the --dir flag as given). A missing directory, a
 * file, a symlink or a special file is bad input (exit 2): nothing is pushed.
 */
export async function readPolicyDir(dir: string, label = dir): Promise<PolicyFile[]> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) throw new InputError(`${label}: ${dir} does not exist`);
  if (!st.isDirectory()) throw new InputError(`${label}: ${dir} is not a directory`);
  const out: PolicyFile[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    const entries = await readdir(abs, { withFileTypes: true });
    for (const e of entries) {
      const p = join(abs, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await visit(p, r);
      else if (e.isFile()) out.push({ rel: r, md5: createHash('md5').update(await readFile(p)).digest('hex') });
      else throw new InputError(`${p}: not a regular file or directory (symlinks and special files are not pushed)`);
    }
  };
  await visit(dir, '');
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Read-only: the directory and the location, and the diff between them. */
export async function readPolicyPlan(deps: Pick<PolicyDeps, 'objects'>, target: PolicyTarget, dir: string, label = dir): Promise<PolicyPlan> {
  const local = await readPolicyDir(dir, label);
  const remote = local.length === 0 ? [] : await deps.objects.list(target.bucket, target.base);
  return planPolicyPush(target, dir, local, remote);
}

function checkpoint(deps: PolicyDeps): void {
  deps.signal?.throwIfAborted();
  deps.guard?.();
}

/**
 * Carry out the plan in its order (writes, then deletions). `onChange` hears of each change once
 * it is done, so an edge can show what was finished if a stop or a failure ends the push early.
 */
export async function executePolicyPush(deps: PolicyDeps, plan: PolicyPlan, onChange?: (c: PolicyChange) => void): Promise<PolicyPushOutcome> {
  const done: PolicyChange[] = [];
  const ordered = [...plan.changes.filter((c) => c.op !== 'delete'), ...plan.changes.filter((c) => c.op === 'delete')];
  for (const c of ordered) {
    if (!c.key.startsWith(plan.base) || plan.base === '') throw new FleetError(`policy push: ${c.key} is outside ${plan.location}; not touching it`);
    checkpoint(deps);
    if (c.op === 'delete') {
      await deps.objects.delete(plan.bucket, c.key);
    } else {
      if (c.file === undefined || c.file.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new FleetError(`policy push: ${c.op} ${c.key} names no file inside ${plan.dir}`);
      const body = await readFile(join(plan.dir, ...c.file.split('/')));
      await deps.objects.put(plan.bucket, c.key, body);
    }
    done.push(c);
    deps.log?.({ level: 'info', event: `policy-${c.op}`, msg: `${c.op === 'add' ? 'added' : c.op === 'update' ? 'updated' : 'deleted'} s3://${plan.bucket}/${c.key}`, bucket: plan.bucket, key: c.key });
    onChange?.(c);
  }
  return { location: plan.location, dir: plan.dir, changes: done, unchanged: plan.unchanged };
}
