/**
 * EC2's wire protocol ("ec2" query protocol): the request is a form-encoded body
 * (`Action=RunInstances&Version=2016-11-15&InstanceType=t3.small&TagSpecification.1.Tag.1.Key=...`)
 * and the response is XML in the 2016-11-15 namespace with lowerCamel element names and lists
 * as `<item>` children. Errors: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 */
import { escapeXml } from '../server.js';
import { AwsError } from '../types.js';

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** Flat query parameters of one request. */
export class Ec2Params {
  readonly flat: Map<string, string>;
  constructor(flat: Map<string, string>) {
    this.flat = flat;
  }

  static parse(body: Buffer, query?: URLSearchParams): Ec2Params {
    const flat = new Map<string, string>();
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) flat.set(k, v);
    if (query) for (const [k, v] of query) if (!flat.has(k)) flat.set(k, v);
    return new Ec2Params(flat);
  }

  get action(): string | undefined {
    return this.flat.get('Action');
  }

  str(key: string): string | undefined {
    return this.flat.get(key);
  }

  /** A required string; MissingParameter otherwise. */
  req(key: string): string {
    const v = this.flat.get(key);
    if (v === undefined || v === '') throw new AwsError('MissingParameter', `The request must contain the parameter ${key}`);
    return v;
  }

  int(key: string): number | undefined {
    const v = this.flat.get(key);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new AwsError('InvalidParameterValue', `Value (${v}) for parameter ${key} is invalid. Expected an integer.`);
    return Number(v);
  }

  bool(key: string): boolean | undefined {
    const v = this.flat.get(key);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new AwsError('InvalidParameterValue', `Value (${v}) for parameter ${key} is invalid. Expected a boolean.`);
    return v === 'true';
  }

  /** `Key.1`, `Key.2`, ... in index order (a list of scalars). */
  list(key: string): string[] {
    return this.indexes(key).map((i) => this.flat.get(`${key}.${i}`)!).filter((v) => v !== undefined);
  }

  /** `Key.1.*`, `Key.2.*`, ... as sub-parameter views (a list of structures). */
  structs(key: string): Ec2Params[] {
    return this.indexes(key).map((i) => this.sub(`${key}.${i}`));
  }

  /** The structure under `Key.` as its own view. */
  sub(prefix: string): Ec2Params {
    const p = `${prefix}.`;
    const flat = new Map<string, string>();
    for (const [k, v] of this.flat) if (k.startsWith(p)) flat.set(k.slice(p.length), v);
    return new Ec2Params(flat);
  }

  has(prefix: string): boolean {
    if (this.flat.has(prefix)) return true;
    const p = `${prefix}.`;
    for (const k of this.flat.keys()) if (k.startsWith(p)) return true;
    return false;
  }

  /** Indexes N present as `key.N` or `key.N.*`, sorted numerically. */
  indexes(key: string): number[] {
    const p = `${key}.`;
    const seen = new Set<number>();
    for (const k of this.flat.keys()) {
      if (!k.startsWith(p)) continue;
      const rest = k.slice(p.length);
      const m = /^(\d+)(\.|$)/.exec(rest);
      if (m) seen.add(Number(m[1]));
    }
    return [...seen].sort((a, b) => a - b);
  }

  /** `Filter.N.Name` / `Filter.N.Value.M` as {name, values}. */
  filters(): { name: string; values: string[] }[] {
    return this.structs('Filter').map((f) => {
      const name = f.str('Name');
      if (!name) throw new AwsError('InvalidParameterValue', 'Filter name must be specified');
      return { name, values: f.list('Value') };
    });
  }

  /** `TagSpecification.N.ResourceType` + `.Tag.M.Key/Value`. */
  tagSpecifications(): { resourceType: string; tags: { key: string; value: string }[] }[] {
    return this.structs('TagSpecification').map((ts) => ({
      resourceType: ts.str('ResourceType') ?? '',
      tags: ts.structs('Tag').map((t) => ({ key: t.str('Key') ?? '', value: t.str('Value') ?? '' })),
    }));
  }
}

/** A value to render: scalars, nested objects, and lists (rendered as `<item>` children). */
export type XmlValue = string | number | boolean | null | undefined | XmlValue[] | { [k: string]: XmlValue };

/** Render one element; `undefined` and `null` omit it; arrays become `<item>` lists. */
export function xmlElement(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => xmlElement('item', v)).join('')}</${name}>`;
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value)
      .map(([k, v]) => xmlElement(k, v))
      .join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A successful EC2 response: `<{Action}Response xmlns=...><requestId/>...fields...</...>`. */
export function ec2Response(action: string, requestId: string, fields: Record<string, XmlValue>): string {
  const inner = Object.entries(fields)
    .map(([k, v]) => xmlElement(k, v))
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`;
}

export function ec2ErrorBody(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}
