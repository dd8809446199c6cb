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
  opts: { override?: ShapeOverride; strictType?: boolean; fencingToken?: string; guard?: () => void } = {},
): Promise<LaunchResult> {
  const shapes = launchCandidates(deps.spec, role, name, opts.override, opts.strictType);
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
    // A stop ends these waits (a long apply may queue many launches behind the RunInstances bucket).
    await deps.limiter.take('ec2:run-instances', 1, deps.signal);
    await deps.limiter.take('ec2:run-instances-resource', 1, deps.signal);
    // Still ours to act on (lock held, still leader)? Checked right before the side effect.
    opts.guard?.();
    let instance: Instance;
    try {
      instance = await deps.instances.launch({
        clientToken: clientToken(deps.spec.fleet, name.name, gen, shape),
        imageId,
        instanceType: shape.instanceType,
        market: shape.market,
        subnetId: shape.subnetId,
        securityGroupIds: deps.spec.defaults.securityGroups,
        ...((role.instanceProfile ?? deps.spec.defaults.instanceProfile) ? { instanceProfile: (role.instanceProfile ?? deps.spec.defaults.instanceProfile)! } : {}),
        userDataBase64: userDataBase64({ spec: deps.spec, name, generation: gen }),
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
