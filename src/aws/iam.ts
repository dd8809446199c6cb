/**
 * Least privilege, derived from the code: the one place that says which IAM actions fleet's
 * deployed parts need, and on what. It sits next to the adapters because it mirrors them:
 *
 * - `COMMAND_ACTION`: every SDK command the adapters send (src/aws/*.ts) -> the IAM action
 *   that authorizes it. A test scans the adapters for `new XxxCommand(` and fails on a
 *   command missing here, or listed here and sent nowhere.
 * - `METHODS`: every adapter method (port.method) -> the statements it needs: the commands it
 *   sends, scoped as narrowly as IAM allows (fleet tag, hosted zone, bucket prefix), plus
 *   what those commands imply (tags at launch need ec2:CreateTags, an instance profile needs
 *   iam:PassRole).
 * - `PARTS`: each deployed part (the interruption handler, the chaos job) -> the adapter
 *   methods its flows call; `NODE_CALLS`: what an instance itself calls (its bootstrap and
 *   policy scripts, through the AWS CLI); `PLATFORM`: what Lambda, EventBridge Scheduler and
 *   the VPC need to run a part at all.
 *
 * infra/app builds every policy from `partStatements` / `nodeStatements` /
 * `platformStatements`; an action is written here once and nowhere else. Where IAM cannot
 * scope (Describe* and List* calls, GetChange), the resource is "*" or a type wildcard, and
 * `UNSCOPABLE` says why (the README repeats it).
 *
 * Pure data and functions: no SDK import, no I/O. ARN parts may be CDK tokens (strings).
 */
import { TAG } from '../tags.js';

/** The IAM action that authorizes each SDK command an adapter sends. */
export const COMMAND_ACTION = {
  // EC2 (ec2.ts)
  DescribeInstances: 'ec2:DescribeInstances',
  DescribeImages: 'ec2:DescribeImages',
  DescribeSubnets: 'ec2:DescribeSubnets',
  DescribeVolumes: 'ec2:DescribeVolumes',
  DescribeSnapshots: 'ec2:DescribeSnapshots',
  DescribeInstanceTypes: 'ec2:DescribeInstanceTypes',
  DescribeInstanceTypeOfferings: 'ec2:DescribeInstanceTypeOfferings',
  DescribeSecurityGroups: 'ec2:DescribeSecurityGroups',
  RunInstances: 'ec2:RunInstances',
  TerminateInstances: 'ec2:TerminateInstances',
  StopInstances: 'ec2:StopInstances',
  StartInstances: 'ec2:StartInstances',
  CreateVolume: 'ec2:CreateVolume',
  AttachVolume: 'ec2:AttachVolume',
  DetachVolume: 'ec2:DetachVolume',
  DeleteVolume: 'ec2:DeleteVolume',
  CreateSnapshot: 'ec2:CreateSnapshot',
  // EBS direct API (ebs.ts)
  ListSnapshotBlocks: 'ebs:ListSnapshotBlocks',
  ListChangedBlocks: 'ebs:ListChangedBlocks',
  // Route 53 (route53.ts)
  ListHostedZonesByName: 'route53:ListHostedZonesByName',
  CreateHostedZone: 'route53:CreateHostedZone',
  ListResourceRecordSets: 'route53:ListResourceRecordSets',
  ChangeResourceRecordSets: 'route53:ChangeResourceRecordSets',
  GetChange: 'route53:GetChange',
  // S3 (s3.ts, records.ts). HeadBucket and ListObjectsV2 are authorized by s3:ListBucket, DeleteObjects
  // by s3:DeleteObject per key.
  HeadBucket: 's3:ListBucket',
  CreateBucket: 's3:CreateBucket',
  ListObjectsV2: 's3:ListBucket',
  GetObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  DeleteObject: 's3:DeleteObject',
  DeleteObjects: 's3:DeleteObject',
} as const;

export type Command = keyof typeof COMMAND_ACTION;

