import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { CronError, cronProblem, didYouMean, formatDuration, parseCron, parseDurationSeconds, parseS3Location } from '../../src/config/index.js';
import { editDistance } from '../../src/config/suggest.js';
import {
  amiIdProblem,
  amiNamePatternProblem,
  amiOwnerProblem,
  bucketProblem,
  deviceProblem,
  fleetNameProblem,
  instanceProfileProblem,
  instanceTypeProblem,
  mountPointProblem,
  prefixProblem,
  regionProblem,
  securityGroupIdProblem,
  show,
  subnetIdProblem,
  zkConnectProblem,
  zoneProblem,
} from '../../src/config/validators.js';

/** Each valid input gives no problem; each invalid one a problem containing the reason. */
function table(check: (s: string) => string | undefined, valid: string[], invalid: Array<[string, string]>): void {
  for (const v of valid) assert.equal(check(v), undefined, `${JSON.stringify(v)} should be valid`);
  for (const [v, reason] of invalid) {
    const p = check(v);
    assert.ok(p?.includes(reason), `${JSON.stringify(v)}: ${JSON.stringify(p)} lacks ${JSON.stringify(reason)}`);
  }
}

test('cron: valid expressions expand as cron reads them', () => {
  const s = parseCron('0 3 * * 1-5');
  assert.deepEqual(s.minute.values, [0]);
  assert.deepEqual(s.hour.values, [3]);
  assert.equal(s.dayOfMonth.star, true);
  assert.equal(s.dayOfMonth.values.length, 31);
  assert.deepEqual(s.dayOfWeek.values, [1, 2, 3, 4, 5]);
  assert.equal(s.dayOfWeek.star, false);
  assert.deepEqual(parseCron('*/15 * * * *').minute.values, [0, 15, 30, 45]);
  assert.deepEqual(parseCron('0 0 1 jan,JUL,dec *').month.values, [1, 7, 12]);
  assert.deepEqual(parseCron('0 0 * * sat-sun'.replace('sat-sun', '6,7')).dayOfWeek.values, [0, 6]);
  assert.deepEqual(parseCron('0 0 * * mon-fri').dayOfWeek.values, [1, 2, 3, 4, 5]);
  assert.deepEqual(parseCron('0 0 * * */2').dayOfWeek.values, [0, 2, 4, 6]);
  assert.deepEqual(parseCron('5-20/5 0 * * *').minute.values, [5, 10, 15, 20]);
  assert.deepEqual(parseCron('  0   3 * * *  ').hour.values, [3]);
  assert.deepEqual(parseCron('0 0 31 2 *').dayOfMonth.values, [31]);
});

test('cron: invalid expressions say why', () => {
  table(cronProblem, ['0 3 * * 1-5', '59 23 31 12 7', '0,30 */2 1-15 jan-jun mon,wed,fri'], [
    ['', 'cron expression is empty'],
    ['@daily', 'macros like "@daily" are not supported'],
    ['0 3 * *', 'has 4 fields; expected 5'],
    ['0 0 3 * * *', 'has 6 fields'],
    ['60 * * * *', 'minute 60 is out of range 0-59'],
    ['0 24 * * *', 'hour 24 is out of range 0-23'],
    ['0 0 0 * *', 'day-of-month 0 is out of range 1-31'],
    ['0 0 * 13 *', 'month 13 is out of range 1-12'],
    ['0 0 * * 8', 'day-of-week 8 is out of range 0-7'],
    ['0 0 * * mon-fry', 'day-of-week "fry" is neither a number 0-7 nor a name sun-sat'],
    ['0 0 * foo *', 'month "foo" is neither a number 1-12 nor a name jan-dec'],
    ['x 0 * * *', 'minute "x" is not a number 0-59'],
    ['5-1 0 * * *', 'minute range "5-1" runs backwards'],
    ['1-2-3 0 * * *', 'is not of the form a-b'],
    ['*/0 * * * *', 'minute step 0 is out of range 1-60'],
    ['*/61 * * * *', 'minute step 61 is out of range 1-60'],
    ['*/x * * * *', 'minute step "x" is not a whole number'],
    ['5/15 * * * *', 'a step needs a range or *, e.g. "5-59/15"'],
    ['1,,2 * * * *', 'has an empty list item'],
    ['0 0 ? * *', 'contains "?", which is not supported'],
    ['0 0 L * *', 'day-of-month "L" is not a number 1-31'],
    ['0 0 * * 5#3', 'contains "#"'],
  ]);
  assert.throws(() => parseCron('61 * * * *'), (e: unknown) => e instanceof CronError && e.exitCode === 2);
});

