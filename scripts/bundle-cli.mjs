#!/usr/bin/env node
// The `fleet` executable users run: src/cli/main.ts bundled by esbuild into dist/bin/ as ESM
// with code splitting, so that each command's lazily imported module (the SDK, the local
// cloud, ...) stays its own chunk and is loaded only by the commands that use it, minified
// (less source for V8 to compile at start-up) and with a source map. Measured in
// `npm run bench` (start-up CPU against `node -e 0`); what it loads is checked by
// test/cli/startup.test.ts, for this bundle (through dist/bin/meta.json) as for dist/src.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bin');
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { fleet: 'src/cli/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // The SDK's ES modules (dist-es), not its one-file CommonJS builds: esbuild then keeps only
  // the commands and schemas fleet uses (the whole EC2 client is ~130 MB of heap once loaded).
  mainFields: ['module', 'main'],
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  // CommonJS dependencies (yaml, commander, the ZooKeeper client) call require() for Node's
  // own modules; an ESM bundle has no require of its own.
  banner: { js: "import{createRequire as __fleetRequire}from'node:module';const require=__fleetRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});
// Which sources went into which chunk: lets test/cli/startup.test.ts name what a command loads.
writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
