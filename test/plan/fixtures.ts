/** Small builders for table-driven tests of the pure core. */
import { parseConfig } from '../../src/config/index.js';
import type { DnsRecord, FleetSpec, Instance } from '../../src/model.js';

export const NOW = new Date('2026-11-25T03:00:00Z');

export function spec(extra = ''): FleetSpec {
  return parseConfig(
    `fleet: demo
dns: {zone: prod.example.com, ttl: 60}
hub: hub-01
journal: {bucket: demo-fleet-journal}
defaults:
  image: ami-0123456789abcdef0
  subnets: [subnet-0aa00000000000001, subnet-0bb00000000000002, subnet-0cc00000000000003]
  security-groups: [sg-0123456789abcdef0]
roles:
  hub: {count: 1, type: t3.small}
  web: {count: 3, type: t3.medium, alternatives: [t3a.medium, m5.large], market: spot, on-demand-fallback: true}
${extra}`,
    'fleet.yaml',
  );
}

let seq = 0;
export function inst(name: string, opts: Partial<Instance> & { ip?: string; ageMs?: number } = {}): Instance {
  seq++;
  const role = name.split('-')[0]!;
  const i: Instance = {
    id: opts.id ?? `i-${String(seq).padStart(17, '0')}`,
    state: opts.state ?? 'running',
    type: opts.type ?? 't3.medium',
    market: opts.market ?? 'on-demand',
    az: opts.az ?? 'us-east-1a',
    launchTime: new Date(NOW.getTime() - (opts.ageMs ?? 3_600_000)).toISOString(),
    tags: {},
    fleet: opts.fleet ?? 'demo',
    name,
    role,
    generation: opts.generation ?? 1,
    ...(opts.converged === undefined ? { converged: '2026-11-25T01:00:00Z' } : opts.converged ? { converged: opts.converged } : {}),
  };
  const ip = opts.ip ?? `10.0.${Math.floor(seq / 250)}.${(seq % 250) + 4}`;
  i.privateIp = ip;
  return i;
}

export function rec(name: string, ip: string | string[], ttl = 60): DnsRecord {
  return { name: `${name}.prod.example.com`, type: 'A', ttl, values: Array.isArray(ip) ? ip : [ip] };
}

/** A converged fleet: every desired name served by its own instance. */
export function healthy(names: string[]): { records: DnsRecord[]; instances: Instance[] } {
  const instances = names.map((n) => inst(n));
  return { instances, records: instances.map((i) => rec(i.name!, i.privateIp!)) };
}
