/**
 * The Route 53 service of the local cloud: REST-XML, API version 2013-04-01, signing name
 * `route53`, spoken exactly as the AWS SDK v3 (de)serializes it.
 *
 * Operations: CreateHostedZone, GetHostedZone, DeleteHostedZone, ListHostedZones,
 * ListHostedZonesByName, GetHostedZoneCount, ChangeResourceRecordSets,
 * ListResourceRecordSets, GetChange.
 *
 * Behaviour follows AWS: a change batch is validated as a whole and applied atomically, so
 * `[DELETE old, CREATE new]` is a compare-and-swap; every problem of a rejected batch is
 * reported in one InvalidChangeBatch whose message is the bracketed list AWS sends
 * (`[msg1, msg2]`); names are lowercase with a trailing dot and escaped (`*` -> `\052`);
 * records are listed by name with labels reversed, then type, 300 at most per page; changes
 * are PENDING until `delays.dnsSyncMs` of simulated time has passed, then INSYNC (evaluated
 * lazily on the clock). Records are kept per zone in a lazily re-sorted array (see
 * store.ts), so writing batches and listing 100,000 records page by page stay linear.
 *
 * Quota: 10,000 record sets per hosted zone, the AWS default (InvalidChangeBatch beyond it);
 * `control.setRecordSetQuota(n)` models a quota increase, and seedRecords raises the quota
 * of the zone it fills so that the API can still add records afterwards.
 */
import { AwsError, type ActionInfo, type ServiceModule, type SimContext, type SimRequest, type SimResponse } from '../types.js';
import { escapeXml } from '../server.js';
import { child, childrenNamed, childText, parseXml, tag, wrap, XmlError, type XmlElement } from './xml.js';
import { formatName, isProblem, isWithin, parseDnsName, recordNameKey, sameName, zoneNameKey, type DnsName } from './names.js';
import { checkValue, isRRType, MAX_VALUE_LENGTH, RR_TYPES, type RRType } from './rdata.js';
import { RecordStore, rrKey, type AliasTarget, type GeoLocation, type RRSet } from './store.js';

export const ROUTE53_NAMESPACE = 'https://route53.amazonaws.com/doc/2013-04-01/';
const API_PREFIX = '/2013-04-01';
/** AWS default quota: records (record sets) per hosted zone. */
export const DEFAULT_RECORD_SET_QUOTA = 10_000;
const MAX_RECORDS_PER_REQUEST = 1000;
const MAX_VALUE_CHARS_PER_REQUEST = 32_000;
const MAX_LIST_RECORDS = 300;
const MAX_LIST_ZONES = 100;

/** A record as the control interface shows and seeds it. */
export interface Route53RecordData {
  /** As Route 53 returns it: lowercase, escaped (`\052` for `*`), trailing dot. */
  name: string;
  type: string;
  ttl?: number;
  values: string[];
  setIdentifier?: string;
  alias?: AliasTarget;
}

export interface Route53SeedRecord {
  /** With or without the trailing dot; must be the zone or below it. */
  name: string;
  type: string;
  ttl: number;
  values: string[];
}

export interface Route53Control {
  /** Zone names (no trailing dot), oldest first. */
  zones(): string[];
  /** The id (`Z...`, without `/hostedzone/`) of the oldest zone with this name, if any. */
  zoneId(name: string): string | undefined;
  /** Every record set of the zone (by name or id) in ListResourceRecordSets order; [] if no such zone. */
  records(zone: string): Route53RecordData[];
  /**
   * Bulk-load records, bypassing the API (no throttling, no change batches, no per-request
   * limits): each record is validated on its own (name inside the zone, type, TTL, values)
   * and replaces any record set with the same name and type. Creates the (public) zone when
   * no zone has that name. Raises that zone's record-set quota to its new size + 10,000.
   * Throws an Error naming the first bad record. Returns the zone id.
   */
  seedRecords(zoneName: string, records: Route53SeedRecord[]): string;
  /** ChangeResourceRecordSets batches accepted so far. */
  changes(): number;
  /** Answer the next `n` ChangeResourceRecordSets on this zone (name or id) with PriorRequestNotComplete (400). */
  setPriorRequestNotComplete(zone: string, n: number): void;
  /** Record sets allowed per hosted zone, every zone (AWS default 10,000); a zone filled by seedRecords keeps its raised floor. */
  setRecordSetQuota(n: number): void;
}

export interface Route53Service extends ServiceModule {
  readonly control: Route53Control;
}

interface Zone {
  id: string;
  name: DnsName;
  /** As returned: `example.com.` */
  nameText: string;
  /** ListHostedZonesByName order. */
  nameKey: string;
  callerReference: string;
  comment?: string;
  privateZone: boolean;
  vpcs: { region: string; id: string }[];
  nameServers: string[];
  records: RecordStore;
  /** Keys of the apex SOA and NS record sets. */
  soaKey: string;
  nsKey: string;
  priorRequestNotComplete: number;
  /** Quota floor set by seedRecords (the zone holds at least this many record sets). */
  seedQuota: number;
}

interface ChangeRecord {
  id: string;
  submittedAt: number;
  syncAt: number;
  comment?: string;
}

type Route =
  | { action: 'CreateHostedZone' }
  | { action: 'ListHostedZones' }
  | { action: 'ListHostedZonesByName' }
  | { action: 'GetHostedZoneCount' }
  | { action: 'GetHostedZone' | 'DeleteHostedZone' | 'ChangeResourceRecordSets' | 'ListResourceRecordSets'; id: string }
  | { action: 'GetChange'; id: string };

type Action = 'CREATE' | 'DELETE' | 'UPSERT';

interface ParsedChange {
  /** 1-based position in the batch (for validation messages). */
  index: number;
  action: Action;
  rawName: string;
  type: RRType;
  setIdentifier?: string;
  ttl?: number;
  values: string[];
  alias?: AliasTarget;
  weight?: number;
  region?: string;
  failover?: string;
  multiValueAnswer?: boolean;
  geoLocation?: GeoLocation;
  healthCheckId?: string;
}

function validation(value: string | undefined, path: string, constraint: string): AwsError {
  const v = value === undefined ? 'null' : `'${value}'`;
  return new AwsError('InvalidInput', `1 validation error detected: Value ${v} at '${path}' failed to satisfy constraint: ${constraint}`, 400);
}

function invalidInput(message: string): AwsError {
  return new AwsError('InvalidInput', message, 400);
}

