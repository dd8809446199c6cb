/** `fleet locks` and `fleet controller`: who holds what, and the reconcile loop under leader election. */
import { hostname } from 'node:os';
import { CoordinationUnavailableError, createCoordinator, describeHolder, type HolderInfo } from '../../coord/index.js';
import { pidAlive } from '../../coord/local.js';
import { pause } from '../../coord/wait.js';
import type { FleetSpec } from '../../model.js';
import { controllerTerm } from '../../ops/controller.js';
import type { CliIo } from '../io.js';
import { table } from '../render.js';
import type { Deps } from '../wiring.js';
import { cliLog, localLockDir, makeOpsDeps, type OpsCliOptions } from '../opsdeps.js';

function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

export async function locksCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: OpsCliOptions): Promise<number> {
  // Only the coordinator: who holds what must be readable when AWS is not (no zone lookup).
  const coord = createCoordinator({
    fleet: spec.fleet,
    ...(spec.coordination.zookeeper ? { zookeeper: spec.coordination.zookeeper } : {}),
    localDir: localLockDir(io, spec.fleet, deps.endpoint ?? deps.region ?? 'aws'),
    log: cliLog(io, json, Boolean(o.verbose)),
  });
  deps.cleanup.push(() => coord.close());
  const [holders, leader] = await Promise.all([coord.holders(), coord.leader().current()]);
  const now = new Date();
  // Local lock files outlive a process killed with -9 (the next lock of the name breaks them),
  // whereas ZooKeeper's nodes go with the session: never show a process that is gone as holding.
  const host = hostname();
  const gone = (h: HolderInfo | undefined): boolean => coord.kind === 'local' && h !== undefined && h.host === host && !pidAlive(h.pid);
  if (json) {
    const mark = <T extends object>(x: T, h: HolderInfo | undefined): T => (gone(h) ? { ...x, stale: true } : x);
    io.stdout.write(JSON.stringify({ coordinator: coord.kind, leader: leader ? mark(leader, leader) : null, locks: holders.map((h) => mark(h, h.holder)) }, null, 2) + '\n');
    return 0;
  }
  io.stdout.write(`coordination: ${coord.kind === 'zookeeper' ? `ZooKeeper ${spec.coordination.zookeeper!.connect}` : 'local lock files (one operator; set coordination.zookeeper in fleet.yaml for a team)'}\n`);
  io.stdout.write(
    !leader
      ? 'controller leader: none\n'
      : gone(leader)
        ? `controller leader: none (the last one, ${leader.host} pid ${leader.pid}, is gone; the next controller takes over)\n`
        : `controller leader: ${leader.host} (pid ${leader.pid}) since ${leader.since} (${ago(leader.since, now)}), fencing token ${leader.fencingToken ?? '?'}\n`,
  );
  const held = holders.filter((h) => h.holder || h.waiting > 0);
  if (held.length === 0) {
    io.stdout.write('no name is locked\n');
    return 0;
  }
  io.stdout.write(
    table(
      ['NAME', 'OPERATION', 'HOLDER', 'PID', 'SINCE', 'HELD FOR', 'WAITING', 'FENCE'],
      held.map((h) => [
        h.name,
        h.holder?.operation ?? '?',
        h.holder?.host ?? '?',
        h.holder ? `${h.holder.pid}${gone(h.holder) ? ' (gone)' : ''}` : '?',
        h.holder?.since ?? '?',
        h.holder ? ago(h.holder.since, now) : '?',
        String(h.waiting),
        h.holder?.fencingToken ?? '-',
      ]),
    ),
  );
  for (const h of held) {
    if (!h.holder) continue;
    if (gone(h.holder)) {
      io.stdout.write(`${h.name}: left locked by ${h.holder.host} (pid ${h.holder.pid}, ${h.holder.operation}), which is gone; the next operation on ${h.name} breaks the lock\n`);
    } else io.stdout.write(`${describeHolder(h.name, h.holder, now)}\n`);
  }
  return 0;
}

export interface ControllerOptions extends OpsCliOptions {
  once?: boolean;
}

/**
 * The reconcile loop: every replica campaigns; only the leader reconciles, every interval;
 * losing leadership stops work before the next side effect. Quiet when all is well.
 */
export async function controllerCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: ControllerOptions): Promise<number> {
  const ops = await makeOpsDeps(spec, deps, io, json, { ...o, verbose: true });
  const stop = new AbortController();
  void io.stopSignal?.then(() => stop.abort(new Error('stopped')));
  const log = ops.log;
  const leader = ops.coord!.leader();
  let failures = 0;
  // An unreachable coordinator at start is a setup problem (a wrong connect string): exit 1 and
  // say so. Once it has answered, its going away is an outage: campaign again until it is back,
  // or no replica would be left to lead when it returns.
  await leader.current();
  let outage = 0;
  while (!stop.signal.aborted) {
    log({ level: 'info', event: 'campaign', msg: `campaigning for leadership of fleet ${spec.fleet}` });
    let term;
    try {
      term = await leader.campaign(stop.signal, { operation: 'controller' });
    } catch (err) {
      if (stop.signal.aborted) break;
      if (!(err instanceof CoordinationUnavailableError)) throw err;
      // Real time, not the (maybe scaled) clock of the cloud: the coordinator lives in real time.
      const ms = Math.min(30_000, 1000 * 2 ** Math.min(outage++, 5));
      log({ level: 'warn', event: 'coordination-unavailable', msg: `${err.message}; campaigning again in ${ms / 1000} s` });
      await pause(ms, stop.signal);
      continue;
    }
    outage = 0;
    log({ level: 'info', event: 'leader', msg: `leader of fleet ${spec.fleet} (fencing token ${term.fencingToken})`, fencingToken: term.fencingToken });
    try {
      // The term runs on deps of its own (src/ops/controller.ts): nothing is written back into ops.
      const result = await controllerTerm(ops, term, { stop: stop.signal, ...(o.once ? { once: true } : {}) });
      failures = result.failures;
      if (result.ended === 'once') stop.abort(new Error('once'));
    } finally {
      await term.resign().catch(() => {});
    }
  }
  // A long-running controller stopped by a signal has done its job (failures were logged as they
  // happened); a single pass (--once) reports whether it succeeded.
  return o.once && failures > 0 ? 1 : 0;
}
