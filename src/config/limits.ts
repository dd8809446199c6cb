/**
 * Bounds on fleet.yaml, so that validating any file, however hostile, takes time linear in
 * its size and bounded memory, and every refusal is a located problem (exit 2), never a
 * RangeError or an out-of-memory crash. Pure.
 *
 * - size: a fleet description is small (the worked example is 4 KB; 150 roles with volumes
 *   and state are about 60 KB), so MAX_CONFIG_BYTES leaves room without letting a 50 MB list
 *   reach the parser;
 * - nesting: the deepest path fleet.yaml has is 4 levels (roles.web.volume.size); the
 *   composer, toJS and the schema walk the tree recursively, so depth is measured first, on
 *   the parser's concrete syntax tree, with an explicit stack;
 * - names: every name is one record set in the zone; Route 53 holds 10,000 record sets per
 *   hosted zone by default, two of them the zone's SOA and NS (`dns.record-quota` when the
 *   account's quota was raised);
 * - messages quote at most a short prefix of a value (`quote`, `clip`), and list at most
 *   MAX_PROBLEMS problems.
 */
import type { CST } from 'yaml';

/** Largest fleet.yaml read, in bytes. */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** Deepest nesting of mappings and lists accepted (fleet.yaml's own deepest is 4). */
export const MAX_DEPTH = 32;
/** Route 53's default quota of record sets per hosted zone. */
export const DEFAULT_RECORD_QUOTA = 10_000;
/** Record sets a hosted zone holds besides the fleet's names: its SOA and NS. */
export const ZONE_OWN_RECORDS = 2;
/** Largest `dns.record-quota` accepted (what AWS grants on request is in this range). */
export const MAX_RECORD_QUOTA = 1_000_000;
/** Problems listed in full; the rest are counted. */
export const MAX_PROBLEMS = 100;
/** Characters of a value quoted in a message. */
export const QUOTE_CHARS = 60;

/** At most `max` characters of `s` (code points, so a surrogate pair is not split), with "..." when cut. */
export function clip(s: string, max = QUOTE_CHARS): string {
  if (s.length <= max) return s;
  let out = s.slice(0, max - 3);
  const last = out.charCodeAt(out.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  return out + '...';
}

/** A value quoted for a message: JSON-quoted, at most QUOTE_CHARS characters of it. */
export function quote(s: string): string {
  return JSON.stringify(clip(s));
}

/** `123,456`, for sizes and counts in messages. */
export function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

/** Children of a CST token that are themselves nodes (keys and values of collection items). */
function children(token: CST.Token): (CST.Token | null | undefined)[] {
  switch (token.type) {
    case 'document':
      return [token.value];
    case 'block-map':
    case 'flow-collection':
      return token.items.flatMap((it) => [('key' in it ? it.key : undefined) as CST.Token | null | undefined, it.value]);
    case 'block-seq':
      return token.items.map((it) => it.value);
    default:
      return [];
  }
}

/**
 * The first node nested deeper than `max` collections, as a source offset, or undefined.
 * Iterative: a file nesting 100,000 levels costs a loop, not a stack.
 */
export function tooDeep(tokens: readonly CST.Token[], max = MAX_DEPTH): { offset: number; depth: number } | undefined {
  const stack: { token: CST.Token; depth: number }[] = [];
  for (let i = tokens.length - 1; i >= 0; i--) stack.push({ token: tokens[i]!, depth: 0 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    const collection = token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection';
    const d = collection ? depth + 1 : depth;
    if (d > max) return { offset: token.offset, depth: d };
    const kids = children(token);
    for (let i = kids.length - 1; i >= 0; i--) {
      const k = kids[i];
      if (k) stack.push({ token: k, depth: d });
    }
  }
  return undefined;
}

/**
 * The offset of the first byte that does not start or continue a well-formed UTF-8 sequence
 * (overlong forms, surrogates and code points beyond U+10FFFF included), or -1 when all is
 * well-formed. Linear.
 */
export function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (c < min || c > max) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based line and column (in characters) of byte `offset` of UTF-8 `bytes` well-formed before it. */
export function bytePosition(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  // Column in code points: count the bytes of the line that start a character.
  let column = 1;
  for (let i = lineStart; i < offset; i++) if ((bytes[i]! & 0xc0) !== 0x80) column++;
  return { line, column };
}
