import { randomUUID } from 'node:crypto';
import type { IdSource } from './types.js';

/**
 * AWS-style ids (`i-` + 17 hex digits) from a per-cloud counter, so a run of the local cloud
 * is reproducible; a random 5-hex salt keeps two clouds in one test from sharing ids.
 */
export function createIds(salt?: number): IdSource {
  const prefixSalt = (salt ?? Math.floor(Math.random() * 0xfffff)).toString(16).padStart(5, '0').slice(-5);
  const counters = new Map<string, number>();
  return {
    next(prefix: string): string {
      const n = (counters.get(prefix) ?? 0) + 1;
      counters.set(prefix, n);
      return `${prefix}-0${prefixSalt}${n.toString(16).padStart(11, '0')}`;
    },
    uuid: () => randomUUID(),
  };
}
