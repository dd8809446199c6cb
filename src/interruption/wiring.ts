/**
 * The Lambda's wiring (an edge, like src/cli): reads the environment once per container and
 * builds the plain deps object the handler flow takes. No work at import time: a cold start pays
 * only for loading the bundle; the zone lookup and the pool memory are read on the first event
 * and kept while the container lives (the memory is re-read when older than a minute, so that a
 * container sees what the CLI or another container recorded).
 *
 * Environment:
 *   FLEET_SPEC_JSON      the validated fleet spec as JSON (the CDK stack sets it from fleet.yaml:
 *                        `fleet validate` output is not it; use loadConfig() and JSON.stringify)
 *   AWS_REGION           set by Lambda; the spec's region wins when it names one
 *   AWS_ENDPOINT_URL     optional: a local cloud (tests, the tour)
 *   FLEET_TIME_SCALE     optional, local clouds only: the cloud's clock runs this many times faster
 *   FLEET_POLL_MS        optional poll interval while waiting on AWS (clock ms, default 5000)
 *   FLEET_LOCK_DIR       optional: the local coordinator's directory when the spec names no ZooKeeper
 *   FLEET_LOCK_WAIT_MS   optional: how long to wait for a name someone else holds (default 600000,
 *                        never past the invocation's deadline)
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCoreAdapters } from '../aws/core-adapters.js';
import { createCoordinator, type Coordinator } from '../coord/index.js';
import { InputError, FleetError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Log } from '../ports.js';
import { scaledClock, type OpsClock } from '../ops/clock.js';
import { DnsWriter } from '../ops/dns.js';
import type { InterruptionDeps } from '../ops/interruption.js';
import { RateLimiter } from '../ops/limiter.js';
import { loadPoolMemory, usePoolMemory, type PoolMemory } from '../ops/pools.js';
import { InstanceWatcher } from '../ops/watcher.js';

export type Env = Record<string, string | undefined>;

/** What lives as long as the container: clients, the zone, the coordinator, the clock. */
export interface Container {
  spec: FleetSpec;
  zoneId: string;
  clock: OpsClock;
  coord: Coordinator;
  make(log: Log, opts: { operationId: string; signal?: AbortSignal; lockWaitMs: number }): Promise<InterruptionDeps>;
}

/** The fleet spec from FLEET_SPEC_JSON, checked for the fields the handler relies on. */
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
  ].filter((x): x is string => typeof x === 'string');
  if (missing.length > 0) throw new InputError(`FLEET_SPEC_JSON is not a fleet spec: missing ${missing.join(', ')}`);
  return s as FleetSpec;
}

function positive(env: Env, key: string, dflt: number): number {
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

/** Build the container's long-lived parts (first event only). */
export async function wireContainer(env: Env, log: Log): Promise<Container> {
  const spec = specFromEnv(env);
  const endpoint = env['AWS_ENDPOINT_URL'] || undefined;
  const region = spec.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const aws = createCoreAdapters({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) });
  const scale = positive(env, 'FLEET_TIME_SCALE', 1);
  const clock = scaledClock(scale, Date.now, scale !== 1 && endpoint ? await localCloudTime(endpoint) : undefined);
  const pollMs = positive(env, 'FLEET_POLL_MS', 5000);
  const { instances, volumes, catalog, dns } = aws;
  const zone = await dns.findZone(spec.dns.zone);
  if (!zone) throw new FleetError(`hosted zone ${spec.dns.zone} does not exist`);
  const coord = createCoordinator({
    fleet: spec.fleet,
    ...(spec.coordination?.zookeeper ? { zookeeper: spec.coordination.zookeeper } : {}),
    localDir: env['FLEET_LOCK_DIR'] ?? join(tmpdir(), 'fleet-locks', spec.fleet),
    log,
  });
  const records = aws.records(spec.journal.bucket, spec.journal.prefix);
  const journal = aws.journal(spec.journal.bucket, spec.journal.prefix);
  let memory: { pools: PoolMemory; at: number } | undefined;
  return {
    spec,
    zoneId: zone.id,
    clock,
    coord,
    async make(log2, opts) {
      const now = clock.now();
      if (!memory || now.getTime() - memory.at > 60_000) memory = { pools: await loadPoolMemory(records, spec, now, log2), at: now.getTime() };
      const limiter = new RateLimiter(clock);
      const deps: InterruptionDeps = {
        spec,
        zoneId: zone.id,
        instances,
        volumes,
        catalog,
        dns,
        journal,
        records,
        pools: memory.pools,
        clock,
        log: log2,
        limiter,
        watcher: new InstanceWatcher(instances, clock, limiter, log2, { pollMs, visibilityGraceMs: 5 * 60_000 }),
        dnsWriter: new DnsWriter(dns, zone.id, clock, limiter, log2, { batchWindowMs: Math.min(1000, pollMs), pollMs }),
        operationId: opts.operationId || randomUUID().slice(0, 8),
        images: new Map(),
        coord,
        lockWaitMs: opts.lockWaitMs,
        pollMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      };
      usePoolMemory(deps, memory.pools);
      return deps;
    },
  };
}
