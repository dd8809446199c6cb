/**
 * One ZooKeeper session: node-zookeeper-client wrapped in promises, plus what the library
 * lacks for safe locking:
 *
 * - a bounded connect: CoordinationUnavailableError naming the connect string and what each
 *   server did (refused, timed out, not ZooKeeper), instead of retrying forever;
 * - proof of liveness: every reply from the server proves the session was alive when the
 *   request was sent, so `lastAckSentAt + timeout` is a lower bound of when the server can
 *   expire it. A heartbeat every timeout/3 keeps that proof fresh; the library's own pings
 *   give no such proof, and it has no read timeout, so a silent connection is found by the
 *   heartbeat instead (after 2/3 of the timeout the socket is dropped, and it reconnects);
 * - tenures (held locks, leader terms) registered with the session lose when the proof runs
 *   out (90% of the timeout after the last proof) or when the session expires;
 * - a janitor that removes our nodes after a give-up or release whose outcome is unknown
 *   (connection loss), now or when the connection comes back.
 *
 * A session whose state is `expired` or `closed` is dead: make a new one.
 */
import { connect as netConnect } from 'node:net';
import zookeeper from 'node-zookeeper-client';
import type { Client, Event as ZkEvent, State as ZkStateObj } from 'node-zookeeper-client';
import type { Log } from '../ports.js';
import { CoordinationUnavailableError } from './port.js';
import { deferred } from './wait.js';

const { Exception, State, CreateMode } = zookeeper;
export { CreateMode };

export type ZkState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

/** Error codes of the server and the library that the recipes look at. */
export const ZkCode = {
  CONNECTION_LOSS: Exception.CONNECTION_LOSS,
  OPERATION_TIMEOUT: Exception.OPERATION_TIMEOUT,
  NO_NODE: Exception.NO_NODE,
  NODE_EXISTS: Exception.NODE_EXISTS,
  SESSION_EXPIRED: Exception.SESSION_EXPIRED,
} as const;

export function zkCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** The outcome is unknown or the session is gone: look again (on a live session) and retry. */
export function isConnectionProblem(e: unknown): boolean {
  const c = zkCode(e);
  return c === ZkCode.CONNECTION_LOSS || c === ZkCode.OPERATION_TIMEOUT || c === ZkCode.SESSION_EXPIRED;
}

/** Errors that did not come from the server (so they prove nothing about the session). */
function isLocalFailure(e: unknown): boolean {
  return isConnectionProblem(e) || zkCode(e) === undefined;
}

/** An operation that got no reply in time (ours, not the library's). */
class OperationTimeout extends Error {
  readonly code = ZkCode.OPERATION_TIMEOUT;
  constructor(op: string, path: string, ms: number) {
    super(`ZooKeeper ${op} ${path}: no reply within ${ms} ms`);
  }
}

export interface Tenure {
  lose(reason: string): void;
}

export interface ZkSessionOptions {
  connect: string;
  /** Requested session timeout; the server clamps it to [2, 20] ticks unless configured otherwise. */
  sessionTimeoutMs: number;
  /** Bound on the first connection. */
  connectTimeoutMs: number;
  log?: Log;
}

/** Internals of node-zookeeper-client used to drop a silent socket and to finish a close. */
interface ClientInternals {
  connectionManager?: { state?: number; socket?: { destroy(): void; connecting?: boolean; destroyed?: boolean } };
}

/** The library's ConnectionManager states we look at. */
const CM_CONNECTING = 1;
const CM_CLOSED = -2;

/** Fraction of the session timeout after the last proof of life at which tenures lose. */
const LOST_FRACTION = 0.9;
/** Fraction after which the connection counts as suspect: assertHeld() fails, the socket is dropped. */
const SUSPECT_FRACTION = 2 / 3;

function servers(connect: string): string[] {
  const slash = connect.indexOf('/');
  return (slash === -1 ? connect : connect.slice(0, slash)).split(',').filter((s) => s !== '');
}

/** What one server does when we knock: for the error message of a failed connect. */
function probe(hostPort: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const i = hostPort.lastIndexOf(':');
    const host = hostPort.slice(0, i);
    const port = Number(hostPort.slice(i + 1));
    const sock = netConnect({ host, port });
    const done = (what: string) => {
      clearTimeout(t);
      sock.destroy();
      resolve(`${hostPort}: ${what}`);
    };
    const t = setTimeout(() => done('no answer (timed out)'), timeoutMs);
    sock.once('connect', () => done('accepts connections but did not complete a ZooKeeper session handshake'));
    sock.once('error', (e: NodeJS.ErrnoException) => {
      const words: Record<string, string> = {
        ECONNREFUSED: 'connection refused',
        ENOTFOUND: 'no such host',
        EAI_AGAIN: 'host name lookup failed',
        EHOSTUNREACH: 'host unreachable',
        ENETUNREACH: 'network unreachable',
        ETIMEDOUT: 'timed out',
      };
      done(words[e.code ?? ''] ?? e.code ?? e.message);
    });
  });
}

