/** Build the ops deps for a mutating command: the zone, the journal, the clock, the limiter, the watchers. */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCoordinator } from '../coord/index.js';
import { parseDurationSeconds } from '../config/index.js';
import { loadPoolMemory, usePoolMemoryLazily } from '../ops/pools.js';
import { FleetError, InputError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { HostedZone, Log, LogEvent } from '../ports.js';
import { scaledClock, type OpsClock } from '../ops/clock.js';
import type { OpsDeps, Step } from '../ops/context.js';
import { checkDuration, checkLockDir, checkPositive, MAX_POLL_MS, MAX_TIME_SCALE } from './flags.js';
import type { CliIo } from './io.js';
import type { Deps } from './wiring.js';
import { assembleOpsDeps } from '../ops/assemble.js';

export interface OpsCliOptions {
  /** How long to wait for a name someone else is working on: a duration ("30s", "5m"); default 0. */
  wait?: string;
  /** For a local cloud whose clock runs N times faster: waits, timeouts and rates run N times faster too. */
  timeScale?: string;
  /** Poll interval while waiting on AWS (clock ms). */
  pollMs?: string;
  verbose?: boolean;
}

const STEPS: readonly Step[] = ['launched', 'converged', 'detached', 'mounted', 'swapped', 'insync', 'terminated'];

export function cliLog(io: CliIo, json: boolean, verbose: boolean): Log {
  return (e: LogEvent) => {
    if (json) {
      if (e.level === 'error' || e.level === 'warn') io.stderr.write(JSON.stringify(e) + '\n');
      return;
    }
    if (e.level === 'debug' && !verbose) return;
    if (e.level === 'info' && !verbose) return;
    io.stderr.write(`${e.level === 'info' ? '' : `${e.level}: `}${e.msg}\n`);
  };
}

function positive(flag: string, v: string | undefined, dflt: number): number {
  return checkPositive(flag, v, dflt, flag === '--time-scale' ? MAX_TIME_SCALE : MAX_POLL_MS);
}

/** A local cloud's simulated time (its control endpoint), to anchor a scaled clock. */
async function localCloudTime(endpoint: string): Promise<number> {
  try {
    const r = await fetch(`${endpoint}/_sim/clock`, { signal: AbortSignal.timeout(5000) });
    const body = (await r.json()) as { now?: string };
    const t = body.now ? Date.parse(body.now) : NaN;
    if (r.ok && Number.isFinite(t)) return t;
  } catch {
    /* not a local cloud */
  }
  throw new InputError(`--time-scale is for a local cloud run with --speed; ${endpoint} does not answer as one (GET /_sim/clock)`);
}

/** `--wait 30s`: how long to wait for a name someone else is working on. */
export function waitMs(v: string | undefined): number {
  return checkDuration('--wait', v);
}

/**
 * The local coordinator's lock files: one directory per fleet and cloud (two local clouds, or
 * two regions, are different fleets as far as locks go), private to this user.
 */
export function localLockDir(io: CliIo, fleet: string, cloud: string): string {
  const base = io.env['FLEET_LOCK_DIR'] || (io.env['XDG_RUNTIME_DIR'] ? join(io.env['XDG_RUNTIME_DIR'], 'fleet') : join(tmpdir(), `fleet-${process.getuid?.() ?? 'user'}`));
  const tag = createHash('sha256').update(cloud).digest('hex').slice(0, 12);
  return join(base, `${fleet}-${tag}`);
}

/** The local lock directory, checked usable (exit 2 otherwise); undefined with ZooKeeper, which needs none. */
export function checkedLockDir(io: CliIo, spec: FleetSpec, cloud: string): string {
  const dir = localLockDir(io, spec.fleet, cloud);
  if (!spec.coordination.zookeeper) checkLockDir(dir, io.env['FLEET_LOCK_DIR'] ? 'FLEET_LOCK_DIR' : io.env['XDG_RUNTIME_DIR'] ? 'XDG_RUNTIME_DIR' : 'the temporary directory');
  return dir;
}

/** The clock a command runs on: real time, or a local cloud's faster time with --time-scale. */
export async function opsClock(deps: Deps, o: OpsCliOptions): Promise<OpsClock> {
  const scale = positive('--time-scale', o.timeScale, 1);
  return scaledClock(scale, Date.now, scale !== 1 && deps.endpoint ? await localCloudTime(deps.endpoint) : undefined);
}

export async function makeOpsDeps(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: OpsCliOptions): Promise<OpsDeps & { zone: HostedZone }> {
  // Every flag and the lock directory before the first AWS call.
  const pollMs = positive('--poll-ms', o.pollMs, 5000);
  const lockWaitMs = waitMs(o.wait);
  const localDir = checkedLockDir(io, spec, deps.endpoint ?? deps.region ?? 'aws');
  const clock = await opsClock(deps, o);
  const log = cliLog(io, json, Boolean(o.verbose));
  const zone = await deps.dns.findZone(spec.dns.zone);
  if (!zone) throw new FleetError(`hosted zone ${spec.dns.zone} does not exist; run \`fleet init\` to create it`, { exitCode: 1 });
  const coord = createCoordinator({
    fleet: spec.fleet,
    ...(spec.coordination.zookeeper ? { zookeeper: spec.coordination.zookeeper } : {}),
    localDir,
    log,
    clock,
  });
  deps.cleanup.push(() => coord.close());
  const opsDeps: OpsDeps & { zone: HostedZone } = {
    zone,
    ...assembleOpsDeps({
    coord,
    lockWaitMs,
    spec,
    zoneId: zone.id,
    instances: deps.instances,
    volumes: deps.volumes,
    catalog: deps.catalog,
    dns: deps.dns,
    journal: deps.journal(spec.journal.bucket, spec.journal.prefix),
    clock,
    log,
    ebs: deps.ebs,
    objects: deps.objects,
    throttles: deps.throttles,
    pollMs,
    // Ctrl-C / SIGTERM: no new side effect after it; waits end; a launch not swapped is rolled back.
    ...(io.stop ? { signal: io.stop.signal } : {}),
    }),
  };
  // Pool memory (spot interruptions of the last hour, from S3, read on the first launch): every
  // launch of this run avoids the pools interrupted lately and runs a role interrupted too often on-demand.
  usePoolMemoryLazily(opsDeps, () => loadPoolMemory(deps.records(spec.journal.bucket, spec.journal.prefix), spec, clock.now(), log));
  // Crash injection for the crash-safety tests: FLEET_TEST_CRASH_AT=<step>[:<name>] kills this
  // process with SIGKILL when a replacement reaches that step.
  const crash = io.env['FLEET_TEST_CRASH_AT'];
  if (crash) {
    const [step, only] = crash.split(':');
    if (!STEPS.includes(step as Step)) throw new InputError(`FLEET_TEST_CRASH_AT=${crash}: step must be one of ${STEPS.join(', ')}`);
    opsDeps.hook = (s, name) => {
      if (s === step && (!only || only === name)) {
        io.stderr.write(`FLEET_TEST_CRASH_AT: crashing at ${s} of ${name}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    };
  }
  return opsDeps;
}
