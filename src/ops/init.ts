/**
 * The `fleet init` flow: observe (does the zone exist, is the journal bucket ours), plan (pure,
 * src/plan/init.ts), execute (create what is missing). Rerunning is a no-op: the zone is created
 * with a caller reference fixed per fleet and zone, and a bucket we already own is the goal.
 * Init runs before the zone exists, so it takes the few ports it needs rather than OpsDeps.
 */
import { randomUUID } from 'node:crypto';
import { FleetError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { Blobs, Dns, Log, Progress } from '../ports.js';
import { freshCallerReference, initCallerReference, planInit, type InitObserved, type InitPlan, type InitStep } from '../plan/init.js';

export interface InitDeps {
  dns: Dns;
  blobs: Blobs;
  log?: Log;
  /** A stop (Ctrl-C, SIGTERM): no new create starts once it is aborted. */
  signal?: AbortSignal;
  /** Checked before each create besides the signal. */
  guard?: () => void;
  /** A fresh caller-reference suffix, for when the fixed reference was spent (default: a UUID). */
  unique?: () => string;
}

export interface InitResult {
  fleet: string;
  /** Every step, created ones with their id; 'create' steps here were carried out. */
  steps: InitStep[];
}

/** Read-only: the zone by name and the bucket's status. `region` is where a new bucket goes (the edge resolves it). */
export async function observeInit(spec: FleetSpec, deps: Pick<InitDeps, 'dns' | 'blobs'>, region: string): Promise<InitObserved> {
  const [zone, bucket] = await Promise.all([deps.dns.findZone(spec.dns.zone), deps.blobs.bucketStatus(spec.journal.bucket)]);
  return { zone: zone ? { id: zone.id } : undefined, bucket, region };
}

/** Observe and plan: what `fleet init` would do (read-only). */
export async function readInitPlan(spec: FleetSpec, deps: Pick<InitDeps, 'dns' | 'blobs'>, region: string): Promise<InitPlan> {
  return planInit(spec, await observeInit(spec, deps, region));
}

/** The error a refused plan stands for (exit 1: the cloud, not the input, is in the way). */
export function initRefusal(plan: InitPlan): FleetError | undefined {
  if (plan.refusal === undefined) return undefined;
  const bucket = plan.steps.find((s) => s.resource === 'bucket')?.name;
  return new FleetError(plan.refusal, { exitCode: 1, data: { bucket } });
}

function checkpoint(deps: InitDeps): void {
  deps.signal?.throwIfAborted();
  deps.guard?.();
}

/** Carry out the plan: the zone, then the bucket. A refused plan creates nothing and throws. */
export async function executeInit(deps: InitDeps, plan: InitPlan, progress?: Progress): Promise<InitResult> {
  const refused = initRefusal(plan);
  if (refused) throw refused;
  const done: InitStep[] = [];
  try {
    for (const step of plan.steps) {
      if (step.action === 'exists') {
        done.push(step);
        continue;
      }
      checkpoint(deps);
      if (step.resource === 'hosted-zone') {
        progress?.update(`creating hosted zone ${step.name}…`);
        const comment = step.comment ?? `fleet ${plan.fleet}: the inventory of ${step.name}`;
        let ref = step.callerReference ?? initCallerReference(plan.fleet, step.name);
        let zone;
        try {
          zone = await deps.dns.createZone(step.name, ref, comment);
        } catch (err) {
          // The fixed reference was spent by a zone deleted since (Route 53 never reuses one; the
          // adapter already returned the zone when it still exists): use a fresh one.
          if ((err as { code?: string }).code !== 'HostedZoneAlreadyExists') throw err;
          checkpoint(deps);
          ref = freshCallerReference(plan.fleet, step.name, (deps.unique ?? randomUUID)());
          deps.log?.({ level: 'warn', event: 'init-fresh-reference', msg: `caller reference ${step.callerReference} was spent by a deleted zone; creating ${step.name} with ${ref}`, zone: step.name, callerReference: ref });
          zone = await deps.dns.createZone(step.name, ref, comment);
        }
        done.push({ ...step, id: zone.id, callerReference: ref });
        deps.log?.({ level: 'info', event: 'init-created', msg: `created hosted zone ${step.name} (${zone.id})`, resource: step.resource, name: step.name, id: zone.id });
      } else {
        progress?.update(`creating bucket ${step.name}…`);
        await deps.blobs.createBucket(step.name, step.region);
        done.push(step);
        deps.log?.({ level: 'info', event: 'init-created', msg: `created bucket ${step.name} in ${step.region}`, resource: step.resource, name: step.name, region: step.region });
      }
    }
  } finally {
    progress?.done();
  }
  return { fleet: plan.fleet, steps: done };
}
