/**
 * `fleet` command line: parses argv with commander, wires deps, runs a command, maps errors to
 * exit codes (0 done, 1 operation failed, 2 bad input or usage). Never prints a stack for a
 * user's mistake.
 */
import { Command, CommanderError, Option } from 'commander';
import { FleetError, InputError, ConfigError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import { desiredNames } from '../naming.js';
import { isValidRole, roleProblem } from '../naming.js';
import { makeProgress, stopExitCode, type CliIo } from './io.js';
import { StopError } from '../errors.js';
import { writeJson, writePieces } from './json-out.js';
import { configPath, DEFAULT_POLICY_DIR, HANDLER_LOCK_WAIT, type GlobalOptions } from './paths.js';
import type { Deps } from './wiring.js';
import type { SimCliOptions } from './commands/sim.js';
import type { MutateOptions, UpgradeOptions } from './commands/mutate.js';
import type { ControllerOptions } from './commands/coord.js';
import type { RetireOptions } from './commands/retire.js';
import type { PolicyPushOptions } from './commands/policy.js';
import type { HandleEventOptions } from './commands/handle-event.js';
import type { ChaosOptions, HistoryOptions } from './commands/chaos.js';
import type { RehearseOptions } from './commands/rehearse.js';

/**
 * Each command's module (and through it the AWS SDK, the local cloud, p-queue, the ZooKeeper
 * client) is imported inside its action, never here: `fleet --help`, `fleet validate` and
 * `fleet plan --help` load commander, the config parser and nothing that talks to AWS. A
 * static import of a command module here would cost every invocation its module loading
 * (test/cli/startup.test.ts checks what is loaded; `npm run bench` reports the CPU ratio).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const deps: Deps[] = [];
  const program = new Command();
  program
    .name('fleet')
    .description('Orchestrate a stateless fleet on AWS: DNS is the inventory, fleet.yaml the desired fleet.')
    .option('-c, --config <file>', 'the fleet description', './fleet.yaml')
    .option('--json', 'machine-readable output on stdout (no progress)', false)
    .option('--endpoint <url>', 'AWS endpoint override, e.g. a local cloud (default: AWS_ENDPOINT_URL)')
    .option('--region <region>', 'AWS region (default: fleet.yaml, then AWS_REGION / profile)')
    .showHelpAfterError('(run `fleet --help` for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  // Global flags are input like any other: checked before any command runs (exit 2).
  // (Imported here, not at the top: the checks bring the config parser, which `--help` never needs.)
  program.hook('preAction', async (_program, action) => {
    const { checkEndpoint, checkRegion } = await import('./flags.js');
    const g = globals(action);
    if (g.region !== undefined) checkRegion('--region', g.region);
    checkEndpoint(g.endpoint, io.env['AWS_ENDPOINT_URL']);
  });
  const spec = async (cmd: Command): Promise<FleetSpec> => {
    const { loadConfig } = await import('../config/index.js');
    return loadConfig(configPath(globals(cmd), io));
  };
  const wire = async (cmd: Command, s: FleetSpec | undefined): Promise<Deps> => {
    const { makeDeps } = await import('./wiring.js');
    const d = makeDeps(globals(cmd), s, io);
    deps.push(d);
    return d;
  };
  // In pieces, never one string: an inventory of 100,000 names is ~100 MB of JSON.
  const emitJson = (v: unknown): Promise<void> => writeJson(io.stdout, v);
  /** The commands that stop safely on Ctrl-C / SIGTERM (the rest exit at the first signal). */
  const stopsSafely = (how = 'nothing new starts; what is in flight finishes or is rolled back') => io.stop?.handle(how);

  program
    .command('validate')
    .description('check fleet.yaml and report every problem at once, each with file:line:column')
    .option('--online', 'also check against the account (read-only): types offered in the subnets\' AZs, image and architecture, subnets and security groups in one VPC', false)
    .action(async (o: { online: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const names = desiredNames(s);
      const online = o.online ? await (await import('../ops/preflight.js')).preflight(await wire(cmd, s), s) : undefined;
      if (g.json) await emitJson({ ok: true, file: configPath(g, io), fleet: s.fleet, zone: s.dns.zone, roles: s.roles.map((r) => ({ role: r.name, count: r.count })), names: names.length, ...(online ? { online } : {}) });
      else {
        io.stdout.write(`${configPath(g, io)}: ok — fleet ${s.fleet}, zone ${s.dns.zone}, ${s.roles.length} role${s.roles.length === 1 ? '' : 's'} (${s.roles.map((r) => `${r.name}×${r.count}`).join(', ')}), ${names.length} names\n`);
        if (online) io.stdout.write(`account${online.region ? ` (${online.region})` : ''}: ok — ${online.types.length} instance type${online.types.length === 1 ? '' : 's'} offered in ${online.zones.join(', ')}; image${online.images.length === 1 ? '' : 's'} ${online.images.map((i) => `${i.id} (${i.architecture})`).join(', ')}; ${online.subnets} subnet${online.subnets === 1 ? '' : 's'} and ${online.securityGroups} security group${online.securityGroups === 1 ? '' : 's'}${online.vpc ? ` in ${online.vpc}` : ''}\n`);
      }
    });

  program
    .command('ls')
    .description('the inventory: every name in the zone, the instance serving it, and what is wrong')
    .option('--role <role>', 'only this role')
    .action(async (o: { role?: string }, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      if (o.role !== undefined) {
        if (!isValidRole(o.role)) throw new InputError(`--role ${JSON.stringify(o.role)}: ${roleProblem(o.role)}`);
        if (!s.roles.some((r) => r.name === o.role)) throw new InputError(`--role ${o.role}: no such role in ${configPath(g, io)} (roles: ${s.roles.map((r) => r.name).join(', ')})`);
      }
      const [{ readInventory }, { inventoryPieces }] = await Promise.all([import('./commands/ls.js'), import('./render.js')]);
      const inv = await readInventory(s, await wire(cmd, s), makeProgress(io, g.json), o.role);
      if (g.json) await emitJson(inv);
      else await writePieces(io.stdout, inventoryPieces(inv));
    });

  program
    .command('init')
    .description('create the hosted zone and the journal bucket when missing; does nothing when they exist')
    .option('--dry-run', 'show what would be created, change nothing', false)
    .action(async (o: { dryRun: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const d = await wire(cmd, s);
      const [{ executeInit, initRefusal, readInitPlan }, { describeStep }, { resolvedRegion }] = await Promise.all([import('../ops/init.js'), import('./commands/init.js'), import('./wiring.js')]);
      const plan = await readInitPlan(s, d, await resolvedRegion(d));
      const refused = initRefusal(plan);
      if (refused) throw refused;
      if (o.dryRun) {
        if (g.json) await emitJson({ dryRun: true, ...plan });
        else io.stdout.write(plan.steps.map((st) => describeStep(st, true)).join('\n') + '\n');
        return;
      }
      stopsSafely();
      const done = await executeInit({ ...d, ...(io.stop ? { signal: io.stop.signal } : {}) }, plan, makeProgress(io, g.json));
      if (g.json) await emitJson({ dryRun: false, ...done });
      else io.stdout.write(done.steps.map((st) => describeStep(st, false)).join('\n') + '\n');
    });

  const mutating = (c: Command): Command =>
    c
      .option('--dry-run', 'show the plan, change nothing', false)
      .option('-y, --yes', 'proceed without asking (required without a terminal)', false)
      .option('--verbose', 'log every step', false)
      .addOption(new Option('--time-scale <n>', 'for a local cloud run with --speed N: every wait, timeout and rate runs N times faster'))
      .addOption(new Option('--poll-ms <ms>', 'poll interval while waiting on AWS (default 5000)'))
      .option('--wait <duration>', 'wait this long for a name someone else is working on (e.g. 30s, 5m); default: fail at once');

  program
    .command('plan')
    .description('show what `fleet apply` would do to converge the cloud to fleet.yaml')
    .addOption(new Option('--time-scale <n>', 'for a local cloud run with --speed N: judge ages on its clock'))
    .action(async (o: MutateOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const { planCommand } = await import('./commands/mutate.js');
      await planCommand(s, await wire(cmd, s), io, g.json, o);
    });

  mutating(
    program
      .command('apply')
      .description('converge: launch missing names, repair records pointing at dead instances, collect orphans, retire names no longer wanted'),
  ).action(async (o: MutateOptions, cmd: Command) => {
    stopsSafely();
    const g = globals(cmd);
    const s = await spec(cmd);
    const { applyCommand } = await import('./commands/mutate.js');
    exitCode = await applyCommand(s, await wire(cmd, s), io, g.json, o);
  });

  mutating(
    program
      .command('upgrade')
      .description('replace a name (or every name of a role) by a new instance of another type, market or image, without leaving it unserved')
      .argument('<target>', 'a name (web-03) or a role (web)')
      .option('--type <type>', 'instance type, one the role allows')
      .option('--market <market>', 'spot or on-demand')
      .option('--image <ami>', 'an AMI id')
      .option('--max-surge <n>', 'names replaced at once, each launched before its old instance goes', '1')
      .option('--max-unavailable <n>', 'with --max-surge 0: names replaced at once kill-first (unserved meanwhile)', '1'),
  ).action(async (target: string, o: UpgradeOptions, cmd: Command) => {
    stopsSafely();
    const g = globals(cmd);
    const s = await spec(cmd);
    const { upgradeCommand } = await import('./commands/mutate.js');
    exitCode = await upgradeCommand(s, configPath(g, io), target, await wire(cmd, s), io, g.json, o);
  });

  mutating(
    program
      .command('kill')
      .description('terminate the instance serving a name; the next apply rebuilds it')
      .argument('<name>', 'a name such as web-03'),
  ).action(async (name: string, o: MutateOptions, cmd: Command) => {
    stopsSafely();
    const g = globals(cmd);
    const s = await spec(cmd);
    const { killCommand } = await import('./commands/mutate.js');
    exitCode = await killCommand(s, name, await wire(cmd, s), io, g.json, o);
  });

  mutating(
    program
      .command('retire')
      .description('retire a name: delete its record, then terminate its instance; its state.s3 prefix and its volume are kept unless --delete-state')
      .argument('<name>', 'a name such as web-03')
      .option('--delete-state', "also delete the objects of the name's state.s3 prefix (after its instance is gone)", false),
  ).action(async (name: string, o: RetireOptions, cmd: Command) => {
    stopsSafely();
    const g = globals(cmd);
    const s = await spec(cmd);
    const { retireCommand } = await import('./commands/retire.js');
    exitCode = await retireCommand(s, name, await wire(cmd, s), io, g.json, o);
  });

  program
    .command('handle-event')
    .description('run the spot-interruption handler on an EventBridge event (a JSON object, or an array of them) from FILE or standard input')
    .argument('[file]', 'the event as JSON; standard input without it')
    .option('--dry-run', 'classify and show what would be done, change nothing', false)
    .option('--listen <port>', 'serve: handle every event POSTed to 127.0.0.1:PORT (fleet sim --event-sink), until Ctrl-C')
    .option('--verbose', 'log every step', false)
    .addOption(new Option('--time-scale <n>', 'for a local cloud run with --speed N: every wait, timeout and rate runs N times faster'))
    .addOption(new Option('--poll-ms <ms>', 'poll interval while waiting on AWS (default 5000)'))
    .option('--wait <duration>', `wait this long for a name someone else is working on (default ${HANDLER_LOCK_WAIT})`)
    .action(async (file: string | undefined, o: HandleEventOptions, cmd: Command) => {
      stopsSafely();
      const g = globals(cmd);
      const s = await spec(cmd);
      const { handleEventCommand } = await import('./commands/handle-event.js');
      exitCode = await handleEventCommand(s, file, await wire(cmd, s), io, g.json, o);
    });

  program
    .command('pools')
    .description('pool memory: the (instance type, AZ) pools every launch avoids after a spot interruption, and roles running on-demand, until when')
    .addOption(new Option('--time-scale <n>', 'for a local cloud run with --speed N: judge ages on its clock'))
    .action(async (o: MutateOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const { poolsCommand } = await import('./commands/handle-event.js');
      exitCode = await poolsCommand(s, await wire(cmd, s), io, g.json, o);
    });

  const policy = program.command('policy').description("the CFEngine masterfiles at fleet.yaml's policy: location (the hub fetches them at bootstrap)");
  policy
    .command('push')
    .description('upload the masterfiles directory to the policy: location: changed files only; objects whose file is gone are deleted')
    .option('--dir <dir>', 'the masterfiles directory', DEFAULT_POLICY_DIR)
    .option('--dry-run', 'show what would change, change nothing', false)
    .option('-y, --yes', 'proceed without asking (required without a terminal)', false)
    .action(async (o: PolicyPushOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      stopsSafely();
      const { policyPushCommand } = await import('./commands/policy.js');
      exitCode = await policyPushCommand(s, configPath(g, io), await wire(cmd, s), io, g.json, o);
    });

  program
    .command('locks')
    .description('who holds which name, for how long, and who leads the controllers')
    .action(async (o: MutateOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const { locksCommand } = await import('./commands/coord.js');
      exitCode = await locksCommand(s, await wire(cmd, s), io, g.json, o);
    });

  program
    .command('controller')
    .description('run the reconcile loop continuously; replicas elect a leader and only the leader acts')
    .option('--once', 'one reconcile pass as leader, then exit', false)
    .addOption(new Option('--time-scale <n>', 'for a local cloud run with --speed N'))
    .addOption(new Option('--poll-ms <ms>', 'poll interval while waiting on AWS (default 5000)'))
    .option('--wait <duration>', 'wait this long for a name someone else is working on; default: skip it this round')
    .action(async (o: ControllerOptions, cmd: Command) => {
      stopsSafely('');
      const g = globals(cmd);
      const s = await spec(cmd);
      const { controllerCommand } = await import('./commands/coord.js');
      exitCode = await controllerCommand(s, await wire(cmd, s), io, g.json, o);
    });

  // ---- chaos (issue 10)
  const chaos = program
    .command('chaos')
    .description('the chaos monkey: kill at random within fleet.yaml\'s chaos policy, then prove every name rebuilt itself (leashed by default: prints, changes nothing)')
    .option('--seed <n>', 'the seed of the night (printed and journaled; replays a night exactly); default random')
    .option('--unleash', 'really kill (needs --yes without a terminal)', false)
    .option('-y, --yes', 'proceed without asking (required with --unleash without a terminal)', false)
    .option('--nightly', "as the nightly job: unleashed only when fleet.yaml says chaos.leashed: false; never asks", false)
    .option('--wait-for-controller', 'let the controller leader rebuild the names killed, instead of reconciling them itself', false)
    .option('--verbose', 'log every step', false)
    .addOption(new Option('--time-scale <n>', 'for a local cloud run with --speed N: every wait, timeout and rate runs N times faster'))
    .addOption(new Option('--poll-ms <ms>', 'poll interval while waiting on AWS (default 5000)'))
    .option('--wait <duration>', 'wait this long for a name someone else is working on, then re-check it (default 10m)')
    .action(async (o: ChaosOptions, cmd: Command) => {
      // Ctrl-C: no new kill starts; a kill in flight finishes; the healing wait ends and says so.
      stopsSafely('no new kill starts; the names killed are measured as they are');
      const g = globals(cmd);
      const s = await spec(cmd);
      const { chaosCommand } = await import('./commands/chaos.js');
      exitCode = await chaosCommand(s, await wire(cmd, s), io, g.json, o);
    });
  chaos
    .command('history')
    .description('the chaos kills in the journal, with their outcome (rebuilt in how long)')
    .option('--since <when>', 'a date YYYY-MM-DD or a duration such as 7d (default 30d)')
    .action(async (o: HistoryOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const { chaosHistoryCommand } = await import('./commands/chaos.js');
      exitCode = await chaosHistoryCommand(s, await wire(cmd, s), io, g.json, o);
    });
  chaos
    .command('rehearse')
    .description('a month of chaos nights against an in-process local cloud with its clock accelerated; per role: kills, time-to-rebuilt p50/p95/max, unserved minutes, refused nights')
    .option('--nights <n>', 'how many nights', '30')
    .option('--seed <n>', 'the seed of the rehearsal (each night gets its own from it)', '1')
    .option('--report <file.html>', 'write a self-contained HTML report (inline SVG, no network)')
    .option('--speed <x>', 'the local cloud clock runs this many times faster than real time (higher is quicker but adds request latency, scaled, to every measured time)', '200')
    .action(async (o: RehearseOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      // Commander gives `--seed` to the parent `chaos` (global options must work after subcommands).
      const parentSeed = (cmd.parent?.opts() as ChaosOptions | undefined)?.seed;
      const { rehearseCommand } = await import('./commands/rehearse.js');
      exitCode = await rehearseCommand(s, io, g.json, parentSeed !== undefined ? { ...o, seed: parentSeed } : o);
    });

  program
    .command('sim')
    .description('serve the local cloud (EC2, Route 53, S3, EBS) on 127.0.0.1 until interrupted')
    .addOption(new Option('--port <n>', 'TCP port (0 picks a free one)').default('4566'))
    .option('--speed <x>', 'simulated time runs this many times faster than real time', '1')
    .option('--throttling', 'AWS-like request throttling on from the start', false)
    .option('--boot-ms <ms>', 'simulated ms from pending to running')
    .option('--converge-ms <ms>', 'simulated ms from running to converged (fleet bootstraps)')
    .option('--dns-sync-ms <ms>', 'simulated ms from PENDING to INSYNC')
    .option('--event-sink <url>', 'POST EventBridge-shaped events (spot interruptions, state changes) to this URL')
    .action(async (o: SimCliOptions, cmd: Command) => {
      stopsSafely('');
      const { runSim } = await import('./commands/sim.js');
      await runSim(o, globals(cmd).json, io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    exitCode = report(err, io, program.opts()['json'] === true);
  } finally {
    for (const d of deps) {
      for (const close of d.cleanup) await close().catch(() => {});
      d.clients.destroy();
    }
  }
  // Stopped (Ctrl-C, SIGTERM): the command has listed what it did and what it left; say what
  // that means, and exit 128 + the signal (130, 143), whatever the command returned. `sim`
  // and `controller` stopping on a signal is their normal end.
  const stop = io.stop?.signal;
  if (stop?.aborted && stop.reason instanceof StopError && !['sim', 'controller'].includes(program.args[0] ?? '')) {
    io.stderr.write(`fleet: stopped by ${stop.reason.stop}: nothing was started after it; what is listed as done is done, the rest was left as it was (a launch not yet swapped was rolled back); \`fleet apply\` converges the rest\n`);
    return stopExitCode(stop.reason.stop);
  }
  return exitCode;
}

function report(err: unknown, io: CliIo, json: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version exit 0; every usage error is exit 2 (commander has already printed it).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
    return 2;
  }
  if (err instanceof FleetError) {
    if (json) io.stdout.write(JSON.stringify({ error: { type: err.name, message: err.message, ...(err instanceof ConfigError ? { problems: err.problems } : { data: err.data }) } }, null, 2) + '\n');
    io.stderr.write(`fleet: ${err.message}\n`);
    return err.exitCode;
  }
  // Not a user's mistake: a bug or an unexpected failure; the stack helps whoever fixes it.
  io.stderr.write(`fleet: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
