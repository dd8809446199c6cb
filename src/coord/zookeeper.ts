/**
 * The ZooKeeper coordinator: the lock and leader recipes of DESIGN.md section 8 over one
 * session (zk-session.ts), under `/fleet/<fleet>/` (inside the connect string's chroot):
 *
 *   /fleet/<fleet>/locks/<name>/<uuid>-lock-<10 digits>   EPHEMERAL_SEQUENTIAL, data: HolderInfo
 *   /fleet/<fleet>/leader/<uuid>-lock-<10 digits>          the same, for leader election
 *
 * Lock: create our node with our unique id in its name; list the children; the lowest
 * sequence holds the lock; otherwise watch only the next-lower node (no herd) and look again
 * when it changes. After a connection loss, the create may have succeeded: find our node by
 * our id. The sequence number is the fencing token. The persistent per-name nodes are never
 * removed, so tokens of one name only grow.
 *
 * Held: `lost` aborts when the session expires, when our node is deleted, or when no reply
 * proved the session alive for 90% of the session timeout (disconnected or silent);
 * assertHeld() throws as soon as the connection is down or suspect. A session that expired
 * (or stayed disconnected past its timeout) is dead: the next operation makes a new one.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { FleetError } from '../errors.js';
import type { Log } from '../ports.js';
import {
  checkCoordName,
  CoordinationUnavailableError,
  LockLostError,
  LockTimeoutError,
  parseHolder,
  type Coordinator,
  type HolderInfo,
  type Leader,
  type LeaderTerm,
  termOf,
  type LockHandle,
  type LockOptions,
  type LockStatus,
} from './port.js';
import { CreateMode, isConnectionProblem, ZkCode, zkCode, ZkSession, type Tenure } from './zk-session.js';
import { DEADLINE, deferred, Wait, wallTime } from './wait.js';
import { systemClock } from '../clock.js';
import type { TimerClock } from '../ports.js';

export interface ZooKeeperCoordinatorOptions {
  /** `host:port[,host:port...][/chroot]` (fleet.yaml `coordination.zookeeper.connect`). */
  connect: string;
  fleet: string;
  /** Requested session timeout (fleet.yaml `coordination.zookeeper.session-timeout`); default 10 s. */
  sessionTimeoutMs?: number;
  /** Bound on establishing a session; default 5 s. */
  connectTimeoutMs?: number;
  /** Default os.hostname(). */
  host?: string;
  /** Default process.pid. */
  pid?: number;
  log?: Log;
  /**
   * Lock waits (`--wait` deadlines; default: the system clock; holder `since` stays wall time). Connecting
   * and the session's timeout stay on real time: they mirror the server, whose session
   * timeout runs on its own real clock whatever ours says.
   */
  clock?: TimerClock;
}

const NODE_RE = /^([0-9a-f-]{36})-lock-([0-9]{10})$/;

interface QueueNode {
  name: string;
  seq: string;
}

/** Our recipe's children, in sequence order (other names are ignored). */
export function lockQueue(children: string[]): QueueNode[] {
  const out: QueueNode[] = [];
  for (const name of children) {
    const m = NODE_RE.exec(name);
    if (m) out.push({ name, seq: m[2]! });
  }
  return out.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
}

/** Resolves when any promise settles or the signal aborts (never rejects); cleans up its listener. */
function firstOf(promises: Promise<unknown>[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    for (const p of promises) p.then(done, done);
  });
}

class ZkHandle implements LockHandle, Tenure {
  readonly name: string;
  readonly fencingToken: string;
  readonly holder: HolderInfo;
  readonly lost: AbortSignal;
  readonly #ctl = new AbortController();
  readonly #session: ZkSession;
  readonly #parent: string;
  readonly #node: string;
  readonly #unregister: () => void;
  readonly #onDone: (h: ZkHandle) => void;
  #released = false;

  constructor(session: ZkSession, parent: string, node: string, name: string, holder: HolderInfo & { fencingToken: string }, onDone: (h: ZkHandle) => void) {
    this.name = name;
    this.holder = holder;
    this.fencingToken = holder.fencingToken;
    this.lost = this.#ctl.signal;
    this.#session = session;
    this.#parent = parent;
    this.#node = node;
    this.#onDone = onDone;
    this.#unregister = session.register(this);
    void this.#watchOwnNode();
  }

