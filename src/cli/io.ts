/**
 * The CLI's view of the outside world, passed in so that tests run the CLI in-process with
 * their own streams and environment.
 */
import { createInterface } from 'node:readline/promises';
import type { Progress } from '../ports.js';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** stderr is a terminal (progress and prompts are shown only then). */
  isTTY: boolean;
  cwd: string;
  /** Resolves when the command should stop (long-running commands: `fleet sim`). */
  stopSignal?: Promise<void>;
  /** stdin is a terminal a person can answer on. */
  stdinIsTTY: boolean;
  /** Ask a question on the terminal and return the answer line. */
  ask(question: string): Promise<string>;
  /** All of standard input as text (`fleet handle-event` without FILE); absent: there is none. */
  readStdin?(): Promise<string>;
}

/** Ask for a yes; anything else is no. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const answer = (await io.ask(`${question} [y/N] `)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: Boolean(process.stderr.isTTY),
    cwd: process.cwd(),
    stopSignal: new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    }),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
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
