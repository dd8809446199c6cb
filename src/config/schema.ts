/**
 * The shape of fleet.yaml as a zod schema. zod checks structure (mappings, lists, unknown
 * keys, optional keys and defaults); every leaf is checked by our own validators, so each
 * message is ours. Relations between fields are checked in `cross.ts`.
 *
 * Message conventions consumed by `parse.ts`:
 * - a custom issue with `params.missing` means the key is absent; its message is what was expected;
 * - an issue whose message starts with EXPECT is a container of the wrong type; the rest is what was expected;
 * - an `unrecognized_keys` issue's message starts with KNOWN and lists the known keys;
 * - any other message is final text.
 */
import * as z from 'zod';

import type { ImageRef, Market, StateS3Spec, VolumeType } from '../model.js';
import { cronProblem } from './cron.js';
import { CHAOS_KINDS, parseDateRange, parseDays, parseHours, rolePatternProblem } from './chaos-policy.js';
import { timezoneProblem } from './eventbridge-cron.js';
import { DEFAULT_RECORD_QUOTA, MAX_RECORD_QUOTA, ZONE_OWN_RECORDS } from './limits.js';
import {
  MAX_COUNT,
  amiIdProblem,
  amiNamePatternProblem,
  amiOwnerProblem,
  bucketProblem,
  deviceProblem,
  emailProblem,
  fleetNameProblem,
  formatDuration,
  instanceProfileProblem,
  instanceTypeProblem,
  mountPointProblem,
  normalizePrefix,
  normalizeZone,
  parseDurationSeconds,
  parseS3Location,
  prefixProblem,
  regionProblem,
  securityGroupIdProblem,
  show,
  subnetIdProblem,
  VOLUME_TYPES,
  zkConnectProblem,
  zoneProblem,
} from './validators.js';

export const EXPECT = '\u0000expect:';
export const KNOWN = '\u0000known:';

class Bad {
  constructor(readonly message: string) {}
}

/** A leaf: any YAML value in, T out, or our message. */
function leaf<T>(expected: string, parse: (v: unknown) => T | Bad): z.ZodType<T> {
  return z.unknown().transform((v, ctx): T => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: expected, params: { missing: true } });
      return z.NEVER;
    }
    const r = parse(v);
    if (r instanceof Bad) {
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    }
    return r;
  });
}

function gotString(expected: string, v: unknown): Bad {
  return new Bad(`expected ${expected}, got ${show(v)}`);
}

/** A string leaf checked by `problem`, mapped by `map`. */
function str<T = string>(expected: string, problem: (s: string) => string | undefined, map?: (s: string) => T): z.ZodType<T> {
  return leaf(expected, (v) => {
    if (typeof v !== 'string') return gotString(expected, v);
    const p = problem(v);
    if (p !== undefined) return new Bad(p);
    return map ? map(v) : (v as T);
  });
}

function int(min: number, max: number, what = `a whole number ${min}..${max}`): z.ZodType<number> {
  return leaf(what, (v) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    if (typeof v === 'string' && /^\s*-?[0-9]+\s*$/.test(v)) return new Bad(`expected ${what}, got the string ${show(v)} (remove the quotes)`);
    return new Bad(`expected ${what}, got ${show(v)}`);
  });
}

function bool(): z.ZodType<boolean> {
  return leaf('true or false', (v) => {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(v)) {
      return new Bad(`expected true or false, got ${show(v)} (YAML 1.2 reads it as a string; write true or false)`);
    }
    return new Bad(`expected true or false, got ${show(v)}`);
  });
}

function oneOf<T extends string>(values: readonly T[]): z.ZodType<T> {
  const expected = `one of ${values.join(', ')}`;
  return leaf(expected, (v) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : new Bad(`expected ${expected}, got ${show(v)}`)));
}

/** A duration in whole seconds within [min, max]; the output is scaled by `scale` (1000 for ms). */
function duration(min: number, max: number, scale = 1): z.ZodType<number> {
  const expected = `a duration from ${formatDuration(min)} to ${formatDuration(max)}: seconds, or a number with s, m, h or d ("90s", "15m", "12h", "7d")`;
  return leaf(expected, (v) => {
    const s = parseDurationSeconds(v);
    if (s === undefined) return new Bad(`expected ${expected}, got ${show(v)}`);
    if (s < min || s > max) return new Bad(`duration ${show(v)} is out of range ${formatDuration(min)} to ${formatDuration(max)}`);
    return s * scale;
  });
}

