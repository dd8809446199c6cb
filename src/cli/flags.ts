/**
 * Flags and environment are input like any other: a region, an endpoint, a surge, a wait, a
 * lock directory that cannot be right is an InputError (exit 2) with the reason, raised
 * before any AWS call. Values are quoted by a short prefix only.
 */
import { mkdirSync, statSync } from 'node:fs';

import { formatDuration, parseDurationSeconds } from '../config/index.js';
import { quote } from '../config/limits.js';
import { regionProblem } from '../config/validators.js';
import { InputError } from '../errors.js';

/** Most names one upgrade replaces at once (as many as reconcile.concurrency may be). */
export const MAX_AT_ONCE = 1000;
/** Longest `--wait` for a name someone else holds. */
export const MAX_WAIT_SECONDS = 24 * 3600;
/** Bounds of `--time-scale` (a local cloud's speed) and `--poll-ms`. */
export const MAX_TIME_SCALE = 100_000;
export const MAX_POLL_MS = 10 * 60_000;

/** A region from `source` (--region, AWS_REGION, ...): an AWS Region code, or exit 2. */
export function checkRegion(source: string, v: string): string {
  const p = regionProblem(v);
  if (p !== undefined) throw new InputError(`${source}: ${p}`, { data: { source } });
  return v;
}

/**
 * The endpoint override: `--endpoint`, else AWS_ENDPOINT_URL. An empty `--endpoint ''` is a
 * mistake, not "no override" (which would silently send the command to real AWS); an empty
 * AWS_ENDPOINT_URL is the same as unset, as the SDK treats it.
 */
export function checkEndpoint(flag: string | undefined, env: string | undefined): string | undefined {
  const source = flag !== undefined ? '--endpoint' : 'AWS_ENDPOINT_URL';
  const raw = flag ?? env;
  if (raw === undefined) return undefined;
  if (raw.trim() === '') {
    if (flag === undefined) return undefined;
    throw new InputError('--endpoint is empty: give a URL such as http://127.0.0.1:4566, or leave the flag out to use AWS_ENDPOINT_URL or AWS itself');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(`${source} ${quote(raw)} is not a URL: expected http(s)://host[:port]`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(`${source} ${quote(raw)}: the endpoint must be http or https, not ${quote(url.protocol.replace(/:$/, ''))}`);
  if (url.hostname === '') throw new InputError(`${source} ${quote(raw)} names no host`);
  if (url.username !== '' || url.password !== '') throw new InputError(`${source} ${quote(raw)} holds credentials; pass them as AWS credentials, not in the URL`);
  if (url.search !== '' || url.hash !== '') throw new InputError(`${source} ${quote(raw)}: an endpoint has no query or fragment`);
  return raw.replace(/\/+$/, '');
}

/** A whole number 0..max (`--max-surge`, `--max-unavailable`). */
export function checkCount(flag: string, v: string, max = MAX_AT_ONCE): number {
  if (!/^\d+$/.test(v)) throw new InputError(`${flag} ${quote(v)}: expected a whole number 0..${max}`);
  // Compare as digits first: 99999999999999999999999 is not a number to print as 1e+23.
  const n = v.replace(/^0+(?=\d)/, '');
  if (n.length > String(max).length || Number(n) > max) throw new InputError(`${flag} ${quote(v)}: at most ${max} names at a time`);
  return Number(n);
}

/** A duration flag (`--wait 30s`, `5m`, `1h`, or seconds) within 0..maxSeconds, in ms. */
export function checkDuration(flag: string, v: string | undefined, maxSeconds = MAX_WAIT_SECONDS): number {
  if (v === undefined) return 0;
  const s = /^\d{1,12}$/.test(v) ? Number(v) : parseDurationSeconds(v);
  if (s === undefined || !Number.isFinite(s) || s < 0) throw new InputError(`${flag} ${quote(v)}: expected a duration such as 30s, 5m or 1h`);
  if (s > maxSeconds) throw new InputError(`${flag} ${quote(v)}: at most ${formatDuration(maxSeconds)}`);
  return s * 1000;
}

/** A number > 0 and at most `max` (`--time-scale`, `--poll-ms`). */
export function checkPositive(flag: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${flag} ${quote(v)}: expected a number > 0`);
  if (n > max) throw new InputError(`${flag} ${quote(v)}: at most ${max}`);
  return n;
}

/**
 * The local lock directory must be a directory this user can create and use: a path through
 * a file, or one without permission, is refused now with the reason, not as ENOTDIR from
 * deep inside the first lock. Creating it is what the first lock would do anyway.
 */
export function checkLockDir(dir: string, source: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' ? 'it is a file, not a directory'
      : code === 'ENOTDIR' ? 'a part of the path is a file, not a directory'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'EROFS' ? 'the file system is read-only'
      : `cannot create it (${code ?? String(e)})`;
    throw new InputError(`lock directory ${quote(dir)} (from ${source}): ${why}`, { cause: e, data: { dir } });
  }
  if (!statSync(dir).isDirectory()) throw new InputError(`lock directory ${quote(dir)} (from ${source}): it is a file, not a directory`, { data: { dir } });
}
