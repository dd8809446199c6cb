/**
 * Record values (RDATA in presentation format) as Route 53 validates them, with its error
 * wording (`Invalid Resource Record: 'FATAL problem: <Code> (<description>) encountered
 * with '<value>''`), and the canonical form used to compare values (DELETE must match the
 * current values exactly; Route 53 compares the parsed data, not the spelling).
 */
import { isIPv6 } from 'node:net';
import { isProblem, parseDnsName, formatName } from './names.js';

/** Every type the API accepts (the RRType enum). */
export const RR_TYPES = ['SOA', 'A', 'TXT', 'NS', 'CNAME', 'MX', 'NAPTR', 'PTR', 'SRV', 'SPF', 'AAAA', 'CAA', 'DS', 'TLSA', 'SSHFP', 'SVCB', 'HTTPS'] as const;
export type RRType = (typeof RR_TYPES)[number];
const TYPE_SET = new Set<string>(RR_TYPES);

export function isRRType(t: string): t is RRType {
  return TYPE_SET.has(t);
}

/** Longest Value the API accepts. */
export const MAX_VALUE_LENGTH = 4000;

export function fatal(code: string, description: string, value: string): string {
  return `Invalid Resource Record: 'FATAL problem: ${code} (${description}) encountered with '${value}''`;
}

const IPV4_RE = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

function uint(s: string | undefined, max: number): number | undefined {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return undefined;
  const v = Number(s);
  return v <= max ? v : undefined;
}

/** A domain name inside RDATA, canonical (lowercase, escaped, trailing dot), or undefined if invalid. */
function rdataName(s: string | undefined): string | undefined {
  if (s === undefined || s === '') return undefined;
  const n = parseDnsName(s);
  if (isProblem(n)) return undefined;
  return formatName(n);
}

/**
 * Character strings of TXT/SPF data: one or more `"..."` separated by blanks. Inside the quotes
 * `\"`, `\\` and `\ooo` escapes count as one character. Returns the decoded strings or a problem.
 */
export function parseCharacterStrings(value: string): string[] | { code: string; description: string } {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  const quoted = { code: 'InvalidCharacterString', description: 'Value should be enclosed in quotation marks' };
  while (i < n) {
    const c = value.charAt(i);
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c !== '"') return quoted;
    i++;
    let s = '';
    let closed = false;
    while (i < n) {
      const d = value.charAt(i);
      if (d === '"') {
        closed = true;
        i++;
        break;
      }
      if (d === '\\') {
        const oct = /^[0-7]{3}/.exec(value.slice(i + 1, i + 4));
        if (oct) {
          const v = Number.parseInt(oct[0], 8);
          if (v > 0o377) return { code: 'InvalidCharacterString', description: 'Escape code is out of range' };
          s += String.fromCharCode(v);
          i += 4;
          continue;
        }
        if (i + 1 >= n) return quoted;
        s += value.charAt(i + 1);
        i += 2;
        continue;
      }
      const code = value.charCodeAt(i);
      if (code < 0x20 || code > 0x7e) return { code: 'InvalidCharacterString', description: 'Value contains a character that must be escaped' };
      s += d;
      i++;
    }
    if (!closed) return quoted;
    if (i < n && value.charAt(i) !== ' ' && value.charAt(i) !== '\t') return quoted;
    out.push(s);
  }
  if (out.length === 0) return quoted;
  return out;
}

/**
 * Validate one value of a record of this type. Returns the problem message (Route 53's
 * wording) or the value's canonical form for comparisons.
 */
