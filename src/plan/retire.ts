/**
 * The retire plan (`fleet retire NAME`, and apply's retirement of names fleet.yaml no longer
 * wants): a pure value. The record is deleted first (exactly as it is, so a concurrent change
 * fails the delete and nothing else happens), then, once that is INSYNC and the TTL has passed,
 * the live instances tagged with the name are terminated. An instance the record points at
 * that is tagged with another name (or none) is left alone. The name's stateful exceptions are
 * kept: its `state.s3` objects (unless asked to delete them, after its instances are gone)
 * and its volume.
 */
import type { DnsRecord, FleetName, FleetSpec, Instance, Volume } from '../model.js';
import { desiredNames } from '../naming.js';
import { LIVE_STATES } from './inventory.js';
import { roleOf } from './shape.js';
import { usableVolume } from './volume.js';

/** `s3://bucket/<prefix>/<name>/` as bucket and key prefix, when the name's role declares `state.s3`. */
export function stateLocation(spec: FleetSpec, name: string): { bucket: string; prefix: string; url: string } | undefined {
  const role = roleOf(spec, name.slice(0, name.lastIndexOf('-')));
  if (!role?.stateS3) return undefined;
  const prefix = `${role.stateS3.prefix === '' ? '' : `${role.stateS3.prefix}/`}${name}/`;
  return { bucket: role.stateS3.bucket, prefix, url: `s3://${role.stateS3.bucket}/${prefix}` };
}

export interface RetirePlan {
  name: string;
  fqdn: string;
  /** The record to delete, exactly as it is; null when the name has none. */
  record: { ttl: number; values: string[] } | null;
  /** Live instances tagged with the name: terminated once the record's deletion is INSYNC and the TTL passed. */
  instanceIds: string[];
  /** For people: what each instance to terminate is. */
  instances: { id: string; type: string; state: string; privateIp?: string }[];
  /** Live instances the record points at that are tagged with another name (or none): left alone. */
  strangers: { id: string; name?: string }[];
  /** The name's state.s3 prefix, when its role has one, with the number of objects there now. */
  state: { location: string; bucket: string; prefix: string; objects: number; delete: boolean } | null;
  /** Volumes of the name, kept. */
  volumesKept: { id: string; sizeGiB: number; type: string; az: string }[];
  /** The name is still in fleet.yaml: the next apply launches it again. */
  stillDesired: boolean;
  /** Set when there is nothing to do, with the reason. */
  nothing?: string;
}

export interface RetireInput {
  records: DnsRecord[];
  instances: Instance[];
  volumes?: Volume[];
  /** Keys under the name's state prefix now (listed only when its role has state.s3). */
  stateKeys?: string[];
}

export function planRetire(spec: FleetSpec, name: FleetName, now: RetireInput, opts: { deleteState?: boolean } = {}): RetirePlan {
  const rec = now.records[0];
  const victims = now.instances.filter((i) => LIVE_STATES.has(i.state) && i.name === name.name);
  const strangers = rec ? now.instances.filter((i) => LIVE_STATES.has(i.state) && i.name !== name.name && i.privateIp !== undefined && rec.values.includes(i.privateIp)) : [];
  const loc = stateLocation(spec, name.name);
  const keys = now.stateKeys ?? [];
  const volumes = (now.volumes ?? []).filter(usableVolume);
  const plan: RetirePlan = {
    name: name.name,
    fqdn: name.fqdn,
    record: rec ? { ttl: rec.ttl, values: [...rec.values] } : null,
    instanceIds: victims.map((i) => i.id),
    instances: victims.map((i) => ({ id: i.id, type: i.type, state: i.state, ...(i.privateIp ? { privateIp: i.privateIp } : {}) })),
    strangers: strangers.map((i) => ({ id: i.id, ...(i.name ? { name: i.name } : {}) })),
    state: loc ? { location: loc.url, bucket: loc.bucket, prefix: loc.prefix, objects: keys.length, delete: Boolean(opts.deleteState) } : null,
    volumesKept: volumes.map((v) => ({ id: v.id, sizeGiB: v.sizeGiB, type: v.type, az: v.az })),
    stillDesired: desiredNames(spec).some((n) => n.name === name.name),
  };
  if (!rec && victims.length === 0 && !(opts.deleteState && keys.length > 0)) {
    plan.nothing = `${name.name} has no record and no live instance${loc ? ` (its state ${loc.url} holds ${keys.length} object${keys.length === 1 ? '' : 's'})` : ''}; nothing to retire`;
  }
  return plan;
}

/** The plan for people, one line per step. */
export function describeRetire(plan: RetirePlan): string[] {
  if (plan.nothing) return [plan.nothing];
  const lines: string[] = [];
  const role = plan.name.slice(0, plan.name.lastIndexOf('-'));
  if (plan.record) lines.push(`delete the record ${plan.fqdn} A ${plan.record.values.join(', ')} (TTL ${plan.record.ttl} s), wait until INSYNC${plan.instances.length ? ' and the TTL' : ''}`);
  lines.push(plan.instances.length ? `terminate ${plan.instances.map((i) => `${i.id} (${i.type} ${i.state}${i.privateIp ? `, ${i.privateIp}` : ''})`).join(', ')}` : 'terminate nothing (no live instance tagged with the name)');
  for (const i of plan.strangers) lines.push(`leave ${i.id} alone: the record pointed at it, but it is tagged ${i.name ?? 'with no name'}`);
  const st = plan.state;
  if (st) {
    lines.push(
      st.delete
        ? `DELETE the ${st.objects} object${st.objects === 1 ? '' : 's'} of its state ${st.location} once its instances are gone`
        : `keep its state ${st.location} (${st.objects} object${st.objects === 1 ? '' : 's'}; --delete-state deletes it)`,
    );
  }
  for (const v of plan.volumesKept) lines.push(`keep its volume ${v.id} (${v.sizeGiB} GiB ${v.type}, ${v.az})`);
  if (plan.stillDesired) lines.push(`note: ${plan.name} is still in fleet.yaml (role ${role}): the next \`fleet apply\` launches it again${st && !st.delete ? ' from its saved state' : ''}; lower the role's count first to retire it for good`);
  return lines;
}
