/**
 * EBS volumes and snapshots as EC2 serves them (CreateVolume, AttachVolume, DetachVolume,
 * DeleteVolume, DescribeVolumes, CreateSnapshot, DescribeSnapshots), plus the snapshot data
 * the EBS direct API reads.
 *
 * Life is lazy: every record keeps the timestamps of its transitions on the simulated clock
 * (creating -> available, attaching -> attached, detaching -> detached, deleting -> gone,
 * snapshot pending -> completed) and its state is computed when read, so there are no
 * per-object timers. Records live in Maps; Describe* pages resume by binary search on a
 * sequence number carried in the token, and lookups by instance or by volume use indexes.
 */
import type { InstanceState } from '../../model.js';
import { AwsError, type SimContext, type SimRequest, type SnapshotRecord, type SnapshotStore } from '../types.js';
import { ec2Response, type Ec2Params, type XmlValue } from './query.js';
import { hasWildcard as isWildcard, WildcardSet } from '../wildcard.js';

export interface InstanceLookup {
  /** The instance's AZ and state, or undefined when it does not exist (or is not visible yet). */
  get(instanceId: string): { az: string; state: InstanceState } | undefined;
}

export interface VolumeAttachmentView {
  device: string;
  volumeId: string;
  status: 'attaching' | 'attached' | 'detaching' | 'detached';
  attachTime: string;
  deleteOnTermination: boolean;
}

export interface VolumeView {
  volumeId: string;
  az: string;
  sizeGiB: number;
  type: string;
  state: 'creating' | 'available' | 'in-use' | 'deleting' | 'deleted' | 'error';
  snapshotId?: string;
  tags: Record<string, string>;
  attachment?: { instanceId: string; device: string; status: string };
  /**
   * Every attachment this volume has had, oldest first, on the simulated clock (ms): when it
   * was asked for, and when it ended (the detach completed); the current one has no `detachedAt`.
   * Tests read the order of moves from it instead of sampling states that may last only a tick.
   */
  attachments: Array<{ instanceId: string; attachTime: number; detachedAt?: number }>;
  /** Written 512 KiB blocks: index -> content token. */
  blocks: Map<number, string>;
}

export interface VolumeControl {
  /** Simulate the instance writing data: set block contents (index -> content token). */
  writeVolumeBlocks(volumeId: string, blocks: Record<number, string>): void;
  volume(volumeId: string): VolumeView | undefined;
  volumes(): VolumeView[];
  snapshots(): SnapshotRecord[];
}

export type Ec2ActionHandler = (params: Ec2Params, req: SimRequest) => string;

/** A volume made together with an instance (RunInstances' BlockDeviceMappings), attached from the start. */
export interface LaunchVolumeSpec {
  instanceId: string;
  az: string;
  device: string;
  /** GiB; default the snapshot's size, else 8. */
  sizeGiB?: number;
  /** Default gp3 (what current AMIs use). */
  type?: string;
  snapshotId?: string;
  /** Default true, as for root volumes. */
  deleteOnTermination?: boolean;
  tags?: Record<string, string>;
}

export interface VolumeStore extends SnapshotStore {
  /** EC2 actions served here, keyed by action name; each returns the XML response body. */
  readonly actions: Record<string, Ec2ActionHandler>;
  /** An instance terminated: its attached volumes detach (or are deleted when DeleteOnTermination). */
  onInstanceTerminated(instanceId: string): void;
  /** Block device mappings of an instance, for DescribeInstances. */
  attachmentsOf(instanceId: string): VolumeAttachmentView[];
  /**
   * ADDED: the volumes attached (attach complete) to an instance by AttachVolume, with the time
   * the attachment completed: what a fleet bootstrap's agent mounts (and tags `fleet:mounted` for).
   */
  mountableOf(instanceId: string): { volumeId: string; attachedAt: number }[];
  readonly control: VolumeControl;
  /**
   * ADDED: create a volume already attached to an instance (for RunInstances' block device
   * mappings); returns the volume id. Throws AwsError for a bad size/type/snapshot.
   */
  createAttachedVolume(spec: LaunchVolumeSpec): string;
  /** ADDED: true when the id is a volume or snapshot this store knows (for CreateTags/DeleteTags routing). */
  hasResource(resourceId: string): boolean;
  /** ADDED: CreateTags on a volume or snapshot; false when the resource is not known here. Throws TagLimitExceeded. */
  createTags(resourceId: string, tags: { key: string; value: string }[]): boolean;
  /** ADDED: DeleteTags on a volume or snapshot (value undefined deletes the key whatever its value). */
  deleteTags(resourceId: string, tags: { key: string; value?: string }[]): boolean;
  /** ADDED: the tags of a volume or snapshot, or undefined when not known here (for DescribeTags). */
  tagsOf(resourceId: string): Record<string, string> | undefined;
}

/** 512 KiB blocks: 2,048 per GiB. */
export const BLOCKS_PER_GIB = 2048;

const VOLUME_TYPES = ['standard', 'io1', 'io2', 'gp2', 'sc1', 'st1', 'gp3'] as const;
type VolumeType = (typeof VOLUME_TYPES)[number];

/** Size range (GiB) per volume type, from the CreateVolume API reference. */
const SIZE_RANGE: Record<VolumeType, [number, number]> = {
  gp2: [1, 16_384],
  gp3: [1, 65_536],
  io1: [4, 16_384],
  io2: [4, 65_536],
  st1: [125, 16_384],
  sc1: [125, 16_384],
  standard: [1, 1_024],
};

/** Provisioned IOPS: range and maximum IOPS per GiB, for the types that take Iops. */
const IOPS_RULE: Partial<Record<VolumeType, { min: number; max: number; perGiB: number }>> = {
  gp3: { min: 3_000, max: 80_000, perGiB: 500 },
  io1: { min: 100, max: 64_000, perGiB: 50 },
  io2: { min: 100, max: 256_000, perGiB: 1_000 },
};

