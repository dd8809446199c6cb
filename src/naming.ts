/**
 * The naming convention (DESIGN.md section 3): `<role>-<NN>` inside the zone of one
 * environment, e.g. `web-03.prod.example.com`. Pure functions only.
 *
 * Names enter from the CLI, fleet.yaml and DNS listings; all of them go through
 * `parseName`, which rejects anything that does not fit with a precise reason and never
 * "repairs" input (no lowercasing, no trimming, no Unicode normalisation).
 */
import { NameError } from './errors.js';
import type { FleetName, FleetSpec } from './model.js';

export interface NamingConvention {
  /** Zone without trailing dot, lowercase: `prod.example.com`. */
  zone: string;
  /** Zero-padding width of the index: 2 gives `web-03`. */
  indexDigits: number;
}

/** Longest role name we accept; keeps `<role>-<index>` far below the 63-character label limit. */
export const MAX_ROLE_LENGTH = 32;
/** Largest index a name may carry (whatever the padding). */
export const MAX_INDEX = 999_999;
const MAX_LABEL = 63;
const MAX_FQDN = 253;

const ROLE_RE = /^[a-z][a-z0-9]*$/;
/** Only the characters a name may hold (checked one by one, for the reason, when this fails). */
const PLAIN_NAME_RE = /^[a-z0-9.-]*$/;

export function conventionOf(spec: FleetSpec): NamingConvention {
  return { zone: spec.dns.zone, indexDigits: spec.naming.indexDigits };
}

/** The environment is the first label of the zone: `prod` for `prod.example.com`. */
export function environmentOf(zone: string): string {
  const dot = zone.indexOf('.');
  return dot === -1 ? zone : zone.slice(0, dot);
}

/** Why `role` is not a valid role name, or undefined when it is. */
export function roleProblem(role: string): string | undefined {
  if (role === '') return 'role is empty';
  if (role.length > MAX_ROLE_LENGTH) return `role is ${role.length} characters long; at most ${MAX_ROLE_LENGTH}`;
  if (/[A-Z]/.test(role)) return 'role must be lowercase';
  if (!/^[a-z]/.test(role)) return 'role must start with a letter a-z';
  if (!ROLE_RE.test(role)) {
    const bad = [...role].find((c) => !/[a-z0-9]/.test(c)) ?? '';
    return `role may hold only a-z and 0-9 after its first letter, not ${describeChar(bad)}`;
  }
  return undefined;
}

export function isValidRole(role: string): boolean {
  return roleProblem(role) === undefined;
}

/** A readable rendering of one character for error messages: `";"`, `U+00E9 "é"`. */
function describeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const hex = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
  if (cp < 0x20 || cp === 0x7f) return `control character ${hex}`;
  if (cp > 0x7e) return `${JSON.stringify(c)} (${hex})`;
  return JSON.stringify(c);
}

/**
 * Why `input` is not a name of the convention, or undefined when it is. Checks go from the
 * most basic (characters) to the most specific (padding), so the reason names the first
 * thing a person would have to fix.
 */
function nameProblem(input: string, conv: NamingConvention): { reason: string } | { short: string } {
  const fail = (reason: string) => ({ reason });
  if (input === '') return fail('name is empty');
  // The first offending character, in order, decides the reason. Most names (every record of
  // a 100,000-name zone) have none: one regular expression says so without the loop.
  if (!PLAIN_NAME_RE.test(input)) for (const c of input) {
    const cp = c.codePointAt(0) ?? 0;
    if (/\s/u.test(c)) return fail(`contains whitespace (${describeChar(c)})`);
    if (cp < 0x20 || cp === 0x7f) return fail(`contains a ${describeChar(c)}`);
    if (cp > 0x7e) return fail(`contains the non-ASCII character ${describeChar(c)}; names are plain ASCII a-z, 0-9 and "-"`);
    if (/[A-Z]/.test(c)) return fail(`contains uppercase ${JSON.stringify(c)}; names are lowercase`);
    if (!/[a-z0-9.-]/.test(c)) {
      return fail(`contains ${describeChar(c)}, which is not allowed; names hold only a-z, 0-9, "-" and the dots of the zone`);
    }
  }

  // Now plain lowercase LDH with dots. A single trailing dot marks an absolute name.
  const absolute = input.endsWith('.') ? input.slice(0, -1) : input;
  if (absolute.length > MAX_FQDN) return fail(`is ${absolute.length} characters long; a DNS name holds at most ${MAX_FQDN}`);
  const labels = absolute.split('.');
  if (labels.some((l) => l === '')) return fail('has an empty label (a leading, doubled or extra trailing dot)');
  const long = labels.find((l) => l.length > MAX_LABEL);
  if (long) return fail(`label "${long.slice(0, 20)}..." is ${long.length} characters long; a DNS label holds at most ${MAX_LABEL}`);

  const short = labels[0] ?? '';
  if (labels.length > 1) {
    const rest = labels.slice(1).join('.');
    if (absolute === conv.zone) return fail(`is the zone ${conv.zone} itself, not a name in it`);
    if (rest !== conv.zone) return fail(`${absolute} is not in zone ${conv.zone}`);
  }

  const hyphen = short.lastIndexOf('-');
  const example = `e.g. web-${'1'.padStart(conv.indexDigits, '0')}`;
  if (hyphen === -1) return fail(`missing index: expected <role>-<index>, ${example}`);
  const role = short.slice(0, hyphen);
  const digits = short.slice(hyphen + 1);
  if (digits === '') return fail(`ends with a hyphen: missing index after "${role}-", ${example}`);
  const rp = roleProblem(role);
  if (rp) return fail(`${rp} (in <role>-<index>)`);
  if (!/^[0-9]+$/.test(digits)) return fail(`index "${digits}" is not a number; expected <role>-<index>, ${example}`);
  if (/^0+$/.test(digits)) return fail('index 0: indexes start at 1');
  const padded = (n: string) => `${role}-${n.replace(/^0+/, '').padStart(conv.indexDigits, '0')}`;
  if (digits.length < conv.indexDigits) return fail(`index must be zero-padded to ${conv.indexDigits} digits (${padded(digits)})`);
  if (digits.length > conv.indexDigits && digits.startsWith('0')) {
    return fail(`leading zeros beyond the ${conv.indexDigits}-digit padding (${padded(digits)})`);
  }
  if (digits.length > String(MAX_INDEX).length || Number(digits) > MAX_INDEX) return fail(`index ${digits} is too large; at most ${MAX_INDEX}`);
  if (`${short}.${conv.zone}`.length > MAX_FQDN) return fail(`${short}.${conv.zone} is longer than ${MAX_FQDN} characters`);
  return { short };
}

