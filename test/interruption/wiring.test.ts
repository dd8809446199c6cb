/** The Lambda's configuration from its environment: a missing or broken FLEET_SPEC_JSON is one clear message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specFromEnv } from '../../src/lambda/env.js';
import { InputError } from '../../src/errors.js';
import { spec } from '../plan/fixtures.js';

test('specFromEnv: the validated spec round-trips through JSON', () => {
  const s = spec();
  assert.deepEqual(specFromEnv({ FLEET_SPEC_JSON: JSON.stringify(s) }), s);
});

for (const [name, env, re] of [
  ['unset', {}, /FLEET_SPEC_JSON is not set/],
  ['blank', { FLEET_SPEC_JSON: '  ' }, /FLEET_SPEC_JSON is not set/],
  ['not JSON', { FLEET_SPEC_JSON: '{fleet: demo' }, /FLEET_SPEC_JSON is not JSON: /],
  ['the yaml, not the spec', { FLEET_SPEC_JSON: JSON.stringify({ fleet: 'demo', dns: { zone: 'prod.example.com', ttl: 60 }, roles: { web: {} } }) }, /missing roles, journal.bucket, defaults.subnets, reconcile.convergeTimeoutMs, naming.indexDigits, chaos$/],
] as const) {
  test(`specFromEnv: ${name}`, () => {
    assert.throws(() => specFromEnv(env), (e: unknown) => e instanceof InputError && re.test(e.message));
  });
}
