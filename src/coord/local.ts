/**
 * The local coordinator (the default when fleet.yaml names no ZooKeeper): FIFO queues inside
 * the process, and lock files across the processes of one machine, so two terminals on one
 * laptop are safe too.
 *
 * Layout under the directory the caller passes (one per fleet):
 *
 *   locks/<name>.lock        JSON HolderInfo of the holder; appears atomically (link of a
 *                            fully written temp file), so it is never seen half written
 *   locks/<name>.seq         the last fencing token issued for the name (written by the holder)
 *   locks/<name>.break       short-lived mutex of whoever breaks a stale lock
 *   locks/<name>.wait-<pid>-<uuid>   one per waiting caller (for holders())
 *   leader.lock, leader.seq, leader.break, leader.wait-*   the same for leader election
 *
 * A lock whose holder ran on this host and whose pid is gone is stale and is broken: under the
 * name's break mutex, re-read the lock file and remove it only if it is still the stale one.
 * Only breakers remove other processes' files, and only under that mutex, so a fresh lock can
 * never be removed by mistake. A break mutex left by a dead breaker is removed by renaming it
 * aside and checking what was moved. Waiting across processes polls with backoff (FIFO holds
 * within a process, not across processes). A held lock re-reads its file in assertHeld() and
 * periodically, and aborts `lost` if the file is gone or not its own.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import {
  checkCoordName,
  formatToken,
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
import { DEADLINE, pause, Wait, wallTime } from './wait.js';
import { systemClock } from '../clock.js';
import type { TimerClock } from '../ports.js';

export interface LocalCoordinatorOptions {
  /**
   * This fleet's lock directory, created (mode 0700) when missing; the CLI picks it, e.g.
   * `$XDG_RUNTIME_DIR/fleet/<fleet>` or `<os.tmpdir()>/fleet-<uid>/<fleet>`.
   */
  dir: string;
  /** Recorded in holder info and used for stale detection; default os.hostname(). */
  host?: string;
  /** Default process.pid. */
  pid?: number;
  /** Poll interval bounds while another process holds the lock (ms); default 10 and 200. */
  pollMinMs?: number;
  pollMaxMs?: number;
  /**
   * How often a held lock checks that its file is still its own (ms); default 1000. A
   * watchdog over a real file, so it runs on real time whatever the clock.
   */
  verifyMs?: number;
  /** Lock waits and deadlines (default: the system clock); holder `since` stays wall time (see wallTime). */
  clock?: TimerClock;
}

/** An unreadable lock file (hand-edited, disk full) counts as stale once it is this old. */
const UNREADABLE_STALE_MS = 10_000;

interface Entry {
  text: string;
  holder: HolderInfo | undefined;
  mtimeMs: number;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function readEntry(path: string): Promise<Entry | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { text, holder: parseHolder(text), mtimeMs: st.mtimeMs };
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // already gone
  }
}

/** True when a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/** In-process FIFO: one caller per lock file at a time; the others queue in call order. */
class Gate {
  #busy = false;
  readonly #queue: Array<() => void> = [];

  get busy(): boolean {
    return this.#busy;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  enter(signal: AbortSignal): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(grant);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal.reason);
      };
      this.#queue.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  leave(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#busy = false;
  }
}

class LocalHandle implements LockHandle {
  readonly name: string;
  readonly fencingToken: string;
  readonly holder: HolderInfo;
  readonly lost: AbortSignal;
  readonly #ctl = new AbortController();
  readonly #lockPath: string;
  readonly #onRelease: (h: LocalHandle) => void;
  readonly #timer: NodeJS.Timeout;
  #released = false;

  constructor(name: string, lockPath: string, holder: HolderInfo & { fencingToken: string }, verifyMs: number, onRelease: (h: LocalHandle) => void) {
    this.name = name;
    this.holder = holder;
    this.fencingToken = holder.fencingToken;
    this.lost = this.#ctl.signal;
    this.#lockPath = lockPath;
    this.#onRelease = onRelease;
    this.#timer = setInterval(() => void this.#verify(), verifyMs);
    this.#timer.unref();
  }

