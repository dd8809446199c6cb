/** The local cloud's side of the chaos monkey's SpotInterrupter port: its spot interruption knob. */
import type { SpotInterrupter } from '../ops/chaos-terminators.js';
import type { LocalCloudControl } from './index.js';

/** In-process (the rehearsal): the control object itself. */
export function controlSpotInterrupter(control: LocalCloudControl): SpotInterrupter {
  return {
    async interrupt(instanceId) {
      control.interruptSpot(instanceId);
    },
  };
}

/** Over the control endpoint (`POST /_sim/spot-interrupt`), for the CLI against `fleet sim`. */
export function httpSpotInterrupter(endpoint: string): SpotInterrupter {
  return {
    async interrupt(instanceId) {
      const r = await fetch(`${endpoint}/_sim/spot-interrupt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instanceId }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!r.ok) throw new Error(`the local cloud refused to interrupt ${instanceId}: HTTP ${r.status} ${await r.text()}`);
    },
  };
}

/** Whether `endpoint` is a local cloud (answers GET /_sim/clock). */
export async function isLocalCloud(endpoint: string | undefined): Promise<boolean> {
  if (!endpoint) return false;
  try {
    const r = await fetch(`${endpoint}/_sim/clock`, { signal: AbortSignal.timeout(3000) });
    return r.ok;
  } catch {
    return false;
  }
}
