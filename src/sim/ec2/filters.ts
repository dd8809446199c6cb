/**
 * EC2 `Filter.N` matching: values of one filter are OR-ed, filters are AND-ed, and values
 * may use the wildcards `*` (any run of characters) and `?` (one character); a backslash
 * escapes them (`\*` is a literal star). Matching is case-sensitive, as EC2's is.
 */
import { AwsError } from '../types.js';
import { WildcardSet } from '../wildcard.js';

/**
 * A compiled set of filter values: exact values in a Set, wildcard values matched by the
 * linear-time matcher of ../wildcard.ts (never a backtracking RegExp built from the value).
 */
export class ValueMatcher extends WildcardSet {
  /** True when any of the values matches. */
  testAny(values: Iterable<string>): boolean {
    for (const v of values) if (this.test(v)) return true;
    return false;
  }
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
    // An own-property lookup: `constructor`, `__proto__` or `toString` are not filter names.
    const make = Object.hasOwn(known, f.name) ? known[f.name] : undefined;
    const pred = make ? make(m) : dynamic?.(f.name, m);
    if (!pred) throw new AwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    return pred;
  });
}

export function matchesAll<T>(preds: ((item: T) => boolean)[], item: T): boolean {
  for (const p of preds) if (!p(item)) return false;
  return true;
}
