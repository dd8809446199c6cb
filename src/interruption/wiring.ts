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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCoreAdapters } from '../aws/core-adapters.js';
import { createCoordinator, type Coordinator } from '../coord/index.js';
import { FleetError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Log } from '../ports.js';
import type { OpsClock } from '../ops/clock.js';
import { clockFromEnv, positiveEnv, specFromEnv, type Env } from '../lambda/env.js';
import type { InterruptionDeps } from '../ops/interruption.js';
import { loadPoolMemory, usePoolMemory, type PoolMemory } from '../ops/pools.js';
import { assembleOpsDeps } from '../ops/assemble.js';
import { ThrottleFeed } from '../ops/limiter.js';


/** What lives as long as the container: clients, the zone, the coordinator, the clock. */
export interface Container {
  spec: FleetSpec;
  zoneId: string;
  clock: OpsClock;
  coord: Coordinator;
  make(log: Log, opts: { operationId: string; signal?: AbortSignal; lockWaitMs: number }): Promise<InterruptionDeps>;
}

/** Build the container's long-lived parts (first event only). */
export async function wireContainer(env: Env, log: Log): Promise<Container> {
  const spec = specFromEnv(env);
  const endpoint = env['AWS_ENDPOINT_URL'] || undefined;
  const region = spec.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const throttles = new ThrottleFeed();
  const aws = createCoreAdapters({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}), onThrottle: (service, command) => throttles.report(service, command) });
  const { clock } = await clockFromEnv(env, endpoint);
  const pollMs = positiveEnv(env, 'FLEET_POLL_MS', 5000);
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
      const deps: InterruptionDeps = {
        ...assembleOpsDeps({
        spec,
        zoneId: zone.id,
        instances,
        volumes,
        catalog,
        dns,
        journal,
        clock,
        log: log2,
        operationId: opts.operationId,
        coord,
        lockWaitMs: opts.lockWaitMs,
        pollMs,
        throttles,
        ...(opts.signal ? { signal: opts.signal } : {}),
        }),
        records,
        pools: memory.pools,
      };
      usePoolMemory(deps, memory.pools);
      return deps;
    },
  };
}
