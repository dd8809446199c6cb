/**
 * The read every flow starts from: the zone's records and the fleet's instances (and volumes,
 * when a role declares one), listed in parallel. A read, not an action: `fleet ls` renders it,
 * the flows plan from it.
 */
import { FleetError } from '../errors.js';
import type { DnsRecord, FleetSpec, Instance, Volume } from '../model.js';
import type { Dns, Instances, Volumes, HostedZone, Progress } from '../ports.js';

/** What the read needs: the two listing ports (an OpsDeps or the CLI's deps both have them). */
export interface ObserveDeps {
  dns: Dns;
  instances: Instances;
  /** Read only when a role declares a volume. */
  volumes: Volumes;
  /**
   * Paces the listings at AWS's rates (`route53:api`, `ec2:describe`): every page waits for its
   * token, so a zone of 100,000 names reads at Route 53's rate without a throttled call.
   * OpsDeps has one; `fleet ls` makes its own.
   */
  limiter?: { take(bucket: string, n?: number): Promise<void> };
}

export interface ObservedNow {
  zone: HostedZone;
  records: DnsRecord[];
  instances: Instance[];
  /** Read only when a role declares a volume. */
  volumes?: Volume[];
}

/**
 * Read the zone and the fleet's instances: two paginated listings, in parallel (Route 53 and
 * EC2 have buckets of their own: the EC2 listing hides inside the Route 53 one). Each page is
 * mapped to compact rows (DnsRecord, Instance) by the adapter as it arrives and the SDK's page
 * is dropped; with a limiter, each page waits for its token first.
 */
export async function readObserved(spec: FleetSpec, deps: ObserveDeps, progress: Progress, known?: HostedZone): Promise<ObservedNow> {
  progress.update(`looking up zone ${spec.dns.zone}…`);
  const limiter = deps.limiter;
  // A page AWS throttled all the same (another caller in the account, a bucket still low from
  // a command just before) re-syncs the limiter through the edge's ThrottleFeed (ops/limiter.ts).
  const r53Page = limiter ? () => limiter.take('route53:api') : undefined;
  const ec2Page = limiter ? () => limiter.take('ec2:describe') : undefined;
  if (!known) await r53Page?.();
  const zone = known ?? (await deps.dns.findZone(spec.dns.zone));
  if (!zone) {
    progress.done();
    throw new FleetError(`hosted zone ${spec.dns.zone} does not exist; run \`fleet init\` to create it`, { exitCode: 1, data: { zone: spec.dns.zone } });
  }
  let rec = { pages: 0, items: 0 };
  let ins = { pages: 0, items: 0 };
  const show = () => progress.update(`reading zone ${spec.dns.zone}: ${rec.items} records (${rec.pages} pages) · instances: ${ins.items} (${ins.pages} pages)`);
  try {
    const withVolumes = spec.roles.some((r) => r.volume);
    const [records, instances, volumes] = await Promise.all([
      deps.dns.listRecords(
        zone.id,
        (p) => {
          rec = p;
          show();
        },
        r53Page,
      ),
      deps.instances.listFleetInstances(
        spec.fleet,
        (p) => {
          ins = p;
          show();
        },
        ec2Page,
      ),
      withVolumes ? deps.volumes.listFleetVolumes(spec.fleet) : Promise.resolve(undefined),
    ]);
    return { zone, records, instances, ...(volumes ? { volumes } : {}) };
  } finally {
    progress.done();
  }
}


/** A progress that shows nothing (flows called without a terminal: the controller, the Lambda, tests). */
export const quietProgress: Progress = { update: () => {}, done: () => {} };
