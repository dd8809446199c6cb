import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { NameError } from '../src/errors.js';
import type { FleetSpec } from '../src/model.js';
import {
  canonify,
  cfengineClasses,
  conventionOf,
  desiredNames,
  environmentOf,
  formatName,
  fqdnOf,
  isValidRole,
  nameError,
  parseName,
  roleProblem,
  tryParseName,
  type NamingConvention,
} from '../src/naming.js';

const conv: NamingConvention = { zone: 'prod.example.com', indexDigits: 2 };

test('parseName accepts short names and names in the zone', () => {
  const cases: Array<[string, string, number, NamingConvention?]> = [
    ['web-03', 'web', 3],
    ['web-03.prod.example.com', 'web', 3],
    ['web-03.prod.example.com.', 'web', 3],
    ['hub-01', 'hub', 1],
    ['web-99', 'web', 99],
    ['web-100', 'web', 100],
    ['web-1000', 'web', 1000],
    ['db2-10', 'db2', 10],
    ['q-01', 'q', 1],
    ['web-3', 'web', 3, { zone: 'prod.example.com', indexDigits: 1 }],
    ['web-0003', 'web', 3, { zone: 'prod.example.com', indexDigits: 4 }],
    ['web-003', 'web', 3, { zone: 'prod.example.com', indexDigits: 3 }],
  ];
  for (const [input, role, index, c] of cases) {
    const n = parseName(input, c ?? conv);
    assert.equal(n.role, role, input);
    assert.equal(n.index, index, input);
    assert.equal(n.name, input.split('.')[0], input);
    assert.equal(n.fqdn, `${n.name}.prod.example.com`, input);
    assert.equal(n.environment, 'prod', input);
    assert.equal(n.zone, 'prod.example.com', input);
  }
});

test('parseName rejects what does not fit, with the reason', () => {
  const long63 = 'w' + 'e'.repeat(59) + '-01'; // 63 characters: too long a role, but a legal label
  const cases: Array<[string, string]> = [
    ['', 'name is empty'],
    ['WEB-03', 'contains uppercase "W"; names are lowercase'],
    ['Web-03', 'names are lowercase'],
    ['web-03.PROD.example.com', 'contains uppercase "P"; names are lowercase'],
    ['wéb-03', 'contains the non-ASCII character "é" (U+00E9)'],
    ['web-０3', 'contains the non-ASCII character "０" (U+FF10)'],
    ['wеb-03', 'non-ASCII character "е" (U+0435)'], // Cyrillic ie
    ['\u0441i-01', 'non-ASCII character "с" (U+0441)'], // Cyrillic es
    ['web\u200b-03', 'non-ASCII character "\u200b" (U+200B)'], // zero-width space
    ['web-03;rm -rf /', 'contains ";", which is not allowed'],
    ['$(id)', 'contains "$", which is not allowed'],
    ['web-`id`', 'contains "`", which is not allowed'],
    ["web-03'", `contains "'", which is not allowed`],
    ['web-"03"', 'contains "\\"", which is not allowed'],
    ['web|03', 'contains "|"'],
    ['web&03', 'contains "&"'],
    ['web>03', 'contains ">"'],
    ['../web-03', 'contains "/"'],
    ['web_03', 'contains "_", which is not allowed'],
    ['web-*', 'contains "*"'],
    ['\\052.prod.example.com', 'contains "\\\\"'],
    ['web-03\n', 'contains whitespace (control character U+000A)'],
    ['web-03\0', 'contains a control character U+0000'],
    ['web-03\x7f', 'contains a control character U+007F'],
    [' web-03', 'contains whitespace (" ")'],
    ['web-03 ', 'contains whitespace'],
    ['web 03', 'contains whitespace'],
    ['web-03\t', 'contains whitespace (control character U+0009)'],
    ['web\u00a0-03', 'contains whitespace ("\u00a0" (U+00A0))'],
    ['web-03.other.com', 'web-03.other.com is not in zone prod.example.com'],
    ['web-03.prod.example.com.evil.com', 'is not in zone prod.example.com'],
    ['web-03.staging.example.com', 'web-03.staging.example.com is not in zone prod.example.com'],
    ['web-03.example.com', 'is not in zone'],
    ['prod.example.com', 'is the zone prod.example.com itself'],
    ['prod.example.com.', 'is the zone prod.example.com itself'],
    ['web-03..prod.example.com', 'has an empty label'],
    ['.web-03', 'has an empty label'],
    ['web-03.prod.example.com..', 'has an empty label'],
    ['.', 'has an empty label'],
    ['w' + 'e'.repeat(62) + '-01', 'is 66 characters long; a DNS label holds at most 63'],
    ['web-03.' + 'a'.repeat(64) + '.com', 'is 64 characters long; a DNS label holds at most 63'],
    [('a'.repeat(60) + '.').repeat(5) + 'com', 'characters long; a DNS name holds at most 253'],
    [long63, 'role is 60 characters long; at most 32'],
    ['web', 'missing index: expected <role>-<index>, e.g. web-01'],
    ['web03', 'missing index'],
    ['web-', 'ends with a hyphen: missing index after "web-"'],
    ['web-03-', 'ends with a hyphen'],
    ['-03', 'role is empty'],
    ['3web-03', 'role must start with a letter'],
    ['web-app-03', 'role may hold only a-z and 0-9 after its first letter, not "-"'],
    ['web--03', 'role may hold only a-z and 0-9'],
    ['web-ab', 'index "ab" is not a number'],
    ['web-0x1f', 'index "0x1f" is not a number'],
    ['web-1e3', 'index "1e3" is not a number'],
    ['web-00', 'index 0: indexes start at 1'],
    ['web-0', 'index 0'],
    ['web-3', 'index must be zero-padded to 2 digits (web-03)'],
    ['web-003', 'leading zeros beyond the 2-digit padding (web-03)'],
    ['web-0100', 'leading zeros beyond the 2-digit padding (web-100)'],
    ['web-1000000', 'index 1000000 is too large; at most 999999'],
    ['web-99999999999999999999', 'is too large'],
  ];
  for (const [input, reason] of cases) {
    assert.throws(
      () => parseName(input, conv),
      (e: unknown) => {
        assert.ok(e instanceof NameError, `${JSON.stringify(input)}: not a NameError`);
        assert.ok(e.message.includes(reason), `${JSON.stringify(input)}: ${JSON.stringify(e.message)} lacks ${JSON.stringify(reason)}`);
        assert.equal(e.input, input);
        assert.equal(e.exitCode, 2);
        assert.equal(e.data['reason'] !== undefined, true);
        return true;
      },
    );
    assert.equal(tryParseName(input, conv), undefined, input);
    assert.ok(nameError(input, conv)?.includes(reason), input);
  }
});

