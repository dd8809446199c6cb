/**
 * Field validators for fleet.yaml. Each takes a string already known to be a string and
 * returns why it is wrong (a sentence fragment that quotes the value), or undefined.
 * Pure; no AWS calls: these check shape, not existence.
 */
import type { StateS3Spec, VolumeType } from '../model.js';
import { clip, quote } from './limits.js';

/** Values are quoted by their first characters only: a 1 MB value must not make a 1 MB message. */
const q = quote;

/** A short human rendering of any YAML value for "got ..." in messages. */
export function show(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(clip(v));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

// ---- fleet, region, zone -------------------------------------------------------------

export const MAX_FLEET_NAME = 32;
/** Most names one role may have (the scale fleet is built and benchmarked for). */
export const MAX_COUNT = 100_000;

export function fleetNameProblem(s: string): string | undefined {
  if (s === '') return 'fleet name is empty';
  if (s.length > MAX_FLEET_NAME) return `fleet name ${q(s)} is ${s.length} characters long; at most ${MAX_FLEET_NAME}`;
  if (/[A-Z]/.test(s)) return `fleet name ${q(s)} must be lowercase`;
  if (!/^[a-z]/.test(s)) return `fleet name ${q(s)} must start with a letter a-z`;
  if (!/^[a-z][a-z0-9-]*$/.test(s)) return `fleet name ${q(s)} may hold only a-z, 0-9 and "-"`;
  if (s.endsWith('-')) return `fleet name ${q(s)} must not end with "-"`;
  return undefined;
}

/** AWS Region codes: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5, cn-north-1. */
export function regionProblem(s: string): string | undefined {
  return /^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/.test(s) ? undefined : `${q(s)} is not an AWS Region code such as us-east-1`;
}

const LDH_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * A hosted zone for fleet names: lowercase LDH labels, at least two (the first names the
 * environment), short enough to leave room for `<role>-<index>.` in front (253 in all).
 * One trailing dot is accepted (and dropped by `normalizeZone`).
 */
export function zoneProblem(s: string): string | undefined {
  const z = normalizeZone(s);
  if (z === '') return 'zone is empty';
  if (/[A-Z]/.test(z)) return `zone ${q(s)} must be lowercase`;
  if (/[^a-z0-9.-]/.test(z)) return `zone ${q(s)} may hold only a-z, 0-9, "-" and dots`;
  const labels = z.split('.');
  if (labels.some((l) => l === '')) return `zone ${q(s)} has an empty label`;
  const bad = labels.find((l) => l.length > 63);
  if (bad) return `zone ${q(s)} has a label of ${bad.length} characters; at most 63`;
  const ldh = labels.find((l) => !LDH_LABEL.test(l));
  if (ldh) return `zone label ${q(ldh)} must not start or end with "-"`;
  if (labels.length < 2) return `zone ${q(s)} needs at least two labels: the first names the environment, e.g. prod.example.com`;
  if (z.length > 200) return `zone ${q(s)} is ${z.length} characters long; at most 200, to leave room for the names in it`;
  return undefined;
}

export function normalizeZone(s: string): string {
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

// ---- EC2 ----------------------------------------------------------------------------

const SIZES = /^(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal|metal-[1-9][0-9]*xl)$/;

/** `family.size`: t3.medium, m5.large, c7gn.16xlarge, u-6tb1.metal, m7i-flex.large, m7i.metal-24xl. */
export function instanceTypeProblem(s: string): string | undefined {
  if (s === '') return 'instance type is empty';
  if (/[A-Z]/.test(s)) return `instance type ${q(s)} must be lowercase`;
  const parts = s.split('.');
  if (parts.length !== 2) return `instance type ${q(s)} must be <family>.<size>, e.g. t3.medium`;
  const [family, size] = parts as [string, string];
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(family)) return `instance family ${q(family)} of ${q(s)} is not a family such as t3, c7gn or u-6tb1`;
  if (!/[0-9]/.test(family)) return `instance family ${q(family)} of ${q(s)} lacks its generation digit, e.g. m5`;
  if (!SIZES.test(size)) return `instance size ${q(size)} of ${q(s)} is not one of nano, micro, small, medium, large, xlarge, <N>xlarge, metal, metal-<N>xl`;
  return undefined;
}

function awsIdProblem(prefix: string, what: string, s: string): string | undefined {
  if (new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(s)) return undefined;
  if (new RegExp(`^${prefix}-([0-9a-fA-F]{8}|[0-9a-fA-F]{17})$`).test(s)) return `${what} ${q(s)} must be lowercase`;
  return `${q(s)} is not ${what}: "${prefix}-" and 8 or 17 hex digits`;
}

export const subnetIdProblem = (s: string) => awsIdProblem('subnet', 'a subnet id', s);
export const securityGroupIdProblem = (s: string) => awsIdProblem('sg', 'a security group id', s);
export const amiIdProblem = (s: string) => awsIdProblem('ami', 'an AMI id', s);

/** An account id (12 digits) or one of the owner aliases DescribeImages accepts. */
export function amiOwnerProblem(s: string): string | undefined {
  if (/^[0-9]{12}$/.test(s) || ['self', 'amazon', 'aws-marketplace'].includes(s)) return undefined;
  return `image owner ${q(s)} is neither a 12-digit account id nor one of self, amazon, aws-marketplace`;
}

/** An AMI name filter: AMI name characters plus the wildcards * and ?. */
export function amiNamePatternProblem(s: string): string | undefined {
  if (s === '') return 'image name pattern is empty';
  if (s.length > 128) return `image name pattern is ${s.length} characters long; at most 128`;
  const bad = /[^A-Za-z0-9()[\] ./'@_*?-]/.exec(s);
  if (bad) return `image name pattern ${q(s)} contains ${q(bad[0])}; AMI names hold letters, digits, spaces and ( ) [ ] . / - ' @ _, plus the wildcards * and ?`;
  return undefined;
}

/** An instance profile name, or its ARN. */
export function instanceProfileProblem(s: string): string | undefined {
  if (/^[A-Za-z0-9+=,.@_-]{1,128}$/.test(s)) return undefined;
  if (/^arn:aws(-[a-z]+)*:iam::[0-9]{12}:instance-profile\/([A-Za-z0-9+=,.@_-]+\/)*[A-Za-z0-9+=,.@_-]{1,128}$/.test(s)) return undefined;
  return `${q(s)} is neither an instance profile name (letters, digits and + = , . @ _ -, at most 128) nor an instance profile ARN`;
}

/** An email address to subscribe to the alarms topic: one address, no display name. */
export function emailProblem(s: string): string | undefined {
  if (s.length > 254) return `email address ${q(s)} is ${s.length} characters long; at most 254`;
  if (!/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/.test(s)) {
    return `${q(s)} is not an email address such as ops@example.com`;
  }
  return undefined;
}

// ---- S3 ----------------------------------------------------------------------------

/** General purpose bucket naming rules (S3 User Guide, "Bucket naming rules"). */
export function bucketProblem(s: string): string | undefined {
  const b = `bucket name ${q(s)}`;
  if (s.length < 3 || s.length > 63) return `${b} is ${s.length} characters long; S3 needs 3 to 63`;
  if (/[A-Z]/.test(s)) return `${b} must be lowercase`;
  if (/[^a-z0-9.-]/.test(s)) return `${b} may hold only a-z, 0-9, "." and "-"`;
  if (!/^[a-z0-9]/.test(s) || !/[a-z0-9]$/.test(s)) return `${b} must begin and end with a letter or digit`;
  if (s.includes('..')) return `${b} must not hold two adjacent dots`;
  if (/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(s)) return `${b} must not look like an IP address`;
  for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (s.startsWith(p)) return `${b} must not start with the reserved prefix ${q(p)}`;
  for (const p of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (s.endsWith(p)) return `${b} must not end with the reserved suffix ${q(p)}`;
  return undefined;
}

/**
 * A key prefix: segments of S3's safe characters (A-Z a-z 0-9 ! - _ . * ' ( )) joined by
 * single slashes; no leading slash, no empty, "." or ".." segment. A single trailing slash
 * is allowed and dropped by `normalizePrefix`. May be empty.
 */
export function prefixProblem(s: string): string | undefined {
  const p = normalizePrefix(s);
  if (p === '') return undefined;
  if (p.length > 512) return `prefix is ${p.length} characters long; at most 512`;
  if (p.startsWith('/')) return `prefix ${q(s)} must not start with "/"`;
  const segments = p.split('/');
  if (segments.some((x) => x === '')) return `prefix ${q(s)} has an empty segment ("//")`;
  if (segments.some((x) => x === '.' || x === '..')) return `prefix ${q(s)} must not hold "." or ".." segments`;
  const bad = /[^A-Za-z0-9!_.*'()/-]/.exec(p);
  if (bad) return `prefix ${q(s)} contains ${q(bad[0])}; use letters, digits and ! - _ . * ' ( )`;
  return undefined;
}

export function normalizePrefix(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

/** `s3://bucket` or `s3://bucket/prefix[/]`. */
export function parseS3Location(s: string): StateS3Spec | string {
  if (!s.startsWith('s3://')) return `${q(s)} is not an S3 location: expected s3://bucket/prefix`;
  const rest = s.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') return `${q(s)} names no bucket: expected s3://bucket/prefix`;
  const bp = bucketProblem(bucket);
  if (bp) return `in ${q(s)}: ${bp}`;
  const pp = prefixProblem(prefix);
  if (pp) return `in ${q(s)}: ${pp}`;
  return { bucket, prefix: normalizePrefix(prefix) };
}

// ---- EBS ----------------------------------------------------------------------------

export const VOLUME_TYPES: readonly VolumeType[] = ['gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'];

/**
 * Size ranges in GiB per volume type, from the EC2 CreateVolume API reference (current as
 * of 2025-2026): gp2 1-16384, gp3 1-65536, io1 4-16384, io2 4-65536 (io2 is Block Express
 * in every Region now), st1/sc1 125-16384, standard 1-1024. Older pages list gp3 up to
 * 16384; AWS raised it to 64 TiB in 2025.
 */
export const VOLUME_SIZE_GIB: Readonly<Record<VolumeType, readonly [number, number]>> = {
  gp2: [1, 16384],
  gp3: [1, 65536],
  io1: [4, 16384],
  io2: [4, 65536],
  st1: [125, 16384],
  sc1: [125, 16384],
  standard: [1, 1024],
};

/** Provisioned IOPS ranges and the most IOPS per GiB (CreateVolume API reference). */
export const VOLUME_IOPS: Readonly<Partial<Record<VolumeType, { range: readonly [number, number]; perGiB: number; required: boolean }>>> = {
  gp3: { range: [3000, 80000], perGiB: 500, required: false },
  io1: { range: [100, 64000], perGiB: 50, required: true },
  io2: { range: [100, 256000], perGiB: 1000, required: true },
};

/** gp3 only. */
export const GP3_THROUGHPUT_MIBPS: readonly [number, number] = [125, 2000];

/**
 * Device names for data volumes: /dev/sd[f-p] or /dev/xvd[f-p], the names AWS has long
 * recommended for EBS data volumes on every virtualization type (sda/xvda are the root
 * device, b-e are the historical instance-store names). On Nitro instances the kernel
 * shows the volume as /dev/nvme<N>n1 whatever name is given here; the agent finds it by
 * the volume id in the NVMe serial, the name here only goes to AttachVolume.
 */
export function deviceProblem(s: string): string | undefined {
  return /^\/dev\/(sd|xvd)[f-p]$/.test(s) ? undefined : `device ${q(s)} must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf`;
}

const SYSTEM_DIRS = new Set(['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/lib/cfengine3', '/var/cfengine']);

/**
 * An absolute, normalised path of plain characters (it ends up in a shell script and in
 * /etc/fstab): no spaces or quotes, no "." / ".." segments, no trailing slash, and not a
 * system directory that mounting over would break.
 */
export function mountPointProblem(s: string): string | undefined {
  if (!s.startsWith('/')) return `mount point ${q(s)} must be an absolute path`;
  if (s === '/') return 'mount point must not be / itself';
  if (s.endsWith('/')) return `mount point ${q(s)} must not end with "/"`;
  const segments = s.slice(1).split('/');
  if (segments.some((x) => x === '')) return `mount point ${q(s)} has an empty segment ("//")`;
  if (segments.some((x) => x === '.' || x === '..')) return `mount point ${q(s)} must not hold "." or ".." segments`;
  const bad = /[^A-Za-z0-9._@+/-]/.exec(s);
  if (bad) return `mount point ${q(s)} contains ${q(bad[0])}; use letters, digits and . _ @ + -`;
  if (SYSTEM_DIRS.has(s)) return `mount point ${q(s)} is a system directory`;
  if (s.length > 255) return `mount point is ${s.length} characters long; at most 255`;
  return undefined;
}

// ---- ZooKeeper, durations ------------------------------------------------------------

/** `host:port[,host:port...][/chroot]` with host names or IPv4 addresses. */
export function zkConnectProblem(s: string): string | undefined {
  const slash = s.indexOf('/');
  const hosts = slash === -1 ? s : s.slice(0, slash);
  const chroot = slash === -1 ? undefined : s.slice(slash);
  if (hosts === '') return `${q(s)} names no server: expected host:port[,host:port...][/chroot]`;
  for (const hp of hosts.split(',')) {
    if (hp.startsWith('[') || (hp.match(/:/g)?.length ?? 0) > 1) return `server ${q(hp)} in ${q(s)}: IPv6 addresses are not supported; use a host name or IPv4 address`;
    const m = /^([^:]*):([0-9]+)$/.exec(hp);
    if (!m) return `server ${q(hp)} in ${q(s)} is not host:port`;
    const host = m[1]!;
    const port = Number(m[2]);
    const ipv4 = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
    if (ipv4 ? host.split('.').some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith('0'))) : !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) {
      return `server ${q(hp)} in ${q(s)}: ${q(host)} is not a host name or IPv4 address`;
    }
    if (port < 1 || port > 65535) return `server ${q(hp)} in ${q(s)}: port ${m[2]} is out of range 1-65535`;
  }
  if (chroot !== undefined) {
    if (chroot === '/' || chroot.endsWith('/')) return `chroot ${q(chroot)} in ${q(s)} must not end with "/"`;
    const segments = chroot.slice(1).split('/');
    if (segments.some((x) => x === '')) return `chroot ${q(chroot)} in ${q(s)} has an empty segment`;
    if (segments.some((x) => x === '.' || x === '..')) return `chroot ${q(chroot)} in ${q(s)} must not hold "." or ".." segments`;
    if (segments[0] === 'zookeeper') return `chroot ${q(chroot)} in ${q(s)} is inside the reserved /zookeeper tree`;
    if (/[^A-Za-z0-9._/-]/.test(chroot)) return `chroot ${q(chroot)} in ${q(s)} may hold only letters, digits, "/", ".", "_" and "-"`;
  }
  return undefined;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A duration: a whole number of seconds, or a whole number with a unit: "90s", "15m", "12h", "7d". */
export function parseDurationSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^([0-9]{1,9})(s|m|h|d)$/.exec(v);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : undefined;
}

/** 90 -> "90s", 3600 -> "1h", 604800 -> "7d": the largest unit that divides evenly. */
export function formatDuration(seconds: number): string {
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds !== 0 && seconds % n === 0) return `${seconds / n}${unit}`;
  }
  return `${seconds}s`;
}
