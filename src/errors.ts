/**
 * Errors are few and named; they lead with context, carry data and keep `cause`.
 * The CLI maps them to exit codes: 0 done, 1 operation failed (rolled back), 2 bad input.
 */

export class FleetError extends Error {
  /** Exit code the CLI uses for this error. */
  readonly exitCode: 1 | 2;
  readonly data: Record<string, unknown>;
  constructor(message: string, opts: { exitCode?: 1 | 2; cause?: unknown; data?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? 1;
    this.data = opts.data ?? {};
  }
}

/** The user's input is wrong (usage, name, fleet.yaml): exit 2, no stack, nothing changed. */
export class InputError extends FleetError {
  constructor(message: string, opts: { cause?: unknown; data?: Record<string, unknown> } = {}) {
    super(message, { ...opts, exitCode: 2 });
  }
}

/** One problem in a config file, with its location. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the offending key, e.g. `roles.web.count`. */
  path: string;
  message: string;
}

/** fleet.yaml is invalid; carries every problem found, in file order. */
export class ConfigError extends InputError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${problems[0]?.file ?? 'config'}:\n` +
        problems.map((p) => `  ${p.file}:${p.line}:${p.column}: ${p.path ? p.path + ': ' : ''}${p.message}`).join('\n'),
      { data: { problems } },
    );
    this.problems = problems;
  }
}

/** A name does not fit the naming convention. */
export class NameError extends InputError {
  readonly input: string;
  constructor(input: string, reason: string) {
    super(`invalid name ${JSON.stringify(input)}: ${reason}`, { data: { input, reason } });
    this.input = input;
  }
}

/** An AWS call failed in a way the caller did not handle; keeps the AWS error code. */
export class CloudError extends FleetError {
  readonly code: string;
  constructor(context: string, code: string, cause?: unknown) {
    super(`${context}: ${code}${cause instanceof Error && cause.message && cause.message !== code ? ` (${cause.message})` : ''}`, {
      cause,
      data: { code },
    });
    this.code = code;
  }
}

/** No capacity for a launch shape: change the type, the AZ or the market, never retry the same. */
export class CapacityError extends FleetError {
  readonly code: string;
  constructor(context: string, code: string, cause?: unknown) {
    super(`${context}: ${code}`, { cause, data: { code } });
    this.code = code;
  }
}

/** A Route 53 change batch that did not apply (someone else changed the record). */
export class DnsConflictError extends FleetError {
  readonly messages: string[];
  constructor(context: string, messages: string[], cause?: unknown) {
    super(`${context}: ${messages.join('; ') || 'the change batch was rejected'}`, { cause, data: { messages } });
    this.messages = messages;
  }
}

/**
 * The operation was asked to stop (Ctrl-C, SIGTERM, a Lambda near its deadline): the reason an
 * ops stop signal carries. Nothing new starts after it; what was in flight reached a safe
 * point (a launch not yet swapped rolled back, a swap made was completed).
 */
export class StopError extends FleetError {
  /** What asked: 'SIGINT', 'SIGTERM', 'deadline', ... */
  readonly stop: string;
  constructor(stop: string) {
    super(`stopped by ${stop}`, { data: { stop } });
    this.stop = stop;
  }
}
