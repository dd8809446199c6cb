/**
 * Stateful exceptions in fleet.yaml: a role's `volume` and `state.s3` are rejected at
 * validation, with the reason and the line, when AttachVolume, CreateVolume or S3 would refuse
 * them (or when they would mix one name's state into another's). Complements errors.test.ts.
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';

// Lines: 1 fleet 2 dns 3 zone 4 hub 5 journal 6 bucket 7 defaults 8 image 9 subnets
// 10 security-groups 11 roles 12 hub: 13 count 14 type; line 15 onwards is each case's.
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
roles:
  hub:
    count: 1
    type: t3.small
`;

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'fleet.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    return e.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
  }
  assert.fail('parsed without problems');
}

const vol = (fields: string) => BASE + `    volume: {${fields}}\n`;
const state = (location: string) => BASE + `    state:\n      s3: ${location}\n`;

const bad: Array<[string, string, string[]]> = [
  // Device names: AttachVolume's data-volume names only.
  ['device beyond p', vol('size: 10, device: /dev/sdq, mount: /data'), ['15:32 roles.hub.volume.device: device "/dev/sdq" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf']],
  ['root device', vol('size: 10, device: /dev/xvda, mount: /data'), ['15:32 roles.hub.volume.device: device "/dev/xvda" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf']],
  ['a partition', vol('size: 10, device: /dev/xvdf1, mount: /data'), ['15:32 roles.hub.volume.device: device "/dev/xvdf1" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf']],
  ['an NVMe name', vol('size: 10, device: /dev/nvme1n1, mount: /data'), ['15:32 roles.hub.volume.device: device "/dev/nvme1n1" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf']],
  ['no /dev/', vol('size: 10, device: sdf, mount: /data'), ['15:32 roles.hub.volume.device: device "sdf" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf']],
  ['trailing space', vol('size: 10, device: "/dev/sdf ", mount: /data'), ['15:32 roles.hub.volume.device: device "/dev/sdf " must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf']],
  ['no device', vol('size: 10, mount: /data'), ["15:13 roles.hub.volume.device: missing required key 'device': expected a device name such as /dev/sdf"]],
  // Sizes: EBS's range, per type.
  ['size 0', vol('size: 0, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: expected a size in GiB, a whole number 1..65536, got 0']],
  ['beyond any type', vol('size: 65537, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: expected a size in GiB, a whole number 1..65536, got 65537']],
  ['not whole', vol('size: 10.5, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: expected a size in GiB, a whole number 1..65536, got 10.5']],
  ['with a unit', vol('size: 10GiB, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: expected a size in GiB, a whole number 1..65536, got "10GiB"']],
  ['gp2 beyond 16 TiB', vol('size: 16385, type: gp2, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: size 16385 GiB is out of range for gp2 volumes: 1..16384 GiB']],
  ['standard beyond 1 TiB', vol('size: 1025, type: standard, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: size 1025 GiB is out of range for standard volumes: 1..1024 GiB']],
  ['io2 below 4 GiB', vol('size: 3, type: io2, iops: 100, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: size 3 GiB is out of range for io2 volumes: 4..65536 GiB']],
  ['sc1 below 125 GiB', vol('size: 100, type: sc1, device: /dev/sdf, mount: /data'), ['15:20 roles.hub.volume.size: size 100 GiB is out of range for sc1 volumes: 125..16384 GiB']],
  ['gp3 iops below its baseline', vol('size: 10, device: /dev/sdf, mount: /data, iops: 2000'), ['15:62 roles.hub.volume.iops: iops 2000 is out of range for gp3 volumes: 3000..80000']],
  ['unknown type', vol('size: 10, type: gp4, device: /dev/sdf, mount: /data'), ['15:30 roles.hub.volume.type: expected one of gp2, gp3, io1, io2, st1, sc1, standard, got "gp4"']],
  // state.s3: a valid S3 location.
  ['https URL', state('https://demo-state.s3.amazonaws.com/hub'), ['16:11 roles.hub.state.s3: "https://demo-state.s3.amazonaws.com/hub" is not an S3 location: expected s3://bucket/prefix']],
  ['no bucket', state('s3:///hub'), ['16:11 roles.hub.state.s3: "s3:///hub" names no bucket: expected s3://bucket/prefix']],
  ['uppercase bucket', state('s3://Demo-State/x'), ['16:11 roles.hub.state.s3: in "s3://Demo-State/x": bucket name "Demo-State" must be lowercase']],
  ['space in the prefix', state('"s3://demo-state/a b"'), ['16:11 roles.hub.state.s3: in "s3://demo-state/a b": prefix "a b" contains " "; use letters, digits and ! - _ . * \' ( )']],
  ['query character', state('s3://demo-state/x?y'), ['16:11 roles.hub.state.s3: in "s3://demo-state/x?y": prefix "x?y" contains "?"; use letters, digits and ! - _ . * \' ( )']],
  ['dot-dot', state('s3://demo-state/../x'), ['16:11 roles.hub.state.s3: in "s3://demo-state/../x": prefix "../x" must not hold "." or ".." segments']],
  ['prefix too long', state(`s3://demo-state/${'a'.repeat(513)}`), [`16:11 roles.hub.state.s3: in "s3://demo-state/${'a'.repeat(41)}...": prefix is 513 characters long; at most 512`]],
  ['not a string', state('42'), ['16:11 roles.hub.state.s3: expected an S3 location s3://bucket/prefix, got 42']],
  ['state is not a mapping', BASE + '    state: s3://demo-state/x\n', ['15:12 roles.hub.state: expected a mapping with s3, got "s3://demo-state/x"']],
  ['misspelt key', BASE + '    state:\n      s4: s3://demo-state/x\n', ["16:7 roles.hub.state.s4: unknown key 's4' (did you mean 's3'?)"]],
  // One name's state inside another's: restored onto it, deleted with it.
  [
    "inside another name's state",
    BASE + '    state:\n      s3: s3://demo-state\n  web:\n    count: 2\n    type: t3.small\n    state:\n      s3: s3://demo-state/hub-01/web\n',
    ['21:11 roles.web.state.s3: "s3://demo-state/hub-01/web" lies inside s3://demo-state/hub-01/, the state of hub-01 (role hub): it would be restored onto hub-01 and deleted with it; choose a prefix outside it'],
  ],
];

for (const [name, text, problems] of bad) {
  test(`rejected with its reason and line: ${name}`, () => {
    assert.deepEqual(problemsOf(text), problems);
  });
}

test('every problem of a role at once, each on its own line', () => {
  const text = BASE + '    volume: {size: 0, device: /dev/sda, mount: data}\n    state:\n      s3: s3://demo_state/x\n';
  assert.deepEqual(problemsOf(text), [
    '15:20 roles.hub.volume.size: expected a size in GiB, a whole number 1..65536, got 0',
    '15:31 roles.hub.volume.device: device "/dev/sda" must be /dev/sd[f-p] or /dev/xvd[f-p], e.g. /dev/sdf',
    '15:48 roles.hub.volume.mount: mount point "data" must be an absolute path',
    '17:11 roles.hub.state.s3: in "s3://demo_state/x": bucket name "demo_state" may hold only a-z, 0-9, "." and "-"',
  ]);
});

test('accepted: edge values of EBS, and state locations that do not overlap', () => {
  const ok = [
    vol('size: 1, device: /dev/sdf, mount: /data'),
    vol('size: 65536, type: gp3, device: /dev/xvdp, mount: /data'),
    vol('size: 16384, type: st1, device: /dev/sdp, mount: /srv/x'),
    vol('size: 4, type: io1, iops: 200, device: /dev/xvdf, mount: /data'),
    state('s3://demo-state'),
    state('s3://demo-state/'),
    state("s3://demo-state/a/b.c/d_e/(x)/y*!'"),
    // Same prefix for two roles: names differ, so locations do.
    BASE + '    state:\n      s3: s3://demo-state/x\n  web:\n    count: 2\n    type: t3.small\n    state:\n      s3: s3://demo-state/x\n',
    // A segment that looks like a name of a role without state is harmless; so is one of another bucket.
    BASE + '  web:\n    count: 2\n    type: t3.small\n    state:\n      s3: s3://demo-state/hub-01\n',
    BASE + '    state:\n      s3: s3://other-state\n  web:\n    count: 2\n    type: t3.small\n    state:\n      s3: s3://demo-state/hub-01\n',
  ];
  for (const text of ok) assert.doesNotThrow(() => parseConfig(text, 'fleet.yaml'), text);
  const spec = parseConfig(vol('size: 4, type: io1, iops: 200, device: /dev/xvdf, mount: /data') + '    state:\n      s3: s3://demo-state/ci/\n', 'fleet.yaml');
  assert.deepEqual(spec.roles[0]!.volume, { sizeGiB: 4, type: 'io1', device: '/dev/xvdf', mountPoint: '/data', iops: 200 });
  assert.deepEqual(spec.roles[0]!.stateS3, { bucket: 'demo-state', prefix: 'ci' });
});
