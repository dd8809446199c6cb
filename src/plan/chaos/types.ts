/**
 * The chaos monkey's pure core (DESIGN.md sections 4 and 6): *who* may be killed
 * (eligible.ts), *whether* (guards.ts), and the victims from a seeded generator (pick.ts).
 * Everything comes in as data: the observed fleet (or why it could not be read), the locks
 * held, the journal's past kills, the kills made tonight, the time. No I/O, no clock, no
 * randomness of its own.
 */
import type { ChaosKind, DnsRecord, Instance } from '../../model.js';

/** A past kill, as the journal holds it. */
export interface KillRecord {
  name: string;
  /** ISO time of the kill. */
  at: string;
  instanceId?: string;
  who?: string;
}

/** A name's lock held by someone (an operation in progress). */
export interface HeldLock {
  name: string;
  /** What holds it, for the refusal: `upgrade by alice@host (pid 42)`. */
  holder: string;
}

/** What the night knows about the world, as data. */
export interface ChaosView {
  /** The fleet as read now; undefined when it could not be read (then `unreadable` says why). */
  observed?: { records: readonly DnsRecord[]; instances: readonly Instance[] };
  unreadable?: string;
  /** Locks held by others right now (from the coordinator). */
  locks: readonly HeldLock[];
  /** Past kills from the journal (the minimum-time guard reads them: it holds across machines and days). */
  journal: readonly KillRecord[];
  /** Names this night has killed so far (their entries are in `journal` too once written). */
  killedTonight: readonly { name: string; role: string }[];
  now: Date;
}

export interface Candidate {
  name: string;
  role: string;
  instance: Instance;
}

export interface Victim extends Candidate {
  kind: ChaosKind;
}

export interface Refusal {
  name: string;
  reason: string;
}

/** The night's plan: a value printed by a leashed night, executed by an unleashed one. */
export interface ChaosPlan {
  seed: number;
  at: string;
  victims: Victim[];
  /** Names eligible but refused by a guard, each with its reason. */
  refused: Refusal[];
  /** Names not eligible, each with its reason. */
  excluded: Refusal[];
  /** Why the whole night kills nothing (outage check, blackout), when it does. */
  stop: string[];
  /** Roles that can never be killed under this policy (minimum >= count), said once. */
  notes: string[];
}
