/**
 * `fleet` command line: parses argv with commander, wires deps, runs a command, maps errors to
 * exit codes (0 done, 1 operation failed, 2 bad input or usage). Never prints a stack for a
 * user's mistake.
 */
import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from '../config/index.js';
import { FleetError, InputError, ConfigError } from '../errors.js';
import type { FleetSpec } from '../model.js';
import { desiredNames } from '../naming.js';
import { isValidRole, roleProblem } from '../naming.js';
import { makeProgress, stopExitCode, type CliIo } from './io.js';
import { StopError } from '../errors.js';
import { configPath, makeDeps, resolvedRegion, type Deps, type GlobalOptions } from './wiring.js';
import { readInventory } from './commands/ls.js';
import { describeStep } from './commands/init.js';
import { executeInit, initRefusal, readInitPlan } from '../ops/init.js';
import { renderInventory } from './render.js';
import { runSim, type SimCliOptions } from './commands/sim.js';
import { applyCommand, killCommand, planCommand, upgradeCommand, type MutateOptions, type UpgradeOptions } from './commands/mutate.js';
import { controllerCommand, locksCommand, type ControllerOptions } from './commands/coord.js';
import { retireCommand, type RetireOptions } from './commands/retire.js';
import { DEFAULT_POLICY_DIR, policyPushCommand, type PolicyPushOptions } from './commands/policy.js';

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
  const spec = async (cmd: Command): Promise<FleetSpec> => loadConfig(configPath(globals(cmd), io));
  const wire = (cmd: Command, s: FleetSpec | undefined): Deps => {
    const d = makeDeps(globals(cmd), s, io);
    deps.push(d);
    return d;
  };
  const emitJson = (v: unknown) => io.stdout.write(JSON.stringify(v, null, 2) + '\n');
  /** The commands that stop safely on Ctrl-C / SIGTERM (the rest exit at the first signal). */
  const stopsSafely = (how = 'nothing new starts; what is in flight finishes or is rolled back') => io.stop?.handle(how);

  program
    .command('validate')
    .description('check fleet.yaml and report every problem at once, each with file:line:column')
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const names = desiredNames(s);
      if (g.json) emitJson({ ok: true, file: configPath(g, io), fleet: s.fleet, zone: s.dns.zone, roles: s.roles.map((r) => ({ role: r.name, count: r.count })), names: names.length });
      else io.stdout.write(`${configPath(g, io)}: ok — fleet ${s.fleet}, zone ${s.dns.zone}, ${s.roles.length} role${s.roles.length === 1 ? '' : 's'} (${s.roles.map((r) => `${r.name}×${r.count}`).join(', ')}), ${names.length} names\n`);
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
      const inv = await readInventory(s, wire(cmd, s), makeProgress(io, g.json), o.role);
      if (g.json) emitJson(inv);
      else io.stdout.write(renderInventory(inv));
    });

  program
    .command('init')
    .description('create the hosted zone and the journal bucket when missing; does nothing when they exist')
    .option('--dry-run', 'show what would be created, change nothing', false)
    .action(async (o: { dryRun: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      const d = wire(cmd, s);
      const plan = await readInitPlan(s, d, await resolvedRegion(d));
      const refused = initRefusal(plan);
      if (refused) throw refused;
      if (o.dryRun) {
        if (g.json) emitJson({ dryRun: true, ...plan });
        else io.stdout.write(plan.steps.map((st) => describeStep(st, true)).join('\n') + '\n');
        return;
      }
      stopsSafely();
      const done = await executeInit({ ...d, ...(io.stop ? { signal: io.stop.signal } : {}) }, plan, makeProgress(io, g.json));
      if (g.json) emitJson({ dryRun: false, ...done });
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
      await planCommand(s, wire(cmd, s), io, g.json, o);
    });

  mutating(
    program
      .command('apply')
      .description('converge: launch missing names, repair records pointing at dead instances, collect orphans, retire names no longer wanted'),
  ).action(async (o: MutateOptions, cmd: Command) => {
    stopsSafely();
    const g = globals(cmd);
    const s = await spec(cmd);
    exitCode = await applyCommand(s, wire(cmd, s), io, g.json, o);
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
    exitCode = await upgradeCommand(s, configPath(g, io), target, wire(cmd, s), io, g.json, o);
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
    exitCode = await killCommand(s, name, wire(cmd, s), io, g.json, o);
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
    exitCode = await retireCommand(s, name, wire(cmd, s), io, g.json, o);
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
      exitCode = await policyPushCommand(s, configPath(g, io), wire(cmd, s), io, g.json, o);
    });

  program
    .command('locks')
    .description('who holds which name, for how long, and who leads the controllers')
    .action(async (o: MutateOptions, cmd: Command) => {
      const g = globals(cmd);
      const s = await spec(cmd);
      exitCode = await locksCommand(s, wire(cmd, s), io, g.json, o);
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
      exitCode = await controllerCommand(s, wire(cmd, s), io, g.json, o);
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