export function checkValue(type: RRType, value: string): { error: string } | { canon: string } {
  switch (type) {
    case 'A':
      if (!IPV4_RE.test(value)) return { error: fatal('ARRDATAIllegalIPv4Address', 'Value is not a valid IPv4 address', value) };
      return { canon: value };
    case 'AAAA':
      if (!isIPv6(value) || value.includes('%')) return { error: fatal('AAAARRDATAIllegalIPv6Address', 'Value is not a valid IPv6 address', value) };
      return { canon: expandIPv6(value) };
    case 'CNAME':
    case 'NS':
    case 'PTR': {
      const canon = rdataName(value);
      if (canon === undefined) return { error: fatal('DomainNameInvalid', 'Value is not a valid domain name', value) };
      return { canon };
    }
    case 'MX': {
      const f = value.trim().split(/\s+/);
      if (f.length !== 2) return { error: fatal('MXRRDATANotTwoFields', 'MX record doesn\'t have 2 fields', value) };
      const prio = uint(f[0], 65535);
      if (prio === undefined) return { error: fatal('MXRRDATAIllegalPriority', 'MX priority must be between 0 and 65535', value) };
      const host = rdataName(f[1]);
      if (host === undefined) return { error: fatal('DomainNameInvalid', 'Value is not a valid domain name', value) };
      return { canon: `${prio} ${host}` };
    }
    case 'SRV': {
      const f = value.trim().split(/\s+/);
      if (f.length !== 4) return { error: fatal('SRVRRDATANotFourFields', 'SRV record doesn\'t have 4 fields', value) };
      const nums = f.slice(0, 3).map((x) => uint(x, 65535));
      if (nums.some((x) => x === undefined)) return { error: fatal('SRVRRDATAIllegalNumber', 'SRV priority, weight and port must be between 0 and 65535', value) };
      const host = rdataName(f[3]);
      if (host === undefined) return { error: fatal('DomainNameInvalid', 'Value is not a valid domain name', value) };
      return { canon: `${nums.join(' ')} ${host}` };
    }
    case 'TXT':
    case 'SPF': {
      const strings = parseCharacterStrings(value);
      if (!Array.isArray(strings)) return { error: fatal(strings.code, strings.description, value) };
      if (strings.some((s) => s.length > 255)) return { error: fatal('TXTRDATATooLong', 'Value is too long', value) };
      return { canon: strings.join('\u0000') };
    }
    case 'CAA': {
      const m = /^\s*(\S+)\s+(\S+)\s+(.*?)\s*$/.exec(value);
      if (!m) return { error: fatal('CAARRDATANotThreeFields', 'CAA record doesn\'t have 3 fields', value) };
      const flags = uint(m[1], 255);
      if (flags === undefined) return { error: fatal('CAARRDATAIllegalFlags', 'CAA flags must be between 0 and 255', value) };
      if (!/^[A-Za-z0-9]{1,15}$/.test(m[2]!)) return { error: fatal('CAARRDATAIllegalTag', 'CAA tag must be alphanumeric', value) };
      const data = parseCharacterStrings(m[3]!);
      if (!Array.isArray(data) || data.length !== 1) return { error: fatal('InvalidCharacterString', 'Value should be enclosed in quotation marks', value) };
      return { canon: `${flags} ${m[2]!.toLowerCase()} ${data[0]}` };
    }
    case 'SOA': {
      const f = value.trim().split(/\s+/);
      if (f.length !== 7) return { error: fatal('SOARRDATANotSevenFields', 'SOA record doesn\'t have 7 fields', value) };
      const mname = rdataName(f[0]);
      const rname = rdataName(f[1]);
      if (mname === undefined || rname === undefined) return { error: fatal('DomainNameInvalid', 'Value is not a valid domain name', value) };
      const nums = f.slice(2).map((x) => uint(x, 4294967295));
      if (nums.some((x) => x === undefined)) return { error: fatal('SOARRDATAIllegalNumber', 'SOA serial and timers must be between 0 and 4294967295', value) };
      return { canon: `${mname} ${rname} ${nums.join(' ')}` };
    }
    default: {
      // NAPTR, DS, TLSA, SSHFP, SVCB, HTTPS: accepted as given (not parsed by the local cloud).
      const t = value.trim();
      if (t === '') return { error: fatal('InvalidRDATA', 'Value is empty', value) };
      return { canon: t.split(/\s+/).join(' ').toLowerCase() };
    }
  }
}

function expandIPv6(v: string): string {
  let s = v.toLowerCase();
  // Embedded IPv4 tail.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + ((p[0]! << 8) | p[1]!).toString(16) + ':' + ((p[2]! << 8) | p[3]!).toString(16);
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => Number.parseInt(g, 16).toString(16)).join(':');
}