/** Actions no command is named after, needed because of what a command is sent with. */
export const IMPLIED_ACTION = {
  /** `TagSpecifications` on a create call (RunInstances, CreateVolume, CreateSnapshot). */
  tagOnCreate: 'ec2:CreateTags',
  /** `IamInstanceProfile` on RunInstances: the caller passes the profile's role to EC2. */
  passRole: 'iam:PassRole',
} as const;

/** One IAM statement as plain data; infra/app turns it into an iam.PolicyStatement. */
export interface Statement {
  actions: string[];
  resources: string[];
  /** IAM condition block: operator -> key -> value(s). */
  conditions?: Record<string, Record<string, string | string[]>>;
}

/** What the statements are scoped to. Strings may be CDK tokens. */
export interface IamScope {
  partition: string;
  region: string;
  account: string;
  fleet: string;
  /** Bare hosted zone id (Z...). */
  hostedZoneId: string;
  /** Lowercase zone name, no trailing dot. */
  zone: string;
  journal: { bucket: string; prefix: string };
  /** Every subnet and security group fleet.yaml launches into. */
  subnets: string[];
  securityGroups: string[];
  /** ARNs of the node roles the launches pass (one per instance profile). */
  nodeRoleArns: string[];
}

/** Where IAM cannot scope an action (resource "*" or a type-wide wildcard), and why. */
export const UNSCOPABLE: Readonly<Record<string, string>> = {
  'ec2:DescribeInstances': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeImages': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeSubnets': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeVolumes': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeSnapshots': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeInstanceTypes': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeInstanceTypeOfferings': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'ec2:DescribeSecurityGroups': 'EC2 Describe* actions support no resource-level permissions: resource must be "*"',
  'route53:ListHostedZonesByName': 'a listing across zones: resource must be "*"',
  'route53:CreateHostedZone': 'the zone does not exist yet: resource must be "*"',
  'route53:GetChange': 'a change id is only known once made: resource is change/*',
  'ec2:RunInstances':
    'the new instance, volumes and network interface have no ids yet (type wildcards, narrowed by aws:RequestTag/fleet:fleet); images may be public (image/*)',
  'ec2:CreateVolume': 'the new volume has no id yet: volume/*, narrowed by aws:RequestTag/fleet:fleet',
  'ec2:CreateSnapshot': 'the new snapshot has no id yet: snapshot/*, narrowed by aws:RequestTag/fleet:fleet',
  'ec2:CreateNetworkInterface': 'Lambda in a VPC: ENI actions need "*" (as AWSLambdaVPCAccessExecutionRole)',
};

type Conditions = NonNullable<Statement['conditions']>;

const ec2Arn = (s: IamScope, what: string): string => `arn:${s.partition}:ec2:${s.region}:${s.account}:${what}`;
/** Images and snapshots have no account in their ARN. */
const ec2GlobalArn = (s: IamScope, what: string): string => `arn:${s.partition}:ec2:${s.region}::${what}`;
const zoneArn = (s: IamScope): string => `arn:${s.partition}:route53:::hostedzone/${s.hostedZoneId}`;
const bucketArn = (s: { partition: string }, bucket: string): string => `arn:${s.partition}:s3:::${bucket}`;
const tagged = (s: IamScope): Conditions => ({ StringEquals: { [`aws:ResourceTag/${TAG.fleet}`]: s.fleet } });
const requestTagged = (s: IamScope): Conditions => ({ StringEquals: { [`aws:RequestTag/${TAG.fleet}`]: s.fleet } });

function allow(commands: Command[], resources: string[], conditions?: Conditions): Statement {
  return { actions: [...new Set(commands.map((c) => COMMAND_ACTION[c]))], resources, ...(conditions ? { conditions } : {}) };
}

