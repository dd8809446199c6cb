/**
 * Every mutating operation holds the name's lock for its whole duration (DESIGN.md sections 2
 * and 8). Under the lock the operation re-reads the name — what it planned from may have been
 * changed by whoever held the lock before — and checks before each side effect that it still
 * holds the lock (and, for the controller, that it is still the leader).
 */
import { CoordinationUnavailableError, describeHolder, LockTimeoutError, type LockHandle } from '../coord/index.js';
import { StopError } from '../errors.js';
import type { DnsRecord, Instance, Volume } from '../model.js';
import type { OpsDeps } from './context.js';

/**
 * A coordinator found unreachable, per run (deps): every later name fails at once with the
 * same error for a while, instead of each name (apply of 1,000 names, 20 at a time) waiting
 * out its own connect timeout.
 */
const unreachable = new WeakMap<OpsDeps, { err: CoordinationUnavailableError; at: number }>();
const UNREACHABLE_MEMORY_MS = 30_000;

/** Run `fn` holding `name`'s lock (or directly when there is no coordinator). */
/** How the lock was had: `waited` when someone else held the name when we asked. */
export interface LockInfo {
  waited: boolean;
}

export async function withNameLock<T>(deps: OpsDeps, name: string, operation: string, fn: (lock: LockHandle | undefined, info: LockInfo) => Promise<T>): Promise<T> {
  if (!deps.coord) return fn(undefined, { waited: false });
  let waited = false;
  const down = unreachable.get(deps);
  if (down && deps.clock.now().getTime() - down.at < UNREACHABLE_MEMORY_MS) throw down.err;
  let told = false;
  let lock: LockHandle;
  try {
    lock = await deps.coord.lock(name, {
      operation,
      deadlineMs: deps.lockWaitMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
      onWait: ({ holder }) => {
        waited = true;
        // Without --wait the refusal names the holder; only a real wait is worth a progress line.
        if (told || deps.lockWaitMs <= 0) return;
        told = true;
        deps.log({ level: 'warn', event: 'lock-wait', msg: `${describeHolder(name, holder)}; waiting up to ${waitText(deps.lockWaitMs)}`, name });
      },
    });
  } catch (err) {
    if (err instanceof CoordinationUnavailableError) unreachable.set(deps, { err, at: deps.clock.now().getTime() });
    // Not asked to wait: "gave up after N s" would count connecting to the coordinator and
    // cleaning up as waiting. The holder is the whole story.
    if (err instanceof LockTimeoutError && deps.lockWaitMs <= 0 && err.waitedMs >= 1000) throw new LockTimeoutError(err.lockName, err.holder, 0);
    throw err;
  }
  try {
    return await fn(lock, { waited });
  } finally {
    await lock.release().catch((err: unknown) =>
      deps.log({ level: 'warn', event: 'unlock-failed', msg: `${name}: releasing the lock failed: ${err instanceof Error ? err.message : String(err)}`, name }),
    );
  }
}

function waitText(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/**
 * A check before each side effect: the lock is still ours, the leader is still us, and no stop
 * was asked for (deps.signal: Ctrl-C, SIGTERM). Its `finishing` form leaves out the stop: for
 * the steps that complete a change already made (after a swap: terminate the instance it
 * replaced; after a retire's record delete: terminate the instance), so that a stop leaves no
 * live instance without a record behind.
 */
export type Guard = (() => void) & { readonly finishing: () => void };

export function guardOf(deps: OpsDeps, lock: LockHandle | undefined): Guard {
  const held = () => {
    lock?.assertHeld();
    deps.guard?.();
  };
  return Object.assign(
    () => {
      throwIfStopped(deps.signal);
      held();
    },
    { finishing: held },
  );
}

/** The guard for a step that completes a change already made: not stopped by a stop (see guardOf). */
export function finishing(guard: (() => void) | undefined): (() => void) | undefined {
  return guard && 'finishing' in guard ? (guard as Guard).finishing : guard;
}

/** Throw the stop's reason (a StopError) when `signal` was aborted. */
export function throwIfStopped(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof Error ? signal.reason : new StopError(String(signal.reason ?? 'a stop'));
}

/** The name as it is now: its A record and the fleet's instances tagged with it (and its volumes, for a role with one). */
export async function observeName(deps: OpsDeps, fqdn: string, name: string): Promise<{ records: DnsRecord[]; instances: Instance[]; volumes?: Volume[] }> {
  await deps.limiter.take('route53:api');
  const rec = await deps.dns.getRecord(deps.zoneId, fqdn);
  await deps.limiter.take('ec2:describe');
  const tagged = await deps.instances.byName(deps.spec.fleet, name);
  // The record may point at an instance not tagged with the name (a mistake, or another name's).
  const ips = rec ? rec.values.filter((ip) => !tagged.some((i) => i.privateIp === ip)) : [];
  let pointed: Instance[] = [];
  if (ips.length > 0) {
    await deps.limiter.take('ec2:describe');
    pointed = await deps.instances.byPrivateIp(deps.spec.fleet, ips);
  }
  const instances = [...tagged, ...pointed.filter((p) => !tagged.some((t) => t.id === p.id))];
  const role = name.slice(0, name.lastIndexOf('-'));
  if (!deps.spec.roles.some((r) => r.name === role && r.volume)) return { records: rec ? [rec] : [], instances };
  await deps.limiter.take('ec2:describe');
  const volumes = await deps.volumes.volumesOfName(deps.spec.fleet, name);
  return { records: rec ? [rec] : [], instances, volumes };
}

/**
 * Did someone act on the name since we looked? Cheap (one DescribeInstances by tag): any
 * instance of the name with a generation above what we saw means another holder launched.
 */
export async function changedSince(deps: OpsDeps, name: string, maxSeenGeneration: number): Promise<boolean> {
  await deps.limiter.take('ec2:describe');
  const tagged = await deps.instances.byName(deps.spec.fleet, name);
  return tagged.some((i) => (i.generation ?? 0) > maxSeenGeneration);
}
