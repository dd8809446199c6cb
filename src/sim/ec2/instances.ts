/**
 * EC2 instances of the local cloud: records in plain Maps and one launch-ordered array, with
 * their life evaluated LAZILY from timestamps on the simulated clock.
 *
 * Life. Each instance is in one phase — run (pending until `phaseEnd`, then running), stop
 * (stopping, then stopped) or terminate (shutting-down, then terminated) — started at an API
 * call with the delays of that moment. Reading an instance computes its state from the clock;
 * nothing ticks per instance. A terminated instance stays visible for `terminatedVisibleMs`
 * after it reached `terminated`, then vanishes (it is dropped the next time anything reads it).
 * Readiness contract (DESIGN.md section 2): an instance whose decoded user-data carries
 * BOOTSTRAP_MARKER gets the tag `fleet:converged` = ISO time `convergeMs` after it is running,
 * materialized on first read after that time (unless a convergence rule says never). Once a
 * volume is attached to it by AttachVolume, it tags itself `fleet:mounted` = the volume id
 * `convergeMs` after the attachment completed (the agent mounted it; see #mount).
 *
 * Events. State-change notifications for transitions caused through the API (RunInstances,
 * TerminateInstances, StopInstances, StartInstances, spot interruptions, control terminate) are
 * emitted ON TIME by one shared timer: the entering state (pending, shutting-down, stopping) at
 * the call, the settled state (running, terminated, stopped) from a min-heap of due transitions
 * that arms a single clock timer for its earliest entry. Seeded instances (`seed`) emit nothing
 * and cost no heap entry unless they are seeded mid-transition.
 *
 * Scale. Lookups by id are Map reads; tag filters with exact values use a tag index; listing in
 * pages resumes by binary search on the launch sequence carried in NextToken, so a full
 * paginated DescribeInstances over N instances is O(N) overall.
 */
import { BOOTSTRAP_MARKER } from '../../bootstrap/marker.js';
import { TAG } from '../../tags.js';
import { DATA_BEGIN, DATA_END } from '../../bootstrap/userdata.js';
import type { InstanceState, Market } from '../../model.js';
import { AwsError, type CloudEvent, type SimContext } from '../types.js';
import { compileFilters, matchesAll, ValueMatcher, type FilterSpec } from './filters.js';
import { DEFAULT_SECURITY_GROUP, IMAGES, INSTANCE_TYPES, intToIp, Topology, type ImageDef, type InstanceTypeDef, type Subnet } from './topology.js';

export const STATE_CODES: Record<InstanceState, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export const SPOT_WARNING_MS = 2 * 60 * 1000;

export type Phase = 'run' | 'stop' | 'terminate';

export interface SpotInfo {
  requestId: string;
  type: 'one-time' | 'persistent';
  behavior: 'terminate' | 'stop' | 'hibernate';
}

export interface MetadataOptions {
  httpTokens: 'optional' | 'required';
  httpEndpoint: 'enabled' | 'disabled';
  hopLimit: number;
}

export interface InstanceRecord {
  readonly id: string;
  /** Launch order; NextToken resumes after a sequence number. */
  readonly seq: number;
  readonly reservationId: string;
  readonly image: ImageDef;
  type: InstanceTypeDef;
  readonly subnet: Subnet<InstanceRecord>;
  /** Private IPv4 as an integer; released (undefined) once terminated. */
  ip: number | undefined;
  readonly launchTime: number;
  readonly market: Market;
  readonly spot: SpotInfo | undefined;
  readonly tags: Map<string, string>;
  /** User data as sent (base64). */
  readonly userData: string | undefined;
  /** Decoded user data carries the fleet bootstrap marker. */
  readonly bootstrap: boolean;
  readonly groups: { id: string; name: string }[];
  readonly profile: { arn: string; id: string } | undefined;
  readonly metadata: MetadataOptions;
  readonly clientToken: string | undefined;
  readonly launchIndex: number;
  readonly keyName: string | undefined;
  /** Eventual consistency: invisible to Describe* and unknown to other calls before this time. */
  readonly visibleAt: number;
  phase: Phase;
  phaseStart: number;
  phaseEnd: number;
  /** Bumped on every transition; a due heap entry of an older epoch is stale. */
  epoch: number;
  /** convergeMs captured when the run phase began. */
  convergeMs: number;
  /** The converged tag was set (or the instance was seeded converged): never set it again. */
  convergedDone: boolean;
  /** terminatedVisibleMs captured at termination. */
  visibleFor: number;
  /** stateTransitionReason. */
  reason: string;
  stateReason: { code: string; message: string } | undefined;
  /** A spot interruption is scheduled. */
  interruptAt: number | undefined;
  /** Dropped from the store (terminated long enough ago). */
  removed: boolean;
  /** State simulation: keys under the user-data's state_s3 prefix when the instance booted (restored before its first agent run). */
  restoredState: string[] | undefined;
  /** The first boot's restore was simulated. */
  restoreDone: boolean;
}

