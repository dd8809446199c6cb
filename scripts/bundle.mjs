#!/usr/bin/env node
/**
 * `npm run bundle`: the Lambda artifacts, one ESM file plus its source map per entry, built by
 * esbuild from the TypeScript sources (no tsc step needed):
 *
 *   dist/bundle/interruption/index.mjs (+ .map)   export handler   from src/interruption/lambda.ts
 *   dist/bundle/chaos/index.mjs        (+ .map)   export handler   from src/chaos/lambda.ts
 *
 * Platform node, target node22 (the nodejs22.x runtime), tree-shaken and minified; the AWS SDK
 * is bundled from its ESM build (mainFields module, main), not taken from the runtime's copy.
 * CommonJS dependencies (node-zookeeper-client) get a real `require` through createRequire.
 *
 * Every entry is built; a missing entry source fails the build (exit 1) naming it. Tests and
 * benchmarks build one entry with `--only <entry>` and may write elsewhere with `--outdir <dir>`.
 * Prints one JSON line per entry: {entry, file, bytes, mapBytes}.
 */
import { build } from 'esbuild';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The SDK's schema modules (one per client, thousands of shapes) key their member traits with
 * computed properties (`{ [_xN]: "Min" }`, `_xN` a string constant of the same module). esbuild
 * cannot prove a computed key free of side effects, so it keeps every shape of the client: half
 * a megabyte for EC2 alone. Rewriting each such key to the literal it names (the constants are
 * plain `const _x = "..."` lines) changes nothing at run time and lets tree-shaking drop the
 * shapes no command we use refers to.
 */
const literalSchemaKeys = {
  name: 'sdk-schema-literal-keys',
  setup(b) {
    b.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      const consts = new Map();
      for (const m of text.matchAll(/^const (_[A-Za-z0-9_]+) = ("(?:[^"\\]|\\.)*");$/gm)) consts.set(m[1], m[2]);
      text = text.replace(/\[(_[A-Za-z0-9_]+)\]:/g, (all, id) => (consts.has(id) ? `${consts.get(id)}:` : all));
      return { contents: text, loader: 'js' };
    });
  },
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const ENTRIES = {
  interruption: 'src/interruption/lambda.ts',
  chaos: 'src/chaos/lambda.ts',
};

function usage(msg) {
  process.stderr.write(`bundle: ${msg}\nusage: node scripts/bundle.mjs [--only ${Object.keys(ENTRIES).join('|')}]... [--outdir DIR]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const only = [];
let outdir = join(root, 'dist', 'bundle');
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--only') {
    const v = args[++i];
    if (!v) usage('--only needs an entry name');
    for (const e of v.split(',')) {
      if (!(e in ENTRIES)) usage(`unknown entry ${JSON.stringify(e)}; entries: ${Object.keys(ENTRIES).join(', ')}`);
      only.push(e);
    }
  } else if (a === '--outdir') {
    const v = args[++i];
    if (!v) usage('--outdir needs a directory');
    outdir = resolve(v);
  } else usage(`unknown argument ${JSON.stringify(a)}`);
}
const names = only.length > 0 ? [...new Set(only)] : Object.keys(ENTRIES);

const missing = names.filter((n) => !existsSync(join(root, ENTRIES[n])));
if (missing.length > 0) {
  process.stderr.write(`bundle: missing entry source${missing.length === 1 ? '' : 's'}: ${missing.map((n) => `${ENTRIES[n]} (${n})`).join(', ')}; nothing built\n`);
  process.exit(1);
}

for (const name of names) {
  const outfile = join(outdir, name, 'index.mjs');
  await build({
    absWorkingDir: root,
    entryPoints: [join(root, ENTRIES[name])],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    treeShaking: true,
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [literalSchemaKeys],
    banner: { js: "import{createRequire as __fleetRequire}from'node:module';const require=__fleetRequire(import.meta.url);" },
  });
  process.stdout.write(JSON.stringify({ entry: name, file: relative(root, outfile), bytes: statSync(outfile).size, mapBytes: statSync(`${outfile}.map`).size }) + '\n');
}
