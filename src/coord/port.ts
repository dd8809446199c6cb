/**
 * The coordination port: per-name locks and leader election, with fencing tokens.
 *
 * Two implementations stand behind it: `LocalCoordinator` (local.ts: in-process queues plus
 * lock files, so several processes on one machine are safe) and `ZooKeeperCoordinator`
 * (zookeeper.ts: the recipes of DESIGN.md section 8). Callers hold a lock for a whole
 * operation, call `assertHeld()` before every side effect, stop when `lost` aborts, and
 * release in `finally`.
 */
import { FleetError, InputError } from '../errors.js';

/** Who holds (or waits for) a lock; stored in the lock file or the lock node's data. */
export interface HolderInfo {
  host: string;
  pid: number;
  /** What the holder is doing: `upgrade`, `kill`, `apply`, `leader`, ... */
  operation: string;
  /** ISO time the holder asked for the lock (ZooKeeper) or took it (local). */
  since: string;
  /** Unique id of this acquisition (a UUID). */
  owner: string;
  /** The fencing token of this acquisition when known (10 digits). */
  fencingToken?: string;
}

export interface LockOptions {
  /** What the holder is about to do; shown to whoever finds the name locked. */
  operation: string;
  /**
   * How long to wait at most for the lock, in ms from the call: 0 fails at once when the name
   * is held; omitted (or Infinity) waits until `signal` aborts. On expiry: LockTimeoutError.
   */
  deadlineMs?: number;
  /** Aborting gives up waiting (rejects with the signal's reason); it does not release a held lock. */
  signal?: AbortSignal;
  /** Called once, when the name turns out to be held by someone else and we start waiting. */
  onWait?: (info: { holder: HolderInfo | undefined; ahead: number }) => void;
}

export interface LockHandle {
  readonly name: string;
  /**
   * Fencing token: the lock node's 10-digit sequence number (ZooKeeper) or a per-name counter
   * (local), zero-padded to 10 digits, so string order is numeric order. Strictly increases
   * between successive holders of one name; write it into whatever the operation changes.
   */
  readonly fencingToken: string;
  readonly holder: HolderInfo;
  /** Aborts (reason: LockLostError) when the lock may be lost: stop before the next side effect. */
  readonly lost: AbortSignal;
  /** Throws LockLostError unless the lock is provably held right now. Call before every side effect. */
  assertHeld(): void;
  /** Give the lock up; idempotent; never throws for a lock that was already lost. */
  release(): Promise<void>;
}

export interface LockStatus {
  name: string;
  /** undefined: nobody holds it now (the name was locked before). */
  holder: HolderInfo | undefined;
  /** How many wait behind the holder (local: processes of this machine that registered as waiting). */
  waiting: number;
}

export interface LeaderTerm {
  /** Strictly increases from one leader to the next. */
  readonly fencingToken: string;
  readonly holder: HolderInfo;
  /** Aborts (reason: LockLostError) when leadership may be lost. */
  readonly lost: AbortSignal;
  /** Throws LockLostError unless still provably leader. Call before every action. */
  assertStillLeader(): void;
  /** Step down; idempotent. */
  resign(): Promise<void>;
}

/** Leadership is a lock on the leader node: a term is that lock seen as leadership. */
export function termOf(h: LockHandle): LeaderTerm {
  return {
    get fencingToken() {
      return h.fencingToken;
    },
    get holder() {
      return h.holder;
    },
    get lost() {
      return h.lost;
    },
    assertStillLeader: () => h.assertHeld(),
    resign: () => h.release(),
  };
}

export interface Leader {
  /** Resolves once this process is leader; waits in line meanwhile; `signal` gives up (rejects with its reason). */
  campaign(signal?: AbortSignal, opts?: { operation?: string }): Promise<LeaderTerm>;
  /** The current leader, if any. */
  current(): Promise<HolderInfo | undefined>;
}

