/**
 * Listings at scale: a 100,000-name fleet is 100 DescribeInstances pages of 1,000 instances and
 * 334 ListResourceRecordSets pages. The SDK turns each page into its full object graph (every
 * field of every instance, network interface, block device...) with a general XML parser and
 * schema-driven deserializers; that was most of `fleet ls`'s CPU and memory. Here the SDK still
 * signs, sends, retries and reports errors, but a successful listing page is read by a small
 * scanner that keeps only the fields fleet uses, as they are met, and the SDK is handed an empty
 * document to deserialize. Error responses are left untouched (the SDK's own error parsing and
 * retry decisions stay in charge).
 */
import { Readable } from 'node:stream';
import type { Instance, InstanceState } from '../model.js';
import { TAG } from '../tags.js';

/** The part of an SDK command's middleware stack this module uses. */
interface MiddlewareStackLike {
  add(
    mw: (next: (args: unknown) => Promise<{ response: unknown; output: unknown }>) => (args: unknown) => Promise<{ response: unknown; output: unknown }>,
    opts: { step: 'deserialize'; priority: 'low'; name: string },
  ): void;
}

interface RawResponse {
  statusCode: number;
  body?: unknown;
}

async function readAll(body: unknown): Promise<string> {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Read the successful response of `command` with `parse` instead of the SDK's deserializer.
 * Returns a getter for the parsed page (after `client.send(command)` resolved); a retried
 * attempt overwrites it. `empty` is the document the SDK deserializes in its place.
 */
export function compactPage<T>(command: { middlewareStack: unknown }, parse: (xml: string) => T, empty: string): () => T {
  let parsed: { value: T } | undefined;
  (command.middlewareStack as MiddlewareStackLike).add(
    (next) => async (args) => {
      const out = await next(args);
      const res = out.response as RawResponse;
      if (res.statusCode >= 200 && res.statusCode < 300 && res.body !== undefined) {
        parsed = { value: parse(await readAll(res.body)) };
        res.body = Readable.from([Buffer.from(empty)]);
      }
      return out;
    },
    // Inside the SDK's deserializer (lower priority runs closer to the transport): this sees
    // the raw response first.
    { step: 'deserialize', priority: 'low', name: 'fleetCompactPage' },
  );
  return () => {
    if (!parsed) throw new Error('compactPage: the response was not read (no successful response)');
    return parsed.value;
  };
}

/**
 * A copy of a slice that does not keep the page alive: V8 represents a slice of 13 characters
 * or more as a view into its parent string, so the rows of every page would pin every page's
 * XML (a 1,000-instance page is megabytes) until the listing ends. JSON.parse of the quoted
 * text makes a flat string of its own (about 40% smaller than a view into a flattened
 * concatenation, the other way to cut the tie); text it would read differently (a quote, a
 * backslash, a control character) takes that other way.
 */
const JSON_PLAIN = /^[^"\\\x00-\x1f]*$/;
export function own(s: string): string {
  if (s.length < 13) return s;
  return JSON_PLAIN.test(s) ? (JSON.parse(`"${s}"`) as string) : (' ' + s).slice(1);
}

/** Values with few distinct spellings (tag keys, states, types, zones): one string each. */
const interned = new Map<string, string>();
function intern(s: string): string {
  let v = interned.get(s);
  if (v === undefined) {
    if (interned.size > 10_000) interned.clear();
    interned.set(s, s);
    v = s;
  }
  return v;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML character data to text: the five named entities and numeric references. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e] ?? m;
  });
}

/**
 * Walk the elements of an XML document: `open(name, depth)` for each start tag, and
 * `leaf(name, depth, text)` for each element that holds text and no child element (depth 1 is
 * the root); `text()` decodes the leaf's text, only for the leaves the caller keeps (most of a
 * page is fields fleet does not read). Comments, processing instructions and CDATA-free
 * documents only: what AWS's query and REST-XML protocols send. Attributes are skipped.
 * When `open` returns true the element is skipped whole, up to its end tag (an element that
 * never contains an element of its own name: not `item`).
 */