/** ec2:CreateTags only as part of `action` (tags at creation), only with the fleet's tag. */
function tagOnCreate(s: IamScope, action: 'RunInstances' | 'CreateVolume' | 'CreateSnapshot', resources: string[]): Statement {
  return {
    actions: [IMPLIED_ACTION.tagOnCreate],
    resources,
    conditions: { StringEquals: { 'ec2:CreateAction': action, [`aws:RequestTag/${TAG.fleet}`]: s.fleet } },
  };
}

/** The S3 statements of "objects under a prefix": listing limited to the prefix, object actions on its keys. */
function prefixGrant(partition: string, loc: { bucket: string; prefix: string }, listAction: string | undefined, objectActions: readonly string[]): Statement[] {
  const p = loc.prefix.replace(/\/+$/, '');
  const bucket = `arn:${partition}:s3:::${loc.bucket}`;
  const out: Statement[] = [];
  if (listAction) out.push({ actions: [listAction], resources: [bucket], conditions: { StringLike: { 's3:prefix': p ? [`${p}/*`, `${p}/`, p] : ['*'] } } });
  if (objectActions.length > 0) out.push({ actions: [...objectActions], resources: [`${bucket}/${p ? `${p}/*` : '*'}`] });
  return out;
}

/**
 * Each adapter method (port.method, as in src/ports.ts) -> the commands it sends and the
 * statements that allow them. `sends` is checked against the adapter sources by a test.
 */
export const METHODS = {
  // ---- Instances, Volumes, Catalog (ec2.ts)
  'instances.listFleetInstances': { sends: ['DescribeInstances'], grant: () => [allow(['DescribeInstances'], ['*'])] },
  'instances.describe': { sends: ['DescribeInstances'], grant: () => [allow(['DescribeInstances'], ['*'])] },
  'instances.byClientToken': { sends: ['DescribeInstances'], grant: () => [allow(['DescribeInstances'], ['*'])] },
  'instances.byName': { sends: ['DescribeInstances'], grant: () => [allow(['DescribeInstances'], ['*'])] },
  'instances.byPrivateIp': { sends: ['DescribeInstances'], grant: () => [allow(['DescribeInstances'], ['*'])] },
  'catalog.resolveImage': { sends: ['DescribeImages'], grant: () => [allow(['DescribeImages'], ['*'])] },
  'catalog.subnetZones': { sends: ['DescribeSubnets'], grant: () => [allow(['DescribeSubnets'], ['*'])] },
  // The preflight's reads (AccountCatalog, createEc2Catalog): the CLI runs them before a
  // mutation; no deployed part does (its launches were checked when fleet.yaml was applied).
  'catalog.instanceTypes': { sends: ['DescribeInstanceTypes'], grant: () => [allow(['DescribeInstanceTypes'], ['*'])] },
  'catalog.offerings': { sends: ['DescribeInstanceTypeOfferings'], grant: () => [allow(['DescribeInstanceTypeOfferings'], ['*'])] },
  'catalog.image': { sends: ['DescribeImages'], grant: () => [allow(['DescribeImages'], ['*'])] },
  'catalog.subnets': { sends: ['DescribeSubnets'], grant: () => [allow(['DescribeSubnets'], ['*'])] },
  'catalog.securityGroups': { sends: ['DescribeSecurityGroups'], grant: () => [allow(['DescribeSecurityGroups'], ['*'])] },
  'instances.launch': {
    sends: ['RunInstances'],
    grant: (s: IamScope) => {
      const created = [ec2Arn(s, 'instance/*'), ec2Arn(s, 'volume/*')];
      return [
        // What the call creates carries the fleet's tag (TagSpecifications), or it is refused.
        allow(['RunInstances'], created, requestTagged(s)),
        // What it uses: fleet.yaml's subnets and security groups, any image (public AMIs
        // belong to other accounts), the interface and spot request it creates.
        allow(['RunInstances'], [
          ec2GlobalArn(s, 'image/*'),
          ...s.subnets.map((id) => ec2Arn(s, `subnet/${id}`)),
          ...s.securityGroups.map((id) => ec2Arn(s, `security-group/${id}`)),
          ec2Arn(s, 'network-interface/*'),
          ec2Arn(s, 'spot-instances-request/*'),
        ]),
        tagOnCreate(s, 'RunInstances', created),
        ...(s.nodeRoleArns.length > 0
          ? [{ actions: [IMPLIED_ACTION.passRole], resources: [...s.nodeRoleArns], conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } }]
          : []),
      ];
    },
  },
  'instances.terminate': { sends: ['TerminateInstances'], grant: (s: IamScope) => [allow(['TerminateInstances'], [ec2Arn(s, 'instance/*')], tagged(s))] },
  'instances.stop': { sends: ['StopInstances'], grant: (s: IamScope) => [allow(['StopInstances'], [ec2Arn(s, 'instance/*')], tagged(s))] },
  'instances.start': { sends: ['StartInstances'], grant: (s: IamScope) => [allow(['StartInstances'], [ec2Arn(s, 'instance/*')], tagged(s))] },
  'volumes.listFleetVolumes': { sends: ['DescribeVolumes'], grant: () => [allow(['DescribeVolumes'], ['*'])] },
  'volumes.volumesOfName': { sends: ['DescribeVolumes'], grant: () => [allow(['DescribeVolumes'], ['*'])] },
  'volumes.describeVolume': { sends: ['DescribeVolumes'], grant: () => [allow(['DescribeVolumes'], ['*'])] },
  'volumes.createVolume': {
    sends: ['CreateVolume'],
    grant: (s: IamScope) => [
      allow(['CreateVolume'], [ec2Arn(s, 'volume/*')], requestTagged(s)),
      // Restored from one of the fleet's own snapshots only.
      allow(['CreateVolume'], [ec2GlobalArn(s, 'snapshot/*')], tagged(s)),
      tagOnCreate(s, 'CreateVolume', [ec2Arn(s, 'volume/*')]),
    ],
  },
  'volumes.attachVolume': { sends: ['AttachVolume'], grant: (s: IamScope) => [allow(['AttachVolume'], [ec2Arn(s, 'instance/*'), ec2Arn(s, 'volume/*')], tagged(s))] },
  'volumes.detachVolume': { sends: ['DetachVolume'], grant: (s: IamScope) => [allow(['DetachVolume'], [ec2Arn(s, 'instance/*'), ec2Arn(s, 'volume/*')], tagged(s))] },
  'volumes.deleteVolume': { sends: ['DeleteVolume'], grant: (s: IamScope) => [allow(['DeleteVolume'], [ec2Arn(s, 'volume/*')], tagged(s))] },
  'volumes.createSnapshot': {
    sends: ['CreateSnapshot'],
    grant: (s: IamScope) => [
      allow(['CreateSnapshot'], [ec2Arn(s, 'volume/*')], tagged(s)),
      allow(['CreateSnapshot'], [ec2GlobalArn(s, 'snapshot/*')], requestTagged(s)),
      tagOnCreate(s, 'CreateSnapshot', [ec2GlobalArn(s, 'snapshot/*')]),
    ],
  },
  'volumes.describeSnapshot': { sends: ['DescribeSnapshots'], grant: () => [allow(['DescribeSnapshots'], ['*'])] },
  'volumes.snapshotsOfVolume': { sends: ['DescribeSnapshots'], grant: () => [allow(['DescribeSnapshots'], ['*'])] },
  // ---- EbsDirect (ebs.ts): only the fleet's snapshots.
  'ebs.snapshotBlocks': { sends: ['ListSnapshotBlocks'], grant: (s: IamScope) => [allow(['ListSnapshotBlocks'], [ec2GlobalArn(s, 'snapshot/*')], tagged(s))] },
  'ebs.changedBlocks': { sends: ['ListChangedBlocks'], grant: (s: IamScope) => [allow(['ListChangedBlocks'], [ec2GlobalArn(s, 'snapshot/*')], tagged(s))] },
  // ---- Dns (route53.ts): the fleet's zone, A records of names inside it.
  'dns.findZone': { sends: ['ListHostedZonesByName'], grant: () => [allow(['ListHostedZonesByName'], ['*'])] },
  'dns.createZone': { sends: ['CreateHostedZone', 'ListHostedZonesByName'], grant: () => [allow(['CreateHostedZone', 'ListHostedZonesByName'], ['*'])] },
  'dns.listRecords': { sends: ['ListResourceRecordSets'], grant: (s: IamScope) => [allow(['ListResourceRecordSets'], [zoneArn(s)])] },
  'dns.getRecord': { sends: ['ListResourceRecordSets'], grant: (s: IamScope) => [allow(['ListResourceRecordSets'], [zoneArn(s)])] },
  'dns.change': {
    sends: ['ChangeResourceRecordSets'],
    grant: (s: IamScope) => [
      allow(['ChangeResourceRecordSets'], [zoneArn(s)], {
        'ForAllValues:StringEquals': { 'route53:ChangeResourceRecordSetsRecordTypes': ['A'] },
        'ForAllValues:StringLike': { 'route53:ChangeResourceRecordSetsNormalizedRecordNames': [`*.${s.zone}`] },
      }),
    ],
  },
  'dns.changeStatus': { sends: ['GetChange'], grant: (s: IamScope) => [allow(['GetChange'], [`arn:${s.partition}:route53:::change/*`])] },
  // ---- Journal (s3.ts): create-only objects under the journal prefix, listed and read back.
  'journal.create': { sends: ['PutObject'], grant: (s: IamScope) => prefixGrant(s.partition, s.journal, undefined, [COMMAND_ACTION.PutObject]) },
  'journal.list': {
    sends: ['ListObjectsV2', 'GetObject'],
    grant: (s: IamScope) => prefixGrant(s.partition, s.journal, COMMAND_ACTION.ListObjectsV2, [COMMAND_ACTION.GetObject]),
  },
  'journal.read': { sends: ['GetObject'], grant: (s: IamScope) => prefixGrant(s.partition, s.journal, undefined, [COMMAND_ACTION.GetObject]) },
  // ---- Records (records.ts): the spot handler's create-only records (pool memory, event
  // markers) under the journal prefix, as the journal's own objects are.
  'records.create': { sends: ['PutObject'], grant: (s: IamScope) => prefixGrant(s.partition, s.journal, undefined, [COMMAND_ACTION.PutObject]) },
  'records.read': { sends: ['GetObject'], grant: (s: IamScope) => prefixGrant(s.partition, s.journal, undefined, [COMMAND_ACTION.GetObject]) },
  'records.list': {
    sends: ['ListObjectsV2', 'GetObject'],
    grant: (s: IamScope) => prefixGrant(s.partition, s.journal, COMMAND_ACTION.ListObjectsV2, [COMMAND_ACTION.GetObject]),
  },
  // ---- Used by the CLI only (fleet init, retire --delete-state, policy push): never deployed.
  'blobs.bucketStatus': { sends: ['HeadBucket'], grant: (s: IamScope) => [allow(['HeadBucket'], [bucketArn(s, s.journal.bucket)])] },
  'blobs.createBucket': { sends: ['CreateBucket'], grant: (s: IamScope) => [allow(['CreateBucket'], [bucketArn(s, s.journal.bucket)])] },
  'objects.list': { sends: ['ListObjectsV2'], grant: () => [] as Statement[] },
  'objects.put': { sends: ['PutObject'], grant: () => [] as Statement[] },
  'objects.delete': { sends: ['DeleteObject'], grant: () => [] as Statement[] },
  'objects.deleteMany': { sends: ['DeleteObjects'], grant: () => [] as Statement[] },
} as const satisfies Record<string, { sends: readonly Command[]; grant: (s: IamScope) => Statement[] }>;

export type Method = keyof typeof METHODS;

/** The methods a replacement of a name calls (launch, wait converged, swap, terminate). */
const OBSERVE: Method[] = ['dns.findZone', 'dns.listRecords', 'dns.getRecord', 'instances.listFleetInstances', 'instances.describe', 'instances.byName', 'instances.byPrivateIp'];
const REPLACE: Method[] = [
  ...OBSERVE,
  'catalog.resolveImage',
  'catalog.subnetZones',
  'instances.byClientToken',
  'instances.launch',
  'instances.terminate',
  'dns.change',
  'dns.changeStatus',
  'journal.create',
];
/** What a replacement adds when a role keeps a volume (stop, move, or snapshot and rebuild). */
const VOLUMES: Method[] = [
  'instances.stop',
  'instances.start',
  'volumes.listFleetVolumes',
  'volumes.volumesOfName',
  'volumes.describeVolume',
  'volumes.createVolume',
  'volumes.attachVolume',
  'volumes.detachVolume',
  'volumes.deleteVolume',
  'volumes.createSnapshot',
  'volumes.describeSnapshot',
  'volumes.snapshotsOfVolume',
];
// No EbsDirect (ebs.*) here: neither Lambda has an EBS direct client (src/aws/core-adapters.ts,
// src/chaos/wiring.ts build no deps.ebs), so a volume move that needs its snapshot verified is
// refused there and left to the CLI. Granting ebs:List* would allow what the code never sends.


export type Part = 'interruption' | 'chaos';

/**
 * Each deployed Lambda -> the adapter methods its flows call. `volumes` only when a role of
 * fleet.yaml declares a volume: a fleet without volumes grants no volume action at all.
 */
export const PARTS: Readonly<Record<Part, { always: readonly Method[]; volumes: readonly Method[] }>> = {
  // Replace (warning, health), pre-warm a standby (rebalance), reconcile one name (state change).
  // Records (src/interruption/wiring.ts, src/ops/interruption.ts): an event marker read before
  // and created after each event (a redelivery does nothing twice), the pool memory listed
  // (loadPoolMemory) and an interruption remembered in it (create).
  interruption: { always: [...REPLACE, 'records.create', 'records.read', 'records.list'], volumes: VOLUMES },
  // Observe, pick, kill through the kill flow (journal entry before each kill), then heal: the
  // night drives reconcile for the killed names and measures time-to-rebuilt, so it replaces
  // names as the handler does (a volume role's name included).
  // It lists the journal (kills since a time) for the minimum time between kills of a name
  // (it never reads one entry by key). Its heal launches avoid the pools spot interrupted
  // lately (src/chaos/wiring.ts: usePoolMemoryLazily), so it lists the pool memory; it never
  // writes a record.
  chaos: { always: [...REPLACE, 'journal.list', 'records.list'], volumes: VOLUMES },
};

/** Merge statements with identical resources and conditions; sort actions; drop duplicates. */
export function mergeStatements(list: Statement[]): Statement[] {
  const byKey = new Map<string, Statement>();
  for (const st of list) {
    const key = JSON.stringify([[...st.resources].sort(), st.conditions ?? null]);
    const have = byKey.get(key);
    if (have) have.actions = [...new Set([...have.actions, ...st.actions])].sort();
    else byKey.set(key, { ...st, actions: [...new Set(st.actions)].sort(), resources: [...new Set(st.resources)] });
  }
  return [...byKey.values()];
}

export function partMethods(part: Part, opts: { volumes: boolean }): Method[] {
  const p = PARTS[part];
  return [...new Set([...p.always, ...(opts.volumes ? p.volumes : [])])];
}

/** The statements a deployed part needs for the adapter calls its flows make. */
export function partStatements(part: Part, scope: IamScope, opts: { volumes: boolean }): Statement[] {
  return mergeStatements(partMethods(part, opts).flatMap((m) => METHODS[m].grant(scope)));
}

// ---- what an instance calls itself (src/bootstrap/userdata.ts, infra/cfengine templates)

/**
 * The AWS CLI calls an instance makes with its instance profile, as `service verb`: a test
 * scans the bootstrap and the policy templates for `aws ... <service> <verb>` and fails on
 * one missing here. `s3 sync` runs ListObjectsV2 plus GetObject (restore) or PutObject (save).
 */
export const NODE_CALLS = {
  'ec2 create-tags': ['ec2:CreateTags'],
  'ec2 describe-volumes': ['ec2:DescribeVolumes'],
  's3 sync': ['s3:ListBucket', 's3:GetObject', 's3:PutObject'],
} as const;

/** The tags an instance sets on itself (readiness and mount reports); nothing else. */
export const NODE_SELF_TAGS: readonly string[] = [TAG.converged, TAG.mounted];

export interface NodeScope {
  partition: string;
  region: string;
  account: string;
  /** The state.s3 locations of the roles using this profile (read and written back). */
  state: { bucket: string; prefix: string }[];
  /** The policy: location, when the hub's role uses this profile (read only). */
  policy?: { bucket: string; prefix: string };
}

/**
 * An instance profile's statements: tag only itself (the resource is the caller's own
 * instance: `aws:ARN` equals `ec2:SourceInstanceARN`, the instance the role credentials were
 * issued to) and only with the readiness and mount tags; describe volumes (the mount report
 * finds its volume by device); read and write its roles' state prefixes; read the policy
 * location when it serves the masterfiles.
 */
export function nodeStatements(s: NodeScope): Statement[] {
  const out: Statement[] = [
    {
      actions: [NODE_CALLS['ec2 create-tags'][0]],
      resources: [`arn:${s.partition}:ec2:${s.region}:${s.account}:instance/*`],
      conditions: {
        StringEquals: { 'aws:ARN': '${ec2:SourceInstanceARN}' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [...NODE_SELF_TAGS] },
      },
    },
    { actions: [NODE_CALLS['ec2 describe-volumes'][0]], resources: ['*'] },
  ];
  const [list, get, put] = NODE_CALLS['s3 sync'];
  for (const loc of s.state) out.push(...prefixGrant(s.partition, loc, list, [get, put]));
  if (s.policy) out.push(...prefixGrant(s.partition, s.policy, list, [get]));
  return mergeStatements(out);
}

// ---- what the platform needs to run a part (not the code's calls)

export const PLATFORM = {
  /** A Lambda's own log group (created by the stack: no logs:CreateLogGroup). */
  lambdaLogs: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  /** A Lambda's asynchronous-invocation dead-letter queue. */
  lambdaDlq: ['sqs:SendMessage'],
  /** A Lambda placed in a VPC manages its network interfaces. */
  lambdaVpc: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses', COMMAND_ACTION.DescribeSubnets],
  /** EventBridge Scheduler's role: invoke the chaos entry, park a failed delivery in the DLQ. */
  schedulerInvoke: ['lambda:InvokeFunction'],
  schedulerDlq: ['sqs:SendMessage'],
} as const;

/** A Lambda's platform statements: write its log group, send to its DLQ, and manage ENIs in a VPC. */
export function lambdaPlatformStatements(s: { logGroupArn: string; dlqArn: string; vpc: boolean }): Statement[] {
  return mergeStatements([
    { actions: [...PLATFORM.lambdaLogs], resources: [s.logGroupArn] },
    { actions: [...PLATFORM.lambdaDlq], resources: [s.dlqArn] },
    ...(s.vpc ? [{ actions: [...PLATFORM.lambdaVpc], resources: ['*'] }] : []),
  ]);
}

/** The scheduler role's statements. */
export function schedulerStatements(s: { functionArn: string; dlqArn: string }): Statement[] {
  return mergeStatements([
    { actions: [...PLATFORM.schedulerInvoke], resources: [s.functionArn] },
    { actions: [...PLATFORM.schedulerDlq], resources: [s.dlqArn] },
  ]);
}
