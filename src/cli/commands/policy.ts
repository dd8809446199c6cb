/**
 * `fleet policy push`: upload the CFEngine masterfiles (infra/cfengine) to the `policy:`
 * location of fleet.yaml, which the hub syncs into its masterfiles directory at bootstrap.
 * Parsing, confirming and rendering only: the diff is plan/policy.ts, reading the directory and
 * writing the objects ops/policy.ts; the object store comes from wiring.
 */
import { isAbsolute, resolve } from 'node:path';

import type { FleetSpec } from '../../model.js';
import { executePolicyPush, readPolicyPlan } from '../../ops/policy.js';
import { policyCounts, policyTarget, type PolicyChange, type PolicyPlan } from '../../plan/policy.js';
import type { CliIo } from '../io.js';
import type { Deps } from '../wiring.js';
import { mayProceed } from './mutate.js';

export interface PolicyPushOptions {
  dir?: string;
  dryRun?: boolean;
  yes?: boolean;
}

export const DEFAULT_POLICY_DIR = 'infra/cfengine';

export type { PolicyChange };

/** What --json prints: the plan (--dry-run, or nothing to do) or what was pushed. */
export interface PolicyPushResult {
  location: string;
  dir: string;
  dryRun: boolean;
  changes: PolicyChange[];
  unchanged: number;
}

function describe(c: PolicyChange, dryRun: boolean): string {
  const verb = { add: dryRun ? 'would add' : 'added', update: dryRun ? 'would update' : 'updated', delete: dryRun ? 'would delete' : 'deleted' }[c.op];
  return `${verb} ${c.key}`;
}

export async function policyPushCommand(spec: FleetSpec, configFile: string, deps: Deps, io: CliIo, json: boolean, o: PolicyPushOptions): Promise<number> {
  const target = policyTarget(spec, configFile);
  const given = o.dir ?? DEFAULT_POLICY_DIR;
  const dir = isAbsolute(given) ? given : resolve(io.cwd, given);
  const plan: PolicyPlan = await readPolicyPlan(deps, target, dir, `--dir ${given}`);
  const { changes, unchanged, location } = plan;
  const result = (dryRun: boolean): PolicyPushResult => ({ location, dir, dryRun, changes, unchanged });
  const n = policyCounts(plan);
  const summary = `${n.add} to add, ${n.update} to update, ${n.delete} to delete, ${unchanged} unchanged`;

  if (changes.length === 0) {
    if (json) io.stdout.write(JSON.stringify(result(Boolean(o.dryRun)), null, 2) + '\n');
    else io.stdout.write(`${location} is up to date with ${dir} (${unchanged} file${unchanged === 1 ? '' : 's'}): nothing to push\n`);
    return 0;
  }
  if (o.dryRun) {
    if (json) io.stdout.write(JSON.stringify(result(true), null, 2) + '\n');
    else {
      io.stdout.write(`policy push ${dir} -> ${location} (dry run: nothing changed): ${summary}\n`);
      for (const c of changes) io.stdout.write(`  ${describe(c, true)}\n`);
    }
    return 0;
  }
  if (!json) {
    io.stdout.write(`policy push ${dir} -> ${location}: ${summary}\n`);
    for (const c of changes) io.stdout.write(`  ${describe(c, true)}\n`);
  }
  await mayProceed(io, o, `push ${changes.length} change${changes.length === 1 ? '' : 's'} to ${location}`);
  // Ctrl-C / SIGTERM: no new write starts after it; what was written is reported as done.
  const done = await executePolicyPush({ ...deps, ...(io.stop ? { signal: io.stop.signal } : {}) }, plan, (c) => {
    if (!json) io.stdout.write(`${describe(c, false)}\n`);
  });
  if (json) io.stdout.write(JSON.stringify({ ...result(false), changes: done.changes }, null, 2) + '\n');
  else io.stdout.write(`pushed ${dir} to ${location}: ${n.add} added, ${n.update} updated, ${n.delete} deleted, ${unchanged} unchanged\n`);
  return 0;
}