/** A plain-data view of an instance, for assertions. */
export interface InstanceView {
  instanceId: string;
  state: InstanceState;
  instanceType: string;
  market: Market;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  /** Undefined once terminated (the network interface is gone). */
  privateIpAddress: string | undefined;
  launchTime: string;
  imageId: string;
  reservationId: string;
  tags: Record<string, string>;
  /** Decoded user data. */
  userData: string | undefined;
  bootstrap: boolean;
  clientToken: string | undefined;
  spotInstanceRequestId: string | undefined;
  metadataOptions: MetadataOptions;
  iamInstanceProfileArn: string | undefined;
  securityGroupIds: string[];
  /** False inside the eventual-consistency window. */
  visible: boolean;
  stateTransitionReason: string;
  /**
   * What the bootstrap restored at first boot: the object keys under the `state_s3` location
   * of the user-data when the instance came up (undefined: no state location, or not booted yet).
   */
  restoredState?: string[];
}

export interface SeedInstance {
  instanceType: string;
  subnetId?: string;
  az?: string;
  tags?: Record<string, string>;
  market?: Market;
  /** Default running. */
  state?: InstanceState;
  /** Sets the fleet:converged tag (to the launch time, or `convergedAt`). */
  converged?: boolean;
  convergedAt?: string | number;
  /** ISO time or epoch ms; default now. */
  launchTime?: string | number;
  imageId?: string;
  /** Behave as if the user-data were a fleet bootstrap: converge convergeMs after running. */
  bootstrap?: boolean;
}

/**
 * Make matching instances converge differently: `converge: 'never'` (they never get
 * fleet:converged) or a number of ms after running instead of delays.convergeMs. Matched on the
 * `fleet:name` tag (values may use `*`/`?` wildcards) or the `fleet:role` tag; a rule with
 * neither matches every instance. Evaluated when convergence would happen, so a rule affects
 * instances that have not converged yet.
 */
export interface ConvergenceRule {
  names?: string[];
  roles?: string[];
  converge: 'never' | number;
}

export interface LaunchSpec {
  image: ImageDef;
  type: InstanceTypeDef;
  subnet: Subnet<InstanceRecord>;
  count: number;
  privateIp?: number;
  market: Market;
  spot?: Omit<SpotInfo, 'requestId'>;
  tags: [string, string][];
  userData?: string;
  bootstrap: boolean;
  groups: { id: string; name: string }[];
  profile?: { arn: string; id: string };
  metadata: MetadataOptions;
  clientToken?: string;
  keyName?: string;
}

export interface DescribeQuery {
  ids?: string[];
  filters: FilterSpec[];
  maxResults?: number;
  nextToken?: string;
}

export interface ReservationGroup {
  reservationId: string;
  instances: InstanceRecord[];
}

export interface StateChange {
  id: string;
  previous: InstanceState;
  current: InstanceState;
}

/** Largest page when the caller gives no MaxResults (AWS also returns partial results with a NextToken). */
export const DEFAULT_PAGE = 1000;

const ID_RE = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

interface Due {
  at: number;
  rec: InstanceRecord;
  epoch: number;
  state: 'running' | 'stopped' | 'terminated';
  silent: boolean;
}

export interface InstanceHooks {
  /** The instance reached `terminated` (volumes detach / are deleted). */
  onTerminated(id: string): void;
  /** Keys of the objects under `prefix` in `bucket` (the local cloud's S3); undefined when the bucket does not exist. */
  stateKeys?(bucket: string, prefix: string): string[] | undefined;
  /** Volumes attached to the instance by AttachVolume (attach complete), with when that completed. */
  mountable?(id: string): { volumeId: string; attachedAt: number }[];
}

/**
 * The `state.s3` location a fleet bootstrap restores: the `state_s3='s3://bucket/prefix/'` line
 * of its data block (single-quoted by the renderer; `'\''` is an embedded quote). Undefined
 * when the user-data names none.
 */
export function stateLocationOf(decoded: string): { bucket: string; prefix: string } | undefined {
  const begin = decoded.indexOf(DATA_BEGIN);
  const end = begin < 0 ? -1 : decoded.indexOf(DATA_END, begin);
  if (begin < 0 || end < 0) return undefined;
  const line = decoded
    .slice(begin + DATA_BEGIN.length, end)
    .split('\n')
    .find((l) => l.startsWith('state_s3='));
  if (line === undefined) return undefined;
  // Shell words: single-quoted runs and backslash-escaped characters, nothing else.
  let value = '';
  const raw = line.slice('state_s3='.length).trimEnd();
  for (let i = 0; i < raw.length; ) {
    if (raw[i] === "'") {
      const close = raw.indexOf("'", i + 1);
      if (close < 0) return undefined;
      value += raw.slice(i + 1, close);
      i = close + 1;
    } else if (raw[i] === '\\' && i + 1 < raw.length) {
      value += raw[i + 1];
      i += 2;
    } else if (/[A-Za-z0-9:/._-]/.test(raw[i]!)) {
      value += raw[i];
      i++;
    } else {
      return undefined;
    }
  }
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(value);
  if (!m) return undefined;
  return { bucket: m[1]!, prefix: m[2]! };
}

export class InstanceStore {
  readonly ctx: SimContext;
  readonly topology: Topology<InstanceRecord>;
  readonly byId = new Map<string, InstanceRecord>();
  /** Launch order (seq ascending), with tombstones (`removed`) compacted now and then. */
  #order: InstanceRecord[] = [];
  #removedInOrder = 0;
  /** tag key -> value -> instances. */
  readonly #tagIndex = new Map<string, Map<string, Set<InstanceRecord>>>();
  #seq = 0;
  #due: Due[] = [];
  #armedAt = Infinity;
  #cancelTimer: (() => void) | undefined;
  #rules: ConvergenceRule[] = [];
  #compiledRules: { names?: ValueMatcher; roles?: Set<string>; converge: 'never' | number }[] = [];
  hooks: InstanceHooks = { onTerminated: () => {} };