test('durations', () => {
  const cases: Array<[unknown, number | undefined]> = [
    [0, 0], [90, 90], ['90s', 90], ['15m', 900], ['12h', 43200], ['7d', 604800], ['0s', 0],
    [-1, undefined], [1.5, undefined], ['7 days', undefined], ['7D', undefined], ['1h30m', undefined], ['', undefined], ['s', undefined], [true, undefined], [null, undefined], ['-5s', undefined], ['1.5h', undefined],
  ];
  for (const [v, want] of cases) assert.equal(parseDurationSeconds(v), want, JSON.stringify(v));
  assert.deepEqual([0, 45, 90, 3600, 5400, 86400, 36 * 3600].map(formatDuration), ['0s', '45s', '90s', '1h', '90m', '1d', '36h']);
});

test('S3 locations and buckets', () => {
  assert.deepEqual(parseS3Location('s3://demo-fleet-state/ci'), { bucket: 'demo-fleet-state', prefix: 'ci' });
  assert.deepEqual(parseS3Location('s3://demo-fleet-state/ci/'), { bucket: 'demo-fleet-state', prefix: 'ci' });
  assert.deepEqual(parseS3Location('s3://demo-fleet-state/a/b.c/d_e'), { bucket: 'demo-fleet-state', prefix: 'a/b.c/d_e' });
  assert.deepEqual(parseS3Location('s3://demo-fleet-state'), { bucket: 'demo-fleet-state', prefix: '' });
  assert.deepEqual(parseS3Location('s3://demo-fleet-state/'), { bucket: 'demo-fleet-state', prefix: '' });
  const bad: Array<[string, string]> = [
    ['demo-fleet-state/ci', 'is not an S3 location: expected s3://bucket/prefix'],
    ['S3://demo/ci', 'is not an S3 location'],
    ['https://demo.s3.amazonaws.com/ci', 'is not an S3 location'],
    ['s3:///ci', 'names no bucket'],
    ['s3://demo//ci', 'prefix "/ci" must not start with "/"'],
    ['s3://demo-state/a//b', 'has an empty segment'],
    ['s3://demo-state/../x', 'must not hold "." or ".." segments'],
    ['s3://demo-state/a b', 'contains " "'],
    ['s3://demo-state/$(id)', 'contains "$"'],
    ['s3://ab/x', 'is 2 characters long; S3 needs 3 to 63'],
  ];
  for (const [s, reason] of bad) {
    const r = parseS3Location(s);
    assert.ok(typeof r === 'string' && r.includes(reason), `${s}: ${JSON.stringify(r)}`);
  }
  table(bucketProblem, ['abc', 'demo-fleet-journal', 'a.b.c', '1bucket', 'a'.repeat(63)], [
    ['ab', 'S3 needs 3 to 63'],
    ['a'.repeat(64), 'is 64 characters long'],
    ['Demo', 'must be lowercase'],
    ['demo_journal', 'may hold only a-z, 0-9, "." and "-"'],
    ['-demo', 'must begin and end with a letter or digit'],
    ['demo.', 'must begin and end with a letter or digit'],
    ['de..mo', 'must not hold two adjacent dots'],
    ['10.0.0.1', 'must not look like an IP address'],
    ['xn--demo', 'reserved prefix "xn--"'],
    ['sthree-demo', 'reserved prefix "sthree-"'],
    ['amzn-s3-demo-bucket', 'reserved prefix "amzn-s3-demo-"'],
    ['demo-s3alias', 'reserved suffix "-s3alias"'],
    ['demo--ol-s3', 'reserved suffix "--ol-s3"'],
    ['demo.mrap', 'reserved suffix ".mrap"'],
    ['demo--x-s3', 'reserved suffix "--x-s3"'],
    ['demo--table-s3', 'reserved suffix "--table-s3"'],
  ]);
  table(prefixProblem, ['', 'journal', 'journal/', 'a/b/c', "x!-_.*'()"], [['/journal', 'must not start with "/"'], ['a/./b', '"." or ".."'], ['a%20b', 'contains "%"']]);
});

