/**
 * Kill a name: terminate the instance serving it, under the name's lock; the record stays and
 * reconcile rebuilds the name. The terminator acts (or only reports): no `if (dryRun)` here.
 */
import type { LockHandle } from '../coord/index.js';
import type { DnsRecord, Instance } from '../model.js';
import { conventionOf, parseName } from '../naming.js';
import { LIVE_STATES } from '../plan/inventory.js';
import type { OpsDeps } from './context.js';
import { completeEntry, journal } from './journal.js';
import { guardOf, observeName, withNameLock } from './locked.js';
import { terminateConfirmed } from './terminate.js';

export interface Terminator {
  /** 'terminate' (real), 'leashed' (reports only, changes nothing), or another kind (e.g. 'spot-interruption' on the local cloud). */
  readonly kind: string;
  /** Whether this terminator changes anything (a leashed one does not: no journal, no call). */
  readonly acts: boolean;
  terminate(deps: OpsDeps, victim: Instance, reason: string): Promise<void>;
}

export const realTerminator: Terminator = {
  kind: 'terminate',
  acts: true,
  terminate: (deps, victim, reason) => terminateConfirmed(deps, [victim.id], reason),
};

export const leashedTerminator: Terminator = {
  kind: 'leashed',
  acts: false,
  async terminate() {
    /* leashed: reports only */
  },
};

export interface KillRequest {
  name: string;
  terminator: Terminator;
  who: string;
  expectInstanceId?: string;
  recheck?: (now: { records: DnsRecord[]; instances: Instance[] }, lock: LockHandle | undefined) => Promise<string | undefined> | string | undefined;
  journal?: Record<string, unknown>;
}

export type KillOutcome =
  | { status: 'killed' | 'would-kill'; name: string; instanceId: string; generation?: number; type: string; market: string; az: string; fencingToken?: string; journalKey?: string; at: string }
  | { status: 'refused' | 'nothing'; name: string; reason: string };

export async function killName(deps: OpsDeps, req: KillRequest): Promise<KillOutcome> {
  const name = parseName(req.name, conventionOf(deps.spec));
  const attempt = async (lock: LockHandle | undefined): Promise<KillOutcome> => {
    const now = await observeName(deps, name.fqdn, name.name);
    const rec = now.records[0];
    const serving = rec ? now.instances.find((i) => i.privateIp !== undefined && rec.values.includes(i.privateIp) && LIVE_STATES.has(i.state)) : undefined;
    if (!serving) return { status: 'nothing', name: name.name, reason: `${name.name} is not served by a live instance${rec ? ` (record points at ${rec.values.join(', ')})` : ' (no record)'}` };
    if (serving.name !== undefined && serving.name !== name.name) return { status: 'refused', name: name.name, reason: `the record of ${name.name} points at ${serving.id}, tagged ${serving.name}` };
    if (req.expectInstanceId !== undefined && serving.id !== req.expectInstanceId) {
      return { status: 'refused', name: name.name, reason: `${name.name} is served by ${serving.id} now, not ${req.expectInstanceId}` };
    }
    const why = await req.recheck?.(now, lock);
    if (why !== undefined) return { status: 'refused', name: name.name, reason: why };
    const base = {
      name: name.name,
      instanceId: serving.id,
      ...(serving.generation !== undefined ? { generation: serving.generation } : {}),
      type: serving.type,
      market: serving.market,
      az: serving.az,
      ...(lock ? { fencingToken: lock.fencingToken } : {}),
    };
    if (!req.terminator.acts) return { status: 'would-kill', ...base, at: deps.clock.now().toISOString() };
    // The journal first: the kill is on record before it happens.
    const journalKey = await journal(deps, 'kill', name.name, { ...base, terminator: req.terminator.kind, who: req.who, ...(req.journal ?? {}) });
    try {
      guardOf(deps, lock)();
      await req.terminator.terminate(deps, serving, `${req.who} ${name.name}`);
    } catch (err) {
      await completeEntry(deps, journalKey, { status: 'failed', instanceId: serving.id, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    const at = deps.clock.now().toISOString();
    await completeEntry(deps, journalKey, { status: 'killed', instanceId: serving.id, killedAt: at });
    return { status: 'killed', ...base, journalKey, at };
  };
  // A terminator that changes nothing takes no lock: it must not make anyone wait.
  if (!req.terminator.acts) return attempt(undefined);
  return withNameLock(deps, name.name, 'kill', attempt);
}
