/**
 * fleet.yaml -> FleetSpec. `parseConfig` is pure: it returns a complete spec or throws a
 * ConfigError carrying every problem found, each with file, line, column and path, in
 * file order. `loadConfig` adds the file read.
 */
import { readFile } from 'node:fs/promises';

import type * as z from 'zod';

import { ConfigError, InputError, type ConfigProblem } from '../errors.js';
import type { FleetSpec, RoleSpec } from '../model.js';
import { crossChecks } from './cross.js';
import { formatPath, hasPath, keyProblems, locate, showKey, parseYaml, type Finding, type Located, type ParsedYaml, type Path } from './document.js';
import { EXPECT, fleetSchema, KNOWN, type FleetYaml } from './schema.js';
import { didYouMean } from './suggest.js';
import { show } from './validators.js';

const TOP_KEYS = 'fleet, dns, hub, journal, defaults and roles';

function valueAt(data: unknown, path: Path): { found: boolean; value: unknown; parentIsMapping: boolean } {
  let cur: unknown = data;
  let parentIsMapping = false;
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null) return { found: false, value: undefined, parentIsMapping: false };
    parentIsMapping = !Array.isArray(cur);
    if (!Object.hasOwn(cur, seg)) return { found: false, value: undefined, parentIsMapping };
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return { found: true, value: cur, parentIsMapping };
}

/** Turn zod issues into findings with our wording. */
function findingsOf(issues: readonly z.core.$ZodIssue[], data: unknown): Finding[] {
  const out: Array<Finding & { suggests?: string }> = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const last = path[path.length - 1];
    const missing = (expected: string): Finding => ({ path, at: 'parent', message: `missing required key ${showKey(String(last))}: expected ${expected}` });
    if (issue.code === 'unrecognized_keys') {
      const known = issue.message.startsWith(KNOWN) ? issue.message.slice(KNOWN.length).split(',') : [];
      for (const key of issue.keys) {
        const guess = didYouMean(key, known);
        const message = guess !== undefined ? `unknown key ${showKey(key)} (did you mean '${guess}'?)` : `unknown key ${showKey(key)}; expected one of: ${known.join(', ')}`;
        out.push({ path: [...path, key], at: 'key', message, ...(guess !== undefined ? { suggests: guess } : {}) });
      }
    } else if (issue.code === 'custom' && issue.params?.['missing'] === true) {
      out.push(missing(issue.message));
    } else if (issue.message.startsWith(EXPECT)) {
      const expected = issue.message.slice(EXPECT.length);
      const v = valueAt(data, path);
      if (!v.found && v.parentIsMapping && last !== undefined) out.push(missing(expected));
      else out.push({ path, at: 'value', message: `expected ${expected}, got ${show(v.value)}` });
    } else {
      out.push({ path, at: 'value', message: issue.message });
    }
  }
  // A typo of a required key reads as one problem, not two: drop "missing 'count'" when
  // the same mapping has an unknown key suggesting 'count'.
  const suggested = new Set(out.filter((f) => f.suggests !== undefined).map((f) => formatPath([...f.path.slice(0, -1), f.suggests!])));
  return out.filter((f) => !(f.at === 'parent' && suggested.has(formatPath(f.path))));
}

function located(parsed: ParsedYaml, f: Finding): Located {
  return { ...locate(parsed, f), path: formatPath(f.path), message: f.message };
}

function toProblems(file: string, located: Located[]): ConfigProblem[] {
  return located
    .map((l, i) => ({ l, i }))
    .sort((a, b) => a.l.line - b.l.line || a.l.column - b.l.column || a.i - b.i)
    .map(({ l }) => ({ file, line: l.line, column: l.column, path: l.path, message: l.message }));
}

