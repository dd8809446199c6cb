import type { FleetSpec } from '../../model.js';
import { buildInventory, type Inventory } from '../../plan/inventory.js';
import type { Progress } from '../../ports.js';
import { readObserved } from '../../ops/observe.js';
import { scaledClock } from '../../ops/clock.js';
import { RateLimiter } from '../../ops/limiter.js';
import type { Deps } from '../wiring.js';

export { readObserved, type ObservedNow } from '../../ops/observe.js';

/**
 * The inventory: the zone and the instances read in parallel, each page paced at AWS's rate by
 * a limiter of this command's own (real time), so a large zone is read at Route 53's rate
 * without a throttled call.
 */
export async function readInventory(spec: FleetSpec, deps: Deps, progress: Progress, role?: string): Promise<Inventory> {
  const o = await readObserved(spec, { ...deps, limiter: deps.throttles.add(new RateLimiter(scaledClock(1))) }, progress);
  return buildInventory(spec, o, role === undefined ? {} : { role });
}
