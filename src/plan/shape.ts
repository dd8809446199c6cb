/**
 * Where and how a name is launched (pure): the ordered list of launch shapes to try, and the
 * ClientToken of each attempt.
 *
 * Order (DESIGN.md section 7: on a capacity error, change the type, the AZ or the market,
 * never retry the same one): the role's market first, each allowed type in order of
 * preference, each in the name's home subnet first and then the others; then, for a spot
 * role that allows it, the same on on-demand.
 */
import { createHash } from 'node:crypto';
import type { FleetName, FleetSpec, ImageRef, Market, RoleSpec } from '../model.js';

export interface LaunchShape {
  instanceType: string;
  market: Market;
  subnetId: string;
}

export interface ShapeOverride {
  instanceType?: string;
  market?: Market;
  image?: ImageRef;
  /** Only these subnets (e.g. a volume's AZ). */
  subnets?: string[];
}

export function roleOf(spec: FleetSpec, role: string): RoleSpec | undefined {
  return spec.roles.find((r) => r.name === role);
}

/** Types a role may run on: its type, then its alternatives. */
export function allowedTypes(role: RoleSpec): string[] {
  return [role.instanceType, ...role.alternativeTypes];
}

export function subnetsOf(spec: FleetSpec, role: RoleSpec): string[] {
  return role.subnets ?? spec.defaults.subnets;
}

export function imageOf(spec: FleetSpec, role: RoleSpec, override?: ShapeOverride): ImageRef {
  return override?.image ?? role.image ?? spec.defaults.image;
}

/**
 * Shapes to try for a name, in order. With an override of the type, that type comes first and
 * the role's others follow only when `strictType` is false.
 */
export function launchCandidates(spec: FleetSpec, role: RoleSpec, name: FleetName, override: ShapeOverride = {}, strictType = false): LaunchShape[] {
  const all = override.subnets ?? subnetsOf(spec, role);
  // Spread names over the subnets (AZs): web-01 -> first, web-02 -> second, ...
  const home = all.length > 0 ? (name.index - 1) % all.length : 0;
  const subnets = [...all.slice(home), ...all.slice(0, home)];
  const types = override.instanceType ? (strictType ? [override.instanceType] : [override.instanceType, ...allowedTypes(role).filter((t) => t !== override.instanceType)]) : allowedTypes(role);
  const market = override.market ?? role.market;
  const markets: Market[] = [market];
  if (market === 'spot' && role.onDemandFallback && override.market === undefined) markets.push('on-demand');
  const out: LaunchShape[] = [];
  for (const m of markets) for (const t of types) for (const s of subnets) out.push({ instanceType: t, market: m, subnetId: s });
  return out;
}

/**
 * ClientToken for one launch attempt: derived from (fleet, name, generation) and the attempt's
 * shape, so that a retry of the same attempt (by the SDK, or by a rerun after a crash) returns
 * the original launch, while a fallback to another type, AZ or market is a new request
 * (AWS answers IdempotentParameterMismatch to the same token with other parameters).
 * At most 64 ASCII characters.
 */
export function clientToken(fleet: string, name: string, generation: number, shape: LaunchShape): string {
  const h = createHash('sha256').update(JSON.stringify([fleet, name, generation, shape.instanceType, shape.market, shape.subnetId])).digest('hex');
  const readable = `${name}-g${generation}-`;
  return (readable + h).slice(0, 64);
}