  constructor(ctx: SimContext) {
    this.ctx = ctx;
    this.topology = new Topology<InstanceRecord>(ctx.region);
  }

  // ---------------------------------------------------------------- reading

  now(): number {
    return Math.floor(this.ctx.clock.now());
  }

  stateOf(r: InstanceRecord, now: number): InstanceState {
    const settled = now >= r.phaseEnd;
    switch (r.phase) {
      case 'run':
        return settled ? 'running' : 'pending';
      case 'stop':
        return settled ? 'stopped' : 'stopping';
      case 'terminate':
        return settled ? 'terminated' : 'shutting-down';
    }
  }

  /** Materialize lazy facts (convergence, expiry). Returns false when the instance is gone. */
  refresh(r: InstanceRecord, now: number): boolean {
    if (r.removed) return false;
    if (r.phase === 'terminate') {
      if (now >= r.phaseEnd + r.visibleFor) {
        this.#remove(r);
        return false;
      }
      return true;
    }
    if (r.phase === 'run' && r.bootstrap && !r.restoreDone && now >= r.phaseEnd) this.#restoreState(r);
    if (r.phase === 'run' && r.bootstrap && !r.convergedDone && now >= r.phaseEnd) {
      const delay = this.#convergeDelay(r);
      if (delay !== 'never' && now >= r.phaseEnd + delay) {
        r.convergedDone = true;
        this.setTag(r, TAG.converged, new Date(r.phaseEnd + delay).toISOString());
      }
    }
    if (r.phase === 'run' && r.bootstrap && now >= r.phaseEnd && this.hooks.mountable) this.#mount(r, now);
    return true;
  }

