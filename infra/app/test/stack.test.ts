import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';

import { ConfigError, InputError } from '../../../src/errors.js';
import { buildFleetApp } from '../lib/app.js';
import { FAILURE_FILTER } from '../lib/stack.js';
import { bundles, FULL, MINIMAL, resources, spec, synth, ZONE_ID } from './helpers.js';

const full = synth(FULL);
const minimal = synth(MINIMAL);

function logicalId(json: Record<string, any>, type: string, pred: (r: any) => boolean): string {
  const found = Object.entries(resources(json, type)).filter(([, r]) => pred(r));
  assert.equal(found.length, 1, `one ${type} expected, found ${found.length}`);
  return found[0]![0];
}
const fnId = (json: Record<string, any>, word: string) => logicalId(json, 'AWS::Lambda::Function', (r) => String(r.Properties.Description).includes(word));

test('the four rules match exactly the EC2 and AWS Health events, into the handler, with the DLQ', () => {
  const rules = Object.values(resources(full.json, 'AWS::Events::Rule')).map((r: any) => r.Properties);
  const byType = (a: any, b: any): number => String(a['detail-type'][0]).localeCompare(String(b['detail-type'][0]));
  const patterns = rules.map((p) => p.EventPattern).sort(byType);
  assert.deepEqual(patterns, [
    { 'detail-type': ['AWS Health Event'], detail: { eventTypeCategory: ['scheduledChange'], service: ['EC2'] }, source: ['aws.health'] },
    { 'detail-type': ['EC2 Instance Rebalance Recommendation'], source: ['aws.ec2'] },
    { 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['stopping', 'stopped', 'shutting-down', 'terminated'] }, source: ['aws.ec2'] },
    { 'detail-type': ['EC2 Spot Instance Interruption Warning'], source: ['aws.ec2'] },
  ].sort(byType));
  const handler = fnId(full.json, 'interruption');
  const dlq = logicalId(full.json, 'AWS::SQS::Queue', () => true);
  for (const r of rules) {
    assert.equal(r.State, 'ENABLED');
    assert.equal(r.Targets.length, 1);
    assert.deepEqual(r.Targets[0].Arn, { 'Fn::GetAtt': [handler, 'Arn'] });
    assert.deepEqual(r.Targets[0].DeadLetterConfig, { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } });
    assert.deepEqual(r.Targets[0].RetryPolicy, { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 });
  }
  // EventBridge may invoke the handler, from these rules only.
  const perms = Object.values(resources(full.json, 'AWS::Lambda::Permission')).map((p: any) => p.Properties);
  assert.equal(perms.length, 4);
  for (const p of perms) {
    assert.equal(p.Principal, 'events.amazonaws.com');
    assert.ok(p.SourceArn['Fn::GetAtt'][0], 'scoped to its rule');
  }
});

test('the chaos schedule is fleet.yaml\'s cron in six fields, with its time zone, into the chaos entry', () => {
  const chaos = fnId(full.json, 'chaos');
  full.template.hasResourceProperties('AWS::Scheduler::Schedule', {
    ScheduleExpression: 'cron(30 2 ? * MON-FRI *)',
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    State: 'ENABLED',
    Target: {
      Arn: { 'Fn::GetAtt': [chaos, 'Arn'] },
      RoleArn: Match.anyValue(),
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(full.json, 'AWS::SQS::Queue', () => true), 'Arn'] } },
    },
  });
  minimal.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 3 ? * MON-FRI *)' });
  const paris = synth(MINIMAL, { hostedZoneId: ZONE_ID, chaosTimezone: 'Europe/Paris' });
  paris.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpressionTimezone: 'Europe/Paris' });
});

