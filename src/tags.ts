/**
 * The tag vocabulary: every tag key fleet reads or writes, in one place.
 * (TEMP(contract): the smallest faithful version of B's src/tags.ts; main's wins at merge.)
 */
export const TAG = {
  fleet: 'fleet:fleet',
  name: 'fleet:name',
  role: 'fleet:role',
  generation: 'fleet:generation',
  converged: 'fleet:converged',
  mounted: 'fleet:mounted',
  fence: 'fleet:fence',
  volumeOf: 'fleet:volume-of',
  standby: 'fleet:standby',
  chaos: 'fleet:chaos',
  Name: 'Name',
} as const;

export const CHAOS_OPT_OUT = 'opt-out';
