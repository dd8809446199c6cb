/**
 * Builds the CDK app for one fleet.yaml: the stack, checked by cdk-nag's AwsSolutions pack.
 * Shared by the entry (bin/app.ts) and the tests, so both check the same thing.
 */
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { InputError } from '../../../src/errors.js';
import type { FleetSpec } from '../../../src/model.js';
import { subnetIdProblem, securityGroupIdProblem } from '../../../src/config/validators.js';
import { timezoneProblem } from '../../../src/config/eventbridge-cron.js';
import { FleetStack, type FleetStackProps } from './stack.js';

/** The repository root, from this file's place in infra/app/dist/infra/app/lib or infra/app/lib. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (dir.endsWith(join('infra', 'app', 'dist'))) return join(dir, '..', '..', '..');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Where `npm run bundle` writes the two Lambda bundles. */
export function bundleDirs(root = repoRoot()): FleetStackProps['bundles'] {
  return { interruption: join(root, 'dist', 'bundle', 'interruption'), chaos: join(root, 'dist', 'bundle', 'chaos') };
}

/** Options from cdk context (`-c key=value`), already strings. */
export interface AppOptions {
  hostedZoneId?: string;
  lambdaSubnets?: string;
  lambdaSecurityGroups?: string;
  journalBucket?: string;
  chaosTimezone?: string;
}

function list(what: string, text: string, problem: (s: string) => string | undefined): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InputError(`context ${what}: expected a comma-separated list, got ${JSON.stringify(text)}`);
  for (const i of items) {
    const p = problem(i);
    if (p) throw new InputError(`context ${what}: ${p}`);
  }
  return items;
}

/** Check the context options and turn them into stack props. Bad input is an InputError naming the option. */
export function stackProps(spec: FleetSpec, opts: AppOptions, bundles = bundleDirs()): FleetStackProps {
  const props: FleetStackProps = { spec, bundles, description: `fleet ${spec.fleet}: spot-interruption handler, nightly chaos, journal, alarms` };
  if (opts.hostedZoneId !== undefined) {
    if (!/^Z[A-Z0-9]{1,32}$/.test(opts.hostedZoneId)) throw new InputError(`context hostedZoneId: ${JSON.stringify(opts.hostedZoneId)} is not a hosted zone id such as Z0123456789ABCDEFGHIJ`);
    props.hostedZoneId = opts.hostedZoneId;
  }
  if ((opts.lambdaSubnets === undefined) !== (opts.lambdaSecurityGroups === undefined)) {
    throw new InputError('context lambdaSubnets and lambdaSecurityGroups go together: give both or neither');
  }
  if (opts.lambdaSubnets !== undefined && opts.lambdaSecurityGroups !== undefined) {
    props.lambdaVpc = { subnets: list('lambdaSubnets', opts.lambdaSubnets, subnetIdProblem), securityGroups: list('lambdaSecurityGroups', opts.lambdaSecurityGroups, securityGroupIdProblem) };
  }
  if (opts.journalBucket !== undefined) {
    if (opts.journalBucket !== 'create' && opts.journalBucket !== 'existing') throw new InputError(`context journalBucket: expected create or existing, got ${JSON.stringify(opts.journalBucket)}`);
    props.journalBucket = opts.journalBucket;
  }
  if (opts.chaosTimezone !== undefined) {
    // fleet.yaml's chaos.schedule and chaos.timezone are checked when it loads (with their
    // line); this override comes from the CDK context, so only the app can check it.
    const p = timezoneProblem(opts.chaosTimezone);
    if (p) throw new InputError(`context chaosTimezone: ${p}`);
    props.chaosTimezone = opts.chaosTimezone;
  }
  return props;
}

/**
 * CDK feature flags the stack relies on: server access logs are delivered under a bucket
 * policy (no ACLs: both buckets enforce bucket-owner object ownership).
 */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

export function buildFleetApp(app: App, spec: FleetSpec, opts: AppOptions = {}, bundles = bundleDirs()): FleetStack {
  for (const [k, v] of Object.entries(FEATURE_FLAGS)) app.node.setContext(k, v);
  const stack = new FleetStack(app, `fleet-${spec.fleet}`, stackProps(spec, opts, bundles));
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return stack;
}
