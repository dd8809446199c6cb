/**
 * fleet.yaml -> FleetSpec. `parseConfig` is pure: it returns a complete spec or throws a
 * ConfigError carrying every problem found, each with file, line, column and path, in
 * file order. `loadConfig` adds the file read.
 */
import { open } from 'node:fs/promises';

import type * as z from 'zod';

import { ConfigError, InputError, type ConfigProblem } from '../errors.js';
import type { FleetSpec, RoleSpec } from '../model.js';
import { crossChecks } from './cross.js';
import { parseDateRange, parseDays, parseHours, toWindow } from './chaos-policy.js';
import { formatPath, hasPath, keyProblems, locate, showKey, parseYaml, type Finding, type Located, type ParsedYaml, type Path } from './document.js';
import { EXPECT, fleetSchema, KNOWN, type FleetYaml } from './schema.js';
import { bytePosition, invalidUtf8At, MAX_CONFIG_BYTES, MAX_PROBLEMS, thousands } from './limits.js';
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

/** A problem with its position; its path is formatted only if it is listed (a file may hold 250,000). */
type Pending = Omit<Located, 'path'> & { path: string | Path };

function located(parsed: ParsedYaml, f: Finding): Pending {
  const at = locate(parsed, f);
  return { line: at.line, column: at.column, path: f.path, message: f.message };
}

/** In file order; beyond MAX_PROBLEMS, one last problem counts the rest (where the first of them is). */
function toProblems(file: string, located: Pending[]): ConfigProblem[] {
  const order = located.map((_, i) => i);
  order.sort((a, b) => located[a]!.line - located[b]!.line || located[a]!.column - located[b]!.column || a - b);
  const problem = (l: Pending): ConfigProblem => ({ file, line: l.line, column: l.column, path: typeof l.path === 'string' ? l.path : formatPath(l.path), message: l.message });
  if (order.length <= MAX_PROBLEMS) return order.map((i) => problem(located[i]!));
  const next = located[order[MAX_PROBLEMS]!]!;
  const rest = order.length - MAX_PROBLEMS;
  return [...order.slice(0, MAX_PROBLEMS).map((i) => problem(located[i]!)), { file, line: next.line, column: next.column, path: '', message: `and ${thousands(rest)} more problem${rest === 1 ? '' : 's'} from here on (the first ${MAX_PROBLEMS} are listed)` }];
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
    dns: { zone: y.dns.zone, ttl: y.dns.ttl, recordQuota: y.dns['record-quota'] },
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
      // ---- chaos (issue 10)
      timezone: y.chaos.timezone,
      blackouts: y.chaos.blackout.map((w) =>
        toWindow(
          {
            ...(w.days ? { days: w.days.map((d) => parseDays(d) as number[]) } : {}),
            ...(w.hours ? { hours: parseHours(w.hours) as { from: number; to: number } } : {}),
            ...(w.dates ? { dates: w.dates.map((d) => parseDateRange(d) as { from: string; to: string }) } : {}),
          },
          w,
        ),
      ),
      rebuildBudgetSeconds: y.chaos['rebuild-budget'],
      kinds: [...new Set(y.chaos.kinds)],
    },
    interruption: {
      avoidPoolMs: y.interruption['avoid-pool-minutes'] * 60_000,
      onDemandAfter: y.interruption['on-demand-after'],
      standbyMaxAgeMs: y.interruption['standby-max-age'],
      standbyWindowMs: y.interruption['standby-window'],
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
  const fail = (problems: Pending[]): never => {
    throw new ConfigError(toProblems(file, problems));
  };
  if (text.length > MAX_CONFIG_BYTES || Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES) {
    const at = bytePosition(Buffer.from(text.slice(0, MAX_CONFIG_BYTES + 1), 'utf8'), MAX_CONFIG_BYTES);
    fail([{ line: at.line, column: at.column, path: '', message: sizeMessage(`${thousands(Buffer.byteLength(text, 'utf8'))} bytes`) }]);
  }
  const parsed = parseYaml(text);
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

  const problems: Pending[] = keyProblems(parsed);
  const result = fleetSchema.safeParse(data);
  // Keys that are lists or mappings are reported by keyProblems already; zod sees them stringified.
  const findings = (result.success ? [] : findingsOf(result.error.issues, data)).filter((f) => f.at !== 'key' || hasPath(parsed, f.path));
  // Loops, not push(...spread): a spread passes every item as an argument, and 130,000
  // findings overflow the call stack.
  for (const f of crossChecks(data)) findings.push(f);
  for (const f of findings) problems.push(located(parsed, f));
  if (!result.success && problems.length === 0) problems.push({ line: 1, column: 1, path: '', message: 'the file does not describe a fleet' });
  if (problems.length > 0 || !result.success) fail(problems);
  const spec = toSpec(result.data!);
  SOURCES.set(spec, { file, parsed });
  return spec;
}

