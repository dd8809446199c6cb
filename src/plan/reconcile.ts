/**
 * The reconciler's plan (DESIGN.md section 4, Reconcile): pure. Desired (the spec), observed
 * (records and the fleet's instances) and the time in; a Plan out. No I/O, no clock, no random.
 *
 * Per desired name:
 * - served by a live, converged instance tagged with it: nothing to do;
 * - no record, or a record pointing at a dead instance: if a live instance tagged with the name
 *   exists (a launch that was cut off before its DNS step), adopt it; otherwise launch the
 *   next generation. Either way the record is written only after convergence.
 * Names no longer desired are retired (record first, then instances). Tagged instances that no
 * record points at and that no action adopts are collected once older than the grace period.
 */
import type { FleetName, Action, DnsRecord, FleetSpec, Instance, Plan, RecordTarget, Volume, VolumeNote } from '../model.js';
import { conventionOf, desiredNames, tryParseName, tryParseShort } from '../naming.js';
import { TAG } from '../tags.js';
import { LIVE_STATES } from './inventory.js';
import { byAge, currentVolume, usableVolume } from './volume.js';
import { interruptionSettings } from './pools.js';

export interface ReconcileOptions {
  /** Tagged instances with no record younger than this are left alone (launches in flight). */
  orphanGraceMs: number;
  /** Plan for this one name only (a re-plan under its lock): O(1), not O(fleet). */
  only?: string;
}

export const DEFAULT_ORPHAN_GRACE_MS = 15 * 60 * 1000;

