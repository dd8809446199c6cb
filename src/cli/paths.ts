/**
 * What every command needs before it knows whether it will talk to AWS: the global options and
 * the config file's path. Kept apart from wiring.ts (which imports the AWS SDK) so that
 * `fleet validate` and `fleet --help` load no SDK.
 */
import { isAbsolute, resolve } from 'node:path';
import type { CliIo } from './io.js';

export interface GlobalOptions {
  config: string;
  json: boolean;
  endpoint?: string;
  region?: string;
}

/** Default masterfiles directory of `fleet policy push --dir`. */
export const DEFAULT_POLICY_DIR = 'infra/cfengine';

export function configPath(opts: GlobalOptions, io: CliIo): string {
  return isAbsolute(opts.config) ? opts.config : resolve(io.cwd, opts.config);
}

/** How long the spot handler waits for a name someone else is working on (an operator's upgrade). */
export const HANDLER_LOCK_WAIT = '10m';
