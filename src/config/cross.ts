/**
 * Checks that relate fields to one another (hub -> roles, opt-out -> roles, fallback ->
 * market, volume size -> volume type, ...). They read the raw YAML data, defensively, so
 * that they run even when unrelated fields are broken: every problem is reported at once.
 * A check whose inputs are themselves invalid is skipped; the schema reports those.
 */
import { NameError } from '../errors.js';
import type { VolumeType } from '../model.js';
import { formatName, nameError, parseName, roleProblem, type NamingConvention } from '../naming.js';
import type { Finding, Path, PathSegment } from './document.js';
import { DEFAULT_RECORD_QUOTA, MAX_RECORD_QUOTA, quote, thousands, ZONE_OWN_RECORDS } from './limits.js';
import { didYouMean } from './suggest.js';
import { matchesRole, rolePatternProblem } from './chaos-policy.js';
import { cronProblem } from './cron.js';
import { eventBridgeProblem, timezoneProblem } from './eventbridge-cron.js';
import { MAX_COUNT, normalizeZone, parseS3Location, VOLUME_IOPS, VOLUME_SIZE_GIB, VOLUME_TYPES, zoneProblem } from './validators.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const get = (v: unknown, key: string): unknown => (isObj(v) && Object.hasOwn(v, key) ? v[key] : undefined);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_COUNT;
const isMarket = (v: unknown): v is 'spot' | 'on-demand' => v === 'spot' || v === 'on-demand';
/** Values are quoted by their first characters only: a 1 MB value must not make a 1 MB message. */
const q = quote;

function suggestion(word: string, candidates: string[]): string {
  const s = didYouMean(word, candidates);
  return s === undefined ? '' : ` (did you mean '${s}'?)`;
}

function declaredList(roles: string[]): string {
  return roles.length === 0 ? 'no roles are declared' : `declared: ${roles.join(', ')}`;
}

/** Items listed twice in a list of strings. */
function duplicates(out: Finding[], path: Path, v: unknown, what: string): void {
  if (!Array.isArray(v)) return;
  const seen = new Set<unknown>();
  v.forEach((item, i) => {
    if (typeof item !== 'string') return;
    if (seen.has(item)) out.push({ path: [...path, i], at: 'value', message: `${what} ${q(item)} is listed twice` });
    seen.add(item);
  });
}

/** The naming convention, when the fields it comes from are valid. */
export function rawConvention(data: unknown): NamingConvention | undefined {
  const zone = get(get(data, 'dns'), 'zone');
  const naming = get(data, 'naming');
  const digits = naming === undefined || naming === null ? 2 : isObj(naming) ? (get(naming, 'index-digits') ?? 2) : undefined;
  if (typeof zone !== 'string' || zoneProblem(zone) !== undefined) return undefined;
  if (typeof digits !== 'number' || !Number.isInteger(digits) || digits < 1 || digits > 6) return undefined;
  return { zone: normalizeZone(zone), indexDigits: digits };
}

