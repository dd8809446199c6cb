import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/index.js';

// Lines: 1 fleet  2 dns  3 zone  4 hub  5 journal  6 bucket  7 defaults  8 image  9 subnets
// 10 security-groups  11 instance-profile  12 roles  13 hub:  14 count  15 type
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
  instance-profile: fleet-node
roles:
  hub:
    count: 1
    type: t3.small
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'fleet.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
  }
  assert.fail('expected problems');
}

test('alerts.email is optional; given, it lands in the spec', () => {
  assert.equal(parseConfig(BASE, 'fleet.yaml').alerts, undefined);
  assert.equal(parseConfig(BASE + 'alerts:\n', 'fleet.yaml').alerts, undefined, 'an empty block is no block');
  assert.deepEqual(parseConfig(BASE + 'alerts:\n  email: ops@example.com\n', 'fleet.yaml').alerts, { email: 'ops@example.com' });
});

test('a malformed alerts block is a problem with its line', () => {
  assert.deepEqual(problems(BASE + 'alerts:\n  email: ops-at-example.com\n'), ['17:10 alerts.email: "ops-at-example.com" is not an email address such as ops@example.com']);
  assert.deepEqual(problems(BASE + 'alerts:\n  mail: ops@example.com\n'), ["17:3 alerts.mail: unknown key 'mail' (did you mean 'email'?)"]);
  assert.deepEqual(problems(BASE + 'alerts:\n  email: [a@b.c]\n'), ['17:10 alerts.email: expected an email address such as ops@example.com, got a list']);
});

test('a role may name its own instance profile; without one it uses the default', () => {
  const spec = parseConfig(BASE + '    instance-profile: fleet-node-hub\n', 'fleet.yaml');
  assert.equal(spec.roles[0]!.instanceProfile, 'fleet-node-hub');
  assert.equal(parseConfig(BASE, 'fleet.yaml').roles[0]!.instanceProfile, undefined);
  assert.deepEqual(problems(BASE + '    instance-profile: "no spaces"\n'), ['16:23 roles.hub.instance-profile: "no spaces" is neither an instance profile name (letters, digits and + = , . @ _ -, at most 128) nor an instance profile ARN']);
});