export function planReconcile(
  spec: FleetSpec,
  observed: { records: readonly DnsRecord[]; instances: readonly Instance[]; volumes?: readonly Volume[] },
  now: Date,
  opts: ReconcileOptions,
): Plan {
  const conv = conventionOf(spec);
  const actions: Action[] = [];
  const notes: string[] = [];
  const desired = opts.only !== undefined ? onlyDesired(spec, opts.only) : desiredNames(spec);
  const desiredSet = new Set(desired.map((n) => n.name));

  const mine = observed.instances.filter((i) => i.fleet === spec.fleet);
  const byIp = new Map<string, Instance>();
  for (const i of mine) {
    if (!i.privateIp) continue;
    const prev = byIp.get(i.privateIp);
    if (!prev || (!LIVE_STATES.has(prev.state) && LIVE_STATES.has(i.state))) byIp.set(i.privateIp, i);
  }
  const byName = new Map<string, Instance[]>();
  for (const i of mine) {
    if (!i.name) continue;
    // A one-instance literal first, not a push onto []: V8 gives a pushed-onto array room for
    // 17, 150 bytes a name at 100,000 names.
    const list = byName.get(i.name);
    if (list) list.push(i);
    else byName.set(i.name, [i]);
  }
  const records = new Map<string, DnsRecord>();
  for (const r of observed.records) {
    if (r.type !== 'A') continue;
    const n = tryParseShort(r.name, conv);
    if (n) records.set(n.name, r);
  }

  /** Instances kept: served by a record, or adopted by an action. */
  const kept = new Set<string>();
  for (const r of records.values()) {
    for (const ip of r.values) {
      const i = byIp.get(ip);
      if (i && LIVE_STATES.has(i.state)) kept.add(i.id);
    }
  }

  // Volumes that follow names (roles with `volume`), when the observation read them.
  const volumeRoles = new Set(spec.roles.filter((r) => r.volume).map((r) => r.name));
  const volumesByName = new Map<string, Volume[]>();
  for (const v of observed.volumes ?? []) {
    if (v.fleet !== spec.fleet || !v.name || !usableVolume(v)) continue;
    const list = volumesByName.get(v.name) ?? [];
    list.push(v);
    volumesByName.set(v.name, list);
  }
  const noteOf = (v: Volume): VolumeNote => ({ volumeId: v.id, az: v.az, state: v.state, ...(v.attachment ? { attachedTo: v.attachment.instanceId } : {}) });
  for (const list of volumesByName.values()) list.sort(byAge);
  /** The volume note of a name that launches or is adopted (its current volume), when its role has one. */
  const volumeFor = (name: string, role: string, adoptee?: Instance): { volume?: VolumeNote } => {
    if (!volumeRoles.has(role) || observed.volumes === undefined) return {};
    const v = currentVolume(volumesByName.get(name) ?? [], adoptee?.id, adoptee?.az);
    return v ? { volume: noteOf(v) } : {};
  };

  const settings = interruptionSettings(spec);
  const nextGeneration = (name: string): number => Math.max(0, ...(byName.get(name) ?? []).map((i) => i.generation ?? 0)) + 1;

  for (const n of desired) {
    const rec = records.get(n.name);
    const target = rec?.values.length === 1 ? byIp.get(rec.values[0]!) : undefined;
    const healthy = target && LIVE_STATES.has(target.state) && target.converged && (target.name === undefined || target.name === n.name);
    if (rec && healthy) {
      // A converged standby whose rebalance recommendation is older than standby-max-age: the
      // instance serving the name is at risk for that long already; swap now (adopt the standby,
      // compare-and-swap the record from the serving instance, which is then terminated).
      const due = volumeRoles.has(n.role)
        ? undefined
        : (byName.get(n.name) ?? [])
            .filter((i) => i.id !== target.id && i.state === 'running' && i.converged && i.privateIp && !kept.has(i.id) && i.tags[TAG.standby] !== undefined)
            .filter((i) => now.getTime() - Date.parse(i.tags[TAG.standby]!) >= settings.standbyMaxAgeMs && now.getTime() - Date.parse(i.tags[TAG.standby]!) < settings.standbyWindowMs)
            .sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0))[0];
      if (due) {
        kept.add(due.id);
        const age = Math.round((now.getTime() - Date.parse(due.tags[TAG.standby]!)) / 60_000);
        actions.push({
          kind: 'adopt',
          name: n.name,
          role: n.role,
          instanceId: due.id,
          ip: due.privateIp!,
          replaces: { ip: rec.values[0]!, ttl: rec.ttl, instanceId: target.id },
          reason: `standby ${due.id}'s rebalance recommendation is ${age} min old (standby-max-age ${Math.round(settings.standbyMaxAgeMs / 60_000)} min); ${target.id} is at risk`,
        });
        continue;
      }
      if (volumeRoles.has(n.role) && observed.volumes !== undefined) {
        // Its volume must be on the instance serving it (a crash between detach and attach, a hand-made detach).
        const vols = volumesByName.get(n.name) ?? [];
        const on = vols.find((v) => v.attachment?.instanceId === target.id);
        const others = vols.filter((v) => v !== on);
        if (on) {
          const copies = others.filter((v) => on.tags[TAG.volumeFrom] === v.id && v.attachment === undefined);
          for (const v of copies) notes.push(`${n.name}: ${v.id} (${v.az}) is the volume ${on.id} was copied from; it is kept (delete it by hand once ${on.id} is known good)`);
          continue;
        }
        const here = others.filter((v) => v.az === target.az);
        const pick = here.find((v) => !v.attachment) ?? here[0];
        if (pick) {
          actions.push({
            kind: 'reattach',
            name: n.name,
            role: n.role,
            instanceId: target.id,
            volume: noteOf(pick),
            reason: `its volume ${pick.id} is ${pick.attachment ? `attached to ${pick.attachment.instanceId}` : pick.state}, not to ${target.id}, which serves it`,
          });
        } else if (others.length > 0) {
          notes.push(`${n.name}: its volume ${others[0]!.id} is in ${others[0]!.az}, ${target.id} serves it from ${target.az}; replace the name (fleet kill ${n.name}, then fleet apply) to bring them together`);
        } else {
          actions.push({ kind: 'reattach', name: n.name, role: n.role, instanceId: target.id, reason: `it has no volume; ${target.id} serves it` });
        }
      }
      continue;
    }
    if (rec && target && LIVE_STATES.has(target.state) && !target.converged) {
      notes.push(`${n.name}: record points at ${target.id}, which has not reported convergence yet; left alone`);
      continue;
    }
    // The instance the record points at is terminated after the swap only when it is this
    // name's own; a live instance tagged with another name is never ours to kill here.
    const ownTarget = target && (target.name === n.name || !LIVE_STATES.has(target.state));
    const replaces: RecordTarget | undefined =
      rec && rec.values.length === 1 ? { ip: rec.values[0]!, ttl: rec.ttl, ...(target && ownTarget ? { instanceId: target.id } : {}) } : undefined;
    if (rec && rec.values.length !== 1) {
      notes.push(`${n.name}: record holds ${rec.values.length} values; fix it by hand (fleet never guesses which one serves)`);
      continue;
    }
    // A live instance of this name that no record serves: the survivor of an interrupted launch.
    const candidates = (byName.get(n.name) ?? [])
      .filter((i) => LIVE_STATES.has(i.state) && i.privateIp && !kept.has(i.id))
      .sort((a, b) => Number(Boolean(b.converged)) - Number(Boolean(a.converged)) || (b.generation ?? 0) - (a.generation ?? 0));
    const adoptee = candidates[0];
    const why = rec ? `record points at ${replaces!.ip}${target ? ` (${target.id}, ${target.state})` : ', which no live instance has'}` : 'no record';
    if (adoptee) {
      kept.add(adoptee.id);
      actions.push({
        kind: 'adopt',
        name: n.name,
        role: n.role,
        instanceId: adoptee.id,
        ip: adoptee.privateIp!,
        ...(replaces ? { replaces } : {}),
        reason: `${why}; ${adoptee.id} (generation ${adoptee.generation ?? '?'}) is tagged ${n.name} and ${adoptee.converged ? 'converged' : 'still converging'}`,
        ...volumeFor(n.name, n.role, adoptee),
      });
    } else {
      actions.push({ kind: 'launch', name: n.name, role: n.role, generation: nextGeneration(n.name), ...(replaces ? { replaces } : {}), reason: why, ...volumeFor(n.name, n.role) });
    }
  }

  for (const [name, rec] of records) {
    if (desiredSet.has(name)) continue;
    const ids = new Set<string>();
    for (const ip of rec.values) {
      const i = byIp.get(ip);
      if (i && LIVE_STATES.has(i.state)) ids.add(i.id);
    }
    for (const i of byName.get(name) ?? []) if (LIVE_STATES.has(i.state)) ids.add(i.id);
    for (const id of ids) kept.add(id);
    actions.push({ kind: 'retire', name, record: { ttl: rec.ttl, values: [...rec.values] }, instanceIds: [...ids].sort(), reason: 'not in fleet.yaml' });
  }

  // A stopped instance of a role with a volume that no record points at: the old instance of a
  // volume move cut off after its swap (it was stopped to quiesce the volume). Live instances
  // only otherwise: the collector never touches other stopped instances.
  const pointedAt = new Set([...records.values()].flatMap((r) => r.values));
  const stoppedOrphan = (i: Instance): boolean =>
    i.state === 'stopped' && observed.volumes !== undefined && i.role !== undefined && volumeRoles.has(i.role) && (i.privateIp === undefined || !pointedAt.has(i.privateIp));
  for (const i of mine) {
    if ((!LIVE_STATES.has(i.state) && !stoppedOrphan(i)) || kept.has(i.id)) continue;
    const age = now.getTime() - Date.parse(i.launchTime);
    const label = `${i.id}${i.name ? ` (tagged ${i.name}, generation ${i.generation ?? '?'})` : ''}`;
    // A standby (src/ops/standby.ts) waits out of DNS for its name's interruption warning: not an
    // orphan while its window lasts (from the rebalance recommendation), collected after it.
    const standby = LIVE_STATES.has(i.state) ? i.tags[TAG.standby] : undefined;
    if (standby !== undefined) {
      const since = Date.parse(standby);
      const until = (Number.isFinite(since) ? since : Date.parse(i.launchTime)) + settings.standbyWindowMs;
      if (Number.isFinite(until) && now.getTime() < until) {
        notes.push(`${label}: standby for ${i.name ?? '?'}, kept out of DNS until ${new Date(until).toISOString()} (standby window)`);
        continue;
      }
      actions.push({ kind: 'collect', instanceId: i.id, ...(i.name ? { name: i.name } : {}), reason: `${label} is a standby whose window ended (recommendation at ${standby}); no record points at it` });
      continue;
    }
    if (Number.isFinite(age) && age < opts.orphanGraceMs) {
      notes.push(`${label}: no record points at it, but it is ${Math.round(age / 1000)} s old (grace ${Math.round(opts.orphanGraceMs / 1000)} s); left alone`);
      continue;
    }
    actions.push({ kind: 'collect', instanceId: i.id, ...(i.name ? { name: i.name } : {}), reason: `${label} is ${i.state}, no record points at it` });
  }

  // SOA and NS count too. AWS's default quota; an account can have it raised.
  if (desired.length + 2 > ROUTE53_DEFAULT_RECORD_SETS) {
    notes.push(
      `this fleet needs ${desired.length + 2} record sets in ${spec.dns.zone}; Route 53 allows ${ROUTE53_DEFAULT_RECORD_SETS} per hosted zone by default: make sure the account's quota was raised`,
    );
  }
  return { fleet: spec.fleet, zone: spec.dns.zone, actions, notes };
}

