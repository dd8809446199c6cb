/**
 * The stack that runs fleet's serverless parts in the user's account, parameterised by a
 * validated fleet.yaml (FleetSpec):
 *
 * - the spot-interruption handler Lambda, fed by four EventBridge rules (spot interruption
 *   warning, rebalance recommendation, instance state change, AWS Health scheduled change);
 * - the nightly chaos Lambda, started by an EventBridge Scheduler schedule (fleet.yaml's cron);
 * - the journal bucket and its server access log bucket;
 * - one instance profile per profile name fleet.yaml launches with;
 * - alarms into an encrypted SNS topic: silent unless something failed.
 *
 * Every IAM statement comes from src/aws/iam.ts: this file names no service action itself.
 * Offline by construction: assets are directories already built (`npm run bundle`), no
 * lookups, no Docker, env-agnostic (account and region stay CloudFormation pseudo parameters).
 */
import { Aws, CfnOutput, CfnParameter, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import type { Construct } from 'constructs';

import { lambdaPlatformStatements, nodeStatements, partStatements, schedulerStatements, type Part, type Statement } from '../../../src/aws/iam.js';
import { toEventBridgeCron } from '../../../src/config/eventbridge-cron.js';
import { InputError } from '../../../src/errors.js';
import type { FleetSpec } from '../../../src/model.js';

/** The JSON log field the failure reports carry; the metric filter counts these lines. */
export const FAILURE_FILTER = '{ $.level = "error" }';
/** Where the failure-report metric lives. */
export const METRIC_NAMESPACE = 'fleet';
export const FAILURE_METRIC = 'FailureReports';

/** Lambda's limit on the total size of a function's environment variables. */
const LAMBDA_ENV_LIMIT = 4096;

/** The four rules' event patterns (the same as the AWS Node Termination Handler's and Karpenter's queue rules). */
export const EVENT_PATTERNS = {
  SpotInterruption: { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] },
  Rebalance: { source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] },
  // Only the states that end service (not pending/running): a stopped or terminated name is reconciled.
  StateChange: { source: ['aws.ec2'], detailType: ['EC2 Instance State-change Notification'], detail: { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] } },
  ScheduledChange: { source: ['aws.health'], detailType: ['AWS Health Event'], detail: { service: ['EC2'], eventTypeCategory: ['scheduledChange'] } },
} as const satisfies Record<string, events.EventPattern>;

export interface FleetStackProps extends StackProps {
  spec: FleetSpec;
  /** Directories `npm run bundle` wrote: each holds index.mjs exporting `handler`. */
  bundles: { interruption: string; chaos: string };
  /** The fleet's hosted zone id; absent, a `HostedZoneId` stack parameter asks for it at deploy. */
  hostedZoneId?: string;
  /**
   * Where the Lambdas run to reach ZooKeeper. Absent: fleet.yaml's default subnets and security
   * groups when `coordination.zookeeper` is set, else no VPC (the AWS APIs are public).
   */
  lambdaVpc?: { subnets: string[]; securityGroups: string[] };
  /** 'existing': the journal bucket exists already (made by `fleet init`): reference it, do not create it. */
  journalBucket?: 'create' | 'existing';
  /** Time zone of the chaos schedule (IANA); default UTC. */
  chaosTimezone?: string;
}

function toPolicyStatement(s: Statement): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: s.actions, resources: s.resources, ...(s.conditions ? { conditions: s.conditions } : {}) });
}

/** The name an instance profile is created with, from fleet.yaml's name (an ARN names a profile made elsewhere). */
function profileName(p: string, where: string): string {
  if (p.startsWith('arn:')) {
    throw new InputError(
      `${where}: instance profile ${p} is an ARN; the stack creates the node instance profiles with least privilege, so give their names (e.g. fleet-node-web), not ARNs`,
    );
  }
  return p;
}

export class FleetStack extends Stack {
  readonly interruption: lambda.Function;
  readonly chaos: lambda.Function;
  readonly topic: sns.Topic;
  readonly dlq: sqs.Queue;

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    super(scope, id, props);
    const { spec } = props;
    const hasVolumes = spec.roles.some((r) => r.volume !== undefined);

    const zoneId =
      props.hostedZoneId ??
      new CfnParameter(this, 'HostedZoneId', {
        type: 'String',
        allowedPattern: '^Z[A-Z0-9]{1,32}$',
        description: `The id of the public hosted zone ${spec.dns.zone} (fleet init creates it): aws route53 list-hosted-zones-by-name --dns-name ${spec.dns.zone}`,
      }).valueAsString;

