/** plan, apply, upgrade, kill: the commands that change the cloud. */
import { InputError, FleetError } from '../../errors.js';
import type { FleetSpec, Market, Plan } from '../../model.js';
import { conventionOf, parseName } from '../../naming.js';
import { describeAction, planReconcile } from '../../plan/reconcile.js';
import { roleOf } from '../../plan/shape.js';
import { checkChange, describeChange, upgradeTargets, type UpgradePlan } from '../../plan/upgrade.js';
import { readUpgradePlan, upgradeFlow } from '../../ops/upgrade.js';
import { executePlan, type ActionOutcome } from '../../ops/apply.js';
import type { ReplaceResult } from '../../ops/replace.js';
import { killName, leashedTerminator, realTerminator } from '../../ops/kill.js';
import { resolveImage } from '../../ops/launch.js';
import { preflight } from '../../ops/preflight.js';
import { confirm, makeProgress, type CliIo } from '../io.js';
import { checkCount } from '../flags.js';
import type { Deps } from '../wiring.js';
import { readObserved } from '../../ops/observe.js';
import { RateLimiter } from '../../ops/limiter.js';
import { makeOpsDeps, opsClock, type OpsCliOptions } from '../opsdeps.js';
import { suggestEdit } from '../suggest.js';

export interface MutateOptions extends OpsCliOptions {
  dryRun?: boolean;
  yes?: boolean;
}

/**
 * Every command that changes the cloud shows its plan first; on a terminal it asks, with --yes
 * it proceeds, and without a terminal and without --yes it refuses (exit 2): a cron line must
 * say what it means.
 */
export async function mayProceed(io: CliIo, o: MutateOptions, what: string): Promise<void> {
  if (o.yes) return;
  if (!io.stdinIsTTY) throw new InputError(`refusing to ${what} without --yes: there is no terminal to ask (add --yes to a cron line or a script)`);
  if (!(await confirm(io, `${what}?`))) throw new FleetError('cancelled; nothing was changed', { exitCode: 1 });
}

function printPlan(io: CliIo, plan: Plan): void {
  if (plan.actions.length === 0) io.stdout.write(`fleet ${plan.fleet} is converged: nothing to do\n`);
  else {
    io.stdout.write(`plan for fleet ${plan.fleet} (${plan.actions.length} action${plan.actions.length === 1 ? '' : 's'}):\n`);
    for (const a of plan.actions) io.stdout.write(`  ${describeAction(a)}\n`);
  }
  for (const n of plan.notes) io.stdout.write(`  note: ${n}\n`);
}

export async function planCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: OpsCliOptions): Promise<Plan> {
  const clock = await opsClock(deps, o);
  await preflight(deps, spec); // what AWS would refuse, refused now (exit 2, at its fleet.yaml line)
  // Paced at AWS's rates like every read of the inventory (a large zone is never throttled).
  const observed = await readObserved(spec, { ...deps, limiter: deps.throttles.add(new RateLimiter(clock)) }, makeProgress(io, json));
  const plan = planReconcile(spec, observed, clock.now(), { orphanGraceMs: spec.reconcile.orphanGraceMs });
  if (json) io.stdout.write(JSON.stringify(plan, null, 2) + '\n');
  else printPlan(io, plan);
  return plan;
}