export function crossChecks(data: unknown): Finding[] {
  const out: Finding[] = [];
  if (!isObj(data)) return out;
  const conv = rawConvention(data);
  const roles = isObj(data['roles']) ? (data['roles'] as Obj) : undefined;
  const roleNames = roles ? Object.keys(roles) : [];
  const defaults = get(data, 'defaults');
  const defaultMarket = get(defaults, 'market') === undefined ? 'on-demand' : get(defaults, 'market');

  duplicates(out, ['defaults', 'subnets'], get(defaults, 'subnets'), 'subnet');
  duplicates(out, ['defaults', 'security-groups'], get(defaults, 'security-groups'), 'security group');

  for (const [name, role] of Object.entries(roles ?? {})) {
    const at = (...rest: PathSegment[]): Path => ['roles', name, ...rest];
    const rp = roleProblem(name);
    if (rp !== undefined) out.push({ path: at(), at: 'key', message: `role name ${q(name)}: ${rp}` });
    if (!isObj(role)) continue;

    const count = role['count'];
    if (isCount(count) && conv && count > 10 ** conv.indexDigits - 1) {
      const max = 10 ** conv.indexDigits - 1;
      out.push({
        path: at('count'),
        at: 'value',
        message: `count ${count} does not fit naming.index-digits ${conv.indexDigits} (at most ${max} names, up to ${name}-${max}); raise index-digits`,
      });
    } else if (isCount(count) && count > 0 && conv && rp === undefined) {
      try {
        formatName(name, count, conv);
      } catch (e) {
        if (!(e instanceof NameError)) throw e;
        out.push({ path: at(), at: 'key', message: `names of role ${name} do not fit the zone: ${String(e.data['reason'])}` });
      }
    }

    const market = role['market'] === undefined ? defaultMarket : role['market'];
    if (role['on-demand-fallback'] === true && isMarket(market) && market !== 'spot') {
      const from = role['market'] === undefined ? ' (from defaults.market)' : '';
      out.push({ path: at('on-demand-fallback'), at: 'value', message: `on-demand-fallback applies only to spot roles; role ${name} runs on-demand${from}` });
    }

    const type = role['type'];
    const alternatives = role['alternatives'];
    if (Array.isArray(alternatives)) {
      const seen = new Set<unknown>([type]);
      alternatives.forEach((alt, i) => {
        if (typeof alt !== 'string') return;
        if (alt === type) out.push({ path: at('alternatives', i), at: 'value', message: `alternative ${q(alt)} repeats the role's type` });
        else if (seen.has(alt)) out.push({ path: at('alternatives', i), at: 'value', message: `alternative ${q(alt)} is listed twice` });
        seen.add(alt);
      });
    }
    duplicates(out, at('subnets'), role['subnets'], 'subnet');
    volumeChecks(out, at('volume'), role['volume']);
  }

  if (roles) stateNesting(out, roles);
  if (roles) recordQuota(out, data, roles);

  // The hub: a name of a declared role, within its count.
  const hub = data['hub'];
  if (typeof hub === 'string' && conv) {
    const reason = nameError(hub, conv);
    if (reason !== undefined) {
      out.push({ path: ['hub'], at: 'value', message: `hub ${q(hub)} is not a fleet name: ${reason}` });
    } else if (roles) {
      const h = parseName(hub, conv);
      const role = roles[h.role];
      if (!Object.hasOwn(roles, h.role)) {
        out.push({ path: ['hub'], at: 'value', message: `hub ${q(hub)} is not a name of a declared role: no role '${h.role}'${suggestion(h.role, roleNames)}; ${declaredList(roleNames)}` });
      } else if (isCount(get(role, 'count')) && h.index > (get(role, 'count') as number)) {
        out.push({ path: ['hub'], at: 'value', message: `hub ${q(hub)} is beyond the count of role ${h.role} (${get(role, 'count') as number})` });
      }
    }
  }

  // Chaos policy names roles.
  const chaos = get(data, 'chaos');
  const optOut = get(chaos, 'opt-out');
  if (roles && Array.isArray(optOut)) {
    optOut.forEach((r, i) => {
      if (typeof r !== 'string' || rolePatternProblem(r) !== undefined) return;
      if (/[*?]/.test(r)) {
        if (!roleNames.some((n) => matchesRole(r, n))) out.push({ path: ['chaos', 'opt-out', i], at: 'value', message: `opt-out pattern ${q(r)} matches no declared role; ${declaredList(roleNames)}` });
      } else if (!Object.hasOwn(roles, r)) {
        out.push({ path: ['chaos', 'opt-out', i], at: 'value', message: `opt-out names ${q(r)}, which is not a declared role${suggestion(r, roleNames)}` });
      }
    });
  }
  duplicates(out, ['chaos', 'opt-out'], optOut, 'role');
  const minConverged = get(chaos, 'min-converged');
  if (roles && isObj(minConverged)) {
    for (const r of Object.keys(minConverged)) {
      if (!Object.hasOwn(roles, r)) {
        out.push({ path: ['chaos', 'min-converged', r], at: 'key', message: `min-converged names ${q(r)}, which is not a declared role${suggestion(r, roleNames)}` });
      }
    }
  }
  if (roles) chaosChecks(out, chaos, roles);
  return out;
}