export function walkXml(xml: string, open: (name: string, depth: number) => boolean | void, leaf: (name: string, depth: number, text: () => string) => void): void {
  let from = 0;
  let to = 0;
  const text = (): string => decodeXmlText(own(xml.slice(from, to)));
  let depth = 0;
  let i = 0;
  let textFrom = -1; // start of the current element's text, while it has no child element
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) break;
    const c = xml.charCodeAt(lt + 1);
    if (c === 63 /* ? */ || c === 33 /* ! */) {
      const end = c === 33 && xml.startsWith('<!--', lt) ? xml.indexOf('-->', lt) + 2 : xml.indexOf('>', lt);
      if (end < lt) break;
      i = end + 1;
      continue;
    }
    const gt = xml.indexOf('>', lt);
    if (gt < 0) break;
    if (c === 47 /* / */) {
      const name = xml.slice(lt + 2, gt).trim();
      if (textFrom >= 0) {
        from = textFrom;
        to = lt;
        leaf(name, depth, text);
      }
      textFrom = -1;
      depth--;
      i = gt + 1;
      continue;
    }
    const selfClosing = xml.charCodeAt(gt - 1) === 47;
    let end = lt + 1;
    while (end < gt) {
      const ch = xml.charCodeAt(end);
      if (ch === 32 || ch === 9 || ch === 10 || ch === 13 || ch === 47) break;
      end++;
    }
    const name = xml.slice(lt + 1, end);
    depth++;
    if (open(name, depth) === true && !selfClosing) {
      const close = xml.indexOf(`</${name}>`, gt + 1);
      if (close < 0) break;
      depth--;
      textFrom = -1;
      i = close + name.length + 3;
      continue;
    }
    if (selfClosing) {
      from = to = 0;
      leaf(name, depth, text);
      depth--;
      textFrom = -1;
    } else textFrom = gt + 1;
    i = gt + 1;
  }
}

/** The fields of an instance fleet reads, from a listing page or an SDK object. */
export interface InstanceFields {
  id: string;
  state?: string;
  type?: string;
  lifecycle?: string;
  az?: string;
  /** As EC2 sends it (ISO 8601 with milliseconds), or a Date from the SDK. */
  launchTime?: string | Date;
  subnetId?: string;
  privateIp?: string;
  imageId?: string;
  tags: Record<string, string>;
}