export class ZkSession {
  readonly connect: string;
  readonly #client: Client;
  readonly #log: Log | undefined;
  #state: ZkState = 'connecting';
  #timeoutMs: number;
  #lastAckSentAt = 0;
  #disconnectedAt: number | undefined;
  #changed = deferred();
  #hbSentAt: number | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #tenures = new Set<Tenure>();
  readonly #janitor = new Map<string, { parent: string; prefix: string }>();
  #handshakeSocket: unknown;
  #handshakeSince = 0;

  private constructor(client: Client, opts: ZkSessionOptions) {
    this.connect = opts.connect;
    this.#client = client;
    this.#log = opts.log;
    this.#timeoutMs = opts.sessionTimeoutMs;
    client.on('state', (s: ZkStateObj) => this.#onState(s));
  }

  /** Connect, bounded by connectTimeoutMs (and `signal`); CoordinationUnavailableError when no server answers. */
  static async open(opts: ZkSessionOptions, signal?: AbortSignal): Promise<ZkSession> {
    let client: Client;
    try {
      client = zookeeper.createClient(opts.connect, {
        sessionTimeout: opts.sessionTimeoutMs,
        spinDelay: Math.min(1000, Math.max(50, Math.floor(opts.sessionTimeoutMs / 10))),
        retries: 0,
      });
    } catch (e) {
      throw new CoordinationUnavailableError(opts.connect, `invalid connect string (${e instanceof Error ? e.message : String(e)})`, e);
    }
    const s = new ZkSession(client, opts);
    const started = Date.now();
    client.connect();
    const outcome = await new Promise<'ok' | 'timeout' | 'aborted'>((resolve) => {
      const t = setTimeout(() => finish('timeout'), opts.connectTimeoutMs);
      const onAbort = () => finish('aborted');
      const finish = (v: 'ok' | 'timeout' | 'aborted') => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const check = () => {
        if (s.#state === 'connected') finish('ok');
        else if (s.#state === 'expired' || s.#state === 'closed') finish('timeout');
        else void s.#changed.promise.then(check);
      };
      check();
      if (signal?.aborted) finish('aborted');
    });
    if (outcome === 'ok') return s;
    await s.close(0);
    if (outcome === 'aborted') throw signal!.reason;
    const list = servers(opts.connect);
    const why = await Promise.all(list.slice(0, 8).map((hp) => probe(hp, 1000)));
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    throw new CoordinationUnavailableError(opts.connect, `no ZooKeeper session within ${secs} s (${why.join('; ')})`);
  }

  get state(): ZkState {
    return this.#state;
  }

  /** The negotiated session timeout (ms). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  get disconnectedAt(): number | undefined {
    return this.#disconnectedAt;
  }

  /** Resolves at the next state change. */
  changed(): Promise<void> {
    return this.#changed.promise;
  }

  /** Connected, and heard from recently enough that the session is certainly alive. */
  healthy(now = Date.now()): boolean {
    return this.#state === 'connected' && now - this.#lastAckSentAt < this.#timeoutMs * SUSPECT_FRACTION;
  }

  /** Why healthy() is false, for messages. */
  unhealthyReason(now = Date.now()): string {
    if (this.#state !== 'connected') return `the ZooKeeper session is ${this.#state}`;
    return `no word from ZooKeeper for ${((now - this.#lastAckSentAt) / 1000).toFixed(1)} s`;
  }

  /** A held lock or leader term: loses when the session may be gone. Returns the unregister function. */
  register(t: Tenure): () => void {
    if (this.#state === 'expired' || this.#state === 'closed') {
      t.lose(`the ZooKeeper session is ${this.#state}`);
      return () => {};
    }
    this.#tenures.add(t);
    return () => this.#tenures.delete(t);
  }

  // ---- operations --------------------------------------------------------------------

  #opTimeoutMs(): number {
    return this.#timeoutMs + 1000;
  }

  /** Run one library call as a promise, with a reply bound, recording proof of life. */
  #call<T>(op: string, path: string, start: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const sentAt = Date.now();
      let settled = false;
      const ms = this.#opTimeoutMs();
      const t = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new OperationTimeout(op, path, ms));
      }, ms);
      try {
        start((err, value) => {
          if (!err || !isLocalFailure(err)) this.#ack(sentAt);
          if (settled) return;
          settled = true;
          clearTimeout(t);
          if (err) reject(err);
          else resolve(value as T);
        });
      } catch (e) {
        settled = true;
        clearTimeout(t);
        reject(e);
      }
    });
  }

  #ack(sentAt: number): void {
    if (sentAt > this.#lastAckSentAt) this.#lastAckSentAt = sentAt;
  }

  /** Create a node; returns its path (with the sequence suffix for sequential modes). */
  create(path: string, data: Buffer, mode: number): Promise<string> {
    return this.#call<string>('create', path, (cb) => this.#client.create(path, data, mode, (e, p) => cb(e, p)));
  }

  /** Create the persistent node and its parents when missing. */
  mkdirp(path: string): Promise<void> {
    return this.#call<void>('mkdirp', path, (cb) => this.#client.mkdirp(path, (e) => cb(e)));
  }

  /** Children names; NO_NODE when the node is missing. */
  getChildren(path: string): Promise<string[]> {
    return this.#call<string[]>('getChildren', path, (cb) => this.#client.getChildren(path, (e, children) => cb(e, children)));
  }

  /**
   * Whether the node exists. With a watcher, the watch is set when this resolves (and only
   * then may the caller rely on it): it fires on the node's deletion, creation or data change.
   */
  exists(path: string, watcher?: (e: ZkEvent) => void): Promise<boolean> {
    return this.#call<boolean>('exists', path, (cb) => {
      const done = (e: unknown, stat: unknown) => cb(e, Boolean(stat));
      if (watcher) this.#client.exists(path, watcher, done);
      else this.#client.exists(path, done);
    });
  }

  /** The node's data; undefined when the node is missing. */
  async getData(path: string): Promise<Buffer | undefined> {
    try {
      return await this.#call<Buffer | undefined>('getData', path, (cb) => this.#client.getData(path, (e, data) => cb(e, data ?? Buffer.alloc(0))));
    } catch (e) {
      if (zkCode(e) === ZkCode.NO_NODE) return undefined;
      throw e;
    }
  }

  setData(path: string, data: Buffer): Promise<void> {
    return this.#call<void>('setData', path, (cb) => this.#client.setData(path, data, -1, (e) => cb(e)));
  }

  /** Remove the node; false when it was already gone. */
  async remove(path: string): Promise<boolean> {
    try {
      await this.#call<void>('remove', path, (cb) => this.#client.remove(path, -1, (e) => cb(e)));
      return true;
    } catch (e) {
      if (zkCode(e) === ZkCode.NO_NODE) return false;
      throw e;
    }
  }

  /**
   * Remove our children of `parent` whose names start with `prefix` (our unique id), now if
   * connected, and again after every reconnection until it succeeds. Resolves after the first
   * attempt, or after `waitMs` at most; never rejects.
   */
  async cleanup(parent: string, prefix: string, waitMs: number): Promise<void> {
    const key = `${parent}/${prefix}`;
    this.#janitor.set(key, { parent, prefix });
    if (this.#state !== 'connected') return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#sweep(key), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  async #sweep(key: string): Promise<void> {
    const job = this.#janitor.get(key);
    if (!job) return;
    try {
      let children: string[];
      try {
        children = await this.getChildren(job.parent);
      } catch (e) {
        if (zkCode(e) !== ZkCode.NO_NODE) throw e;
        children = [];
      }
      for (const c of children) if (c.startsWith(job.prefix)) await this.remove(`${job.parent}/${c}`);
      this.#janitor.delete(key);
    } catch {
      // connection trouble: the next reconnection tries again
    }
  }

  // ---- life --------------------------------------------------------------------------

  #setState(s: ZkState): void {
    if (s === this.#state) return;
    const prev = this.#state;
    this.#state = s;
    const d = this.#changed;
    this.#changed = deferred();
    d.resolve();
    this.#log?.({ level: s === 'connected' ? 'info' : 'warn', event: `coord.zk.${s}`, msg: `ZooKeeper session ${prev} -> ${s} (${this.connect})`, connect: this.connect });
  }

  #onState(s: ZkStateObj): void {
    const now = Date.now();
    if (this.#state === 'expired' || this.#state === 'closed') return;
    if (s === State.SYNC_CONNECTED) {
      this.#timeoutMs = this.#client.getSessionTimeout();
      this.#disconnectedAt = undefined;
      if (this.#timers.length === 0) this.#startTimers();
      this.#setState('connected');
      this.#heartbeat(true);
      for (const key of [...this.#janitor.keys()]) void this.#sweep(key);
    } else if (s === State.EXPIRED) {
      this.#expire('the ZooKeeper session expired');
    } else if (s === State.AUTH_FAILED) {
      this.#expire('ZooKeeper authentication failed');
    } else {
      // DISCONNECTED, or CONNECTED_READ_ONLY (no writes, so no lock recipe): maybe lost.
      if (this.#state === 'connected' || this.#state === 'connecting') this.#disconnectedAt = now;
      this.#setState(this.#state === 'connecting' ? 'connecting' : 'disconnected');
    }
  }

  #expire(reason: string): void {
    for (const t of this.#tenures) t.lose(reason);
    this.#tenures.clear();
    this.#janitor.clear(); // ephemeral nodes went with the session
    this.#stopTimers();
    this.#setState('expired');
    // The library closes the connection itself; the client is dead from here on.
  }

  /**
   * Heartbeat and watchdog run on real time, not on an injected clock: they mirror the
   * server's session timeout, which the server measures on its own real clock; a simulated
   * clock here would declare a live session dead (or a dead one alive).
   */
  #startTimers(): void {
    const hb = setInterval(() => this.#heartbeat(), Math.max(50, Math.floor(this.#timeoutMs / 3)));
    const wd = setInterval(() => this.#watchdog(), Math.max(20, Math.min(100, Math.floor(this.#timeoutMs / 20))));
    hb.unref();
    wd.unref();
    this.#timers.push(hb, wd);
  }

  #stopTimers(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
  }

  /** One request whose reply proves the session alive; `fresh` after a reconnection, even if one is queued. */
  #heartbeat(fresh = false): void {
    if (this.#state !== 'connected' || (this.#hbSentAt !== undefined && !fresh)) return;
    const mine = Date.now();
    this.#hbSentAt = mine;
    const done = () => {
      if (this.#hbSentAt === mine) this.#hbSentAt = undefined;
    };
    this.exists('/').then(done, done);
  }

  #watchdog(): void {
    const now = Date.now();
    const silentFor = now - this.#lastAckSentAt;
    if (this.#tenures.size > 0 && silentFor >= this.#timeoutMs * LOST_FRACTION) {
      const reason = `no word from ZooKeeper for ${(silentFor / 1000).toFixed(1)} s (session timeout ${(this.#timeoutMs / 1000).toFixed(1)} s)`;
      for (const t of this.#tenures) t.lose(reason);
      this.#tenures.clear();
    }
    // The library has no read timeout: drop a connection that stopped answering, so it reconnects.
    if (this.#state === 'connected' && this.#hbSentAt !== undefined && now - this.#hbSentAt > this.#timeoutMs * SUSPECT_FRACTION) {
      this.#log?.({ level: 'warn', event: 'coord.zk.silent', msg: `ZooKeeper at ${this.connect} stopped answering; reconnecting`, connect: this.connect });
      this.#hbSentAt = undefined;
      (this.#client as unknown as ClientInternals).connectionManager?.socket?.destroy();
    }
    // Nor a handshake timeout: a connection that was accepted but never answers the session
    // handshake would wait forever. Drop it after 2/3 of the timeout, so it tries again.
    const cm = (this.#client as unknown as ClientInternals).connectionManager;
    const sock = cm?.socket;
    if (this.#state !== 'connected' && cm?.state === CM_CONNECTING && sock && !sock.connecting && !sock.destroyed) {
      if (this.#handshakeSocket !== sock) {
        this.#handshakeSocket = sock;
        this.#handshakeSince = now;
      } else if (now - this.#handshakeSince > Math.max(1000, this.#timeoutMs * SUSPECT_FRACTION)) {
        this.#log?.({ level: 'warn', event: 'coord.zk.handshake', msg: `ZooKeeper at ${this.connect} accepted a connection but did not answer the handshake; reconnecting`, connect: this.connect });
        this.#handshakeSocket = undefined;
        sock.destroy();
      }
    }
  }

  /**
   * Close the session (its ephemeral nodes go at once when the server hears it); tenures
   * lose. Waits up to `waitMs` for the server to confirm, then drops the connection.
   */
  async close(waitMs = 2000): Promise<void> {
    if (this.#state === 'closed') return;
    for (const t of this.#tenures) t.lose('the coordinator was closed');
    this.#tenures.clear();
    this.#janitor.clear();
    this.#stopTimers();
    const wasLive = this.#state === 'connected';
    const expired = this.#state === 'expired';
    this.#setState('closed');
    if (expired) return;
    const cm = (this.#client as unknown as ClientInternals).connectionManager;
    this.#client.close();
    if (wasLive && waitMs > 0) {
      const until = Date.now() + waitMs;
      // CLOSED: the server confirmed and the socket is gone.
      while (cm?.state !== CM_CLOSED && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    }
    cm?.socket?.destroy();
    // A reconnection attempt may still be waiting in the library's retry delay: drop whatever
    // socket shows up in the next few seconds (the timer never keeps the process alive).
    let ticks = 0;
    const sweeper = setInterval(() => {
      cm?.socket?.destroy();
      if (++ticks >= 30 || cm?.state === CM_CLOSED) clearInterval(sweeper);
    }, 100);
    sweeper.unref();
  }
}
