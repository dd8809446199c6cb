/**
 * Kill a name: terminate the instance serving it and leave its record, so that the next
 * reconcile (apply, the controller) rebuilds the name as after any failure. `fleet kill` and
 * the nightly chaos job run this one flow.
 *
 * What acts is a terminator (as in Netflix's Chaos Monkey): the real one terminates through
 * the rate limiter and confirms; the leashed one changes nothing and only reports what would
 * be killed. The flow has no `if (dryRun)`: a terminator that does not act takes no lock,
 * writes no journal and makes no call that changes anything.
 *
 * Under the name's lock the flow observes the name again and plans the kill again
 * (src/plan/kill.ts): whoever held the lock before may have changed what serves it. The caller
 * may insist on the instance it chose (`expectInstanceId`) and re-check its own conditions
 * (`recheck`: the chaos job's eligibility and guards) on the name as it is now. The journal
 * entry is written create-only BEFORE the kill, and its outcome beside it afterwards.
 */
import { InputError } from '../errors.js';
import type { DnsRecord, Instance } from '../model.js';
import { conventionOf, parseName } from '../naming.js';
import { planKill } from '../plan/kill.js';
import { roleOf } from '../plan/shape.js';
import type { LockHandle } from '../coord/index.js';
import type { OpsDeps } from './context.js';
import { completeEntry, journal } from './journal.js';
import { guardOf, observeName, withNameLock } from './locked.js';
import { terminateConfirmed } from './terminate.js';

export interface Terminator {
  /** 'terminate' (real), 'leashed' (reports only, changes nothing), or another kind (e.g. 'spot-interruption' on the local cloud). */
  readonly kind: string;
  /** Whether this terminator changes anything (a leashed one does not: no lock, no journal, no call). */
  readonly acts: boolean;
  terminate(deps: OpsDeps, victim: Instance, reason: string): Promise<void>;
}

/** TerminateInstances through the rate limiter, confirmed by describing (src/ops/terminate.ts). */
export const realTerminator: Terminator = {
  kind: 'terminate',
  acts: true,
  terminate: (deps, victim, reason) => terminateConfirmed(deps, [victim.id], reason),
};

/** Changes nothing: says what it would have terminated. */
export const leashedTerminator: Terminator = {
  kind: 'leashed',
  acts: false,
  terminate: async (deps, victim, reason) => {
    deps.log({ level: 'info', event: 'leashed', msg: `leashed: would terminate ${victim.id} (${reason})`, instanceId: victim.id });
  },
};

export interface KillRequest {
  /** Short name, web-03. */
  name: string;
  terminator: Terminator;
  /** Who asks: 'fleet kill', 'chaos', ... (journaled). */
  who: string;
  /** Refuse if the name is served by another instance now. */
  expectInstanceId?: string;
  /** Under the lock, with the name as it is now: a refusal reason, or undefined to go on. */
  recheck?: (now: { records: DnsRecord[]; instances: Instance[] }, lock: LockHandle | undefined) => Promise<string | undefined> | string | undefined;
  /** Extra fields for the journal entry (seed, night id...). */
  journal?: Record<string, unknown>;
  /** Kill only once the journal entry is written (the chaos job: its minimum-time guard reads the journal back). */
  journalRequired?: boolean;
}

export type KillOutcome =
  | {
      status: 'killed' | 'would-kill';
      name: string;
      instanceId: string;
      /** The victim's private address (what the record still points at). */
      ip?: string;
      generation?: number;
      type: string;
      market: string;
      az: string;
      fencingToken?: string;
      journalKey?: string;
      /** Clock time of the kill (or of the report, leashed). */
      at: string;
    }
  | { status: 'refused' | 'nothing'; name: string; reason: string };

export async function killName(deps: OpsDeps, req: KillRequest): Promise<KillOutcome> {
  const name = parseName(req.name, conventionOf(deps.spec)); // InputError with the reason
  const role = roleOf(deps.spec, name.role);
  if (!role || name.index > role.count) throw new InputError(`${name.name} is not a name of fleet ${deps.spec.fleet}`);

  const attempt = async (lock: LockHandle | undefined): Promise<KillOutcome> => {
    const now = await observeName(deps, name.fqdn, name.name);
    const plan = planKill(name.name, now, req.expectInstanceId !== undefined ? { expectInstanceId: req.expectInstanceId } : {});
    if (plan.kind !== 'kill') return { status: plan.kind, name: name.name, reason: plan.reason };
    const refusal = await req.recheck?.(now, lock);
    if (refusal !== undefined) return { status: 'refused', name: name.name, reason: refusal };
    const v = plan.victim;
    const base = {
      name: name.name,
      instanceId: v.id,
      ...(v.privateIp ? { ip: v.privateIp } : {}),
      ...(v.generation !== undefined ? { generation: v.generation } : {}),
      type: v.type,
      market: v.market,
      az: v.az,
      ...(lock ? { fencingToken: lock.fencingToken } : {}),
    };
    const why = `${req.who} ${name.name}`;
    if (!req.terminator.acts) {
      await req.terminator.terminate(deps, v, why);
      return { status: 'would-kill', ...base, at: deps.clock.now().toISOString() };
    }
    // On record before it happens: a crash after this line leaves an entry without an outcome.
    const journalKey = await journal(deps, 'kill', name.name, { ...base, terminator: req.terminator.kind, who: req.who, ...(req.journal ?? {}) }, { required: req.journalRequired === true });
    try {
      guardOf(deps, lock)();
      await req.terminator.terminate(deps, v, why);
    } catch (err) {
      await completeEntry(deps, journalKey, { status: 'failed', instanceId: v.id, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    const at = deps.clock.now().toISOString();
    await completeEntry(deps, journalKey, { status: 'killed', instanceId: v.id, killedAt: at });
    return { status: 'killed', ...base, journalKey, at };
  };

  // A terminator that changes nothing takes no lock: it must not make anyone wait.
  if (!req.terminator.acts) return attempt(undefined);
  return withNameLock(deps, name.name, 'kill', attempt);
}
