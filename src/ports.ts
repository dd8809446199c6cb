/**
 * Ports: the small interfaces the core and ops/ depend on. src/aws implements them with the
 * AWS SDK; tests and the local cloud stand behind the same adapters, never behind mocks of
 * `client.send`.
 */
import type { DnsRecord, ImageRef, Instance } from './model.js';

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
}

/** The history: create-only objects, one per operation or chaos kill. */
export interface Journal {
  /** Write `body` at `key` (under the journal prefix) only if absent; false if it exists. */
  create(key: string, body: unknown): Promise<boolean>;
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
