/**
 * `fleet retire NAME [--delete-state] [--dry-run] [--yes]`: the explicit per-name form of what
 * apply does to names fleet.yaml no longer wants. The plan (src/plan/retire.ts) is read and
 * shown; once confirmed, the flow (src/ops/retire.ts) retires the name under its lock: the
 * record first, then its instances; its state and volume are kept unless --delete-state.
 */
import { InputError } from '../../errors.js';
import type { FleetSpec } from '../../model.js';
import { conventionOf, parseName } from '../../naming.js';
import { describeRetire, stateLocation } from '../../plan/retire.js';
import { roleOf } from '../../plan/shape.js';
import { readRetirePlan, retireName, summary } from '../../ops/retire.js';
import type { CliIo } from '../io.js';
import type { Deps } from '../wiring.js';
import { makeOpsDeps } from '../opsdeps.js';
import { mayProceed, type MutateOptions } from './mutate.js';

export { stateLocation };

export interface RetireOptions extends MutateOptions {
  deleteState?: boolean;
}

export async function retireCommand(spec: FleetSpec, target: string, deps: Deps, io: CliIo, json: boolean, o: RetireOptions): Promise<number> {
  const conv = conventionOf(spec);
  const name = parseName(target, conv); // exit 2 with the reason
  const state = stateLocation(spec, name.name);
  if (o.deleteState && !state) {
    throw new InputError(
      roleOf(spec, name.role)
        ? `--delete-state: role ${name.role} declares no state.s3 in fleet.yaml; there is no state to delete`
        : `--delete-state: role ${name.role} is not in fleet.yaml, so its state.s3 location is unknown; delete s3 objects by hand`,
    );
  }
  const ops = await makeOpsDeps(spec, deps, io, json, o);
  // The plan as it is now (no lock: a dry run makes nobody wait); the flow plans again under the lock.
  const plan = await readRetirePlan(ops, name, { deleteState: Boolean(o.deleteState) });
  const show = (p: typeof plan) => `retire ${p.name}:\n${describeRetire(p).map((l) => `  ${l}\n`).join('')}`;
  if (plan.nothing) {
    if (json) io.stdout.write(JSON.stringify({ dryRun: Boolean(o.dryRun), ...summary(plan), retired: false, reason: plan.nothing }, null, 2) + '\n');
    else io.stdout.write(plan.nothing + '\n');
    return 0;
  }
  if (o.dryRun) {
    if (json) io.stdout.write(JSON.stringify({ dryRun: true, ...summary(plan), plan }, null, 2) + '\n');
    else io.stdout.write(show(plan));
    return 0;
  }
  if (!json) io.stdout.write(show(plan));
  await mayProceed(io, o, `retire ${name.name}${o.deleteState && plan.state && plan.state.objects > 0 ? ` and delete its state (${plan.state.objects} objects)` : ''}`);
  const outcome = await retireName(ops, { name: name.name, deleteState: Boolean(o.deleteState), who: 'fleet retire' });
  if (outcome.status === 'nothing') {
    if (json) io.stdout.write(JSON.stringify({ dryRun: false, ...summary(outcome.plan), retired: false, reason: outcome.reason }, null, 2) + '\n');
    else io.stdout.write(outcome.reason + '\n');
    return 0;
  }
  const p = outcome.plan;
  const deleted = outcome.stateDeleted ?? 0;
  if (json) io.stdout.write(JSON.stringify({ dryRun: false, ...summary(p), retired: true, ...(o.deleteState ? { stateDeleted: deleted } : {}) }, null, 2) + '\n');
  else {
    io.stdout.write(
      `retired ${p.name}: ${outcome.recordDeleted ? 'record deleted' : 'no record'}, ${outcome.terminated.length ? `${outcome.terminated.join(', ')} terminated` : 'no instance'}` +
        `${p.state ? (o.deleteState ? `, ${deleted} state object${deleted === 1 ? '' : 's'} deleted` : `, state ${p.state.location} kept`) : ''}` +
        `${p.volumesKept.length ? `, volume ${p.volumesKept.map((v) => v.id).join(', ')} kept` : ''}\n`,
    );
  }
  return 0;
}
