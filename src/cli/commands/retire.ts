/**
 * `fleet retire NAME [--delete-state] [--dry-run] [--yes]`: the explicit per-name form of what
 * apply does to names fleet.yaml no longer wants. Under the name's lock: the record is deleted
 * first (exactly as it is, so a concurrent change fails it safely), then, once the deletion is
 * INSYNC and the TTL has passed, the instances tagged with the name are terminated.
 *
 * The name's stateful exceptions are kept: its `state.s3` prefix (so the name, if it comes
 * back, starts from its saved state) and its volume. Only `--delete-state` deletes the objects
 * of the prefix, after the instances are gone (so none saves them back).
 */
import { FleetError, InputError } from '../../errors.js';
import type { FleetSpec, Instance } from '../../model.js';
import { conventionOf, desiredNames, parseName } from '../../naming.js';
import { LIVE_STATES } from '../../plan/inventory.js';
import { roleOf } from '../../plan/shape.js';
import { journal } from '../../ops/journal.js';
import { terminateConfirmed } from '../../ops/terminate.js';
import { guardOf, observeName, withNameLock } from '../../ops/locked.js';
import { usableVolume } from '../../plan/volume.js';
import type { CliIo } from '../io.js';
import type { Deps } from '../wiring.js';
import { makeOpsDeps } from '../opsdeps.js';
import { mayProceed, type MutateOptions } from './mutate.js';

export interface RetireOptions extends MutateOptions {
  deleteState?: boolean;
}

/** `s3://bucket/<prefix>/<name>/` as bucket and key prefix. */
export function stateLocation(spec: FleetSpec, name: string): { bucket: string; prefix: string; url: string } | undefined {
  const role = roleOf(spec, name.slice(0, name.lastIndexOf('-')));
  if (!role?.stateS3) return undefined;
  const prefix = `${role.stateS3.prefix === '' ? '' : `${role.stateS3.prefix}/`}${name}/`;
  return { bucket: role.stateS3.bucket, prefix, url: `s3://${role.stateS3.bucket}/${prefix}` };
}

