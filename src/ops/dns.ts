/**
 * Writes to the inventory. Changes from many names are gathered into few atomic batches
 * (ChangeResourceRecordSets takes up to 1,000 records and 32,000 value characters, an UPSERT
 * counting twice). Each name's changes stay one unit: `[DELETE old, CREATE new]` is its
 * compare-and-swap. When a batch is rejected because one unit conflicts, the batch is split
 * in halves until the conflicting unit is alone, so one name's conflict never fails another.
 */
import { DnsConflictError, FleetError } from '../errors.js';
import type { Dns, DnsChange, Log } from '../ports.js';
import type { OpsClock } from './clock.js';
import type { RateLimiter } from './limiter.js';

export const MAX_BATCH_RECORDS = 1000;
export const MAX_BATCH_VALUE_CHARS = 32_000;

interface Unit {
  changes: DnsChange[];
  resolve: (changeId: string) => void;
  reject: (err: Error) => void;
}

export interface DnsWriterOptions {
  /** How long a change waits for others to share its batch (clock ms). */
  batchWindowMs: number;
  pollMs: number;
}

function cost(changes: DnsChange[]): { records: number; chars: number } {
  let records = 0;
  let chars = 0;
  for (const c of changes) {
    const k = c.action === 'UPSERT' ? 2 : 1;
    records += k * c.values.length;
    chars += k * c.values.reduce((a, v) => a + v.length, 0);
  }
  return { records, chars };
}

export class DnsWriter {
  readonly #dns: Dns;
  readonly #zoneId: string;
  readonly #clock: OpsClock;
  readonly #limiter: RateLimiter;
  readonly #log: Log;
  readonly #opts: DnsWriterOptions;
  #queue: Unit[] = [];
  #timer: Promise<void> | undefined;
  #insync = new Map<string, Promise<void>>();
  /** Batches sent, for reports. */
  batches = 0;

  constructor(dns: Dns, zoneId: string, clock: OpsClock, limiter: RateLimiter, log: Log, opts: DnsWriterOptions) {
    this.#dns = dns;
    this.#zoneId = zoneId;
    this.#clock = clock;
    this.#limiter = limiter;
    this.#log = log;
    this.#opts = opts;
  }

  /** Submit one name's changes as a unit; resolves with the id of the change that carried them. */
  submit(changes: DnsChange[]): Promise<string> {
    const c = cost(changes);
    if (c.records > MAX_BATCH_RECORDS || c.chars > MAX_BATCH_VALUE_CHARS) {
      return Promise.reject(new FleetError(`a change of ${c.records} records does not fit one Route 53 batch`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ changes, resolve, reject });
      const queued = this.#queue.reduce((a, u) => a + cost(u.changes).records, 0);
      if (queued >= MAX_BATCH_RECORDS) void this.#flush();
      else if (!this.#timer) {
        this.#timer = this.#clock.sleep(this.#opts.batchWindowMs).then(() => {
          this.#timer = undefined;
          return this.#flush();
        });
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch: Unit[] = [];
      let records = 0;
      let chars = 0;
      while (this.#queue.length > 0) {
        const c = cost(this.#queue[0]!.changes);
        if (batch.length > 0 && (records + c.records > MAX_BATCH_RECORDS || chars + c.chars > MAX_BATCH_VALUE_CHARS)) break;
        batch.push(this.#queue.shift()!);
        records += c.records;
        chars += c.chars;
      }
      await this.#send(batch);
    }
  }

  async #send(units: Unit[]): Promise<void> {
    await this.#limiter.take('route53:api');
    try {
      this.batches++;
      const id = await this.#dns.change(
        this.#zoneId,
        units.flatMap((u) => u.changes),
        `fleet: ${units.length} name${units.length === 1 ? '' : 's'}`,
      );
      for (const u of units) u.resolve(id);
    } catch (err) {
      if (err instanceof DnsConflictError && units.length > 1) {
        // Someone's unit conflicts: find it by halves, apply the rest.
        const mid = Math.ceil(units.length / 2);
        await this.#send(units.slice(0, mid));
        await this.#send(units.slice(mid));
        return;
      }
      for (const u of units) u.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Wait until a change is INSYNC (shared by every name in its batch). `signal` ends this
   * caller's wait (a stop before a new side effect); the poll goes on for the others sharing it.
   */
  waitInsync(changeId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    let p = this.#insync.get(changeId);
    if (!p) {
      p = this.#poll(changeId, timeoutMs);
      this.#insync.set(changeId, p);
      p.catch(() => this.#insync.delete(changeId));
    }
    if (!signal) return p;
    if (signal.aborted) return Promise.reject(signal.reason);
    const shared = p;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(
        () => (signal.removeEventListener('abort', onAbort), resolve()),
        (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
      );
    });
  }

  async #poll(changeId: string, timeoutMs: number): Promise<void> {
    const deadline = this.#clock.now().getTime() + timeoutMs;
    // A change is never INSYNC the moment it is made: the first look waits a poll interval.
    await this.#clock.sleep(this.#opts.pollMs);
    for (;;) {
      await this.#limiter.take('route53:api');
      let status: 'PENDING' | 'INSYNC' | undefined;
      try {
        status = await this.#dns.changeStatus(changeId);
      } catch (err) {
        this.#log({ level: 'warn', event: 'getchange-failed', msg: `reading change ${changeId} failed: ${err instanceof Error ? err.message : String(err)}` });
      }
      if (status === 'INSYNC') return;
      if (this.#clock.now().getTime() > deadline) throw new FleetError(`change ${changeId} is not INSYNC after ${Math.round(timeoutMs / 1000)} s`);
      await this.#clock.sleep(this.#opts.pollMs);
    }
  }
}

/** `[DELETE exactly what is there, CREATE the new one]`, or `[CREATE]` when the name has no record. */
export function swapChanges(fqdn: string, from: { ip: string; ttl: number } | undefined, toIp: string, ttl: number): DnsChange[] {
  const create: DnsChange = { action: 'CREATE', name: fqdn, type: 'A', ttl, values: [toIp] };
  return from ? [{ action: 'DELETE', name: fqdn, type: 'A', ttl: from.ttl, values: [from.ip] }, create] : [create];
}
