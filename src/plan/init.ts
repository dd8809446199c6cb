/**
 * `fleet init` as a value: from what was observed (does the zone exist, is the journal bucket
 * ours, absent, or someone else's, which region), the steps that make the zone and the bucket
 * exist. Pure: ops/init.ts observes and executes; the CLI prints this value for --dry-run and
 * --json.
 */
import { createHash } from 'node:crypto';
import type { FleetSpec } from '../model.js';
import type { BucketStatus } from '../ports.js';

/** Route 53 takes caller references of 1 to 128 characters; a fresh one adds 1 + 36 (a UUID). */
const MAX_FIXED_REFERENCE = 128 - 37;

/** What `fleet init` looked at (read-only calls, made by ops/init.ts). */
export interface InitObserved {
  /** The public hosted zone named like the fleet's zone, when there is one. */
  zone: { id: string } | undefined;
  /** The journal bucket: ours ('yes'), absent ('no'), another account's ('foreign': 403), or in another region. */
  bucket: BucketStatus;
  /** The region a new bucket is created in (fleet.yaml's region, else the SDK's). */
  region: string;
}

export interface ZoneStep {
  resource: 'hosted-zone';
  name: string;
  action: 'create' | 'exists';
  /** The zone id: known for 'exists', and once created. */
  id?: string;
  /** For 'create': the caller reference, fixed per fleet and zone (see initCallerReference). */
  callerReference?: string;
  /** For 'create': the zone's comment. */
  comment?: string;
}

export interface BucketStep {
  resource: 'bucket';
  name: string;
  action: 'create' | 'exists';
  region: string;
}

export type InitStep = ZoneStep | BucketStep;

export interface InitPlan {
  fleet: string;
  /** The zone first, then the bucket; 'exists' steps do nothing. */
  steps: InitStep[];
  /** Set when init must not go on (nothing is created): why, and what to do. */
  refusal?: string;
}

/**
 * The caller reference of the zone: fixed per fleet and zone, so a retried or concurrent init
 * creates one zone, not two (Route 53 answers HostedZoneAlreadyExists to a second create).
 */
export function initCallerReference(fleet: string, zone: string): string {
  const plain = `fleet-init/${fleet}/${zone}`;
  // A zone name may have 253 characters: a long one is spelled by its hash, still fixed per fleet and zone.
  return plain.length <= MAX_FIXED_REFERENCE ? plain : `fleet-init/${fleet}/${createHash('sha256').update(zone).digest('hex').slice(0, 40)}`;
}

/**
 * The reference to use when the fixed one was spent by a zone deleted since (Route 53 never
 * reuses a caller reference): the fixed one plus a fresh suffix the caller supplies (no rng here).
 */
export function freshCallerReference(fleet: string, zone: string, unique: string): string {
  return `${initCallerReference(fleet, zone)}/${unique}`;
}

export function planInit(spec: FleetSpec, observed: InitObserved): InitPlan {
  const zone = spec.dns.zone;
  const bucket = spec.journal.bucket;
  const steps: InitStep[] = [
    observed.zone
      ? { resource: 'hosted-zone', name: zone, action: 'exists', id: observed.zone.id }
      : { resource: 'hosted-zone', name: zone, action: 'create', callerReference: initCallerReference(spec.fleet, zone), comment: `fleet ${spec.fleet}: the inventory of ${zone}` },
    { resource: 'bucket', name: bucket, action: observed.bucket === 'yes' ? 'exists' : 'create', region: observed.region },
  ];
  const plan: InitPlan = { fleet: spec.fleet, steps };
  if (observed.bucket === 'foreign') {
    plan.refusal = `journal bucket ${bucket} exists but this account may not use it (403); choose another journal.bucket in fleet.yaml`;
  } else if (typeof observed.bucket === 'object') {
    const there = observed.bucket.elsewhere;
    plan.refusal = `journal bucket ${bucket} exists in ${there}, not in ${observed.region} where this fleet runs; set region: ${there} in fleet.yaml or choose another journal.bucket`;
  }
  return plan;
}

/** Whether executing the plan would change anything. */
export function initChanges(plan: InitPlan): boolean {
  return plan.refusal === undefined && plan.steps.some((s) => s.action === 'create');
}
