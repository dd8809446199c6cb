/**
 * The ops flows without the CLI: an in-process local cloud, the real AWS SDK and adapters,
 * and an OpsDeps wired here the way the edges wire it. `fleet init` (another engineer's flow)
 * prepares the zone and the journal bucket through the CLI; everything under test is a flow.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { startLocalCloud, type LocalCloud } from '../../src/sim/index.js';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { createEc2 } from '../../src/aws/ec2.js';
import { createRoute53Dns } from '../../src/aws/route53.js';
import { createS3Journal, createS3Objects } from '../../src/aws/s3.js';
import { createEbsDirect } from '../../src/aws/ebs.js';
import { LocalCoordinator } from '../../src/coord/index.js';
import { parseConfig } from '../../src/config/index.js';
import type { FleetSpec } from '../../src/model.js';
import type { LogEvent } from '../../src/ports.js';
import { scaledClock } from '../../src/ops/clock.js';
import type { OpsDeps } from '../../src/ops/context.js';
import { assembleOpsDeps } from '../../src/ops/assemble.js';
import { reconcileOnce } from '../../src/ops/controller.js';
import { fleet as runCli } from '../cli/helpers.js';

/** Simulated time runs this much faster than real time; the ops clock runs on the same scale. */
export const SPEED = 20;
export const SUBNETS = ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'];

export interface OpsCloud {
  cloud: LocalCloud;
  clients: AwsClients;
  lockDir: string;
  close(): Promise<void>;
}

export async function startOpsCloud(): Promise<OpsCloud> {
  const cloud = await startLocalCloud({ clockSpeed: SPEED, delays: { bootMs: 400, convergeMs: 1000, dnsSyncMs: 400, shutdownMs: 400 } });
  const clients = createClients({ region: 'us-east-1', endpoint: cloud.endpoint, credentials: { accessKeyId: 'AKIDLOCALCLOUD', secretAccessKey: 'x' } });
  const lockDir = mkdtempSync(join(tmpdir(), 'fleet-ops-locks-'));
  return {
    cloud,
    clients,
    lockDir,
    close: async () => {
      clients.destroy();
      await cloud.close();
    },
  };
}

export interface FleetShape {
  fleet: string;
  ttl?: number;
  web?: number;
  api?: number;
  /** YAML appended under roles:. */
  extraRoles?: string;
}

export function fleetText(s: FleetShape): string {
  // (a role with state.s3 names its bucket in extraRoles)
  return `fleet: ${s.fleet}
region: us-east-1
dns:
  zone: ${s.fleet}.example.com
  ttl: ${s.ttl ?? 1}
naming:
  index-digits: 2
hub: hub-01
journal:
  bucket: ${s.fleet}-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [${SUBNETS.join(', ')}]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: ${s.web ?? 3}
    type: t3.medium
    market: spot
    alternatives: [t3a.medium]
    on-demand-fallback: true
  api:
    count: ${s.api ?? 2}
    type: m5.large
${s.extraRoles ?? ''}`;
}

export interface TestFleet {
  spec: FleetSpec;
  config: string;
  zoneId: string;
  /** Every log event the flows emitted, oldest first. */
  events: LogEvent[];
  /** Deps for this fleet; `spec` overrides fleet.yaml (e.g. a role shrunk). */
  deps(o?: { lockWaitMs?: number; coord?: boolean; spec?: FleetSpec }): OpsDeps;
}

/** Write fleet.yaml, run `fleet init` (zone, journal bucket), and return a factory of OpsDeps for it. */
export async function prepareFleet(oc: OpsCloud, shape: FleetShape): Promise<TestFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-ops-'));
  const config = join(dir, 'fleet.yaml');
  const text = fleetText(shape);
  writeFileSync(config, text);
  const init = await runCli(['init', '--config', config], { endpoint: oc.cloud.endpoint });
  assert.equal(init.code, 0, init.stderr);
  const spec = parseConfig(text, config);
  const dns = createRoute53Dns(oc.clients.route53);
  const zone = await dns.findZone(spec.dns.zone);
  assert.ok(zone, 'init created the zone');
  const events: LogEvent[] = [];
  const coord = new LocalCoordinator({ dir: join(oc.lockDir, spec.fleet) });
  return {
    spec,
    config,
    zoneId: zone.id,
    events,
    deps(o = {}) {
      const clock = scaledClock(SPEED, Date.now, oc.cloud.control.clock.now());
      // Assembled as every edge assembles them (limiter, watcher, DNS writer, operation id).
      return assembleOpsDeps({
        spec: o.spec ?? spec,
        zoneId: zone.id,
        ...createEc2(oc.clients.ec2),
        dns,
        journal: createS3Journal(oc.clients.s3, spec.journal.bucket, spec.journal.prefix),
        clock,
        log: (e: LogEvent) => void events.push(e),
        ...(o.coord === false ? {} : { coord }),
        lockWaitMs: o.lockWaitMs ?? 0,
        ebs: createEbsDirect(oc.clients.ebs),
        objects: createS3Objects(oc.clients.s3),
        pollMs: 200,
      });
    },
  };
}

/** A fleet of `shape`, converged by one reconcile pass that had something to do and did all of it. */
export async function convergedFleet(oc: OpsCloud, shape: FleetShape): Promise<TestFleet> {
  const f = await prepareFleet(oc, shape);
  const { outcomes } = await reconcileOnce(f.deps());
  assert.ok(outcomes.length > 0 && outcomes.every((o) => o.ok), JSON.stringify(outcomes.filter((o) => !o.ok)));
  return f;
}

/** The fleet's instances as the local cloud holds them (its control, not the SDK). */
export function instancesOf(oc: OpsCloud, fleet: string) {
  return oc.cloud.control.ec2.instances().filter((i) => i.tags['fleet:fleet'] === fleet);
}

/** short name -> values of the zone's A records (control view). */
export function records(oc: OpsCloud, zone: string): Map<string, string[]> {
  return new Map(oc.cloud.control.route53.records(zone).filter((r) => r.type === 'A').map((r) => [r.name.slice(0, r.name.indexOf('.')), r.values]));
}
