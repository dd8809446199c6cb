/**
 * Launch one generation of a name: try the role's launch shapes in order (a capacity error
 * moves to the next type, AZ or market, never retries the same one), with a ClientToken per
 * attempt so that a retried or rerun request never launches twice.
 */
import { CapacityError, FleetError } from '../errors.js';
import type { FleetName, ImageRef, Instance, RoleSpec } from '../model.js';
import { TAG } from '../tags.js';
import { userDataBase64 } from '../bootstrap/userdata.js';
import { clientToken, imageOf, launchCandidates, type LaunchShape, type ShapeOverride } from '../plan/shape.js';
import { orderByMemory } from '../plan/pools.js';
import type { OpsDeps } from './context.js';

export interface LaunchResult {
  instance: Instance;
  generation: number;
  shape: LaunchShape;
  /** Every attempt, in order, with the error of the failed ones. */
  attempts: { shape: LaunchShape; error?: string }[];
}

function imageKey(ref: ImageRef): string {
  return 'id' in ref ? ref.id : `${ref.owner}/${ref.namePattern}`;
}

export function resolveImage(deps: OpsDeps, ref: ImageRef): Promise<string> {
  const key = imageKey(ref);
  let p = deps.images.get(key);
  if (!p) {
    p = deps.limiter.take('ec2:describe').then(() => deps.catalog.resolveImage(ref));
    deps.images.set(key, p);
    p.catch(() => deps.images.delete(key));
  }
  return p;
}

export function describeShape(s: LaunchShape): string {
  return `${s.instanceType} ${s.market} in ${s.subnetId}`;
}