export const ROUTE53_DEFAULT_RECORD_SETS = 10_000;

function describeVolume(v: VolumeNote | undefined): string {
  if (!v) return '';
  return `; its volume ${v.volumeId} (${v.az}, ${v.attachedTo ? `attached to ${v.attachedTo}` : v.state}) follows it`;
}

/** One line per action, for people. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'launch':
      return `launch ${a.name} generation ${a.generation}${a.replaces ? `, then swap its record from ${a.replaces.ip}` : ', then create its record'} (${a.reason}${describeVolume(a.volume)})`;
    case 'adopt':
      return `adopt ${a.instanceId} (${a.ip}) as ${a.name}${a.replaces ? `, swapping its record from ${a.replaces.ip}` : ', creating its record'} (${a.reason}${describeVolume(a.volume)})`;
    case 'reattach':
      return a.volume
        ? `reattach ${a.volume.volumeId} to ${a.instanceId}, which serves ${a.name}${a.volume.attachedTo ? ` (stopping and detaching it from ${a.volume.attachedTo} first)` : ''} (${a.reason})`
        : `create the volume of ${a.name} and attach it to ${a.instanceId} (${a.reason})`;
    case 'collect':
      return `terminate orphan ${a.instanceId} (${a.reason})`;
    case 'retire':
      return `retire ${a.name}: delete its record, then terminate ${a.instanceIds.length ? a.instanceIds.join(', ') : 'nothing (no live instance)'} (${a.reason})`;
  }
}

/** The one desired name `only`, or none when fleet.yaml does not want it. */
function onlyDesired(spec: FleetSpec, only: string): FleetName[] {
  const n = tryParseName(only, conventionOf(spec));
  const role = n ? spec.roles.find((r) => r.name === n.role) : undefined;
  return n && role && n.index >= 1 && n.index <= role.count ? [n] : [];
}
