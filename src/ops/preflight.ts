/**
 * The preflight against the account, before any mutation: reads what fleet.yaml and the flags
 * name (types and their AZ offerings, images and their architecture, subnets, security
 * groups) through the AccountCatalog port, hands the answers to the pure plan/preflight.ts,
 * and refuses with every problem at once (exit 2), each at its fleet.yaml line. Only Describe*
 * calls: nothing is changed, whatever the outcome.
 */
import { configLocation } from '../config/index.js';
import { ConfigError, InputError, type ConfigProblem } from '../errors.js';
import type { FleetSpec } from '../model.js';
import type { AccountCatalog, CatalogImage } from '../ports.js';
import { imageKey, offeringZones, preflightProblems, preflightQuestions, type AccountAnswers, type ExtraImage, type ExtraType, type PreflightProblem } from '../plan/preflight.js';

export interface PreflightDeps {
  catalog: AccountCatalog;
  /** The region the commands run in, for messages and the instance profile's partition. */
  region?: string | undefined;
}

/** What was checked, for `fleet validate --online`. */
export interface PreflightReport {
  region?: string;
  types: string[];
  zones: string[];
  images: { ref: string; id: string; architecture: string }[];
  vpc?: string;
  subnets: number;
  securityGroups: number;
}

/** Read what the preflight needs to know about the account (Describe* only). */
export async function readAccount(deps: PreflightDeps, spec: FleetSpec, extra: readonly ExtraType[], extraImages: readonly ExtraImage[] = []): Promise<AccountAnswers> {
  const q = preflightQuestions(spec, extra, extraImages);
  const [types, subnets, securityGroups, imageList] = await Promise.all([
    deps.catalog.instanceTypes(q.types),
    deps.catalog.subnets(q.subnets),
    deps.catalog.securityGroups(q.securityGroups),
    Promise.all(q.images.map(async (ref) => [imageKey(ref), await deps.catalog.image(ref)] as [string, CatalogImage | undefined])),
  ]);
  const zones = offeringZones({ subnets });
  const existing = q.types.filter((t) => types.has(t));
  const offerings = await deps.catalog.offerings(existing, zones);
  return { ...(deps.region ? { region: deps.region } : {}), types, offerings, images: new Map(imageList), subnets, securityGroups };
}

/**
 * Check `spec` (and `extraTypes`, e.g. `upgrade --type`, with the role it is for) against the
 * account. Throws ConfigError (each problem at its fleet.yaml line) or, when a flag is among
 * the culprits, InputError listing them all; both exit 2. Returns what was checked.
 * `opts.images`: images from flags (`upgrade --image`), checked to exist and to run the types
 * they will launch with.
 */
export async function preflight(deps: PreflightDeps, spec: FleetSpec, extraTypes: readonly (string | ExtraType)[] = [], opts: { images?: readonly ExtraImage[] } = {}): Promise<PreflightReport> {
  const extra: ExtraType[] = extraTypes.map((e) => (typeof e === 'string' ? { type: e } : e));
  const images = opts.images ?? [];
  const answers = await readAccount(deps, spec, extra, images);
  const problems = preflightProblems(spec, answers, extra, images);
  if (problems.length > 0) throw preflightError(spec, problems);
  const vpcs = [...new Set([...answers.securityGroups.values()].map((g) => g.vpcId))];
  return {
    ...(deps.region ? { region: deps.region } : {}),
    types: [...answers.types.keys()].sort(),
    zones: [...answers.offerings.keys()].sort(),
    images: [...answers.images.entries()].flatMap(([ref, img]) => (img ? [{ ref, id: img.id, architecture: img.architecture }] : [])),
    ...(vpcs[0] ? { vpc: vpcs[0] } : {}),
    subnets: answers.subnets.size,
    securityGroups: answers.securityGroups.size,
  };
}

function preflightError(spec: FleetSpec, problems: PreflightProblem[]): InputError {
  const located: ConfigProblem[] = [];
  const other: string[] = [];
  for (const p of problems) {
    const at = p.path ? configLocation(spec, p.path) : undefined;
    if (at) located.push({ ...at, message: p.message });
    else other.push(p.path ? `${p.path.join('.')}: ${p.message}` : p.message);
  }
  located.sort((a, b) => a.line - b.line || a.column - b.column);
  if (other.length === 0) return new ConfigError(located);
  const lines = [...located.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? p.path + ': ' : ''}${p.message}`), ...other];
  return new InputError(`the account refuses what was asked (${lines.length} problem${lines.length === 1 ? '' : 's'}; nothing was changed):\n${lines.map((l) => `  ${l}`).join('\n')}`, { data: { problems } });
}
