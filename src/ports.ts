/**
 * Ports: the small interfaces the core and ops/ depend on. src/aws implements them with the
 * AWS SDK; tests and the local cloud stand behind the same adapters, never behind mocks of
 * `client.send`.
 */
import type { DnsRecord, ImageRef, Instance, Snapshot, Volume } from './model.js';

export interface HostedZone {
  /** Bare id, no `/hostedzone/` prefix: Z0123456789ABCDEFGHIJ. */
  id: string;
  /** Lowercase, no trailing dot. */
  name: string;
  recordCount?: number;
}

/** Counts of what a listing cost, for progress and benchmarks. */
export interface PageProgress {
  (info: { pages: number; items: number }): void;
}

/** One record change; CREATE and DELETE make compare-and-swap batches, UPSERT is last-writer-wins. */
export interface DnsChange {
  action: 'CREATE' | 'DELETE' | 'UPSERT';
  /** FQDN, no trailing dot. */
  name: string;
  type: 'A';
  ttl: number;
  values: string[];
}

export interface Dns {
  /** The public hosted zone with exactly this name; undefined if none; an error if several. */
  findZone(zone: string): Promise<HostedZone | undefined>;
  /** Create the zone; idempotent for retries of the same fleet and zone. */
  createZone(zone: string, callerReference: string, comment: string): Promise<HostedZone>;
  /** Every record set of the zone, with paginated ListResourceRecordSets (300 per page). */
  listRecords(zoneId: string, onPage?: PageProgress): Promise<DnsRecord[]>;
  /** The current A record of one name (one ListResourceRecordSets call), or undefined. */
  getRecord(zoneId: string, fqdn: string): Promise<DnsRecord | undefined>;
  /** Apply one atomic batch; returns the change id. A batch that does not apply throws DnsConflictError. */
  change(zoneId: string, changes: DnsChange[], comment?: string): Promise<string>;
  changeStatus(changeId: string): Promise<'PENDING' | 'INSYNC'>;
}

export interface LaunchRequest {
  clientToken: string;
  imageId: string;
  instanceType: string;
  market: 'spot' | 'on-demand';
  subnetId: string;
  securityGroupIds: string[];
  instanceProfile?: string;
  userDataBase64: string;
  tags: Record<string, string>;
}

export interface Compute {
  /** Every instance tagged `fleet:fleet=<fleet>` (all states), filtered and paginated (1000 per page). */
  listFleetInstances(fleet: string, onPage?: PageProgress): Promise<Instance[]>;
  /** Resolve an image reference to an AMI id (the newest matching image for owner + pattern). */
  resolveImage(ref: ImageRef): Promise<string>;
  /** RunInstances (tags at launch, IMDSv2 required). Capacity errors throw CapacityError. */
  launch(req: LaunchRequest): Promise<Instance>;
  /** The instances with these ids that are visible now (missing ones are simply absent: eventual consistency). */
  describe(ids: string[]): Promise<Map<string, Instance>>;
  /** The fleet's instances launched with this ClientToken (filter client-token). */
  byClientToken(fleet: string, token: string): Promise<Instance[]>;
  /** The fleet's instances tagged with this name, every state (one filtered call). */
  byName(fleet: string, name: string): Promise<Instance[]>;
  /** The fleet's instances with these private addresses (one filtered call per 200 addresses). */
  byPrivateIp(fleet: string, ips: string[]): Promise<Instance[]>;
  terminate(ids: string[]): Promise<void>;
  /** StopInstances. A one-time spot instance cannot be stopped: EC2 answers UnsupportedOperation (kept as the error's code). */
  stop(ids: string[]): Promise<void>;
  /** StartInstances (a stopped instance keeps its private address). */
  start(ids: string[]): Promise<void>;
  /** The availability zone of each subnet (DescribeSubnets). */
  subnetZones(subnetIds: string[]): Promise<Map<string, string>>;

