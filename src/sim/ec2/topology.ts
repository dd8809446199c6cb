/**
 * The fixed network and catalogue of the local cloud's EC2, per region. fleet.yaml examples,
 * the tour and the tests rely on these ids, so they never change:
 *
 *   Availability Zones   <region>a, <region>b, <region>c   (zone ids <abbr>-az1..3, e.g. use1-az1)
 *   default VPC          vpc-0f1ee70000000000a   10.0.0.0/16
 *   default subnets      subnet-0aa00000000000001  10.0.0.0/20   <region>a
 *                        subnet-0bb00000000000002  10.0.16.0/20  <region>b
 *                        subnet-0cc00000000000003  10.0.32.0/20  <region>c
 *   security group       sg-0123456789abcdef0  (the VPC's "default" group)
 *   images               ami-0123456789abcdef0  debian-12-amd64-20261101-1234   (owner 136693071363, the newest Debian 12)
 *                        ami-0d12a0000000000a1  debian-12-amd64-20261015-1210
 *                        ami-0d12a0000000000a2  debian-12-amd64-20260901-1180
 *                        ami-0d12a0000000000b1  debian-12-arm64-20261101-1234   (arm64)
 *                        ami-0d11a0000000000a1  debian-11-amd64-20261101-1900
 *                        ami-0a1023000000000a1  al2023-ami-2023.6.20261101.0-kernel-6.1-x86_64 (owner 137112412989, alias amazon, IMDSv2 only)
 *
 * Subnets hand out private addresses as AWS does: the first four and the last address of
 * each CIDR are reserved, an address is never given to two live instances, and a terminated
 * instance's address returns to the pool. When `seedInstances` needs more addresses than an
 * AZ's default subnet holds (100,000 instances do not fit in three /20s), extra non-default
 * /20 subnets are created in that AZ, first inside 10.0.0.0/16 and then in secondary VPC CIDR
 * blocks 10.1.0.0/16, 10.2.0.0/16, ... — the API never creates subnets by itself.
 */
import { AwsError } from '../types.js';

export const DEFAULT_VPC_ID = 'vpc-0f1ee70000000000a';
export const DEFAULT_VPC_CIDR = '10.0.0.0/16';
export const DEFAULT_SECURITY_GROUP = { id: 'sg-0123456789abcdef0', name: 'default' } as const;
export const DEBIAN_OWNER = '136693071363';
export const AMAZON_OWNER = '137112412989';

/** The AZ suffixes of the default topology. */
export const AZ_SUFFIXES = ['a', 'b', 'c'] as const;

const DEFAULT_SUBNETS = [
  { id: 'subnet-0aa00000000000001', cidr: '10.0.0.0/20', az: 0 },
  { id: 'subnet-0bb00000000000002', cidr: '10.0.16.0/20', az: 1 },
  { id: 'subnet-0cc00000000000003', cidr: '10.0.32.0/20', az: 2 },
] as const;

export type Architecture = 'x86_64' | 'arm64';

export interface ImageDef {
  imageId: string;
  name: string;
  ownerId: string;
  ownerAlias?: string;
  architecture: Architecture;
  state: 'available';
  creationDate: string;
  description: string;
  rootDeviceName: string;
  /** 'v2.0' means instances launched from it default to IMDSv2 only (HttpTokens required, hop limit 2). */
  imdsSupport?: 'v2.0';
  bootMode: 'uefi-preferred' | 'legacy-bios' | 'uefi';
}

export const IMAGES: readonly ImageDef[] = [
  debian('ami-0123456789abcdef0', 'debian-12-amd64-20261101-1234', 'x86_64', '2026-11-01T12:34:00.000Z', 'Debian 12 (20261101-1234)'),
  debian('ami-0d12a0000000000a1', 'debian-12-amd64-20261015-1210', 'x86_64', '2026-10-15T12:10:00.000Z', 'Debian 12 (20261015-1210)'),
  debian('ami-0d12a0000000000a2', 'debian-12-amd64-20260901-1180', 'x86_64', '2026-09-01T11:58:00.000Z', 'Debian 12 (20260901-1180)'),
  debian('ami-0d12a0000000000b1', 'debian-12-arm64-20261101-1234', 'arm64', '2026-11-01T12:34:00.000Z', 'Debian 12 (20261101-1234)'),
  debian('ami-0d11a0000000000a1', 'debian-11-amd64-20261101-1900', 'x86_64', '2026-11-01T19:00:00.000Z', 'Debian 11 (20261101-1900)'),
  {
    imageId: 'ami-0a1023000000000a1',
    name: 'al2023-ami-2023.6.20261101.0-kernel-6.1-x86_64',
    ownerId: AMAZON_OWNER,
    ownerAlias: 'amazon',
    architecture: 'x86_64',
    state: 'available',
    creationDate: '2026-11-01T07:12:00.000Z',
    description: 'Amazon Linux 2023 AMI 2023.6.20261101.0 x86_64 HVM kernel-6.1',
    rootDeviceName: '/dev/xvda',
    imdsSupport: 'v2.0',
    bootMode: 'uefi-preferred',
  },
];

