/**
 * Coordination benchmarks for `npm run bench` (DESIGN.md sections 2 and 8): what the per-name
 * lock costs, against a real standalone ZooKeeper on loopback (scripts/zookeeper.sh, a private
 * port and directory) and against the local coordinator (lock files in a temp directory).
 *
 * 1. Lock round trips (acquire + release) per second, in one process:
 *    - sequential, one coordinator (one ZooKeeper session), one name: the latency of the
 *      recipe itself (ZooKeeper: create EPHEMERAL_SEQUENTIAL, getChildren, delete);
 *    - 8 coordinators (8 sessions) at once, each on its own name: throughput;
 *    - 8 coordinators at once on the same name: FIFO handoff through watches (ZooKeeper) or
 *      polling with backoff (local lock files, 10..200 ms).
 * 2. What one CLI run pays for locking: a fresh coordinator per run (as the CLI makes one per
 *    command): connect, lock, release, close.
 * 3. Added latency of locking to an upgrade. The CLI has no unlocked path (every mutating
 *    command takes the name's lock), so: single-name upgrades through the real CLI against the
 *    local cloud (child processes, clock FLEET_BENCH_COORD_SPEED times faster), alternately
 *    with ZooKeeper and with the local coordinator, and the cost of (2) as a ratio to the
 *    upgrade's duration: to its wall time here (a fast clock, so an upper bound), and to its
 *    simulated duration (what it takes at real speed with the local cloud's boot, converge,
 *    INSYNC and TTL delays; on AWS, launch and convergence take minutes, so less still).
 *
 * FLEET_BENCH_COORD=0 skips all of it; FLEET_BENCH_COORD_N round trips per sequential case
 * (default 500); FLEET_BENCH_COORD_UPGRADES upgrades per coordinator (default 4);
 * FLEET_BENCH_COORD_SPEED (default 20).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalCoordinator } from '../src/coord/local.js';
import { ZooKeeperCoordinator } from '../src/coord/zookeeper.js';
import type { Coordinator } from '../src/coord/port.js';
import { envInt, printTable, root, runFleet, startSim } from './bench-common.js';

const run = promisify(execFile);
const SCRIPT = join(root, 'scripts', 'zookeeper.sh');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

interface Zk {
  connect: string;
  stop(): Promise<void>;
}

async function startZooKeeper(): Promise<Zk> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-zk-'));
  const port = await freePort();
  try {
    await run('bash', [SCRIPT, 'start', '--port', String(port), '--dir', dir, '--tick-ms', '200', '--timeout', '60']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`zookeeper.sh start failed: ${err.stderr || err.message}`);
  }
  const pid = Number(readFileSync(join(dir, 'zookeeper.pid'), 'utf8').trim());
  const kill = () => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.once('exit', kill);
  return {
    connect: `127.0.0.1:${port}`,
    stop: async () => {
      await run('bash', [SCRIPT, 'stop', '--dir', dir]).catch(kill);
      process.removeListener('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Stats {
  n: number;
  ms: number;
  lat: number[];
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const f2 = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function row(kind: string, what: string, s: Stats): Record<string, string> {
  return {
    coordinator: kind,
    case: what,
    'round trips': String(s.n),
    'per second': f2((s.n / s.ms) * 1000),
    'p50 ms': f2(pct(s.lat, 50)),
    'p99 ms': f2(pct(s.lat, 99)),
  };
}

/** Sequential acquire+release on one name, one coordinator. */
async function sequential(c: Coordinator, name: string, n: number): Promise<Stats> {
  // Warm up: the session, the lock's parent node, the lock directory.
  for (let i = 0; i < 5; i++) await (await c.lock(name, { operation: 'bench' })).release();
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const h = await c.lock(name, { operation: 'bench' });
    await h.release();
    lat.push(performance.now() - t);
  }
  return { n, ms: performance.now() - t0, lat };
}

/** `cs.length` coordinators at once, each doing `per` round trips, on `name(k)`. */
async function parallel(cs: Coordinator[], name: (k: number) => string, per: number): Promise<Stats> {
  for (const [k, c] of cs.entries()) await (await c.lock(name(k), { operation: 'bench' })).release();
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    cs.map(async (c, k) => {
      for (let i = 0; i < per; i++) {
        const t = performance.now();
        const h = await c.lock(name(k), { operation: 'bench' });
        await h.release();
        lat.push(performance.now() - t);
      }
    }),
  );
  return { n: cs.length * per, ms: performance.now() - t0, lat };
}

