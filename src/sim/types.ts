/**
 * The local cloud's plumbing types: a request as every service module sees it, the response
 * it returns, and the AWS-shaped error it throws.
 */
import type { SimClock } from './clock.js';
import type { Faults } from './faults.js';

export interface SimRequest {
  method: string;
  /** Path, percent-decoded per segment is up to the service; this is the raw path. */
  path: string;
  query: URLSearchParams;
  /** Lowercased header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** Signing name from the request's SigV4 credential scope: ec2, route53, s3, ebs. */
  service: string;
  region: string;
  requestId: string;
  /** Per-request scratch space, e.g. a service caches its parsed body here between action() and handle(). */
  memo: Map<string, unknown>;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** An error as AWS reports it: code, message, HTTP status, and optional extra fields. */
export class AwsError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra fields some protocols carry (S3: Key, BucketName; Route 53: messages list). */
  readonly fields: Record<string, string | string[]>;
  constructor(code: string, message: string, status = 400, fields: Record<string, string | string[]> = {}) {
    super(message);
    this.name = 'AwsError';
    this.code = code;
    this.status = status;
    this.fields = fields;
  }
}

/** What the fault layer needs to know about a request before the service handles it. */
export interface ActionInfo {
  /** The API action name, e.g. RunInstances, ChangeResourceRecordSets, PutObject. */
  action: string;
  /** Throttling bucket key in Faults' table, e.g. `ec2:describe`; undefined = not throttled. */
  bucket?: string;
  /**
   * Further buckets the same request takes from, all or nothing with `bucket` (Route 53: its
   * action's bucket, and one token per record change from the change-throughput bucket).
   */
  alsoBuckets?: { bucket: string; n: number }[];
}

/** One AWS service served by the local cloud. */
export interface ServiceModule {
  /** Signing name: ec2, route53, s3, ebs. */
  readonly service: string;
  /** Which action a request is; throws AwsError for an unknown action or malformed request. */
  action(req: SimRequest): ActionInfo;
  handle(req: SimRequest, info: ActionInfo): Promise<SimResponse> | SimResponse;
  /** Render an error in this service's wire protocol. */
  renderError(err: AwsError, req: SimRequest): SimResponse;
  /** Error used when the fault layer throttles (code + status differ per service). */
  throttleError(info: ActionInfo): AwsError;
  /** Error used for an injected 5xx. */
  serverError(status: number): AwsError;
}

/** An EventBridge event as EC2 (or AWS Health, for EC2 scheduled changes) emits it. */
export interface CloudEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: 'aws.ec2' | 'aws.health';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

export type EventSink = (event: CloudEvent) => void;

/** Timings of simulated life, in simulated milliseconds. */
export interface SimDelays {
  /** pending -> running. */
  bootMs: number;
  /** running -> tagged fleet:converged (only for instances whose user-data is a fleet bootstrap). */
  convergeMs: number;
  /** Route 53 change PENDING -> INSYNC. */
  dnsSyncMs: number;
  /** How long terminated instances stay visible. */
  terminatedVisibleMs: number;
  /** shutting-down -> terminated. */
  shutdownMs: number;
  /** Snapshot pending -> completed. */
  snapshotMs: number;
  /** Volume attaching -> attached, detaching -> available. */
  attachMs: number;
}

/** Shared context handed to every service module. */
export interface SimContext {
  clock: SimClock;
  faults: Faults;
  delays: SimDelays;
  region: string;
  account: string;
  emit: (event: CloudEvent) => void;
  /** Monotonic id source: `ids.next('i')` -> i-0123456789abcdef0 style ids, deterministic per cloud. */
  ids: IdSource;
}

export interface IdSource {
  /** A new AWS-style id with this prefix and 17 hex digits, e.g. next('i') -> 'i-0000000000000001a'. */
  next(prefix: string): string;
  uuid(): string;
}

/** Snapshot data the EBS direct API reads; written by the EC2 module's CreateSnapshot. */
export interface SnapshotRecord {
  snapshotId: string;
  volumeId: string;
  volumeSizeGiB: number;
  state: 'pending' | 'completed' | 'error';
  startTime: number;
  /** Written 512 KiB blocks: block index -> content token (checksum of the data). */
  blocks: Map<number, string>;
  /** The snapshot of the same volume made before this one, if any (for ListChangedBlocks lineage). */
  parentSnapshotId?: string;
}

/** Read access to snapshots for the EBS module. */
export interface SnapshotStore {
  getSnapshot(snapshotId: string): SnapshotRecord | undefined;
}