export async function applyCommand(spec: FleetSpec, deps: Deps, io: CliIo, json: boolean, o: MutateOptions): Promise<number> {
  const ops = await makeOpsDeps(spec, deps, io, json, o);
  await preflight(deps, spec); // what AWS would refuse, refused before any launch (exit 2)
  // Through the apply's own limiter: the listing's Route 53 calls count against the same bucket
  // as the changes that follow.
  const observed = await readObserved(spec, { ...deps, limiter: ops.limiter }, makeProgress(io, json), ops.zone);
  const plan = planReconcile(spec, observed, ops.clock.now(), { orphanGraceMs: spec.reconcile.orphanGraceMs });
  if (o.dryRun || plan.actions.length === 0) {
    if (json) io.stdout.write(JSON.stringify({ dryRun: Boolean(o.dryRun), plan, outcomes: [] }, null, 2) + '\n');
    else printPlan(io, plan);
    return 0;
  }
  if (!json) printPlan(io, plan);
  await mayProceed(io, o, `apply ${plan.actions.length} action${plan.actions.length === 1 ? '' : 's'} to fleet ${spec.fleet}`);
  const outcomes = await executePlan(ops, plan, makeProgress(io, json));
  const failed = outcomes.filter((x) => !x.ok);
  if (json) io.stdout.write(JSON.stringify({ dryRun: false, plan, outcomes }, null, 2) + '\n');
  else {
    for (const x of outcomes) io.stdout.write(`${x.ok ? 'done' : 'FAILED'}: ${outcomeLine(x)}\n`);
    io.stdout.write(`${outcomes.length - failed.length} of ${outcomes.length} actions done${failed.length ? `, ${failed.length} failed (rolled back; rerun apply)` : ''}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

function outcomeLine(x: ActionOutcome): string {
  if (!x.ok) return `${describeAction(x.action)}: ${x.error}`;
  const r = x.result;
  if (r) return `${r.name} -> ${r.instanceId} (${r.type} ${r.market} ${r.az}, ${r.ip}, generation ${r.generation})${fallbackNote(r)}${volumeNote(r)}`;
  if (x.volume) return `${describeAction(x.action)}: ${x.volume.volumeId} attached`;
  return describeAction(x.action);
}

/** A role with a volume: where it went, and how long the name was unserved for it. */
function volumeNote(r: ReplaceResult): string {
  const v = r.volume;
  if (!v) return '';
  const how =
    v.how === 'created'
      ? `volume ${v.volumeId} created`
      : v.how === 'copied'
        ? `volume copied from ${v.from?.volumeId} (${v.from?.az}) to ${v.volumeId} (${v.az}) by snapshot ${v.snapshots?.final.snapshotId} (${v.snapshots?.final.blocks} blocks${v.snapshots?.final.changedSince ? `, ${v.snapshots.final.changedSince.changed} changed since ${v.snapshots.final.changedSince.snapshotId}` : ''})${v.deletedOld ? `, ${v.deletedOld} deleted` : `, ${v.from?.volumeId} kept`}`
        : `volume ${v.volumeId} ${v.how === 'moved' ? 'moved' : 'attached'}`;
  return `; ${how}${r.unservedMs !== undefined ? `; unserved ${(r.unservedMs / 1000).toFixed(1)} s` : ''}`;
}

function fallbackNote(r: ReplaceResult): string {
  const failed = (r.attempts ?? []).filter((a) => a.error);
  return failed.length ? `; tried first: ${failed.map((a) => `${a.shape.instanceType} ${a.shape.market} ${a.shape.subnetId} (${a.error})`).join(', ')}` : '';
}

export interface UpgradeOptions extends MutateOptions {
  type?: string;
  market?: string;
  image?: string;
  maxUnavailable: string;
  maxSurge: string;
}

const count = (flag: string, v: string): number => checkCount(flag, v);

export async function upgradeCommand(spec: FleetSpec, configFile: string, target: string, deps: Deps, io: CliIo, json: boolean, o: UpgradeOptions): Promise<number> {
  // Bad input first, before any call: exit 2, nothing changed.
  const { role, single } = upgradeTargets(spec, target);
  if (o.market !== undefined && o.market !== 'spot' && o.market !== 'on-demand') throw new InputError(`--market ${JSON.stringify(o.market)}: expected spot or on-demand`);
  if (o.image !== undefined && !/^ami-([0-9a-f]{8}|[0-9a-f]{17})$/.test(o.image)) throw new InputError(`--image ${JSON.stringify(o.image)}: expected an AMI id (ami- and 8 or 17 hex digits)`);
  if (o.type !== undefined && !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(o.type)) throw new InputError(`--type ${JSON.stringify(o.type)}: expected an instance type such as m5.large`);
  const maxSurge = count('--max-surge', o.maxSurge);
  const maxUnavailable = count('--max-unavailable', o.maxUnavailable);
  if (maxSurge === 0 && maxUnavailable === 0) throw new InputError('--max-surge and --max-unavailable cannot both be 0: nothing could be replaced');
  const change = { ...(o.type ? { instanceType: o.type } : {}), ...(o.market ? { market: o.market as Market } : {}), ...(o.image ? { imageId: o.image } : {}) };
  // Validates the type against the role (exit 2) before reading anything.
  checkChange(spec, role, change);

  const ops = await makeOpsDeps(spec, deps, io, json, o);
  await preflight(deps, spec, o.type ? [{ type: o.type, role }] : [], { images: o.image ? [{ id: o.image, role, ...(o.type ? { types: [o.type] } : {}) }] : [] }); // a --type or --image the account lacks, the role's AZs do not offer, or of another architecture: exit 2
  // An image that does not exist is bad input: exit 2 before anything changes.
  if (change.imageId) await resolveImage(ops, { id: change.imageId });
  const plan = await readUpgradePlan(ops, target, change, makeProgress(io, json));
  if (single && plan.steps.length === 0 && plan.skipped[0] && !plan.skipped[0].reason.startsWith('already')) {
    throw new FleetError(`cannot upgrade ${target}: ${plan.skipped[0].reason}`, { exitCode: 1 });
  }
  const suggestion = suggestEdit(configFile, spec, role, change, single ? target : undefined);
  const killFirst = maxSurge === 0;
  const concurrency = killFirst ? maxUnavailable : maxSurge;
  if (!json || o.dryRun) printUpgrade(io, json, plan, { concurrency, killFirst, ttl: spec.dns.ttl, volume: roleOf(spec, role)?.volume !== undefined }, suggestion, Boolean(o.dryRun));
  if (o.dryRun || plan.steps.length === 0) return 0;
  await mayProceed(io, o, `replace ${plan.steps.length} instance${plan.steps.length === 1 ? '' : 's'} of fleet ${spec.fleet}`);

  const { results } = await upgradeFlow(ops, { target, change, maxSurge, maxUnavailable, plan, progress: makeProgress(io, json) });
  const failed = results.filter((r) => !r.ok);
  if (json) io.stdout.write(JSON.stringify({ plan, results, suggestion }, null, 2) + '\n');
  else {
    for (const r of results)
      io.stdout.write(
        !r.ok
          ? `FAILED: ${r.error}\n`
          : r.result
            ? `done: ${r.name} -> ${r.result.instanceId} (${r.result.type} ${r.result.market}, generation ${r.result.generation}); ${r.result.terminated.join(', ') || 'nothing'} terminated${volumeNote(r.result)}\n`
            : `skip ${r.name}: ${r.skipped}\n`,
      );
    if (results.some((r) => r.ok && r.result) && suggestion) io.stdout.write(`\n${suggestion}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

function printUpgrade(io: CliIo, json: boolean, plan: UpgradePlan, how: { concurrency: number; killFirst: boolean; ttl: number; volume: boolean }, suggestion: string | undefined, dryRun: boolean): void {
  if (json) {
    io.stdout.write(JSON.stringify({ dryRun, plan, suggestion }, null, 2) + '\n');
    return;
  }
  if (plan.steps.length === 0) io.stdout.write(`nothing to upgrade to ${describeChange(plan.change)}\n`);
  else {
    io.stdout.write(`upgrade ${plan.target} to ${describeChange(plan.change)}: ${plan.steps.length} name${plan.steps.length === 1 ? '' : 's'}, ${how.concurrency} at a time${how.killFirst ? ', kill-first (--max-surge 0: each name is unserved while it is replaced)' : ''}\n`);
    for (const s of plan.steps) {
      if (how.volume && !how.killFirst) {
        // A role with a volume: the one path where a name is briefly unserved (src/ops/volume.ts).
        io.stdout.write(
          `  ${s.name}: launch generation ${s.generation} in the AZ of its volume, wait converged; then ${s.name} is briefly unserved: stop ${s.from.instanceId} (${s.from.type} ${s.from.market}), move its volume to the new instance (across AZs by a verified snapshot if that AZ has no capacity), swap the record (${s.replaces.ip} -> new), wait INSYNC; then the TTL (${how.ttl} s) and terminate ${s.from.instanceId}\n`,
        );
        continue;
      }
      io.stdout.write(
        how.killFirst
          ? `  ${s.name}: terminate ${s.from.instanceId} (${s.from.type} ${s.from.market}), launch generation ${s.generation}, wait converged, swap the record, wait INSYNC and ${how.ttl} s\n`
          : `  ${s.name}: launch generation ${s.generation} beside ${s.from.instanceId} (${s.from.type} ${s.from.market}), wait converged, swap the record (${s.replaces.ip} -> new), wait INSYNC and the TTL (${how.ttl} s), terminate ${s.from.instanceId}\n`,
      );
    }
  }
  for (const k of plan.skipped) io.stdout.write(`  skip ${k.name}: ${k.reason}\n`);
  if (dryRun && suggestion) io.stdout.write(`\n${suggestion}\n`);
}

/**
 * `fleet kill NAME`: asked on a terminal, the leashed terminator first says which instance a
 * kill would terminate (no lock, nothing changed: all that --dry-run does); once confirmed, the
 * real one kills that very instance under the name's lock, or refuses if another serves the
 * name by then. With --yes the operator asked for the name, not an instance: the real one kills
 * whatever serves the name once its lock is had (src/ops/kill.ts).
 */
export async function killCommand(spec: FleetSpec, target: string, deps: Deps, io: CliIo, json: boolean, o: MutateOptions): Promise<number> {
  const conv = conventionOf(spec);
  const name = parseName(target, conv);
  const role = roleOf(spec, name.role);
  if (!role || name.index > role.count) throw new InputError(`${name.name} is not a name of fleet ${spec.fleet}`);
  const ops = await makeOpsDeps(spec, deps, io, json, o);
  const line = (k: { instanceId: string; type: string; market: string; az: string; ip?: string }) =>
    `kill ${name.name}: terminate ${k.instanceId} (${k.type} ${k.market} ${k.az}, ${k.ip ?? 'no address'}); the record stays and the next \`fleet apply\` rebuilds the name`;
  const nothing = (reason: string, dryRun: boolean): number => {
    if (json) io.stdout.write(JSON.stringify({ dryRun, name: name.name, killed: null, reason }) + '\n');
    else io.stdout.write(reason + '\n');
    return 0;
  };
  let expectInstanceId: string | undefined;
  if (o.dryRun || !o.yes) {
    const planned = await killName(ops, { name: name.name, terminator: leashedTerminator, who: 'fleet kill' });
    if ('reason' in planned) {
      if (planned.status === 'refused') throw new FleetError(planned.reason, { exitCode: 1 });
      return nothing(planned.reason, Boolean(o.dryRun));
    }
    if (o.dryRun) {
      if (json) io.stdout.write(JSON.stringify({ dryRun: true, name: name.name, instanceId: planned.instanceId, plan: planned }) + '\n');
      else io.stdout.write(line(planned) + '\n');
      return 0;
    }
    if (!json) io.stdout.write(line(planned) + '\n');
    await mayProceed(io, o, `terminate ${planned.instanceId} serving ${name.name}`);
    expectInstanceId = planned.instanceId;
  }
  const outcome = await killName(ops, { name: name.name, terminator: realTerminator, who: 'fleet kill', ...(expectInstanceId ? { expectInstanceId } : {}) });
  if ('reason' in outcome) {
    if (outcome.status === 'refused') throw new FleetError(outcome.reason, { exitCode: 1 });
    return nothing(outcome.reason, false);
  }
  if (json) io.stdout.write(JSON.stringify({ dryRun: false, name: name.name, killed: outcome.instanceId, outcome }) + '\n');
  else {
    if (!expectInstanceId) io.stdout.write(line(outcome) + '\n');
    io.stdout.write(`killed ${outcome.instanceId}; ${name.name} now points at a dead instance until \`fleet apply\` rebuilds it\n`);
  }
  return 0;
}
