/**
 * The preflight, pure: from the spec and what the account answered, every reason AWS would
 * refuse a launch that fleet.yaml (or a flag) asks for, before anything is launched. Each
 * problem names the fleet.yaml path it is about (the ops layer turns it into file:line:column)
 * or the flag. No I/O: `preflightQuestions` says what to read, ops/preflight.ts reads it.
 */
import type { FleetSpec, ImageRef, RoleSpec } from '../model.js';
import type { CatalogImage } from '../ports.js';

export type ConfigPath = readonly (string | number)[];

export interface PreflightProblem {
  /** The fleet.yaml path the problem is about (`roles.web.alternatives[1]`), when it comes from the file. */
  path?: ConfigPath;
  /** The flag it comes from (`--type`), when it comes from the command line. */
  flag?: string;
  message: string;
}

/** A type asked for outside fleet.yaml (`upgrade --type`), checked for a role when one is given. */
export interface ExtraType {
  type: string;
  role?: string;
  /** How to name it in a problem; default `--type`. */
  flag?: string;
}

/** An image asked for outside fleet.yaml (`upgrade --image`) for a role: it must exist and run the types it will launch. */
export interface ExtraImage {
  id: string;
  role: string;
  /** The types it will launch with; default every type the role allows. */
  types?: readonly string[];
  /** How to name it in a problem; default `--image`. */
  flag?: string;
}

export interface PreflightQuestions {
  types: string[];
  images: ImageRef[];
  subnets: string[];
  securityGroups: string[];
}

/** What the account answered (ops/preflight.ts reads it through the AccountCatalog port). */
export interface AccountAnswers {
  region?: string;
  /** Existing types -> their architectures. */
  types: Map<string, string[]>;
  /** AZ -> the asked types it offers. */
  offerings: Map<string, Set<string>>;
  /** imageKey(ref) -> the image, or undefined when none. */
  images: Map<string, CatalogImage | undefined>;
  subnets: Map<string, { az: string; vpcId: string }>;
  securityGroups: Map<string, { vpcId: string }>;
}

export function imageKey(ref: ImageRef): string {
  return 'id' in ref ? ref.id : `${ref.owner}/${ref.namePattern}`;
}

function describeImageRef(ref: ImageRef): string {
  return 'id' in ref ? `image ${ref.id}` : `image ${ref.owner}/${JSON.stringify(ref.namePattern)}`;
}

interface RoleView {
  role: RoleSpec;
  types: { type: string; path: ConfigPath }[];
  subnets: { id: string; path: ConfigPath }[];
  image: { ref: ImageRef; path: ConfigPath };
}

function roleView(spec: FleetSpec, role: RoleSpec): RoleView {
  const at = (...rest: (string | number)[]): ConfigPath => ['roles', role.name, ...rest];
  return {
    role,
    types: [{ type: role.instanceType, path: at('type') }, ...role.alternativeTypes.map((t, i) => ({ type: t, path: at('alternatives', i) }))],
    subnets: role.subnets ? role.subnets.map((id, i) => ({ id, path: at('subnets', i) })) : spec.defaults.subnets.map((id, i) => ({ id, path: ['defaults', 'subnets', i] as ConfigPath })),
    image: role.image ? { ref: role.image, path: at('image') } : { ref: spec.defaults.image, path: ['defaults', 'image'] },
  };
}

/** What to ask the account: every type, image, subnet and security group the spec and the flags name. */
export function preflightQuestions(spec: FleetSpec, extra: readonly ExtraType[] = [], extraImages: readonly ExtraImage[] = []): PreflightQuestions {
  const types = new Set<string>();
  const images = new Map<string, ImageRef>();
  const subnets = new Set<string>(spec.defaults.subnets);
  for (const role of spec.roles) {
    const v = roleView(spec, role);
    for (const t of v.types) types.add(t.type);
    for (const s of v.subnets) subnets.add(s.id);
    images.set(imageKey(v.image.ref), v.image.ref);
  }
  for (const e of extra) types.add(e.type);
  for (const e of extraImages) images.set(e.id, { id: e.id });
  return { types: [...types], images: [...images.values()], subnets: [...subnets], securityGroups: [...new Set(spec.defaults.securityGroups)] };
}

/** The AZs whose offerings matter: those of the subnets that exist. */
export function offeringZones(answers: Pick<AccountAnswers, 'subnets'>): string[] {
  return [...new Set([...answers.subnets.values()].map((s) => s.az))].sort();
}

