/**
 * Execute a reconcile plan: every action under bounded concurrency (p-queue), every AWS call
 * under the rate limiter, DNS writes batched. One action's failure does not stop the others;
 * the result says what happened to each.
 */
import PQueue from 'p-queue';
import type { Action, Plan } from '../model.js';
import { conventionOf, parseName } from '../naming.js';
import { roleOf } from '../plan/shape.js';
import type { Progress } from '../ports.js';
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