test('parseName never repairs input', () => {
  // Lowercasing or trimming would turn these into valid names; they must stay invalid.
  for (const input of ['WEB-03', ' web-03', 'web-03 ', 'web-3', 'web-003']) {
    assert.equal(tryParseName(input, conv), undefined, input);
  }
});

test('NameError message leads with the input', () => {
  assert.throws(() => parseName('web-3', conv), { message: 'invalid name "web-3": index must be zero-padded to 2 digits (web-03)' });
});

test('the padding decides what is valid', () => {
  const one: NamingConvention = { zone: 'prod.example.com', indexDigits: 1 };
  assert.equal(parseName('web-3', one).index, 3);
  assert.equal(parseName('web-10', one).index, 10);
  assert.throws(() => parseName('web-03', one), /leading zeros beyond the 1-digit padding \(web-3\)/);
  const three: NamingConvention = { zone: 'prod.example.com', indexDigits: 3 };
  assert.throws(() => parseName('web-03', three), /index must be zero-padded to 3 digits \(web-003\)/);
});

test('tryParseName reads DNS listings', () => {
  const listing = ['prod.example.com.', 'web-01.prod.example.com.', '\\052.prod.example.com.', '_acme.prod.example.com.', 'queue-02.prod.example.com.', 'mail.prod.example.com.'];
  const names = listing.map((r) => tryParseName(r, conv)?.name).filter((n) => n !== undefined);
  assert.deepEqual(names, ['web-01', 'queue-02']);
});