const GP3_THROUGHPUT = { min: 125, max: 2_000, perIops: 0.25 };

const VOLUME_ID_RE = /^vol-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SNAPSHOT_ID_RE = /^snap-([0-9a-f]{8}|[0-9a-f]{17})$/;
const INSTANCE_ID_RE = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
/** Linux device names EC2 accepts for EBS attachments (root names /dev/sda1 and /dev/xvda are taken). */
const DEVICE_RE = /^(\/dev\/(sd[b-z]([1-9]|1[0-5])?|xvd[b-z]|xvd[b-c][a-z])|xvd[b-z])$/;

const MAX_TAGS = 50;

interface AttachmentRec {
  instanceId: string;
  device: string;
  attachTime: number;
  /** attaching -> attached at this time. */
  attachedAt: number;
  deleteOnTermination: boolean;
  /** Set by DetachVolume: detaching -> detached (and the volume available) at this time. */
  detachDoneAt?: number;
  /** Attached by AttachVolume (not a launch mapping): the agent mounts it. */
  mountable?: boolean;
}

interface VolumeRec {
  seq: number;
  gone: boolean;
  id: string;
  az: string;
  size: number;
  type: VolumeType;
  iops?: number;
  throughput?: number;
  snapshotId?: string;
  encrypted: boolean;
  multiAttach: boolean;
  createdAt: number;
  /** creating -> available at this time. */
  availableAt: number;
  tags: Map<string, string>;
  blocks: Map<number, string>;
  attachment?: AttachmentRec;
  /** Attachments that ended (detach completed), oldest first. */
  past: Array<{ instanceId: string; attachTime: number; detachedAt: number }>;
  /** Set by DeleteVolume (or a terminate with DeleteOnTermination): deleting -> gone at this time. */
  deleteDoneAt?: number;
}

interface SnapRec {
  seq: number;
  gone: boolean;
  id: string;
  volumeId: string;
  size: number;
  startTime: number;
  /** pending -> completed at this time. */
  completeAt: number;
  blocks: Map<number, string>;
  description: string;
  tags: Map<string, string>;
  parent?: string;
  encrypted: boolean;
}

/** Records in creation order (= sequence order), with lazy removal and occasional compaction. */
class Ordered<T extends { seq: number; gone: boolean }> {
  items: T[] = [];
  #dead = 0;
  push(x: T): void {
    this.compact();
    this.items.push(x);
  }
  markDead(): void {
    this.#dead++;
  }
  /** Drop removed records when they are at least half the list (amortized O(1) per removal). Never during a scan. */
  compact(): void {
    if (this.#dead >= 64 && this.#dead * 2 >= this.items.length) {
      this.items = this.items.filter((x) => !x.gone);
      this.#dead = 0;
    }
  }
}

/** Index of the first record with seq > after. */
function firstAfter<T extends { seq: number }>(items: T[], after: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.seq <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Page<T> {
  items: T[];
  /** Sequence number to resume after, when more records may follow. */
  nextAfter?: number;
}

/**
 * One page of `candidates` (sorted by seq) after `after`. With `max`, a page holds at most
 * `max` matches and examines at most max(1000, 10 * max) records — like EC2 with filters, a
 * page may come back short or even empty with a NextToken, so callers must follow the token.
 */
function scanPage<T extends { seq: number; gone: boolean }>(candidates: T[], after: number | undefined, max: number | undefined, match: (x: T) => boolean): Page<T> {
  let i = after === undefined ? 0 : firstAfter(candidates, after);
  const out: T[] = [];
  const budget = max === undefined ? Infinity : Math.max(1000, max * 10);
  let examined = 0;
  for (; i < candidates.length; i++) {
    if (max !== undefined && (out.length >= max || examined >= budget)) break;
    const x = candidates[i]!;
    if (x.gone) continue;
    examined++;
    if (match(x)) out.push(x);
  }
  if (max !== undefined && i < candidates.length && i > 0) return { items: out, nextAfter: candidates[i - 1]!.seq };
  return { items: out };
}

function iso(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

function malformed(kind: 'vol' | 'snap' | 'i', id: string): AwsError {
  const code = kind === 'vol' ? 'InvalidVolumeID.Malformed' : kind === 'snap' ? 'InvalidSnapshotID.Malformed' : 'InvalidInstanceID.Malformed';
  return new AwsError(code, `Invalid id: "${id}" (expecting "${kind}-...")`);
}

function dryRun(p: Ec2Params): void {
  if (p.bool('DryRun')) throw new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}

/** EC2 filter values take `*` and `?` wildcards; a backslash escapes them (linear-time, ../wildcard.ts). */
function valueMatcher(values: string[]): (v: string | undefined) => boolean {
  const set = new WildcardSet(values);
  return (v) => set.test(v);
}

function hasWildcard(values: string[]): boolean {
  return values.some(isWildcard);
}

function encodeToken(kind: string, seq: number): string {
  return Buffer.from(JSON.stringify({ k: kind, s: seq })).toString('base64');
}

function decodeToken(kind: string, token: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { k?: unknown; s?: unknown };
    if (parsed.k === kind && typeof parsed.s === 'number' && Number.isInteger(parsed.s)) return parsed.s;
  } catch {
    /* fall through */
  }
  throw new AwsError('InvalidParameterValue', `Value ( ${token} ) for parameter NextToken is invalid. The token is invalid.`);
}

function maxResultsParam(p: Ec2Params, min: number, max: number): number | undefined {
  const n = p.int('MaxResults');
  if (n === undefined) return undefined;
  if (n < min) throw new AwsError('InvalidParameterValue', `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value greater than ${min}.`);
  if (n > max) throw new AwsError('InvalidParameterValue', `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value less than ${max}.`);
  return n;
}

/** Tags from TagSpecification.N for one resource type; validates keys, values and counts like EC2. */
function tagsFromSpecs(p: Ec2Params, resourceType: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of p.tagSpecifications()) {
    if (spec.resourceType !== resourceType) {
      throw new AwsError('InvalidParameterValue', `'${spec.resourceType || 'null'}' is not a valid taggable resource type for this operation.`);
    }
    for (const t of spec.tags) {
      validateTag(t.key, t.value);
      if (out.has(t.key)) throw new AwsError('InvalidParameterValue', `Duplicate tag key '${t.key}' specified.`);
      out.set(t.key, t.value);
    }
  }
  if (out.size > MAX_TAGS) throw new AwsError('TagLimitExceeded', `The maximum number of Tags for a resource has been reached. (limit ${MAX_TAGS})`);
  return out;
}

