/** Which of a name's volumes holds its data (pure; used by the planner and by ops/volume.ts). */
import type { Volume } from '../model.js';
import { TAG } from '../tags.js';

/**
 * The volume that holds the name's data now: the one attached to `serving`; else one in `az`
 * (where the instance that will serve runs; the newest there, a copy made for it); else the
 * original (a volume that is no copy of another one of the name), else the oldest. Undefined
 * when the name has no volume. `vols` oldest first.
 */
export function currentVolume(vols: readonly Volume[], serving?: string, az?: string): Volume | undefined {
  if (vols.length === 0) return undefined;
  const attached = serving ? vols.find((v) => v.attachment?.instanceId === serving) : undefined;
  if (attached) return attached;
  if (az) {
    const here = vols.filter((v) => v.az === az);
    // A copy is made from a final snapshot taken after the original's instance stopped: the newest here is current.
    if (here.length > 0) return here[here.length - 1];
  }
  const ids = new Set(vols.map((v) => v.id));
  return vols.find((v) => !ids.has(v.tags[TAG.volumeFrom] ?? '')) ?? vols[0];
}

/** Volume states that hold data fleet may use; `deleting`/`deleted` are gone, `error` is left alone. */
export function usableVolume(v: Volume): boolean {
  return v.state === 'creating' || v.state === 'available' || v.state === 'in-use';
}

/** Oldest first, ties by id. */
export function byAge(a: Volume, b: Volume): number {
  return a.createTime.localeCompare(b.createTime) || a.id.localeCompare(b.id);
}
