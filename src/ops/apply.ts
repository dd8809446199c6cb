/**
 * Execute a reconcile plan: every action under bounded concurrency (p-queue), every AWS call
 * under the rate limiter, DNS writes batched. One action's failure does not stop the others;
 * the result says what happened to each.
 */
import PQueue from 'p-queue';
import type { Action, Plan } from '../model.js';
import { conventionOf, parseName, tryParseName } from '../naming.js';
import { roleOf } from '../plan/shape.js';
import type { DnsChange, Progress } from '../ports.js';
import type { OpsDeps } from './context.js';
import { journal } from './journal.js';
import { replaceName, type ReplaceResult } from './replace.js';
import { terminateConfirmed } from './terminate.js';
import { FleetError } from '../errors.js';
import type { LockHandle } from '../coord/index.js';
import { planReconcile } from '../plan/reconcile.js';
import { changedSince, guardOf, observeName, withNameLock } from './locked.js';
import { reattachVolume, type VolumePlacement } from './volume.js';
import { executeRetire, readRetirePlan } from './retire.js';

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  error?: string;
  result?: ReplaceResult;
  /** A reattach: where the volume is now. */
  volume?: VolumePlacement;
  /** Nothing was left to do once the name's lock was ours. */
  skipped?: string;
}

export async function executePlan(deps: OpsDeps, plan: Plan, progress: Progress): Promise<ActionOutcome[]> {
  const conv = conventionOf(deps.spec);
  const queue = new PQueue({ concurrency: deps.spec.reconcile.concurrency });
  const outcomes: ActionOutcome[] = [];
  let done = 0;
  let failed = 0;
  // Orphans tagged with a name are terminated only once resolvers have moved off them (see drainDns).
  const collected = plan.actions.flatMap((a) => (a.kind === 'collect' && a.name ? [a.name] : []));
  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> => (drained ??= drainDns(deps, collected));
  const show = () => progress.update(`apply: ${done}/${plan.actions.length} done${failed ? `, ${failed} failed` : ''}, ${queue.pending} in progress`);

  /**
   * Under the name's lock, plan the name again from what it is now: whoever held the lock
   * before may have done the work (or changed the record) since the plan was made.
   */
  const refresh = async (a: Action & { name: string }): Promise<Action | undefined> => {
    const fqdn = parseName(a.name, conv).fqdn;
    const now = await observeName(deps, fqdn, a.name);
    const fresh = planReconcile(deps.spec, now, deps.clock.now(), { orphanGraceMs: deps.spec.reconcile.orphanGraceMs, only: a.name });
    return fresh.actions.find((x) => x.kind !== 'collect' && x.name === a.name);
  };

  const act = async (a: Action, lock: LockHandle | undefined): Promise<ActionOutcome> => {
    const guard = guardOf(deps, lock);
    const fence = lock ? { fencingToken: lock.fencingToken } : {};
    switch (a.kind) {
      case 'launch':
      case 'adopt': {
        const role = roleOf(deps.spec, a.role);
        if (!role) throw new FleetError(`${a.name}: role ${a.role} is not in fleet.yaml`);
        const result = await replaceName(deps, {
          name: parseName(a.name, conv),
          role,
          generation: a.kind === 'launch' ? a.generation : 0,
          ...(a.kind === 'adopt' ? { adopt: a.instanceId } : {}),
          ...(a.replaces ? { replaces: a.replaces } : {}),
          retire: [],
          guard,
          ...fence,
        });
        return { action: a, ok: true, result };
      }
      case 'collect':
        if (a.name) await drain();
        guard();
        await terminateConfirmed(deps, [a.instanceId], a.reason);
        await journal(deps, 'collect', a.name ?? a.instanceId, { instanceId: a.instanceId, reason: a.reason, ...fence });
        return { action: a, ok: true };
      case 'retire': {
        // One retirement for apply and `fleet retire` (src/ops/retire.ts), planned from the name as it is now.
        const outcome = await executeRetire(deps, await readRetirePlan(deps, parseName(a.name, conv)), lock, 'apply');
        return outcome.status === 'nothing' ? { action: a, ok: true, skipped: outcome.reason } : { action: a, ok: true };
      }
      case 'reattach': {
        const role = roleOf(deps.spec, a.role);
        if (!role) throw new FleetError(`${a.name}: role ${a.role} is not in fleet.yaml`);
        const volume = await reattachVolume(deps, { name: parseName(a.name, conv), role, instanceId: a.instanceId, guard, ...fence });
        return { action: a, ok: true, volume };
      }
    }
  };

  const run = async (a: Action): Promise<ActionOutcome> => {
    if (!deps.coord) return act(a, undefined);
    if (a.kind === 'collect') {
      if (!a.name) return act(a, undefined);
      return withNameLock(deps, a.name, 'collect', async (lock) => {
        // Still an orphan? The holder before us may have adopted it or pointed the record at it.
        const fqdn = tryParseName(a.name!, conv)?.fqdn;
        if (fqdn) {
          const now = await observeName(deps, fqdn, a.name!);
          const inst = now.instances.find((i) => i.id === a.instanceId);
          const served = inst?.privateIp !== undefined && now.records.some((r) => r.values.includes(inst.privateIp!));
          // A stopped instance of a role with a volume is collected too (see planReconcile).
          const stoppedOk = inst?.state === 'stopped' && deps.spec.roles.some((r) => r.name === inst.role && r.volume);
          if (!inst || served || (inst.state !== 'pending' && inst.state !== 'running' && !stoppedOk)) {
            return { action: a, ok: true, skipped: `${a.instanceId} is no longer an orphan (${!inst ? 'gone' : served ? 'its record points at it now' : inst.state})` };
          }
        }
        return act(a, lock);
      });
    }
    return withNameLock(deps, a.name, a.kind === 'retire' ? 'retire' : a.kind === 'reattach' ? 'reattach' : 'repair', async (lock, { waited }) => {
      // Re-plan from the name as it is now when someone else may have acted on it since the
      // plan was made: they held it when we asked, or a launch of theirs shows. Otherwise the
      // plan stands (a stale record is caught anyway: the DNS change is a compare-and-swap).
      const stale = waited || (a.kind === 'launch' && (await changedSince(deps, a.name, a.generation - 1)));
      const fresh = stale ? await refresh(a) : a;
      if (!fresh) return { action: a, ok: true, skipped: `${a.name} was converged meanwhile (by whoever held it before)` };
      // Reported under the planned action (the plan the user saw), carrying what was done.
      return { ...(await act(fresh, lock)), action: a };
    });
  };

  // The policy hub first: every other instance bootstraps against it, so it must be up (and
  // its record written) before they look for it. The rest go in parallel after it.
  const hubFirst = plan.actions.find((a) => (a.kind === 'launch' || a.kind === 'adopt') && a.name === deps.spec.hub);
  const step = async (a: Action): Promise<void> => {
    let outcome: ActionOutcome;
    try {
      // After a stop no new action starts (each one's own steps check it too, via the guard).
      if (deps.signal?.aborted) throw new FleetError(`not started: ${deps.signal.reason instanceof Error ? deps.signal.reason.message : 'stopped'}`);
      outcome = await run(a);
    } catch (err) {
      failed++;
      outcome = { action: a, ok: false, error: err instanceof Error ? err.message : String(err) };
      deps.log({ level: 'error', event: 'action-failed', msg: outcome.error!, kind: a.kind });
    }
    done++;
    outcomes.push(outcome);
    show();
  };
  // Actions on one name run one after the other (an adopt and a collect of the same name, say):
  // they take the same lock, and this process must not contend with itself.
  const groups = new Map<string, Action[]>();
  for (const a of plan.actions) {
    const key = 'name' in a && a.name ? `name:${a.name}` : a.kind === 'collect' ? `id:${a.instanceId}` : `n:${groups.size}`;
    groups.set(key, [...(groups.get(key) ?? []), a]);
  }
  const runGroup = async (list: Action[]): Promise<void> => {
    for (const a of list) await step(a);
  };
  show();
  const hubGroup = hubFirst ? [...groups.values()].find((g) => g.includes(hubFirst)) : undefined;
  if (hubGroup) await queue.add(() => runGroup(hubGroup));
  await Promise.all([...groups.values()].filter((g) => g !== hubGroup).map((g) => queue.add(() => runGroup(g))));
  progress.done();
  // Report in plan order.
  const order = new Map(plan.actions.map((a, i) => [a, i]));
  return outcomes.sort((x, y) => order.get(x.action)! - order.get(y.action)!);
}

