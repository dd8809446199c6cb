/**
 * Types only: the shapes the pure core, the adapters and the CLI agree on.
 * No runtime code lives here (see DESIGN.md section 5).
 */

export type Market = 'spot' | 'on-demand';

/** An image: a literal AMI id, or the newest image of an owner whose name matches a pattern. */
export type ImageRef = { id: string } | { owner: string; namePattern: string };

/** `s3://bucket/prefix/` — generated config kept per name under `<prefix>/<name>/`. */
export interface StateS3Spec {
  bucket: string;
  /** Prefix without leading or trailing slash; may be empty. */
  prefix: string;
}

export type VolumeType = 'gp2' | 'gp3' | 'io1' | 'io2' | 'st1' | 'sc1' | 'standard';

/** An EBS volume that follows the name across replacements. */
export interface VolumeSpec {
  sizeGiB: number;
  type: VolumeType;
  /** Device name as given to AttachVolume, e.g. /dev/sdf or /dev/xvdf. */
  device: string;
  /** Where the agent mounts it. */
  mountPoint: string;
  iops?: number;
  throughputMiBps?: number;
}

export interface RoleSpec {
  /** Lowercase role, `[a-z][a-z0-9]*`. */
  name: string;
  /** Desired number of names: `<role>-01` .. `<role>-<count>`. */
  count: number;
  instanceType: string;
  /** Other types the role may run on when the first has no capacity, in order of preference. */
  alternativeTypes: string[];
  market: Market;
  /** For spot roles: fall back to on-demand when no spot pool has capacity. */
  onDemandFallback: boolean;
  /** Overrides defaults.image. */
  image?: ImageRef;
  /** Overrides defaults.subnets. */
  subnets?: string[];
  stateS3?: StateS3Spec;
  volume?: VolumeSpec;
  /** Overrides defaults.instanceProfile (name or ARN). */
  instanceProfile?: string;
}

export interface ChaosPolicy {
  /** Cron expression (5 fields) for the nightly job. */
  schedule: string;
  /** Roles never killed. */
  optOutRoles: string[];
  maxKillsPerRun: number;
  maxKillsPerRole: number;
  /** Never kill below this many converged names of a role; roles not listed use `defaultMinConverged`. */
  minConvergedPerRole: Record<string, number>;
  defaultMinConverged: number;
  /** Minimum time between two kills of the same name. */
  minSecondsBetweenKills: number;
  /** Leashed: plan only, kill nothing. */
  leashed: boolean;
  // ---- chaos (issue 10): the nightly chaos monkey's policy, beyond the keys above
  /** IANA time zone the schedule and the blackout windows are read in (default UTC). */
  timezone: string;
  /** Windows in which no kill is made (all given conditions of a window must hold). */
  blackouts: BlackoutWindow[];
  /** Kill -> DNS points at a converged replacement within this, per name, or the night fails loudly. */
  rebuildBudgetSeconds: number;
  /** How a victim is killed; one is chosen per victim by the night's seeded generator. */
  kinds: ChaosKind[];
}

/** `terminate`: TerminateInstances; `spot-interruption`: the cloud interrupts a spot instance (local cloud only). */
export type ChaosKind = 'terminate' | 'spot-interruption';

/** A blackout window, in the policy's time zone. An absent condition matches always. */
export interface BlackoutWindow {
  /** Days of the week, 0 = Sunday .. 6 = Saturday. */
  days?: number[];
  /** Minutes of the day [from, to); `to` < `from` wraps past midnight. */
  hours?: { from: number; to: number };
  /** Calendar dates, inclusive ranges YYYY-MM-DD. */
  dates?: { from: string; to: string }[];
  /** As written in fleet.yaml, for refusals ("blackout days sat-sun"). */
  text: string;
}

export interface ZooKeeperSpec {
  /** `host:port[,host:port...]`, optionally with a chroot. */
  connect: string;
  sessionTimeoutMs: number;
}

export interface FleetSpec {
  /** The fleet's name, used in the `fleet:fleet` tag. */
  fleet: string;
  /** Region, when fleet.yaml names one; otherwise the usual AWS settings decide. */
  region?: string;
  dns: {
    /** Zone name without trailing dot, lowercase: `prod.example.com`. */
    zone: string;
    ttl: number;
    /**
     * Record sets the hosted zone may hold (Route 53's quota: 10,000 by default, more when the
     * account had it raised); the fleet's names must fit in it beside the SOA and NS. Absent
     * in a spec built by hand: the default.
     */
    recordQuota?: number;
  };
  naming: {
    /** Zero-padding width of the index: 2 gives web-01. */
    indexDigits: number;
  };
  /** The policy hub's name in this zone, e.g. `hub-01`; it must belong to a declared role. */
  hub: string;
  /**
   * Where the CFEngine masterfiles live (`policy: s3://bucket/prefix`): `fleet policy push`
   * uploads them there, and the hub syncs them into its masterfiles directory at bootstrap.
   */
  policyS3?: StateS3Spec;
  journal: {
    bucket: string;
    prefix: string;
  };
  defaults: {
    image: ImageRef;
    subnets: string[];
    securityGroups: string[];
    instanceProfile?: string;
    market: Market;
  };
  /** In file order. */
  roles: RoleSpec[];
  coordination: {
    zookeeper?: ZooKeeperSpec;
  };
  reconcile: ReconcileSettings;
  chaos: ChaosPolicy;
  /** fleet.yaml `interruption:` (the spot handler, pool memory); absent: the defaults (plan/pools.ts). */
  interruption?: InterruptionSettings;
  /** Who hears the deployed alarms (infra/app's SNS topic); absent: nobody is subscribed. */
  alerts?: { email?: string };
}