  // ---- EBS volumes that follow a name (DESIGN.md section 4, stateful exceptions)
  /** Every volume tagged `fleet:fleet=<fleet>` (filtered, paginated). */
  listFleetVolumes(fleet: string): Promise<Volume[]>;
  /** The volumes tagged `fleet:fleet=<fleet>` and `fleet:volume-of=<name>` (filtered DescribeVolumes). */
  volumesOfName(fleet: string, name: string): Promise<Volume[]>;
  /** One volume, or undefined when it does not exist (any more). */
  describeVolume(id: string): Promise<Volume | undefined>;
  /** CreateVolume with tags at creation; `clientToken` makes a retry return the same volume. */
  createVolume(req: CreateVolumeRequest): Promise<Volume>;
  attachVolume(volumeId: string, instanceId: string, device: string): Promise<void>;
  detachVolume(volumeId: string, instanceId: string): Promise<void>;
  deleteVolume(volumeId: string): Promise<void>;
  createSnapshot(volumeId: string, description: string, tags: Record<string, string>): Promise<Snapshot>;
  /** One snapshot, or undefined when it does not exist. */
  describeSnapshot(id: string): Promise<Snapshot | undefined>;
  /** The snapshots of a volume (filter volume-id, owner self), oldest first. */
  snapshotsOfVolume(volumeId: string): Promise<Snapshot[]>;
}

export interface CreateVolumeRequest {
  clientToken: string;
  az: string;
  sizeGiB: number;
  type: string;
  iops?: number;
  throughputMiBps?: number;
  snapshotId?: string;
  tags: Record<string, string>;
}

/** The EBS direct API: what a completed snapshot holds, read block list by block list. */
export interface EbsDirect {
  /** Every written block of a snapshot (ListSnapshotBlocks, followed to the last page). */
  snapshotBlocks(snapshotId: string): Promise<{ blocks: number; volumeSizeGiB: number; blockSize: number; pages: number }>;
  /** Blocks that differ between two snapshots of one lineage (ListChangedBlocks, followed to the last page). */
  changedBlocks(firstSnapshotId: string, secondSnapshotId: string): Promise<{ changed: number; pages: number }>;
}

/** The objects of a name's `state.s3` prefix. */
export interface StateStore {
  /** Keys under `prefix` (ListObjectsV2, every page). */
  list(bucket: string, prefix: string): Promise<string[]>;
  /** Delete these keys (DeleteObjects, 1000 a call); returns how many were deleted. */
  delete(bucket: string, keys: string[]): Promise<number>;
}

/** An object under a prefix, as ListObjectsV2 reports it. */
export interface StoredObject {
  key: string;
  /** The ETag without its quotes: the MD5 hex of the body for a single-part upload. */
  etag: string;
  size: number;
}

/** The objects of the `policy:` location (the CFEngine masterfiles), for `fleet policy push`. */
export interface ObjectStore {
  /** Objects whose key starts with `prefix` (ListObjectsV2, every page), in key order. */
  list(bucket: string, prefix: string): Promise<StoredObject[]>;
  /** PutObject: write `body` at `key`, replacing what is there. */
  put(bucket: string, key: string, body: Uint8Array): Promise<void>;
  /** DeleteObject (idempotent: a missing key is not an error). */
  delete(bucket: string, key: string): Promise<void>;
}

export interface JournalEntry {
  key: string;
  body: unknown;
  /** The body of the `<key>.outcome` sibling, when the operation recorded how it ended. */
  outcome?: unknown;
}

/** The history: create-only objects, one per operation or chaos kill (key format: src/journal.ts). */
export interface Journal {
  /** Write `body` at `key` (under the journal prefix) only if absent; false if it exists. */
  create(key: string, body: unknown): Promise<boolean>;
  /** Entries in key order, each with its outcome; `fleet` restricts to one fleet's keys, `since` and `kind` filter by the key. */
  list(opts?: { fleet?: string; since?: Date; kind?: string }): Promise<JournalEntry[]>;
  /** One entry's body, or undefined when absent. */
  read(key: string): Promise<unknown | undefined>;
}

export interface Blobs {
  /** 'yes' | 'no' | 'foreign' (exists, owned by another account). */
  bucketStatus(bucket: string): Promise<'yes' | 'no' | 'foreign'>;
  createBucket(bucket: string, region: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/** A structured log event; the CLI renders it for people, the Lambda writes JSON lines. */
export interface LogEvent {
  level: 'debug' | 'info' | 'warn' | 'error';
  event: string;
  msg: string;
  [k: string]: unknown;
}

export interface Log {
  (e: LogEvent): void;
}

/** Progress of a long wait; rendered on a terminal, silent in JSON mode and in CI. */
export interface Progress {
  update(text: string): void;
  done(text?: string): void;
}
