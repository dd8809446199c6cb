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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients } from '../aws/clients.js';
import { createEc2 } from '../aws/ec2.js';
import { createS3Records } from '../aws/records.js';
import { createRoute53Dns } from '../aws/route53.js';
import { createS3Journal } from '../aws/s3.js';
import { createCoordinator } from '../coord/index.js';
import { FleetError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Log } from '../ports.js';
import type { OpsDeps } from '../ops/context.js';
import { clockFromEnv, positiveEnv, type Env } from '../lambda/env.js';
import { loadPoolMemory, usePoolMemoryLazily } from '../ops/pools.js';
import { assembleOpsDeps } from '../ops/assemble.js';
import { ThrottleFeed } from '../ops/limiter.js';

/** Ops deps for one night, and what to close after it. */
export async function wireNight(env: Env, spec: FleetSpec, log: Log, lockWaitMs: number): Promise<{ ops: OpsDeps; timeScale: number; close: () => Promise<void> }> {
  const endpoint = env['AWS_ENDPOINT_URL'] || undefined;
  const region = spec.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  // A local cloud accepts any signature: spare the tests from inventing credentials (as the CLI does).
  const loopback = endpoint !== undefined && /^https?:\/\/(127\.|localhost|\[::1\])/.test(endpoint);
  const hasCreds = Boolean(env['AWS_ACCESS_KEY_ID'] || env['AWS_PROFILE'] || env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] || env['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] || env['AWS_WEB_IDENTITY_TOKEN_FILE']);
  const throttles = new ThrottleFeed();
  const clients = createClients({
    onThrottle: (service, command) => throttles.report(service, command),
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(loopback && !hasCreds ? { credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'local-cloud' } } : {}),
  });
  const coords: { close(): Promise<void> }[] = [];
  try {
    const { clock, scale } = await clockFromEnv(env, endpoint);
    const pollMs = positiveEnv(env, 'FLEET_POLL_MS', 5000);
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
    const ops: OpsDeps = assembleOpsDeps({
      spec,
      zoneId: zone.id,
      instances: ec2.instances,
      volumes: ec2.volumes,
      catalog: ec2.catalog,
      dns,
      journal: createS3Journal(clients.s3, spec.journal.bucket, spec.journal.prefix),
      clock,
      log,
      coord,
      lockWaitMs,
      pollMs,
      throttles,
    });
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
