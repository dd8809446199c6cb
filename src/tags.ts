/** The tag vocabulary (DESIGN.md section 2): one home for aws, ops, sim and bootstrap. */
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

/** `fleet:chaos=opt-out` on an instance: the chaos monkey never kills the name it serves. */
export const CHAOS_OPT_OUT = 'opt-out';
