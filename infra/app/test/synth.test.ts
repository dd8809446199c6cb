/**
 * `npm run synth` with the network unplugged: run in a new network namespace (only a loopback
 * that is down), where a connection attempt fails at once; and the Lambda assets the template
 * points at are, byte for byte, what `npm run bundle` wrote.
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT } from './helpers.js';

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The probe run first inside the namespace: exits 0 only if an outside address is unreachable. */
const PROBE = `const s = require('node:net').connect(443, '1.1.1.1');
s.on('connect', () => { console.error('network is reachable'); process.exit(1); });
s.on('error', (e) => { console.error('offline: ' + e.code); process.exit(0); });`;

test('npm run synth writes the template with the network unplugged, pointing at the bundles npm run bundle wrote', () => {
  const out = mkdtempSync(join(tmpdir(), 'fleet-synth-'));
  try {
    // As root (CI), a plain network namespace; otherwise a user namespace maps us to root in it.
    const unshare = process.getuid?.() === 0 ? ['--net'] : ['--user', '--map-root-user', '--net'];
    const script = `"${process.execPath}" -e "$PROBE" && npm run --silent synth`;
    const r = spawnSync('unshare', [...unshare, 'sh', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, PROBE, CDK_OUTDIR: out, FLEET_CONFIG: join(ROOT, 'fleet.yaml'), npm_config_offline: 'true' },
      encoding: 'utf8',
    });
    assert.equal(r.error, undefined, `unshare: ${String(r.error)}`);
    assert.equal(r.status, 0, `npm run synth failed offline:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /offline: E(NETUNREACH|CONNREFUSED|HOSTUNREACH)/, 'the namespace has no route out');
    assert.match(r.stderr, /synthesized fleet-demo from .*fleet\.yaml/);

    const template = JSON.parse(readFileSync(join(out, 'fleet-demo.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const manifest = JSON.parse(readFileSync(join(out, 'fleet-demo.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string; packaging: string } }> };
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    assert.equal(fns.length, 2);
    const seen: string[] = [];
    for (const fn of fns) {
      const part = /interruption/.test(fn.Properties['Description']) ? 'interruption' : 'chaos';
      const key = String(fn.Properties['Code'].S3Key);
      const hash = key.replace(/\.zip$/, '');
      const asset = manifest.files[hash];
      assert.ok(asset, `${part}: asset ${hash} is in the manifest`);
      assert.equal(asset.source.packaging, 'zip');
      const staged = join(out, asset.source.path);
      const bundle = join(ROOT, 'dist', 'bundle', part);
      assert.deepEqual(readdirSync(staged).sort(), readdirSync(bundle).sort(), `${part}: the asset holds the bundle's files`);
      for (const f of readdirSync(bundle)) assert.equal(sha256(join(staged, f)), sha256(join(bundle, f)), `${part}: ${f} is the bundle's`);
      assert.ok(existsSync(join(staged, 'index.mjs')));
      seen.push(part);
    }
    assert.deepEqual(seen.sort(), ['chaos', 'interruption']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