function debian(imageId: string, name: string, architecture: Architecture, creationDate: string, description: string): ImageDef {
  return { imageId, name, ownerId: DEBIAN_OWNER, architecture, state: 'available', creationDate, description, rootDeviceName: '/dev/xvda', bootMode: 'uefi-preferred' };
}

export interface InstanceTypeDef {
  name: string;
  vcpus: number;
  architecture: Architecture;
  /** Burstable (t*) types. */
  burstable: boolean;
}

/** A realistic catalogue of current instance types; anything else is `Invalid value 'x' for InstanceType.` */
export const INSTANCE_TYPES: ReadonlyMap<string, InstanceTypeDef> = buildInstanceTypes();

function buildInstanceTypes(): Map<string, InstanceTypeDef> {
  const out = new Map<string, InstanceTypeDef>();
  const vcpusOf = (size: string, burstable: boolean): number => {
    if (burstable) return size === '2xlarge' ? 8 : size === 'xlarge' ? 4 : 2;
    if (size === 'medium') return 1;
    if (size === 'large') return 2;
    if (size === 'xlarge') return 4;
    if (size === 'metal') return 96;
    const m = /^(\d+)xlarge$/.exec(size);
    if (!m) throw new Error(`unknown instance size ${size}`);
    return Number(m[1]) * 4;
  };
  const add = (families: string[], sizes: string[], architecture: Architecture): void => {
    for (const f of families) {
      for (const s of sizes) {
        const name = `${f}.${s}`;
        const burstable = f.startsWith('t');
        out.set(name, { name, vcpus: vcpusOf(s, burstable), architecture, burstable });
      }
    }
  };
  const burst = ['nano', 'micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'];
  const std = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'];
  add(['t2', 't3', 't3a'], burst, 'x86_64');
  add(['t4g'], burst, 'arm64');
  add(['m5', 'm5a', 'm5n', 'r5', 'r5a', 'r5n'], [...std, 'metal'], 'x86_64');
  add(['m6i', 'm6a', 'c6i', 'c6a', 'r6i', 'r6a'], [...std, '32xlarge', 'metal'], 'x86_64');
  add(['m7i', 'c7i', 'r7i'], [...std, '48xlarge'], 'x86_64');
  add(['c5'], ['large', 'xlarge', '2xlarge', '4xlarge', '9xlarge', '12xlarge', '18xlarge', '24xlarge', 'metal'], 'x86_64');
  add(['c5a'], ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', '24xlarge'], 'x86_64');
  add(['m6g', 'c6g', 'r6g', 'm7g', 'c7g', 'r7g'], ['medium', 'large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge', 'metal'], 'arm64');
  // Previous generation, kept because RunInstances defaults to m1.small without InstanceType.
  out.set('m1.small', { name: 'm1.small', vcpus: 1, architecture: 'x86_64', burstable: false });
  add(['i3'], ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '16xlarge'], 'x86_64');
  add(['i4i'], ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '16xlarge', '32xlarge'], 'x86_64');
  return out;
}

/**
 * Instance type offerings by AZ suffix: every type is offered in every AZ of the default
 * topology except these families, which (as the newest generations are in some real zones,
 * e.g. use1-az3) are not offered in the third AZ. DescribeInstanceTypeOfferings answers from
 * this, and RunInstances refuses such a type there with `Unsupported`, as AWS does.
 */
export const NOT_OFFERED_IN: Readonly<Record<string, readonly string[]>> = { c: ['c7i', 'r7i', 'i4i'] };

