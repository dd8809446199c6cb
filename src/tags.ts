/**
 * The tag vocabulary: every EC2 tag key fleet writes, reads or filters on, in one place.
 * src/aws (filters and mapping), src/ops (tags at launch and creation), src/sim (the local
 * cloud playing the readiness contract), src/bootstrap (what the instance tags itself with)
 * and src/plan all spell a key through this module, so a key cannot drift between the writer
 * and the reader. (The bootstrap's shell text spells `fleet:converged` literally; a test holds
 * it to TAG.converged.)
 */
export const TAG = {
  /** The fleet an instance, volume or snapshot belongs to (fleet.yaml's `fleet:`); every listing filters on it. */
  fleet: 'fleet:fleet',
  /** On an instance: the short name it serves or is launched for (web-03). */
  name: 'fleet:name',
  /** On an instance: the role of its name (web). */
  role: 'fleet:role',
  /** On an instance: the generation of its name, an integer, +1 on every replacement. */
  generation: 'fleet:generation',
  /** Set by the instance itself, = ISO time, after its first converged agent run (readiness contract). */
  converged: 'fleet:converged',
  /** Set by the instance itself, = volume id, once its agent mounted the name's volume. */
  mounted: 'fleet:mounted',
  /** On an instance: the fencing token (the lock's sequence number) of the operation that launched it. */
  fence: 'fleet:fence',
  /** On a volume: the name it follows across replacements. */
  volumeOf: 'fleet:volume-of',
  /** On a volume created from a snapshot (a move across AZs): the volume it was copied from. */
  volumeFrom: 'fleet:volume-from',
  /** On a volume created from a snapshot: that snapshot's id. */
  snapshot: 'fleet:snapshot',
  /** On a snapshot: the operation id of the run that took it. */
  operation: 'fleet:operation',
  /** On an instance: a pre-warmed standby for the name, kept out of DNS (spot rebalance). */
  standby: 'fleet:standby',
  /** On an instance: `opt-out` (CHAOS_OPT_OUT) exempts it from the chaos monkey. */
  chaos: 'fleet:chaos',
  /** EC2's display name: the FQDN of an instance, `<fqdn> data` for a volume. */
  Name: 'Name',
} as const;

export type TagKey = (typeof TAG)[keyof typeof TAG];

/** The value of TAG.chaos that exempts an instance from the chaos monkey. */
export const CHAOS_OPT_OUT = 'opt-out';
