/**
 * The CLI's view of the outside world, passed in so that tests run the CLI in-process with
 * their own streams and environment.
 */
import { createInterface } from 'node:readline/promises';
import { StopError } from '../errors.js';
import type { Progress } from '../ports.js';

/**
 * A stop asked from outside (Ctrl-C, SIGTERM). A command that stops safely (the mutating
 * ones, `sim`, `controller`) calls `handle()` before it starts; then the first signal aborts
 * `signal` (reason: a StopError naming the signal) and the command winds down, and a second
 * one exits at once. Any other command exits at the first signal: it has nothing to protect.
 */
export interface CliStop {
  readonly signal: AbortSignal;
  /** This command stops safely on `signal`; `how` (shown at the first signal) says what stopping does. */
  handle(how?: string): void;
}

/** The exit code of a stop: 128 + the signal's number (SIGINT 130, SIGTERM 143). */
export function stopExitCode(stop: string): number {
  return stop === 'SIGINT' ? 130 : stop === 'SIGTERM' ? 143 : 1;
}

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** stderr is a terminal (progress and prompts are shown only then). */
  isTTY: boolean;
  cwd: string;
  /** Resolves when the command should stop (long-running commands: `fleet sim`); settles with `stop`. */
  stopSignal?: Promise<void>;
  /** Ctrl-C / SIGTERM as an AbortSignal for the ops flows (see CliStop). */
  stop?: CliStop;
  /** stdin is a terminal a person can answer on. */
  stdinIsTTY: boolean;
  /** Ask a question on the terminal and return the answer line. */
  ask(question: string): Promise<string>;
}

/** Ask for a yes; anything else is no. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const answer = (await io.ask(`${question} [y/N] `)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}

/** The process's signals as a CliStop (see there); `exit` is process.exit (a parameter for tests). */
export function signalStop(emitter: Pick<NodeJS.Process, 'on'>, stderr: { write(s: string): unknown }, exit: (code: number) => void): CliStop {
  const ctl = new AbortController();
  let handled = false;
  let how = '';
  const on = (sig: 'SIGINT' | 'SIGTERM') => {
    if (!handled || ctl.signal.aborted) {
      if (handled) stderr.write(`fleet: ${sig} again: exiting now; what was in flight is left as it is (the next \`fleet apply\` repairs it)\n`);
      exit(stopExitCode(sig));
      return;
    }
    stderr.write(`fleet: ${sig}: stopping${how ? ` — ${how}` : ''} (${sig} again exits at once)\n`);
    ctl.abort(new StopError(sig));
  };
  emitter.on('SIGINT', () => on('SIGINT'));
  emitter.on('SIGTERM', () => on('SIGTERM'));
  return {
    signal: ctl.signal,
    handle(h) {
      handled = true;
      how = h ?? '';
    },
  };
}

export function processIo(): CliIo {
  const stop = signalStop(process, process.stderr, (code) => process.exit(code));
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: Boolean(process.stderr.isTTY),
    cwd: process.cwd(),
    stop,
    stopSignal: new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve();
      stop.signal.addEventListener('abort', () => resolve(), { once: true });
    }),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    async ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}

/** Progress shown on a terminal; silent in JSON mode, in CI, and when stderr is not a terminal. */
export function makeProgress(io: CliIo, json: boolean): Progress {
  const quiet = json || !io.isTTY || Boolean(io.env['CI']);
  if (quiet) return { update() {}, done() {} };
  let shown = false;
  let last = 0;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 80) return; // at most ~12 redraws a second
      last = now;
      io.stderr.write(`\r\x1b[K${text}`);
      shown = true;
    },
    done(text) {
      if (shown) io.stderr.write('\r\x1b[K');
      if (text) io.stderr.write(`${text}\n`);
      shown = false;
    },
  };
}