test('a cron EventBridge Scheduler cannot express, or a bad time zone, is an input error naming it', () => {
  // fleet.yaml's schedule and time zone: refused when the file loads, at their line, before any stack exists.
  const lines = (MINIMAL + 'chaos:\n  schedule: "0 3 1 * 1"\n').split('\n');
  assert.throws(
    () => spec(lines.join('\n')),
    (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && /fleet\.yaml:18:13: chaos\.schedule: .*"0 3 1 \* 1" restricts both day-of-month and day-of-week/.test(e.message),
  );
  assert.equal(lines[17], '  schedule: "0 3 1 * 1"', 'line 18, the value at column 13');
  assert.throws(
    () => spec(MINIMAL + 'chaos:\n  schedule: "30 2 * * *"\n  timezone: Mars/Olympus\n'),
    (e: unknown) => e instanceof ConfigError && /fleet\.yaml:\d+:\d+: chaos\.timezone: .*Mars\/Olympus/.test(e.message),
  );
  // The context's time zone override only the app sees: refused there, naming the option.
  assert.throws(
    () => buildFleetApp(new App(), spec(MINIMAL), { hostedZoneId: ZONE_ID, chaosTimezone: 'Mars/Olympus' }, bundles()),
    (e: unknown) => e instanceof InputError && e.exitCode === 2 && /^context chaosTimezone: "Mars\/Olympus" is not an IANA time zone/.test(e.message),
  );
});

test('both Lambdas: nodejs22.x on arm64, 512 MB, 900 s, the spec as JSON, their own log group, the DLQ', () => {
  const dlq = logicalId(full.json, 'AWS::SQS::Queue', () => true);
  for (const word of ['interruption', 'chaos']) {
    const id = fnId(full.json, word);
    const p = full.json['Resources'][id].Properties;
    assert.equal(p.Runtime, 'nodejs22.x');
    assert.deepEqual(p.Architectures, ['arm64']);
    assert.equal(p.Handler, 'index.handler');
    assert.equal(p.MemorySize, 512);
    assert.equal(p.Timeout, 900);
    assert.deepEqual(JSON.parse(p.Environment.Variables.FLEET_SPEC_JSON), full.spec, 'the validated spec, whole');
    assert.deepEqual(p.DeadLetterConfig, { TargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] } });
    const logs = p.LoggingConfig.LogGroup.Ref as string;
    assert.equal(full.json['Resources'][logs].Type, 'AWS::Logs::LogGroup');
    assert.equal(full.json['Resources'][logs].Properties.RetentionInDays, 30);
  }
  const invoke = Object.values(resources(full.json, 'AWS::Lambda::EventInvokeConfig')).map((r: any) => [r.Properties.FunctionName.Ref, r.Properties.MaximumRetryAttempts, r.Properties.MaximumEventAgeInSeconds]);
  assert.deepEqual(invoke.sort(), [[fnId(full.json, 'chaos'), 0, 3600], [fnId(full.json, 'interruption'), 2, 3600]].sort());
});

test('the DLQ is encrypted and TLS only', () => {
  const [id, q] = Object.entries(resources(full.json, 'AWS::SQS::Queue'))[0]!;
  assert.equal(q.Properties.SqsManagedSseEnabled, true);
  full.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
    Queues: [{ Ref: id }],
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
  });
});

test('the journal bucket: fleet.yaml\'s name, versioned, encrypted, public access blocked, TLS only, access logged, kept', () => {
  const journal = logicalId(full.json, 'AWS::S3::Bucket', (r) => r.Properties.BucketName === 'demo-fleet-journal');
  const b = full.json['Resources'][journal];
  assert.equal(b.DeletionPolicy, 'Retain');
  assert.deepEqual(b.Properties.VersioningConfiguration, { Status: 'Enabled' });
  assert.deepEqual(b.Properties.BucketEncryption, { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
  assert.deepEqual(b.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
  const logs = b.Properties.LoggingConfiguration.DestinationBucketName.Ref as string;
  assert.notEqual(logs, journal);
  for (const bucket of [journal, logs]) {
    full.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  }
  // An existing journal bucket (made by fleet init) is referenced, not created.
  const existing = synth(FULL, { hostedZoneId: ZONE_ID, journalBucket: 'existing' });
  assert.equal(Object.values(resources(existing.json, 'AWS::S3::Bucket')).length, 0);
});

test('alarms on both Lambdas\' errors, the DLQ depth and the failure reports notify the encrypted topic', () => {
  const topic = logicalId(full.json, 'AWS::SNS::Topic', () => true);
  const t = full.json['Resources'][topic].Properties;
  assert.ok(t.KmsMasterKeyId['Fn::GetAtt'], 'a customer managed key');
  const key = full.json['Resources'][t.KmsMasterKeyId['Fn::GetAtt'][0]];
  assert.equal(key.Properties.EnableKeyRotation, true);
  assert.ok(
    key.Properties.KeyPolicy.Statement.some((s: any) => s.Principal?.Service === 'cloudwatch.amazonaws.com' && [s.Action].flat().includes('kms:GenerateDataKey*')),
    'CloudWatch may publish to it',
  );
  const alarms = Object.values(resources(full.json, 'AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
  const summary = alarms.map((a) => `${a.Namespace}/${a.MetricName}`).sort();
  assert.deepEqual(summary, ['AWS/Lambda/Errors', 'AWS/Lambda/Errors', 'AWS/SQS/ApproximateNumberOfMessagesVisible', 'fleet/demo/FailureReports']);
  for (const a of alarms) {
    assert.deepEqual(a.AlarmActions, [{ Ref: topic }]);
    assert.equal(a.OKActions, undefined, 'silent when things recover');
    assert.equal(a.Threshold, 1);
    assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(a.TreatMissingData, 'notBreaching', 'a quiet night is not a failure');
  }
  const errors = alarms.filter((a) => a.MetricName === 'Errors').map((a) => a.Dimensions[0].Value.Ref).sort();
  assert.deepEqual(errors, [fnId(full.json, 'chaos'), fnId(full.json, 'interruption')].sort());
  const filters = Object.values(resources(full.json, 'AWS::Logs::MetricFilter')).map((f: any) => f.Properties);
  assert.equal(filters.length, 2);
  for (const f of filters) {
    assert.equal(f.FilterPattern, FAILURE_FILTER);
    assert.equal(FAILURE_FILTER, '{ $.level = "error" }');
    assert.deepEqual(f.MetricTransformations, [{ MetricName: 'FailureReports', MetricNamespace: 'fleet/demo', MetricValue: '1' }]);
  }
  const groups = filters.map((f) => f.LogGroupName.Ref).sort();
  const fnGroups = ['interruption', 'chaos'].map((w) => full.json['Resources'][fnId(full.json, w)].Properties.LoggingConfig.LogGroup.Ref).sort();
  assert.deepEqual(groups, fnGroups);
});

test('alerts.email subscribes the address; without it the topic has no subscriber', () => {
  full.template.resourceCountIs('AWS::SNS::Subscription', 1);
  full.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: logicalId(full.json, 'AWS::SNS::Topic', () => true) } });
  minimal.template.resourceCountIs('AWS::SNS::Subscription', 0);
  minimal.template.resourceCountIs('AWS::SNS::Topic', 1);
  minimal.template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
});

test('VPC placement: fleet.yaml\'s default subnets with ZooKeeper, context subnets when given, none otherwise', () => {
  for (const word of ['interruption', 'chaos']) {
    assert.deepEqual(full.json['Resources'][fnId(full.json, word)].Properties.VpcConfig, { SubnetIds: ['subnet-0aa00000000000001', 'subnet-0bb00000000000002'], SecurityGroupIds: ['sg-0123456789abcdef0'] });
    assert.equal(minimal.json['Resources'][fnId(minimal.json, word)].Properties.VpcConfig, undefined);
  }
  const placed = synth(MINIMAL, { hostedZoneId: ZONE_ID, lambdaSubnets: 'subnet-0dd00000000000004, subnet-0ee00000000000005', lambdaSecurityGroups: 'sg-0fedcba9876543210' });
  assert.deepEqual(placed.json['Resources'][fnId(placed.json, 'chaos')].Properties.VpcConfig, { SubnetIds: ['subnet-0dd00000000000004', 'subnet-0ee00000000000005'], SecurityGroupIds: ['sg-0fedcba9876543210'] });
});

test('bad context is an input error naming the option', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ hostedZoneId: 'zone-1' }, /context hostedZoneId/],
    [{ lambdaSubnets: 'subnet-12345678' }, /lambdaSubnets and lambdaSecurityGroups go together/],
    [{ lambdaSubnets: 'subnet-xyz', lambdaSecurityGroups: 'sg-12345678' }, /context lambdaSubnets: .*subnet-xyz/],
    [{ journalBucket: 'maybe' }, /context journalBucket/],
  ];
  for (const [opts, re] of cases) {
    assert.throws(() => buildFleetApp(new App(), spec(MINIMAL), opts, bundles()), (e: unknown) => e instanceof InputError && re.test(e.message), JSON.stringify(opts));
  }
});

