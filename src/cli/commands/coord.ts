/** `fleet locks` and `fleet controller`: who holds what, and the reconcile loop under leader election. */
import { describeHolder } from '../../coord/index.js';
import type { FleetSpec } from '../../model.js';
import { planReconcile, describeAction } from '../../plan/reconcile.js';
import { executePlan } from '../../ops/apply.js';
import { makeProgress, type CliIo } from '../io.js';
import { table } from '../render.js';
import type { Deps } from '../wiring.js';
import { readObserved } from './ls.js';
import { makeOpsDeps, type OpsCliOptions } from '../opsdeps.js';

function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

export async function locksCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: OpsCliOptions): Promise<number> {
  const ops = await makeOpsDeps(spec, deps, io, json, o);
  const coord = ops.coord!;
  const [holders, leader] = await Promise.all([coord.holders(), coord.leader().current()]);
  const now = new Date();
  if (json) {
    io.stdout.write(JSON.stringify({ coordinator: coord.kind, leader: leader ?? null, locks: holders }, null, 2) + '\n');
    return 0;
  }
  io.stdout.write(`coordination: ${coord.kind === 'zookeeper' ? `ZooKeeper ${spec.coordination.zookeeper!.connect}` : 'local lock files (one operator; set coordination.zookeeper in fleet.yaml for a team)'}\n`);
  io.stdout.write(leader ? `controller leader: ${leader.host} (pid ${leader.pid}) since ${leader.since} (${ago(leader.since, now)}), fencing token ${leader.fencingToken ?? '?'}\n` : 'controller leader: none\n');
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
        h.holder ? String(h.holder.pid) : '?',
        h.holder?.since ?? '?',
        h.holder ? ago(h.holder.since, now) : '?',
        String(h.waiting),
        h.holder?.fencingToken ?? '-',
      ]),
    ),
  );
  for (const h of held) if (h.holder) io.stdout.write(`${describeHolder(h.name, h.holder, now)}\n`);
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
  const journal = ops.journal;
  let failures = 0;
  while (!stop.signal.aborted) {
    log({ level: 'info', event: 'campaign', msg: `campaigning for leadership of fleet ${spec.fleet}` });
    let term;
    try {
      term = await leader.campaign(stop.signal, { operation: 'controller' });
    } catch (err) {
      if (stop.signal.aborted) break;
      throw err;
    }
    log({ level: 'info', event: 'leader', msg: `leader of fleet ${spec.fleet} (fencing token ${term.fencingToken})`, fencingToken: term.fencingToken });
    const signal = AbortSignal.any([stop.signal, term.lost]);
    ops.signal = signal;
    ops.guard = () => term.assertStillLeader();
    // What the leader writes carries its term's fencing token (DESIGN.md section 8), beside the
    // name lock's: whoever reads the journal can tell which term acted, and that terms never overlap.
    const leaderOf = { fencingToken: term.fencingToken, host: term.holder.host, pid: term.holder.pid };
    ops.journal = { create: (key, body) => journal.create(key, body && typeof body === 'object' ? { ...body, leader: leaderOf } : body) };
    try {
      while (!signal.aborted) {
        try {
          const observed = await readObserved(spec, deps, makeProgress(io, true), ops.zone);
          const plan = planReconcile(spec, observed, ops.clock.now(), { orphanGraceMs: spec.reconcile.orphanGraceMs });
          if (plan.actions.length > 0) {
            term.assertStillLeader();
            log({ level: 'info', event: 'reconcile', msg: `reconciling: ${plan.actions.map(describeAction).join('; ')}`, actions: plan.actions.length });
            const outcomes = await executePlan(ops, plan, makeProgress(io, true));
            const bad = outcomes.filter((x) => !x.ok);
            if (bad.length) log({ level: 'warn', event: 'reconcile-failed', msg: `${bad.length} of ${outcomes.length} actions failed: ${bad.map((x) => x.error).join('; ')}` });
          }
          failures = 0;
        } catch (err) {
          failures++;
          log({ level: 'error', event: 'reconcile-error', msg: `reconcile failed: ${err instanceof Error ? err.message : String(err)}`, failures });
        }
        if (o.once) {
          stop.abort(new Error('once'));
          break;
        }
        await ops.clock.sleep(spec.reconcile.intervalMs * Math.min(8, 2 ** Math.min(failures, 3)), signal).catch(() => {});
      }
    } finally {
      if (term.lost.aborted && !stop.signal.aborted) log({ level: 'warn', event: 'leadership-lost', msg: `lost leadership of fleet ${spec.fleet}; stopped before the next side effect` });
      await term.resign().catch(() => {});
      ops.guard = undefined;
      ops.journal = journal;
    }
  }
  return failures > 0 ? 1 : 0;
}