  #mine(text: string | undefined): boolean {
    return text !== undefined && parseHolder(text)?.owner === this.holder.owner;
  }

  async #verify(): Promise<void> {
    if (this.#released || this.lost.aborted) return;
    let text: string | undefined;
    try {
      text = await readFile(this.#lockPath, 'utf8');
    } catch (e) {
      if (errno(e) !== 'ENOENT') return; // cannot tell; assertHeld() checks again before each step
    }
    if (!this.#released && !this.#mine(text)) this.lose(`its lock file ${this.#lockPath} was removed or taken over`);
  }

  lose(reason: string): void {
    if (!this.lost.aborted) this.#ctl.abort(new LockLostError(this.name, reason));
  }

  assertHeld(): void {
    if (this.lost.aborted) throw this.lost.reason;
    if (this.#released) throw new LockLostError(this.name, 'it was released');
    let text: string | undefined;
    try {
      text = readFileSync(this.#lockPath, 'utf8');
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw new LockLostError(this.name, `its lock file cannot be read (${errno(e) ?? String(e)})`);
    }
    if (!this.#mine(text)) {
      this.lose(`its lock file ${this.#lockPath} was removed or taken over`);
      throw this.lost.reason;
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    try {
      // Only our own file: nobody else removes a live holder's file, so it cannot change in between.
      const cur = await readEntry(this.#lockPath);
      if (cur && cur.holder?.owner === this.holder.owner) await unlink(this.#lockPath);
    } catch {
      // gone already, or unreadable: nothing of ours to remove
    } finally {
      this.#onRelease(this);
    }
  }
}

export class LocalCoordinator implements Coordinator {
  readonly kind = 'local' as const;
  readonly dir: string;
  readonly #host: string;
  readonly #pid: number;
  readonly #pollMin: number;
  readonly #pollMax: number;
  readonly #verifyMs: number;
  readonly #clock: TimerClock;
  readonly #gates = new Map<string, Gate>();
  readonly #held = new Set<LocalHandle>();
  readonly #closed = new AbortController();
  #dirsReady: Promise<void> | undefined;

  constructor(opts: LocalCoordinatorOptions) {
    this.dir = opts.dir;
    this.#host = opts.host ?? hostname();
    this.#pid = opts.pid ?? process.pid;
    this.#pollMin = opts.pollMinMs ?? 10;
    this.#pollMax = opts.pollMaxMs ?? 200;
    this.#verifyMs = opts.verifyMs ?? 1000;
    this.#clock = opts.clock ?? systemClock;
  }

  async lock(name: string, opts: LockOptions): Promise<LockHandle> {
    checkCoordName('lock', name);
    return this.#acquire(join(this.dir, 'locks', name), name, opts);
  }

  leader(): Leader {
    const base = join(this.dir, 'leader');
    return {
      campaign: async (signal?: AbortSignal, opts?: { operation?: string }) => {
        const h = await this.#acquire(base, 'leader', { operation: opts?.operation ?? 'leader', ...(signal ? { signal } : {}) });
        return termOf(h);
      },
      current: async () => {
        const e = await readEntry(`${base}.lock`);
        return e?.holder;
      },
    };
  }

  async holders(): Promise<LockStatus[]> {
    const dir = join(this.dir, 'locks');
    let files: string[];
    try {
      files = await readdir(dir);
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw e;
    }
    const names = new Set<string>();
    const waiting = new Map<string, number>();
    for (const f of files) {
      const dot = f.indexOf('.');
      if (dot <= 0) continue;
      const name = f.slice(0, dot);
      const rest = f.slice(dot + 1);
      if (rest === 'lock' || rest === 'seq') names.add(name);
      const m = /^(wait|tmp)-([0-9]+)-/.exec(rest);
      if (m) {
        if (!pidAlive(Number(m[2]))) {
          await unlinkQuietly(join(dir, f)); // left by a process that died
        } else if (m[1] === 'wait') {
          names.add(name);
          waiting.set(name, (waiting.get(name) ?? 0) + 1);
        }
      }
    }
    const out: LockStatus[] = [];
    for (const name of [...names].sort()) {
      const e = await readEntry(join(dir, `${name}.lock`));
      out.push({ name, holder: e?.holder, waiting: waiting.get(name) ?? 0 });
    }
    return out;
  }

  async close(): Promise<void> {
    if (!this.#closed.signal.aborted) this.#closed.abort(new FleetError('the coordinator was closed'));
    for (const h of [...this.#held]) {
      h.lose('the coordinator was closed');
      await h.release();
    }
  }

  // ---- internals ---------------------------------------------------------------------

  #gate(base: string): Gate {
    let g = this.#gates.get(base);
    if (!g) this.#gates.set(base, (g = new Gate()));
    return g;
  }

  #ensureDirs(): Promise<void> {
    this.#dirsReady ??= mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 }).then(
      () => undefined,
      (e: unknown) => {
        this.#dirsReady = undefined;
        throw new FleetError(`cannot create the lock directory ${this.dir}: ${errno(e) ?? String(e)}`, { cause: e });
      },
    );
    return this.#dirsReady;
  }

  #tmpPath(base: string): string {
    return `${base}.tmp-${this.#pid}-${randomUUID()}`;
  }

  /** Create `path` with `text` only if absent, atomically and fully written; false if it exists. */
  async #createExclusive(base: string, path: string, text: string): Promise<boolean> {
    const tmp = this.#tmpPath(base);
    await writeFile(tmp, text, { mode: 0o600 });
    try {
      await link(tmp, path);
      return true;
    } catch (e) {
      const code = errno(e);
      if (code === 'EEXIST') return false;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
        // No hard links on this file system: exclusive create (a reader may see it empty for a moment).
        try {
          await writeFile(path, text, { flag: 'wx', mode: 0o600 });
          return true;
        } catch (e2) {
          if (errno(e2) === 'EEXIST') return false;
          throw e2;
        }
      }
      throw e;
    } finally {
      await unlinkQuietly(tmp);
    }
  }

  /** Replace `path` atomically (temp file + rename). */
  async #replace(base: string, path: string, text: string): Promise<void> {
    const tmp = this.#tmpPath(base);
    try {
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, path);
    } catch (e) {
      await unlinkQuietly(tmp);
      throw e;
    }
  }

  #isStale(e: Entry): boolean {
    // A file's mtime is the file system's real time: compared with real time, not the clock.
    if (!e.holder) return Date.now() - e.mtimeMs > UNREADABLE_STALE_MS;
    return e.holder.host === this.#host && e.holder.pid !== this.#pid && !pidAlive(e.holder.pid);
  }

  /** Remove the stale lock file whose content was `staleText`, under the name's break mutex. */
  async #breakStale(base: string, staleText: string): Promise<void> {
    const breakPath = `${base}.break`;
    const mine = JSON.stringify({ host: this.#host, pid: this.#pid, operation: 'break', since: wallTime(), owner: randomUUID() });
    for (let i = 0; ; i++) {
      if (await this.#createExclusive(base, breakPath, mine)) break;
      const cur = await readEntry(breakPath);
      if (cur && this.#isStale(cur)) {
        await this.#removeIfStill(breakPath, cur.text);
        continue;
      }
      if (i >= 400) return; // another breaker is at work (for 2 s?); the caller just tries again
      // Real time on purpose: a spin over a real file another process holds for a moment,
      // not a wait of the operation (a manual clock would never end it).
      await pause(5);
    }
    try {
      const cur = await readEntry(`${base}.lock`);
      if (cur && cur.text === staleText) await unlink(`${base}.lock`);
    } finally {
      await unlinkQuietly(breakPath);
    }
  }

  /** Rename-then-check: remove `path` only if what was moved aside is still `text`; else put it back. */
  async #removeIfStill(path: string, text: string): Promise<void> {
    const aside = `${path}.stale-${this.#pid}-${randomUUID()}`;
    try {
      await rename(path, aside);
    } catch (e) {
      if (errno(e) === 'ENOENT') return;
      throw e;
    }
    try {
      const moved = await readFile(aside, 'utf8');
      if (moved !== text) {
        try {
          await link(aside, path);
        } catch {
          // someone created a new one meanwhile; theirs stands
        }
      }
    } finally {
      await unlinkQuietly(aside);
    }
  }

  async #nextToken(base: string): Promise<string> {
    const path = `${base}.seq`;
    let last = 0;
    try {
      const text = (await readFile(path, 'utf8')).trim();
      if (!/^[0-9]{1,15}$/.test(text)) {
        throw new FleetError(`the fencing counter ${path} is corrupt (${JSON.stringify(text.slice(0, 40))}); write a number larger than any token used so far into it`);
      }
      last = Number(text);
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e;
    }
    await this.#replace(base, path, `${last + 1}\n`);
    return formatToken(last + 1);
  }

  async #acquire(base: string, name: string, opts: LockOptions): Promise<LocalHandle> {
    if (this.#closed.signal.aborted) throw this.#closed.signal.reason;
    const w = new Wait(opts.deadlineMs, [opts.signal, this.#closed.signal], this.#clock);
    const gate = this.#gate(base);
    const lockPath = `${base}.lock`;
    const owner = randomUUID();
    let waitFile: string | undefined;
    const startWaiting = async (holder: HolderInfo | undefined, ahead: number) => {
      if (waitFile) return;
      waitFile = `${base}.wait-${this.#pid}-${owner}`;
      await writeFile(waitFile, JSON.stringify({ host: this.#host, pid: this.#pid, operation: opts.operation, since: wallTime(), owner }), { mode: 0o600 });
      opts.onWait?.({ holder, ahead });
    };
    let place: 'none' | 'queued' | 'in' | 'handed' = 'none';
    // Queue in the gate synchronously, before any await, so that call order is queue order.
    const leaveLine = new AbortController();
    let entering: Promise<void> | undefined;
    try {
      if (w.signal.aborted) throw w.signal.reason;
      const busy = gate.busy;
      if (busy) w.check(); // a zero deadline does not queue
      const ahead = gate.waiting + 1;
      entering = gate.enter(AbortSignal.any([w.signal, leaveLine.signal]));
      entering.catch(() => undefined);
      place = 'queued';
      await this.#ensureDirs();
      if (busy) await startWaiting((await readEntry(lockPath))?.holder, ahead);
      await entering;
      place = 'in';
      let delay = this.#pollMin;
      for (;;) {
        if (w.signal.aborted && w.signal.reason !== DEADLINE) throw w.signal.reason;
        const info: HolderInfo = { host: this.#host, pid: this.#pid, operation: opts.operation, since: wallTime(), owner };
        if (await this.#createExclusive(base, lockPath, JSON.stringify(info))) {
          let holder: HolderInfo & { fencingToken: string };
          try {
            holder = { ...info, fencingToken: await this.#nextToken(base) };
            await this.#replace(base, lockPath, JSON.stringify(holder));
          } catch (e) {
            await unlinkQuietly(lockPath);
            throw e;
          }
          const h = new LocalHandle(name, lockPath, holder, this.#verifyMs, (x) => {
            this.#held.delete(x);
            gate.leave();
          });
          this.#held.add(h);
          place = 'handed'; // the handle leaves the gate on release
          return h;
        }
        const cur = await readEntry(lockPath);
        if (!cur) continue; // released in between
        if (this.#isStale(cur)) {
          await this.#breakStale(base, cur.text);
          continue;
        }
        w.check();
        await startWaiting(cur.holder, 1);
        await pause(delay, w.signal, this.#clock);
        delay = Math.min(delay * 2, this.#pollMax);
      }
    } catch (e) {
      if (e === DEADLINE) {
        throw new LockTimeoutError(name, (await readEntry(lockPath).catch(() => undefined))?.holder, w.waitedMs);
      }
      throw e;
    } finally {
      if (place === 'in') gate.leave();
      else if (place === 'queued' && entering) {
        // Abandoned while in line (an error, not an abort): leave the line, or the gate once granted.
        leaveLine.abort();
        entering.then(() => gate.leave(), () => undefined);
      }
      w.dispose();
      if (waitFile) await unlinkQuietly(waitFile);
    }
  }
}
