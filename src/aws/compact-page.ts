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
 * XML (a 1,000-instance page is megabytes) until the listing ends. Concatenating flattens into
 * a fresh string that the slice then views.
 */
function own(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
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

/** The fields of an instance fleet reads, as the SDK would name them (mapped by fromSdkInstance). */
export interface CompactSdkInstance {
  InstanceId?: string;
  State?: { Name?: string };
  InstanceType?: string;
  InstanceLifecycle?: string;
  Placement?: { AvailabilityZone?: string };
  LaunchTime?: Date;
  SubnetId?: string;
  PrivateIpAddress?: string;
  ImageId?: string;
  Tags?: { Key?: string; Value?: string }[];
}

/** Tags whose values repeat across a fleet (its name, roles, generations): interned. */
const LOW_CARDINALITY_TAGS = new Set<string>([TAG.fleet, TAG.role, TAG.generation, TAG.standby]);

/** The children of an instance the scanner reads; every other one is skipped whole. */
const INSTANCE_KEEP = new Set(['instanceId', 'instanceType', 'instanceLifecycle', 'subnetId', 'privateIpAddress', 'imageId', 'launchTime', 'instanceState', 'placement', 'tagSet']);

const INSTANCE_FIELDS: Record<string, keyof CompactSdkInstance> = {
  instanceId: 'InstanceId',
  instanceType: 'InstanceType',
  instanceLifecycle: 'InstanceLifecycle',
  subnetId: 'SubnetId',
  privateIpAddress: 'PrivateIpAddress',
  imageId: 'ImageId',
};

/**
 * One DescribeInstances page (EC2 query protocol):
 * DescribeInstancesResponse / reservationSet / item / instancesSet / item (an instance, depth 5)
 * with its direct fields at depth 6, instanceState/name and placement/availabilityZone at 7,
 * tagSet / item / key|value at 8; nextToken at depth 2.
 */
export function parseDescribeInstancesPage(xml: string): { instances: CompactSdkInstance[]; nextToken?: string } {
  const instances: CompactSdkInstance[] = [];
  let nextToken: string | undefined;
  const path: string[] = [];
  let cur: CompactSdkInstance | undefined;
  let tag: { Key?: string; Value?: string } | undefined;
  walkXml(
    xml,
    (name, depth) => {
      path[depth - 1] = name;
      if (depth === 5 && name === 'item' && path[3] === 'instancesSet' && path[1] === 'reservationSet') {
        cur = {};
        instances.push(cur);
      } else if (depth === 7 && cur && name === 'item' && path[5] === 'tagSet') {
        tag = {};
        (cur.Tags ??= []).push(tag);
      }
      // Most of an instance is what fleet never reads (network interfaces, block devices,
      // groups...): jump over it. Likewise a reservation's own fields.
      if (depth === 6 && path[4] === 'item' && path[3] === 'instancesSet') return !INSTANCE_KEEP.has(name);
      if (depth === 4 && path[2] === 'item' && path[1] === 'reservationSet') return name !== 'instancesSet';
      return false;
    },
    (name, depth, leafText) => {
      if (depth === 2 && name === 'nextToken') nextToken = leafText() || undefined;
      if (!cur || path[4] !== 'item' || path[3] !== 'instancesSet') return;
      if (depth === 6) {
        const field = INSTANCE_FIELDS[name];
        if (field) (cur as Record<string, unknown>)[field] = field === 'InstanceId' || field === 'PrivateIpAddress' ? leafText() : intern(leafText());
        else if (name === 'launchTime') cur.LaunchTime = new Date(leafText());
      } else if (depth === 7) {
        if (path[5] === 'instanceState' && name === 'name') cur.State = { Name: intern(leafText()) };
        else if (path[5] === 'placement' && name === 'availabilityZone') cur.Placement = { AvailabilityZone: intern(leafText()) };
      } else if (depth === 8 && tag && path[5] === 'tagSet') {
        if (name === 'key') tag.Key = intern(leafText());
        else if (name === 'value') tag.Value = tag.Key !== undefined && LOW_CARDINALITY_TAGS.has(tag.Key) ? intern(leafText()) : leafText();
      }
    },
  );
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
      } else if (cur && depth === 6 && name === 'Value') cur.Values.push(leafText());
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
