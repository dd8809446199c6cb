/**
 * EC2 `Filter.N` matching: values of one filter are OR-ed, filters are AND-ed, and values
 * may use the wildcards `*` (any run of characters) and `?` (one character); a backslash
 * escapes them (`\*` is a literal star). Matching is case-sensitive, as EC2's is.
 */
import { AwsError } from '../types.js';

/** A compiled set of filter values: exact values in a Set, wildcard values as one RegExp. */
export class ValueMatcher {
  readonly exact: Set<string>;
  readonly pattern: RegExp | undefined;

  constructor(values: string[]) {
    this.exact = new Set();
    const res: string[] = [];
    for (const v of values) {
      if (!/[*?\\]/.test(v)) {
        this.exact.add(v);
        continue;
      }
      let re = '';
      for (let i = 0; i < v.length; i++) {
        const c = v[i]!;
        if (c === '\\' && i + 1 < v.length) {
          re += escapeRe(v[++i]!);
        } else if (c === '*') {
          re += '[\\s\\S]*';
        } else if (c === '?') {
          re += '[\\s\\S]';
        } else {
          re += escapeRe(c);
        }
      }
      res.push(re);
    }
    this.pattern = res.length > 0 ? new RegExp(`^(?:${res.join('|')})$`) : undefined;
  }

  /** True when no value uses a wildcard (so an index lookup answers it exactly). */
  get isExact(): boolean {
    return this.pattern === undefined;
  }

  test(value: string | undefined): boolean {
    if (value === undefined) return false;
    if (this.exact.has(value)) return true;
    return this.pattern !== undefined && this.pattern.test(value);
  }

  /** True when any of the values matches. */
  testAny(values: Iterable<string>): boolean {
    for (const v of values) if (this.test(v)) return true;
    return false;
  }
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export interface FilterSpec {
  name: string;
  values: string[];
}

/** Compile filters against a table of known filter names; unknown names are the AWS error. */
export function compileFilters<T>(
  filters: FilterSpec[],
  known: Record<string, (m: ValueMatcher) => (item: T) => boolean>,
  dynamic?: (name: string, m: ValueMatcher) => ((item: T) => boolean) | undefined,
): ((item: T) => boolean)[] {
  return filters.map((f) => {
    const m = new ValueMatcher(f.values);
    const make = known[f.name];
    const pred = make ? make(m) : dynamic?.(f.name, m);
    if (!pred) throw new AwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    return pred;
  });
}

export function matchesAll<T>(preds: ((item: T) => boolean)[], item: T): boolean {
  for (const p of preds) if (!p(item)) return false;
  return true;
}