export async function launchGeneration(
  deps: OpsDeps,
  name: FleetName,
  role: RoleSpec,
  generation: number,
  opts: { override?: ShapeOverride; strictType?: boolean; fencingToken?: string; guard?: () => void; extraTags?: Record<string, string> } = {},
): Promise<LaunchResult> {
  const shapes = await rememberedOrder(deps, role, name, launchCandidates(deps.spec, role, name, opts.override, opts.strictType), opts.override);
  const imageId = await resolveImage(deps, imageOf(deps.spec, role, opts.override));
  const attempts: LaunchResult['attempts'] = [];
  let gen = generation;
  let bumps = 0;
  let throttles = 0;
  const bump = (): void => {
    if (++bumps > 20) throw new FleetError(`${name.name}: 20 generations in a row were launched and rolled back before; refusing to go on`);
    gen++;
  };
  for (let i = 0; i < shapes.length; i++) {
    const shape = shapes[i]!;
    const tags: Record<string, string> = {
      [TAG.fleet]: deps.spec.fleet,
      [TAG.name]: name.name,
      [TAG.role]: role.name,
      [TAG.generation]: String(gen),
      // Nothing per run here (the operation id is in the journal): a rerun with the same
      // ClientToken must send the same parameters, or EC2 answers IdempotentParameterMismatch.
      [TAG.Name]: name.fqdn,
    };
    if (opts.fencingToken) tags[TAG.fence] = opts.fencingToken;
    // Tags that mark the launch's purpose (fleet:standby) are part of the request: a standby and
    // a plain launch of one generation never share a ClientToken's parameters by accident.
    Object.assign(tags, opts.extraTags ?? {});
    // Everything the call needs is computed before its tokens are taken: the request should
    // leave right after, or our bucket and EC2's drift apart by the work in between.
    const userData = userDataBase64({ spec: deps.spec, name, generation: gen });
    const token = clientToken(deps.spec.fleet, name.name, gen, shape);
    // A stop ends these waits (a long apply may queue many launches behind the RunInstances bucket).
    await deps.limiter.take('ec2:run-instances', 1, deps.signal);
    await deps.limiter.take('ec2:run-instances-resource', 1, deps.signal);
    // Still ours to act on (lock held, still leader)? Checked right before the side effect.
    opts.guard?.();
    let instance: Instance;
    try {
      instance = await deps.instances.launch({
        clientToken: token,
        imageId,
        instanceType: shape.instanceType,
        market: shape.market,
        subnetId: shape.subnetId,
        securityGroupIds: deps.spec.defaults.securityGroups,
        ...((role.instanceProfile ?? deps.spec.defaults.instanceProfile) ? { instanceProfile: (role.instanceProfile ?? deps.spec.defaults.instanceProfile)! } : {}),
        userDataBase64: userData,
        tags,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'RequestLimitExceeded' && throttles < 8) {
        // Throttled past the SDK's own retries: our pacing drifted from AWS's bucket. Empty
        // ours and try the same attempt again (same ClientToken: it cannot launch twice).
        throttles++;
        deps.limiter.penalize('ec2:run-instances');
        deps.log({ level: 'info', event: 'throttled', msg: `${name.name}: RunInstances throttled; retrying after the rate limit refills`, name: name.name });
        i--;
        continue;
      }
      if (err instanceof CapacityError) {
        attempts.push({ shape, error: err.code });
        deps.log({ level: 'warn', event: 'capacity', msg: `${name.name}: no capacity for ${describeShape(shape)} (${err.code}); trying the next shape`, name: name.name, code: err.code });
        continue;
      }
      if ((err as { code?: string }).code === 'IdempotentInstanceTerminated') {
        // This generation's token belongs to an attempt that was rolled back: move on to the next generation.
        bump();
        i--;
        continue;
      }
      if ((err as { code?: string }).code === 'IdempotentParameterMismatch') {
        // The same (fleet, name, generation, shape) was launched before with other parameters: an
        // earlier attempt, cut off after RunInstances (a crash), whose tags carry its own lock's
        // fencing token. If that instance lives, it is this launch: take it rather than launch twice.
        const earlier = await findEarlierLaunch(deps, clientToken(deps.spec.fleet, name.name, gen, shape), name.name);
        if (earlier) {
          attempts.push({ shape });
          deps.log({ level: 'info', event: 'launch-recovered', msg: `${name.name}: generation ${gen} was launched by an earlier attempt (${earlier.id}); taking it instead of launching again`, name: name.name, instanceId: earlier.id });
          return { instance: earlier, generation: gen, shape, attempts };
        }
        // The token (fleet, name, generation, shape) was spent on a launch with other parameters
        // (another image, another fleet.yaml): a rolled-back generation that no longer shows in
        // DescribeInstances, so the planner picked its number again. Retrying the same token can
        // only fail again, on every rerun: move on to the next generation. (Were that launch
        // still live and not yet visible, it becomes an orphan that a later apply collects.)
        deps.log({ level: 'warn', event: 'token-spent', msg: `${name.name}: generation ${gen} was launched before with other parameters; using generation ${gen + 1}`, name: name.name });
        bump();
        i--;
        continue;
      }
      throw err;
    }
    if (instance.state === 'shutting-down' || instance.state === 'terminated') {
      // The token replayed a rolled-back launch of this generation (AWS returns the original reservation).
      deps.log({ level: 'info', event: 'token-replay', msg: `${name.name}: generation ${gen} was launched and rolled back before; using generation ${gen + 1}`, name: name.name });
      bump();
      i--;
      continue;
    }
    attempts.push({ shape });
    deps.log({ level: 'info', event: 'launched', msg: `${name.name}: launched ${instance.id} (${describeShape(shape)}, generation ${gen})`, name: name.name, instanceId: instance.id, generation: gen });
    return { instance, generation: gen, shape, attempts };
  }
  throw new FleetError(`no capacity for ${name.name}: tried ${attempts.map((a) => `${describeShape(a.shape)} (${a.error})`).join('; ')}`, {
    data: { name: name.name, attempts },
  });
}

/** Subnet -> AZ, per run (one DescribeSubnets for the fleet's subnets). */
const zonesOf = new WeakMap<OpsDeps, Promise<Map<string, string>>>();

/**
 * Pool memory (DESIGN.md section 4, Spot interruption): shapes in a pool interrupted lately go
 * last, and a role interrupted too often tries on-demand first. Without memory in deps, or with
 * nothing to avoid, the order is the role's own. A market the caller chose explicitly (an
 * upgrade's --market) is not overridden.
 */
async function rememberedOrder(deps: OpsDeps, role: RoleSpec, name: FleetName, shapes: LaunchShape[], override?: ShapeOverride): Promise<LaunchShape[]> {
  await deps.preparePools?.();
  const now = deps.clock.now();
  const avoid = deps.avoidPools?.(now) ?? [];
  const force = override?.market === undefined && role.market === 'spot' && (deps.forceOnDemand?.(role.name, now) ?? false);
  if (avoid.length === 0 && !force) return shapes;
  let zones = new Map<string, string>();
  if (avoid.length > 0) {
    let p = zonesOf.get(deps);
    if (!p) {
      const ids = [...new Set([...deps.spec.defaults.subnets, ...deps.spec.roles.flatMap((r) => r.subnets ?? [])])];
      p = deps.limiter.take('ec2:describe').then(() => deps.catalog.subnetZones(ids));
      zonesOf.set(deps, p);
      p.catch(() => zonesOf.delete(deps));
    }
    try {
      zones = await p;
    } catch (err) {
      deps.log({ level: 'warn', event: 'pool-memory-skipped', msg: `${name.name}: cannot map subnets to AZs (${err instanceof Error ? err.message : String(err)}); launching without pool memory`, name: name.name });
    }
  }
  const r = orderByMemory(shapes, (s) => zones.get(s), avoid, force);
  if (r.avoided.length > 0) {
    deps.log({ level: 'info', event: 'pools-avoided', msg: `${name.name}: trying ${r.avoided.map((s) => `${s.instanceType} in ${zones.get(s.subnetId)}`).join(', ')} last (interrupted lately)`, name: name.name });
  }
  if (force) deps.log({ level: 'info', event: 'on-demand-forced', msg: `${name.name}: role ${role.name} was interrupted often lately; launching on-demand first`, name: name.name });
  return r.shapes;
}

/**
 * The live instance an earlier attempt launched with this ClientToken, waiting out
 * eventual consistency for a while (a launch is not always visible at once).
 */
async function findEarlierLaunch(deps: OpsDeps, token: string, name: string): Promise<Instance | undefined> {
  const until = deps.clock.now().getTime() + 60_000;
  for (;;) {
    await deps.limiter.take('ec2:describe');
    const found = (await deps.instances.byClientToken(deps.spec.fleet, token)).filter((i) => i.name === name);
    if (found.length > 0) return found.find((i) => i.state === 'pending' || i.state === 'running');
    if (deps.clock.now().getTime() > until) return undefined;
    await deps.clock.sleep(2_000);
  }
}
