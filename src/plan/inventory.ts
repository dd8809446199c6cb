/**
 * The inventory (DESIGN.md section 2): every name in the zone joined with the instance that
 * serves it, and what is wrong. Pure: desired spec + observed DNS and EC2 in, a value out.
 */
import type { DnsRecord, FleetSpec, Instance, InstanceState } from '../model.js';
import { conventionOf, nameError, tryParseShort } from '../naming.js';
import { TAG } from '../tags.js';

export type ProblemKind =
  /** A desired name has no record. */
  | 'missing-record'
  /** The record points at an address no live instance of the fleet has. */
  | 'dead-target'
  /** A live instance of the fleet that no record points at. */
  | 'orphan'
  /** A record for a fleet name that fleet.yaml no longer wants. */
  | 'not-desired'
  /** The record points at an instance tagged with another name. */
  | 'name-mismatch'
  /** The record points at an instance that has not reported convergence. */
  | 'not-converged'
  /** The record holds several values or is not an A record. */
  | 'bad-record';

export interface Problem {
  kind: ProblemKind;
  message: string;
}

export const LIVE_STATES: ReadonlySet<InstanceState> = new Set(['pending', 'running']);

export interface InventoryRow {
  name: string;
  fqdn: string;
  role: string;
  index: number;
  desired: boolean;
  record?: { type: string; ttl: number; values: string[] };
  /** The instance the record points at, when there is one. */
  instance?: Instance;
  problems: Problem[];
}

export interface OrphanRow {
  instance: Instance;
  problems: Problem[];
}

export interface IgnoredRecord {
  name: string;
  type: string;
  reason: string;
}

export interface Inventory {
  fleet: string;
  zone: string;
  rows: InventoryRow[];
  orphans: OrphanRow[];
  /** Records in the zone that are not fleet names (other than the apex SOA/NS). */
  ignored: IgnoredRecord[];
  /**
   * Live standbys (tagged fleet:standby, pre-warmed on a rebalance recommendation and kept out
   * of DNS until the warning): not orphans. Present only when there is one.
   */
  standbys?: { instance: Instance; name?: string; since: string }[];
  summary: {
    names: number;
    desired: number;
    served: number;
    converged: number;
    problems: Record<ProblemKind, number>;
  };
}

export interface InventoryOptions {
  /** Only this role. */
  role?: string;
}