/** A fresh coordinator per round trip, as one CLI command makes: connect, lock, release, close. */
async function fresh(make: () => Coordinator, n: number): Promise<{ total: number[]; lockRelease: number[]; close: number[] }> {
  const total: number[] = [];
  const lockRelease: number[] = [];
  const close: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = make();
    const h = await c.lock('web-03', { operation: 'upgrade' });
    await h.release();
    const t1 = performance.now();
    await c.close();
    const t2 = performance.now();
    total.push(t2 - t0);
    lockRelease.push(t1 - t0);
    close.push(t2 - t1);
  }
  return { total, lockRelease, close };
}

function fleetYaml(zk: string | undefined): string {
  return `fleet: benchco
region: us-east-1
dns:
  zone: benchco.example.com
  ttl: 60
hub: hub-01
journal:
  bucket: benchco-fleet-journal
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub:
    count: 1
    type: t3.small
  web:
    count: 2
    type: t3.medium
    alternatives: [m5.large]
${zk ? `coordination:\n  zookeeper:\n    connect: ${zk}\n    session-timeout: 10s\n` : ''}`;
}

interface UpgradeRun {
  coordinator: string;
  wallMs: number;
  /** Simulated ms from the start of the replacement to the record pointing at the new instance. */
  msToServed: number;
}