function invalidChangeBatch(messages: string[]): AwsError {
  return new AwsError('InvalidChangeBatch', `[${messages.join(', ')}]`, 400, { messages });
}

function noSuchHostedZone(id: string): AwsError {
  return new AwsError('NoSuchHostedZone', `No hosted zone found with ID: ${id}`, 404);
}

function xmlDoc(root: string, inner: string): string {
  return `<?xml version="1.0"?>\n<${root} xmlns="${ROUTE53_NAMESPACE}">${inner}</${root}>`;
}

function ok(root: string, inner: string, status = 200, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { 'content-type': 'text/xml', ...headers }, body: xmlDoc(root, inner) };
}

function parseBody(req: SimRequest, rootName: string): XmlElement {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(req.body);
  } catch {
    throw invalidInput('Invalid XML ; Invalid byte 1 of 1-byte UTF-8 sequence.');
  }
  if (text.trim() === '') throw invalidInput('Invalid XML ; Premature end of file.');
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (err) {
    if (err instanceof XmlError) throw invalidInput(`Invalid XML ; ${err.message}`);
    throw err;
  }
  if (root.name !== rootName) throw invalidInput(`Invalid XML ; cvc-elt.1: Cannot find the declaration of element '${root.name}'.`);
  return root;
}

function parseBool(text: string | undefined, path: string): boolean | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw invalidInput(`Invalid XML ; cvc-datatype-valid.1.2.1: '${text}' is not a valid value for 'boolean'. (${path})`);
}

function parseLong(text: string | undefined, path: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^[+-]?[0-9]{1,19}$/.test(t)) throw invalidInput(`Invalid XML ; cvc-datatype-valid.1.2.1: '${text}' is not a valid value for 'integer'. (${path})`);
  return Number(t);
}

function parseMaxItems(q: URLSearchParams): number | undefined {
  const raw = q.get('maxitems');
  if (raw === null) return undefined;
  if (!/^[0-9]{1,10}$/.test(raw)) throw invalidInput(`Invalid value for maxitems: '${raw}'. It must be a positive integer.`);
  const v = Number(raw);
  if (v < 1) throw validation(raw, 'maxItems', 'Member must have value greater than or equal to 1');
  return v;
}

function checkId(id: string, path: string): void {
  if (id.length > 32) throw validation(id, path, 'Member must have length less than or equal to 32');
}

function rrLabel(name: string, type: string, setIdentifier: string | undefined): string {
  return setIdentifier === undefined ? `[name='${name}', type='${type}']` : `[name='${name}', type='${type}', set-identifier='${setIdentifier}']`;
}

