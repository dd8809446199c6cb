/**
 * What both Lambda edges (the spot handler, src/interruption; the nightly chaos job, src/chaos)
 * read from their environment, written once: the fleet spec the stack passes as JSON, positive
 * numeric knobs, and the clock (real time, or a local cloud's faster clock in tests).
 *
 *   FLEET_SPEC_JSON      the validated fleet spec as JSON (infra/app sets it from fleet.yaml)
 *   AWS_ENDPOINT_URL     optional: a local cloud (tests)
 *   FLEET_TIME_SCALE     optional, local clouds only: the cloud's clock runs this many times faster
 *   FLEET_POLL_MS        optional poll interval while waiting on AWS (clock ms, default 5000)
 */
import { InputError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import { scaledClock, type OpsClock } from '../ops/clock.js';

export type Env = Record<string, string | undefined>;

/** The fleet spec from FLEET_SPEC_JSON, checked for the fields the flows rely on. */
export function specFromEnv(env: Env): FleetSpec {
  const raw = env['FLEET_SPEC_JSON'];
  if (raw === undefined || raw.trim() === '') throw new InputError('FLEET_SPEC_JSON is not set: the stack must pass the validated fleet spec as JSON');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new InputError(`FLEET_SPEC_JSON is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const s = v as Partial<FleetSpec> | null;
  const missing = [
    typeof s?.fleet !== 'string' && 'fleet',
    typeof s?.dns?.zone !== 'string' && 'dns.zone',
    typeof s?.dns?.ttl !== 'number' && 'dns.ttl',
    !Array.isArray(s?.roles) && 'roles',
    typeof s?.journal?.bucket !== 'string' && 'journal.bucket',
    !Array.isArray(s?.defaults?.subnets) && 'defaults.subnets',
    typeof s?.reconcile?.convergeTimeoutMs !== 'number' && 'reconcile.convergeTimeoutMs',
    typeof s?.naming?.indexDigits !== 'number' && 'naming.indexDigits',
    typeof s?.chaos?.schedule !== 'string' && 'chaos',
  ].filter((x): x is string => typeof x === 'string');
  if (missing.length > 0) throw new InputError(`FLEET_SPEC_JSON is not a fleet spec: missing ${missing.join(', ')}`);
  return s as FleetSpec;
}

/** A positive number from `key`, or `dflt` when unset. */
export function positiveEnv(env: Env, key: string, dflt: number): number {
  const v = env[key];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${key}=${JSON.stringify(v)}: expected a number > 0`);
  return n;
}

async function localCloudTime(endpoint: string): Promise<number> {
  const r = await fetch(`${endpoint.replace(/\/+$/, '')}/_sim/clock`, { signal: AbortSignal.timeout(5000) });
  const t = Date.parse(((await r.json()) as { now?: string }).now ?? '');
  if (!r.ok || !Number.isFinite(t)) throw new InputError(`FLEET_TIME_SCALE is for a local cloud; ${endpoint} does not answer as one`);
  return t;
}

/** The clock the flows run on: real time, or (FLEET_TIME_SCALE, a local cloud) that cloud's faster clock, anchored at its time. */
export async function clockFromEnv(env: Env, endpoint: string | undefined): Promise<{ clock: OpsClock; scale: number }> {
  const scale = positiveEnv(env, 'FLEET_TIME_SCALE', 1);
  return { clock: scaledClock(scale, Date.now, scale !== 1 && endpoint ? await localCloudTime(endpoint) : undefined), scale };
}