export interface Coordinator {
  readonly kind: 'local' | 'zookeeper';
  /** Take the lock of `name`, waiting in FIFO order. Names: letters, digits, `-`, `_` (e.g. `web-03`). */
  lock(name: string, opts: LockOptions): Promise<LockHandle>;
  /** Every lock name known, with its holder (if any) and the number waiting, sorted by name. */
  holders(): Promise<LockStatus[]>;
  /** Leader election for this fleet (one election per fleet). */
  leader(): Leader;
  /** Release everything this coordinator holds and disconnect; `lost` aborts for anything still held. */
  close(): Promise<void>;
}

// ---- errors ----------------------------------------------------------------------------

const PARTICIPLES: Record<string, string> = {
  upgrade: 'upgraded',
  replace: 'replaced',
  heal: 'healed',
  kill: 'killed',
  launch: 'launched',
  retire: 'retired',
  repair: 'repaired',
  terminate: 'terminated',
};

function clockTime(iso: string, now: Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (Math.abs(now.getTime() - d.getTime()) < 12 * 3600_000) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

/** `web-03 is being upgraded by ops-7 (pid 4412) since 03:12:07` (local time). */
export function describeHolder(name: string, holder: HolderInfo | undefined, now: Date = new Date()): string {
  if (!holder) return `${name} is locked by someone whose details could not be read`;
  const p = PARTICIPLES[holder.operation];
  const what = p ? `is being ${p}` : `is held for ${holder.operation}`;
  return `${name} ${what} by ${holder.host} (pid ${holder.pid}) since ${clockTime(holder.since, now)}`;
}

/** The lock stayed held by someone else until the deadline. Exit 1. */
export class LockTimeoutError extends FleetError {
  readonly lockName: string;
  readonly holder: HolderInfo | undefined;
  readonly waitedMs: number;
  constructor(lockName: string, holder: HolderInfo | undefined, waitedMs: number) {
    super(describeHolder(lockName, holder) + (waitedMs >= 1000 ? `; gave up after ${Math.round(waitedMs / 1000)} s` : ''), {
      data: { lock: lockName, holder, waitedMs },
    });
    this.lockName = lockName;
    this.holder = holder;
    this.waitedMs = waitedMs;
  }
}

/** The lock (or leadership) may be lost: stop before the next side effect. Exit 1. */
export class LockLostError extends FleetError {
  readonly lockName: string;
  readonly reason: string;
  constructor(lockName: string, reason: string) {
    super(`lock ${lockName} may be lost: ${reason}; stopping before the next step`, { data: { lock: lockName, reason } });
    this.lockName = lockName;
    this.reason = reason;
  }
}

/** The coordination service cannot be reached (or not within bounded time). Exit 1. */
export class CoordinationUnavailableError extends FleetError {
  readonly connect: string;
  constructor(connect: string, reason: string, cause?: unknown) {
    super(`cannot coordinate through ZooKeeper at ${connect}: ${reason}`, { cause, data: { connect, reason } });
    this.connect = connect;
  }
}

// ---- shared helpers --------------------------------------------------------------------

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** Lock and fleet names become file and node names: letters, digits, `-`, `_`; at most 100. */
export function checkCoordName(kind: 'lock' | 'fleet', name: string): void {
  if (!NAME_RE.test(name)) {
    throw new InputError(
      `invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, "-" and "_" (starting with a letter or digit, at most 100 characters)`,
    );
  }
}

/** 10 digits, zero-padded, like ZooKeeper's sequence suffix. */
export function formatToken(n: number): string {
  return String(n).padStart(10, '0');
}

export function parseHolder(text: string): HolderInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<HolderInfo> | null;
    if (!v || typeof v !== 'object') return undefined;
    if (typeof v.host !== 'string' || typeof v.pid !== 'number' || typeof v.operation !== 'string' || typeof v.since !== 'string' || typeof v.owner !== 'string') return undefined;
    const h: HolderInfo = { host: v.host, pid: v.pid, operation: v.operation, since: v.since, owner: v.owner };
    if (typeof v.fencingToken === 'string') h.fencingToken = v.fencingToken;
    return h;
  } catch {
    return undefined;
  }
}
