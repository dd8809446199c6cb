/**
 * Pool memory, kept in S3 so that it survives restarts and is shared by the CLI and the Lambda:
 * one create-only record per interruption (type, AZ, role, time) under
 * `<journal prefix>/<fleet>/pools/<time>-<event id>.json` in the journal bucket. A run loads
 * the records of the last hour (or of the avoid window, if longer) once; the pure rules of
 * src/plan/pools.ts decide what is avoided. Launches consult it through `deps.avoidPools` and
 * `deps.forceOnDemand` (src/ops/launch.ts), so apply, upgrade, chaos heal and the handler all
 * avoid the same pools.
 */
import type { FleetSpec } from '../model.js';
import type { Log, Records } from '../ports.js';
import { avoidedPools, CALM_WINDOW_MS, interruptionSettings, onDemandRoles, type AvoidedPool, type OnDemandRole, type PoolInterruption } from '../plan/pools.js';
import type { OpsDeps } from './context.js';

export function poolsPrefix(spec: FleetSpec): string {
  return `${spec.fleet}/pools/`;
}

export interface PoolMemory {
  readonly records: readonly PoolInterruption[];
  avoidPools(now: Date): AvoidedPool[];
  onDemandRoles(now: Date): OnDemandRole[];
  forceOnDemand(role: string, now: Date): boolean;
  /** Record an interruption (create-only, keyed by its time and event): true when new. Also remembered in this process at once. */
  remember(rec: PoolInterruption): Promise<boolean>;
}

function isRecord(v: unknown): v is PoolInterruption {
  const r = v as Partial<PoolInterruption> | undefined;
  return typeof r === 'object' && r !== null && typeof r.instanceType === 'string' && typeof r.az === 'string' && typeof r.at === 'string' && Number.isFinite(Date.parse(r.at));
}

/** Safe in a key: the event id or instance id, nothing else. */
function keyPart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
}

/**
 * Load the memory (the records that can still matter at `now`). A bucket that cannot be read
 * gives an empty memory and a warning: a launch must not fail because its memory is missing.
 */
export async function loadPoolMemory(store: Records, spec: FleetSpec, now: Date, log?: Log): Promise<PoolMemory> {
  const settings = interruptionSettings(spec);
  const horizon = Math.max(settings.avoidPoolMs, CALM_WINDOW_MS);
  const prefix = poolsPrefix(spec);
  const records: PoolInterruption[] = [];
  try {
    const since = new Date(now.getTime() - horizon).toISOString();
    for (const r of await store.list(prefix, `${prefix}${since}`)) if (isRecord(r.body)) records.push(r.body);
  } catch (err) {
    // No journal bucket yet (before `fleet init`) means no memory: not worth a warning.
    const missing = (err as { code?: string }).code === 'NoSuchBucket';
    log?.({ level: missing ? 'info' : 'warn', event: 'pool-memory-unreadable', msg: `pool memory not read (${err instanceof Error ? err.message : String(err)}); launching without it` });
  }
  return {
    records,
    avoidPools: (t) => avoidedPools(records, t, settings),
    onDemandRoles: (t) => onDemandRoles(records, t, settings),
    forceOnDemand: (role, t) => onDemandRoles(records, t, settings).some((r) => r.role === role),
    async remember(rec) {
      if (!records.some((r) => r.at === rec.at && r.eventId === rec.eventId && r.instanceId === rec.instanceId)) records.push(rec);
      return store.create(`${prefix}${rec.at}-${keyPart(rec.eventId ?? rec.instanceId ?? `${rec.instanceType}-${rec.az}`)}.json`, rec);
    },
  };
}

/**
 * Make every launch of this run consult the memory, read on the first launch (a run that
 * launches nothing, such as an apply of a converged fleet, never reads it).
 */
export function usePoolMemoryLazily(deps: OpsDeps, load: () => Promise<PoolMemory>): void {
  let memory: PoolMemory | undefined;
  let loading: Promise<void> | undefined;
  deps.preparePools = () =>
    (loading ??= load().then((m) => {
      memory = m;
    }));
  deps.avoidPools = (now) => memory?.avoidPools(now);
  deps.forceOnDemand = (role, now) => memory?.forceOnDemand(role, now) ?? false;
}

/** Make every launch of this run consult the memory. */
export function usePoolMemory(deps: OpsDeps, memory: PoolMemory): void {
  delete deps.preparePools;
  deps.avoidPools = (now) => memory.avoidPools(now);
  deps.forceOnDemand = (role, now) => memory.forceOnDemand(role, now);
}
