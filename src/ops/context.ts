/** What ops need, passed as one plain object built at the edge (CLI, Lambda entry). */
import type { FleetSpec } from '../model.js';
import type { Catalog, Dns, Instances, Volumes, EbsDirect, Journal, Log, ObjectStore } from '../ports.js';
import type { OpsClock } from './clock.js';
import type { RateLimiter } from './limiter.js';
import type { InstanceWatcher } from './watcher.js';
import type { DnsWriter } from './dns.js';
import type { Coordinator } from '../coord/index.js';

/**
 * Named steps of a replacement, where a test may inject a crash. `detached`: a name's volume
 * was detached from the old instance and is not attached to the new one yet.
 */
export type Step = 'launched' | 'converged' | 'detached' | 'mounted' | 'swapped' | 'insync' | 'terminated';

export interface OpsDeps {
  spec: FleetSpec;
  zoneId: string;
  instances: Instances;
  volumes: Volumes;
  /** Images and subnets. */
  catalog: Catalog;
  dns: Dns;
  journal: Journal;
  clock: OpsClock;
  log: Log;
  limiter: RateLimiter;
  watcher: InstanceWatcher;
  dnsWriter: DnsWriter;
  /** Identifies this run in tags and the journal. */
  operationId: string;
  /** Called at each named step (crash injection in tests); may never return. */
  hook?: (step: Step, name: string) => void | Promise<void>;
  /** Resolved image ids by reference (DescribeImages once per run). */
  images: Map<string, Promise<string>>;
  /** Per-name locks; absent only in tests of the pure flows. */
  coord?: Coordinator;
  /** How long to wait for a name someone else holds (0: fail at once). */
  lockWaitMs: number;
  /** Aborts waits (Ctrl-C, lost leadership). */
  signal?: AbortSignal;
  /** Checked before each side effect besides the name's lock (the controller: still leader). */
  guard?: () => void;
  /** The EBS direct API, to verify a snapshot before a volume moves across AZs; without it such a move is refused. */
  ebs?: EbsDirect;
  /** S3 objects under a prefix: `state.s3` prefixes, for `fleet retire --delete-state`. */
  objects?: ObjectStore;
  /** Poll interval (clock ms) while waiting on volumes and snapshots; default 5000. */
  pollMs?: number;
}
