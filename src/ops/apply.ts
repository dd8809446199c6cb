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
import { journal, replaceName, type ReplaceResult } from './replace.js';
import { terminateConfirmed } from './terminate.js';
import { FleetError } from '../errors.js';

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  error?: string;
  result?: ReplaceResult;
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

  const run = async (a: Action): Promise<ActionOutcome> => {
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
        });
        return { action: a, ok: true, result };
      }
      case 'collect':
        if (a.name) await drain();
        await terminateConfirmed(deps, [a.instanceId], a.reason);
        await journal(deps, 'collect', a.name ?? a.instanceId, { instanceId: a.instanceId, reason: a.reason });
        return { action: a, ok: true };
      case 'retire': {
        // Record first (exactly as it was, so a concurrent change makes this fail safely), then the instances.
        const changeId = await deps.dnsWriter.submit(
          a.record.values.length > 0 ? [{ action: 'DELETE', name: parseName(a.name, conv).fqdn, type: 'A', ttl: a.record.ttl, values: a.record.values }] : [],
        );
        await deps.dnsWriter.waitInsync(changeId, 10 * 60_000);
        await deps.clock.sleep(a.record.ttl * 1000);
        await terminateConfirmed(deps, a.instanceIds, `${a.name} retired`);
        await journal(deps, 'retire', a.name, { instanceIds: a.instanceIds, record: a.record });
        return { action: a, ok: true };
      }
    }
  };

  show();
  await Promise.all(
    plan.actions.map((a) =>
      queue.add(async () => {
        let outcome: ActionOutcome;
        try {
          outcome = await run(a);
        } catch (err) {
          failed++;
          outcome = { action: a, ok: false, error: err instanceof Error ? err.message : String(err) };
          deps.log({ level: 'error', event: 'action-failed', msg: outcome.error!, kind: a.kind });
        }
        done++;
        outcomes.push(outcome);
        show();
      }),
    ),
  );
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
      await deps.dnsWriter.waitInsync(id, 10 * 60_000);
      await deps.clock.sleep(Math.max(rec.ttl, deps.spec.dns.ttl) * 1000);
      return;
    } catch (err) {
      deps.log({ level: 'warn', event: 'drain-failed', msg: `${n}: ${err instanceof Error ? err.message : String(err)}; trying another record`, name: n });
    }
  }
}