/**
 * Every name is one record set of the zone, and a hosted zone holds `dns.record-quota` of
 * them (Route 53's default 10,000), its SOA and NS among them. Reported once, at the role
 * whose count crosses the limit; counts are summed, names never built, so 150 roles of
 * 100,000 cost nothing to refuse.
 */
function recordQuota(out: Finding[], data: Obj, roles: Obj): void {
  const raw = get(get(data, 'dns'), 'record-quota');
  const given = raw !== undefined;
  if (given && !(typeof raw === 'number' && Number.isInteger(raw) && raw > ZONE_OWN_RECORDS && raw <= MAX_RECORD_QUOTA)) return; // the schema says why
  const quota = given ? (raw as number) : DEFAULT_RECORD_QUOTA;
  const room = quota - ZONE_OWN_RECORDS;
  let total = 0;
  let crossed: string | undefined;
  for (const [name, role] of Object.entries(roles)) {
    const count = get(role, 'count');
    if (!isCount(count)) continue;
    total += count;
    if (crossed === undefined && total > room) crossed = name;
  }
  if (crossed === undefined) return;
  const why = given
    ? `dns.record-quota is ${thousands(quota)} record sets`
    : `a Route 53 hosted zone holds ${thousands(DEFAULT_RECORD_QUOTA)} record sets by default`;
  out.push({
    path: ['roles', crossed, 'count'],
    at: 'value',
    message: `the roles declare ${thousands(total)} names in all (role ${crossed} brings them past the limit); ${why}, ${ZONE_OWN_RECORDS} of them the zone's SOA and NS, so at most ${thousands(room)} names: lower the counts${given ? ', or raise dns.record-quota once AWS raised the quota' : ', or set dns.record-quota to the quota AWS raised for your account'}`,
  });
}

/**
 * Each name keeps its state under `s3://bucket/<prefix>/<name>/`, restored at boot with
 * `aws s3 sync` and deleted with `fleet retire --delete-state`. A role whose prefix continues
 * another role's location with one of that role's names (`s3://b/hub-01` when role hub keeps
 * its state at `s3://b`) would keep its names' state inside that name's: restored onto it and
 * deleted with it.
 */
function stateNesting(out: Finding[], roles: Obj): void {
  const locations: { role: string; bucket: string; segments: string[] }[] = [];
  for (const [role, spec] of Object.entries(roles)) {
    const raw = get(get(spec, 'state'), 's3');
    if (typeof raw !== 'string') continue;
    const loc = parseS3Location(raw);
    if (typeof loc === 'string') continue;
    locations.push({ role, bucket: loc.bucket, segments: loc.prefix === '' ? [] : loc.prefix.split('/') });
  }
  for (const inner of locations) {
    for (const outer of locations) {
      if (inner.bucket !== outer.bucket || inner.segments.length <= outer.segments.length) continue;
      if (!outer.segments.every((s, i) => inner.segments[i] === s)) continue;
      const seg = inner.segments[outer.segments.length]!;
      const m = /^([a-z][a-z0-9]*)-([0-9]+)$/.exec(seg);
      if (!m || m[1] !== outer.role) continue;
      const where = `s3://${outer.bucket}/${[...outer.segments, seg].join('/')}/`;
      out.push({
        path: ['roles', inner.role, 'state', 's3'],
        at: 'value',
        message: `${q(get(get(roles[inner.role], 'state'), 's3') as string)} lies inside ${where}, the state of ${seg} (role ${outer.role}): it would be restored onto ${seg} and deleted with it; choose a prefix outside it`,
      });
    }
  }
}