function validateTag(key: string, value: string | undefined): void {
  if (key === '') throw new AwsError('InvalidParameterValue', 'Tag key must not be empty.');
  if (key.length > 128) throw new AwsError('InvalidParameterValue', `Tag key exceeds the maximum length of 128 characters: ${key.slice(0, 40)}...`);
  if (value !== undefined && value.length > 256) throw new AwsError('InvalidParameterValue', `Tag value exceeds the maximum length of 256 characters for key '${key}'.`);
  if (key.toLowerCase().startsWith('aws:')) throw new AwsError('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
}

function tagSet(tags: Map<string, string>): XmlValue {
  if (tags.size === 0) return undefined;
  return [...tags].map(([key, value]) => ({ key, value }));
}

/** sdf, xvdf and sdf1 all name the same attachment slot. */
function deviceSlot(device: string): string {
  const name = device.replace(/^\/dev\//, '').replace(/^xvd/, 'sd');
  return name.replace(/\d+$/, '');
}

export function createVolumeStore(ctx: SimContext, instances: InstanceLookup): VolumeStore {
  const zones = new Set(['a', 'b', 'c'].map((s) => `${ctx.region}${s}`));
  const volumes = new Map<string, VolumeRec>();
  const volumeList = new Ordered<VolumeRec>();
  const snapshots = new Map<string, SnapRec>();
  const snapshotList = new Ordered<SnapRec>();
  /** instance id -> ids of volumes attached (attaching, attached or detaching) to it. */
  const byInstance = new Map<string, Set<string>>();
  /** volume id -> its snapshots, oldest first. */
  const snapsByVolume = new Map<string, SnapRec[]>();
  /** volume id -> the snapshot its next snapshot follows (its last snapshot, or the snapshot it was created from). */
  const lineageTip = new Map<string, string>();
  const clientTokens = new Map<string, { volumeId: string; fingerprint: string }>();
  let seq = 0;

  const now = (): number => ctx.clock.now();

  // ---- lazy life --------------------------------------------------------------------------

  function unindex(instanceId: string, volumeId: string): void {
    const set = byInstance.get(instanceId);
    if (!set) return;
    set.delete(volumeId);
    if (set.size === 0) byInstance.delete(instanceId);
  }

  function dropAttachment(v: VolumeRec, t: number): void {
    if (!v.attachment) return;
    const a = v.attachment;
    v.past.push({ instanceId: a.instanceId, attachTime: a.attachTime, detachedAt: Math.min(t, a.detachDoneAt ?? t) });
    unindex(a.instanceId, v.id);
    delete v.attachment;
  }

  /** Apply due transitions; undefined when the volume is gone. */
  function settle(v: VolumeRec, t = now()): VolumeRec | undefined {
    if (v.gone) return undefined;
    if (v.attachment?.detachDoneAt !== undefined && t >= v.attachment.detachDoneAt) dropAttachment(v, t);
    if (v.deleteDoneAt !== undefined && t >= v.deleteDoneAt) {
      dropAttachment(v, t);
      v.gone = true;
      volumes.delete(v.id);
      volumeList.markDead();
      return undefined;
    }
    return v;
  }

  function volumeState(v: VolumeRec, t = now()): VolumeView['state'] {
    if (v.deleteDoneAt !== undefined) return 'deleting';
    if (t < v.availableAt) return 'creating';
    if (v.attachment) return 'in-use';
    return 'available';
  }

  function attachmentStatus(a: AttachmentRec, t = now()): VolumeAttachmentView['status'] {
    if (a.detachDoneAt !== undefined) return t >= a.detachDoneAt ? 'detached' : 'detaching';
    return t < a.attachedAt ? 'attaching' : 'attached';
  }

  function snapState(s: SnapRec, t = now()): 'pending' | 'completed' {
    return t >= s.completeAt ? 'completed' : 'pending';
  }

  function snapProgress(s: SnapRec, t = now()): string {
    if (t >= s.completeAt) return '100%';
    const span = s.completeAt - s.startTime;
    return `${Math.max(0, Math.min(99, Math.floor(((t - s.startTime) / span) * 100)))}%`;
  }

  function findVolume(id: string): VolumeRec | undefined {
    const v = volumes.get(id);
    return v ? settle(v) : undefined;
  }

  function requireVolume(id: string): VolumeRec {
    if (!VOLUME_ID_RE.test(id)) throw malformed('vol', id);
    const v = findVolume(id);
    if (!v) throw new AwsError('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
    return v;
  }

  function requireSnapshot(id: string): SnapRec {
    if (!SNAPSHOT_ID_RE.test(id)) throw malformed('snap', id);
    const s = snapshots.get(id);
    if (!s) throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return s;
  }

  // ---- rendering ----------------------------------------------------------------------------

  function attachmentXml(v: VolumeRec, a: AttachmentRec, t: number): Record<string, XmlValue> {
    return {
      attachTime: iso(a.attachTime),
      device: a.device,
      instanceId: a.instanceId,
      status: attachmentStatus(a, t),
      volumeId: v.id,
      deleteOnTermination: a.deleteOnTermination,
    };
  }

  function volumeXml(v: VolumeRec, t: number): Record<string, XmlValue> {
    return {
      volumeId: v.id,
      size: v.size,
      snapshotId: v.snapshotId ?? '',
      availabilityZone: v.az,
      status: volumeState(v, t),
      createTime: iso(v.createdAt),
      attachmentSet: v.attachment ? [attachmentXml(v, v.attachment, t)] : [],
      tagSet: tagSet(v.tags),
      volumeType: v.type,
      iops: v.iops,
      throughput: v.throughput,
      encrypted: v.encrypted,
      multiAttachEnabled: v.multiAttach,
    };
  }

  function snapshotXml(s: SnapRec, t: number): Record<string, XmlValue> {
    const state = snapState(s, t);
    return {
      snapshotId: s.id,
      volumeId: s.volumeId,
      status: state,
      startTime: iso(s.startTime),
      progress: snapProgress(s, t),
      ownerId: ctx.account,
      volumeSize: s.size,
      description: s.description,
      encrypted: s.encrypted,
      tagSet: tagSet(s.tags),
      storageTier: 'standard',
      completionTime: state === 'completed' ? iso(s.completeAt) : undefined,
    };
  }

  function volumeView(v: VolumeRec, t = now()): VolumeView {
    const view: VolumeView = {
      volumeId: v.id,
      az: v.az,
      sizeGiB: v.size,
      type: v.type,
      state: volumeState(v, t),
      tags: Object.fromEntries(v.tags),
      blocks: v.blocks,
      attachments: [...v.past, ...(v.attachment ? [{ instanceId: v.attachment.instanceId, attachTime: v.attachment.attachTime }] : [])],
    };
    if (v.snapshotId !== undefined) view.snapshotId = v.snapshotId;
    if (v.attachment) view.attachment = { instanceId: v.attachment.instanceId, device: v.attachment.device, status: attachmentStatus(v.attachment, t) };
    return view;
  }

  function snapshotRecord(s: SnapRec, t = now()): SnapshotRecord {
    const r: SnapshotRecord = { snapshotId: s.id, volumeId: s.volumeId, volumeSizeGiB: s.size, state: snapState(s, t), startTime: s.startTime, blocks: s.blocks };
    if (s.parent !== undefined) r.parentSnapshotId = s.parent;
    return r;
  }

  // ---- creation -----------------------------------------------------------------------------

  interface VolumeSpec {
    az: string;
    type: VolumeType;
    size: number;
    iops?: number;
    throughput?: number;
    snapshot?: SnapRec;
    encrypted: boolean;
    multiAttach: boolean;
  }

  /** Validate the CreateVolume parameters as EC2 does. */
  function volumeSpec(opts: { az: string | undefined; type: string | undefined; size: number | undefined; snapshotId: string | undefined; iops: number | undefined; throughput: number | undefined; encrypted: boolean | undefined; multiAttach: boolean | undefined }): VolumeSpec {
    if (opts.az === undefined || opts.az === '') throw new AwsError('MissingParameter', 'The request must contain the parameter AvailabilityZone');
    if (!zones.has(opts.az)) throw new AwsError('InvalidParameterValue', `Invalid availability zone: [${opts.az}]`);
    const typeName = opts.type ?? 'gp2';
    if (!(VOLUME_TYPES as readonly string[]).includes(typeName)) {
      throw new AwsError('InvalidParameterValue', `Value (${typeName}) for parameter volumeType is invalid. Valid values: ${VOLUME_TYPES.join(', ')}`);
    }
    const type = typeName as VolumeType;
    if (opts.size === undefined && opts.snapshotId === undefined) throw new AwsError('MissingParameter', 'The request must contain the parameter size or snapshotId');
    let snapshot: SnapRec | undefined;
    if (opts.snapshotId !== undefined) {
      snapshot = requireSnapshot(opts.snapshotId);
      const state = snapState(snapshot);
      if (state !== 'completed') throw new AwsError('IncorrectState', `Snapshot '${snapshot.id}' is in invalid state - ${state}`);
    }
    const size = opts.size ?? snapshot!.size;
    const [min, max] = SIZE_RANGE[type];
    if (snapshot && size < snapshot.size) {
      throw new AwsError('InvalidParameterValue', `Volume of ${size}GiB is smaller than snapshot '${snapshot.id}', expect size >= ${snapshot.size}GiB`);
    }
    if (size < min) throw new AwsError('InvalidParameterValue', `Volume of ${size}GiB is too small for volume type ${type}; minimum is ${min}GiB`);
    if (size > max) throw new AwsError('InvalidParameterValue', `Volume of ${size}GiB is too large for volume type ${type}; maximum is ${max}GiB`);

    const rule = IOPS_RULE[type];
    let iops = opts.iops;
    if (iops !== undefined && !rule) throw new AwsError('InvalidParameterCombination', `The parameter iops is not supported for ${type} volumes.`);
    if (rule) {
      if (iops === undefined) {
        if (type !== 'gp3') throw new AwsError('MissingParameter', `The request must contain the parameter iops for ${type} volumes.`);
        iops = rule.min;
      }
      if (iops < rule.min || iops > rule.max) {
        throw new AwsError('InvalidParameterValue', `Value (${iops}) for parameter iops is invalid. Expected a value between ${rule.min} and ${rule.max} for ${type} volumes.`);
      }
      // gp3 always allows its 3,000 baseline; above it (and for io1/io2 always) IOPS are capped per GiB.
      const allowed = type === 'gp3' ? Math.max(rule.min, rule.perGiB * size) : rule.perGiB * size;
      if (iops > allowed) {
        throw new AwsError('InvalidParameterValue', `Iops to volume size ratio of ${(iops / size).toFixed(6)} is too high; maximum is ${rule.perGiB.toFixed(6)}`);
      }
    } else if (type === 'gp2') {
      iops = Math.min(16_000, Math.max(100, 3 * size));
    }

    let throughput = opts.throughput;
    if (throughput !== undefined && type !== 'gp3') throw new AwsError('InvalidParameterCombination', `The parameter throughput is not supported for ${type} volumes.`);
    if (type === 'gp3') {
      throughput ??= GP3_THROUGHPUT.min;
      if (throughput < GP3_THROUGHPUT.min || throughput > GP3_THROUGHPUT.max) {
        throw new AwsError('InvalidParameterValue', `Value (${throughput}) for parameter throughput is invalid. Expected a value between ${GP3_THROUGHPUT.min} and ${GP3_THROUGHPUT.max}.`);
      }
      if (throughput > GP3_THROUGHPUT.min && throughput / iops! > GP3_THROUGHPUT.perIops) {
        throw new AwsError('InvalidParameterValue', `Throughput (MiBps) to iops ratio of ${(throughput / iops!).toFixed(6)} is too high; maximum is ${GP3_THROUGHPUT.perIops.toFixed(6)} MiBps per iops.`);
      }
    }
    const multiAttach = opts.multiAttach ?? false;
    if (multiAttach && type !== 'io1' && type !== 'io2') throw new AwsError('InvalidParameterCombination', 'Multi-Attach is supported only for io1 and io2 volumes.');
    const spec: VolumeSpec = { az: opts.az, type, size, encrypted: (opts.encrypted ?? false) || (snapshot?.encrypted ?? false), multiAttach };
    if (iops !== undefined) spec.iops = iops;
    if (throughput !== undefined) spec.throughput = throughput;
    if (snapshot) spec.snapshot = snapshot;
    return spec;
  }

  function makeVolume(spec: VolumeSpec, tags: Map<string, string>, availableAt: number): VolumeRec {
    const t = now();
    const v: VolumeRec = {
      seq: ++seq,
      gone: false,
      id: ctx.ids.next('vol'),
      az: spec.az,
      size: spec.size,
      type: spec.type,
      encrypted: spec.encrypted,
      multiAttach: spec.multiAttach,
      createdAt: t,
      availableAt,
      tags,
      blocks: spec.snapshot ? new Map(spec.snapshot.blocks) : new Map(),
      past: [],
    };
    if (spec.iops !== undefined) v.iops = spec.iops;
    if (spec.throughput !== undefined) v.throughput = spec.throughput;
    if (spec.snapshot) {
      v.snapshotId = spec.snapshot.id;
      // The volume continues the snapshot's lineage: its first snapshot follows this one.
      lineageTip.set(v.id, spec.snapshot.id);
    }
    volumes.set(v.id, v);
    volumeList.push(v);
    return v;
  }

  // ---- filters ------------------------------------------------------------------------------

  type Getter<T> = (x: T, t: number) => string[];

  function tagGetter<T extends { tags: Map<string, string> }>(name: string): Getter<T> | undefined {
    if (name.startsWith('tag:')) {
      const key = name.slice(4);
      return (x) => {
        const v = x.tags.get(key);
        return v === undefined ? [] : [v];
      };
    }
    if (name === 'tag-key') return (x) => [...x.tags.keys()];
    if (name === 'tag-value') return (x) => [...x.tags.values()];
    return undefined;
  }

  const VOLUME_FILTERS: Record<string, Getter<VolumeRec>> = {
    'attachment.attach-time': (v) => (v.attachment ? [iso(v.attachment.attachTime)] : []),
    'attachment.delete-on-termination': (v) => (v.attachment ? [String(v.attachment.deleteOnTermination)] : []),
    'attachment.device': (v) => (v.attachment ? [v.attachment.device] : []),
    'attachment.instance-id': (v) => (v.attachment ? [v.attachment.instanceId] : []),
    'attachment.status': (v, t) => (v.attachment ? [attachmentStatus(v.attachment, t)] : []),
    'availability-zone': (v) => [v.az],
    'create-time': (v) => [iso(v.createdAt)],
    encrypted: (v) => [String(v.encrypted)],
    'multi-attach-enabled': (v) => [String(v.multiAttach)],
    size: (v) => [String(v.size)],
    'snapshot-id': (v) => (v.snapshotId ? [v.snapshotId] : []),
    status: (v, t) => [volumeState(v, t)],
    'volume-id': (v) => [v.id],
    'volume-type': (v) => [v.type],
  };

  const SNAPSHOT_FILTERS: Record<string, Getter<SnapRec>> = {
    description: (s) => [s.description],
    encrypted: (s) => [String(s.encrypted)],
    'owner-alias': () => [],
    'owner-id': () => [ctx.account],
    progress: (s, t) => [snapProgress(s, t)],
    'snapshot-id': (s) => [s.id],
    'start-time': (s) => [iso(s.startTime)],
    status: (s, t) => [snapState(s, t)],
    'storage-tier': () => ['standard'],
    'volume-id': (s) => [s.volumeId],
    'volume-size': (s) => [String(s.size)],
  };

  function compileFilters<T extends { tags: Map<string, string> }>(p: Ec2Params, table: Record<string, Getter<T>>): (x: T, t: number) => boolean {
    const checks = p.filters().map(({ name, values }) => {
      const get = (Object.hasOwn(table, name) ? table[name] : undefined) ?? tagGetter<T>(name);
      if (!get) throw new AwsError('InvalidParameterValue', `The filter '${name}' is invalid`);
      if (values.length === 0) throw new AwsError('InvalidParameterValue', `The filter '${name}' requires at least one value`);
      const match = valueMatcher(values);
      return (x: T, t: number) => get(x, t).some((v) => match(v));
    });
    return (x, t) => checks.every((c) => c(x, t));
  }

  /** Records named by the values of an exact-match filter, through an index; undefined = scan everything. */
  function indexedCandidates<T extends { seq: number }>(p: Ec2Params, filterName: string, lookup: (value: string) => Iterable<T>): T[] | undefined {
    const f = p.filters().find((x) => x.name === filterName);
    if (!f || f.values.length === 0 || hasWildcard(f.values)) return undefined;
    const seen = new Map<number, T>();
    for (const value of f.values) for (const x of lookup(value)) seen.set(x.seq, x);
    return [...seen.values()].sort((a, b) => a.seq - b.seq);
  }

  // ---- actions ------------------------------------------------------------------------------

  function CreateVolume(p: Ec2Params, req: SimRequest): string {
    const spec = volumeSpec({
      az: p.str('AvailabilityZone'),
      type: p.str('VolumeType'),
      size: p.int('Size'),
      snapshotId: p.str('SnapshotId'),
      iops: p.int('Iops'),
      throughput: p.int('Throughput'),
      encrypted: p.bool('Encrypted'),
      multiAttach: p.bool('MultiAttachEnabled'),
    });
    const tags = tagsFromSpecs(p, 'volume');
    const token = p.str('ClientToken');
    if (token !== undefined && token.length > 64) throw new AwsError('InvalidParameterValue', 'Value for parameter ClientToken is invalid. The token must be at most 64 characters.');
    dryRun(p);
    let fingerprint = '';
    if (token !== undefined) {
      fingerprint = JSON.stringify(
        [...p.flat]
          .filter(([k]) => k !== 'Action' && k !== 'Version' && k !== 'ClientToken' && k !== 'DryRun')
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
      const prior = clientTokens.get(token);
      if (prior) {
        if (prior.fingerprint !== fingerprint) {
          throw new AwsError('IdempotentParameterMismatch', `Client token '${token}' was already used with different parameters.`);
        }
        const existing = volumes.get(prior.volumeId);
        if (existing && settle(existing)) return ec2Response('CreateVolume', req.requestId, volumeXml(existing, now()));
      }
    }
    const v = makeVolume(spec, tags, now() + ctx.delays.attachMs);
    if (token !== undefined) clientTokens.set(token, { volumeId: v.id, fingerprint });
    const body = volumeXml(v, now());
    delete body['attachmentSet'];
    return ec2Response('CreateVolume', req.requestId, body);
  }

  function AttachVolume(p: Ec2Params, req: SimRequest): string {
    const volumeId = p.req('VolumeId');
    const instanceId = p.req('InstanceId');
    const device = p.req('Device');
    const v = requireVolume(volumeId);
    if (!INSTANCE_ID_RE.test(instanceId)) throw malformed('i', instanceId);
    const inst = instances.get(instanceId);
    if (!inst) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    if (!DEVICE_RE.test(device)) throw new AwsError('InvalidParameterValue', `Value (${device}) for parameter device is invalid. ${device} is not a valid EBS device name.`);
    const t = now();
    const state = volumeState(v, t);
    if (state === 'in-use') throw new AwsError('VolumeInUse', `${volumeId} is already attached to an instance`);
    if (state !== 'available') throw new AwsError('IncorrectState', `Volume '${volumeId}' is in the '${state}' state.`);
    if (v.az !== inst.az) throw new AwsError('InvalidVolume.ZoneMismatch', `The volume '${volumeId}' is not in the same availability zone as instance '${instanceId}'`);
    if (inst.state !== 'running' && inst.state !== 'stopped') throw new AwsError('IncorrectState', `Instance '${instanceId}' is not 'running'.`);
    const slot = deviceSlot(device);
    for (const other of attachedTo(instanceId, t)) {
      if (deviceSlot(other.attachment!.device) === slot) throw new AwsError('InvalidParameterValue', `Attachment point ${device} is already in use`);
    }
    dryRun(p);
    const a: AttachmentRec = { instanceId, device, attachTime: t, attachedAt: t + ctx.delays.attachMs, deleteOnTermination: false, mountable: true };
    v.attachment = a;
    let set = byInstance.get(instanceId);
    if (!set) byInstance.set(instanceId, (set = new Set()));
    set.add(v.id);
    return ec2Response('AttachVolume', req.requestId, attachmentXml(v, a, t));
  }

  function DetachVolume(p: Ec2Params, req: SimRequest): string {
    const volumeId = p.req('VolumeId');
    const instanceId = p.str('InstanceId');
    const device = p.str('Device');
    p.bool('Force');
    const v = requireVolume(volumeId);
    if (instanceId !== undefined && !INSTANCE_ID_RE.test(instanceId)) throw malformed('i', instanceId);
    const t = now();
    const a = v.attachment;
    if (!a) throw new AwsError('IncorrectState', `Volume '${volumeId}' is in the '${volumeState(v, t)}' state.`);
    if ((instanceId !== undefined && instanceId !== a.instanceId) || (device !== undefined && device !== a.device)) {
      throw new AwsError('InvalidAttachment.NotFound', `The volume '${volumeId}' is not attached to instance '${instanceId ?? a.instanceId}'${device !== undefined ? ` at ${device}` : ''}`);
    }
    dryRun(p);
    if (a.detachDoneAt === undefined) a.detachDoneAt = t + ctx.delays.attachMs;
    return ec2Response('DetachVolume', req.requestId, attachmentXml(v, a, t));
  }

  function DeleteVolume(p: Ec2Params, req: SimRequest): string {
    const volumeId = p.req('VolumeId');
    const v = requireVolume(volumeId);
    const state = volumeState(v);
    if (state === 'in-use') throw new AwsError('VolumeInUse', `Volume ${volumeId} is currently attached to ${v.attachment!.instanceId}`);
    if (state === 'creating') throw new AwsError('IncorrectState', `The volume '${volumeId}' is 'creating'.`);
    dryRun(p);
    if (v.deleteDoneAt === undefined) v.deleteDoneAt = now() + ctx.delays.attachMs;
    return ec2Response('DeleteVolume', req.requestId, { return: true });
  }

  function DescribeVolumes(p: Ec2Params, req: SimRequest): string {
    const ids = p.list('VolumeId');
    const max = maxResultsParam(p, 5, 500);
    if (ids.length > 0 && max !== undefined) throw new AwsError('InvalidParameterCombination', 'The parameter volumeSet cannot be used with the parameter maxResults');
    const token = p.str('NextToken');
    const after = token !== undefined && token !== '' ? decodeToken('vol', token) : undefined;
    const match = compileFilters(p, VOLUME_FILTERS);
    dryRun(p);
    const t = now();
    volumeList.compact();
    let page: Page<VolumeRec>;
    if (ids.length > 0) {
      const found: VolumeRec[] = [];
      const missing: string[] = [];
      for (const id of new Set(ids)) {
        if (!VOLUME_ID_RE.test(id)) throw malformed('vol', id);
        const v = findVolume(id);
        if (v) found.push(v);
        else missing.push(id);
      }
      if (missing.length > 0) throw new AwsError('InvalidVolume.NotFound', `The volume${missing.length > 1 ? 's' : ''} '${missing.join("', '")}' ${missing.length > 1 ? 'do' : 'does'} not exist.`);
      page = { items: found.filter((v) => match(v, t)) };
    } else {
      const candidates =
        indexedCandidates(p, 'attachment.instance-id', (iid) => [...(byInstance.get(iid) ?? [])].flatMap((id) => volumes.get(id) ?? [])) ??
        indexedCandidates(p, 'volume-id', (id) => {
          const v = volumes.get(id);
          return v ? [v] : [];
        }) ??
        volumeList.items;
      page = scanPage(candidates, after, max, (v) => settle(v, t) !== undefined && match(v, t));
    }
    return ec2Response('DescribeVolumes', req.requestId, {
      volumeSet: page.items.map((v) => volumeXml(v, t)),
      nextToken: page.nextAfter !== undefined ? encodeToken('vol', page.nextAfter) : undefined,
    });
  }

  function CreateSnapshot(p: Ec2Params, req: SimRequest): string {
    const volumeId = p.req('VolumeId');
    const description = p.str('Description') ?? '';
    if (description.length > 255) throw new AwsError('InvalidParameterValue', 'Value for parameter description is invalid. The description must be at most 255 characters.');
    const v = requireVolume(volumeId);
    const t = now();
    const state = volumeState(v, t);
    if (state !== 'available' && state !== 'in-use') throw new AwsError('IncorrectState', `The volume '${volumeId}' is in the '${state}' state.`);
    const tags = tagsFromSpecs(p, 'snapshot');
    dryRun(p);
    const s: SnapRec = {
      seq: ++seq,
      gone: false,
      id: ctx.ids.next('snap'),
      volumeId,
      size: v.size,
      startTime: t,
      completeAt: t + ctx.delays.snapshotMs,
      blocks: new Map(v.blocks),
      description,
      tags,
      encrypted: v.encrypted,
    };
    const parent = lineageTip.get(volumeId);
    if (parent !== undefined) s.parent = parent;
    lineageTip.set(volumeId, s.id);
    snapshots.set(s.id, s);
    snapshotList.push(s);
    let list = snapsByVolume.get(volumeId);
    if (!list) snapsByVolume.set(volumeId, (list = []));
    list.push(s);
    return ec2Response('CreateSnapshot', req.requestId, snapshotXml(s, t));
  }

  function DescribeSnapshots(p: Ec2Params, req: SimRequest): string {
    const ids = p.list('SnapshotId');
    const max = maxResultsParam(p, 5, 1000);
    if (ids.length > 0 && max !== undefined) throw new AwsError('InvalidParameterCombination', 'The parameter snapshotSet cannot be used with the parameter maxResults');
    const token = p.str('NextToken');
    const after = token !== undefined && token !== '' ? decodeToken('snap', token) : undefined;
    const owners = p.list('Owner');
    for (const o of owners) {
      if (!['self', 'amazon', 'aws-marketplace', 'aws-backup-vault'].includes(o) && !/^\d{12}$/.test(o)) throw new AwsError('InvalidUserID.Malformed', `Invalid user id: "${o}"`);
    }
    for (const r of p.list('RestorableBy')) {
      if (r !== 'all' && r !== 'self' && !/^\d{12}$/.test(r)) throw new AwsError('InvalidUserID.Malformed', `Invalid user id: "${r}"`);
    }
    const ownerOk = owners.length === 0 || owners.some((o) => o === 'self' || o === ctx.account);
    const match = compileFilters(p, SNAPSHOT_FILTERS);
    dryRun(p);
    const t = now();
    snapshotList.compact();
    let page: Page<SnapRec>;
    if (ids.length > 0) {
      const found: SnapRec[] = [];
      for (const id of new Set(ids)) found.push(requireSnapshot(id));
      page = { items: ownerOk ? found.filter((s) => match(s, t)) : [] };
    } else if (!ownerOk) {
      page = { items: [] };
    } else {
      const candidates = indexedCandidates(p, 'volume-id', (vid) => snapsByVolume.get(vid) ?? []) ?? snapshotList.items;
      page = scanPage(candidates, after, max, (s) => match(s, t));
    }
    return ec2Response('DescribeSnapshots', req.requestId, {
      snapshotSet: page.items.map((s) => snapshotXml(s, t)),
      nextToken: page.nextAfter !== undefined ? encodeToken('snap', page.nextAfter) : undefined,
    });
  }

  // ---- instance side ------------------------------------------------------------------------

  /** Volumes with a (not yet finished) attachment to the instance. */
  function attachedTo(instanceId: string, t = now()): VolumeRec[] {
    const set = byInstance.get(instanceId);
    if (!set) return [];
    const out: VolumeRec[] = [];
    for (const id of [...set]) {
      const v = volumes.get(id);
      if (v && settle(v, t) && v.attachment?.instanceId === instanceId) out.push(v);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  function onInstanceTerminated(instanceId: string): void {
    const t = now();
    for (const v of attachedTo(instanceId, t)) {
      const deleteIt = v.attachment!.deleteOnTermination;
      dropAttachment(v, t);
      if (deleteIt && v.deleteDoneAt === undefined) v.deleteDoneAt = t + ctx.delays.attachMs;
    }
  }

  function attachmentsOf(instanceId: string): VolumeAttachmentView[] {
    const t = now();
    return attachedTo(instanceId, t).map((v) => {
      const a = v.attachment!;
      return { device: a.device, volumeId: v.id, status: attachmentStatus(a, t), attachTime: iso(a.attachTime), deleteOnTermination: a.deleteOnTermination };
    });
  }

  function mountableOf(instanceId: string): { volumeId: string; attachedAt: number }[] {
    const t = now();
    return attachedTo(instanceId, t)
      .filter((v) => v.attachment!.mountable === true && attachmentStatus(v.attachment!, t) === 'attached')
      .map((v) => ({ volumeId: v.id, attachedAt: v.attachment!.attachedAt }));
  }

  function createAttachedVolume(spec: LaunchVolumeSpec): string {
    const vs = volumeSpec({
      az: spec.az,
      type: spec.type ?? 'gp3',
      size: spec.sizeGiB ?? (spec.snapshotId === undefined ? 8 : undefined),
      snapshotId: spec.snapshotId,
      iops: undefined,
      throughput: undefined,
      encrypted: undefined,
      multiAttach: undefined,
    });
    const tags = new Map<string, string>();
    for (const [k, val] of Object.entries(spec.tags ?? {})) {
      validateTag(k, val);
      tags.set(k, val);
    }
    const t = now();
    const v = makeVolume(vs, tags, t);
    v.attachment = { instanceId: spec.instanceId, device: spec.device, attachTime: t, attachedAt: t, deleteOnTermination: spec.deleteOnTermination ?? true };
    let set = byInstance.get(spec.instanceId);
    if (!set) byInstance.set(spec.instanceId, (set = new Set()));
    set.add(v.id);
    return v.id;
  }

  // ---- tags ---------------------------------------------------------------------------------

  function taggable(resourceId: string): { tags: Map<string, string> } | undefined {
    if (resourceId.startsWith('vol-')) return findVolume(resourceId);
    if (resourceId.startsWith('snap-')) return snapshots.get(resourceId);
    return undefined;
  }

  // ---- control ------------------------------------------------------------------------------

  const control: VolumeControl = {
    writeVolumeBlocks(volumeId, blocks) {
      const v = findVolume(volumeId);
      if (!v) throw new RangeError(`writeVolumeBlocks: no volume ${volumeId}`);
      if (v.deleteDoneAt !== undefined) throw new RangeError(`writeVolumeBlocks: volume ${volumeId} is being deleted`);
      const limit = v.size * BLOCKS_PER_GIB;
      const entries = Object.entries(blocks);
      for (const [k, token] of entries) {
        const index = Number(k);
        if (!/^\d+$/.test(k) || !Number.isSafeInteger(index) || index >= limit) {
          throw new RangeError(`writeVolumeBlocks: block index ${k} is outside volume ${volumeId} (${v.size} GiB = blocks 0..${limit - 1} of 512 KiB)`);
        }
        if (typeof token !== 'string' || token === '') throw new RangeError(`writeVolumeBlocks: block ${k} needs a non-empty content token`);
      }
      for (const [k, token] of entries) v.blocks.set(Number(k), token);
    },
    volume(volumeId) {
      const v = findVolume(volumeId);
      return v ? volumeView(v) : undefined;
    },
    volumes() {
      const t = now();
      const out: VolumeView[] = [];
      for (const v of [...volumes.values()]) if (settle(v, t)) out.push(volumeView(v, t));
      return out;
    },
    snapshots() {
      const t = now();
      return [...snapshots.values()].map((s) => snapshotRecord(s, t));
    },
  };

  return {
    actions: { CreateVolume, AttachVolume, DetachVolume, DeleteVolume, DescribeVolumes, CreateSnapshot, DescribeSnapshots },
    getSnapshot(snapshotId) {
      const s = snapshots.get(snapshotId);
      return s ? snapshotRecord(s) : undefined;
    },
    onInstanceTerminated,
    attachmentsOf,
    mountableOf,
    control,
    createAttachedVolume,
    hasResource: (id) => taggable(id) !== undefined,
    createTags(resourceId, tags) {
      const r = taggable(resourceId);
      if (!r) return false;
      for (const t of tags) validateTag(t.key, t.value);
      const newKeys = new Set(tags.map((t) => t.key).filter((k) => !r.tags.has(k)));
      if (r.tags.size + newKeys.size > MAX_TAGS) throw new AwsError('TagLimitExceeded', `The maximum number of Tags for a resource has been reached. (limit ${MAX_TAGS})`);
      for (const t of tags) r.tags.set(t.key, t.value);
      return true;
    },
    deleteTags(resourceId, tags) {
      const r = taggable(resourceId);
      if (!r) return false;
      for (const t of tags) if (t.value === undefined || r.tags.get(t.key) === t.value) r.tags.delete(t.key);
      return true;
    },
    tagsOf(resourceId) {
      const r = taggable(resourceId);
      return r ? Object.fromEntries(r.tags) : undefined;
    },
  };
}