test('formatName pads and validates', () => {
  assert.equal(formatName('web', 3, conv).name, 'web-03');
  assert.equal(formatName('web', 3, conv).fqdn, 'web-03.prod.example.com');
  assert.equal(formatName('web', 100, conv).name, 'web-100');
  assert.equal(formatName('web', 7, { zone: 'prod.example.com', indexDigits: 4 }).name, 'web-0007');
  const bad: Array<[string, number, string]> = [
    ['Web', 1, 'role must be lowercase'],
    ['3web', 1, 'role must start with a letter'],
    ['web-app', 1, 'role may hold only a-z and 0-9 after its first letter, not "-"'],
    ['', 1, 'role is empty'],
    ['web', 0, 'index must be a whole number >= 1, got 0'],
    ['web', -1, 'index must be a whole number >= 1, got -1'],
    ['web', 1.5, 'index must be a whole number >= 1, got 1.5'],
    ['web', Number.NaN, 'index must be a whole number >= 1, got NaN'],
    ['web', 1_000_000, 'too large'],
  ];
  for (const [role, index, reason] of bad) {
    assert.throws(() => formatName(role, index, conv), (e: unknown) => e instanceof NameError && e.message.includes(reason), `${role} ${index}`);
  }
});

test('roles', () => {
  for (const r of ['web', 'hub', 'q', 'db2', 'a'.repeat(32)]) assert.equal(isValidRole(r), true, r);
  const bad: Array<[string, string]> = [
    ['', 'role is empty'],
    ['Web', 'role must be lowercase'],
    ['2db', 'role must start with a letter'],
    ['-web', 'role must start with a letter'],
    ['web-app', 'not "-"'],
    ['web_app', 'not "_"'],
    ['wéb', 'not "é" (U+00E9)'],
    ['a'.repeat(33), 'role is 33 characters long; at most 32'],
  ];
  for (const [r, reason] of bad) {
    assert.equal(isValidRole(r), false, r);
    assert.ok(roleProblem(r)?.includes(reason), `${r}: ${roleProblem(r)}`);
  }
});

test('fqdnOf and environmentOf', () => {
  assert.equal(fqdnOf('web-03', conv), 'web-03.prod.example.com');
  assert.equal(fqdnOf(parseName('web-03.prod.example.com.', conv), conv), 'web-03.prod.example.com');
  assert.throws(() => fqdnOf('web-3', conv), NameError);
  assert.equal(environmentOf('prod.example.com'), 'prod');
  assert.equal(environmentOf('staging.corp.internal'), 'staging');
});

test('cfengineClasses: hard classes from the FQDN, then the explicit ones', () => {
  assert.deepEqual(cfengineClasses(parseName('web-03', conv)), [
    'web_03',
    'web_03_prod_example_com',
    'prod_example_com',
    'example_com',
    'com',
    'role_web',
    'env_prod',
    'index_03',
  ]);
  assert.deepEqual(cfengineClasses(parseName('db2-100', { zone: 'staging.internal', indexDigits: 2 })), [
    'db2_100',
    'db2_100_staging_internal',
    'staging_internal',
    'internal',
    'role_db2',
    'env_staging',
    'index_100',
  ]);
  assert.equal(canonify('web-03.prod.example.com'), 'web_03_prod_example_com');
});

function spec(roles: Array<[string, number]>, indexDigits = 2): FleetSpec {
  return {
    fleet: 'demo',
    dns: { zone: 'prod.example.com', ttl: 60 },
    naming: { indexDigits },
    reconcile: { orphanGraceMs: 900_000, convergeTimeoutMs: 900_000, concurrency: 20, intervalMs: 60_000 },
    hub: 'hub-01',
    journal: { bucket: 'b', prefix: 'journal' },
    defaults: { image: { id: 'ami-12345678' }, subnets: ['subnet-12345678'], securityGroups: ['sg-12345678'], market: 'on-demand' },
    roles: roles.map(([name, count]) => ({ name, count, instanceType: 't3.small', alternativeTypes: [], market: 'on-demand', onDemandFallback: false })),
    coordination: {},
    chaos: {
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
    },
  };
}

test('desiredNames: roles in order, 1..count', () => {
  const s = spec([['hub', 1], ['web', 3], ['ci', 0], ['queue', 2]]);
  assert.deepEqual(conventionOf(s), { zone: 'prod.example.com', indexDigits: 2 });
  assert.deepEqual(
    desiredNames(s).map((n) => n.name),
    ['hub-01', 'web-01', 'web-02', 'web-03', 'queue-01', 'queue-02'],
  );
  assert.deepEqual(desiredNames(spec([['web', 2]], 3)).map((n) => n.fqdn), ['web-001.prod.example.com', 'web-002.prod.example.com']);
});