/**
 * Parse a short name (`web-03`) or a name in the zone (`web-03.prod.example.com`, with or
 * without the trailing dot). Throws NameError with the reason otherwise.
 */
export function parseName(input: string, conv: NamingConvention): FleetName {
  const r = nameProblem(input, conv);
  if ('reason' in r) throw new NameError(input, r.reason);
  return build(r.short, conv);
}

function build(short: string, conv: NamingConvention): FleetName {
  const hyphen = short.lastIndexOf('-');
  return {
    name: short,
    role: short.slice(0, hyphen),
    index: Number(short.slice(hyphen + 1)),
    fqdn: `${short}.${conv.zone}`,
    environment: environmentOf(conv.zone),
    zone: conv.zone,
  };
}

/** Like parseName, for DNS listings: records that are not fleet names give undefined. */
export function tryParseName(input: string, conv: NamingConvention): FleetName | undefined {
  const r = nameProblem(input, conv);
  return 'reason' in r ? undefined : build(r.short, conv);
}

/**
 * Like tryParseName, without the parts a listing of 100,000 records does not need per record
 * (the fqdn, the environment): the short name, its role and index.
 */
export function tryParseShort(input: string, conv: NamingConvention): { name: string; role: string; index: number } | undefined {
  const r = nameProblem(input, conv);
  if ('reason' in r) return undefined;
  const hyphen = r.short.lastIndexOf('-');
  return { name: r.short, role: r.short.slice(0, hyphen), index: Number(r.short.slice(hyphen + 1)) };
}

/** The reason `input` is not a name, or undefined when it is one. */
export function nameError(input: string, conv: NamingConvention): string | undefined {
  const r = nameProblem(input, conv);
  return 'reason' in r ? r.reason : undefined;
}

/** `formatName('web', 3, conv)` is `web-03`; throws NameError for a bad role or index. */
export function formatName(role: string, index: number, conv: NamingConvention): FleetName {
  const shown = `${role}-${index}`;
  const rp = roleProblem(role);
  if (rp) throw new NameError(shown, rp);
  if (!Number.isSafeInteger(index) || index < 1) throw new NameError(shown, `index must be a whole number >= 1, got ${index}`);
  if (index > MAX_INDEX) throw new NameError(shown, `index ${index} is too large; at most ${MAX_INDEX}`);
  return parseName(`${role}-${String(index).padStart(conv.indexDigits, '0')}`, conv);
}

export function fqdnOf(name: FleetName | string, conv: NamingConvention): string {
  return typeof name === 'string' ? parseName(name, conv).fqdn : `${name.name}.${conv.zone}`;
}

/** CFEngine's canonify(): every character that is not [a-zA-Z0-9_] becomes `_`. */
export function canonify(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * The CFEngine classes a fleet instance has, in a fixed order.
 *
 * Hard classes, derived by the agent from the OS hostname (cfengine/core
 * libenv/sysinfo.c, DetectDomainName): every dot-suffix of the fully qualified host name,
 * `a.b.c.d`, `b.c.d`, `c.d` and `d` — so the top-level domain (`com`) is a class too —
 * then the unqualified host name and the domain, all canonified. This assumes the
 * bootstrap sets the hostname so that it resolves to the FQDN (user-data writes the
 * hostname and /etc/hosts), as DESIGN.md section 9 requires.
 *
 * Then the classes the bootstrap defines explicitly, because the short-name class is the
 * same in every environment: `role_<role>`, `env_<environment>` and `index_<NN>`
 * (the index as written in the name, padding included).
 */
export function cfengineClasses(name: FleetName): string[] {
  const classes: string[] = [canonify(name.name)];
  const labels = name.fqdn.split('.');
  for (let i = 0; i < labels.length; i++) classes.push(canonify(labels.slice(i).join('.')));
  classes.push(`role_${canonify(name.role)}`, `env_${canonify(name.environment)}`);
  classes.push(`index_${name.name.slice(name.role.length + 1)}`);
  return [...new Set(classes)];
}

/** Every name the spec wants: for each role in file order, index 1..count. */
export function desiredNames(spec: FleetSpec): FleetName[] {
  const conv = conventionOf(spec);
  const environment = environmentOf(conv.zone);
  const names: FleetName[] = [];
  for (const role of spec.roles) {
    if (role.count < 1) continue;
    // The first and the last name go through formatName (it throws for a bad role, index or
    // length); those between differ only in their digits, and are built as it builds them
    // without parsing each again (100,000 names).
    formatName(role.name, 1, conv);
    formatName(role.name, role.count, conv);
    for (let i = 1; i <= role.count; i++) {
      const name = `${role.name}-${String(i).padStart(conv.indexDigits, '0')}`;
      names.push({ name, role: role.name, index: i, fqdn: `${name}.${conv.zone}`, environment, zone: conv.zone });
    }
  }
  return names;
}