test('EC2 and IAM identifiers', () => {
  table(instanceTypeProblem, ['t3.medium', 'm5.large', 'c7gn.16xlarge', 'u-6tb1.metal', 'u7i-12tb.224xlarge', 'm7i-flex.large', 'm7i.metal-24xl', 'mac2-m2pro.metal', 't4g.nano', 'x2iedn.xlarge'], [
    ['', 'instance type is empty'],
    ['T3.medium', 'must be lowercase'],
    ['t3medium', 'must be <family>.<size>'],
    ['t3.medium.x', 'must be <family>.<size>'],
    ['t3.', 'instance size "" of "t3." is not one of'],
    ['t3.huge', 'instance size "huge"'],
    ['t3.0xlarge', 'instance size "0xlarge"'],
    ['3t.medium', 'instance family "3t"'],
    ['t.medium', 'lacks its generation digit'],
    ['t3-.medium', 'instance family "t3-"'],
  ]);
  table(subnetIdProblem, ['subnet-12345678', 'subnet-0123456789abcdef0'], [
    ['subnet-1234567', 'is not a subnet id: "subnet-" and 8 or 17 hex digits'],
    ['subnet-0123456789ABCDEF0', 'must be lowercase'],
    ['sg-12345678', 'is not a subnet id'],
    ['subnet-123456789', 'is not a subnet id'],
  ]);
  table(securityGroupIdProblem, ['sg-12345678', 'sg-0123456789abcdef0'], [['sg-xyz', 'is not a security group id'], ['sg-12345678 ', 'is not a security group id']]);
  table(amiIdProblem, ['ami-12345678', 'ami-0123456789abcdef0'], [['ami-0123456789abcdef', 'is not an AMI id'], ['AMI-12345678', 'is not an AMI id']]);
  table(amiOwnerProblem, ['136693071363', '099720109477', 'self', 'amazon', 'aws-marketplace'], [['13669307136', 'neither a 12-digit account id'], ['Amazon', 'neither']]);
  table(amiNamePatternProblem, ['debian-12-amd64-*', 'ubuntu/images/hvm-ssd/ubuntu-*-24.04-amd64-server-????????', 'al2023-ami-2023.*-x86_64'], [
    ['', 'image name pattern is empty'],
    ['a'.repeat(129), 'at most 128'],
    ['debian;rm', 'contains ";"'],
  ]);
  table(instanceProfileProblem, ['fleet-node', 'Fleet_Node+=,.@-', 'arn:aws:iam::123456789012:instance-profile/fleet-node', 'arn:aws-us-gov:iam::123456789012:instance-profile/path/fleet-node'], [
    ['fleet node', 'is neither an instance profile name'],
    ['arn:aws:iam::123:instance-profile/x', 'is neither'],
    ['', 'is neither'],
  ]);
  table(regionProblem, ['us-east-1', 'eu-central-2', 'us-gov-west-1', 'ap-southeast-5', 'cn-northwest-1', 'il-central-1'], [['us-east', 'not an AWS Region code'], ['US-EAST-1', 'not an AWS Region code'], ['useast1', 'not an AWS Region code']]);
});