/** Where each spec parseConfig returned came from, so later checks (the preflight) can name a line. */
const SOURCES = new WeakMap<FleetSpec, { file: string; parsed: ParsedYaml }>();

/**
 * file:line:column of a fleet.yaml path (`['roles', 'web', 'alternatives', 1]`) in the file
 * `spec` was parsed from; the mapping that should hold it when the key is absent (a default).
 * Undefined for a spec that did not come from parseConfig (built by hand, or from JSON).
 */
export function configLocation(spec: FleetSpec, path: Path): ConfigProblem | undefined {
  const src = SOURCES.get(spec);
  if (!src) return undefined;
  const at = locate(src.parsed, { path, at: 'value', message: '' });
  return { file: src.file, line: at.line, column: at.column, path: formatPath(path), message: '' };
}

/** The first MAX_CONFIG_BYTES + 1 bytes of a file: enough to tell that it is too big, never more. */
async function readBounded(file: string): Promise<{ bytes: Buffer; size: number }> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    return { bytes: buf.subarray(0, got), size: Math.max(st.size, got) };
  } finally {
    await fh.close();
  }
}

/**
 * Read and parse a fleet.yaml; a file that cannot be read is an InputError naming it. A file
 * larger than MAX_CONFIG_BYTES, or holding a byte that is not UTF-8, is a ConfigError located
 * where the limit is crossed or where the byte is.
 */
export async function loadConfig(file: string): Promise<FleetSpec> {
  let bytes: Buffer;
  let size: number;
  try {
    ({ bytes, size } = await readBounded(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a file' : code === 'EACCES' ? 'permission denied' : `cannot read it (${code ?? String(e)})`;
    throw new InputError(`cannot read ${file}: ${why}`, { cause: e, data: { file } });
  }
  if (bytes.length > MAX_CONFIG_BYTES) {
    const cut = invalidUtf8At(bytes.subarray(0, MAX_CONFIG_BYTES));
    const at = bytePosition(bytes, cut === -1 ? MAX_CONFIG_BYTES : cut);
    throw new ConfigError([{ file, line: at.line, column: at.column, path: '', message: sizeMessage(size > bytes.length ? `${thousands(size)} bytes` : 'more than that') }]);
  }
  const bad = invalidUtf8At(bytes);
  if (bad !== -1) {
    const at = bytePosition(bytes, bad);
    const b = bytes[bad]!.toString(16).toUpperCase().padStart(2, '0');
    throw new ConfigError([{ file, line: at.line, column: at.column, path: '', message: `byte 0x${b} is not UTF-8: the file is not UTF-8 text (save it as UTF-8)` }]);
  }
  return parseConfig(bytes.toString('utf8'), file);
}

function sizeMessage(size: string): string {
  return `the file is ${size}; fleet.yaml may be at most ${thousands(MAX_CONFIG_BYTES)} bytes (a fleet description is small: is this the right file?)`;
}

/** `file:line:col: path: message`, one per line (the same text ConfigError's message holds). */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? p.path + ': ' : ''}${p.message}`).join('\n');
}
