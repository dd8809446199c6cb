/**
 * The CDK app's entry (an edge: the only file here that reads env and context). Synthesizes
 * the fleet's stack offline: `npm run synth` at the repository root runs it, and so does
 * `npx aws-cdk deploy` from infra/app (cdk.json). The fleet.yaml is context `fleetConfig`, else
 * env FLEET_CONFIG, else the repository's fleet.yaml. Bad input: one message, exit 2.
 */
import { App } from 'aws-cdk-lib';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig } from '../../../src/config/index.js';
import { FleetError } from '../../../src/errors.js';
import { buildFleetApp, bundleDirs, repoRoot, type AppOptions } from '../lib/app.js';

async function main(): Promise<void> {
  const app = new App();
  const ctx = (key: string): string | undefined => {
    const v: unknown = app.node.tryGetContext(key);
    return v === undefined || v === null ? undefined : String(v);
  };
  const config = ctx('fleetConfig') ?? process.env['FLEET_CONFIG'] ?? join(repoRoot(), 'fleet.yaml');
  const bundles = bundleDirs();
  for (const dir of Object.values(bundles)) {
    if (!existsSync(join(dir, 'index.mjs'))) throw new FleetError(`${dir}/index.mjs is missing: run \`npm run bundle\` (npm run synth does) first`, { exitCode: 2 });
  }
  const spec = await loadConfig(config);
  const opts: AppOptions = {};
  for (const key of ['hostedZoneId', 'lambdaSubnets', 'lambdaSecurityGroups', 'journalBucket', 'chaosTimezone'] as const) {
    const v = ctx(key);
    if (v !== undefined) opts[key] = v;
  }
  const stack = buildFleetApp(app, spec, opts, bundles);
  const assembly = app.synth();
  const problems = assembly.getStackArtifact(stack.artifactId).messages.filter((m) => m.level === 'error');
  if (problems.length > 0) {
    for (const m of problems) process.stderr.write(`${m.id}: ${String(m.entry.data)}\n`);
    process.exit(1);
  }
  process.stderr.write(`synthesized ${stack.stackName} from ${config} into ${join(assembly.directory, stack.templateFile)}\n`);
}

main().catch((err: unknown) => {
  if (err instanceof FleetError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
});
