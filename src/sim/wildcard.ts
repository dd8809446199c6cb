/**
 * EC2 filter-value wildcards, matched in linear-ish time: `*` is any run of characters
 * (newlines included, possibly empty), `?` is exactly one character (one UTF-16 code unit, as
 * the former `[\s\S]` of a non-unicode RegExp), and a backslash makes the next character
 * literal (`\*`, `\?`, `\\`); a trailing lone backslash is a literal backslash. Matching is
 * case-sensitive.
 *
 * No backtracking regex is built from the value: a pattern is split at its stars into
 * fixed-width segments (literal characters and `?`), the first segment is anchored at the start,
 * the last at the end, and every middle segment is placed at its leftmost possible position
 * (for fixed-width segments, leftmost placement never loses a match). The cost is
 * O(text length x pattern length) at worst, however many stars the value has.
 */

/** One fixed-width piece between stars: `undefined` is `?` (any one code unit). */
type Segment = (string | undefined)[];

export interface Wildcard {
  /** The pattern as given. */
  readonly source: string;
  test(text: string): boolean;
  /** `test`, also counting the character comparisons it made (tests bound the matcher's work by it, not by wall time). */
  measure(text: string): { match: boolean; compared: number };
}

/** True when the value uses a wildcard or an escape (so it is not matched as an exact string). */
export function hasWildcard(value: string): boolean {
  return /[*?\\]/.test(value);
}

/** Compile one wildcard pattern. */
export function compileWildcard(pattern: string): Wildcard {
  const segments: Segment[] = [[]];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const cur = segments[segments.length - 1]!;
    if (c === '\\' && i + 1 < pattern.length) cur.push(pattern[++i]!);
    else if (c === '*') segments.push([]);
    else if (c === '?') cur.push(undefined);
    else cur.push(c);
  }
  return {
    source: pattern,
    test: (text) => matchSegments(segments, text, { compared: 0 }),
    measure(text) {
      const work = { compared: 0 };
      const match = matchSegments(segments, text, work);
      return { match, compared: work.compared };
    },
  };
}

/** Whether `seg` matches `text` at offset `at` (the caller guarantees it fits). */
function segmentAt(seg: Segment, text: string, at: number, work: { compared: number }): boolean {
  for (let j = 0; j < seg.length; j++) {
    work.compared++;
    const want = seg[j];
    if (want !== undefined && text[at + j] !== want) return false;
  }
  return true;
}

function matchSegments(segments: Segment[], text: string, work: { compared: number }): boolean {
  const first = segments[0]!;
  if (segments.length === 1) return first.length === text.length && segmentAt(first, text, 0, work);
  const last = segments[segments.length - 1]!;
  // The anchored ends may not overlap.
  if (first.length + last.length > text.length) return false;
  if (!segmentAt(first, text, 0, work)) return false;
  const end = text.length - last.length;
  if (!segmentAt(last, text, end, work)) return false;
  let pos = first.length;
  for (let s = 1; s < segments.length - 1; s++) {
    const seg = segments[s]!;
    if (seg.length === 0) continue;
    let found = -1;
    for (let at = pos; at + seg.length <= end; at++) {
      if (segmentAt(seg, text, at, work)) {
        found = at;
        break;
      }
    }
    if (found < 0) return false;
    pos = found + seg.length;
  }
  return true;
}

/**
 * A set of filter values: plain values are looked up in a Set, wildcard values are tried one
 * by one. Matches when any value matches.
 */
export class WildcardSet {
  readonly exact: Set<string>;
  readonly globs: readonly Wildcard[];

  constructor(values: Iterable<string>) {
    this.exact = new Set();
    const globs: Wildcard[] = [];
    for (const v of values) {
      if (hasWildcard(v)) globs.push(compileWildcard(v));
      else this.exact.add(v);
    }
    this.globs = globs;
  }

  /** True when no value uses a wildcard (so an index lookup answers it exactly). */
  get isExact(): boolean {
    return this.globs.length === 0;
  }

  test(value: string | undefined): boolean {
    if (value === undefined) return false;
    if (this.exact.has(value)) return true;
    for (const g of this.globs) if (g.test(value)) return true;
    return false;
  }
}
