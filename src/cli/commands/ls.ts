import type { FleetSpec } from '../../model.js';
import { buildInventory, type Inventory } from '../../plan/inventory.js';
import type { Progress } from '../../ports.js';
import { readObserved } from '../../ops/observe.js';
import type { Deps } from '../wiring.js';

export { readObserved, type ObservedNow } from '../../ops/observe.js';

export async function readInventory(spec: FleetSpec, deps: Deps, progress: Progress, role?: string): Promise<Inventory> {
  const o = await readObserved(spec, deps, progress);
  return buildInventory(spec, o, role === undefined ? {} : { role });
}