test('without a hosted zone id the stack asks for it as a parameter, and scopes Route 53 to it', () => {
  const asked = synth(MINIMAL, {});
  assert.equal(asked.json['Parameters'].HostedZoneId.AllowedPattern, '^Z[A-Z0-9]{1,32}$');
  assert.ok(JSON.stringify(asked.json['Resources']).includes('{"Ref":"HostedZoneId"}'));
  assert.equal(minimal.json['Parameters']?.HostedZoneId, undefined);
});

test('an instance profile given as an ARN is refused: the stack makes the profiles', () => {
  const arn = MINIMAL.replace('instance-profile: tiny-node', 'instance-profile: arn:aws:iam::123456789012:instance-profile/tiny-node');
  assert.throws(() => buildFleetApp(new App(), spec(arn), { hostedZoneId: ZONE_ID }, bundles()), (e: unknown) => e instanceof InputError && /defaults.instance-profile/.test(e.message));
});

test('one instance profile per profile name fleet.yaml launches with', () => {
  const profiles = Object.values(resources(full.json, 'AWS::IAM::InstanceProfile')).map((p: any) => p.Properties.InstanceProfileName).sort();
  assert.deepEqual(profiles, ['fleet-node', 'fleet-node-ci', 'fleet-node-hub']);
  assert.deepEqual(Object.values(resources(minimal.json, 'AWS::IAM::InstanceProfile')).map((p: any) => p.Properties.InstanceProfileName), ['tiny-node']);
});

test('a fleet.yaml too large for Lambda\'s 4 KB environment fails the synth, saying so', () => {
  const roles = Array.from({ length: 60 }, (_, i) => `  role${i}:\n    count: 3\n    type: m5.large\n    alternatives: [m5a.large, m6i.large]\n`).join('');
  const big = spec(MINIMAL + roles);
  assert.throws(() => buildFleetApp(new App(), big, { hostedZoneId: ZONE_ID }, bundles()), (e: unknown) => e instanceof InputError && /over Lambda's 4096-byte limit/.test(e.message));
});
