import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { fileURLToPath } from 'node:url';

import { ConfigError, InputError } from '../../src/errors.js';
import { formatProblems, loadConfig, parseConfig } from '../../src/config/index.js';
import { desiredNames } from '../../src/naming.js';

// Tests run from dist/test/config/; the sources sit three levels up.
const root = new URL('../../../', import.meta.url);
const fixture = (name: string) => fileURLToPath(new URL(`test/fixtures/config/${name}`, root));

test('the example fleet.yaml loads into the expected spec', async () => {
  const spec = await loadConfig(fileURLToPath(new URL('fleet.yaml', root)));
  assert.equal(spec.fleet, 'demo');
  assert.equal(spec.region, 'us-east-1');
  assert.deepEqual(spec.dns, { zone: 'prod.example.com', ttl: 60, recordQuota: 10_000 });
  assert.deepEqual(spec.naming, { indexDigits: 2 });
  assert.equal(spec.hub, 'hub-01');
  assert.deepEqual(spec.policyS3, { bucket: 'demo-fleet-policy', prefix: 'masterfiles' });
  assert.deepEqual(spec.journal, { bucket: 'demo-fleet-journal', prefix: 'journal' });
  assert.deepEqual(spec.defaults, {
    image: { id: 'ami-0123456789abcdef0' },
    subnets: ['subnet-0aa00000000000001', 'subnet-0bb00000000000002', 'subnet-0cc00000000000003'],
    securityGroups: ['sg-0123456789abcdef0'],
    instanceProfile: 'fleet-node',
    market: 'on-demand',
  });
  assert.deepEqual(
    spec.roles.map((r) => r.name),
    ['hub', 'web', 'queue', 'ci'],
  );
  const [hub, web, queue, ci] = spec.roles;
  assert.deepEqual(hub, { name: 'hub', count: 1, instanceType: 't3.small', alternativeTypes: [], market: 'on-demand', onDemandFallback: false });
  assert.deepEqual(web, {
    name: 'web',
    count: 4,
    instanceType: 't3.medium',
    alternativeTypes: ['t3a.medium', 'm5.large'],
    market: 'spot',
    onDemandFallback: true,
  });
  assert.deepEqual(queue?.volume, { sizeGiB: 100, type: 'gp3', device: '/dev/sdf', mountPoint: '/var/lib/queue' });
  assert.equal(queue?.market, 'on-demand');
  assert.deepEqual(ci?.stateS3, { bucket: 'demo-fleet-state', prefix: 'ci' });
  assert.deepEqual(spec.coordination, {}, 'the example leaves ZooKeeper commented out: local locks');
  assert.deepEqual(spec.reconcile, { orphanGraceMs: 900_000, convergeTimeoutMs: 900_000, concurrency: 20, intervalMs: 60_000 });
  assert.deepEqual(spec.chaos, {
    schedule: '0 3 * * 1-5',
    optOutRoles: ['hub', 'ci*'],
    maxKillsPerRun: 3,
    maxKillsPerRole: 1,
    minConvergedPerRole: { web: 3 },
    defaultMinConverged: 1,
    minSecondsBetweenKills: 7 * 86400,
    leashed: true,
    timezone: 'Europe/Paris',
    blackouts: [
      { days: [0, 6], text: 'days sat-sun' },
      { days: [1, 2, 3, 4, 5], hours: { from: 540, to: 1080 }, text: 'days mon-fri hours 09:00-18:00' },
      { dates: [{ from: '2026-12-24', to: '2027-01-02' }], text: 'dates 2026-12-24..2027-01-02' },
    ],
    rebuildBudgetSeconds: 900,
    kinds: ['terminate'],
  });
  assert.deepEqual(
    desiredNames(spec).map((n) => n.name),
    ['hub-01', 'web-01', 'web-02', 'web-03', 'web-04', 'queue-01', 'queue-02', 'ci-01'],
  );
});

test('a minimal file gets the defaults', async () => {
  const spec = await loadConfig(fixture('minimal.yaml'));
  assert.equal(spec.region, undefined);
  assert.equal('region' in spec, false);
  assert.deepEqual(spec.dns, { zone: 'staging.example.org', ttl: 60, recordQuota: 10_000 }); // trailing dot dropped
  assert.deepEqual(spec.naming, { indexDigits: 2 });
  assert.equal(spec.hub, 'hub-01'); // given as FQDN, kept as the short name
  assert.deepEqual(spec.journal, { bucket: 'tiny-journal', prefix: 'journal' });
  assert.deepEqual(spec.defaults.image, { owner: '099720109477', namePattern: 'ubuntu/images/*-24.04-amd64-server-*' });
  assert.equal(spec.defaults.market, 'on-demand');
  assert.equal('instanceProfile' in spec.defaults, false);
  assert.deepEqual(spec.roles[1], { name: 'web', count: 0, instanceType: 't4g.micro', alternativeTypes: [], market: 'spot', onDemandFallback: false });
  assert.deepEqual(spec.coordination, {});
  assert.deepEqual(spec.chaos, {
    schedule: '0 3 * * 1-5',
    optOutRoles: [],
    maxKillsPerRun: 1,
    maxKillsPerRole: 1,
    minConvergedPerRole: {},
    defaultMinConverged: 1,
    minSecondsBetweenKills: 86400,
    leashed: true,
    timezone: 'UTC',
    blackouts: [],
    rebuildBudgetSeconds: 900,
    kinds: ['terminate'],
  });
});