/** A strict mapping: unknown keys are errors. */
function mapping<S extends z.core.$ZodLooseShape>(shape: S, expected: string) {
  const known = Object.keys(shape).join(',');
  return z.strictObject(shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? KNOWN + known : EXPECT + expected) });
}

function list<T>(item: z.ZodType<T>, expected: string, min = 0, max = Infinity) {
  const what = expected.replace(/^a list of /, '');
  return z
    .array(item, { error: EXPECT + expected })
    .min(min, { error: `expected at least ${min} ${min === 1 ? what.replace(/s$/, '') : what}, got none` })
    .max(max, { error: `expected at most ${max} ${what}` });
}

/** An optional block: absent or empty (`chaos:` with everything commented out) gives `fallback`. */
function block<T>(schema: z.ZodType<T>, fallback: T): z.ZodType<T> {
  // `.optional()` before the transform: zod 4 otherwise insists that a missing key stays missing.
  return z.unknown().optional().transform((v, ctx): T => {
    if (v === undefined || v === null) return fallback;
    const r = schema.safeParse(v);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
      return z.NEVER;
    }
    return r.data;
  });
}

// ---- leaves --------------------------------------------------------------------------

const INSTANCE_TYPE = 'an instance type such as t3.medium';
const instanceType = str(INSTANCE_TYPE, instanceTypeProblem);
const market = oneOf<Market>(['spot', 'on-demand']);
const subnetId = str('a subnet id (subnet- and 8 or 17 hex digits)', subnetIdProblem);
const securityGroupId = str('a security group id (sg- and 8 or 17 hex digits)', securityGroupIdProblem);
const bucket = str('an S3 bucket name', bucketProblem);
const IMAGE = 'an AMI id (ami- and 8 or 17 hex digits) or a mapping {owner, name}';

const imageByName = mapping(
  {
    owner: leaf('an account id such as "136693071363", or self, amazon, aws-marketplace', (v) => {
      if (typeof v === 'number') return new Bad(`expected the owner's account id as a quoted string ("${v}"): as a number it loses leading zeros`);
      if (typeof v !== 'string') return gotString('an account id such as "136693071363"', v);
      return amiOwnerProblem(v) === undefined ? v : new Bad(amiOwnerProblem(v)!);
    }),
    name: str('an AMI name pattern such as debian-12-amd64-*', amiNamePatternProblem),
  },
  'a mapping with owner and name',
);

const image: z.ZodType<ImageRef> = z.unknown().transform((v, ctx): ImageRef => {
  if (v === undefined) {
    ctx.addIssue({ code: 'custom', message: IMAGE, params: { missing: true } });
    return z.NEVER;
  }
  if (typeof v === 'string') {
    const p = amiIdProblem(v);
    if (p === undefined) return { id: v };
    ctx.addIssue({ code: 'custom', message: p });
    return z.NEVER;
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const r = imageByName.safeParse(v);
    if (r.success) return { owner: r.data.owner, namePattern: r.data.name };
    for (const issue of r.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: `expected ${IMAGE}, got ${show(v)}` });
  return z.NEVER;
});

const volume = mapping(
  {
    size: int(1, 65536, 'a size in GiB, a whole number 1..65536'),
    type: oneOf<VolumeType>(VOLUME_TYPES).default('gp3'),
    device: str('a device name such as /dev/sdf', deviceProblem),
    mount: str('an absolute path such as /var/lib/queue', mountPointProblem),
    iops: int(100, 256000).optional(),
    throughput: int(125, 2000, 'a throughput in MiB/s, a whole number 125..2000').optional(),
  },
  'a mapping with size, type, device and mount',
);

