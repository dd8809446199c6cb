/**
 * Coordination: per-name locks and leader election (port.ts), local (local.ts) or on
 * ZooKeeper (zookeeper.ts). The CLI picks one with createCoordinator().
 */
import type { Log, TimerClock } from '../ports.js';
import { LocalCoordinator } from './local.js';
import type { Coordinator } from './port.js';
import { ZooKeeperCoordinator } from './zookeeper.js';

export * from './port.js';
export { LocalCoordinator, type LocalCoordinatorOptions } from './local.js';
export { ZooKeeperCoordinator, type ZooKeeperCoordinatorOptions } from './zookeeper.js';

export interface CoordinatorChoice {
  fleet: string;
  /** fleet.yaml `coordination.zookeeper`; absent: the local coordinator. */
  zookeeper?: { connect: string; sessionTimeoutMs: number };
  /** Lock directory for the local coordinator (one per fleet), chosen by the CLI. */
  localDir: string;
  connectTimeoutMs?: number;
  log?: Log;
  /** Lock waits and deadlines (ops pass their clock: a faster local cloud's, or a test's); holder `since` stays wall time. */
  clock?: TimerClock;
}

export function createCoordinator(c: CoordinatorChoice): Coordinator {
  if (c.zookeeper) {
    return new ZooKeeperCoordinator({
      connect: c.zookeeper.connect,
      fleet: c.fleet,
      sessionTimeoutMs: c.zookeeper.sessionTimeoutMs,
      ...(c.connectTimeoutMs !== undefined ? { connectTimeoutMs: c.connectTimeoutMs } : {}),
      ...(c.log ? { log: c.log } : {}),
      ...(c.clock ? { clock: c.clock } : {}),
    });
  }
  return new LocalCoordinator({ dir: c.localDir, ...(c.clock ? { clock: c.clock } : {}) });
}