const STATES: ReadonlySet<string> = new Set<InstanceState>(['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped']);
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A date as toISOString() writes it; '' for one that is not a date (an empty launchTime). */
function isoOrEmpty(d: Date): string {
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** fleet's Instance from the fields EC2 gave: the one mapping of both the scanner and fromSdkInstance. */
export function instanceFrom(f: InstanceFields): Instance {
  const tags = f.tags;
  const gen = tags[TAG.generation];
  const generation = gen !== undefined && /^\d+$/.test(gen) ? Number(gen) : undefined;
  const lt = f.launchTime;
  const out: Instance = {
    id: f.id,
    state: f.state !== undefined && STATES.has(f.state) ? (f.state as InstanceState) : 'pending',
    type: f.type ?? '',
    market: f.lifecycle === 'spot' ? 'spot' : 'on-demand',
    az: f.az ?? '',
    // EC2's own spelling is already what toISOString() writes: kept, not re-made.
    launchTime: lt === undefined ? '' : typeof lt === 'string' && ISO_MS.test(lt) ? lt : isoOrEmpty(new Date(lt)),
    tags,
  };
  if (f.subnetId) out.subnetId = f.subnetId;
  if (f.privateIp) out.privateIp = f.privateIp;
  if (f.imageId) out.imageId = f.imageId;
  if (tags[TAG.fleet] !== undefined) out.fleet = tags[TAG.fleet];
  if (tags[TAG.name] !== undefined) out.name = tags[TAG.name];
  if (tags[TAG.role] !== undefined) out.role = tags[TAG.role];
  if (generation !== undefined) out.generation = generation;
  if (tags[TAG.converged]) out.converged = tags[TAG.converged];
  return out;
}

/** Tags whose values repeat across a fleet (its name, roles, generations): interned. */
const LOW_CARDINALITY_TAGS = new Set<string>([TAG.fleet, TAG.role, TAG.generation, TAG.standby]);

/**
 * The text of the leaf element whose start tag ends at `gt` (`<name>text</name>`), decoded;
 * '' for an element with children or without text.
 */
function leafAt(xml: string, gt: number): string {
  const end = xml.indexOf('<', gt + 1);
  if (end < 0 || xml.charCodeAt(end + 1) !== 47) return '';
  return decodeXmlText(own(xml.slice(gt + 1, end)));
}

/** The text of the first `<name>` element in xml[from, to), or undefined when there is none ('' for `<name/>`). */
function childText(xml: string, open: string, from: number, to: number): string | undefined {
  // `open` is `<name`: the next character must end the name.
  let at = xml.indexOf(open, from);
  while (at >= 0 && at < to) {
    const c = xml.charCodeAt(at + open.length);
    if (c === 62 /* > */) return leafAt(xml, at + open.length);
    if (c === 47 /* / */) return '';
    at = xml.indexOf(open, at + 1);
  }
  return undefined;
}

/** End of the name of the start tag at `lt` (the first of whitespace, '/', '>'). */
function nameEnd(xml: string, lt: number, gt: number): number {
  let end = lt + 1;
  while (end < gt) {
    const ch = xml.charCodeAt(end);
    if (ch === 32 || ch === 9 || ch === 10 || ch === 13 || ch === 47) break;
    end++;
  }
  return end;
}

/**
 * The children of one instance `<item>`, from `from` (just past its start tag) to its end tag;
 * returns the index just past `</item>`, or -1 for a document cut short. The children fleet
 * reads are taken; every other one is jumped over whole to its end tag (no child of an
 * instance holds an element of its own name, so the first end tag of that name is its own).
 */
function scanInstance(xml: string, from: number, cur: InstanceFields): number {
  let i = from;
  for (;;) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return -1;
    const c = xml.charCodeAt(lt + 1);
    const gt = xml.indexOf('>', lt);
    if (gt < 0) return -1;
    if (c === 47 /* / */) return gt + 1; // </item>
    if (c === 33 /* ! */ || c === 63 /* ? */) {
      const end = c === 33 && xml.startsWith('<!--', lt) ? xml.indexOf('-->', lt) + 3 : gt + 1;
      if (end < lt) return -1;
      i = end;
      continue;
    }
    if (xml.charCodeAt(gt - 1) === 47) {
      i = gt + 1; // <name/>: nothing in it
      continue;
    }
    const name = xml.slice(lt + 1, nameEnd(xml, lt, gt));
    const close = xml.indexOf(`</${name}>`, gt + 1);
    if (close < 0) return -1;
    switch (name) {
      case 'instanceId':
        cur.id = leafAt(xml, gt);
        break;
      case 'privateIpAddress':
        cur.privateIp = leafAt(xml, gt);
        break;
      case 'instanceType':
        cur.type = intern(leafAt(xml, gt));
        break;
      case 'instanceLifecycle':
        cur.lifecycle = intern(leafAt(xml, gt));
        break;
      case 'subnetId':
        cur.subnetId = intern(leafAt(xml, gt));
        break;
      case 'imageId':
        cur.imageId = intern(leafAt(xml, gt));
        break;
      case 'launchTime':
        cur.launchTime = leafAt(xml, gt);
        break;
      case 'instanceState': {
        const state = childText(xml, '<name', gt, close);
        if (state !== undefined) cur.state = intern(state);
        break;
      }
      case 'placement': {
        const az = childText(xml, '<availabilityZone', gt, close);
        if (az !== undefined) cur.az = intern(az);
        break;
      }
      case 'tagSet':
        scanTags(xml, gt, close, cur.tags);
        break;
    }
    i = close + name.length + 3;
  }
}

/** The `<item><key/><value/></item>` entries of a tagSet, in xml(from, to), into `tags`. */
function scanTags(xml: string, from: number, to: number, tags: Record<string, string>): void {
  let at = xml.indexOf('<item', from);
  while (at >= 0 && at < to) {
    const gt = xml.indexOf('>', at);
    if (gt < 0 || gt > to) break;
    if (xml.charCodeAt(gt - 1) === 47) {
      at = xml.indexOf('<item', gt);
      continue;
    }
    const end = xml.indexOf('</item>', gt);
    if (end < 0 || end > to) break;
    const key = childText(xml, '<key', gt, end);
    if (key !== undefined) {
      const value = childText(xml, '<value', gt, end) ?? '';
      tags[intern(key)] = LOW_CARDINALITY_TAGS.has(key) ? intern(value) : value;
    }
    at = xml.indexOf('<item', end + 7);
  }
}