const role = mapping(
  {
    count: int(0, MAX_COUNT),
    type: instanceType,
    alternatives: list(instanceType, 'a list of instance types').optional(),
    market: market.optional(),
    'on-demand-fallback': bool().optional(),
    image: image.optional(),
    subnets: list(subnetId, 'a list of subnet ids', 1).optional(),
    state: mapping(
      { s3: str<StateS3Spec>('an S3 location s3://bucket/prefix', (s) => { const r = parseS3Location(s); return typeof r === 'string' ? r : undefined; }, (s) => parseS3Location(s) as StateS3Spec) },
      'a mapping with s3',
    ).optional(),
    volume: volume.optional(),
    // Overrides defaults.instance-profile: a role with its own profile can be granted only
    // its own state prefix (the CDK app creates one profile per profile name, infra/app).
    'instance-profile': str('an instance profile name', instanceProfileProblem).optional(),
  },
  'a mapping with count and type',
);

const CHAOS_DEFAULTS = {
  schedule: '0 3 * * 1-5',
  'opt-out': [] as string[],
  'max-kills-per-run': 1,
  'max-kills-per-role': 1,
  'min-converged': {} as Record<string, number>,
  'min-converged-default': 1,
  'min-time-between-kills': 86400,
  leashed: true,
  // ---- chaos (issue 10)
  timezone: 'UTC',
  blackout: [] as { days?: string[]; hours?: string; dates?: string[] }[],
  'rebuild-budget': 15 * 60,
  kinds: ['terminate'] as ('terminate' | 'spot-interruption')[],
};

const problemOf = (r: unknown) => (typeof r === 'string' ? r : undefined);

/** A blackout window: every condition given must hold (days AND hours AND dates). */
const blackoutWindow = mapping(
  {
    days: list(str('a day or range of days such as sat-sun', (s) => problemOf(parseDays(s))), 'a list of days such as [sat, sun] or [mon-fri]', 1).optional(),
    hours: str('a time range such as "09:00-17:00"', (s) => problemOf(parseHours(s))).optional(),
    dates: list(str('a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD', (s) => problemOf(parseDateRange(s))), 'a list of dates', 1).optional(),
  },
  'a mapping with days, hours and/or dates',
).refine((w) => w.days !== undefined || w.hours !== undefined || w.dates !== undefined, { message: 'a blackout window needs days, hours or dates' });

const chaos = mapping(
  {
    schedule: str('a 5-field cron expression such as "0 3 * * 1-5"', cronProblem, (s) => s.trim()).default(CHAOS_DEFAULTS.schedule),
    'opt-out': list(str('a role name or a wildcard such as db*', rolePatternProblem), 'a list of role names or wildcards').default([]),
    'max-kills-per-run': int(0, 999).default(CHAOS_DEFAULTS['max-kills-per-run']),
    'max-kills-per-role': int(0, 999).default(CHAOS_DEFAULTS['max-kills-per-role']),
    'min-converged': z.record(z.string(), int(0, MAX_COUNT), { error: EXPECT + 'a mapping of role names to counts' }).default({}),
    'min-converged-default': int(0, MAX_COUNT).default(CHAOS_DEFAULTS['min-converged-default']),
    'min-time-between-kills': duration(0, 365 * 86400).default(CHAOS_DEFAULTS['min-time-between-kills']),
    leashed: bool().default(true),
    // ---- chaos (issue 10)
    timezone: str('an IANA time zone such as Europe/Paris or UTC', timezoneProblem).default(CHAOS_DEFAULTS.timezone),
    blackout: list(blackoutWindow, 'a list of blackout windows').default([]),
    'rebuild-budget': duration(60, 86400).default(CHAOS_DEFAULTS['rebuild-budget']),
    kinds: list(oneOf(CHAOS_KINDS), 'a list of kill kinds', 1).default(['terminate']),
  },
  'a mapping of chaos settings',
);

const ZK_SESSION_TIMEOUT_MS = 10_000;

const coordination = mapping(
  {
    zookeeper: mapping(
      {
        connect: str('a ZooKeeper connect string host:port[,host:port...][/chroot]', zkConnectProblem),
        'session-timeout': duration(1, 3600, 1000).default(ZK_SESSION_TIMEOUT_MS),
      },
      'a mapping with connect and session-timeout',
    ).optional(),
  },
  'a mapping with zookeeper',
);

export const RECONCILE_DEFAULTS = { 'orphan-grace': 15 * 60_000, 'converge-timeout': 15 * 60_000, concurrency: 20, interval: 60_000 };

