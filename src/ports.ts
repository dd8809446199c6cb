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

/**
 * Awaited before each page request of a listing: the caller's rate limiter paces the listing
 * at the service's rate (a 100,000-name zone is 334 pages: paced, never throttled).
 */
export type BeforePage = () => Promise<void>;

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
  listRecords(zoneId: string, onPage?: PageProgress, beforePage?: BeforePage): Promise<DnsRecord[]>;
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

/** EC2 instances: the fleet's servers, launched, looked up, stopped and terminated. */
export interface Instances {
  /** Every instance tagged `fleet:fleet=<fleet>` (all states), filtered and paginated (1000 per page). */
  listFleetInstances(fleet: string, onPage?: PageProgress, beforePage?: BeforePage): Promise<Instance[]>;
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
}

/** EBS volumes and snapshots that follow a name (DESIGN.md section 4, stateful exceptions). */
export interface Volumes {
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

/** What launches are made from: images, subnets, instance types and their offerings (the preflight's reads, AccountCatalog, included). */
export interface Catalog extends AccountCatalog {
  /** Resolve an image reference to an AMI id (the newest matching image for owner + pattern). */
  resolveImage(ref: ImageRef): Promise<string>;
  /** The availability zone of each subnet (DescribeSubnets). */
  subnetZones(subnetIds: string[]): Promise<Map<string, string>>;
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

/** An object under a prefix, as ListObjectsV2 reports it. */
export interface StoredObject {
  key: string;
  /** The ETag without its quotes: the MD5 hex of the body for a single-part upload. */
  etag: string;
  size: number;
}

/**
 * S3 objects under a prefix: the `policy:` location (the CFEngine masterfiles, `fleet policy
 * push`) and the names' `state.s3` prefixes (`fleet retire --delete-state`). One port, one
 * adapter (src/aws/s3.ts), built once in wiring. (The journal is its own port: create-only.)
 */
export interface ObjectStore {
  /** Objects whose key starts with `prefix` (ListObjectsV2, every page), in key order. */
  list(bucket: string, prefix: string): Promise<StoredObject[]>;
  /** PutObject: write `body` at `key`, replacing what is there. */
  put(bucket: string, key: string, body: Uint8Array): Promise<void>;
  /** DeleteObject (idempotent: a missing key is not an error). */
  delete(bucket: string, key: string): Promise<void>;
  /** DeleteObjects, 1000 keys a call; returns how many were deleted; any key S3 refuses throws. */
  deleteMany(bucket: string, keys: string[]): Promise<number>;
}

/** One journal entry as read back: its key (relative to the journal prefix), its body, and its outcome once written. */
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
  /**
   * Entries in key order (ListObjectsV2, every page, then GetObject per entry), each with its
   * outcome. `fleet` restricts to one fleet's keys (and lets `since` skip earlier days without
   * listing them); `since` keeps entries written at or after it; `kind` keeps one kind (kill, replace...).
   */
  list(opts?: { fleet?: string; since?: Date; kind?: string }): Promise<JournalEntry[]>;
  /** The body at `key` (under the journal prefix), or undefined when there is none. */
  read(key: string): Promise<unknown | undefined>;
}

/**
 * A bucket as seen from this account and region: ours here ('yes'), absent ('no'), another
 * account's ('foreign': 403), or in another region (301 with x-amz-bucket-region: clients of
 * this region cannot use it, whoever owns it).
 */
export type BucketStatus = 'yes' | 'no' | 'foreign' | { elsewhere: string };

export interface Blobs {
  bucketStatus(bucket: string): Promise<BucketStatus>;
  createBucket(bucket: string, region: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/**
 * Time and timers from one source: real time, a faster local cloud's time, or a manual clock
 * in tests (src/clock.ts). Every wait of ops and coord sleeps on it, so a test can run lock
 * deadlines, convergence, INSYNC and TTL waits on simulated time.
 */
export interface TimerClock extends Clock {
  /** Resolve after `ms` (clock time); rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
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

/**
 * What the account says about the things fleet.yaml names, read before anything is launched
 * (the preflight). Every read is a Describe*: nothing here changes the cloud. Things that do
 * not exist are absent from the answers, never errors.
 */
export interface AccountCatalog {
  /** The types among `types` that exist in the region, with the architectures each supports. */
  instanceTypes(types: readonly string[]): Promise<Map<string, string[]>>;
  /** For each AZ of `azs`, which of `types` it offers. */
  offerings(types: readonly string[], azs: readonly string[]): Promise<Map<string, Set<string>>>;
  /** The image an id or an owner/name pattern names (the newest available match), or undefined. */
  image(ref: ImageRef): Promise<CatalogImage | undefined>;
  /** The subnets among `ids` that exist: their AZ and VPC. */
  subnets(ids: readonly string[]): Promise<Map<string, { az: string; vpcId: string }>>;
  /** The security groups among `ids` that exist: their VPC. */
  securityGroups(ids: readonly string[]): Promise<Map<string, { vpcId: string }>>;
}

export interface CatalogImage {
  id: string;
  architecture: string;
  state: string;
  name?: string;
}

/**
 * Small create-only JSON records under the journal bucket (pool memory, event markers): written
 * once with IfNoneMatch '*', listed by prefix in key order, read back. Keys are relative to the
 * journal prefix.
 */
export interface Records {
  /** Write `body` at `key` only if absent; false if it exists. */
  create(key: string, body: unknown): Promise<boolean>;
  /** The body at `key`, or undefined when absent. */
  read(key: string): Promise<unknown | undefined>;
  /** Records whose key starts with `prefix` and sorts after `startAfter` (ListObjectsV2 StartAfter), in key order, with their bodies. */
  list(prefix: string, startAfter?: string): Promise<{ key: string; body: unknown }[]>;
}
