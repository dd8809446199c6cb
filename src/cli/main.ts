#!/usr/bin/env node
import { processIo } from './io.js';
import { runCli } from './run.js';

// Node 20 is what the machines run, by decision; the SDK's notice that its 2027 releases
// need Node 22 is for whoever upgrades the lockfile, not for every command's stderr.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

process.exitCode = await runCli(process.argv.slice(2), processIo());