/** Whether `type` is offered in the AZ named `azName` (`us-east-1c`). */
export function offeredIn(type: string, azName: string): boolean {
  if (!INSTANCE_TYPES.has(type)) return false;
  const family = type.split('.')[0]!;
  const suffix = azName.slice(-1);
  return !(NOT_OFFERED_IN[suffix] ?? []).includes(family);
}

/**
 * A second VPC beside the default one, with one subnet and one security group, so that a
 * fleet.yaml mixing networks can be refused as AWS would (a launch cannot use a subnet of one
 * VPC with a security group of another). Never used for placement by the local cloud itself.
 */
export const OTHER_VPC = { id: 'vpc-0b0b0b0000000000b', cidr: '172.31.0.0/16', subnetId: 'subnet-0dd00000000000004', subnetCidr: '172.31.0.0/20', securityGroupId: 'sg-0b0b0b0b0b0b0b0b0', securityGroupName: 'other' } as const;

/** Security groups by id: the default VPC's and the other VPC's. */
export const SECURITY_GROUPS: readonly { id: string; name: string; vpcId: string; description: string }[] = [
  { id: DEFAULT_SECURITY_GROUP.id, name: DEFAULT_SECURITY_GROUP.name, vpcId: DEFAULT_VPC_ID, description: 'default VPC security group' },
  { id: OTHER_VPC.securityGroupId, name: OTHER_VPC.securityGroupName, vpcId: OTHER_VPC.id, description: 'a group of another VPC' },
];

/** IPv4 helpers. */
export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) return NaN;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return NaN;
    const v = Number(p);
    if (v > 255) return NaN;
    n = n * 256 + v;
  }
  return n;
}

