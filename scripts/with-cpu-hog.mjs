#!/usr/bin/env node
// Runs a command with every core kept busy beside it: one `node -e 'for(;;){}'` child per
// core (FLEET_HOGS overrides the count), killed when the command ends, whatever its result,
// and on SIGINT/SIGTERM. CI runs the suite this way once, so that a test that races real time
// or asserts on wall time fails in CI rather than on a colleague's busy machine.
//   node scripts/with-cpu-hog.mjs npm test
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const cmd = process.argv.slice(2);
if (cmd.length === 0) {
  console.error('usage: with-cpu-hog.mjs <command> [args...]');
  process.exit(2);
}
const n = process.env.FLEET_HOGS !== undefined ? Number(process.env.FLEET_HOGS) : availableParallelism();
if (!Number.isInteger(n) || n < 0 || n > 256) {
  console.error(`with-cpu-hog: FLEET_HOGS must be a whole number 0..256, got ${process.env.FLEET_HOGS}`);
  process.exit(2);
}

const hogs = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
const stopHogs = () => {
  for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
};
process.on('exit', stopHogs);
console.error(`with-cpu-hog: ${n} busy process${n === 1 ? '' : 'es'} (${hogs.map((h) => h.pid).join(', ')}) beside: ${cmd.join(' ')}`);

const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    child.kill(sig);
  });
}
child.on('error', (err) => {
  console.error(`with-cpu-hog: cannot run ${cmd[0]}: ${err.message}`);
  stopHogs();
  process.exit(127);
});
child.on('exit', (code, signal) => {
  stopHogs();
  process.exit(code ?? (signal === 'SIGTERM' ? 143 : signal === 'SIGINT' ? 130 : 1));
});
