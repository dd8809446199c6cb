import { TAG } from '../tags.js';

/**
 * The first lines of every user-data script that fleet renders carry this marker. The local
 * cloud uses it to recognise a fleet bootstrap and play the readiness contract for it
 * (tag `fleet:converged` after the convergence delay), as a real instance running the
 * bootstrap would.
 */
export const BOOTSTRAP_MARKER = '# fleet-bootstrap: v1';

/** The EC2 tag an instance sets on itself after its first converged agent run. */
export const CONVERGED_TAG = TAG.converged;

/**
 * The EC2 tag an instance sets on itself once its agent mounted the name's volume at its mount
 * point: the value is the volume id (read from the device). fleet swaps the record of a name
 * whose volume moved only once the new instance carries it.
 */
export const MOUNTED_TAG = TAG.mounted;