function toSpec(y: FleetYaml): FleetSpec {
  const roles: RoleSpec[] = Object.entries(y.roles).map(([name, r]) => {
    const role: RoleSpec = {
      name,
      count: r.count,
      instanceType: r.type,
      alternativeTypes: r.alternatives ?? [],
      market: r.market ?? y.defaults.market,
      onDemandFallback: r['on-demand-fallback'] ?? false,
    };
    if (r.image !== undefined) role.image = r.image;
    if (r.subnets !== undefined) role.subnets = r.subnets;
    if (r.state !== undefined) role.stateS3 = r.state.s3;
    if (r['instance-profile'] !== undefined) role.instanceProfile = r['instance-profile'];
    if (r.volume !== undefined) {
      const v = r.volume;
      role.volume = { sizeGiB: v.size, type: v.type, device: v.device, mountPoint: v.mount };
      if (v.iops !== undefined) role.volume.iops = v.iops;
      if (v.throughput !== undefined) role.volume.throughputMiBps = v.throughput;
    }
    return role;
  });
  const zk = y.coordination.zookeeper;
  const hub = y.hub.split('.')[0]!; // validated as a name in the zone: keep the short name
  const spec: FleetSpec = {
    fleet: y.fleet,
    dns: { zone: y.dns.zone, ttl: y.dns.ttl },
    naming: { indexDigits: y.naming['index-digits'] },
    hub,
    journal: { bucket: y.journal.bucket, prefix: y.journal.prefix },
    defaults: {
      image: y.defaults.image,
      subnets: y.defaults.subnets,
      securityGroups: y.defaults['security-groups'],
      market: y.defaults.market,
    },
    roles,
    coordination: zk ? { zookeeper: { connect: zk.connect, sessionTimeoutMs: zk['session-timeout'] } } : {},
    reconcile: {
      orphanGraceMs: y.reconcile['orphan-grace'],
      convergeTimeoutMs: y.reconcile['converge-timeout'],
      concurrency: y.reconcile.concurrency,
      intervalMs: y.reconcile.interval,
    },
    chaos: {
      schedule: y.chaos.schedule,
      optOutRoles: y.chaos['opt-out'],
      maxKillsPerRun: y.chaos['max-kills-per-run'],
      maxKillsPerRole: y.chaos['max-kills-per-role'],
      minConvergedPerRole: { ...y.chaos['min-converged'] },
      defaultMinConverged: y.chaos['min-converged-default'],
      minSecondsBetweenKills: y.chaos['min-time-between-kills'],
      leashed: y.chaos.leashed,
    },
  };
  if (y.region !== undefined) spec.region = y.region;
  if (y.alerts.email !== undefined) spec.alerts = { email: y.alerts.email };
  if (y.policy !== undefined) spec.policyS3 = { ...y.policy };
  if (y.defaults['instance-profile'] !== undefined) spec.defaults.instanceProfile = y.defaults['instance-profile'];
  // Defaults are shared constants: give every caller its own copy.
  return structuredClone(spec);
}

/**
 * Parse fleet.yaml text. `file` is only used in messages. Throws ConfigError with every
 * problem found. A file that is not valid YAML reports its syntax errors only: the
 * schema cannot be checked on a tree the parser had to guess.
 */
export function parseConfig(text: string, file: string): FleetSpec {
  const parsed = parseYaml(text);
  const fail = (problems: Located[]): never => {
    throw new ConfigError(toProblems(file, problems));
  };
  if (parsed.syntax.length > 0) fail(parsed.syntax);
  if (parsed.doc.contents === null || (parsed.doc.contents as { value?: unknown }).value === null) {
    fail([{ line: 1, column: 1, path: '', message: `the file is empty; expected a mapping with ${TOP_KEYS}` }]);
  }

  let data: unknown;
  try {
    data = parsed.doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail([{ line: 1, column: 1, path: '', message: `cannot read the YAML: ${e instanceof Error ? e.message : String(e)}` }]);
  }

  const problems: Located[] = keyProblems(parsed);
  const result = fleetSchema.safeParse(data);
  // Keys that are lists or mappings are reported by keyProblems already; zod sees them stringified.
  const findings = (result.success ? [] : findingsOf(result.error.issues, data)).filter((f) => f.at !== 'key' || hasPath(parsed, f.path));
  findings.push(...crossChecks(data));
  problems.push(...findings.map((f) => located(parsed, f)));
  if (!result.success && problems.length === 0) problems.push({ line: 1, column: 1, path: '', message: 'the file does not describe a fleet' });
  if (problems.length > 0 || !result.success) fail(problems);
  return toSpec(result.data!);
}

/** Read and parse a fleet.yaml; a file that cannot be read is an InputError naming it. */
export async function loadConfig(file: string): Promise<FleetSpec> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a file' : code === 'EACCES' ? 'permission denied' : `cannot read it (${code ?? String(e)})`;
    throw new InputError(`cannot read ${file}: ${why}`, { cause: e, data: { file } });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new InputError(`cannot read ${file}: it is not UTF-8 text`, { cause: e, data: { file } });
  }
  return parseConfig(text, file);
}

/** `file:line:col: path: message`, one per line (the same text ConfigError's message holds). */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? p.path + ': ' : ''}${p.message}`).join('\n');
}