  /**
   * Mount contract: the agent of a fleet bootstrap mounts a volume attached to its instance and
   * tags the instance `fleet:mounted=<volume id>`, the convergence delay after the attachment
   * completed (or after the instance runs, if later); a convergence rule `never` keeps it from
   * mounting. The latest attachment wins.
   */
  #mount(r: InstanceRecord, now: number): void {
    const vols = this.hooks.mountable!(r.id);
    if (vols.length === 0) return;
    const latest = vols.reduce((a, b) => (b.attachedAt > a.attachedAt ? b : a));
    if (r.tags.get(TAG.mounted) === latest.volumeId) return;
    const delay = this.#convergeDelay(r);
    if (delay === 'never') return;
    if (now >= Math.max(latest.attachedAt, r.phaseEnd) + delay) this.setTag(r, TAG.mounted, latest.volumeId);
  }

  /**
   * State simulation (what the bootstrap does before the first agent run): at first boot,
   * note which objects the user-data's state_s3 prefix holds. Once per instance (user-data runs once).
   */
  #restoreState(r: InstanceRecord): void {
    r.restoreDone = true;
    const loc = r.userData === undefined ? undefined : stateLocationOf(Buffer.from(r.userData, 'base64').toString('utf8'));
    if (loc) r.restoredState = this.hooks.stateKeys?.(loc.bucket, loc.prefix) ?? [];
  }

  /** Visible to the API now (exists, not expired, past the consistency window). */
  visible(r: InstanceRecord, now: number): boolean {
    return this.refresh(r, now) && now >= r.visibleAt;
  }

  /** An instance the API may act on, or undefined (unknown, expired, not visible yet). */
  find(id: string, now = this.now()): InstanceRecord | undefined {
    const r = this.byId.get(id);
    return r && this.visible(r, now) ? r : undefined;
  }

  /** Resolve ids for an API call: malformed ids, then unknown ids, are the AWS errors. */
  resolve(ids: string[], now = this.now()): InstanceRecord[] {
    const malformed = ids.filter((id) => !ID_RE.test(id));
    if (malformed.length > 0) throw new AwsError('InvalidInstanceID.Malformed', `Invalid id: "${malformed[0]}"`);
    const out: InstanceRecord[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const r = this.find(id, now);
      if (r) out.push(r);
      else missing.push(id);
    }
    if (missing.length === 1) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
    if (missing.length > 1) throw new AwsError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    return out;
  }

  /** One page of DescribeInstances, grouped into reservations. */
  describe(q: DescribeQuery): { groups: ReservationGroup[]; nextToken: string | undefined } {
    const now = this.now();
    this.#maybeCompact();
    const preds = compileFilters<InstanceRecord>(q.filters, this.#filterTable(now), (name, m) => this.#dynamicFilter(name, m));
    const hash = queryHash(q);
    let after = -1;
    if (q.nextToken !== undefined) after = parseToken(q.nextToken, hash);
    const pageSize = q.maxResults ?? (q.ids && q.ids.length > 0 ? Infinity : DEFAULT_PAGE);

    let list: InstanceRecord[];
    if (q.ids && q.ids.length > 0) {
      list = this.resolve(q.ids, now).sort((a, b) => a.seq - b.seq);
    } else {
      list = this.#candidates(q.filters) ?? this.#order;
    }
    const out: InstanceRecord[] = [];
    let more = false;
    for (let i = lowerBound(list, after); i < list.length; i++) {
      const r = list[i]!;
      if (!this.visible(r, now)) continue;
      if (!matchesAll(preds, r)) continue;
      if (out.length >= pageSize) {
        more = true;
        break;
      }
      out.push(r);
    }
    const groups: ReservationGroup[] = [];
    for (const r of out) {
      const last = groups[groups.length - 1];
      if (last && last.reservationId === r.reservationId) last.instances.push(r);
      else groups.push({ reservationId: r.reservationId, instances: [r] });
    }
    const nextToken = more ? makeToken(out[out.length - 1]!.seq, hash) : undefined;
    return { groups, nextToken };
  }

  /** A smaller candidate list from the tag index or instance ids, when a filter allows it. */
  #candidates(filters: FilterSpec[]): InstanceRecord[] | undefined {
    const limit = Math.max(64, this.#order.length / 4);
    const exact = (values: string[]): boolean => values.every((v) => !/[*?\\]/.test(v));
    let best: Set<InstanceRecord>[] | undefined;
    let bestSize = Infinity;
    for (const f of filters) {
      let sets: Set<InstanceRecord>[] | undefined;
      if (f.name === 'instance-id' && exact(f.values)) {
        const set = new Set<InstanceRecord>();
        for (const v of f.values) {
          const r = this.byId.get(v);
          if (r) set.add(r);
        }
        sets = [set];
      } else if (f.name.startsWith('tag:') && f.name !== `tag:${TAG.converged}` && exact(f.values)) {
        const byValue = this.#tagIndex.get(f.name.slice(4));
        sets = [];
        for (const v of f.values) {
          const s = byValue?.get(v);
          if (s) sets.push(s);
        }
      }
      if (!sets) continue;
      // The sum of the sets bounds the union: decide before copying anything.
      const size = sets.reduce((n, s) => n + s.size, 0);
      if (size < bestSize) {
        best = sets;
        bestSize = size;
      }
    }
    if (!best || bestSize > limit) return undefined;
    const union = new Set<InstanceRecord>();
    for (const s of best) for (const r of s) union.add(r);
    return [...union].sort((a, b) => a.seq - b.seq);
  }

  #filterTable(now: number): Record<string, (m: ValueMatcher) => (r: InstanceRecord) => boolean> {
    const live = (r: InstanceRecord): boolean => this.stateOf(r, now) !== 'terminated';
    const ip = (r: InstanceRecord): string | undefined => (r.ip !== undefined && live(r) ? intToIp(r.ip) : undefined);
    return {
      'instance-id': (m) => (r) => m.test(r.id),
      'instance-state-name': (m) => (r) => m.test(this.stateOf(r, now)),
      'instance-state-code': (m) => (r) => m.test(String(STATE_CODES[this.stateOf(r, now)])),
      'instance-type': (m) => (r) => m.test(r.type.name),
      'availability-zone': (m) => (r) => m.test(r.subnet.az),
      'instance-lifecycle': (m) => (r) => r.market === 'spot' && m.test('spot'),
      'subnet-id': (m) => (r) => live(r) && m.test(r.subnet.id),
      'vpc-id': (m) => (r) => live(r) && m.test(r.subnet.vpcId),
      'private-ip-address': (m) => (r) => m.test(ip(r)),
      'network-interface.addresses.private-ip-address': (m) => (r) => m.test(ip(r)),
      'private-dns-name': (m) => (r) => {
        const a = ip(r);
        return a !== undefined && m.test(privateDnsName(a, this.ctx.region));
      },
      'client-token': (m) => (r) => m.test(r.clientToken),
      'image-id': (m) => (r) => m.test(r.image.imageId),
      'reservation-id': (m) => (r) => m.test(r.reservationId),
      'spot-instance-request-id': (m) => (r) => m.test(r.spot?.requestId),
      'architecture': (m) => (r) => m.test(r.image.architecture),
      'iam-instance-profile.arn': (m) => (r) => m.test(r.profile?.arn),
      'metadata-options.http-tokens': (m) => (r) => m.test(r.metadata.httpTokens),
      'metadata-options.http-endpoint': (m) => (r) => m.test(r.metadata.httpEndpoint),
      'instance.group-id': (m) => (r) => live(r) && m.testAny(r.groups.map((g) => g.id)),
      'group-id': (m) => (r) => live(r) && m.testAny(r.groups.map((g) => g.id)),
      'key-name': (m) => (r) => m.test(r.keyName),
      'tag-key': (m) => (r) => m.testAny(r.tags.keys()),
      'tag-value': (m) => (r) => m.testAny(r.tags.values()),
      'launch-time': (m) => (r) => m.test(new Date(r.launchTime).toISOString()),
    };
  }

  #dynamicFilter(name: string, m: ValueMatcher): ((r: InstanceRecord) => boolean) | undefined {
    if (!name.startsWith('tag:') || name.length === 4) return undefined;
    const key = name.slice(4);
    return (r) => m.test(r.tags.get(key));
  }

  // ---------------------------------------------------------------- tags

  setTag(r: InstanceRecord, key: string, value: string): void {
    const old = r.tags.get(key);
    if (old === value) return;
    if (old !== undefined) this.#unindex(r, key, old);
    r.tags.set(key, value);
    let byValue = this.#tagIndex.get(key);
    if (!byValue) this.#tagIndex.set(key, (byValue = new Map()));
    let set = byValue.get(value);
    if (!set) byValue.set(value, (set = new Set()));
    set.add(r);
    if (key === TAG.converged) r.convergedDone = true;
  }

  deleteTag(r: InstanceRecord, key: string): void {
    const old = r.tags.get(key);
    if (old === undefined) return;
    this.#unindex(r, key, old);
    r.tags.delete(key);
  }

  #unindex(r: InstanceRecord, key: string, value: string): void {
    const byValue = this.#tagIndex.get(key);
    const set = byValue?.get(value);
    if (!set) return;
    set.delete(r);
    if (set.size === 0) {
      byValue!.delete(value);
      if (byValue!.size === 0) this.#tagIndex.delete(key);
    }
  }

  // ---------------------------------------------------------------- life

  /** Create the instances of one RunInstances call (validated by the caller); `announce` or `discard` them next. */
  launch(spec: LaunchSpec): { reservationId: string; records: InstanceRecord[] } {
    const now = this.now();
    const reservationId = this.ctx.ids.next('r');
    const records: InstanceRecord[] = [];
    for (let i = 0; i < spec.count; i++) {
      const id = this.ctx.ids.next('i');
      const r = this.#create({
        id,
        reservationId,
        image: spec.image,
        type: spec.type,
        subnet: spec.subnet,
        launchTime: now,
        market: spec.market,
        spot: spec.spot ? { ...spec.spot, requestId: spotRequestId(id) } : undefined,
        userData: spec.userData,
        bootstrap: spec.bootstrap,
        groups: spec.groups,
        profile: spec.profile,
        metadata: spec.metadata,
        clientToken: spec.clientToken,
        launchIndex: i,
        keyName: spec.keyName,
        visibleAt: now + this.ctx.faults.consistencyWindowMs,
        phase: 'run',
        phaseStart: now,
        phaseEnd: now + this.ctx.delays.bootMs,
      });
      const ip = i === 0 && spec.privateIp !== undefined ? (spec.subnet.claim(spec.privateIp, r) ? spec.privateIp : undefined) : spec.subnet.allocate(r);
      if (ip === undefined) throw new Error(`local cloud: no address left in ${spec.subnet.id} after the free-address check`);
      r.ip = ip;
      for (const [k, v] of spec.tags) this.setTag(r, k, v);
      records.push(r);
    }
    return { reservationId, records };
  }

  /** Launched records are final: emit `pending` and schedule `running`. */
  announce(records: InstanceRecord[]): void {
    for (const r of records) {
      this.#emitState(r, 'pending', r.phaseStart);
      this.#schedule(r, 'running', false);
    }
  }

  /** Undo a launch that failed after its records were made (e.g. a bad block device mapping). */
  discard(records: InstanceRecord[]): void {
    for (const r of records) {
      if (r.removed) continue;
      this.#remove(r);
      try {
        this.hooks.onTerminated(r.id);
      } catch {
        // best effort
      }
    }
  }

  #create(init: Omit<InstanceRecord, 'seq' | 'ip' | 'tags' | 'epoch' | 'convergeMs' | 'convergedDone' | 'visibleFor' | 'reason' | 'stateReason' | 'interruptAt' | 'removed' | 'restoredState' | 'restoreDone'>): InstanceRecord {
    // An explicit literal (not a spread): one object shape for every record, cheap to create.
    const r: InstanceRecord = {
      id: init.id,
      seq: this.#seq++,
      reservationId: init.reservationId,
      image: init.image,
      type: init.type,
      subnet: init.subnet,
      ip: undefined,
      launchTime: init.launchTime,
      market: init.market,
      spot: init.spot,
      tags: new Map(),
      userData: init.userData,
      bootstrap: init.bootstrap,
      groups: init.groups,
      profile: init.profile,
      metadata: init.metadata,
      clientToken: init.clientToken,
      launchIndex: init.launchIndex,
      keyName: init.keyName,
      visibleAt: init.visibleAt,
      phase: init.phase,
      phaseStart: init.phaseStart,
      phaseEnd: init.phaseEnd,
      epoch: 0,
      convergeMs: this.ctx.delays.convergeMs,
      convergedDone: false,
      visibleFor: this.ctx.delays.terminatedVisibleMs,
      reason: '',
      stateReason: undefined,
      interruptAt: undefined,
      removed: false,
      restoredState: undefined,
      restoreDone: false,
    };
    this.byId.set(r.id, r);
    this.#order.push(r);
    return r;
  }

  /**
   * Terminate: pending/running/stopping/stopped -> shutting-down (-> terminated after
   * shutdownMs); shutting-down and terminated stay as they are. Returns the state change.
   */
  terminate(r: InstanceRecord, by: 'user' | 'service' | 'spot' = 'user'): StateChange {
    const now = this.now();
    const previous = this.stateOf(r, now);
    if (previous === 'shutting-down' || previous === 'terminated') return { id: r.id, previous, current: previous };
    r.phase = 'terminate';
    r.phaseStart = now;
    r.phaseEnd = now + this.ctx.delays.shutdownMs;
    r.visibleFor = this.ctx.delays.terminatedVisibleMs;
    r.epoch++;
    r.interruptAt = undefined;
    const at = gmt(now);
    if (by === 'spot') {
      r.reason = `Service initiated (${at})`;
      r.stateReason = { code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination' };
    } else if (by === 'service') {
      r.reason = `Service initiated (${at})`;
      r.stateReason = { code: 'Server.InternalError', message: 'Server.InternalError: Internal error on launch' };
    } else {
      r.reason = `User initiated (${at})`;
      r.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
    }
    this.#emitState(r, 'shutting-down', now);
    this.#schedule(r, 'terminated', false);
    return { id: r.id, previous, current: 'shutting-down' };
  }

  /** Stop (the caller checked the market): running -> stopping -> stopped; stopped/stopping stay. */
  stop(r: InstanceRecord, by: 'user' | 'spot' = 'user'): StateChange {
    const now = this.now();
    const previous = this.stateOf(r, now);
    if (previous === 'stopping' || previous === 'stopped') return { id: r.id, previous, current: previous };
    if (previous !== 'running') {
      throw new AwsError('IncorrectInstanceState', `This instance '${r.id}' is not in a state from which it can be stopped.`);
    }
    r.phase = 'stop';
    r.phaseStart = now;
    r.phaseEnd = now + this.ctx.delays.shutdownMs;
    r.epoch++;
    r.interruptAt = undefined;
    r.reason = `${by === 'spot' ? 'Service' : 'User'} initiated (${gmt(now)})`;
    r.stateReason =
      by === 'spot'
        ? { code: 'Server.SpotInstanceShutdown', message: 'Server.SpotInstanceShutdown: Spot instance shutdown' }
        : { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
    this.#emitState(r, 'stopping', now);
    this.#schedule(r, 'stopped', false);
    return { id: r.id, previous, current: 'stopping' };
  }

  /** Start: stopped -> pending -> running; pending/running stay. */
  start(r: InstanceRecord): StateChange {
    const now = this.now();
    const previous = this.stateOf(r, now);
    if (previous === 'pending' || previous === 'running') return { id: r.id, previous, current: previous };
    if (previous !== 'stopped') {
      throw new AwsError('IncorrectInstanceState', `The instance '${r.id}' is not in a state from which it can be started.`);
    }
    r.phase = 'run';
    r.phaseStart = now;
    r.phaseEnd = now + this.ctx.delays.bootMs;
    r.convergeMs = this.ctx.delays.convergeMs;
    r.epoch++;
    r.reason = '';
    r.stateReason = undefined;
    this.#emitState(r, 'pending', now);
    this.#schedule(r, 'running', false);
    return { id: r.id, previous, current: 'pending' };
  }

  /** Schedule a spot interruption action `SPOT_WARNING_MS` from now (once per instance). */
  scheduleInterruption(r: InstanceRecord): void {
    if (r.interruptAt !== undefined) return;
    const at = this.now() + SPOT_WARNING_MS;
    r.interruptAt = at;
    const epoch = r.epoch;
    this.ctx.clock.at(at, () => {
      if (r.epoch !== epoch || r.removed) return;
      const state = this.stateOf(r, Math.floor(this.ctx.clock.now()));
      if (state !== 'running' && state !== 'pending') return;
      if (r.spot?.behavior === 'stop' || r.spot?.behavior === 'hibernate') this.stop(r, 'spot');
      else this.terminate(r, 'spot');
    });
  }

  #schedule(r: InstanceRecord, state: Due['state'], silent: boolean): void {
    const e: Due = { at: r.phaseEnd, rec: r, epoch: r.epoch, state, silent };
    const h = this.#due;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
    if (e.at < this.#armedAt) this.#arm();
  }

  #popDue(): Due {
    const h = this.#due;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const rt = l + 1;
        let m = i;
        let mAt = last.at;
        if (l < n && h[l]!.at < mAt) {
          m = l;
          mAt = h[l]!.at;
        }
        if (rt < n && h[rt]!.at < mAt) m = rt;
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }

  #arm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const top = this.#due[0];
    if (!top) {
      this.#armedAt = Infinity;
      return;
    }
    this.#armedAt = top.at;
    this.#cancelTimer = this.ctx.clock.at(top.at, () => {
      this.#cancelTimer = undefined;
      this.#armedAt = Infinity;
      this.#fireDue();
    });
  }

  #fireDue(): void {
    const now = this.ctx.clock.now();
    while (this.#due.length > 0 && this.#due[0]!.at <= now) {
      const e = this.#popDue();
      const r = e.rec;
      if (r.epoch !== e.epoch) continue;
      if (e.state === 'terminated') this.#onTerminated(r);
      if (e.state === 'running' && r.bootstrap && !r.restoreDone && !r.removed) this.#restoreState(r);
      if (!e.silent) this.#emitState(r, e.state, e.at);
    }
    this.#arm();
  }

  #onTerminated(r: InstanceRecord): void {
    if (r.ip !== undefined) {
      r.subnet.release(r.ip, r);
      r.ip = undefined;
    }
    try {
      this.hooks.onTerminated(r.id);
    } catch (err) {
      process.emitWarning(`local cloud: volume cleanup for ${r.id} failed: ${String(err)}`);
    }
  }

  #remove(r: InstanceRecord): void {
    r.removed = true;
    if (r.ip !== undefined) {
      r.subnet.release(r.ip, r);
      r.ip = undefined;
    }
    for (const [k, v] of r.tags) this.#unindex(r, k, v);
    this.byId.delete(r.id);
    this.#removedInOrder++;
  }

  #maybeCompact(): void {
    if (this.#removedInOrder > 1024 && this.#removedInOrder * 2 > this.#order.length) {
      this.#order = this.#order.filter((r) => !r.removed);
      this.#removedInOrder = 0;
    }
  }

  // ---------------------------------------------------------------- events

  #emitState(r: InstanceRecord, state: InstanceState, at: number): void {
    this.ctx.emit(
      this.event('EC2 Instance State-change Notification', [`arn:aws:ec2:${this.ctx.region}:${this.ctx.account}:instance/${r.id}`], { 'instance-id': r.id, state }, at),
    );
  }

  event(detailType: string, resources: string[], detail: Record<string, unknown>, at = this.now()): CloudEvent {
    return {
      version: '0',
      id: this.ctx.ids.uuid(),
      'detail-type': detailType,
      source: 'aws.ec2',
      account: this.ctx.account,
      time: new Date(Math.floor(at / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      region: this.ctx.region,
      resources,
      detail,
    };
  }

  // ---------------------------------------------------------------- convergence rules

  setConvergence(rules: ConvergenceRule | ConvergenceRule[] | undefined): void {
    const list = rules === undefined ? [] : Array.isArray(rules) ? rules : [rules];
    for (const r of list) {
      if (r.converge !== 'never' && !(typeof r.converge === 'number' && r.converge >= 0 && Number.isFinite(r.converge))) {
        throw new RangeError(`convergence rule: converge must be 'never' or a number of ms >= 0, got ${String(r.converge)}`);
      }
    }
    this.#rules = list.map((r) => ({ ...r }));
    this.#compiledRules = this.#rules.map((r) => ({
      ...(r.names ? { names: new ValueMatcher(r.names) } : {}),
      ...(r.roles ? { roles: new Set(r.roles) } : {}),
      converge: r.converge,
    }));
  }

  get convergenceRules(): ConvergenceRule[] {
    return this.#rules.map((r) => ({ ...r }));
  }

  #convergeDelay(r: InstanceRecord): 'never' | number {
    for (const rule of this.#compiledRules) {
      const byName = rule.names ? rule.names.test(r.tags.get(TAG.name)) : undefined;
      const byRole = rule.roles ? rule.roles.has(r.tags.get(TAG.role) ?? '') : undefined;
      const matches = byName === undefined && byRole === undefined ? true : Boolean(byName) || Boolean(byRole);
      if (matches) return rule.converge;
    }
    return r.convergeMs;
  }

  // ---------------------------------------------------------------- seeding

  /** Bulk-load instances, bypassing the API (no events, no consistency window, no throttling). */
  seed(specs: SeedInstance[]): string[] {
    const now = this.now();
    const ids: string[] = [];
    const defaultImage = IMAGES[0]!;
    const images = new Map(IMAGES.map((i) => [i.imageId, i]));
    // One reservation per seedInstances call chunk of identical placement would be closer to
    // RunInstances, but each seeded instance gets its own reservation: the common case of
    // fleet launches (one instance per name).
    for (const [n, s] of specs.entries()) {
      const type = INSTANCE_TYPES.get(s.instanceType);
      if (!type) throw new RangeError(`seedInstances[${n}]: unknown instance type "${s.instanceType}"`);
      const image = s.imageId === undefined ? defaultImage : images.get(s.imageId);
      if (!image) throw new RangeError(`seedInstances[${n}]: unknown image "${s.imageId}"`);
      let subnet: Subnet<InstanceRecord>;
      if (s.subnetId !== undefined) {
        const sub = this.topology.subnets.get(s.subnetId);
        if (!sub) throw new RangeError(`seedInstances[${n}]: unknown subnet "${s.subnetId}"`);
        if (s.az !== undefined && s.az !== sub.az) throw new RangeError(`seedInstances[${n}]: subnet ${s.subnetId} is in ${sub.az}, not ${s.az}`);
        subnet = sub;
      } else {
        const az = s.az ?? this.topology.nextAz();
        if (!this.topology.az(az)) throw new RangeError(`seedInstances[${n}]: unknown availability zone "${az}"`);
        subnet = this.topology.subnetWithRoom(az);
      }
      const state = s.state ?? 'running';
      if (!(state in STATE_CODES)) throw new RangeError(`seedInstances[${n}]: unknown state "${state}"`);
      const launchTime = s.launchTime === undefined ? now : typeof s.launchTime === 'number' ? s.launchTime : Date.parse(s.launchTime);
      if (!Number.isFinite(launchTime)) throw new RangeError(`seedInstances[${n}]: launchTime is not a time: ${String(s.launchTime)}`);
      const market = s.market ?? 'on-demand';
      const id = this.ctx.ids.next('i');
      const life = seedLife(state, now, this.ctx.delays);
      const r = this.#create({
        id,
        reservationId: this.ctx.ids.next('r'),
        image,
        type,
        subnet,
        launchTime,
        market,
        spot: market === 'spot' ? { requestId: spotRequestId(id), type: 'one-time', behavior: 'terminate' } : undefined,
        userData: undefined,
        bootstrap: Boolean(s.bootstrap),
        groups: [{ ...DEFAULT_SECURITY_GROUP }],
        profile: undefined,
        metadata: { httpTokens: 'required', httpEndpoint: 'enabled', hopLimit: 2 },
        clientToken: undefined,
        launchIndex: 0,
        keyName: undefined,
        visibleAt: 0,
        ...life,
      });
      if (state === 'terminated' || state === 'shutting-down') {
        r.reason = `User initiated (${gmt(now)})`;
        r.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
      } else if (state === 'stopped' || state === 'stopping') {
        r.reason = `User initiated (${gmt(now)})`;
      }
      if (state !== 'terminated') {
        const ip = subnet.allocate(r);
        if (ip === undefined) throw new RangeError(`seedInstances[${n}]: subnet ${subnet.id} has no free address left`);
        r.ip = ip;
      }
      for (const [k, v] of Object.entries(s.tags ?? {})) this.setTag(r, k, v);
      if (s.converged) {
        const at = s.convergedAt === undefined ? launchTime : typeof s.convergedAt === 'number' ? s.convergedAt : Date.parse(s.convergedAt);
        this.setTag(r, TAG.converged, new Date(at).toISOString());
      }
      if (!s.bootstrap) r.convergedDone = true;
      if (state === 'pending') this.#schedule(r, 'running', true);
      else if (state === 'stopping') this.#schedule(r, 'stopped', true);
      else if (state === 'shutting-down') this.#schedule(r, 'terminated', true);
      ids.push(id);
    }
    return ids;
  }

  // ---------------------------------------------------------------- views

  view(r: InstanceRecord, now = this.now()): InstanceView {
    const state = this.stateOf(r, now);
    const live = state !== 'terminated';
    return {
      instanceId: r.id,
      state,
      instanceType: r.type.name,
      market: r.market,
      availabilityZone: r.subnet.az,
      subnetId: r.subnet.id,
      vpcId: r.subnet.vpcId,
      privateIpAddress: live && r.ip !== undefined ? intToIp(r.ip) : undefined,
      launchTime: new Date(r.launchTime).toISOString(),
      imageId: r.image.imageId,
      reservationId: r.reservationId,
      tags: Object.fromEntries(r.tags),
      userData: r.userData === undefined ? undefined : Buffer.from(r.userData, 'base64').toString('utf8'),
      bootstrap: r.bootstrap,
      clientToken: r.clientToken,
      spotInstanceRequestId: r.spot?.requestId,
      metadataOptions: { ...r.metadata },
      iamInstanceProfileArn: r.profile?.arn,
      securityGroupIds: r.groups.map((g) => g.id),
      visible: now >= r.visibleAt,
      stateTransitionReason: r.reason,
      ...(r.restoredState !== undefined ? { restoredState: [...r.restoredState] } : {}),
    };
  }

  /** Every instance still known (terminated ones until they vanish), in launch order. */
  all(): InstanceRecord[] {
    const now = this.now();
    this.#maybeCompact();
    return this.#order.filter((r) => this.refresh(r, now));
  }
}