const reconcile = mapping(
  {
    'orphan-grace': duration(0, 7 * 86400, 1000).default(RECONCILE_DEFAULTS['orphan-grace']),
    'converge-timeout': duration(1, 86400, 1000).default(RECONCILE_DEFAULTS['converge-timeout']),
    concurrency: int(1, 1000).default(RECONCILE_DEFAULTS.concurrency),
    interval: duration(1, 86400, 1000).default(RECONCILE_DEFAULTS.interval),
  },
  'a mapping with orphan-grace, converge-timeout, concurrency and interval',
);

export const INTERRUPTION_DEFAULTS = { 'avoid-pool-minutes': 30, 'on-demand-after': 3, 'standby-max-age': 20 * 60_000, 'standby-window': 60 * 60_000 };

const interruption = mapping(
  {
    'avoid-pool-minutes': int(0, 7 * 1440, 'a number of minutes, a whole number 0..10080').default(INTERRUPTION_DEFAULTS['avoid-pool-minutes']),
    'on-demand-after': int(0, 1000, 'a number of interruptions per hour, a whole number 0..1000 (0: never)').default(INTERRUPTION_DEFAULTS['on-demand-after']),
    'standby-max-age': duration(0, 7 * 86400, 1000).default(INTERRUPTION_DEFAULTS['standby-max-age']),
    'standby-window': duration(60, 7 * 86400, 1000).default(INTERRUPTION_DEFAULTS['standby-window']),
  },
  'a mapping with avoid-pool-minutes, on-demand-after, standby-max-age and standby-window',
);

export const fleetSchema = mapping(
  {
    fleet: str('a fleet name such as demo', fleetNameProblem),
    region: str('an AWS Region code such as us-east-1', regionProblem).optional(),
    dns: mapping(
      {
        zone: str('a DNS zone such as prod.example.com', zoneProblem, normalizeZone),
        ttl: int(0, 172800, 'a TTL in seconds, a whole number 0..172800').default(60),
        'record-quota': int(ZONE_OWN_RECORDS + 1, MAX_RECORD_QUOTA, `the hosted zone's quota of record sets, a whole number ${ZONE_OWN_RECORDS + 1}..${MAX_RECORD_QUOTA} (Route 53's default is ${DEFAULT_RECORD_QUOTA})`).default(DEFAULT_RECORD_QUOTA),
      },
      'a mapping with zone, ttl and record-quota',
    ),
    naming: block(mapping({ 'index-digits': int(1, 6).default(2) }, 'a mapping with index-digits'), { 'index-digits': 2 }),
    hub: leaf('the name of the policy hub, such as hub-01', (v) => (typeof v === 'string' ? v : gotString('a name such as hub-01', v))),
    policy: str<StateS3Spec>('an S3 location s3://bucket/prefix', (s) => { const r = parseS3Location(s); return typeof r === 'string' ? r : undefined; }, (s) => parseS3Location(s) as StateS3Spec).optional(),
    journal: mapping(
      {
        bucket,
        prefix: str('an S3 key prefix such as journal', prefixProblem, normalizePrefix).default('journal'),
      },
      'a mapping with bucket and prefix',
    ),
    defaults: mapping(
      {
        image,
        subnets: list(subnetId, 'a list of subnet ids', 1),
        'security-groups': list(securityGroupId, 'a list of security group ids', 1, 5),
        'instance-profile': str('an instance profile name', instanceProfileProblem).optional(),
        market: market.default('on-demand'),
      },
      'a mapping with image, subnets and security-groups',
    ),
    roles: z.record(z.string(), role, { error: EXPECT + 'a mapping of role names to roles' }),
    coordination: block(coordination, {}),
    reconcile: block(reconcile, RECONCILE_DEFAULTS),
    chaos: block(chaos, CHAOS_DEFAULTS),
    interruption: block(interruption, INTERRUPTION_DEFAULTS),
    // Where the deployed alarms write (infra/app): absent, the SNS topic has no subscriber.
    alerts: block(mapping({ email: str('an email address such as ops@example.com', emailProblem).optional() }, 'a mapping with email'), {}),
  },
  'a mapping with fleet, dns, hub, journal, defaults and roles',
);

export type FleetYaml = z.output<typeof fleetSchema>;