    // ---- the dead-letter queue: events and invocations that failed every retry park here.
    this.dlq = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.dlq, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the Lambdas, their rules and the schedule; a DLQ has no DLQ of its own.' },
    ]);

    // ---- the journal bucket: create-only history, kept when the stack is deleted.
    const journal =
      props.journalBucket === 'existing'
        ? s3.Bucket.fromBucketName(this, 'Journal', spec.journal.bucket)
        : this.journalBucket(spec.journal.bucket);

    // ---- node instance profiles: one per profile name fleet.yaml launches with.
    const nodeRoles = this.nodeProfiles(spec);

    const iamScope = {
      partition: Aws.PARTITION,
      region: Aws.REGION,
      account: Aws.ACCOUNT_ID,
      fleet: spec.fleet,
      hostedZoneId: zoneId,
      zone: spec.dns.zone,
      journal: spec.journal,
      subnets: [...new Set([...spec.defaults.subnets, ...spec.roles.flatMap((r) => r.subnets ?? [])])],
      securityGroups: spec.defaults.securityGroups,
      nodeRoleArns: nodeRoles.map((r) => r.roleArn),
    };

    const vpc = props.lambdaVpc ?? (spec.coordination.zookeeper ? { subnets: spec.defaults.subnets, securityGroups: spec.defaults.securityGroups } : undefined);
    const specJson = JSON.stringify(spec);
    const environment = { FLEET_SPEC_JSON: specJson, NODE_OPTIONS: '--enable-source-maps' };
    const envSize = Object.entries(environment).reduce((n, [k, v]) => n + k.length + v.length, 0);
    if (envSize > LAMBDA_ENV_LIMIT) {
      throw new InputError(
        `fleet.yaml as JSON is ${specJson.length} bytes; with the other variables the Lambdas' environment would be ${envSize} bytes, over Lambda's ${LAMBDA_ENV_LIMIT}-byte limit`,
      );
    }

    // Both Lambdas: 900 s is Lambda's maximum, and both may need it. The handler replaces a
    // name: launch, wait until the new instance converged (reconcile.converge-timeout, 15 min
    // by default), swap DNS, wait INSYNC and the TTL, terminate. The interruption warning gives
    // 120 s before the old instance goes, but the replacement's wait is not bounded by that;
    // the flow's own deadline (the stop threaded through ops) rolls back before Lambda kills it.
    // 512 MB on arm64: the bundled SDK's cold start is CPU-bound (Lambda scales CPU with
    // memory) and the two-minute budget pays it first; the work itself is I/O-bound waits.
    // Nothing is reserved: a new account's concurrency (10) could not spare it.
    this.interruption = this.lambda('Interruption', 'interruption', props.bundles.interruption, environment, vpc, {
      description: `fleet ${spec.fleet}: replaces names on spot interruption, rebalance, state change and scheduled EC2 maintenance`,
      // An event older than an hour is overtaken: the state change or the next reconcile handles it.
      maxEventAge: Duration.hours(1),
      retryAttempts: 2,
    });
    this.chaos = this.lambda('Chaos', 'chaos', props.bundles.chaos, environment, vpc, {
      description: `fleet ${spec.fleet}: the nightly chaos monkey`,
      maxEventAge: Duration.hours(1),
      // A failed night is reported, not rerun: a rerun could kill more than the night's caps.
      retryAttempts: 0,
    });
    for (const [part, fn] of [['interruption', this.interruption], ['chaos', this.chaos]] as const) {
      for (const st of partStatements(part, iamScope, { volumes: hasVolumes })) fn.addToRolePolicy(toPolicyStatement(st));
    }

    // ---- the four rules into the handler; a delivery that fails twice parks in the DLQ.
    for (const [id, pattern] of Object.entries(EVENT_PATTERNS)) {
      new events.Rule(this, id, {
        description: `fleet ${spec.fleet}: ${pattern.detailType[0]}`,
        eventPattern: pattern as events.EventPattern,
        targets: [new targets.LambdaFunction(this.interruption, { deadLetterQueue: this.dlq, retryAttempts: 2, maxEventAge: Duration.hours(1) })],
      });
    }

    // ---- the nightly schedule into the chaos entry.
    // fleet.yaml's chaos.timezone once the chaos policy has one (issue 10); context overrides it.
    const cron = toEventBridgeCron(spec.chaos.schedule, props.chaosTimezone ?? (spec.chaos as { timezone?: string }).timezone ?? 'UTC');
    const schedulerRole = new iam.Role(this, 'ChaosScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: `fleet ${spec.fleet}: EventBridge Scheduler starts the chaos night`,
    });
    for (const st of schedulerStatements({ functionArn: this.chaos.functionArn, dlqArn: this.dlq.queueArn })) schedulerRole.addToPolicy(toPolicyStatement(st));
    new scheduler.CfnSchedule(this, 'ChaosSchedule', {
      description: `fleet ${spec.fleet}: chaos night, "${spec.chaos.schedule}" in fleet.yaml`,
      scheduleExpression: cron.expression,
      scheduleExpressionTimezone: cron.timezone,
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: this.chaos.functionArn,
        roleArn: schedulerRole.roleArn,
        // Delivery retries only: a night that never started is safe to start again.
        retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 },
        deadLetterConfig: { arn: this.dlq.queueArn },
      },
    });

    // ---- loud only on trouble.
    this.topic = this.alarms(spec);

    new CfnOutput(this, 'InterruptionFunction', { value: this.interruption.functionName });
    new CfnOutput(this, 'ChaosFunction', { value: this.chaos.functionName });
    new CfnOutput(this, 'AlertsTopic', { value: this.topic.topicArn });
    new CfnOutput(this, 'DeadLetterQueue', { value: this.dlq.queueUrl });
    new CfnOutput(this, 'JournalBucket', { value: journal.bucketName });
  }

  private journalBucket(name: string): s3.Bucket {
    const accessLogs = new s3.Bucket(this, 'JournalAccessLogs', {
      // Server access logs can only be delivered to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(accessLogs, [
      { id: 'AwsSolutions-S1', reason: 'This is the journal bucket\'s server access log bucket; logging it into itself would loop.' },
    ]);
    return new s3.Bucket(this, 'Journal', {
      bucketName: name,
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: `${name}/`,
      // History outlives the stack: `cdk destroy` leaves it (README: how to remove it).
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private nodeProfiles(spec: FleetSpec): iam.Role[] {
    const hubRole = spec.hub.replace(/-[0-9]+$/, '');
    const byProfile = new Map<string, { roles: string[]; state: { bucket: string; prefix: string }[]; policy: boolean }>();
    for (const role of spec.roles) {
      const given = role.instanceProfile ?? spec.defaults.instanceProfile;
      if (given === undefined) continue;
      const name = profileName(given, role.instanceProfile ? `roles.${role.name}.instance-profile` : 'defaults.instance-profile');
      const entry = byProfile.get(name) ?? { roles: [], state: [], policy: false };
      entry.roles.push(role.name);
      if (role.stateS3) entry.state.push(role.stateS3);
      if (role.name === hubRole && spec.policyS3) entry.policy = true;
      byProfile.set(name, entry);
    }
    const out: iam.Role[] = [];
    let n = 0;
    for (const [name, entry] of byProfile) {
      const id = `Node${++n}`;
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
        description: `fleet ${spec.fleet}: instances of ${entry.roles.join(', ')} (instance profile ${name})`,
      });
      const statements = nodeStatements({
        partition: Aws.PARTITION,
        region: Aws.REGION,
        account: Aws.ACCOUNT_ID,
        state: entry.state,
        ...(entry.policy && spec.policyS3 ? { policy: spec.policyS3 } : {}),
      });
      for (const st of statements) role.addToPolicy(toPolicyStatement(st));
      new iam.InstanceProfile(this, `${id}Profile`, { instanceProfileName: name, role });
      NagSuppressions.addResourceSuppressions(role, [{ id: 'AwsSolutions-IAM5', reason: WILDCARD_REASON, appliesTo: [WILDCARD_RESOURCE] }], true);
      new CfnOutput(this, `${id}InstanceProfile`, { value: name, description: `roles ${entry.roles.join(', ')}` });
      out.push(role);
    }
    return out;
  }

  private lambda(
    id: string,
    part: Part,
    bundleDir: string,
    environment: Record<string, string>,
    vpc: { subnets: string[]; securityGroups: string[] } | undefined,
    opts: { description: string; maxEventAge: Duration; retryAttempts: number },
  ): lambda.Function {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // Our own role: no AWS managed policy (AWSLambdaBasicExecutionRole would allow every log group).
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: opts.description });
    const fn = new lambda.Function(this, id, {
      description: opts.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(bundleDir),
      memorySize: 512,
      timeout: Duration.seconds(900),
      role,
      logGroup,
      environment,
      deadLetterQueue: this.dlq,
      maxEventAge: opts.maxEventAge,
      retryAttempts: opts.retryAttempts,
    });
    for (const st of lambdaPlatformStatements({ logGroupArn: logGroup.logGroupArn, dlqArn: this.dlq.queueArn, vpc: vpc !== undefined })) role.addToPolicy(toPolicyStatement(st));
    if (vpc) {
      // Subnet and group ids straight from fleet.yaml / context: no VPC lookup (offline synth).
      (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = { subnetIds: vpc.subnets, securityGroupIds: vpc.securityGroups };
    }
    NagSuppressions.addResourceSuppressions(
      fn,
      [{ id: 'AwsSolutions-L1', reason: 'Pinned to nodejs22.x on purpose: the bundle is built and tested for Node 22 (target node22); a runtime change is a deliberate release.' }],
    );
    NagSuppressions.addResourceSuppressions(role, [{ id: 'AwsSolutions-IAM5', reason: WILDCARD_REASON, appliesTo: [WILDCARD_RESOURCE] }], true);
    return fn;
  }

  private alarms(spec: FleetSpec): sns.Topic {
    // A customer managed key: CloudWatch cannot publish to a topic under the AWS managed SNS key.
    const key = new kms.Key(this, 'AlertsKey', { enableKeyRotation: true, description: `fleet ${spec.fleet}: alerts topic`, removalPolicy: RemovalPolicy.DESTROY });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    const topic = new sns.Topic(this, 'Alerts', { displayName: `fleet ${spec.fleet} alerts`, masterKey: key, enforceSSL: true });
    if (spec.alerts?.email) topic.addSubscription(new subs.EmailSubscription(spec.alerts.email));
    const action = new cwActions.SnsAction(topic);
    const alarm = (id: string, metric: cloudwatch.IMetric, what: string): void => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: `fleet ${spec.fleet}: ${what}`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No data is a quiet night, not a failure.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
    };
    const period = Duration.minutes(5);
    alarm('InterruptionErrorsAlarm', this.interruption.metricErrors({ period, statistic: 'Sum' }), 'the interruption handler failed (Lambda Errors)');
    alarm('ChaosErrorsAlarm', this.chaos.metricErrors({ period, statistic: 'Sum' }), 'the chaos night failed (Lambda Errors)');
    alarm('DeadLettersAlarm', this.dlq.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }), 'events or invocations failed every retry (dead-letter queue not empty)');
    // The failure reports both Lambdas log as JSON lines with "level":"error" (a chaos night
    // over its time-to-rebuilt budget, a replacement that rolled back): one metric, one alarm.
    for (const fn of [this.interruption, this.chaos]) {
      new logs.MetricFilter(this, `${fn.node.id}FailureReports`, {
        logGroup: fn.logGroup as logs.ILogGroup,
        filterPattern: logs.FilterPattern.literal(FAILURE_FILTER),
        metricNamespace: `${METRIC_NAMESPACE}/${spec.fleet}`,
        metricName: FAILURE_METRIC,
        metricValue: '1',
      });
    }
    alarm(
      'FailureReportsAlarm',
      new cloudwatch.Metric({ namespace: `${METRIC_NAMESPACE}/${spec.fleet}`, metricName: FAILURE_METRIC, period, statistic: 'Sum' }),
      'a Lambda logged a failure report (level error)',
    );
    return topic;
  }
}

const WILDCARD_REASON =
  'From src/aws/iam.ts: Describe*/List* calls and GetChange accept no narrower resource; created resources (instance/*, volume/*, snapshot/*) are narrowed by aws:RequestTag/aws:ResourceTag fleet:fleet conditions; S3 object keys are limited to the fleet\'s prefixes; CreateTags on instance/* only on the caller\'s own instance (aws:ARN = ec2:SourceInstanceARN); log streams of the function\'s own log group.';
/** Every wildcard finding of the policies built from src/aws/iam.ts (the reason above covers each kind). */
const WILDCARD_RESOURCE = { regex: '/^Resource::.*\\*.*$/' };
