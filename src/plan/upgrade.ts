/**
 * Plan a replace-by-name upgrade of one name or every name of a role (pure). Each step says
 * what serves the name now and what replaces it; names already in the target shape are
 * skipped, so rerunning an upgrade is a no-op.
 */
import { InputError } from '../errors.js';
import type { DnsRecord, FleetName, FleetSpec, Instance, Market, RecordTarget } from '../model.js';
import { conventionOf, desiredNames, parseName, tryParseName } from '../naming.js';
import { LIVE_STATES } from './inventory.js';
import { allowedTypes, roleOf } from './shape.js';

export interface UpgradeChange {
  instanceType?: string;
  market?: Market;
  /** A resolved AMI id. */
  imageId?: string;
}

export interface UpgradeStep {
  name: string;
  role: string;
  from: { instanceId: string; type: string; market: Market; imageId?: string; generation: number };
  replaces: RecordTarget;
  generation: number;
}

export interface UpgradePlan {
  target: string;
  change: UpgradeChange;
  steps: UpgradeStep[];
  skipped: { name: string; reason: string }[];
}

/** Resolve the target (a name or a role) or throw InputError with the reason. */
export function upgradeTargets(spec: FleetSpec, target: string): { role: string; names: FleetName[]; single: boolean } {
  const conv = conventionOf(spec);
  const asRole = roleOf(spec, target);
  if (asRole) return { role: asRole.name, names: desiredNames(spec).filter((n) => n.role === asRole.name), single: false };
  if (/^[a-z][a-z0-9]*$/.test(target)) {
    throw new InputError(`${target} is neither a role of fleet ${spec.fleet} (roles: ${spec.roles.map((r) => r.name).join(', ')}) nor a name such as ${spec.roles[0]?.name ?? 'web'}-01`);
  }
  const name = parseName(target, conv); // throws NameError (exit 2) with the reason
  const role = roleOf(spec, name.role);
  if (!role) throw new InputError(`${name.name}: role ${name.role} is not in fleet ${spec.fleet} (roles: ${spec.roles.map((r) => r.name).join(', ')})`);
  if (name.index > role.count) throw new InputError(`${name.name} is not a name of fleet ${spec.fleet}: role ${role.name} has ${role.count} name${role.count === 1 ? '' : 's'}`);
  return { role: role.name, names: [name], single: true };
}

/** Check the requested change against the role: exit 2 for a type the role does not allow. */
export function checkChange(spec: FleetSpec, roleName: string, change: UpgradeChange): void {
  const role = roleOf(spec, roleName)!;
  if (change.instanceType === undefined && change.market === undefined && change.imageId === undefined) {
    throw new InputError('nothing to change: give --type, --market or --image');
  }
  if (change.instanceType !== undefined && !allowedTypes(role).includes(change.instanceType)) {
    throw new InputError(
      `instance type ${change.instanceType} is not allowed for role ${role.name} (allowed: ${allowedTypes(role).join(', ')}); add it to roles.${role.name}.alternatives in fleet.yaml first`,
    );
  }
}

export function planUpgrade(
  spec: FleetSpec,
  observed: { records: readonly DnsRecord[]; instances: readonly Instance[] },
  target: string,
  change: UpgradeChange,
): UpgradePlan {
  const { role, names } = upgradeTargets(spec, target);
  checkChange(spec, role, change);
  const conv = conventionOf(spec);
  const mine = observed.instances.filter((i) => i.fleet === spec.fleet);
  const byIp = new Map<string, Instance>();
  for (const i of mine) if (i.privateIp && (LIVE_STATES.has(i.state) || !byIp.has(i.privateIp))) byIp.set(i.privateIp, i);
  const records = new Map<string, DnsRecord>();
  for (const r of observed.records) {
    if (r.type !== 'A') continue;
    const n = tryParseName(r.name, conv);
    if (n) records.set(n.name, r);
  }
  const steps: UpgradeStep[] = [];
  const skipped: UpgradePlan['skipped'] = [];
  for (const n of names) {
    const rec = records.get(n.name);
    if (!rec || rec.values.length !== 1) {
      skipped.push({ name: n.name, reason: rec ? 'its record holds several values' : 'it has no record; `fleet apply` creates it' });
      continue;
    }
    const cur = byIp.get(rec.values[0]!);
    if (!cur || !LIVE_STATES.has(cur.state) || !cur.converged) {
      skipped.push({ name: n.name, reason: `it is not served by a live converged instance now (record points at ${rec.values[0]}); \`fleet apply\` heals it first` });
      continue;
    }
    const same =
      (change.instanceType === undefined || change.instanceType === cur.type) &&
      (change.market === undefined || change.market === cur.market) &&
      (change.imageId === undefined || change.imageId === cur.imageId);
    if (same) {
      skipped.push({ name: n.name, reason: `already ${describeChange(change)} (${cur.id})` });
      continue;
    }
    const gens = mine.filter((i) => i.name === n.name).map((i) => i.generation ?? 0);
    steps.push({
      name: n.name,
      role,
      from: { instanceId: cur.id, type: cur.type, market: cur.market, ...(cur.imageId ? { imageId: cur.imageId } : {}), generation: cur.generation ?? 0 },
      replaces: { ip: rec.values[0]!, ttl: rec.ttl, instanceId: cur.id },
      generation: Math.max(0, ...gens) + 1,
    });
  }
  return { target, change, steps, skipped };
}

export function describeChange(c: UpgradeChange): string {
  return [c.instanceType, c.market, c.imageId].filter(Boolean).join(' ');
}