test('fleet names and zones', () => {
  table(fleetNameProblem, ['demo', 'demo-2', 'a', 'a'.repeat(32)], [
    ['', 'fleet name is empty'],
    ['a'.repeat(33), 'at most 32'],
    ['Demo', 'must be lowercase'],
    ['2demo', 'must start with a letter'],
    ['demo_x', 'may hold only a-z, 0-9 and "-"'],
    ['demo-', 'must not end with "-"'],
  ]);
  table(zoneProblem, ['prod.example.com', 'prod.example.com.', 'staging.internal', 'p-1.a-b.example'], [
    ['', 'zone is empty'],
    ['Prod.example.com', 'must be lowercase'],
    ['prod', 'needs at least two labels'],
    ['prod..example.com', 'has an empty label'],
    ['prod.example.com..', 'has an empty label'],
    ['-prod.example.com', 'must not start or end with "-"'],
    ['prod_1.example.com', 'may hold only a-z, 0-9, "-" and dots'],
    [`${'a'.repeat(64)}.com`, 'a label of 64 characters'],
    [`${'a.'.repeat(101)}com`, 'at most 200'],
  ]);
});

test('volumes and mount points', () => {
  table(deviceProblem, ['/dev/sdf', '/dev/sdp', '/dev/xvdf', '/dev/xvdp'], [
    ['/dev/sda', 'must be /dev/sd[f-p] or /dev/xvd[f-p]'],
    ['/dev/sdq', 'must be'],
    ['/dev/sdf1', 'must be'],
    ['/dev/nvme1n1', 'must be'],
    ['sdf', 'must be'],
  ]);
  table(mountPointProblem, ['/var/lib/queue', '/data', '/srv/db-1', '/home'], [
    ['data', 'must be an absolute path'],
    ['/', 'must not be / itself'],
    ['/data/', 'must not end with "/"'],
    ['/data//x', 'empty segment'],
    ['/data/../etc', '"." or ".."'],
    ['/my data', 'contains " "'],
    ['/data;reboot', 'contains ";"'],
    ['/etc', 'is a system directory'],
    ['/var', 'is a system directory'],
    ['/usr', 'is a system directory'],
  ]);
});

test('ZooKeeper connect strings', () => {
  table(zkConnectProblem, ['127.0.0.1:2181', 'zk1:2181,zk2:2181,zk3.internal:2181', 'zk1:2181/fleet', 'zk1:2181,zk2:2182/fleet/demo'], [
    ['', 'names no server'],
    ['/fleet', 'names no server'],
    ['127.0.0.1', 'server "127.0.0.1" in "127.0.0.1" is not host:port'],
    ['zk1:2181,', 'server "" in "zk1:2181," is not host:port'],
    ['zk1:0', 'port 0 is out of range 1-65535'],
    ['zk1:65536', 'port 65536 is out of range'],
    ['zk1:http', 'is not host:port'],
    ['[::1]:2181', 'IPv6 addresses are not supported'],
    ['300.0.0.1:2181', '"300.0.0.1" is not a host name or IPv4 address'],
    ['-zk:2181', 'is not a host name'],
    ['zk1:2181/', 'must not end with "/"'],
    ['zk1:2181/a//b', 'has an empty segment'],
    ['zk1:2181/a/../b', '"." or ".."'],
    ['zk1:2181/zookeeper/x', 'reserved /zookeeper tree'],
    ['zk1:2181/a b', 'may hold only letters, digits'],
  ]);
});

test('did you mean', () => {
  assert.equal(editDistance('cuont', 'count'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  const keys = ['count', 'type', 'alternatives', 'market', 'on-demand-fallback', 'image', 'subnets', 'state', 'volume'];
  assert.equal(didYouMean('cuont', keys), 'count');
  assert.equal(didYouMean('Count', keys), 'count');
  assert.equal(didYouMean('markt', keys), 'market');
  assert.equal(didYouMean('alternatvies', keys), 'alternatives');
  assert.equal(didYouMean('ondemandfallback', keys), 'on-demand-fallback');
  assert.equal(didYouMean('tpye', keys), 'type');
  assert.equal(didYouMean('colour', keys), undefined);
  assert.equal(didYouMean('x', keys), undefined);
  assert.equal(didYouMean('count', keys), undefined);
});

test('show renders values for messages', () => {
  assert.deepEqual(
    [show('four'), show(4), show(true), show(null), show(undefined), show([1]), show({ a: 1 }), show('x'.repeat(100))],
    ['"four"', '4', 'true', 'nothing (null)', 'nothing', 'a list', 'a mapping', `"${'x'.repeat(57)}..."`],
  );
});
