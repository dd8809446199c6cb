/**
 * `fleet policy push` as a value: the diff between the masterfiles directory (files with their
 * MD5) and the `policy:` location (objects with their ETags). One object per file, at
 * `<prefix>/<relative path>`; objects under the prefix whose file is gone are deleted (the
 * location mirrors the directory, as the hub's `aws s3 sync --delete` mirrors the location).
 * A file whose MD5 equals its object's ETag is unchanged, so a second push changes nothing.
 * (An ETag is the MD5 only for single-part, non-KMS uploads; any other object is uploaded
 * again, which is harmless.) Pure: ops/policy.ts reads the directory and the bucket, and
 * executes; the CLI prints this value for --dry-run and --json.
 */
import { InputError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { StoredObject } from '../ports.js';

/** Where a push goes: the bucket, and the key prefix with its trailing '/'. */
export interface PolicyTarget {
  bucket: string;
  /** `masterfiles/`: never empty (a push must not mirror a whole bucket). */
  base: string;
  /** `s3://bucket/masterfiles/`, for messages. */
  location: string;
}

/** A local file of the masterfiles directory. */
export interface PolicyFile {
  /** '/'-separated path relative to the directory. */
  rel: string;
  /** MD5 hex of the content. */
  md5: string;
}

export interface PolicyChange {
  op: 'add' | 'update' | 'delete';
  key: string;
  /** The local file (relative to the directory), for add and update. */
  file?: string;
}

export interface PolicyPlan {
  location: string;
  bucket: string;
  /** The key prefix, with its trailing '/'. */
  base: string;
  /** The directory pushed. */
  dir: string;
  /** Adds and updates in key order, then deletions in key order: the order they are carried out. */
  changes: PolicyChange[];
  unchanged: number;
}

/**
 * The push target of fleet.yaml's `policy:`. Refused (exit 2) without a location, and without a
 * prefix: a push deletes every object under it that the directory does not hold.
 */
export function policyTarget(spec: FleetSpec, configFile: string): PolicyTarget {
  const loc = spec.policyS3;
  if (!loc) {
    throw new InputError(`${configFile} has no policy: location; add one such as "policy: s3://my-fleet-policy/masterfiles" (where the hub fetches its masterfiles)`);
  }
  if (loc.prefix === '') {
    throw new InputError(`policy: s3://${loc.bucket} has no prefix; give one such as "policy: s3://${loc.bucket}/masterfiles" (a push deletes every object under it that the directory does not hold)`);
  }
  const base = `${loc.prefix}/`;
  return { bucket: loc.bucket, base, location: `s3://${loc.bucket}/${base}` };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The diff. `remote` is what was listed under `target.base` (keys outside it are ignored).
 * An empty directory is refused (exit 2): it would delete the whole location.
 */
export function planPolicyPush(target: PolicyTarget, dir: string, local: readonly PolicyFile[], remote: readonly StoredObject[]): PolicyPlan {
  if (target.base === '' || target.base === '/') throw new InputError(`${target.location}: a push needs a key prefix; it would mirror (and so empty) the whole bucket`);
  if (local.length === 0) throw new InputError(`${dir} holds no files; refusing to empty ${target.location}`);
  const objects = new Map(remote.filter((r) => r.key.startsWith(target.base)).map((r) => [r.key, r]));
  const writes: PolicyChange[] = [];
  const keys = new Set<string>();
  let unchanged = 0;
  for (const f of [...local].sort((a, b) => byString(a.rel, b.rel))) {
    const key = `${target.base}${f.rel}`;
    if (keys.has(key)) throw new InputError(`${dir}: ${f.rel} is listed twice`);
    keys.add(key);
    const r = objects.get(key);
    if (!r) writes.push({ op: 'add', key, file: f.rel });
    else if (r.etag !== f.md5) writes.push({ op: 'update', key, file: f.rel });
    else unchanged++;
  }
  const deletions: PolicyChange[] = [...objects.keys()].filter((k) => !keys.has(k)).sort(byString).map((key) => ({ op: 'delete', key }));
  return { location: target.location, bucket: target.bucket, base: target.base, dir, changes: [...writes, ...deletions], unchanged };
}

export function policyCounts(plan: PolicyPlan): { add: number; update: number; delete: number; unchanged: number } {
  const n = (op: PolicyChange['op']): number => plan.changes.filter((c) => c.op === op).length;
  return { add: n('add'), update: n('update'), delete: n('delete'), unchanged: plan.unchanged };
}
