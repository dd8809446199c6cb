/**
 * DNS names as Route 53 handles them: case-insensitive (stored lowercase), given with or
 * without the trailing dot, characters other than a-z 0-9 - _ accepted either as themselves
 * or as `\ooo` octal escapes and always returned as `\ooo` (so `*` comes back as `\052`),
 * and ordered for listing by their labels reversed (`com.example.www.`).
 */

export interface DnsName {
  /** Decoded labels, lowercase, left to right (`www`, `example`, `com`). Empty for the root. */
  labels: string[];
}

export interface NameProblem {
  /** Route 53's problem code, e.g. DomainLabelEmpty. */
  code: string;
  description: string;
}

/** Parse a name in presentation format. Returns the labels or the problem. */
export function parseDnsName(input: string): DnsName | NameProblem {
  if (input === '.') return { labels: [] };
  if (input === '') return { code: 'DomainLabelEmpty', description: 'Domain label is empty' };
  const labels: string[] = [];
  let cur = '';
  let i = 0;
  let endedWithDot = false;
  while (i < input.length) {
    const ch = input.charAt(i);
    const code = input.charCodeAt(i);
    endedWithDot = false;
    if (ch === '\\') {
      const oct = /^[0-7]{3}/.exec(input.slice(i + 1, i + 4));
      if (oct) {
        const v = Number.parseInt(oct[0], 8);
        if (v > 0o377) return { code: 'InvalidCharacterString', description: 'Escape code is out of range' };
        cur += String.fromCharCode(v);
        i += 4;
        continue;
      }
      if (i + 1 >= input.length) return { code: 'InvalidCharacterString', description: 'Escape at end of name' };
      const next = input.charCodeAt(i + 1);
      if (next < 0x21 || next > 0x7e) return { code: 'InvalidCharacterString', description: 'Invalid character in domain name' };
      cur += input.charAt(i + 1).toLowerCase();
      i += 2;
      continue;
    }
    if (ch === '.') {
      if (cur === '') return { code: 'DomainLabelEmpty', description: 'Domain label is empty' };
      labels.push(cur);
      cur = '';
      endedWithDot = true;
      i++;
      continue;
    }
    if (code < 0x21 || code > 0x7e) return { code: 'InvalidCharacterString', description: 'Invalid character in domain name' };
    cur += ch.toLowerCase();
    i++;
  }
  if (!endedWithDot) {
    if (cur === '') return { code: 'DomainLabelEmpty', description: 'Domain label is empty' };
    labels.push(cur);
  }
  let wire = 1;
  for (const l of labels) {
    if (l.length > 63) return { code: 'DomainLabelTooLong', description: 'Domain label is too long' };
    wire += l.length + 1;
  }
  if (wire > 255) return { code: 'DomainNameTooLong', description: 'Domain name is too long' };
  return { labels };
}

export function isProblem(x: DnsName | NameProblem): x is NameProblem {
  return (x as NameProblem).code !== undefined;
}

function escapeLabel(label: string): string {
  let out = '';
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f) out += label.charAt(i);
    else out += '\\' + c.toString(8).padStart(3, '0');
  }
  return out;
}

/** The name as Route 53 returns it: lowercase, escaped, with the trailing dot. */
export function formatName(name: DnsName): string {
  if (name.labels.length === 0) return '.';
  return name.labels.map(escapeLabel).join('.') + '.';
}

/**
 * Sort key for records: labels reversed, raw characters, each followed by a dot
 * (`com.example.www.`), compared as ASCII, so `-` and `*` sort before `.` as AWS documents.
 */
export function recordNameKey(name: DnsName): string {
  let out = '';
  for (let i = name.labels.length - 1; i >= 0; i--) out += name.labels[i] + '.';
  return out;
}

/** Sort key for hosted zones: labels reversed, in their escaped form (ListHostedZonesByName). */
export function zoneNameKey(name: DnsName): string {
  let out = '';
  for (let i = name.labels.length - 1; i >= 0; i--) out += escapeLabel(name.labels[i]!) + '.';
  return out;
}

/** True when `name` is `zone` or below it. */
export function isWithin(name: DnsName, zone: DnsName): boolean {
  const off = name.labels.length - zone.labels.length;
  if (off < 0) return false;
  for (let i = 0; i < zone.labels.length; i++) if (name.labels[off + i] !== zone.labels[i]) return false;
  return true;
}

/** True when both names are the same name. */
export function sameName(a: DnsName, b: DnsName): boolean {
  return a.labels.length === b.labels.length && a.labels.every((l, i) => l === b.labels[i]);
}