/**
 * An orphan tagged with a name that has a record may be the instance a replacement swapped
 * away from just before it died: the swap may still be PENDING, and resolvers may hold the old
 * address for the TTL after it is INSYNC. Its launch time (long ago) says nothing about that,
 * so the orphan grace does not cover it. One barrier for the whole apply: a compare-and-swap of
 * one such record onto itself; once it is INSYNC, so is every earlier change of the zone (a
 * zone applies its changes in order); then the TTL. Orphans of names without a record (never
 * served, or retired) need no barrier.
 */
async function drainDns(deps: OpsDeps, names: string[]): Promise<void> {
  const conv = conventionOf(deps.spec);
  const tried = [...new Set(names)].slice(0, 10);
  for (const n of tried) {
    const fqdn = tryParseName(n, conv)?.fqdn;
    if (!fqdn) continue;
    try {
      await deps.limiter.take('route53:api');
      const rec = await deps.dns.getRecord(deps.zoneId, fqdn);
      if (!rec || rec.values.length === 0) continue;
      const change: DnsChange[] = [
        { action: 'DELETE', name: fqdn, type: 'A', ttl: rec.ttl, values: rec.values },
        { action: 'CREATE', name: fqdn, type: 'A', ttl: rec.ttl, values: rec.values },
      ];
      deps.log({ level: 'info', event: 'drain', msg: `before terminating orphans: waiting until earlier record changes are INSYNC and ${Math.max(rec.ttl, deps.spec.dns.ttl)} s (TTL) have passed`, name: n });
      const id = await deps.dnsWriter.submit(change);
      // Waits before terminating orphans (new side effects): a stop ends them.
      await deps.dnsWriter.waitInsync(id, 10 * 60_000, deps.signal);
      await deps.clock.sleep(Math.max(rec.ttl, deps.spec.dns.ttl) * 1000, deps.signal);
      return;
    } catch (err) {
      if (deps.signal?.aborted) return;
      deps.log({ level: 'warn', event: 'drain-failed', msg: `${n}: ${err instanceof Error ? err.message : String(err)}; trying another record`, name: n });
    }
  }
}