/** The partition an ARN must name in a region: aws, aws-cn, aws-us-gov. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  return 'aws';
}

/** Every reason AWS would refuse what the spec and the flags ask for, given the account's answers. */
export function preflightProblems(spec: FleetSpec, answers: AccountAnswers, extra: readonly ExtraType[] = [], extraImages: readonly ExtraImage[] = []): PreflightProblem[] {
  const out: PreflightProblem[] = [];
  const where = answers.region ? ` in ${answers.region}` : '';
  const reported = new Set<string>();
  const once = (key: string, p: PreflightProblem): void => {
    if (reported.has(key)) return;
    reported.add(key);
    out.push(p);
  };

  // Network: subnets and security groups exist and share one VPC.
  const sgs = spec.defaults.securityGroups.map((id, i) => ({ id, path: ['defaults', 'security-groups', i] as ConfigPath }));
  for (const g of sgs) if (!answers.securityGroups.has(g.id)) once(`sg:${g.id}`, { path: g.path, message: `security group ${g.id} does not exist${where} (DescribeSecurityGroups)` });
  const views = spec.roles.map((r) => roleView(spec, r));
  const allSubnets = [...spec.defaults.subnets.map((id, i) => ({ id, path: ['defaults', 'subnets', i] as ConfigPath })), ...views.flatMap((v) => (v.role.subnets ? v.subnets : []))];
  for (const s of allSubnets) if (!answers.subnets.has(s.id)) once(`subnet:${formatKey(s.path)}`, { path: s.path, message: `subnet ${s.id} does not exist${where} (DescribeSubnets)` });
  const firstSg = sgs.find((g) => answers.securityGroups.has(g.id));
  const firstSubnet = allSubnets.find((s) => answers.subnets.has(s.id));
  const vpc = firstSg ? { id: answers.securityGroups.get(firstSg.id)!.vpcId, what: `security group ${firstSg.id}` } : firstSubnet ? { id: answers.subnets.get(firstSubnet.id)!.vpcId, what: `subnet ${firstSubnet.id}` } : undefined;
  if (vpc) {
    for (const g of sgs) {
      const found = answers.securityGroups.get(g.id);
      if (found && found.vpcId !== vpc.id) once(`sgvpc:${g.id}`, { path: g.path, message: `security group ${g.id} is in ${found.vpcId}, but ${vpc.what} is in ${vpc.id}: a launch's subnet and security groups must all be in one VPC` });
    }
    for (const s of allSubnets) {
      const found = answers.subnets.get(s.id);
      if (found && found.vpcId !== vpc.id) once(`subnetvpc:${formatKey(s.path)}`, { path: s.path, message: `subnet ${s.id} is in ${found.vpcId}, but ${vpc.what} is in ${vpc.id}: a launch's subnet and security groups must all be in one VPC` });
    }
  }

  // Images exist and are available.
  for (const v of views) {
    const img = answers.images.get(imageKey(v.image.ref));
    if (!img) once(`image:${formatKey(v.image.path)}`, { path: v.image.path, message: 'id' in v.image.ref ? `${describeImageRef(v.image.ref)} does not exist${where} (DescribeImages)` : `no available image of owner ${v.image.ref.owner} matches ${JSON.stringify(v.image.ref.namePattern)}${where} (DescribeImages)` });
    else if (img.state !== 'available') once(`image:${formatKey(v.image.path)}`, { path: v.image.path, message: `image ${img.id} is ${img.state}, not available` });
  }

  // Types: exist, are offered in every AZ of the role's subnets, and run the role's image.
  const checkType = (t: string, at: { path?: ConfigPath; flag?: string }, view: RoleView | undefined): void => {
    const label = at.flag ? `${at.flag} ${t}: instance type` : `instance type ${t}`;
    const archs = answers.types.get(t);
    if (!archs) {
      out.push({ ...at, message: `${label} does not exist${where} (DescribeInstanceTypes)` });
      return;
    }
    if (!view) return;
    const zones = [...new Set(view.subnets.map((s) => answers.subnets.get(s.id)?.az).filter((az): az is string => az !== undefined))].sort();
    const missing = zones.filter((az) => !answers.offerings.get(az)?.has(t));
    if (missing.length > 0) {
      const offered = zones.filter((az) => !missing.includes(az));
      const subnetIds = view.subnets.filter((s) => missing.includes(answers.subnets.get(s.id)?.az ?? '')).map((s) => s.id);
      out.push({ ...at, message: `${label} is not offered in ${missing.join(', ')} (the AZ${missing.length === 1 ? '' : 's'} of ${subnetIds.join(', ')}, role ${view.role.name}'s subnets)${offered.length ? `; offered in ${offered.join(', ')}` : ''} (DescribeInstanceTypeOfferings)` });
    }
    const img = answers.images.get(imageKey(view.image.ref));
    if (img && !archs.includes(img.architecture)) {
      out.push({ ...at, message: `${label} runs ${archs.join(', ')}, but role ${view.role.name}'s image ${img.id}${img.name ? ` (${img.name})` : ''} is ${img.architecture}: choose a type and an image of one architecture` });
    }
  };
  for (const v of views) for (const t of v.types) checkType(t.type, { path: t.path }, v);
  for (const e of extra) {
    const view = e.role !== undefined ? views.find((v) => v.role.name === e.role) : undefined;
    checkType(e.type, { flag: e.flag ?? '--type' }, view);
  }

  // An image from a flag: exists, and runs every type it will launch with.
  for (const e of extraImages) {
    const flag = e.flag ?? '--image';
    const img = answers.images.get(e.id);
    if (!img) {
      out.push({ flag, message: `${flag} ${e.id}: image does not exist${where} (DescribeImages)` });
      continue;
    }
    const view = views.find((v) => v.role.name === e.role);
    const types = e.types ?? view?.types.map((t) => t.type) ?? [];
    for (const t of types) {
      const archs = answers.types.get(t);
      if (archs && !archs.includes(img.architecture)) out.push({ flag, message: `${flag} ${img.id}${img.name ? ` (${img.name})` : ''} is ${img.architecture}, but instance type ${t} of role ${e.role} runs ${archs.join(', ')}` });
    }
  }

  // The instance profile: an ARN names this region's partition.
  const profile = spec.defaults.instanceProfile;
  if (profile !== undefined && profile.startsWith('arn:') && answers.region) {
    const partition = profile.split(':')[1];
    const want = partitionOf(answers.region);
    if (partition !== want) out.push({ path: ['defaults', 'instance-profile'], message: `instance profile ARN names partition ${partition}, but ${answers.region} is in partition ${want}: arn:${want}:iam::<account>:instance-profile/<name>` });
  }
  return out;
}

function formatKey(path: ConfigPath): string {
  return path.join('\u0000');
}
