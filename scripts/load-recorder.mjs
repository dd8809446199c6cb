// Loaded with `node --import ./scripts/load-recorder.mjs`: records the URL of every module the
// process resolves through the ESM loader, one a line, in the file named by FLEET_LOAD_LOG.
// Evidence of WHAT a command loads (test/cli/startup.test.ts, the startup bench), never of how
// long it took. Registers itself as a module customization hook; the hook runs on the loader's
// own thread and appends synchronously, so nothing is lost when the process exits.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const log = process.env.FLEET_LOAD_LOG;

if (isMainThread && log) register(import.meta.url);

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (log) appendFileSync(log, `${r.url}\n`);
  return r;
}
