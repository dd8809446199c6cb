/** Read the zone and the fleet's instances: two paginated listings, in parallel (moved from cli/commands/ls.ts). */
import { FleetError } from '../errors.js';
import type { DnsRecord, FleetSpec, Instance, Observed, Volume } from '../model.js';
import type { Compute, Dns, HostedZone, Progress } from '../ports.js';

export interface ObservedNow extends Observed {
  zone: HostedZone;
  records: DnsRecord[];
  instances: Instance[];
  volumes?: Volume[];
}

export async function readObserved(spec: FleetSpec, deps: { dns: Dns; compute: Compute }, progress: Progress, known?: HostedZone): Promise<ObservedNow> {
  progress.update(`looking up zone ${spec.dns.zone}…`);
  const zone = known ?? (await deps.dns.findZone(spec.dns.zone));
  if (!zone) {
    progress.done();
    throw new FleetError(`hosted zone ${spec.dns.zone} does not exist; run \`fleet init\` to create it`, { exitCode: 1, data: { zone: spec.dns.zone } });
  }
  try {
    const withVolumes = spec.roles.some((r) => r.volume);
    const [records, instances, volumes] = await Promise.all([
      deps.dns.listRecords(zone.id),
      deps.compute.listFleetInstances(spec.fleet),
      withVolumes ? deps.compute.listFleetVolumes(spec.fleet) : Promise.resolve(undefined),
    ]);
    return { zone, records, instances, ...(volumes ? { volumes } : {}) };
  } finally {
    progress.done();
  }
}
