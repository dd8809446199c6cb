/**
 * The record sets of one hosted zone, kept in Route 53's listing order (name with labels
 * reversed, then type, then set identifier) so that a page starts by binary search and a
 * full listing of N records costs O(N) overall.
 *
 * Writes are cheap: a new record set goes to an unsorted `pending` list and a deleted one is
 * only marked; the sorted array is rebuilt lazily on the next read by filtering the dead
 * entries and merging the sorted pending ones (O(N + k log k)), so a batch of 1,000 creates
 * costs O(k) at write time and one merge at the next listing, never O(N) per record.
 * Replacing a record set (UPSERT of an existing one) keeps its key, so it changes in place.
 */

export interface AliasTarget {
  hostedZoneId: string;
  dnsName: string;
  evaluateTargetHealth: boolean;
}

export interface GeoLocation {
  continentCode?: string;
  countryCode?: string;
  subdivisionCode?: string;
}

export interface RRSet {
  /** Sort key and identity: reversed name key, type and set identifier. */
  key: string;
  /** As Route 53 returns it: lowercase, escaped, trailing dot. */
  name: string;
  type: string;
  setIdentifier?: string;
  ttl?: number;
  values: string[];
  /** Canonical forms of the values, sorted (for exact-match comparisons). */
  canon: string[];
  alias?: AliasTarget;
  weight?: number;
  region?: string;
  failover?: string;
  multiValueAnswer?: boolean;
  geoLocation?: GeoLocation;
  healthCheckId?: string;
  /** Marked when deleted; dropped from the sorted array at the next rebuild. */
  dead?: boolean;
}

/** The sort/identity key of a record set. */
export function rrKey(nameKey: string, type: string, setIdentifier: string | undefined): string {
  return `${nameKey}\u0000${type}\u0000${setIdentifier ?? ''}`;
}

export class RecordStore {
  #sorted: RRSet[] = [];
  #pending: RRSet[] = [];
  #dead = 0;
  #work = 0;
  readonly #byKey = new Map<string, RRSet>();
  /** Canonical name -> type -> number of record sets (several with set identifiers). */
  readonly #types = new Map<string, Map<string, number>>();

  get size(): number {
    return this.#byKey.size;
  }

  /**
   * The work the lazy rebuilds have done so far: key comparisons while sorting the pending
   * record sets plus record sets visited while filtering and merging. Tests bound it (the
   * store's complexity as a count, not as wall time on a shared machine).
   */
  get work(): number {
    return this.#work;
  }

  get(key: string): RRSet | undefined {
    return this.#byKey.get(key);
  }

  /** How many record sets of this type exist at this name. */
  countAt(name: string, type: string): number {
    return this.#types.get(name)?.get(type) ?? 0;
  }

  /** The types present at this name, with counts. */
  typesAt(name: string): ReadonlyMap<string, number> {
    return this.#types.get(name) ?? new Map();
  }

  add(rr: RRSet): void {
    const old = this.#byKey.get(rr.key);
    if (old) {
      this.replace(old, rr);
      return;
    }
    this.#byKey.set(rr.key, rr);
    this.#pending.push(rr);
    this.#count(rr.name, rr.type, 1);
  }

  /** Replace the data of a record set in place (same key). */
  replace(old: RRSet, next: RRSet): void {
    if (old.key !== next.key) throw new Error('replace: keys differ');
    old.ttl = next.ttl;
    old.values = next.values;
    old.canon = next.canon;
    old.alias = next.alias;
    old.weight = next.weight;
    old.region = next.region;
    old.failover = next.failover;
    old.multiValueAnswer = next.multiValueAnswer;
    old.geoLocation = next.geoLocation;
    old.healthCheckId = next.healthCheckId;
    for (const k of ['ttl', 'alias', 'weight', 'region', 'failover', 'multiValueAnswer', 'geoLocation', 'healthCheckId'] as const) {
      if (old[k] === undefined) delete old[k];
    }
  }

  remove(rr: RRSet): void {
    if (this.#byKey.get(rr.key) !== rr) return;
    this.#byKey.delete(rr.key);
    rr.dead = true;
    this.#dead++;
    this.#count(rr.name, rr.type, -1);
  }

  /** All live record sets in listing order (rebuilds lazily after writes). */
  sorted(): readonly RRSet[] {
    if (this.#pending.length > 0 || this.#dead > 0) this.#rebuild();
    return this.#sorted;
  }

  /** Index of the first record set whose key is >= `key`. */
  lowerBound(key: string): number {
    const a = this.sorted();
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]!.key < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #rebuild(): void {
    if (this.#dead > 0) this.#work += this.#sorted.length;
    const base = this.#dead > 0 ? this.#sorted.filter((r) => !r.dead) : this.#sorted;
    this.#work += this.#pending.length;
    const add = this.#pending.filter((r) => !r.dead);
    this.#pending = [];
    this.#dead = 0;
    if (add.length === 0) {
      this.#sorted = base;
      return;
    }
    let compared = 0;
    add.sort((a, b) => (compared++, a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.#work += compared;
    if (base.length === 0) {
      this.#sorted = add;
      return;
    }
    this.#work += base.length + add.length;
    const out: RRSet[] = new Array(base.length + add.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < base.length && j < add.length) out[k++] = base[i]!.key <= add[j]!.key ? base[i++]! : add[j++]!;
    while (i < base.length) out[k++] = base[i++]!;
    while (j < add.length) out[k++] = add[j++]!;
    this.#sorted = out;
  }

  #count(name: string, type: string, delta: number): void {
    let m = this.#types.get(name);
    if (!m) this.#types.set(name, (m = new Map()));
    const v = (m.get(type) ?? 0) + delta;
    if (v <= 0) m.delete(type);
    else m.set(type, v);
    if (m.size === 0) this.#types.delete(name);
  }
}
