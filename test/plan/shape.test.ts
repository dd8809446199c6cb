import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientToken, launchCandidates, roleOf } from '../../src/plan/shape.js';
import { parseName } from '../../src/naming.js';
import { spec } from './fixtures.js';

const conv = { zone: 'prod.example.com', indexDigits: 2 };

test('launch candidates: role market first, each type over every subnet starting at the name\'s home subnet, then on-demand fallback', () => {
  const s = spec();
  const web = roleOf(s, 'web')!;
  const c = launchCandidates(s, web, parseName('web-02', conv));
  assert.equal(c.length, 3 * 3 * 2);
  assert.deepEqual(c.slice(0, 4), [
    { instanceType: 't3.medium', market: 'spot', subnetId: 'subnet-0bb00000000000002' },
    { instanceType: 't3.medium', market: 'spot', subnetId: 'subnet-0cc00000000000003' },
    { instanceType: 't3.medium', market: 'spot', subnetId: 'subnet-0aa00000000000001' },
    { instanceType: 't3a.medium', market: 'spot', subnetId: 'subnet-0bb00000000000002' },
  ]);
  assert.ok(c.slice(0, 9).every((x) => x.market === 'spot'));
  assert.ok(c.slice(9).every((x) => x.market === 'on-demand'));
});

test('an on-demand role has no fallback; an explicit strict type is the only type', () => {
  const s = spec();
  const hub = roleOf(s, 'hub')!;
  assert.equal(launchCandidates(s, hub, parseName('hub-01', conv)).length, 3);
  const web = roleOf(s, 'web')!;
  const strict = launchCandidates(s, web, parseName('web-01', conv), { instanceType: 'm5.large' }, true);
  assert.ok(strict.every((x) => x.instanceType === 'm5.large'));
  assert.equal(strict.length, 6, 'three AZs, spot then on-demand');
  const market = launchCandidates(s, web, parseName('web-01', conv), { market: 'on-demand' });
  assert.ok(market.every((x) => x.market === 'on-demand'), 'an explicit market is not fallen back from');
});

test('client tokens: deterministic per (fleet, name, generation, shape), distinct otherwise, at most 64 ASCII characters', () => {
  const shape = { instanceType: 't3.medium', market: 'spot' as const, subnetId: 'subnet-0aa00000000000001' };
  const t = clientToken('demo', 'web-03', 7, shape);
  assert.equal(t, clientToken('demo', 'web-03', 7, shape));
  assert.ok(t.length <= 64 && /^[\x21-\x7e]+$/.test(t));
  assert.ok(t.startsWith('web-03-g7-'));
  const others = [
    clientToken('other', 'web-03', 7, shape),
    clientToken('demo', 'web-04', 7, shape),
    clientToken('demo', 'web-03', 8, shape),
    clientToken('demo', 'web-03', 7, { ...shape, subnetId: 'subnet-0bb00000000000002' }),
    clientToken('demo', 'web-03', 7, { ...shape, market: 'on-demand' }),
    clientToken('demo', 'web-03', 7, { ...shape, instanceType: 'm5.large' }),
  ];
  assert.equal(new Set([t, ...others]).size, 7);
  const long = clientToken('a'.repeat(32), `${'r'.repeat(32)}-999999`, 123456789, shape);
  assert.ok(long.length <= 64);
});
