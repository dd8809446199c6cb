import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';

const root = new URL('../../../', import.meta.url);
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`test/fixtures/config/${name}`, root)), 'utf8');

// A valid file; the cases below break it. Line numbers:
//  1 fleet   2 dns   3 zone   4 hub   5 journal   6 bucket   7 defaults   8 image
//  9 subnets   10 security-groups   11 market   12 roles   13 hub:   14 count   15 type   16 market
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

/** BASE with each `from` replaced by `to` (each must occur), then `append` added. */
function edit(changes: Array<[string, string]>, append = ''): string {
  let text = BASE;
  for (const [from, to] of changes) {
    assert.ok(text.includes(from), `BASE lacks ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  return text + append;
}

/** Problems as `line:column path: message`, in the order reported. */
function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'fleet.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    for (const p of e.problems) assert.equal(p.file, 'fleet.yaml');
    return e.problems.map((p) => `${p.line}:${p.column} ${p.path ? p.path + ': ' : ''}${p.message}`);
  }
  assert.fail('parsed without problems');
}

const cases: Array<{ name: string; text: string; problems: string[] }> = [
  // ---- YAML itself
  {
    name: 'YAML syntax error: unclosed quote',
    text: edit([['fleet: demo', 'fleet: "demo']]),
    problems: ['17:1 YAML syntax error: missing closing "quote'],
  },
  {
    name: 'YAML syntax error: unclosed flow list',
    text: edit([['subnets: [subnet-12345678]', 'subnets: [subnet-12345678']]),
    problems: ['10:3 YAML syntax error: flow sequence in block collection must be sufficiently indented and end with a ]'],
  },
  {
    name: 'tab indentation (only the tabs are reported, not what follows from them)',
    text: fixture('tabs.yaml'),
    problems: ['5:1 YAML does not allow tabs for indentation; indent with spaces', '6:1 YAML does not allow tabs for indentation; indent with spaces'],
  },
  {
    name: 'two documents',
    text: BASE + '---\nfleet: other\n',
    problems: ['17:1 the file holds more than one YAML document ("---"); put the whole fleet in one'],
  },
  {
    name: 'alias without anchor',
    text: edit([['  bucket: demo-journal', '  bucket: *journal']]),
    problems: ['6:11 journal.bucket: alias *journal refers to no anchor &journal defined before it'],
  },
  {
    name: 'unknown tag',
    text: edit([['count: 1', 'count: !!float 1']]),
    problems: ['14:12 unsupported YAML tag: tag:yaml.org,2002:float; fleet.yaml uses plain values'],
  },
  {
    name: 'alias bomb',
    text: 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    problems: ['1:1 cannot read the YAML: Excessive alias count indicates a resource exhaustion attack'],
  },
  {
    name: 'control character',
    text: edit([['fleet: demo', 'fleet: de\u0007mo']]),
    problems: ['1:10 control character U+0007 is not allowed in YAML'],
  },
  { name: 'empty file', text: fixture('empty.yaml'), problems: ['1:1 the file is empty; expected a mapping with fleet, dns, hub, journal, defaults and roles'] },
  { name: 'only comments', text: '# fleet: demo\n', problems: ['1:1 the file is empty; expected a mapping with fleet, dns, hub, journal, defaults and roles'] },
  {
    name: 'a list instead of a mapping',
    text: fixture('list.yaml'),
    problems: ['1:1 expected a mapping with fleet, dns, hub, journal, defaults and roles, got a list'],
  },
  { name: 'a scalar instead of a mapping', text: 'fleet\n', problems: ['1:1 expected a mapping with fleet, dns, hub, journal, defaults and roles, got "fleet"'] },
  {
    name: 'duplicate key',
    text: edit([['    count: 1\n', '    count: 1\n    count: 2\n']]),
    problems: ["15:5 roles.hub.count: duplicate key 'count' (first defined on line 14)"],
  },
  {
    name: 'duplicate role',
    text: BASE + '  hub:\n    count: 2\n    type: t3.small\n',
    problems: ["17:3 roles.hub: duplicate key 'hub' (first defined on line 13)"],
  },
  {
    name: 'a list as a key',
    text: BASE + '[a, b]: 1\n',
    problems: ['17:1 keys must be plain words, not lists or mappings'],
  },

  // ---- keys
  {
    name: 'unknown top-level key with a suggestion',
    text: edit([['fleet: demo\n', 'fleet: demo\nregoin: us-east-1\n']]),
    problems: ["2:1 regoin: unknown key 'regoin' (did you mean 'region'?)"],
  },
  {
    name: 'unknown nested key: a typo of a required key is one problem',
    text: edit([['    count: 1', '    cuont: 1']]),
    problems: ["14:5 roles.hub.cuont: unknown key 'cuont' (did you mean 'count'?)"],
  },
  {
    name: 'unknown key in another case',
    text: edit([['    type: t3.small', '    Type: t3.small']]),
    problems: ["15:5 roles.hub.Type: unknown key 'Type' (did you mean 'type'?)"],
  },
  {
    name: 'unknown key without a suggestion lists the known ones',
    text: edit([['  zone: prod.example.com\n', '  zone: prod.example.com\n  colour: blue\n']]),
    problems: ["4:3 dns.colour: unknown key 'colour'; expected one of: zone, ttl, record-quota"],
  },
  {
    name: 'image by name: missing name',
    text: edit([['image: ami-12345678', 'image: {owner: "136693071363"}']]),
    problems: ["8:10 defaults.image.name: missing required key 'name': expected an AMI name pattern such as debian-12-amd64-*"],
  },
  {
    name: 'camelCase key',
    text: edit([['  market: spot\n', '  market: spot\n  instanceProfile: node\n']]),
    problems: ["12:3 defaults.instanceProfile: unknown key 'instanceProfile' (did you mean 'instance-profile'?)"],
  },
  {
    name: 'missing required key: position of the parent mapping',
    text: edit([['  bucket: demo-journal', '  prefix: j']]),
    problems: ["6:3 journal.bucket: missing required key 'bucket': expected an S3 bucket name"],
  },
  {
    name: 'missing top-level block',
    text: BASE.slice(0, BASE.indexOf('roles:')),
    problems: ["1:1 roles: missing required key 'roles': expected a mapping of role names to roles"],
  },
  {
    name: 'missing role type',
    text: edit([['    type: t3.small\n', '']]),
    problems: ["14:5 roles.hub.type: missing required key 'type': expected an instance type such as t3.medium"],
  },

  // ---- types and ranges
  {
    name: 'wrong type: a string where a mapping goes',
    text: edit([['dns:\n  zone: prod.example.com', 'dns: prod.example.com']]),
    problems: ['2:6 dns: expected a mapping with zone, ttl and record-quota, got "prod.example.com"'],
  },
  {
    name: 'wrong type: a word for a number',
    text: edit([['count: 1', 'count: four']]),
    problems: ['14:12 roles.hub.count: expected a whole number 0..100000, got "four"'],
  },
  { name: 'negative count', text: edit([['count: 1', 'count: -1']]), problems: ['14:12 roles.hub.count: expected a whole number 0..100000, got -1'] },
  { name: 'fractional count', text: edit([['count: 1', 'count: 1.5']]), problems: ['14:12 roles.hub.count: expected a whole number 0..100000, got 1.5'] },
  {
    name: 'quoted number',
    text: edit([['count: 1', 'count: "1"']]),
    problems: ['14:12 roles.hub.count: expected a whole number 0..100000, got the string "1" (remove the quotes)'],
  },
  { name: 'empty value', text: edit([['count: 1', 'count:']]), problems: ['14:5 roles.hub.count: expected a whole number 0..100000, got nothing (null)'] },
  {
    name: 'yes is not a boolean in YAML 1.2',
    text: BASE + 'chaos:\n  leashed: yes\n',
    problems: ['18:12 chaos.leashed: expected true or false, got "yes" (YAML 1.2 reads it as a string; write true or false)'],
  },
  { name: 'ttl out of range', text: edit([['  zone: prod.example.com\n', '  zone: prod.example.com\n  ttl: 200000\n']]), problems: ['4:8 dns.ttl: expected a TTL in seconds, a whole number 0..172800, got 200000'] },
  { name: 'bad market', text: edit([['market: spot', 'market: Spot']]), problems: ['11:11 defaults.market: expected one of spot, on-demand, got "Spot"'] },
  { name: 'empty subnet list', text: edit([['[subnet-12345678]', '[]']]), problems: ['9:12 defaults.subnets: expected at least 1 subnet id, got none'] },
  {
    name: 'too many security groups',
    text: edit([['[sg-12345678]', '[sg-00000001, sg-00000002, sg-00000003, sg-00000004, sg-00000005, sg-00000006]']]),
    problems: ['10:20 defaults.security-groups: expected at most 5 security group ids'],
  },
  {
    name: 'subnets as a string',
    text: edit([['[subnet-12345678]', 'subnet-12345678']]),
    problems: ['9:12 defaults.subnets: expected a list of subnet ids, got "subnet-12345678"'],
  },

  // ---- field formats
  { name: 'bad fleet name', text: edit([['fleet: demo', 'fleet: Demo']]), problems: ['1:8 fleet: fleet name "Demo" must be lowercase'] },
  { name: 'bad region', text: edit([['fleet: demo\n', 'fleet: demo\nregion: us-east\n']]), problems: ['2:9 region: "us-east" is not an AWS Region code such as us-east-1'] },
  { name: 'uppercase zone', text: edit([['zone: prod.example.com', 'zone: Prod.example.com']]), problems: ['3:9 dns.zone: zone "Prod.example.com" must be lowercase'] },
  {
    name: 'single-label zone',
    text: edit([['zone: prod.example.com', 'zone: prod']]),
    problems: ['3:9 dns.zone: zone "prod" needs at least two labels: the first names the environment, e.g. prod.example.com'],
  },
  { name: 'bad instance type: no size', text: edit([['type: t3.small', 'type: t3small']]), problems: ['15:11 roles.hub.type: instance type "t3small" must be <family>.<size>, e.g. t3.medium'] },
  { name: 'bad instance type: uppercase', text: edit([['type: t3.small', 'type: T3.small']]), problems: ['15:11 roles.hub.type: instance type "T3.small" must be lowercase'] },
  {
    name: 'bad instance type: size',
    text: edit([['type: t3.small', 'type: t3.huge']]),
    problems: ['15:11 roles.hub.type: instance size "huge" of "t3.huge" is not one of nano, micro, small, medium, large, xlarge, <N>xlarge, metal, metal-<N>xl'],
  },
  { name: 'bad subnet id', text: edit([['[subnet-12345678]', '[subnet-1234567]']]), problems: ['9:13 defaults.subnets[0]: "subnet-1234567" is not a subnet id: "subnet-" and 8 or 17 hex digits'] },
  { name: 'bad security group id', text: edit([['[sg-12345678]', '[sg-1234567g]']]), problems: ['10:21 defaults.security-groups[0]: "sg-1234567g" is not a security group id: "sg-" and 8 or 17 hex digits'] },
  { name: 'bad AMI id', text: edit([['image: ami-12345678', 'image: ami-123']]), problems: ['8:10 defaults.image: "ami-123" is not an AMI id: "ami-" and 8 or 17 hex digits'] },
  {
    name: 'image by name: owner as a number, typo in name (one problem for the typo, not two)',
    text: edit([['image: ami-12345678', 'image: {owner: 136693071363, nmae: "debian-*"}']]),
    problems: [
      '8:18 defaults.image.owner: expected the owner\'s account id as a quoted string ("136693071363"): as a number it loses leading zeros',
      "8:32 defaults.image.nmae: unknown key 'nmae' (did you mean 'name'?)",
    ],
  },
  {
    name: 'bad journal bucket',
    text: edit([['bucket: demo-journal', 'bucket: Demo_Journal']]),
    problems: ['6:11 journal.bucket: bucket name "Demo_Journal" must be lowercase'],
  },
  { name: 'bucket like an IP address', text: edit([['bucket: demo-journal', 'bucket: 192.168.5.4']]), problems: ['6:11 journal.bucket: bucket name "192.168.5.4" must not look like an IP address'] },
  {
    name: 'bad role name',
    text: BASE + '  Web-App:\n    count: 1\n    type: t3.small\n',
    problems: ['17:3 roles.Web-App: role name "Web-App": role must be lowercase'],
  },
  {
    name: 'bad S3 location: scheme',
    text: BASE + '    state:\n      s3: s3:/demo-state/hub\n',
    problems: ['18:11 roles.hub.state.s3: "s3:/demo-state/hub" is not an S3 location: expected s3://bucket/prefix'],
  },
  {
    name: 'bad S3 location: bucket',
    text: BASE + '    state:\n      s3: s3://demo_state/hub\n',
    problems: ['18:11 roles.hub.state.s3: in "s3://demo_state/hub": bucket name "demo_state" may hold only a-z, 0-9, "." and "-"'],
  },
  {
    name: 'bad S3 location: prefix',
    text: BASE + '    state:\n      s3: s3://demo-state//hub\n',
    problems: ['18:11 roles.hub.state.s3: in "s3://demo-state//hub": prefix "/hub" must not start with "/"'],
  },
  {
    name: 'bad policy location: scheme',
    text: edit([['hub: hub-01\n', 'hub: hub-01\npolicy: https://demo-policy/masterfiles\n']]),
    problems: ['5:9 policy: "https://demo-policy/masterfiles" is not an S3 location: expected s3://bucket/prefix'],
  },
  {
    name: 'bad policy location: bucket',
    text: edit([['hub: hub-01\n', 'hub: hub-01\npolicy: s3://Demo_Policy/masterfiles\n']]),
    problems: ['5:9 policy: in "s3://Demo_Policy/masterfiles": bucket name "Demo_Policy" must be lowercase'],
  },
  {
    name: 'bad volume device',
    text: BASE + '    volume: {size: 10, device: /dev/sda1, mount: /data}\n',
    problems: ['17:32 roles.hub.volume.device: device "/dev/sda1" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf'],
  },
  {
    name: 'volume size out of range for its type',
    text: BASE + '    volume: {size: 20, type: st1, device: /dev/sdf, mount: /data}\n',
    problems: ['17:20 roles.hub.volume.size: size 20 GiB is out of range for st1 volumes: 125..16384 GiB'],
  },
  {
    name: 'volume size out of any range',
    text: BASE + '    volume: {size: 0, device: /dev/sdf, mount: /data}\n',
    problems: ['17:20 roles.hub.volume.size: expected a size in GiB, a whole number 1..65536, got 0'],
  },
  {
    name: 'io1 without iops; throughput on io1',
    text: BASE + '    volume: {size: 100, type: io1, device: /dev/sdf, mount: /data, throughput: 500}\n',
    problems: [
      "17:13 roles.hub.volume.iops: missing required key 'iops': io1 volumes need provisioned IOPS, 100..64000",
      '17:80 roles.hub.volume.throughput: throughput applies only to gp3 volumes, not io1',
    ],
  },
  {
    name: 'iops beyond the per-GiB ratio',
    text: BASE + '    volume: {size: 10, type: io1, iops: 1000, device: /dev/sdf, mount: /data}\n',
    problems: ['17:41 roles.hub.volume.iops: iops 1000 is more than a 10 GiB io1 volume allows (50 per GiB: at most 500)'],
  },
  {
    name: 'bad mount point',
    text: BASE + '    volume: {size: 10, device: /dev/sdf, mount: data}\n',
    problems: ['17:49 roles.hub.volume.mount: mount point "data" must be an absolute path'],
  },
  {
    name: 'mount over a system directory',
    text: BASE + '    volume: {size: 10, device: /dev/sdf, mount: /etc}\n',
    problems: ['17:49 roles.hub.volume.mount: mount point "/etc" is a system directory'],
  },
  {
    name: 'bad zookeeper connect string',
    text: BASE + 'coordination:\n  zookeeper:\n    connect: zk1:2181,zk2\n',
    problems: ['19:14 coordination.zookeeper.connect: server "zk2" in "zk1:2181,zk2" is not host:port'],
  },
  {
    name: 'bad cron: field count',
    text: BASE + 'chaos:\n  schedule: "0 3 * *"\n',
    problems: ['18:13 chaos.schedule: cron expression has 4 fields; expected 5: minute hour day-of-month month day-of-week'],
  },
  { name: 'bad cron: range', text: BASE + 'chaos:\n  schedule: "61 3 * * *"\n', problems: ['18:13 chaos.schedule: minute 61 is out of range 0-59'] },
  {
    name: 'bad cron: day name',
    text: BASE + 'chaos:\n  schedule: "0 3 * * mon-fry"\n',
    problems: ['18:13 chaos.schedule: day-of-week "fry" is neither a number 0-7 nor a name sun-sat'],
  },
  {
    name: 'bad duration',
    text: BASE + 'chaos:\n  min-time-between-kills: 7 days\n',
    problems: ['18:27 chaos.min-time-between-kills: expected a duration from 0s to 365d: seconds, or a number with s, m, h or d ("90s", "15m", "12h", "7d"), got "7 days"'],
  },
  {
    name: 'duration out of range',
    text: BASE + 'coordination:\n  zookeeper:\n    connect: zk1:2181\n    session-timeout: 2h\n',
    problems: ['20:22 coordination.zookeeper.session-timeout: duration "2h" is out of range 1s to 1h'],
  },

  // ---- relations between fields
  {
    name: 'hub not a declared role',
    text: edit([['hub: hub-01', 'hub: db-01']]),
    problems: ["4:6 hub: hub \"db-01\" is not a name of a declared role: no role 'db'; declared: hub"],
  },
  {
    name: 'hub index beyond the count',
    text: edit([['hub: hub-01', 'hub: hub-02']]),
    problems: ['4:6 hub: hub "hub-02" is beyond the count of role hub (1)'],
  },
  {
    name: 'hub not a fleet name',
    text: edit([['hub: hub-01', 'hub: hub-1']]),
    problems: ['4:6 hub: hub "hub-1" is not a fleet name: index must be zero-padded to 2 digits (hub-01)'],
  },
  {
    name: 'hub in another zone',
    text: edit([['hub: hub-01', 'hub: hub-01.staging.example.com']]),
    problems: ['4:6 hub: hub "hub-01.staging.example.com" is not a fleet name: hub-01.staging.example.com is not in zone prod.example.com'],
  },
  {
    name: 'count beyond the index digits',
    text: edit([['count: 1', 'count: 100']]),
    problems: ['14:12 roles.hub.count: count 100 does not fit naming.index-digits 2 (at most 99 names, up to hub-99); raise index-digits'],
  },
  {
    name: 'on-demand-fallback on an on-demand role',
    text: edit([['    market: on-demand\n', '    market: on-demand\n    on-demand-fallback: true\n']]),
    problems: ['17:25 roles.hub.on-demand-fallback: on-demand-fallback applies only to spot roles; role hub runs on-demand'],
  },
  {
    name: 'alternatives repeat the type',
    text: BASE + '    alternatives: [t3a.small, t3.small, t3a.small]\n',
    problems: [
      '17:31 roles.hub.alternatives[1]: alternative "t3.small" repeats the role\'s type',
      '17:41 roles.hub.alternatives[2]: alternative "t3a.small" is listed twice',
    ],
  },
  {
    name: 'duplicate subnet',
    text: edit([['[subnet-12345678]', '[subnet-12345678, subnet-12345678]']]),
    problems: ['9:30 defaults.subnets[1]: subnet "subnet-12345678" is listed twice'],
  },
  {
    name: 'chaos names undeclared roles',
    text: BASE + 'chaos:\n  opt-out: [hbu]\n  min-converged: {web: 2}\n',
    problems: [
      '18:13 chaos.opt-out[0]: opt-out names "hbu", which is not a declared role (did you mean \'hub\'?)',
      '19:19 chaos.min-converged.web: min-converged names "web", which is not a declared role',
    ],
  },

  // ---- many at once, in file order
  {
    name: 'three problems, all reported, in order',
    text: fixture('three-problems.yaml'),
    problems: [
      '4:8 dns.ttl: expected a TTL in seconds, a whole number 0..172800, got -5',
      "16:5 roles.hub.markt: unknown key 'markt' (did you mean 'market'?)",
      '20:32 roles.web.volume.device: device "/dev/sda" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf',
    ],
  },
  {
    name: 'schema and relation problems together',
    text: edit(
      [
        ['fleet: demo', 'fleet: 9lives'],
        ['hub: hub-01', 'hub: hub-07'],
      ],
      '  web:\n    count: -2\n    type: t3.medium\n    market: on-demand\n    on-demand-fallback: true\n',
    ),
    problems: [
      '1:8 fleet: fleet name "9lives" must start with a letter a-z',
      '4:6 hub: hub "hub-07" is beyond the count of role hub (1)',
      '18:12 roles.web.count: expected a whole number 0..100000, got -2',
      '21:25 roles.web.on-demand-fallback: on-demand-fallback applies only to spot roles; role web runs on-demand',
    ],
  },
];

for (const c of cases) {
  test(`broken fleet.yaml: ${c.name}`, () => {
    assert.deepEqual(problemsOf(c.text), c.problems);
  });
}

test('every problem has a 1-based position and a message; the error names the file', () => {
  for (const c of cases) {
    try {
      parseConfig(c.text, 'x/fleet.yaml');
      assert.fail(c.name);
    } catch (e) {
      assert.ok(e instanceof ConfigError, c.name);
      assert.ok(e.problems.length > 0, c.name);
      for (const p of e.problems) {
        assert.ok(p.line >= 1 && p.column >= 1, `${c.name}: ${p.line}:${p.column}`);
        assert.ok(p.message.length > 0 && !p.message.includes('\u0000'), c.name);
        assert.ok(!/Invalid input|received/.test(p.message), `${c.name}: zod wording leaked: ${p.message}`);
      }
      assert.ok(e.message.includes(`x/fleet.yaml:${e.problems[0]!.line}:${e.problems[0]!.column}: `), c.name);
    }
  }
});