/** Decoded user data carries the fleet bootstrap marker. */
export function isBootstrap(decoded: string): boolean {
  return decoded.includes(BOOTSTRAP_MARKER);
}

function seedLife(state: InstanceState, now: number, d: SimContext['delays']): Pick<InstanceRecord, 'phase' | 'phaseStart' | 'phaseEnd'> {
  switch (state) {
    case 'pending':
      return { phase: 'run', phaseStart: now, phaseEnd: now + d.bootMs };
    case 'running':
      return { phase: 'run', phaseStart: now, phaseEnd: now };
    case 'stopping':
      return { phase: 'stop', phaseStart: now, phaseEnd: now + d.shutdownMs };
    case 'stopped':
      return { phase: 'stop', phaseStart: now, phaseEnd: now };
    case 'shutting-down':
      return { phase: 'terminate', phaseStart: now, phaseEnd: now + d.shutdownMs };
    case 'terminated':
      return { phase: 'terminate', phaseStart: now, phaseEnd: now };
  }
}

export function privateDnsName(ip: string, region: string): string {
  const host = `ip-${ip.replace(/\./g, '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

/** `sir-` + 8 characters, derived from the instance id (unique per cloud). */
function spotRequestId(instanceId: string): string {
  return `sir-${instanceId.slice(-8)}`;
}

/** `2026-11-25 03:00:00 GMT`, as stateTransitionReason shows times. */
export function gmt(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' GMT');
}

function lowerBound(list: InstanceRecord[], afterSeq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.seq <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** FNV-1a of the query's ids and filters: a NextToken only continues the listing it came from. */
function queryHash(q: DescribeQuery): string {
  const canon = JSON.stringify([q.ids ?? [], q.filters.map((f) => [f.name, f.values])]);
  let h = 0x811c9dc5;
  for (let i = 0; i < canon.length; i++) {
    h ^= canon.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

function makeToken(seq: number, hash: string): string {
  return Buffer.from(`v1|${seq}|${hash}`, 'utf8').toString('base64url');
}

function parseToken(token: string, hash: string): number {
  const bad = (): never => {
    throw new AwsError('InvalidParameterValue', `Value (${token}) for parameter NextToken is invalid. The token is invalid.`);
  };
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) bad();
  const m = /^v1\|(\d{1,15})\|([0-9a-z]+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m || m[2] !== hash) bad();
  return Number(m![1]);
}