/**
 * One DescribeInstances page (EC2 query protocol):
 * DescribeInstancesResponse / reservationSet / item / instancesSet / item (an instance) with
 * the fields fleet reads as its children (instanceState/name, placement/availabilityZone,
 * tagSet/item/key|value one level deeper); nextToken after the reservationSet. Each
 * instancesSet is found by its tag, each instance is read by scanInstance; the rest of the
 * document (reservations' own fields, the instances' network interfaces, block devices,
 * groups...) is jumped over, not walked.
 */
export function parseDescribeInstancesPage(xml: string): { instances: Instance[]; nextToken?: string } {
  const instances: Instance[] = [];
  let pos = 0;
  for (;;) {
    const set = xml.indexOf('<instancesSet', pos);
    if (set < 0) break;
    const setGt = xml.indexOf('>', set);
    if (setGt < 0) break;
    pos = setGt + 1;
    const after = xml.charCodeAt(set + 13);
    // <instancesSet/> holds nothing; <instancesSetX> is another element.
    if (xml.charCodeAt(setGt - 1) === 47 || (after !== 62 /* > */ && after !== 32 && after !== 9 && after !== 10 && after !== 13)) continue;
    for (;;) {
      const lt = xml.indexOf('<', pos);
      if (lt < 0) return { instances };
      const gt = xml.indexOf('>', lt);
      if (gt < 0) return { instances };
      if (xml.charCodeAt(lt + 1) === 47 /* </instancesSet> */) {
        pos = gt + 1;
        break;
      }
      if (xml.charCodeAt(gt - 1) === 47 || !xml.startsWith('<item', lt)) {
        pos = gt + 1;
        continue;
      }
      const cur: InstanceFields = { id: '', tags: {} };
      const next = scanInstance(xml, gt + 1, cur);
      if (cur.id) instances.push(instanceFrom(cur));
      if (next < 0) return { instances };
      pos = next;
    }
  }
  // nextToken is a child of the response, after the reservationSet.
  const tokenAt = xml.lastIndexOf('<nextToken');
  let nextToken: string | undefined;
  if (tokenAt >= pos) nextToken = childText(xml, '<nextToken', tokenAt, xml.length) || undefined;
  return nextToken ? { instances, nextToken } : { instances };
}

/** One record set of a ListResourceRecordSets page, as fleet keeps it. */
export interface CompactRecordSet {
  Name: string;
  Type: string;
  TTL?: number;
  Values: string[];
}

/**
 * One ListResourceRecordSets page (REST-XML): ListResourceRecordSetsResponse /
 * ResourceRecordSets / ResourceRecordSet (depth 3) with Name, Type, TTL at 4 and
 * ResourceRecords / ResourceRecord / Value at 6; IsTruncated and NextRecord* at depth 2.
 */
export function parseListRecordSetsPage(xml: string): {
  sets: CompactRecordSet[];
  isTruncated: boolean;
  nextRecordName?: string;
  nextRecordType?: string;
  nextRecordIdentifier?: string;
} {
  const sets: CompactRecordSet[] = [];
  const top: Record<string, string> = {};
  let cur: CompactRecordSet | undefined;
  walkXml(
    xml,
    (name, depth) => {
      if (depth === 3 && name === 'ResourceRecordSet') {
        cur = { Name: '', Type: '', Values: [] };
        sets.push(cur);
      }
    },
    (name, depth, leafText) => {
      if (depth === 2) top[name] = leafText();
      else if (cur && depth === 4) {
        if (name === 'Name') cur.Name = leafText();
        else if (name === 'Type') cur.Type = intern(leafText());
        else if (name === 'TTL') cur.TTL = Number(leafText());
      } else if (cur && depth === 6 && name === 'Value') {
        // A one-value literal, not a push onto []: V8 gives a pushed-onto array room for 17
        // values, 150 bytes per record at 100,000 records.
        if (cur.Values.length === 0) cur.Values = [leafText()];
        else cur.Values.push(leafText());
      }
    },
  );
  return {
    sets,
    isTruncated: top['IsTruncated'] === 'true',
    ...(top['NextRecordName'] !== undefined ? { nextRecordName: top['NextRecordName'] } : {}),
    ...(top['NextRecordType'] !== undefined ? { nextRecordType: top['NextRecordType'] } : {}),
    ...(top['NextRecordIdentifier'] !== undefined ? { nextRecordIdentifier: top['NextRecordIdentifier'] } : {}),
  };
}