/** Single-name upgrades through the CLI, alternating coordinators, web-01 back and forth. */
async function upgrades(zk: Zk, n: number, speed: number, lockDir: string): Promise<UpgradeRun[]> {
  const sim = await startSim(['--speed', String(speed)]);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-coord-'));
    const local = join(dir, 'local.yaml');
    const zoo = join(dir, 'zk.yaml');
    writeFileSync(local, fleetYaml(undefined));
    writeFileSync(zoo, fleetYaml(zk.connect));
    const env = { AWS_ENDPOINT_URL: sim.endpoint, FLEET_LOCK_DIR: lockDir };
    const fast = ['--time-scale', String(speed), '--poll-ms', '200'];
    for (const args of [['init', '--config', local], ['apply', '--yes', '--config', local, ...fast]]) {
      const r = await runFleet(args, env);
      if (r.code !== 0) throw new Error(`fleet ${args[0]} failed: ${r.stdout}${r.stderr}`);
    }
    const out: UpgradeRun[] = [];
    let type = 'm5.large';
    for (let i = 0; i < 2 * n; i++) {
      const coordinator = i % 2 === 0 ? 'zookeeper' : 'local';
      const r = await runFleet(['--json', 'upgrade', 'web-01', '--type', type, '--yes', '--config', coordinator === 'zookeeper' ? zoo : local, ...fast], env);
      if (r.code !== 0) throw new Error(`fleet upgrade failed: ${r.stdout}${r.stderr}`);
      const body = JSON.parse(r.stdout) as { results: { result?: { msToServed: number } }[] };
      out.push({ coordinator, wallMs: r.ms, msToServed: body.results[0]?.result?.msToServed ?? NaN });
      type = type === 'm5.large' ? 't3.medium' : 'm5.large';
    }
    return out;
  } finally {
    sim.stop();
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchCoord(): Promise<void> {
  if (envInt('FLEET_BENCH_COORD', 1) === 0) return;
  const n = envInt('FLEET_BENCH_COORD_N', 500);
  const upgradesN = envInt('FLEET_BENCH_COORD_UPGRADES', 4);
  const speed = envInt('FLEET_BENCH_COORD_SPEED', 20);
  const zk = await startZooKeeper();
  const lockDir = mkdtempSync(join(tmpdir(), 'fleet-bench-locks-'));
  const made: Coordinator[] = [];
  const zkc = (fleet = 'bench') => {
    const c = new ZooKeeperCoordinator({ connect: zk.connect, fleet, sessionTimeoutMs: 10_000 });
    made.push(c);
    return c;
  };
  const loc = (fleet = 'bench') => {
    const c = new LocalCoordinator({ dir: join(lockDir, fleet) });
    made.push(c);
    return c;
  };
  try {
    console.log(`\nlocks — acquire + release round trips, ZooKeeper ${zk.connect} (standalone, loopback) and local lock files (${lockDir})`);
    const rows: Record<string, string>[] = [];
    const per = Math.max(10, Math.floor(n / 8));
    const eight = <T>(f: (k: number) => T): T[] => Array.from({ length: 8 }, (_, k) => f(k));
    rows.push(row('zookeeper', 'sequential, 1 session, 1 name', await sequential(zkc(), 'web-01', n)));
    rows.push(row('zookeeper', '8 sessions at once, 8 names', await parallel(eight(() => zkc()), (k) => `web-1${k}`, per)));
    rows.push(row('zookeeper', '8 sessions at once, 1 name', await parallel(eight(() => zkc()), () => 'web-02', per)));
    rows.push(row('local', 'sequential, 1 coordinator, 1 name', await sequential(loc(), 'web-01', n)));
    rows.push(row('local', '8 coordinators at once, 8 names', await parallel(eight(() => loc()), (k) => `web-1${k}`, per)));
    rows.push(row('local', '8 coordinators at once, 1 name', await parallel(eight(() => loc()), () => 'web-02', per)));
    printTable(rows, ['coordinator', 'case']);

    const freshN = Math.max(5, Math.floor(n / 20));
    const fz = await fresh(() => new ZooKeeperCoordinator({ connect: zk.connect, fleet: 'fresh', sessionTimeoutMs: 10_000 }), freshN);
    const fl = await fresh(() => new LocalCoordinator({ dir: join(lockDir, 'fresh') }), freshN);
    console.log(`\nlocking cost of one CLI command (a fresh coordinator per command), ${freshN} runs, median ms`);
    printTable(
      [
        { coordinator: 'zookeeper', 'connect + lock + release': f2(pct(fz.lockRelease, 50)), close: f2(pct(fz.close, 50)), total: f2(pct(fz.total, 50)), 'p99 total': f2(pct(fz.total, 99)) },
        { coordinator: 'local', 'connect + lock + release': f2(pct(fl.lockRelease, 50)), close: f2(pct(fl.close, 50)), total: f2(pct(fl.total, 50)), 'p99 total': f2(pct(fl.total, 99)) },
      ],
      ['coordinator'],
    );

    if (upgradesN > 0) {
      const runs = await upgrades(zk, upgradesN, speed, lockDir);
      const byKind = (k: string) => runs.filter((r) => r.coordinator === k);
      const z = byKind('zookeeper');
      const l = byKind('local');
      const wallZ = mean(z.map((r) => r.wallMs));
      const wallL = mean(l.map((r) => r.wallMs));
      // Simulated duration of the whole upgrade: served, then INSYNC (1 s) and the TTL (60 s) before the terminate.
      const simMs = mean(runs.map((r) => r.msToServed)) + 1_000 + 60_000;
      const lockZ = pct(fz.total, 50);
      const lockL = pct(fl.total, 50);
      console.log(`\nfleet upgrade web-01 (one name) through the CLI, local cloud ${speed}x, ${upgradesN} runs per coordinator — added latency of locking`);
      printTable(
        [
          {
            coordinator: 'zookeeper',
            'CLI wall ms (mean)': f2(wallZ),
            'lock cost ms': f2(lockZ),
            'lock / wall here': `${((lockZ / wallZ) * 100).toFixed(2)} %`,
            'lock / simulated upgrade': `${((lockZ / simMs) * 100).toFixed(3)} %`,
          },
          {
            coordinator: 'local',
            'CLI wall ms (mean)': f2(wallL),
            'lock cost ms': f2(lockL),
            'lock / wall here': `${((lockL / wallL) * 100).toFixed(2)} %`,
            'lock / simulated upgrade': `${((lockL / simMs) * 100).toFixed(3)} %`,
          },
        ],
        ['coordinator'],
      );
      console.log(
        `The CLI always locks (no unlocked path to compare with), so the lock cost is measured apart (a fresh coordinator: connect, lock, release, close, as one command pays it) ` +
          `and set against the upgrade: its wall time here (${speed}x clock, CLI start included: an upper bound) and its simulated duration at real speed ` +
          `(${(simMs / 1000).toFixed(1)} s: launch, boot, converge, swap, INSYNC, TTL 60 s; on AWS launch and convergence take minutes, so the ratio is smaller still). ` +
          `Wall time with ZooKeeper minus with local files: ${f2(wallZ - wallL)} ms (noise of a few hundred ms between CLI runs).`,
      );
    }
  } finally {
    await Promise.all(made.map((c) => c.close().catch(() => undefined)));
    await zk.stop();
    rmSync(lockDir, { recursive: true, force: true });
  }
}

// Run alone: node dist/scripts/bench-coord.js
if (process.argv[1] && /bench-coord\.js$/.test(process.argv[1])) {
  benchCoord().catch((err) => {
    console.error(`bench-coord failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  });
}