/** How the spot-interruption handler and pool memory behave (fleet.yaml `interruption:`). */
export interface InterruptionSettings {
  /** A pool (instance type, AZ) interrupted within this long is avoided by every launch. */
  avoidPoolMs: number;
  /** A role interrupted this many times within an hour launches on-demand until it calms down; 0: never. */
  onDemandAfter: number;
  /** Swap to a converged standby once the rebalance recommendation is older than this (without waiting for the warning). */
  standbyMaxAgeMs: number;
  /** A standby whose instance outlives this (since the recommendation) is retired. */
  standbyWindowMs: number;
}

/** How `fleet apply` and the controller converge. */
export interface ReconcileSettings {
  /** Tagged instances with no record younger than this are launches in flight: left alone. */
  orphanGraceMs: number;
  /** A new instance that has not reported convergence within this is rolled back. */
  convergeTimeoutMs: number;
  /** Names worked on at once. */
  concurrency: number;
  /** The controller's loop interval. */
  intervalMs: number;
}

/** A name parsed by the naming convention. */
export interface FleetName {
  /** Short name: `web-03`. */
  name: string;
  role: string;
  index: number;
  /** `web-03.prod.example.com` (no trailing dot). */
  fqdn: string;
  /** First label of the zone: `prod`. */
  environment: string;
  zone: string;
}

/** One resource record set of the zone, as the inventory sees it. */
export interface DnsRecord {
  /** Lowercase, no trailing dot. */
  name: string;
  type: string;
  ttl: number;
  values: string[];
}

export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

/** An EC2 instance as fleet sees it (mapped from SDK shapes by src/aws). */
export interface Instance {
  id: string;
  state: InstanceState;
  type: string;
  market: Market;
  az: string;
  subnetId?: string;
  privateIp?: string;
  launchTime: string;
  imageId?: string;
  /** All tags. */
  tags: Record<string, string>;
  /** From tags: */
  fleet?: string;
  name?: string;
  role?: string;
  generation?: number;
  /** ISO time of the first converged run, from the `fleet:converged` tag. */
  converged?: string;
}

/** What the cloud looks like right now, as read by one `fleet ls`. */
export interface Observed {
  records: DnsRecord[];
  instances: Instance[];
  /** The fleet's volumes (tagged `fleet:fleet`), read only when a role declares a volume. */
  volumes?: Volume[];
}

export type VolumeState = 'creating' | 'available' | 'in-use' | 'deleting' | 'deleted' | 'error';

/** An EBS volume as fleet sees it (mapped from SDK shapes by src/aws). */
export interface Volume {
  id: string;
  az: string;
  state: VolumeState;
  sizeGiB: number;
  type: string;
  /** The snapshot it was created from, if any. */
  snapshotId?: string;
  createTime: string;
  tags: Record<string, string>;
  /** From tags: `fleet:fleet` and `fleet:volume-of` (the name it follows). */
  fleet?: string;
  name?: string;
  attachment?: { instanceId: string; device: string; state: 'attaching' | 'attached' | 'detaching' | 'detached' };
}

/** An EBS snapshot as fleet sees it. */
export interface Snapshot {
  id: string;
  volumeId: string;
  state: 'pending' | 'completed' | 'error' | 'recoverable' | 'recovering';
  progress?: string;
  startTime: string;
  sizeGiB: number;
  tags: Record<string, string>;
}

/** Where a name's volume is, as the plan saw it. */
export interface VolumeNote {
  volumeId: string;
  az: string;
  state: VolumeState;
  /** The instance it is attached to, when attached. */
  attachedTo?: string;
}

/** One step of a reconcile plan. A plan is a value: `fleet plan` prints it, `fleet apply` executes it. */
export type Action =
  /** Launch generation `generation` of `name`; once converged, point the record at it (CREATE, or swap from `replaces`). */
  | { kind: 'launch'; name: string; role: string; generation: number; replaces?: RecordTarget; reason: string; volume?: VolumeNote }
  /** A live instance tagged with the name already exists but no record serves it: wait for convergence, then point the record at it. */
  | { kind: 'adopt'; name: string; role: string; instanceId: string; ip: string; replaces?: RecordTarget; reason: string; volume?: VolumeNote }
  /** Terminate a tagged instance no record points at (older than the grace period). */
  | { kind: 'collect'; instanceId: string; name?: string; reason: string }
  /** A name fleet.yaml no longer wants: delete its record (exactly as it is), then terminate what served it. */
  | { kind: 'retire'; name: string; record: { ttl: number; values: string[] }; instanceIds: string[]; reason: string }
  /**
   * A served name of a role with a volume whose volume is not attached to the instance serving
   * it (available, attached to an instance that does not serve the name, or missing): attach it
   * there (stopping and detaching from a non-serving holder first; creating it when missing).
   */
  | { kind: 'reattach'; name: string; role: string; instanceId: string; volume?: VolumeNote; reason: string };

/** What a record points at now (the exact value a compare-and-swap deletes). */
export interface RecordTarget {
  ip: string;
  ttl: number;
  instanceId?: string;
}

export interface Plan {
  fleet: string;
  zone: string;
  actions: Action[];
  /** Things seen and deliberately left alone, with why (young orphans, instances still converging). */
  notes: string[];
}