export async function retireCommand(spec: FleetSpec, target: string, deps: Deps, io: CliIo, json: boolean, o: RetireOptions): Promise<number> {
  const conv = conventionOf(spec);
  const name = parseName(target, conv); // exit 2 with the reason
  const state = stateLocation(spec, name.name);
  if (o.deleteState && !state) {
    throw new InputError(
      roleOf(spec, name.role)
        ? `--delete-state: role ${name.role} declares no state.s3 in fleet.yaml; there is no state to delete`
        : `--delete-state: role ${name.role} is not in fleet.yaml, so its state.s3 location is unknown; delete s3 objects by hand`,
    );
  }
  const ops = await makeOpsDeps(spec, deps, io, json, o);
  const stillDesired = desiredNames(spec).some((n) => n.name === name.name);
  return withNameLock(ops, name.name, 'retire', async (lock) => {
    const guard = guardOf(ops, lock);
    const now = await observeName(ops, name.fqdn, name.name);
    const rec = now.records[0];
    // Only instances tagged with this name are ours to terminate; one tagged with another name stays.
    const victims: Instance[] = now.instances.filter((i) => LIVE_STATES.has(i.state) && i.name === name.name);
    const strangers = rec ? now.instances.filter((i) => LIVE_STATES.has(i.state) && i.name !== name.name && i.privateIp !== undefined && rec.values.includes(i.privateIp)) : [];
    const volumes = (now.volumes ?? []).filter(usableVolume);
    let keys: string[] = [];
    if (state) {
      await ops.limiter.take('s3:read');
      keys = await ops.state!.list(state.bucket, state.prefix);
    }

    const lines: string[] = [];
    if (rec) lines.push(`delete the record ${name.fqdn} A ${rec.values.join(', ')} (TTL ${rec.ttl} s), wait until INSYNC and the TTL`);
    lines.push(victims.length ? `terminate ${victims.map((i) => `${i.id} (${i.type} ${i.state}${i.privateIp ? `, ${i.privateIp}` : ''})`).join(', ')}` : 'terminate nothing (no live instance tagged with the name)');
    for (const i of strangers) lines.push(`leave ${i.id} alone: the record pointed at it, but it is tagged ${i.name ?? 'with no name'}`);
    if (state) {
      lines.push(
        o.deleteState
          ? `DELETE the ${keys.length} object${keys.length === 1 ? '' : 's'} of its state ${state.url} once its instances are gone`
          : `keep its state ${state.url} (${keys.length} object${keys.length === 1 ? '' : 's'}; --delete-state deletes it)`,
      );
    }
    for (const v of volumes) lines.push(`keep its volume ${v.id} (${v.sizeGiB} GiB ${v.type}, ${v.az})`);
    if (stillDesired) lines.push(`note: ${name.name} is still in fleet.yaml (role ${name.role}): the next \`fleet apply\` launches it again${state && !o.deleteState ? ' from its saved state' : ''}; lower the role's count first to retire it for good`);

    const nothing = !rec && victims.length === 0 && !(o.deleteState && keys.length > 0);
    const summary = { name: name.name, record: rec ? { ttl: rec.ttl, values: rec.values } : null, instanceIds: victims.map((i) => i.id), state: state ? { location: state.url, objects: keys.length, delete: Boolean(o.deleteState) } : null, volumesKept: volumes.map((v) => v.id), stillDesired };
    if (nothing) {
      const msg = `${name.name} has no record and no live instance${state ? ` (its state ${state.url} holds ${keys.length} object${keys.length === 1 ? '' : 's'})` : ''}; nothing to retire`;
      if (json) io.stdout.write(JSON.stringify({ dryRun: Boolean(o.dryRun), ...summary, retired: false, reason: msg }, null, 2) + '\n');
      else io.stdout.write(msg + '\n');
      return 0;
    }
    if (o.dryRun) {
      if (json) io.stdout.write(JSON.stringify({ dryRun: true, ...summary }, null, 2) + '\n');
      else io.stdout.write(`retire ${name.name}:\n${lines.map((l) => `  ${l}\n`).join('')}`);
      return 0;
    }
    if (!json) io.stdout.write(`retire ${name.name}:\n${lines.map((l) => `  ${l}\n`).join('')}`);
    await mayProceed(io, o, `retire ${name.name}${o.deleteState && keys.length > 0 ? ` and delete its state (${keys.length} objects)` : ''}`);
    // The journal first: the retirement is on record before it happens.
    await journal(ops, 'retire', name.name, { ...summary, ...(lock ? { fencingToken: lock.fencingToken } : {}) });

    // Record first, exactly as it is: a concurrent change makes the delete fail, and nothing else happens.
    if (rec) {
      guard();
      const changeId = await ops.dnsWriter.submit([{ action: 'DELETE', name: name.fqdn, type: 'A', ttl: rec.ttl, values: rec.values }]);
      await ops.dnsWriter.waitInsync(changeId, 10 * 60_000);
      await ops.clock.sleep(rec.ttl * 1000);
    }
    if (victims.length > 0) {
      guard();
      await terminateConfirmed(ops, victims.map((i) => i.id), `${name.name} retired`);
    }
    let deleted = 0;
    if (o.deleteState && state) {
      // Listed again: the instance may have saved more before it went.
      guard();
      await ops.limiter.take('s3:read');
      const all = await ops.state!.list(state.bucket, state.prefix);
      await ops.limiter.take('s3:write');
      deleted = await ops.state!.delete(state.bucket, all);
      if (deleted !== all.length) throw new FleetError(`${name.name}: deleted ${deleted} of ${all.length} objects of ${state.url}`);
    }
    if (json) io.stdout.write(JSON.stringify({ dryRun: false, ...summary, retired: true, ...(o.deleteState ? { stateDeleted: deleted } : {}) }, null, 2) + '\n');
    else {
      io.stdout.write(
        `retired ${name.name}: ${rec ? 'record deleted' : 'no record'}, ${victims.length ? `${victims.map((i) => i.id).join(', ')} terminated` : 'no instance'}` +
          `${state ? (o.deleteState ? `, ${deleted} state object${deleted === 1 ? '' : 's'} deleted` : `, state ${state.url} kept`) : ''}` +
          `${volumes.length ? `, volume ${volumes.map((v) => v.id).join(', ')} kept` : ''}\n`,
      );
    }
    return 0;
  });
}
