import { randomUUID } from 'node:crypto';
import type { FleetSpec } from '../../model.js';
import type { Progress } from '../../ports.js';
import { FleetError } from '../../errors.js';
import { resolvedRegion, type Deps } from '../wiring.js';

export interface InitStep {
  resource: 'hosted-zone' | 'bucket';
  name: string;
  action: 'create' | 'exists';
  id?: string;
  region?: string;
}

/** Plan what `fleet init` would do: read-only. */
export async function planInit(spec: FleetSpec, deps: Deps): Promise<InitStep[]> {
  const [zone, bucket, region] = await Promise.all([deps.dns.findZone(spec.dns.zone), deps.blobs.bucketStatus(spec.journal.bucket), resolvedRegion(deps)]);
  if (bucket === 'foreign') {
    throw new FleetError(`journal bucket ${spec.journal.bucket} exists but this account may not use it (403); choose another journal.bucket in fleet.yaml`, {
      exitCode: 1,
      data: { bucket: spec.journal.bucket },
    });
  }
  return [
    zone ? { resource: 'hosted-zone', name: spec.dns.zone, action: 'exists', id: zone.id } : { resource: 'hosted-zone', name: spec.dns.zone, action: 'create' },
    { resource: 'bucket', name: spec.journal.bucket, action: bucket === 'yes' ? 'exists' : 'create', region },
  ];
}

/** Carry out the plan; rerunning is a no-op. */
export async function applyInit(spec: FleetSpec, deps: Deps, steps: InitStep[], progress: Progress): Promise<InitStep[]> {
  const done: InitStep[] = [];
  for (const step of steps) {
    if (step.action === 'exists') {
      done.push(step);
      continue;
    }
    if (step.resource === 'hosted-zone') {
      progress.update(`creating hosted zone ${step.name}…`);
      // A caller reference fixed per fleet and zone makes a retried or concurrent init create one zone, not two.
      const comment = `fleet ${spec.fleet}: the inventory of ${step.name}`;
      let zone;
      try {
        zone = await deps.dns.createZone(step.name, `fleet-init/${spec.fleet}/${step.name}`, comment);
      } catch (err) {
        // The fixed reference was spent by a zone deleted since (Route 53 never reuses one): use a fresh one.
        if ((err as { code?: string }).code !== 'HostedZoneAlreadyExists') throw err;
        zone = await deps.dns.createZone(step.name, `fleet-init/${spec.fleet}/${step.name}/${randomUUID()}`, comment);
      }
      done.push({ ...step, id: zone.id });
    } else {
      progress.update(`creating bucket ${step.name}…`);
      await deps.blobs.createBucket(step.name, step.region ?? (await resolvedRegion(deps)));
      done.push(step);
    }
  }
  progress.done();
  return done;
}

export function describeStep(s: InitStep, dryRun: boolean): string {
  const what = s.resource === 'hosted-zone' ? `hosted zone ${s.name}` : `journal bucket ${s.name}`;
  if (s.action === 'exists') return `${what}: exists${s.id ? ` (${s.id})` : ''}, nothing to do`;
  return dryRun ? `${what}: would create${s.region && s.resource === 'bucket' ? ` in ${s.region}` : ''}` : `${what}: created${s.id ? ` (${s.id})` : ''}`;
}