function volumeChecks(out: Finding[], path: Path, volume: unknown): void {
  if (!isObj(volume)) return;
  const t = volume['type'] === undefined ? 'gp3' : volume['type'];
  if (!(VOLUME_TYPES as readonly unknown[]).includes(t)) return;
  const type = t as VolumeType;
  const size = volume['size'];
  const sizeOk = typeof size === 'number' && Number.isInteger(size);
  if (sizeOk && size >= 1 && size <= 65536) {
    // Beyond 1..65536 the schema already said so.
    const [min, max] = VOLUME_SIZE_GIB[type];
    if (size < min || size > max) out.push({ path: [...path, 'size'], at: 'value', message: `size ${size} GiB is out of range for ${type} volumes: ${min}..${max} GiB` });
  }
  const iops = volume['iops'];
  const rule = VOLUME_IOPS[type];
  if (iops === undefined) {
    if (rule?.required) out.push({ path: [...path, 'iops'], at: 'parent', message: `missing required key 'iops': ${type} volumes need provisioned IOPS, ${rule.range[0]}..${rule.range[1]}` });
  } else if (typeof iops === 'number' && Number.isInteger(iops)) {
    if (!rule) out.push({ path: [...path, 'iops'], at: 'value', message: `iops applies only to gp3, io1 and io2 volumes, not ${type}` });
    else if (iops < rule.range[0] || iops > rule.range[1]) out.push({ path: [...path, 'iops'], at: 'value', message: `iops ${iops} is out of range for ${type} volumes: ${rule.range[0]}..${rule.range[1]}` });
    else if (sizeOk && iops > Math.max(size * rule.perGiB, type === 'gp3' ? rule.range[0] : 0)) {
      // gp3 includes 3000 IOPS at any size; beyond that, and for io1/io2, IOPS are capped per GiB.
      const max = Math.max(size * rule.perGiB, type === 'gp3' ? rule.range[0] : 0);
      out.push({ path: [...path, 'iops'], at: 'value', message: `iops ${iops} is more than a ${size} GiB ${type} volume allows (${rule.perGiB} per GiB: at most ${max})` });
    }
  }
  const throughput = volume['throughput'];
  if (throughput !== undefined && type !== 'gp3') {
    out.push({ path: [...path, 'throughput'], at: 'value', message: `throughput applies only to gp3 volumes, not ${type}` });
  }
}

// ---- chaos (issue 10) ----------------------------------------------------------------

/**
 * The chaos policy against the roles and the scheduler: a policy that lets chaos kill a role's
 * last converged name (min-converged 0 on a role it may kill), and a schedule EventBridge
 * Scheduler cannot run (the Lambda's schedule is made from it), are errors at their line.
 */
function chaosChecks(out: Finding[], chaos: unknown, roles: Obj): void {
  if (chaos !== undefined && chaos !== null && !isObj(chaos)) return;
  const c: Obj = isObj(chaos) ? chaos : {};
  const optOut = Array.isArray(c['opt-out']) ? c['opt-out'].filter((p): p is string => typeof p === 'string') : [];
  const perRun = c['max-kills-per-run'] === undefined ? 1 : c['max-kills-per-run'];
  const perRole = c['max-kills-per-role'] === undefined ? 1 : c['max-kills-per-role'];
  const kills = typeof perRun === 'number' && perRun > 0 && typeof perRole === 'number' && perRole > 0;
  const minMap = isObj(c['min-converged']) ? c['min-converged'] : {};
  const dflt = c['min-converged-default'] === undefined ? 1 : c['min-converged-default'];
  if (kills) {
    for (const [role, spec] of Object.entries(roles)) {
      const count = get(spec, 'count');
      if (!isCount(count) || count === 0 || optOut.some((p) => matchesRole(p, role))) continue;
      const own = Object.hasOwn(minMap, role);
      const min = own ? minMap[role] : dflt;
      if (min !== 0) continue;
      out.push({
        path: own ? ['chaos', 'min-converged', role] : ['chaos', 'min-converged-default'],
        at: 'value',
        message: `min-converged 0${own ? '' : ' (the default)'} lets chaos kill the last converged name of role ${role} (count ${count}): the role could go to zero; set at least 1, or opt ${role} out`,
      });
    }
  }
  const schedule = c['schedule'] === undefined ? '0 3 * * 1-5' : c['schedule'];
  const tz = c['timezone'] === undefined ? 'UTC' : c['timezone'];
  if (typeof schedule === 'string' && cronProblem(schedule) === undefined && typeof tz === 'string' && timezoneProblem(tz) === undefined) {
    const p = eventBridgeProblem(schedule, tz);
    if (p !== undefined && c['schedule'] !== undefined) out.push({ path: ['chaos', 'schedule'], at: 'value', message: `the nightly schedule cannot run on EventBridge Scheduler: ${p}` });
  }
}
