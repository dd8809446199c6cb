/**
 * Volumes that follow a name (DESIGN.md section 4, stateful exceptions): an EBS volume tagged
 * `fleet:fleet` + `fleet:volume-of=<name>`, attached to whichever instance serves the name.
 *
 * First launch (no volume yet): the new instance is launched where the role's shapes say; once
 * it runs, its volume is created in its AZ (tagged at creation, with a ClientToken from the
 * fleet, the name, the generation and the AZ) and attached before it converges, so the first
 * agent run mounts it.
 *
 * Replacement while an instance serves the name, same AZ: the new instance is launched in the
 * volume's AZ and converges; only then is the old one stopped (the data is quiescent), the
 * volume detached from it and attached to the new one, and, once the new instance tagged
 * itself `fleet:mounted=<volume id>` (its agent mounted it; bounded by the convergence
 * timeout), the record swapped. The name is
 * unserved from the stop until the swap is INSYNC: the one place where fleet allows that. The
 * window is measured (clock ms) and journaled. A failure before the swap puts everything back:
 * the volume returns to the old instance, which is started again (its private address, which
 * the record holds, survives a stop), and the new instance is terminated.
 *
 * Across AZs (every allowed type and market has no capacity in the volume's AZ): the new
 * instance is launched in another AZ and converges; a first snapshot is taken while the old
 * instance still serves (it carries most blocks, so the final one is small); then the old
 * instance is stopped, the final snapshot taken and waited for, and verified with the EBS
 * direct API (all its blocks listed, the blocks changed since the previous snapshot of the
 * volume counted; a snapshot that lists no block while its predecessor had some is refused).
 * A volume is created from it in the new AZ (tagged `fleet:volume-from=<old volume>`),
 * attached, and the record swapped. The old volume is deleted only after the new instance
 * serves the name and its copy is attached there. Snapshots are kept: the next move counts
 * changed blocks against them. Nothing here ever deletes the last copy of the data.
 *
 * Quiescing: a one-time spot instance cannot be stopped (EC2 answers UnsupportedOperation);
 * it is terminated instead, after the new instance converged, and a failure after that leaves
 * the name unserved with its volume available: the next apply launches it again in the
 * volume's AZ and attaches it.
 *
 * Crash safety: every step reads the cloud first and does only what is missing; a volume
 * left detached (crash between detach and attach) is found by its tags and attached by the
 * next apply (adopting the new instance, or a `reattach` action for a served name).
 */
import { createHash } from 'node:crypto';
import { DnsConflictError, FleetError } from '../errors.js';
import type { FleetName, Instance, RoleSpec, Snapshot, Volume, VolumeSpec } from '../model.js';
import { TAG } from '../tags.js';
import { MOUNTED_TAG } from '../bootstrap/marker.js';
import { subnetsOf } from '../plan/shape.js';
import { byAge, currentVolume, usableVolume } from '../plan/volume.js';
import type { OpsDeps } from './context.js';
import { launchGeneration, type LaunchResult } from './launch.js';
import { journal } from './journal.js';
import { journalReplace, settleSwap, submitSwap, type ReplaceJob, type ReplaceResult, type SnapshotCheck, type VolumePlacement } from './swap.js';

export type { SnapshotCheck, VolumePlacement } from './swap.js';
import { terminateConfirmed } from './terminate.js';

const LIVE = new Set(['pending', 'running']);

/** How long a snapshot may stay pending (clock ms): EBS snapshots of large volumes take hours. */
export const SNAPSHOT_TIMEOUT_MS = 6 * 3600_000;
const VOLUME_TIMEOUT_MS = 10 * 60_000;
/** A volume may be invisible right after CreateVolume (eventual consistency) for this long. */
const INVISIBLE_GRACE_MS = 60_000;

/** Tags of a name's volume (and of its snapshots). */
export function volumeTags(deps: OpsDeps, name: FleetName): Record<string, string> {
  return { [TAG.fleet]: deps.spec.fleet, [TAG.volumeOf]: name.name, Name: `${name.fqdn} data` };
}