  get path(): string {
    return `${this.#parent}/${this.#node}`;
  }

  /** Our node deleted by someone else (an operator breaking the lock) means the lock is gone. */
  async #watchOwnNode(): Promise<void> {
    while (!this.#released && !this.lost.aborted) {
      const fired = deferred<number>();
      let there: boolean;
      try {
        there = await this.#session.exists(this.path, (e) => fired.resolve(e.getType()));
      } catch {
        // Connection trouble: the session's proof of life decides meanwhile; watch again once back.
        if (this.#session.state === 'expired' || this.#session.state === 'closed') return;
        await firstOf([this.#session.changed()], this.lost);
        continue;
      }
      if (!there) {
        if (!this.#released) this.lose(`its node ${this.path} is gone`);
        return;
      }
      await firstOf([fired.promise], this.lost);
    }
  }

  lose(reason: string): void {
    if (!this.lost.aborted) this.#ctl.abort(new LockLostError(this.name, reason));
  }

  assertHeld(): void {
    if (this.lost.aborted) throw this.lost.reason;
    if (this.#released) throw new LockLostError(this.name, 'it was released');
    if (!this.#session.healthy()) throw new LockLostError(this.name, this.#session.unhealthyReason());
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#unregister();
    try {
      if (this.#session.state === 'connected') {
        try {
          await this.#session.remove(this.path);
          return;
        } catch {
          // not now: the janitor below keeps trying
        }
      }
      if (this.#session.state !== 'expired' && this.#session.state !== 'closed') {
        // The connection is down: the node goes when it comes back (or with the session).
        await this.#session.cleanup(this.#parent, this.#node, Math.min(5000, this.#session.timeoutMs));
      }
    } finally {
      this.#onDone(this);
    }
  }
}

export class ZooKeeperCoordinator implements Coordinator {
  readonly kind = 'zookeeper' as const;
  readonly connect: string;
  readonly root: string;
  readonly #sessionTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #host: string;
  readonly #pid: number;
  readonly #log: Log | undefined;
  readonly #closed = new AbortController();
  readonly #held = new Set<ZkHandle>();
  readonly #paths = new Set<string>();
  #session: ZkSession | undefined;
  readonly #clock: TimerClock;
  #opening: Promise<ZkSession> | undefined;

  constructor(opts: ZooKeeperCoordinatorOptions) {
    checkCoordName('fleet', opts.fleet);
    this.connect = opts.connect;
    this.root = `/fleet/${opts.fleet}`;
    this.#sessionTimeoutMs = opts.sessionTimeoutMs ?? 10_000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.#host = opts.host ?? hostname();
    this.#pid = opts.pid ?? process.pid;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
  }

  async lock(name: string, opts: LockOptions): Promise<LockHandle> {
    checkCoordName('lock', name);
    return this.#acquire(`${this.root}/locks/${name}`, name, opts);
  }

  leader(): Leader {
    const parent = `${this.root}/leader`;
    return {
      campaign: async (signal?: AbortSignal, opts?: { operation?: string }) => {
        const h = await this.#acquire(parent, 'leader', { operation: opts?.operation ?? 'leader', ...(signal ? { signal } : {}) });
        return termOf(h);
      },
      current: async () => {
        const s = await this.#connected(new Wait(this.#connectTimeoutMs, [this.#closed.signal]), undefined);
        return (await this.#lowest(s, parent))?.holder;
      },
    };
  }

  async holders(): Promise<LockStatus[]> {
    const w = new Wait(this.#connectTimeoutMs, [this.#closed.signal]);
    try {
      const s = await this.#connected(w, undefined);
      let names: string[];
      try {
        names = await s.getChildren(`${this.root}/locks`);
      } catch (e) {
        if (zkCode(e) === ZkCode.NO_NODE) return [];
        throw e;
      }
      const out: LockStatus[] = [];
      for (let i = 0; i < names.length; i += 16) {
        const batch = await Promise.all(
          names.slice(i, i + 16).map(async (name): Promise<LockStatus> => {
            const low = await this.#lowest(s, `${this.root}/locks/${name}`);
            return { name, holder: low?.holder, waiting: low ? Math.max(0, low.count - 1) : 0 };
          }),
        );
        out.push(...batch);
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (e) {
      throw this.#explain(e, w);
    } finally {
      w.dispose();
    }
  }

  async close(): Promise<void> {
    if (!this.#closed.signal.aborted) this.#closed.abort(new FleetError('the coordinator was closed'));
    for (const h of [...this.#held]) h.lose('the coordinator was closed');
    this.#held.clear();
    const s = this.#session;
    this.#session = undefined;
    const opening = this.#opening;
    if (s) await s.close();
    if (opening) await opening.then((x) => x.close(), () => undefined);
  }

  // ---- internals ---------------------------------------------------------------------

  /** The holder (lowest node) of a lock or election, with the queue's length. */
  async #lowest(s: ZkSession, parent: string): Promise<{ holder: HolderInfo | undefined; count: number } | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let children: string[];
      try {
        children = await s.getChildren(parent);
      } catch (e) {
        if (zkCode(e) === ZkCode.NO_NODE) return undefined;
        throw e;
      }
      const q = lockQueue(children);
      if (q.length === 0) return { holder: undefined, count: 0 };
      const data = await s.getData(`${parent}/${q[0]!.name}`);
      if (data === undefined) continue; // released in between: look again
      const h = parseHolder(data.toString('utf8'));
      return { holder: h ? { ...h, fencingToken: q[0]!.seq } : undefined, count: q.length };
    }
    return undefined;
  }

  async #open(signal: AbortSignal | undefined): Promise<ZkSession> {
    this.#opening ??= ZkSession.open(
      { connect: this.connect, sessionTimeoutMs: this.#sessionTimeoutMs, connectTimeoutMs: this.#connectTimeoutMs, ...(this.#log ? { log: this.#log } : {}) },
      this.#closed.signal,
    ).finally(() => {
      this.#opening = undefined;
    });
    const opening = this.#opening;
    if (!signal) return opening;
    // The caller may stop waiting for a shared connection attempt without ending it; whoever
    // gets the session adopts it (or closes it), so it never lingers unowned.
    await firstOf([opening], signal);
    if (signal.aborted) {
      void opening.then(
        (s) => {
          if (!this.#session && !this.#closed.signal.aborted) this.#session = s;
          else if (this.#session !== s) void s.close(0);
        },
        () => undefined,
      );
      throw signal.reason;
    }
    return opening;
  }

  /** A connected session: the current one, back from a disconnection, or a new one if it died. */
  async #connected(w: Wait, callerSignal: AbortSignal | undefined): Promise<ZkSession> {
    for (;;) {
      if (w.signal.aborted && w.signal.reason !== DEADLINE) throw w.signal.reason;
      let s = this.#session;
      // Real time (Date.now) on purpose here and below: a disconnected session dies by the
      // server's session timeout, which runs on the server's real clock.
      if (s && (s.state === 'expired' || s.state === 'closed' || (s.state === 'disconnected' && Date.now() - (s.disconnectedAt ?? 0) > s.timeoutMs))) {
        // Dead, or presumed so (its timeout passed without a reconnection): start afresh.
        this.#session = undefined;
        void s.close(0);
        s = undefined;
      }
      if (!s) {
        const signals = [callerSignal, this.#closed.signal].filter((x): x is AbortSignal => x !== undefined);
        s = await this.#open(signals.length === 1 ? signals[0] : AbortSignal.any(signals));
        if (this.#session && this.#session !== s && this.#session.state === 'connected') {
          void s.close(0);
          s = this.#session;
        }
        this.#session = s;
        this.#paths.clear();
      }
      if (s.state === 'connected') return s;
      if (w.signal.aborted) throw w.signal.reason;
      const presumedDead = (s.disconnectedAt ?? Date.now()) + s.timeoutMs + 10 - Date.now();
      const t = deferred<void>();
      const timer = setTimeout(() => t.resolve(), Math.max(10, presumedDead));
      await firstOf([s.changed(), t.promise], w.signal);
      clearTimeout(timer);
    }
  }

  async #ensurePath(s: ZkSession, path: string): Promise<void> {
    if (this.#paths.has(path)) return;
    try {
      await s.mkdirp(path);
    } catch (e) {
      const slash = this.connect.indexOf('/');
      if (zkCode(e) === ZkCode.NO_NODE && slash !== -1) {
        const chroot = this.connect.slice(slash);
        throw new CoordinationUnavailableError(this.connect, `the chroot ${chroot} does not exist; create it first (zkCli.sh -server ${this.connect.slice(0, slash).split(',')[0]} create ${chroot})`, e);
      }
      throw e;
    }
    this.#paths.add(path);
  }

  /** A deadline that passed while we could not even talk to ZooKeeper is a connection problem. */
  #explain(e: unknown, w: Wait): unknown {
    if (e === DEADLINE) {
      const s = this.#session;
      return new CoordinationUnavailableError(
        this.connect,
        s ? `the connection to ZooKeeper is ${s.state} and did not come back within ${(w.waitedMs / 1000).toFixed(1)} s` : `no session within ${(w.waitedMs / 1000).toFixed(1)} s`,
      );
    }
    return e;
  }

  async #acquire(parent: string, name: string, opts: LockOptions): Promise<ZkHandle> {
    if (this.#closed.signal.aborted) throw this.#closed.signal.reason;
    const w = new Wait(opts.deadlineMs, [opts.signal, this.#closed.signal], this.#clock);
    const id = randomUUID();
    const prefix = `${id}-lock-`;
    const info: HolderInfo = { host: this.#host, pid: this.#pid, operation: opts.operation, since: wallTime(), owner: id };
    let session: ZkSession | undefined; // the session our node belongs to
    let node: string | undefined; // our node's name, once known
    let maybeCreated = false; // a create whose outcome we did not learn
    let notified = false;
    let waited = false;
    let lastHolder: HolderInfo | undefined;
    try {
      for (;;) {
        const s = await this.#connected(w, opts.signal);
        if (s !== session) {
          if (session && (node || maybeCreated)) void session.cleanup(parent, prefix, 0);
          session = s;
          node = undefined;
          maybeCreated = false;
        }
        try {
          await this.#ensurePath(s, parent);
          if (!node && maybeCreated) {
            // After a connection loss the create may have happened: our id finds our node.
            node = (await s.getChildren(parent)).find((c) => c.startsWith(prefix));
            maybeCreated = false;
          }
          if (!node) {
            maybeCreated = true;
            const path = await s.create(`${parent}/${prefix}`, Buffer.from(JSON.stringify(info)), CreateMode.EPHEMERAL_SEQUENTIAL);
            node = path.slice(path.lastIndexOf('/') + 1);
            maybeCreated = false;
          }
          const queue = lockQueue(await s.getChildren(parent));
          const at = queue.findIndex((q) => q.name === node);
          if (at === -1) {
            node = undefined; // our node is gone (deleted by hand): queue again
            continue;
          }
          if (at === 0) {
            const holder = { ...info, fencingToken: queue[0]!.seq };
            if (waited) {
              // `since` tells others how long we have held it, not how long we waited.
              holder.since = wallTime();
              try {
                await s.setData(`${parent}/${node}`, Buffer.from(JSON.stringify({ ...holder, fencingToken: undefined })));
              } catch {
                // cosmetic; the lock is ours regardless
              }
            }
            const h = new ZkHandle(s, parent, node, name, holder, (x) => this.#held.delete(x));
            this.#held.add(h);
            session = undefined; // the handle owns the node now
            return h;
          }
          if (!notified || w.over) {
            const low = await this.#lowest(s, parent);
            lastHolder = low?.holder;
            if (!notified) {
              notified = true;
              opts.onWait?.({ holder: lastHolder, ahead: at });
            }
          }
          w.check();
          waited = true;
          const changed = deferred<void>();
          const there = await s.exists(`${parent}/${queue[at - 1]!.name}`, () => changed.resolve());
          if (!there) continue;
          await firstOf([changed.promise, s.changed()], w.signal);
          if (w.signal.aborted && w.signal.reason === DEADLINE) {
            lastHolder = (await this.#lowest(s, parent).catch(() => undefined))?.holder ?? lastHolder;
            throw DEADLINE;
          }
        } catch (e) {
          if (isConnectionProblem(e)) continue; // look again on a live session
          throw e;
        }
      }
    } catch (e) {
      const giveUp = session;
      if (giveUp && (node || maybeCreated)) await giveUp.cleanup(parent, prefix, 1000);
      if (e === DEADLINE) {
        if (notified) throw new LockTimeoutError(name, lastHolder, w.waitedMs);
        throw this.#explain(e, w);
      }
      throw e;
    } finally {
      w.dispose();
    }
  }
}