const BASE = `fleet: demo
dns:
  zone: prod.example.com
hub: hub-01
journal:
  bucket: demo-journal
defaults:
  image: ami-12345678
  subnets: [subnet-12345678]
  security-groups: [sg-12345678]
  market: spot
roles:
  hub:
    count: 1
    type: t3.small
    market: on-demand
`;

test('optional fields and blocks map onto the spec', () => {
  const spec = parseConfig(
    BASE +
      `  db:
    count: 3
    type: r6g.large
    on-demand-fallback: true
    image: ami-0123456789abcdef0
    subnets: [subnet-0123456789abcdef0]
    volume: {size: 500, type: io2, device: /dev/xvdg, mount: /srv/db, iops: 20000}
  cache:
    count: 2
    type: r7g.large
    volume: {size: 200, device: /dev/sdg, mount: /srv/cache, iops: 6000, throughput: 500}
naming:
coordination:
  zookeeper:
    connect: zk1.internal:2181,zk2.internal:2181,10.0.0.3:2181/fleet/demo
    session-timeout: 30
chaos:
  schedule: "*/15 1-5 * JAN,jul sun"
  min-time-between-kills: 36h
  leashed: false
`,
    'inline.yaml',
  );
  const db = spec.roles.find((r) => r.name === 'db')!;
  assert.equal(db.market, 'spot'); // from defaults.market
  assert.equal(db.onDemandFallback, true);
  assert.deepEqual(db.image, { id: 'ami-0123456789abcdef0' });
  assert.deepEqual(db.subnets, ['subnet-0123456789abcdef0']);
  assert.deepEqual(db.volume, { sizeGiB: 500, type: 'io2', device: '/dev/xvdg', mountPoint: '/srv/db', iops: 20000 });
  const cache = spec.roles.find((r) => r.name === 'cache')!;
  assert.deepEqual(cache.volume, { sizeGiB: 200, type: 'gp3', device: '/dev/sdg', mountPoint: '/srv/cache', iops: 6000, throughputMiBps: 500 });
  assert.deepEqual(spec.naming, { indexDigits: 2 }); // an empty block is an absent block
  assert.deepEqual(spec.coordination.zookeeper, { connect: 'zk1.internal:2181,zk2.internal:2181,10.0.0.3:2181/fleet/demo', sessionTimeoutMs: 30_000 });
  assert.equal(spec.chaos.schedule, '*/15 1-5 * JAN,jul sun');
  assert.equal(spec.chaos.minSecondsBetweenKills, 36 * 3600);
  assert.equal(spec.chaos.leashed, false);
  assert.equal(spec.chaos.maxKillsPerRun, 1);
});

test('parse is pure: same text, equal spec, no shared state', () => {
  const a = parseConfig(BASE, 'a.yaml');
  const b = parseConfig(BASE, 'a.yaml');
  assert.deepEqual(a, b);
  a.chaos.optOutRoles.push('hub');
  a.roles[0]!.alternativeTypes.push('t3.large');
  const c = parseConfig(BASE, 'a.yaml');
  assert.deepEqual(c.chaos.optOutRoles, []);
  assert.deepEqual(c.roles[0]!.alternativeTypes, []);
});

test('a missing file is an input error naming the file', async () => {
  const missing = fixture('no-such-fleet.yaml');
  await assert.rejects(loadConfig(missing), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.equal(e.exitCode, 2);
    assert.equal(e.message, `cannot read ${missing}: file not found`);
    return true;
  });
  await assert.rejects(loadConfig(fileURLToPath(new URL('test/fixtures/config/', root))), /is a directory, not a file/);
  // A byte that is not UTF-8 is located: latin1.yaml is `fleet: d\xe9mo`.
  await assert.rejects(loadConfig(fixture('latin1.yaml')), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.problems.map((p) => `${p.line}:${p.column} ${p.message}`), ['1:9 byte 0xE9 is not UTF-8: the file is not UTF-8 text (save it as UTF-8)']);
    return true;
  });
});

test('ConfigError carries every problem and formats them one per line', async () => {
  await assert.rejects(loadConfig(fixture('three-problems.yaml')), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.exitCode, 2);
    assert.equal(e.problems.length, 3);
    assert.equal(e.message, `3 problems in ${fixture('three-problems.yaml')}:\n` + formatProblems(e.problems).replace(/^/gm, '  '));
    return true;
  });
});

test('policy: an optional S3 location, normalised like state.s3', () => {
  assert.equal(parseConfig(BASE, 'a.yaml').policyS3, undefined);
  const withPolicy = BASE.replace(/^hub: (.*)$/m, 'hub: $1\npolicy: s3://demo-policy/fleet/masterfiles/');
  assert.notEqual(withPolicy, BASE);
  assert.deepEqual(parseConfig(withPolicy, 'a.yaml').policyS3, { bucket: 'demo-policy', prefix: 'fleet/masterfiles' });
  const bucketOnly = BASE.replace(/^hub: (.*)$/m, 'hub: $1\npolicy: s3://demo-policy');
  assert.deepEqual(parseConfig(bucketOnly, 'a.yaml').policyS3, { bucket: 'demo-policy', prefix: '' });
});
