/**
 * A contender process for the coordination tests (not a test itself; run by them with one
 * JSON argument). Every event is appended as one JSON line to the shared log file, with a
 * sub-millisecond wall-clock time.
 *
 *   role "lock":   take `name` `rounds` times, holding `holdMs` each time (events queued, enter, exit)
 *   role "hold":   take `name` once, print "HELD <token>" on stdout and hold until killed
 *   role "leader": campaign; once leader, act every `actMs` (assertStillLeader() first) until
 *                  killed; on losing, log it and exit 3 (events elected, act, lost)
 */
import { appendFileSync } from 'node:fs';
import { LocalCoordinator } from '../../src/coord/local.js';
import type { Coordinator } from '../../src/coord/port.js';
import { ZooKeeperCoordinator } from '../../src/coord/zookeeper.js';

export interface ContenderConfig {
  mode: 'zk' | 'local';
  role: 'lock' | 'hold' | 'leader';
  fleet: string;
  /** zk */
  connect?: string;
  sessionTimeoutMs?: number;
  /** local */
  dir?: string;
  name?: string;
  rounds?: number;
  holdMs?: number;
  actMs?: number;
  log: string;
  /** A label for the log. */
  id: string;
}

const now = () => performance.timeOrigin + performance.now();

function record(cfg: ContenderConfig, ev: Record<string, unknown>): void {
  appendFileSync(cfg.log, JSON.stringify({ id: cfg.id, pid: process.pid, t: now(), ...ev }) + '\n');
}

/** Busy for `ms`, touching nothing: a stand-in for the protected work. */
function work(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(cfg: ContenderConfig): Promise<number> {
  const coord: Coordinator =
    cfg.mode === 'zk'
      ? new ZooKeeperCoordinator({ connect: cfg.connect!, fleet: cfg.fleet, sessionTimeoutMs: cfg.sessionTimeoutMs ?? 3000 })
      : new LocalCoordinator({ dir: cfg.dir! });
  try {
    if (cfg.role === 'lock') {
      for (let i = 0; i < (cfg.rounds ?? 1); i++) {
        const h = await coord.lock(cfg.name!, {
          operation: 'upgrade',
          onWait: ({ ahead }) => record(cfg, { ev: 'queued', round: i, ahead }),
        });
        try {
          record(cfg, { ev: 'enter', round: i, token: h.fencingToken });
          h.assertHeld();
          await work(cfg.holdMs ?? 20);
          h.assertHeld();
          record(cfg, { ev: 'exit', round: i, token: h.fencingToken });
        } finally {
          await h.release();
        }
      }
      return 0;
    }
    if (cfg.role === 'hold') {
      const h = await coord.lock(cfg.name!, { operation: 'upgrade' });
      record(cfg, { ev: 'enter', token: h.fencingToken });
      process.stdout.write(`HELD ${h.fencingToken}\n`);
      await new Promise(() => {}); // until killed
      return 0;
    }
    const term = await coord.leader().campaign();
    record(cfg, { ev: 'elected', token: term.fencingToken });
    process.stdout.write(`ELECTED ${term.fencingToken}\n`);
    for (;;) {
      try {
        term.assertStillLeader();
      } catch (e) {
        record(cfg, { ev: 'lost', token: term.fencingToken, why: e instanceof Error ? e.message : String(e) });
        return 3;
      }
      record(cfg, { ev: 'act', token: term.fencingToken });
      await work(cfg.actMs ?? 50);
    }
  } finally {
    await coord.close();
  }
}

// Only when run with a config: the test runner may load this file as a module too.
const arg = process.argv[2];
if (arg?.startsWith('{')) {
  main(JSON.parse(arg) as ContenderConfig).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`contender: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
