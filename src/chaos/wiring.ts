/**
 * The chaos Lambda's wiring (an edge, like src/cli/wiring.ts): the environment in, the plain
 * ops deps out. Nothing below the edges may import the CLI, so this edge builds its own.
 *
 * Environment:
 *   AWS_REGION           set by Lambda; the spec's region wins when it names one
 *   AWS_ENDPOINT_URL     optional: a local cloud (tests)
 *   FLEET_TIME_SCALE     optional, local clouds only: the cloud's clock runs this many times faster
 *   FLEET_POLL_MS        optional poll interval while waiting on AWS (clock ms, default 5000)
 *   FLEET_LOCK_DIR       optional: the local coordinator's directory when the spec names no ZooKeeper
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients } from '../aws/clients.js';
import { createEc2 } from '../aws/ec2.js';
import { createS3Records } from '../aws/records.js';
import { createRoute53Dns } from '../aws/route53.js';
import { createS3Journal } from '../aws/s3.js';
import { createCoordinator } from '../coord/index.js';
import { FleetError, InputError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Log } from '../ports.js';
import { scaledClock } from '../ops/clock.js';
import type { OpsDeps } from '../ops/context.js';
import { DnsWriter } from '../ops/dns.js';
import { RateLimiter } from '../ops/limiter.js';
import { loadPoolMemory, usePoolMemoryLazily } from '../ops/pools.js';
import { InstanceWatcher } from '../ops/watcher.js';

export type Env = Record<string, string | undefined>;

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

/** Ops deps for one night, and what to close after it. */
export async function wireNight(env: Env, spec: FleetSpec, log: Log, lockWaitMs: number): Promise<{ ops: OpsDeps; timeScale: number; close: () => Promise<void> }> {
  const endpoint = env['AWS_ENDPOINT_URL'] || undefined;
  const region = spec.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  // A local cloud accepts any signature: spare the tests from inventing credentials (as the CLI does).
  const loopback = endpoint !== undefined && /^https?:\/\/(127\.|localhost|\[::1\])/.test(endpoint);
  const hasCreds = Boolean(env['AWS_ACCESS_KEY_ID'] || env['AWS_PROFILE'] || env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] || env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] || env['AWS_WEB_IDENTITY_TOKEN_FILE']);
  const clients = createClients({
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(loopback && !hasCreds ? { credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud' } } : {}),
  });
  const coords: { close(): Promise<void> }[] = [];
  try {
    const scale = positive(env, 'FLEET_TIME_SCALE', 1);
    const clock = scaledClock(scale, Date.now, scale !== 1 && endpoint ? await localCloudTime(endpoint) : undefined);
    const pollMs = positive(env, 'FLEET_POLL_MS', 5000);
    const ec2 = createEc2(clients.ec2);
    const dns = createRoute53Dns(clients.route53);
    const zone = await dns.findZone(spec.dns.zone);
    if (!zone) throw new FleetError(`hosted zone ${spec.dns.zone} does not exist; run \`fleet init\``);
    const coord = createCoordinator({
      fleet: spec.fleet,
      ...(spec.coordination?.zookeeper ? { zookeeper: spec.coordination.zookeeper } : {}),
      localDir: env['FLEET_LOCK_DIR'] ?? join(tmpdir(), 'fleet-locks', spec.fleet),
      log,
      clock,
    });
    coords.push(coord);
    const limiter = new RateLimiter(clock);
    const ops: OpsDeps = {
      spec,
      zoneId: zone.id,
      instances: ec2.instances,
      volumes: ec2.volumes,
      catalog: ec2.catalog,
      dns,
      journal: createS3Journal(clients.s3, spec.journal.bucket, spec.journal.prefix),
      clock,
      log,
      limiter,
      watcher: new InstanceWatcher(ec2.instances, clock, limiter, log, { pollMs, visibilityGraceMs: 5 * 60_000 }),
      dnsWriter: new DnsWriter(dns, zone.id, clock, limiter, log, { batchWindowMs: Math.min(1000, pollMs), pollMs }),
      operationId: randomUUID().slice(0, 8),
      images: new Map(),
      coord,
      lockWaitMs,
      pollMs,
    };
    // Pool memory (spot interruptions the handler recorded, read on the first launch): the heal's
    // launches avoid the pools interrupted lately, as apply's and the handler's do.
    const records = createS3Records(clients.s3, spec.journal.bucket, spec.journal.prefix);
    usePoolMemoryLazily(ops, () => loadPoolMemory(records, spec, clock.now(), log));
    return {
      ops,
      timeScale: scale,
      close: async () => {
        await coord.close().catch(() => {});
        clients.destroy();
      },
    };
  } catch (err) {
    for (const c of coords) await c.close().catch(() => {});
    clients.destroy();
    throw err;
  }
}
