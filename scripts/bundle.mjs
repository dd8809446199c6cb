#!/usr/bin/env node
// TEMP(contract) minimal bundle script (the spot engineer writes the real one): the two Lambda
// entries as ESM bundles for nodejs22.x on arm64, at dist/bundle/<name>/index.mjs (+ .map).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = { interruption: 'src/interruption/lambda.ts', chaos: 'src/chaos/lambda.ts' };
for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [join(root, entry)],
    outfile: join(root, 'dist', 'bundle', name, 'index.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
    // A reproducible bundle: the same sources give the same bytes (and the same asset hash).
    legalComments: 'none',
    banner: { js: "import { createRequire as __fleetCreateRequire } from 'node:module'; const require = __fleetCreateRequire(import.meta.url);" },
  });
}