/** Join records and instances. Records are matched to instances by private IP. */
export function buildInventory(spec: FleetSpec, observed: { records: readonly DnsRecord[]; instances: readonly Instance[] }, opts: InventoryOptions = {}): Inventory {
  const conv = conventionOf(spec);
  const roleOrder = new Map(spec.roles.map((r, i) => [r.name, i]));
  // A parsed name is in its canonical spelling, so it is desired exactly when its role is in
  // fleet.yaml and its index within the role's count: no set of every desired name is built
  // (at 100,000 names, memory), and each row's role is the spec's own string.
  const specRoles = new Map(spec.roles.map((r) => [r.name, r]));

  // Index the fleet's instances by private IP, live ones first (a terminated instance may
  // still show an address a new one now uses).
  const byIp = new Map<string, Instance>();
  for (const inst of observed.instances) {
    if (!inst.privateIp) continue;
    const prev = byIp.get(inst.privateIp);
    if (!prev || (!LIVE_STATES.has(prev.state) && LIVE_STATES.has(inst.state))) byIp.set(inst.privateIp, inst);
  }

  const rows = new Map<string, InventoryRow>();
  const ignored: IgnoredRecord[] = [];
  const pointedAt = new Set<string>();

  for (const rec of observed.records) {
    if (rec.name === conv.zone && (rec.type === 'SOA' || rec.type === 'NS')) continue;
    const parsed = tryParseShort(rec.name, conv);
    if (!parsed) {
      ignored.push({ name: rec.name, type: rec.type, reason: nameError(rec.name, conv) ?? 'not a fleet name' });
      continue;
    }
    const specRole = specRoles.get(parsed.role);
    if (specRole) parsed.role = specRole.name;
    const desired = specRole !== undefined && parsed.index <= specRole.count;
    // A record's name is the fqdn (decoded: lowercase, no trailing dot), or the short name.
    const fqdn = rec.name === parsed.name ? `${parsed.name}.${conv.zone}` : rec.name;
    if (rec.type !== 'A') {
      // Only A records serve names; anything else at a fleet name is a mistake worth seeing.
      const row = rowFor(rows, parsed.name, fqdn, parsed.role, parsed.index, desired);
      row.problems.push({ kind: 'bad-record', message: `${rec.type} record at a fleet name; fleet names are A records` });
      continue;
    }
    const row = rowFor(rows, parsed.name, fqdn, parsed.role, parsed.index, desired);
    // The record's own values array, not a copy: at 100,000 names every copy is memory.
    row.record = { type: rec.type, ttl: rec.ttl, values: rec.values as string[] };
    if (rec.values.length !== 1) {
      row.problems.push({ kind: 'bad-record', message: `record holds ${rec.values.length} addresses (${rec.values.join(', ')}); a name is served by exactly one instance` });
    }
    for (const ip of rec.values) pointedAt.add(ip);
    const target = rec.values[0] !== undefined ? byIp.get(rec.values[0]) : undefined;
    if (target) row.instance = target;
    if (!target || !LIVE_STATES.has(target.state)) {
      row.problems.push({
        kind: 'dead-target',
        message: target ? `record points at ${target.id} (${rec.values[0]}), which is ${target.state}` : `record points at ${rec.values[0] ?? 'nothing'}, which no live instance of fleet ${spec.fleet} has`,
      });
    } else {
      if (target.name !== undefined && target.name !== parsed.name) {
        row.problems.push({ kind: 'name-mismatch', message: `record points at ${target.id}, which is tagged ${target.name}` });
      }
      if (!target.converged) {
        row.problems.push({ kind: 'not-converged', message: `record points at ${target.id}, which has not reported convergence` });
      }
    }
    if (!row.desired) {
      row.problems.push({ kind: 'not-desired', message: roleOrder.has(parsed.role) ? `index ${parsed.index} is beyond role ${parsed.role}'s count in fleet.yaml` : `role ${parsed.role} is not in fleet.yaml` });
    }
  }

  // Every desired name without a row, one role at a time, spelled as formatName spells it
  // (fleet.yaml's roles and counts are valid names by now). A row exists only for a record, so
  // a role with a row for each of its `count` desired names has none missing: the loop is
  // skipped (the common case, at 100,000 names).
  const desiredRows = new Map<string, number>();
  for (const row of rows.values()) if (row.desired) desiredRows.set(row.role, (desiredRows.get(row.role) ?? 0) + 1);
  for (const role of spec.roles) {
    if (desiredRows.get(role.name) === role.count) continue;
    for (let index = 1; index <= role.count; index++) {
      const name = `${role.name}-${String(index).padStart(conv.indexDigits, '0')}`;
      let row = rows.get(name);
      if (!row) row = rowFor(rows, name, `${name}.${conv.zone}`, role.name, index, true);
      if (!row.record && !row.problems.some((p) => p.kind === 'bad-record')) {
        row.problems.push({ kind: 'missing-record', message: `fleet.yaml wants ${name}, but the zone has no record for it` });
      }
    }
  }

  const orphans: OrphanRow[] = [];
  const standbys: NonNullable<Inventory['standbys']> = [];
  for (const inst of observed.instances) {
    if (!LIVE_STATES.has(inst.state)) continue;
    if (inst.privateIp && pointedAt.has(inst.privateIp)) continue;
    const since = inst.tags[TAG.standby];
    if (since !== undefined) {
      if (opts.role === undefined || inst.role === opts.role) standbys.push({ instance: inst, ...(inst.name ? { name: inst.name } : {}), since });
      continue;
    }
    orphans.push({
      instance: inst,
      problems: [{ kind: 'orphan', message: `${inst.id}${inst.name ? ` (tagged ${inst.name})` : ''} is ${inst.state}, but no record points at it` }],
    });
  }

  let list = [...rows.values()].sort((a, b) => {
    const ra = roleOrder.get(a.role) ?? Number.MAX_SAFE_INTEGER;
    const rb = roleOrder.get(b.role) ?? Number.MAX_SAFE_INTEGER;
    if (ra !== rb) return ra - rb;
    if (a.role !== b.role) return a.role < b.role ? -1 : 1;
    return a.index - b.index;
  });
  let orphanList = orphans.sort((a, b) => (a.instance.name ?? '').localeCompare(b.instance.name ?? '') || a.instance.id.localeCompare(b.instance.id));
  if (opts.role !== undefined) {
    list = list.filter((r) => r.role === opts.role);
    orphanList = orphanList.filter((o) => o.instance.role === opts.role);
  }

  const problems: Record<ProblemKind, number> = {
    'missing-record': 0,
    'dead-target': 0,
    orphan: orphanList.length,
    'not-desired': 0,
    'name-mismatch': 0,
    'not-converged': 0,
    'bad-record': 0,
  };
  for (const r of list) for (const p of r.problems) problems[p.kind]++;

  return {
    fleet: spec.fleet,
    zone: spec.dns.zone,
    rows: list,
    orphans: orphanList,
    ignored: opts.role === undefined ? ignored : [],
    ...(standbys.length > 0 ? { standbys } : {}),
    summary: {
      names: list.length,
      desired: list.filter((r) => r.desired).length,
      served: list.filter((r) => r.instance && LIVE_STATES.has(r.instance.state)).length,
      converged: list.filter((r) => r.instance && LIVE_STATES.has(r.instance.state) && r.instance.converged).length,
      problems,
    },
  };
}

function rowFor(rows: Map<string, InventoryRow>, name: string, fqdn: string, role: string, index: number, desired: boolean): InventoryRow {
  let row = rows.get(name);
  if (!row) {
    row = { name, fqdn, role, index, desired, problems: [] };
    rows.set(name, row);
  }
  return row;
}

/** True when the inventory shows any problem. */
export function hasDrift(inv: Inventory): boolean {
  return Object.values(inv.summary.problems).some((n) => n > 0);
}