function sameMulti(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** DELETE must match the current record set exactly: TTL, every value (as parsed data), alias and routing fields. */
function matches(cur: RRSet, req: RRSet): boolean {
  if (cur.ttl !== req.ttl) return false;
  if (!sameMulti(cur.canon, req.canon)) return false;
  if (!!cur.alias !== !!req.alias) return false;
  if (cur.alias && req.alias) {
    if (cur.alias.hostedZoneId !== req.alias.hostedZoneId || cur.alias.dnsName !== req.alias.dnsName || cur.alias.evaluateTargetHealth !== req.alias.evaluateTargetHealth) return false;
  }
  if (cur.weight !== req.weight || cur.region !== req.region || cur.failover !== req.failover || cur.multiValueAnswer !== req.multiValueAnswer) return false;
  if (cur.healthCheckId !== req.healthCheckId) return false;
  const g1 = cur.geoLocation;
  const g2 = req.geoLocation;
  if (!!g1 !== !!g2) return false;
  if (g1 && g2 && (g1.continentCode !== g2.continentCode || g1.countryCode !== g2.countryCode || g1.subdivisionCode !== g2.subdivisionCode)) return false;
  return true;
}

function renderRRSet(r: RRSet): string {
  let s = tag('Name', r.name) + tag('Type', r.type) + tag('SetIdentifier', r.setIdentifier) + tag('Weight', r.weight) + tag('Region', r.region);
  if (r.geoLocation) {
    const g = r.geoLocation;
    s += wrap('GeoLocation', tag('ContinentCode', g.continentCode) + tag('CountryCode', g.countryCode) + tag('SubdivisionCode', g.subdivisionCode));
  }
  s += tag('Failover', r.failover) + tag('MultiValueAnswer', r.multiValueAnswer) + tag('TTL', r.ttl);
  if (!r.alias) s += wrap('ResourceRecords', r.values.map((v) => wrap('ResourceRecord', tag('Value', v))).join(''));
  if (r.alias) {
    s += wrap('AliasTarget', tag('HostedZoneId', r.alias.hostedZoneId) + tag('DNSName', r.alias.dnsName) + tag('EvaluateTargetHealth', r.alias.evaluateTargetHealth));
  }
  s += tag('HealthCheckId', r.healthCheckId);
  return wrap('ResourceRecordSet', s);
}

export function createRoute53(ctx: SimContext): Route53Service {
  const zonesById = new Map<string, Zone>();
  /** Sorted by id (= creation order; ids come from a counter). */
  let zoneList: Zone[] = [];
  /** ListHostedZonesByName order, rebuilt when zones change. */
  let byNameCache: Zone[] | undefined;
  const usedCallerReferences = new Set<string>();
  const changes = new Map<string, ChangeRecord>();
  let acceptedBatches = 0;
  let quota = DEFAULT_RECORD_SET_QUOTA;
  let zoneSerial = 0;

  const newId = (prefix: string): string => prefix + ctx.ids.next(prefix.toLowerCase()).slice(2).toUpperCase();

  function newChange(comment?: string): ChangeRecord {
    const now = ctx.clock.now();
    const c: ChangeRecord = { id: newId('C'), submittedAt: now, syncAt: now + ctx.delays.dnsSyncMs };
    if (comment !== undefined) c.comment = comment;
    changes.set(c.id, c);
    return c;
  }

  /**
   * `asSubmitted`: the answer to the request that submitted the change, which describes it
   * as of its submission (PENDING, as Route 53 answers) whatever time passed while the request
   * was handled: on a starved CPU the sync delay of a fast local cloud can pass within it.
   * GetChange answers as of now.
   */
  function renderChangeInfo(c: ChangeRecord, asSubmitted = false): string {
    const at = asSubmitted ? c.submittedAt : ctx.clock.now();
    const status = at >= c.syncAt ? 'INSYNC' : 'PENDING';
    return wrap('ChangeInfo', tag('Id', `/change/${c.id}`) + tag('Status', status) + tag('SubmittedAt', new Date(Math.floor(c.submittedAt)).toISOString()) + tag('Comment', c.comment));
  }

  function renderZone(z: Zone): string {
    return wrap(
      'HostedZone',
      tag('Id', `/hostedzone/${z.id}`) +
        tag('Name', z.nameText) +
        tag('CallerReference', z.callerReference) +
        wrap('Config', tag('Comment', z.comment) + tag('PrivateZone', z.privateZone)) +
        tag('ResourceRecordSetCount', z.records.size),
    );
  }

  function renderDelegationSet(z: Zone): string {
    return wrap('DelegationSet', wrap('NameServers', z.nameServers.map((n) => tag('NameServer', n)).join('')));
  }

  function renderVpcs(z: Zone): string {
    return z.vpcs.map((v) => wrap('VPC', tag('VPCRegion', v.region) + tag('VPCId', v.id))).join('');
  }

  function getZone(id: string): Zone {
    const z = zonesById.get(id);
    if (!z) throw noSuchHostedZone(id);
    return z;
  }

  function makeRRSet(name: DnsName, type: string, fields: Omit<RRSet, 'key' | 'name' | 'type' | 'canon' | 'values'> & { values: string[]; canon?: string[] }): RRSet {
    const rr: RRSet = {
      key: rrKey(recordNameKey(name), type, fields.setIdentifier),
      name: formatName(name),
      type,
      values: fields.values,
      canon: fields.canon ?? [...fields.values].sort(),
    };
    for (const k of ['setIdentifier', 'ttl', 'alias', 'weight', 'region', 'failover', 'multiValueAnswer', 'geoLocation', 'healthCheckId'] as const) {
      if (fields[k] !== undefined) (rr as unknown as Record<string, unknown>)[k] = fields[k];
    }
    return rr;
  }

  function createZone(name: DnsName, callerReference: string, opts: { comment?: string; vpc?: { region: string; id: string } }): Zone {
    const id = newId('Z');
    const n = zoneSerial++;
    const pick = (mul: number, add: number): string => `${(n * mul + add) % 2048}`;
    const dns = (k: number): string => String((n * 7 + k * 13) % 64).padStart(2, '0');
    const nameServers = [`ns-${pick(37, 5)}.awsdns-${dns(0)}.com`, `ns-${pick(53, 517)}.awsdns-${dns(1)}.net`, `ns-${pick(71, 1029)}.awsdns-${dns(2)}.org`, `ns-${pick(89, 1541)}.awsdns-${dns(3)}.co.uk`];
    const records = new RecordStore();
    const soa = makeRRSet(name, 'SOA', { ttl: 900, values: [`${nameServers[0]}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400`] });
    soa.canon = soa.values.map((v) => (checkValue('SOA', v) as { canon: string }).canon);
    const nsValues = nameServers.map((s) => `${s}.`);
    const ns = makeRRSet(name, 'NS', { ttl: 172800, values: nsValues, canon: nsValues.map((v) => (checkValue('NS', v) as { canon: string }).canon).sort() });
    records.add(ns);
    records.add(soa);
    const zone: Zone = {
      id,
      name,
      nameText: formatName(name),
      nameKey: zoneNameKey(name),
      callerReference,
      privateZone: opts.vpc !== undefined,
      vpcs: opts.vpc ? [opts.vpc] : [],
      nameServers,
      records,
      soaKey: soa.key,
      nsKey: ns.key,
      priorRequestNotComplete: 0,
      seedQuota: 0,
    };
    if (opts.comment !== undefined) zone.comment = opts.comment;
    usedCallerReferences.add(callerReference);
    zonesById.set(id, zone);
    zoneList.push(zone); // ids grow with the counter, so the list stays sorted
    byNameCache = undefined;
    return zone;
  }

  function zonesByName(): Zone[] {
    if (!byNameCache) {
      byNameCache = [...zoneList].sort((a, b) => (a.nameKey < b.nameKey ? -1 : a.nameKey > b.nameKey ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return byNameCache;
  }

  function findZone(nameOrId: string): Zone | undefined {
    const byId = zonesById.get(nameOrId.replace(/^\/hostedzone\//, ''));
    if (byId) return byId;
    const parsed = parseDnsName(nameOrId);
    if (isProblem(parsed)) return undefined;
    return zoneList.find((z) => sameName(z.name, parsed));
  }

  // ---------------------------------------------------------------- routing

  function route(req: SimRequest): Route {
    const cached = req.memo.get('route53.route') as Route | undefined;
    if (cached) return cached;
    const unknown = (): AwsError => new AwsError('UnknownOperationException', `The local cloud's Route 53 has no operation for ${req.method} ${req.path}`, 404);
    if (!req.path.startsWith(`${API_PREFIX}/`)) throw unknown();
    let segs: string[];
    try {
      segs = req.path
        .slice(API_PREFIX.length + 1)
        .split('/')
        .map((s) => decodeURIComponent(s));
    } catch {
      throw invalidInput('The request path is not valid percent-encoding.');
    }
    while (segs.length > 0 && segs[segs.length - 1] === '') segs.pop();
    const m = req.method;
    let r: Route | undefined;
    if (segs[0] === 'hostedzone') {
      if (segs.length === 1) r = m === 'POST' ? { action: 'CreateHostedZone' } : m === 'GET' ? { action: 'ListHostedZones' } : undefined;
      else if (segs.length === 2 && segs[1]) r = m === 'GET' ? { action: 'GetHostedZone', id: segs[1] } : m === 'DELETE' ? { action: 'DeleteHostedZone', id: segs[1] } : undefined;
      else if (segs.length === 3 && segs[1] && segs[2] === 'rrset') {
        r = m === 'POST' ? { action: 'ChangeResourceRecordSets', id: segs[1] } : m === 'GET' ? { action: 'ListResourceRecordSets', id: segs[1] } : undefined;
      }
    } else if (segs.length === 1 && segs[0] === 'hostedzonesbyname' && m === 'GET') r = { action: 'ListHostedZonesByName' };
    else if (segs.length === 1 && segs[0] === 'hostedzonecount' && m === 'GET') r = { action: 'GetHostedZoneCount' };
    else if (segs.length === 2 && segs[0] === 'change' && segs[1] && m === 'GET') r = { action: 'GetChange', id: segs[1] };
    if (!r) throw unknown();
    req.memo.set('route53.route', r);
    return r;
  }

  // ---------------------------------------------------------------- operations

  function createHostedZone(req: SimRequest): SimResponse {
    const root = parseBody(req, 'CreateHostedZoneRequest');
    const rawName = childText(root, 'Name');
    const callerReference = childText(root, 'CallerReference');
    if (rawName === undefined) throw validation(undefined, 'name', 'Member must not be null');
    if (callerReference === undefined) throw validation(undefined, 'callerReference', 'Member must not be null');
    if (rawName.length > 1024) throw validation(rawName, 'name', 'Member must have length less than or equal to 1024');
    if (callerReference.length < 1 || callerReference.length > 128) {
      throw validation(callerReference, 'callerReference', `Member must have length ${callerReference.length < 1 ? 'greater than or equal to 1' : 'less than or equal to 128'}`);
    }
    const cfg = child(root, 'HostedZoneConfig');
    const comment = cfg ? childText(cfg, 'Comment') : undefined;
    if (comment !== undefined && comment.length > 256) throw validation(comment, 'hostedZoneConfig.comment', 'Member must have length less than or equal to 256');
    const privateFlag = cfg ? parseBool(childText(cfg, 'PrivateZone'), 'hostedZoneConfig.privateZone') : undefined;
    const vpcEl = child(root, 'VPC');
    let vpc: { region: string; id: string } | undefined;
    if (vpcEl) {
      const region = childText(vpcEl, 'VPCRegion');
      const id = childText(vpcEl, 'VPCId');
      if (!region || !id) throw invalidInput('If you specify a VPC, you must specify both VPCId and VPCRegion.');
      vpc = { region, id };
    }
    if (privateFlag === true && !vpc) throw invalidInput('When you create a private hosted zone (PrivateZone is true), you must also specify a VPC with VPCId and VPCRegion.');
    const delegationSetId = childText(root, 'DelegationSetId');
    if (delegationSetId !== undefined) throw new AwsError('NoSuchDelegationSet', `The local cloud has no reusable delegation set ${delegationSetId}.`, 400);
    const name = parseDnsName(rawName);
    if (isProblem(name) || name.labels.length === 0) {
      const why = isProblem(name) ? name.description : 'the root domain cannot be a hosted zone';
      throw new AwsError('InvalidDomainName', `${rawName} is not a valid domain name: ${why}.`, 400);
    }
    if (usedCallerReferences.has(callerReference)) {
      throw new AwsError('HostedZoneAlreadyExists', 'A hosted zone has already been created with the specified caller reference.', 409);
    }
    const opts: { comment?: string; vpc?: { region: string; id: string } } = {};
    if (comment !== undefined) opts.comment = comment;
    if (vpc) opts.vpc = vpc;
    const zone = createZone(name, callerReference, opts);
    const change = newChange();
    const inner = renderZone(zone) + renderChangeInfo(change, true) + (zone.privateZone ? renderVpcs(zone) : renderDelegationSet(zone));
    return ok('CreateHostedZoneResponse', inner, 201, { location: `https://route53.amazonaws.com/2013-04-01/hostedzone/${zone.id}` });
  }

  function getHostedZone(id: string): SimResponse {
    checkId(id, 'id');
    const z = getZone(id);
    const extra = z.privateZone ? wrap('VPCs', renderVpcs(z)) : renderDelegationSet(z);
    return ok('GetHostedZoneResponse', renderZone(z) + extra);
  }

  function deleteHostedZone(id: string): SimResponse {
    checkId(id, 'id');
    const z = getZone(id);
    const required = (z.records.get(z.soaKey) ? 1 : 0) + (z.records.get(z.nsKey) ? 1 : 0);
    if (z.records.size > required) {
      throw new AwsError('HostedZoneNotEmpty', 'The specified hosted zone contains non-required resource record sets and so cannot be deleted.', 400);
    }
    zonesById.delete(z.id);
    zoneList = zoneList.filter((x) => x !== z);
    byNameCache = undefined;
    return ok('DeleteHostedZoneResponse', renderChangeInfo(newChange(), true));
  }

  function listHostedZones(q: URLSearchParams): SimResponse {
    const marker = q.get('marker') ?? undefined;
    const maxRaw = parseMaxItems(q);
    const max = Math.min(maxRaw ?? MAX_LIST_ZONES, MAX_LIST_ZONES);
    const type = q.get('hostedzonetype');
    if (type !== null && type !== 'PrivateHostedZone') {
      throw validation(type, 'hostedZoneType', 'Member must satisfy enum value set: [PrivateHostedZone]');
    }
    const ds = q.get('delegationsetid');
    if (ds !== null) throw new AwsError('NoSuchDelegationSet', `The local cloud has no reusable delegation set ${ds}.`, 400);
    let i = 0;
    if (marker !== undefined) {
      let lo = 0;
      let hi = zoneList.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (zoneList[mid]!.id < marker) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
    }
    const page: Zone[] = [];
    let next: Zone | undefined;
    for (; i < zoneList.length; i++) {
      const z = zoneList[i]!;
      if (type === 'PrivateHostedZone' && !z.privateZone) continue;
      if (page.length === max) {
        next = z;
        break;
      }
      page.push(z);
    }
    const inner =
      wrap('HostedZones', page.map(renderZone).join('')) +
      tag('Marker', marker) +
      tag('IsTruncated', next !== undefined) +
      tag('NextMarker', next?.id) +
      tag('MaxItems', maxRaw ?? MAX_LIST_ZONES);
    return ok('ListHostedZonesResponse', inner);
  }

  function listHostedZonesByName(q: URLSearchParams): SimResponse {
    const dnsName = q.get('dnsname') ?? undefined;
    const hostedZoneId = q.get('hostedzoneid') ?? undefined;
    const maxRaw = parseMaxItems(q);
    const max = Math.min(maxRaw ?? MAX_LIST_ZONES, MAX_LIST_ZONES);
    if (hostedZoneId !== undefined && dnsName === undefined) {
      throw invalidInput('If you specify hostedzoneid, you must also specify dnsname.');
    }
    const list = zonesByName();
    let start = 0;
    if (dnsName !== undefined) {
      const parsed = parseDnsName(dnsName);
      if (isProblem(parsed)) throw new AwsError('InvalidDomainName', `${dnsName} is not a valid domain name: ${parsed.description}.`, 400);
      const key = zoneNameKey(parsed);
      const id = hostedZoneId ?? '';
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const z = list[mid]!;
        if (z.nameKey < key || (z.nameKey === key && z.id < id)) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const page = list.slice(start, start + max);
    const next = list[start + max];
    const inner =
      wrap('HostedZones', page.map(renderZone).join('')) +
      tag('DNSName', dnsName) +
      tag('HostedZoneId', hostedZoneId) +
      tag('IsTruncated', next !== undefined) +
      tag('NextDNSName', next?.nameText) +
      tag('NextHostedZoneId', next?.id) +
      tag('MaxItems', maxRaw ?? MAX_LIST_ZONES);
    return ok('ListHostedZonesByNameResponse', inner);
  }

  function getHostedZoneCount(): SimResponse {
    return ok('GetHostedZoneCountResponse', tag('HostedZoneCount', zoneList.length));
  }

  function getChange(id: string): SimResponse {
    checkId(id, 'id');
    const c = changes.get(id);
    if (!c) throw new AwsError('NoSuchChange', `A change with the specified change ID does not exist: ${id}`, 404);
    return ok('GetChangeResponse', renderChangeInfo(c));
  }

  function listResourceRecordSets(id: string, q: URLSearchParams): SimResponse {
    checkId(id, 'hostedZoneId');
    const name = q.get('name') ?? undefined;
    const type = q.get('type') ?? undefined;
    const identifier = q.get('identifier') ?? undefined;
    const maxRaw = parseMaxItems(q);
    if (type !== undefined && !isRRType(type)) throw validation(type, 'type', `Member must satisfy enum value set: [${RR_TYPES.join(', ')}]`);
    if (type !== undefined && name === undefined) throw invalidInput('The input is not valid: you specified a type (StartRecordType) but not a name (StartRecordName).');
    if (identifier !== undefined && type === undefined) throw invalidInput('The input is not valid: you specified an identifier (StartRecordIdentifier) but not a type (StartRecordType).');
    if (identifier !== undefined && (identifier.length < 1 || identifier.length > 128)) throw validation(identifier, 'startRecordIdentifier', 'Member must have length less than or equal to 128');
    const zone = getZone(id);
    const max = Math.min(maxRaw ?? MAX_LIST_RECORDS, MAX_LIST_RECORDS);
    let start = 0;
    if (name !== undefined) {
      const parsed = parseDnsName(name);
      if (isProblem(parsed)) throw invalidInput(`Invalid name ${name}: ${parsed.description}.`);
      let startKey = recordNameKey(parsed) + '\u0000';
      if (type !== undefined) startKey += type + '\u0000' + (identifier ?? '');
      start = zone.records.lowerBound(startKey);
    }
    const all = zone.records.sorted();
    const end = Math.min(all.length, start + max);
    let body = '';
    for (let i = start; i < end; i++) body += renderRRSet(all[i]!);
    const next = all[end];
    const inner =
      wrap('ResourceRecordSets', body) +
      tag('IsTruncated', next !== undefined) +
      tag('NextRecordName', next?.name) +
      tag('NextRecordType', next?.type) +
      tag('NextRecordIdentifier', next?.setIdentifier) +
      tag('MaxItems', maxRaw ?? MAX_LIST_RECORDS);
    return ok('ListResourceRecordSetsResponse', inner);
  }

  function parseChanges(root: XmlElement): { changes: ParsedChange[]; comment?: string } {
    const batch = child(root, 'ChangeBatch');
    if (!batch) throw validation(undefined, 'changeBatch', 'Member must not be null');
    const comment = childText(batch, 'Comment');
    if (comment !== undefined && comment.length > 256) throw validation(comment, 'changeBatch.comment', 'Member must have length less than or equal to 256');
    const list = child(batch, 'Changes');
    if (!list) throw validation(undefined, 'changeBatch.changes', 'Member must not be null');
    const items = childrenNamed(list, 'Change');
    if (items.length === 0) throw validation('[]', 'changeBatch.changes', 'Member must have length greater than or equal to 1');
    const out: ParsedChange[] = [];
    items.forEach((el, i) => {
      const index = i + 1;
      const p = `changeBatch.changes.${index}.member`;
      const action = childText(el, 'Action');
      if (action === undefined) throw validation(undefined, `${p}.action`, 'Member must not be null');
      if (action !== 'CREATE' && action !== 'DELETE' && action !== 'UPSERT') throw validation(action, `${p}.action`, 'Member must satisfy enum value set: [CREATE, DELETE, UPSERT]');
      const rrs = child(el, 'ResourceRecordSet');
      if (!rrs) throw validation(undefined, `${p}.resourceRecordSet`, 'Member must not be null');
      const rp = `${p}.resourceRecordSet`;
      const rawName = childText(rrs, 'Name');
      if (rawName === undefined) throw validation(undefined, `${rp}.name`, 'Member must not be null');
      if (rawName.length > 1024) throw validation(rawName, `${rp}.name`, 'Member must have length less than or equal to 1024');
      const type = childText(rrs, 'Type');
      if (type === undefined) throw validation(undefined, `${rp}.type`, 'Member must not be null');
      if (!isRRType(type)) throw validation(type, `${rp}.type`, `Member must satisfy enum value set: [${RR_TYPES.join(', ')}]`);
      const pc: ParsedChange = { index, action, rawName, type, values: [] };
      const setIdentifier = childText(rrs, 'SetIdentifier');
      if (setIdentifier !== undefined) {
        if (setIdentifier.length < 1 || setIdentifier.length > 128) throw validation(setIdentifier, `${rp}.setIdentifier`, 'Member must have length less than or equal to 128');
        pc.setIdentifier = setIdentifier;
      }
      const ttl = parseLong(childText(rrs, 'TTL'), `${rp}.tTL`);
      if (ttl !== undefined) {
        if (ttl < 0) throw validation(String(ttl), `${rp}.tTL`, 'Member must have value greater than or equal to 0');
        if (ttl > 2147483647) throw validation(String(ttl), `${rp}.tTL`, 'Member must have value less than or equal to 2147483647');
        pc.ttl = ttl;
      }
      const weight = parseLong(childText(rrs, 'Weight'), `${rp}.weight`);
      if (weight !== undefined) {
        if (weight < 0 || weight > 255) throw validation(String(weight), `${rp}.weight`, `Member must have value ${weight < 0 ? 'greater than or equal to 0' : 'less than or equal to 255'}`);
        pc.weight = weight;
      }
      const region = childText(rrs, 'Region');
      if (region !== undefined) pc.region = region;
      const failover = childText(rrs, 'Failover');
      if (failover !== undefined) {
        if (failover !== 'PRIMARY' && failover !== 'SECONDARY') throw validation(failover, `${rp}.failover`, 'Member must satisfy enum value set: [PRIMARY, SECONDARY]');
        pc.failover = failover;
      }
      const mva = parseBool(childText(rrs, 'MultiValueAnswer'), `${rp}.multiValueAnswer`);
      if (mva !== undefined) pc.multiValueAnswer = mva;
      const geo = child(rrs, 'GeoLocation');
      if (geo) {
        const g: GeoLocation = {};
        const cc = childText(geo, 'ContinentCode');
        const co = childText(geo, 'CountryCode');
        const sc = childText(geo, 'SubdivisionCode');
        if (cc !== undefined) g.continentCode = cc;
        if (co !== undefined) g.countryCode = co;
        if (sc !== undefined) g.subdivisionCode = sc;
        pc.geoLocation = g;
      }
      const hc = childText(rrs, 'HealthCheckId');
      if (hc !== undefined) pc.healthCheckId = hc;
      for (const unsupported of ['TrafficPolicyInstanceId', 'CidrRoutingConfig', 'GeoProximityLocation']) {
        if (child(rrs, unsupported)) throw invalidInput(`The local cloud does not support ${unsupported} in ResourceRecordSet (change ${index}).`);
      }
      const rrList = child(rrs, 'ResourceRecords');
      if (rrList) {
        const recs = childrenNamed(rrList, 'ResourceRecord');
        if (recs.length === 0) throw validation('[]', `${rp}.resourceRecords`, 'Member must have length greater than or equal to 1');
        recs.forEach((r, k) => {
          const v = childText(r, 'Value');
          if (v === undefined) throw validation(undefined, `${rp}.resourceRecords.${k + 1}.member.value`, 'Member must not be null');
          if (v.length > MAX_VALUE_LENGTH) throw validation(v, `${rp}.resourceRecords.${k + 1}.member.value`, `Member must have length less than or equal to ${MAX_VALUE_LENGTH}`);
          pc.values.push(v);
        });
      }
      const aliasEl = child(rrs, 'AliasTarget');
      if (aliasEl) {
        const hz = childText(aliasEl, 'HostedZoneId');
        const dn = childText(aliasEl, 'DNSName');
        const eth = parseBool(childText(aliasEl, 'EvaluateTargetHealth'), `${rp}.aliasTarget.evaluateTargetHealth`);
        if (hz === undefined) throw validation(undefined, `${rp}.aliasTarget.hostedZoneId`, 'Member must not be null');
        if (dn === undefined) throw validation(undefined, `${rp}.aliasTarget.dNSName`, 'Member must not be null');
        if (eth === undefined) throw validation(undefined, `${rp}.aliasTarget.evaluateTargetHealth`, 'Member must not be null');
        const parsedTarget = parseDnsName(dn);
        pc.alias = { hostedZoneId: hz, dnsName: isProblem(parsedTarget) ? dn : formatName(parsedTarget), evaluateTargetHealth: eth };
      }
      // Exactly one of AliasTarget or (TTL and ResourceRecords), as AWS checks it.
      const parsedName = parseDnsName(rawName);
      const shownName = isProblem(parsedName) ? rawName : formatName(parsedName);
      const where = `in Change with [Action=${action}, Name=${shownName}, Type=${type}, SetIdentifier=${setIdentifier ?? 'null'}]`;
      const hasRecords = pc.ttl !== undefined && rrList !== undefined;
      if (pc.alias && (pc.ttl !== undefined || rrList !== undefined)) {
        throw invalidInput(`Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found more than one ${where}`);
      }
      if (!pc.alias && !hasRecords) {
        throw invalidInput(`Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none ${where}`);
      }
      const policies = [pc.weight, pc.region, pc.failover, pc.geoLocation, pc.multiValueAnswer].filter((x) => x !== undefined).length;
      if (setIdentifier !== undefined && policies !== 1) {
        throw invalidInput(`Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found ${policies === 0 ? 'none' : 'more than one'} ${where}`);
      }
      if (setIdentifier === undefined && policies > 0) throw invalidInput(`Invalid request: Missing field 'SetIdentifier' ${where}`);
      out.push(pc);
    });
    const res: { changes: ParsedChange[]; comment?: string } = { changes: out };
    if (comment !== undefined) res.comment = comment;
    return res;
  }

  function changeResourceRecordSets(id: string, req: SimRequest): SimResponse {
    checkId(id, 'hostedZoneId');
    const root = parseBody(req, 'ChangeResourceRecordSetsRequest');
    const { changes: batch, comment } = parseChanges(root);
    const zone = getZone(id);

    // Per-request limits: ResourceRecord elements and value characters; UPSERT counts twice.
    let recordCount = 0;
    let charCount = 0;
    for (const c of batch) {
      const mult = c.action === 'UPSERT' ? 2 : 1;
      recordCount += c.values.length * mult;
      for (const v of c.values) charCount += v.length * mult;
    }
    if (recordCount > MAX_RECORDS_PER_REQUEST) throw invalidChangeBatch([`Number of records limit of ${MAX_RECORDS_PER_REQUEST} exceeded.`]);
    if (charCount > MAX_VALUE_CHARS_PER_REQUEST) throw invalidChangeBatch([`RDATA character limit of ${MAX_VALUE_CHARS_PER_REQUEST} exceeded.`]);

    if (zone.priorRequestNotComplete > 0) {
      zone.priorRequestNotComplete--;
      throw new AwsError('PriorRequestNotComplete', 'The request was rejected because Route 53 was still processing a prior request.', 400);
    }

    const messages: string[] = [];
    const zoneText = zone.nameText;
    // 1. Each change on its own: name, zone membership, values.
    const prepared: { c: ParsedChange; rr: RRSet; name: DnsName }[] = [];
    for (const c of batch) {
      const parsed = parseDnsName(c.rawName);
      if (isProblem(parsed)) {
        messages.push(`Invalid Resource Record: 'FATAL problem: ${parsed.code} (${parsed.description}) encountered with '${c.rawName}''`);
        continue;
      }
      const shown = formatName(parsed);
      if (!isWithin(parsed, zone.name)) {
        messages.push(`RRSet with DNS name ${shown} is not permitted in zone ${zoneText}`);
        continue;
      }
      const before = messages.length;
      const canon: string[] = [];
      const seen = new Set<string>();
      for (const v of c.values) {
        const r = checkValue(c.type, v);
        if ('error' in r) {
          messages.push(r.error);
          continue;
        }
        if (seen.has(r.canon)) messages.push(`Duplicate Resource Record: '${v}'`);
        seen.add(r.canon);
        canon.push(r.canon);
      }
      const apex = sameName(parsed, zone.name);
      if ((c.type === 'CNAME' || c.type === 'SOA') && c.values.length > 1) {
        messages.push(`RRSet of type ${c.type} with DNS name ${shown} has more than one ResourceRecord; a ${c.type} record set must have exactly one value.`);
      }
      if (c.type === 'CNAME' && apex) messages.push(`RRSet of type CNAME with DNS name ${shown} is not permitted at apex in zone ${zoneText}`);
      if (c.type === 'SOA' && !apex) messages.push(`RRSet of type SOA with DNS name ${shown} is not permitted because SOA records are only allowed at the apex of zone ${zoneText}`);
      if (messages.length > before) continue;
      const fields: Omit<RRSet, 'key' | 'name' | 'type' | 'canon' | 'values'> & { values: string[]; canon?: string[] } = { values: c.values, canon: canon.sort() };
      for (const k of ['setIdentifier', 'ttl', 'alias', 'weight', 'region', 'failover', 'multiValueAnswer', 'geoLocation', 'healthCheckId'] as const) {
        if (c[k] !== undefined) (fields as Record<string, unknown>)[k] = c[k];
      }
      prepared.push({ c, rr: makeRRSet(parsed, c.type, fields), name: parsed });
    }

    // 2. Sets of changes to one record set that AWS refuses: allowed are [CREATE], [DELETE],
    //    [UPSERT] and [DELETE, CREATE] (the compare-and-swap).
    const byKey = new Map<string, Action[]>();
    for (const p of prepared) {
      const list = byKey.get(p.rr.key) ?? [];
      list.push(p.c.action);
      byKey.set(p.rr.key, list);
    }
    const badKeys = new Set<string>();
    for (const [key, acts] of byKey) {
      const ok1 = acts.length === 1;
      const cas = acts.length === 2 && acts[0] === 'DELETE' && acts[1] === 'CREATE';
      if (!ok1 && !cas) badKeys.add(key);
    }
    const reportedBad = new Set<string>();

    // 3. Apply in order to an overlay of the zone, checking against the state so far.
    const overlay = new Map<string, RRSet | null>();
    const typeDelta = new Map<string, Map<string, number>>();
    const view = (key: string): RRSet | undefined => (overlay.has(key) ? (overlay.get(key) ?? undefined) : zone.records.get(key));
    const countAt = (name: string, type: string): number => zone.records.countAt(name, type) + (typeDelta.get(name)?.get(type) ?? 0);
    const bump = (name: string, type: string, d: number): void => {
      let m = typeDelta.get(name);
      if (!m) typeDelta.set(name, (m = new Map()));
      m.set(type, (m.get(type) ?? 0) + d);
    };
    const otherTypesAt = (name: string, except: string): boolean => {
      const types = new Set<string>([...zone.records.typesAt(name).keys(), ...(typeDelta.get(name)?.keys() ?? [])]);
      for (const t of types) if (t !== except && countAt(name, t) > 0) return true;
      return false;
    };
    let added = 0;
    const conflicts = (rr: RRSet): string | undefined => {
      if (rr.type === 'CNAME' && otherTypesAt(rr.name, 'CNAME')) {
        return `RRSet of type CNAME with DNS name ${rr.name} is not permitted as it conflicts with other records with the same DNS name in zone ${zoneText}`;
      }
      if (rr.type !== 'CNAME' && countAt(rr.name, 'CNAME') > 0) {
        return `RRSet of type ${rr.type} with DNS name ${rr.name} is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone ${zoneText}`;
      }
      const nameKey = rr.key.slice(0, rr.key.indexOf('\u0000'));
      const plain = view(rrKey(nameKey, rr.type, undefined));
      if (rr.setIdentifier !== undefined && plain) {
        return `RRSet with DNS name ${rr.name}, type ${rr.type}, SetIdentifier ${rr.setIdentifier} cannot be created because a non-weighted set exists with the same name and type.`;
      }
      if (rr.setIdentifier === undefined && countAt(rr.name, rr.type) > 0) {
        return `RRSet with DNS name ${rr.name} and type ${rr.type} cannot be created because a weighted set exists with the same name and type.`;
      }
      return undefined;
    };
    for (const { c, rr } of prepared) {
      if (badKeys.has(rr.key)) {
        if (!reportedBad.has(rr.key)) {
          reportedBad.add(rr.key);
          messages.push(`The request contains an invalid set of changes for a resource record set '${rr.type} ${rr.name}'`);
        }
        continue;
      }
      const cur = view(rr.key);
      const label = rrLabel(rr.name, rr.type, rr.setIdentifier);
      if (c.action === 'CREATE') {
        if (cur) {
          messages.push(`Tried to create resource record set ${label} but it already exists`);
          continue;
        }
        const why = conflicts(rr);
        if (why) {
          messages.push(why);
          continue;
        }
        overlay.set(rr.key, rr);
        bump(rr.name, rr.type, 1);
        added++;
      } else if (c.action === 'DELETE') {
        if (!cur) {
          messages.push(`Tried to delete resource record set ${label} but it was not found`);
          continue;
        }
        if (!matches(cur, rr)) {
          messages.push(`Tried to delete resource record set ${label} but the values provided do not match the current values`);
          continue;
        }
        overlay.set(rr.key, null);
        bump(rr.name, rr.type, -1);
        added--;
      } else {
        if (cur) {
          overlay.set(rr.key, rr);
        } else {
          const why = conflicts(rr);
          if (why) {
            messages.push(why);
            continue;
          }
          overlay.set(rr.key, rr);
          bump(rr.name, rr.type, 1);
          added++;
        }
      }
    }
    // 4. The zone must keep its apex SOA and NS.
    if (overlay.get(zone.soaKey) === null) messages.push('A HostedZone must contain exactly one SOA record.');
    if (overlay.get(zone.nsKey) === null) messages.push('A HostedZone must contain at least one NS record for the zone itself.');
    if (messages.length === 0 && zone.records.size + added > Math.max(quota, zone.seedQuota)) {
      messages.push(`Exceeded limit MAX_RRSETS_BY_ZONE for zone: ${zone.id}`);
    }
    if (messages.length > 0) throw invalidChangeBatch(messages);

    // 5. Commit: nothing above changed the zone; now apply every change at once.
    for (const [key, next] of overlay) {
      const old = zone.records.get(key);
      if (next === null) {
        if (old) zone.records.remove(old);
      } else if (old) {
        zone.records.replace(old, next);
      } else {
        zone.records.add(next);
      }
    }
    acceptedBatches++;
    const change = newChange(comment);
    return ok('ChangeResourceRecordSetsResponse', renderChangeInfo(change, true));
  }

  // ---------------------------------------------------------------- control

  function seedRecords(zoneName: string, records: Route53SeedRecord[]): string {
    const parsedZone = parseDnsName(zoneName);
    if (isProblem(parsedZone) || parsedZone.labels.length === 0) throw new Error(`seedRecords: "${zoneName}" is not a valid zone name`);
    let zone = zoneList.find((z) => sameName(z.name, parsedZone));
    if (!zone) {
      let ref = `local-cloud-seed:${formatName(parsedZone)}`;
      for (let k = 2; usedCallerReferences.has(ref); k++) ref = `local-cloud-seed:${formatName(parsedZone)}:${k}`;
      zone = createZone(parsedZone, ref, {});
    }
    const prepared: RRSet[] = [];
    records.forEach((r, i) => {
      const where = `seedRecords: record ${i} (${r?.name} ${r?.type})`;
      if (typeof r?.name !== 'string') throw new Error(`${where}: name must be a string`);
      const name = parseDnsName(r.name);
      if (isProblem(name)) throw new Error(`${where}: ${name.description}`);
      if (!isWithin(name, parsedZone)) throw new Error(`${where}: not in zone ${formatName(parsedZone)}`);
      if (typeof r.type !== 'string' || !isRRType(r.type)) throw new Error(`${where}: unknown type`);
      if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > 2147483647) throw new Error(`${where}: ttl must be an integer 0..2147483647`);
      if (!Array.isArray(r.values) || r.values.length === 0) throw new Error(`${where}: values must be a non-empty array`);
      const canon: string[] = [];
      for (const v of r.values) {
        const c = typeof v === 'string' ? checkValue(r.type, v) : { error: 'value must be a string' };
        if ('error' in c) throw new Error(`${where}: ${c.error}`);
        canon.push(c.canon);
      }
      prepared.push(makeRRSet(name, r.type, { ttl: r.ttl, values: [...r.values], canon: canon.sort() }));
    });
    for (const rr of prepared) zone.records.add(rr);
    zone.seedQuota = Math.max(zone.seedQuota, zone.records.size + DEFAULT_RECORD_SET_QUOTA);
    return zone.id;
  }

  const control: Route53Control = {
    zones: () => zoneList.map((z) => z.nameText.slice(0, -1)),
    zoneId(name) {
      const parsed = parseDnsName(name);
      if (isProblem(parsed)) return undefined;
      return zoneList.find((z) => sameName(z.name, parsed))?.id;
    },
    records(zoneRef) {
      const z = findZone(zoneRef);
      if (!z) return [];
      return z.records.sorted().map((r) => {
        const d: Route53RecordData = { name: r.name, type: r.type, values: [...r.values] };
        if (r.ttl !== undefined) d.ttl = r.ttl;
        if (r.setIdentifier !== undefined) d.setIdentifier = r.setIdentifier;
        if (r.alias) d.alias = { ...r.alias };
        return d;
      });
    },
    seedRecords,
    changes: () => acceptedBatches,
    setPriorRequestNotComplete(zoneRef, n) {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`setPriorRequestNotComplete: n must be a whole number >= 0, got ${n}`);
      const z = findZone(zoneRef);
      if (!z) throw new Error(`setPriorRequestNotComplete: no hosted zone named or with id "${zoneRef}"`);
      z.priorRequestNotComplete = n;
    },
    setRecordSetQuota(n) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`setRecordSetQuota: n must be a whole number >= 1, got ${n}`);
      quota = n;
    },
  };

  return {
    service: 'route53',
    control,
    action(req: SimRequest): ActionInfo {
      // Account bucket, the action's own bucket and, for a change batch, one change-throughput
      // token per Change element (src/sim/faults.ts DEFAULT_BUCKETS).
      const action = route(req).action;
      const also = [{ bucket: `route53:action:${action}`, n: 1 }];
      if (action === 'ChangeResourceRecordSets') {
        const changes = req.body.toString('utf8').match(/<Change>/g)?.length ?? 0;
        if (changes > 0) also.push({ bucket: 'route53:changes', n: changes });
      }
      return { action, bucket: 'route53:api', alsoBuckets: also };
    },
    handle(req: SimRequest): SimResponse {
      const r = route(req);
      switch (r.action) {
        case 'CreateHostedZone':
          return createHostedZone(req);
        case 'ListHostedZones':
          return listHostedZones(req.query);
        case 'ListHostedZonesByName':
          return listHostedZonesByName(req.query);
        case 'GetHostedZoneCount':
          return getHostedZoneCount();
        case 'GetHostedZone':
          return getHostedZone(r.id);
        case 'DeleteHostedZone':
          return deleteHostedZone(r.id);
        case 'ChangeResourceRecordSets':
          return changeResourceRecordSets(r.id, req);
        case 'ListResourceRecordSets':
          return listResourceRecordSets(r.id, req.query);
        case 'GetChange':
          return getChange(r.id);
      }
    },
    renderError(err: AwsError, req: SimRequest): SimResponse {
      const type = err.status >= 500 ? 'Receiver' : 'Sender';
      const body = xmlDoc('ErrorResponse', wrap('Error', tag('Type', type) + tag('Code', err.code) + tag('Message', err.message)) + `<RequestId>${escapeXml(req.requestId)}</RequestId>`);
      return { status: err.status, headers: { 'content-type': 'text/xml' }, body };
    },
    throttleError: () => new AwsError('Throttling', 'Rate exceeded', 400),
    serverError(status: number): AwsError {
      if (status === 503) return new AwsError('ServiceUnavailable', 'The request has failed due to a temporary failure of the server.', 503);
      return new AwsError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', status);
    },
  };
}
