import { parseArgs, type ParseArgsConfig } from 'node:util';

// The shape of a CLI subcommand. workers/cli.ts maps `pcibot <name>` to
// workers/commands/<name>.js and calls its `run`. Commands write through `io` (not
// process.stdout directly) so tests can run them in-process and read the output.

export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Standard input, for `-` arguments. */
  stdin: NodeJS.ReadableStream;
  /** Whether stderr is a terminal (progress lines are drawn only there). */
  isTTY: boolean;
  /** Whether stdout is a terminal (colours are used only there). */
  stdoutIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export class UsageError extends Error {}

export interface Command {
  name: string;
  /** One line for `pcibot --help`. */
  summary: string;
  /** Full usage text for `pcibot <name> --help`. */
  usage: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with positionals allowed; a bad option is a UsageError (exit 2). */
export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