function pollMs(deps: OpsDeps): number {
  return deps.pollMs ?? 5000;
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function codeOf(err: unknown): string | undefined {
  return (err as { code?: unknown } | undefined)?.code as string | undefined;
}

/** The usable volumes of a name, oldest first. */
export async function volumesOf(deps: OpsDeps, name: string): Promise<Volume[]> {
  await deps.limiter.take('ec2:describe');
  const all = await deps.volumes.volumesOfName(deps.spec.fleet, name);
  return all.filter(usableVolume).sort(byAge);
}

async function describeInstance(deps: OpsDeps, id: string): Promise<Instance | undefined> {
  await deps.limiter.take('ec2:describe');
  return (await deps.instances.describe([id])).get(id);
}

/** Poll one volume until `done`; fails on `error`, on the deadline, or when it stays gone. */
export async function waitVolume(deps: OpsDeps, id: string, what: string, done: (v: Volume) => boolean, timeoutMs = VOLUME_TIMEOUT_MS): Promise<Volume> {
  const start = deps.clock.now().getTime();
  let last: Volume | undefined;
  let seen = false;
  for (;;) {
    await deps.limiter.take('ec2:describe');
    try {
      last = await deps.volumes.describeVolume(id);
      if (last) seen = true;
    } catch (err) {
      deps.log({ level: 'warn', event: 'poll-failed', msg: `polling ${id} failed: ${msg(err)}` });
    }
    if (last && done(last)) return last;
    if (last?.state === 'error') throw new FleetError(`${id} is in state error while waiting for it ${what}`, { data: { volumeId: id } });
    const now = deps.clock.now().getTime();
    if (!last && (seen || now - start > INVISIBLE_GRACE_MS)) throw new FleetError(`${id} does not exist (any more) while waiting for it ${what}`, { data: { volumeId: id } });
    if (now - start > timeoutMs) {
      throw new FleetError(`timed out waiting for ${id} ${what} (last seen ${last ? `${last.state}${last.attachment ? `, ${last.attachment.state} to ${last.attachment.instanceId}` : ''}` : 'nowhere'})`, { data: { volumeId: id } });
    }
    await deps.clock.sleep(pollMs(deps), deps.signal);
  }
}

async function waitSnapshot(deps: OpsDeps, id: string): Promise<Snapshot> {
  const start = deps.clock.now().getTime();
  for (;;) {
    await deps.limiter.take('ec2:describe');
    let s: Snapshot | undefined;
    try {
      s = await deps.volumes.describeSnapshot(id);
    } catch (err) {
      deps.log({ level: 'warn', event: 'poll-failed', msg: `polling ${id} failed: ${msg(err)}` });
    }
    if (s?.state === 'completed') return s;
    if (s?.state === 'error') throw new FleetError(`snapshot ${id} failed (state error)`, { data: { snapshotId: id } });
    const now = deps.clock.now().getTime();
    if (now - start > SNAPSHOT_TIMEOUT_MS) throw new FleetError(`timed out waiting for snapshot ${id} to complete (last seen ${s ? `${s.state} ${s.progress ?? ''}` : 'nowhere'})`);
    await deps.clock.sleep(pollMs(deps), deps.signal);
  }
}

const attachedTo = (instanceId: string) => (v: Volume) => v.attachment?.instanceId === instanceId && v.attachment.state === 'attached';
const free = (v: Volume) => v.state === 'available' && !v.attachment;

/** Attach and wait until attached; an attachment that a lost answer already made counts. */
async function attach(deps: OpsDeps, job: Pick<ReplaceJob, 'guard'>, vol: Volume, instanceId: string, device: string): Promise<Volume> {
  job.guard?.();
  await deps.limiter.take('ec2:mutating');
  try {
    await deps.volumes.attachVolume(vol.id, instanceId, device);
  } catch (err) {
    const now = await deps.volumes.describeVolume(vol.id).catch(() => undefined);
    if (now?.attachment?.instanceId !== instanceId) throw err;
  }
  deps.log({ level: 'info', event: 'volume-attach', msg: `attaching ${vol.id} to ${instanceId} as ${device}`, volumeId: vol.id, instanceId });
  return waitVolume(deps, vol.id, `to be attached to ${instanceId}`, attachedTo(instanceId));
}

/** Detach and wait until available; a volume already detached counts. */
async function detach(deps: OpsDeps, job: Pick<ReplaceJob, 'guard'>, vol: Volume, instanceId: string): Promise<Volume> {
  job.guard?.();
  await deps.limiter.take('ec2:mutating');
  try {
    await deps.volumes.detachVolume(vol.id, instanceId);
  } catch (err) {
    const now = await deps.volumes.describeVolume(vol.id).catch(() => undefined);
    if (!now || now.attachment?.instanceId === instanceId && now.attachment.state !== 'detaching') throw err;
  }
  deps.log({ level: 'info', event: 'volume-detach', msg: `detaching ${vol.id} from ${instanceId}`, volumeId: vol.id, instanceId });
  return waitVolume(deps, vol.id, `to be detached from ${instanceId}`, free);
}

/**
 * Make sure nothing writes to the volume: stop its holder (and wait until stopped); a
 * one-time spot instance cannot be stopped, so it is terminated (and its volume, attached
 * with DeleteOnTermination false, detaches when it is gone). Returns what was done.
 */
async function quiesce(deps: OpsDeps, job: Pick<ReplaceJob, 'guard'>, name: string, holder: Instance, volumeId: string): Promise<'stopped' | 'terminated'> {
  job.guard?.();
  await deps.limiter.take('ec2:mutating');
  try {
    await deps.instances.stop([holder.id]);
  } catch (err) {
    if (codeOf(err) !== 'UnsupportedOperation' && codeOf(err) !== 'UnsupportedInstanceAttribute') throw err;
    deps.log({ level: 'warn', event: 'quiesce-terminate', msg: `${name}: ${holder.id} cannot be stopped (${codeOf(err)}: a one-time spot instance); terminating it so that ${volumeId} is quiescent`, name, instanceId: holder.id });
    await terminateConfirmed(deps, [holder.id], `${name}: quiescing ${volumeId}`);
    await waitVolume(deps, volumeId, `to detach from ${holder.id} (terminated)`, (v) => v.attachment?.instanceId !== holder.id);
    return 'terminated';
  }
  deps.log({ level: 'info', event: 'stopping', msg: `${name}: stopping ${holder.id} so that ${volumeId} is quiescent`, name, instanceId: holder.id });
  await deps.watcher.wait(holder.id, 'to stop', VOLUME_TIMEOUT_MS, (i) => i.state === 'stopped' || i.state === 'terminated', (i) => (i.state === 'pending' ? `${holder.id} is starting again` : undefined));
  return 'stopped';
}

/**
 * Wait until the instance tagged itself `fleet:mounted=<volumeId>` (its agent mounted the
 * volume at its mount point), bounded by the convergence timeout.
 */
async function waitMounted(deps: OpsDeps, name: string, instanceId: string, volumeId: string): Promise<Instance> {
  deps.log({ level: 'info', event: 'waiting', msg: `${name}: waiting for ${instanceId} to mount ${volumeId} (tag ${MOUNTED_TAG})`, name, instanceId, volumeId });
  return deps.watcher.wait(
    instanceId,
    `to mount ${volumeId} (tag ${MOUNTED_TAG}=${volumeId})`,
    deps.spec.reconcile.convergeTimeoutMs,
    (i) => i.tags[MOUNTED_TAG] === volumeId,
    (i) => (LIVE.has(i.state) ? undefined : `${instanceId} is ${i.state} before it mounted ${volumeId}`),
  );
}

/** Snapshot a volume (tagged with the name) and wait until it is completed. */
async function snapshot(deps: OpsDeps, job: Pick<ReplaceJob, 'guard'>, name: FleetName, vol: Volume, why: string): Promise<Snapshot> {
  job.guard?.();
  await deps.limiter.take('ec2:mutating');
  const s = await deps.volumes.createSnapshot(vol.id, `fleet ${deps.spec.fleet}: ${name.name} ${why}`, { ...volumeTags(deps, name), [TAG.operation]: deps.operationId });
  deps.log({ level: 'info', event: 'snapshot', msg: `${name.name}: snapshot ${s.id} of ${vol.id} (${why}); waiting for it to complete`, name: name.name, snapshotId: s.id });
  return waitSnapshot(deps, s.id);
}

/**
 * Verify a completed snapshot with the EBS direct API before a volume is built from it: list
 * all its blocks (every page, empty ones included), check its size, and count the blocks
 * changed since `previous` (a snapshot of the same lineage). A snapshot that lists no written
 * block while its predecessor had some would build an empty volume: refused.
 */
export async function verifySnapshot(deps: OpsDeps, snap: Snapshot, previous: Snapshot | undefined): Promise<SnapshotCheck> {
  if (!deps.ebs) throw new FleetError(`cannot verify ${snap.id}: no EBS direct API client; refusing to move a volume unverified`);
  const listed = await deps.ebs.snapshotBlocks(snap.id);
  if (listed.volumeSizeGiB !== 0 && snap.sizeGiB !== 0 && listed.volumeSizeGiB !== snap.sizeGiB) {
    throw new FleetError(`snapshot ${snap.id} lists a ${listed.volumeSizeGiB} GiB volume, EC2 says ${snap.sizeGiB} GiB: refusing to build a volume from it`);
  }
  const check: SnapshotCheck = { snapshotId: snap.id, blocks: listed.blocks };
  if (previous && previous.id !== snap.id) {
    const changed = await deps.ebs.changedBlocks(previous.id, snap.id);
    check.changedSince = { snapshotId: previous.id, changed: changed.changed };
    if (listed.blocks === 0) {
      const before = await deps.ebs.snapshotBlocks(previous.id);
      if (before.blocks > 0) throw new FleetError(`snapshot ${snap.id} lists no written block, but ${previous.id} before it lists ${before.blocks}: refusing to build a volume from it`);
    }
  }
  deps.log({
    level: 'info',
    event: 'snapshot-verified',
    msg: `snapshot ${snap.id}: ${listed.blocks} blocks listed${check.changedSince ? `, ${check.changedSince.changed} changed since ${check.changedSince.snapshotId}` : ''}`,
    snapshotId: snap.id,
  });
  return check;
}

/** The snapshot a new snapshot of `vol` follows: its latest completed one before `before`, else the one it was created from. */
async function previousSnapshot(deps: OpsDeps, vol: Volume, before?: Snapshot): Promise<Snapshot | undefined> {
  await deps.limiter.take('ec2:describe');
  const own = (await deps.volumes.snapshotsOfVolume(vol.id)).filter((s) => s.state === 'completed' && s.id !== before?.id && (!before || s.startTime <= before.startTime));
  if (own.length > 0) return own[own.length - 1];
  if (!vol.snapshotId) return undefined;
  await deps.limiter.take('ec2:describe');
  const src = await deps.volumes.describeSnapshot(vol.snapshotId);
  return src?.state === 'completed' ? src : undefined;
}

function volumeToken(deps: OpsDeps, name: string, generation: number, az: string, snapshotId?: string): string {
  const h = createHash('sha256').update(JSON.stringify([deps.spec.fleet, name, generation, az, snapshotId ?? ''])).digest('hex');
  return `${name}-vol-g${generation}-${h}`.slice(0, 64);
}

/** CreateVolume for a name (empty, or from a snapshot) and wait until available. */
async function createVolume(
  deps: OpsDeps,
  job: Pick<ReplaceJob, 'guard'>,
  name: FleetName,
  spec: VolumeSpec,
  generation: number,
  az: string,
  from?: { snapshotId: string; volumeId: string },
  track: { copy?: string } = {},
): Promise<Volume> {
  job.guard?.();
  await deps.limiter.take('ec2:mutating');
  const v = await deps.volumes.createVolume({
    clientToken: volumeToken(deps, name.name, generation, az, from?.snapshotId),
    az,
    sizeGiB: spec.sizeGiB,
    type: spec.type,
    ...(spec.iops !== undefined ? { iops: spec.iops } : {}),
    ...(spec.throughputMiBps !== undefined ? { throughputMiBps: spec.throughputMiBps } : {}),
    ...(from ? { snapshotId: from.snapshotId } : {}),
    tags: { ...volumeTags(deps, name), ...(from ? { [TAG.volumeFrom]: from.volumeId, [TAG.snapshot]: from.snapshotId } : {}) },
  });
  if (from) track.copy = v.id;
  deps.log({ level: 'info', event: 'volume-created', msg: `${name.name}: created ${v.id} (${spec.sizeGiB} GiB ${spec.type} in ${az}${from ? ` from ${from.snapshotId}` : ''})`, name: name.name, volumeId: v.id });
  return waitVolume(deps, v.id, 'to be available', (x) => x.state === 'available' || x.state === 'in-use');
}

/**
 * Put the name's data on `instance`: create the volume (none yet), leave it (attached there
 * already), move it (same AZ: detach from its quiescent holder, attach), or copy it (other
 * AZ: final snapshot, verified, volume from it). The holder must be quiescent already.
 */
async function placeVolume(
  deps: OpsDeps,
  job: ReplaceJob,
  spec: VolumeSpec,
  src: Volume | undefined,
  instance: Instance,
  generation: number,
  pre?: SnapshotCheck & { snap: Snapshot },
  /** Set as soon as a copy exists (a rollback deletes it, never the original). */
  track: { copy?: string } = {},
): Promise<VolumePlacement> {
  const name = job.name;
  if (!src) {
    const v = await createVolume(deps, job, name, spec, generation, instance.az);
    await attach(deps, job, v, instance.id, spec.device);
    return { volumeId: v.id, az: v.az, how: 'created' };
  }
  // Re-read: the holder may have been terminated meanwhile (its volume then detaches by itself).
  await deps.limiter.take('ec2:describe');
  let cur = (await deps.volumes.describeVolume(src.id)) ?? src;
  if (cur.attachment?.instanceId === instance.id) {
    if (cur.attachment.state !== 'attached') cur = await waitVolume(deps, cur.id, `to be attached to ${instance.id}`, attachedTo(instance.id));
    // A copy made by a cut-off replacement: its original goes once this instance serves the name.
    const origin = cur.tags[TAG.volumeFrom];
    const original = origin ? await deps.volumes.describeVolume(origin) : undefined;
    if (original && usableVolume(original) && original.name === name.name) {
      return { volumeId: cur.id, az: cur.az, how: 'already-attached', from: { volumeId: original.id, az: original.az, ...(original.attachment ? { instanceId: original.attachment.instanceId } : {}) } };
    }
    return { volumeId: cur.id, az: cur.az, how: 'already-attached' };
  }
  const holderId = cur.attachment?.instanceId;
  if (cur.az === instance.az) {
    if (holderId) {
      const holder = await describeInstance(deps, holderId);
      if (holder && LIVE.has(holder.state)) throw new FleetError(`${name.name}: ${cur.id} is attached to ${holderId}, which is ${holder.state}: not moving data that may still be written`);
      if (holder && (holder.state === 'shutting-down' || holder.state === 'terminated')) {
        // Terminating: the volume detaches by itself once the instance is gone.
        cur = await waitVolume(deps, cur.id, `to detach from ${holderId} (terminating)`, free);
      } else {
        if (holder?.state === 'stopping') await deps.watcher.wait(holderId, 'to stop', VOLUME_TIMEOUT_MS, (i) => i.state === 'stopped' || i.state === 'terminated');
        cur = await detach(deps, job, cur, holderId);
      }
      await deps.hook?.('detached', name.name);
    } else if (cur.state !== 'available') {
      cur = await waitVolume(deps, cur.id, 'to be available', free);
    }
    await attach(deps, job, cur, instance.id, spec.device);
    return { volumeId: cur.id, az: cur.az, how: 'moved', from: { volumeId: cur.id, az: cur.az, ...(holderId ? { instanceId: holderId } : {}) } };
  }
  // Another AZ: the data travels by snapshot.
  if (holderId) {
    const holder = await describeInstance(deps, holderId);
    if (holder && LIVE.has(holder.state)) throw new FleetError(`${name.name}: ${cur.id} is attached to ${holderId}, which is ${holder.state}: not snapshotting data that may still be written`);
  }
  const final = await snapshot(deps, job, name, cur, `final snapshot to move ${cur.id} from ${cur.az} to ${instance.az}`);
  const previous = pre?.snap ?? (await previousSnapshot(deps, cur, final));
  const check = await verifySnapshot(deps, final, previous);
  const copy = await createVolume(deps, job, name, spec, generation, instance.az, { snapshotId: final.id, volumeId: cur.id }, track);
  await attach(deps, job, copy, instance.id, spec.device);
  const { snap: _drop, ...preCheck } = pre ?? { snap: undefined };
  return {
    volumeId: copy.id,
    az: copy.az,
    how: 'copied',
    from: { volumeId: cur.id, az: cur.az, ...(holderId ? { instanceId: holderId } : {}) },
    snapshots: { ...(pre ? { pre: preCheck as SnapshotCheck } : {}), final: check },
  };
}

function isNoCapacity(err: unknown): err is FleetError {
  return err instanceof FleetError && /^no capacity for /.test(err.message) && Array.isArray(err.data['attempts']);
}

/** Launch the name's next generation where its volume is; across AZs only when that AZ has no capacity at all. */
async function launchNearVolume(deps: OpsDeps, job: ReplaceJob, src: Volume | undefined): Promise<LaunchResult & { crossAz: boolean }> {
  const opts = (subnets?: string[]) => ({
    ...(job.override || subnets ? { override: { ...(job.override ?? {}), ...(subnets ? { subnets } : {}) } } : {}),
    ...(job.strictType ? { strictType: true } : {}),
    ...(job.fencingToken ? { fencingToken: job.fencingToken } : {}),
    ...(job.guard ? { guard: job.guard } : {}),
  });
  if (!src) return { ...(await launchGeneration(deps, job.name, job.role, job.generation, opts())), crossAz: false };
  const subnets = job.override?.subnets ?? subnetsOf(deps.spec, job.role);
  await deps.limiter.take('ec2:describe');
  const zones = await deps.catalog.subnetZones(subnets);
  const here = subnets.filter((s) => zones.get(s) === src.az);
  const elsewhere = subnets.filter((s) => zones.get(s) !== src.az);
  let failed: LaunchResult['attempts'] = [];
  if (here.length > 0) {
    try {
      return { ...(await launchGeneration(deps, job.name, job.role, job.generation, opts(here))), crossAz: false };
    } catch (err) {
      if (!isNoCapacity(err) || elsewhere.length === 0) throw err;
      failed = err.data['attempts'] as LaunchResult['attempts'];
      deps.log({ level: 'warn', event: 'volume-az-full', msg: `${job.name.name}: no capacity in ${src.az}, where its volume ${src.id} is; launching in another AZ and copying the volume there by snapshot`, name: job.name.name });
    }
  } else {
    deps.log({ level: 'warn', event: 'volume-az-unused', msg: `${job.name.name}: none of the role's subnets is in ${src.az}, where its volume ${src.id} is; launching elsewhere and copying the volume by snapshot`, name: job.name.name });
  }
  const r = await launchGeneration(deps, job.name, job.role, job.generation, opts(elsewhere));
  return { ...r, attempts: [...failed, ...r.attempts], crossAz: true };
}

/**
 * Replace-by-name for a role with a volume. Same contract as replaceName (src/ops/replace.ts),
 * except that when an instance serves the name, the name is briefly unserved while its volume
 * moves (see the top of this file).
 */
export async function replaceWithVolume(deps: OpsDeps, job: ReplaceJob, spec: VolumeSpec): Promise<ReplaceResult> {
  const started = deps.clock.now().getTime();
  const name = job.name.name;
  const vols = await volumesOf(deps, name);
  const oldId = job.replaces?.instanceId;

  // The instance that will serve.
  let instance: Instance;
  let generation: number;
  let attempts: LaunchResult['attempts'] | undefined;
  let src: Volume | undefined;
  if (job.adopt) {
    const seen = await describeInstance(deps, job.adopt);
    if (!seen || !seen.privateIp) throw new FleetError(`${name}: ${job.adopt} is gone; nothing to adopt`);
    instance = seen;
    generation = seen.generation ?? 0;
    // A cut-off replacement may have given it its volume already (a copy, across AZs).
    src = currentVolume(vols, instance.id, instance.az);
  } else {
    src = currentVolume(vols, oldId);
    const launched = await launchNearVolume(deps, job, src);
    instance = launched.instance;
    generation = launched.generation;
    attempts = launched.attempts;
    await deps.hook?.('launched', name);
  }

  // Who holds the data now, and must it be quiesced (an instance that runs has it attached)?
  const holderId = src?.attachment && src.attachment.instanceId !== instance.id ? src.attachment.instanceId : undefined;
  const holder = holderId ? await describeInstance(deps, holderId) : undefined;
  const holderLive = holder !== undefined && LIVE.has(holder.state);
  if (holder && holderLive && holder.name !== undefined && holder.name !== name) {
    await rollbackLaunch(deps, job, instance, `${src!.id} is attached to ${holder.id}, which is tagged ${holder.name}`);
  }
  const servingHolder = holderLive && holder!.id === oldId;

  let placed: VolumePlacement | undefined;
  const track: { copy?: string } = {};
  let converged: Instance;
  let changeId: string;
  let unservedFrom: number | undefined;
  /** The holder's stop (or termination) was asked for: a rollback must look at what became of it. */
  let touched = false;
  try {
    if (!holderLive) {
      // Nothing running holds the data: put it on the new instance before its first agent run.
      deps.log({ level: 'info', event: 'waiting', msg: `${name}: waiting for ${instance.id} to run, to attach its volume`, name, instanceId: instance.id });
      await deps.watcher.wait(instance.id, 'to run', deps.spec.reconcile.convergeTimeoutMs, (i) => i.state === 'running', (i) => (LIVE.has(i.state) ? undefined : `${instance.id} is ${i.state} before it ran`));
      placed = await placeVolume(deps, job, spec, src, instance, generation, undefined, track);
      deps.log({ level: 'info', event: 'waiting', msg: `${name}: waiting for ${instance.id} to converge`, name, instanceId: instance.id });
      converged = await deps.watcher.converged(instance.id, deps.spec.reconcile.convergeTimeoutMs);
      await deps.hook?.('converged', name);
    } else {
      deps.log({ level: 'info', event: 'waiting', msg: `${name}: waiting for ${instance.id} to converge`, name, instanceId: instance.id });
      converged = await deps.watcher.converged(instance.id, deps.spec.reconcile.convergeTimeoutMs);
      await deps.hook?.('converged', name);
      // Across AZs: a first snapshot while the old instance still serves, so the final one is small.
      let pre: (SnapshotCheck & { snap: Snapshot }) | undefined;
      if (src!.az !== instance.az) {
        const snap = await snapshot(deps, job, job.name, src!, `first snapshot to move ${src!.id} to ${instance.az} (taken while ${holder!.id} runs)`);
        pre = { ...(await verifySnapshot(deps, snap, await previousSnapshot(deps, src!, snap))), snap };
      }
      job.guard?.();
      if (servingHolder) {
        unservedFrom = deps.clock.now().getTime();
        deps.log({ level: 'warn', event: 'unserved-start', msg: `${name}: briefly unserved from now: stopping ${holder!.id} to move ${src!.id} to ${instance.id}`, name, instanceId: holder!.id, volumeId: src!.id });
      }
      touched = true;
      await quiesce(deps, job, name, holder!, src!.id);
      placed = await placeVolume(deps, job, spec, src, converged, generation, pre, track);
      // The agent on the new instance mounts the volume and tags itself fleet:mounted=<volume>: only then does it serve.
      converged = await waitMounted(deps, name, converged.id, placed.volumeId);
      await deps.hook?.('mounted', name);
    }
    if (!converged.privateIp) throw new FleetError(`${name}: ${instance.id} converged without a private address`);
    changeId = await submitSwap(deps, job, instance, converged.privateIp);
  } catch (err) {
    const why = err instanceof DnsConflictError ? `the record of ${name} changed underneath this operation` : msg(err);
    throw await rollbackVolume(deps, job, { instance, src, copy: track.copy, holder: holderLive ? holder : undefined, touched, why, cause: err });
  }
  const msToServed = deps.clock.now().getTime() - started;
  deps.log({ level: 'info', event: 'swapped', msg: `${name}: record now points at ${converged.id} (${converged.privateIp}), with ${placed.volumeId}`, name, instanceId: converged.id, changeId });
  await deps.hook?.('swapped', name);

  const old = [...new Set([...(oldId ? [oldId] : []), ...job.retire, ...(holderId ? [holderId] : [])])].filter((id) => id !== converged.id);
  let unservedMs: number | undefined;
  // The old holder is stopped (or terminated) by now: INSYNC is enough, unless another old instance still runs.
  const { terminated, waitedMs, ttlWaited } = await settleSwap(deps, job, converged, changeId, old, () => {
    if (unservedFrom === undefined) return;
    unservedMs = deps.clock.now().getTime() - unservedFrom;
    deps.log({ level: 'warn', event: 'unserved-end', msg: `${name}: served again by ${converged.id} (record INSYNC) after ${Math.round(unservedMs)} ms unserved`, name, unservedMs });
  });
  if (placed.from && placed.from.volumeId !== placed.volumeId) placed.deletedOld = await deleteSource(deps, job, converged, placed);

  const result: ReplaceResult = {
    name,
    instanceId: converged.id,
    ip: converged.privateIp!,
    generation,
    type: converged.type,
    market: converged.market,
    az: converged.az,
    changeId,
    terminated,
    msToServed,
    settleMs: waitedMs,
    ttlWaited,
    volume: placed,
    ...(unservedMs !== undefined ? { unservedMs } : {}),
    ...(attempts ? { attempts } : {}),
  };
  await journalReplace(deps, job, result);
  return result;
}

/** Terminate a launch that never touched the data, and fail. */
async function rollbackLaunch(deps: OpsDeps, job: ReplaceJob, instance: Instance, why: string): Promise<never> {
  if (!job.adopt) await terminateConfirmed(deps, [instance.id], `rollback of ${job.name.name}`).catch(() => {});
  throw new FleetError(`${job.name.name}: ${why}; ${job.adopt ? 'nothing changed' : `rolled back (${instance.id} terminated)`}`);
}

/**
 * Undo a volume replacement that failed before its swap. The data's last good copy is never
 * deleted: a volume copied to the new AZ is deleted only when the original still exists.
 * Before the old instance was touched: terminate the new one, as replaceName does. After it
 * was stopped: give the volume back to it, start it, and terminate the new one. After it was
 * terminated (a spot instance): terminate the new one; the name stays unserved with its volume
 * available until the next apply.
 */
async function rollbackVolume(
  deps: OpsDeps,
  job: ReplaceJob,
  s: { instance: Instance; src: Volume | undefined; copy: string | undefined; holder: Instance | undefined; touched: boolean; why: string; cause: unknown },
): Promise<FleetError> {
  const name = job.name.name;
  const notes: string[] = [];
  deps.log({ level: 'warn', event: 'rollback', msg: `${name}: rolling back (${s.why})`, name, instanceId: s.instance.id });
  try {
    // The new instance goes (its attachments detach; volumes are attached with DeleteOnTermination false).
    await terminateConfirmed(deps, [s.instance.id], `rollback of ${name}`);
    notes.push(`${s.instance.id} terminated`);
    if (s.copy) {
      const original = s.src ? await deps.volumes.describeVolume(s.src.id) : undefined;
      if (original && usableVolume(original)) {
        await waitVolume(deps, s.copy, `to detach from ${s.instance.id}`, (v) => v.state === 'available' && !v.attachment);
        await deps.limiter.take('ec2:mutating');
        await deps.volumes.deleteVolume(s.copy);
        notes.push(`the copy ${s.copy} deleted (the original ${original.id} is intact)`);
      } else {
        notes.push(`the copy ${s.copy} kept (the original ${s.src?.id ?? '?'} is not there)`);
      }
    }
    if (s.touched && s.holder && s.src) {
      // What became of the old instance decides (its stop may have failed, or happened although the call failed).
      const h = await describeInstance(deps, s.holder.id);
      if (h && (h.state === 'stopping' || h.state === 'stopped')) {
        if (h.state === 'stopping') await deps.watcher.wait(h.id, 'to stop', VOLUME_TIMEOUT_MS, (i) => i.state === 'stopped' || i.state === 'terminated');
        // Same AZ: the volume may be on its way to the new instance: bring it back.
        const now = await waitVolume(deps, s.src.id, `to be free or still on ${h.id}`, (v) => !v.attachment || v.attachment.instanceId === h.id);
        if (!now.attachment) await attach(deps, {}, now, h.id, job.role.volume!.device);
        await deps.limiter.take('ec2:mutating');
        await deps.instances.start([h.id]);
        await deps.watcher.wait(h.id, 'to run again', VOLUME_TIMEOUT_MS, (i) => i.state === 'running', (i) => (i.state === 'shutting-down' || i.state === 'terminated' ? `${h.id} is ${i.state}` : undefined));
        notes.push(`${s.src.id} back on ${h.id}, which runs again`);
      } else if (h && LIVE.has(h.state)) {
        notes.push(`${h.id} was never stopped`);
      } else {
        notes.push(`${s.holder.id} was terminated to free ${s.src.id}; ${name} is unserved until \`fleet apply\` launches it again with its volume`);
      }
    }
  } catch (cleanup) {
    return new FleetError(`${name}: ${s.why}; AND the rollback failed (${msg(cleanup)})${notes.length ? ` after: ${notes.join('; ')}` : ''} — run \`fleet apply\` to repair ${name}`, { cause: s.cause, data: { name, instanceId: s.instance.id } });
  }
  return new FleetError(`${name}: ${s.why}; rolled back (${notes.join('; ')}; DNS untouched)`, { cause: s.cause, data: { name, instanceId: s.instance.id } });
}

/**
 * After a cross-AZ move, once the copy serves: delete the old volume, only when the copy is
 * attached to the instance serving the name and the old one is attached to nothing that runs.
 */
async function deleteSource(deps: OpsDeps, job: ReplaceJob, serving: Instance, placed: VolumePlacement): Promise<string | undefined> {
  const name = job.name.name;
  const oldId = placed.from!.volumeId;
  try {
    const copy = await deps.volumes.describeVolume(placed.volumeId);
    if (!copy || copy.attachment?.instanceId !== serving.id || copy.attachment.state !== 'attached') {
      deps.log({ level: 'warn', event: 'volume-kept', msg: `${name}: keeping ${oldId}: its copy ${placed.volumeId} is not attached to ${serving.id}`, name });
      return undefined;
    }
    await waitVolume(deps, oldId, 'to be free (its instance terminated)', free);
    job.guard?.();
    await deps.limiter.take('ec2:mutating');
    await deps.volumes.deleteVolume(oldId);
    deps.log({ level: 'info', event: 'volume-deleted', msg: `${name}: deleted ${oldId} in ${placed.from!.az}; ${placed.volumeId} in ${placed.az} serves`, name, volumeId: oldId });
    return oldId;
  } catch (err) {
    deps.log({ level: 'warn', event: 'volume-kept', msg: `${name}: could not delete the old volume ${oldId} (${msg(err)}); it is kept (its data is also on ${placed.volumeId})`, name });
    return undefined;
  }
}

export interface ReattachJob {
  name: FleetName;
  role: RoleSpec;
  /** The instance serving the name. */
  instanceId: string;
  guard?: () => void;
  fencingToken?: string;
}

/**
 * A served name whose volume is not on the instance serving it: attach it there. A
 * non-serving holder that runs is stopped first (or terminated when it cannot be stopped);
 * a volume in another AZ is left alone (replacing the name brings them together); a missing
 * volume is created.
 */
export async function reattachVolume(deps: OpsDeps, job: ReattachJob): Promise<VolumePlacement> {
  const spec = job.role.volume;
  const name = job.name.name;
  if (!spec) throw new FleetError(`${name}: role ${job.role.name} declares no volume`);
  const serving = await describeInstance(deps, job.instanceId);
  if (!serving || serving.state !== 'running') throw new FleetError(`${name}: ${job.instanceId} is ${serving?.state ?? 'gone'}; \`fleet apply\` replaces it first`);
  const vols = await volumesOf(deps, name);
  const on = vols.find((v) => v.attachment?.instanceId === serving.id);
  let placed: VolumePlacement;
  if (on) {
    placed = { volumeId: on.id, az: on.az, how: 'already-attached' };
  } else if (vols.length === 0) {
    const v = await createVolume(deps, job, job.name, spec, serving.generation ?? 0, serving.az);
    await attach(deps, job, v, serving.id, spec.device);
    placed = { volumeId: v.id, az: v.az, how: 'created' };
  } else {
    const src = currentVolume(vols, serving.id, serving.az)!;
    if (src.az !== serving.az) {
      throw new FleetError(`${name}: its volume ${src.id} is in ${src.az}, ${serving.id} runs in ${serving.az}; replace the name (fleet kill ${name}, then fleet apply) to bring them together`);
    }
    const holderId = src.attachment?.instanceId;
    if (holderId) {
      const holder = await describeInstance(deps, holderId);
      if (holder && LIVE.has(holder.state)) {
        if (holder.name !== undefined && holder.name !== name) throw new FleetError(`${name}: ${src.id} is attached to ${holder.id}, which is tagged ${holder.name}; not taking it`);
        await quiesce(deps, job, name, holder, src.id);
      }
    }
    const r = await placeVolume(deps, { name: job.name, role: job.role, generation: serving.generation ?? 0, retire: [], ...(job.guard ? { guard: job.guard } : {}) }, spec, src, serving, serving.generation ?? 0);
    placed = r;
  }
  await journal(deps, 'reattach', name, { instanceId: serving.id, volume: placed, ...(job.fencingToken ? { fencingToken: job.fencingToken } : {}) });
  return placed;
}