export function intToIp(n: number): string {
  return `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** A subnet with its address pool. The occupant type is left to the caller (instances). */
export class Subnet<T = unknown> {
  readonly id: string;
  readonly az: string;
  readonly azId: string;
  readonly cidr: string;
  readonly vpcId: string;
  readonly defaultForAz: boolean;
  readonly base: number;
  readonly size: number;
  /** Address (as integer) -> occupant. */
  readonly used = new Map<number, T>();
  #cursor: number;

  constructor(id: string, cidr: string, az: string, azId: string, vpcId: string, defaultForAz: boolean) {
    const [addr, bits] = cidr.split('/');
    this.id = id;
    this.cidr = cidr;
    this.az = az;
    this.azId = azId;
    this.vpcId = vpcId;
    this.defaultForAz = defaultForAz;
    this.base = ipToInt(addr!);
    this.size = 2 ** (32 - Number(bits));
    this.#cursor = this.firstUsable;
  }

  /** AWS reserves the network address, .1 (router), .2 (DNS), .3 (future) and the broadcast address. */
  get firstUsable(): number {
    return this.base + 4;
  }

  get lastUsable(): number {
    return this.base + this.size - 2;
  }

  get capacity(): number {
    return this.size - 5;
  }

  get free(): number {
    return this.capacity - this.used.size;
  }

  contains(ip: number): boolean {
    return ip >= this.base && ip < this.base + this.size;
  }

  /** Take the next free address (round-robin from the last one given), or undefined when full. */
  allocate(occupant: T): number | undefined {
    if (this.free <= 0) return undefined;
    for (let i = 0; i < this.capacity; i++) {
      const ip = this.#cursor;
      this.#cursor = ip >= this.lastUsable ? this.firstUsable : ip + 1;
      if (!this.used.has(ip)) {
        this.used.set(ip, occupant);
        return ip;
      }
    }
    return undefined;
  }

  /** Take a specific address (PrivateIpAddress); false when reserved, outside or in use. */
  claim(ip: number, occupant: T): boolean {
    if (ip < this.firstUsable || ip > this.lastUsable || this.used.has(ip)) return false;
    this.used.set(ip, occupant);
    return true;
  }

  release(ip: number, occupant: T): void {
    if (this.used.get(ip) === occupant) this.used.delete(ip);
  }
}

export interface AzDef {
  name: string;
  id: string;
}

/** `us-east-1` -> `use1`, `ap-southeast-2` -> `apse2`: the prefix of AWS zone ids. */
export function regionAbbrev(region: string): string {
  const dirs: Record<string, string> = {
    east: 'e',
    west: 'w',
    north: 'n',
    south: 's',
    central: 'c',
    northeast: 'ne',
    northwest: 'nw',
    southeast: 'se',
    southwest: 'sw',
  };
  const parts = region.split('-');
  if (parts.length < 3) return region.replace(/[^a-z0-9]/g, '');
  const num = parts[parts.length - 1]!;
  const dir = parts.slice(1, -1).map((p) => dirs[p] ?? p[0] ?? '').join('');
  return `${parts[0]}${dir}${num}`;
}

/** The network of one region: AZs, the default VPC, its subnets (including seeding overflow). */
export class Topology<T = unknown> {
  readonly region: string;
  readonly azs: AzDef[];
  readonly subnets = new Map<string, Subnet<T>>();
  /** Primary CIDR first, then secondary blocks added for seeding overflow. */
  readonly vpcCidrs: string[] = [DEFAULT_VPC_CIDR];
  #extraSeq = 0;
  #rr = 0;

  constructor(region: string) {
    this.region = region;
    const abbr = regionAbbrev(region);
    this.azs = AZ_SUFFIXES.map((s, i) => ({ name: `${region}${s}`, id: `${abbr}-az${i + 1}` }));
    for (const s of DEFAULT_SUBNETS) {
      const az = this.azs[s.az]!;
      this.subnets.set(s.id, new Subnet<T>(s.id, s.cidr, az.name, az.id, DEFAULT_VPC_ID, true));
    }
    const a = this.azs[0]!;
    this.subnets.set(OTHER_VPC.subnetId, new Subnet<T>(OTHER_VPC.subnetId, OTHER_VPC.subnetCidr, a.name, a.id, OTHER_VPC.id, false));
  }

  az(name: string): AzDef | undefined {
    return this.azs.find((a) => a.name === name);
  }

  defaultSubnet(azName: string): Subnet<T> | undefined {
    for (const s of this.subnets.values()) if (s.az === azName && s.defaultForAz) return s;
    return undefined;
  }

  /** A default subnet with room for `n` addresses, rotating over the AZs as EC2 spreads launches. */
  pickDefaultSubnet(n: number, azOk: (az: string) => boolean = () => true): Subnet<T> | undefined {
    for (let i = 0; i < this.azs.length; i++) {
      const az = this.azs[(this.#rr + i) % this.azs.length]!;
      if (!azOk(az.name)) continue;
      const s = this.defaultSubnet(az.name);
      if (s && s.free >= n) {
        this.#rr = (this.#rr + i + 1) % this.azs.length;
        return s;
      }
    }
    return undefined;
  }

  /** A subnet of this AZ with a free address, creating an overflow subnet when all are full (seeding only). */
  subnetWithRoom(azName: string): Subnet<T> {
    const d = this.defaultSubnet(azName);
    if (d && d.free > 0) return d;
    for (const s of this.subnets.values()) if (s.az === azName && s.free > 0 && s.vpcId === DEFAULT_VPC_ID) return s;
    return this.#addOverflowSubnet(azName);
  }

  /** The next AZ in rotation (seeding without az/subnet). */
  nextAz(): string {
    const az = this.azs[this.#rr % this.azs.length]!;
    this.#rr = (this.#rr + 1) % this.azs.length;
    return az.name;
  }

  #addOverflowSubnet(azName: string): Subnet<T> {
    const az = this.az(azName);
    if (!az) throw new AwsError('InvalidParameterValue', `Invalid availability zone: [${azName}]`);
    // /20 blocks 3..15 of 10.0.0.0/16, then 16 blocks per secondary /16 (10.1.0.0/16, ...).
    const k = this.#extraSeq++;
    let second: number;
    let third: number;
    if (k < 13) {
      second = 0;
      third = (k + 3) * 16;
    } else {
      const j = k - 13;
      second = 1 + Math.floor(j / 16);
      third = (j % 16) * 16;
      if (second > 255) throw new AwsError('InsufficientFreeAddressesInSubnet', 'The local cloud ran out of address space for seeded instances.');
      const block = `10.${second}.0.0/16`;
      if (!this.vpcCidrs.includes(block)) this.vpcCidrs.push(block);
    }
    const id = `subnet-0ee${(k + 1).toString(16).padStart(14, '0')}`;
    const s = new Subnet<T>(id, `10.${second}.${third}.0/20`, az.name, az.id, DEFAULT_VPC_ID, false);
    this.subnets.set(id, s);
    return s;
  }
}
