// Running pcibot's commands in-process for the tests: a CommandIO whose output
// is captured, and `pcibot <args>` through workers/cli.ts's main() with it.
import { PassThrough } from 'node:stream';
import { main } from '../workers/cli.js';
import type { CommandIO } from '../workers/commands/command.js';

export interface CaptureOptions {
  stdin?: string;
  /** Default: PATH and HOME only, so the caller's PCIBOT_* settings do not leak in. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function captureIO(opts: CaptureOptions = {}): {
  io: CommandIO;
  out: () => string;
  err: () => string;
} {
  let out = '';
  let err = '';
  const stdin = new PassThrough();
  stdin.end(opts.stdin ?? '');
  return {
    io: {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      stdin,
      isTTY: false,
      stdoutIsTTY: false,
      env: opts.env ?? { PATH: process.env.PATH, HOME: process.env.HOME },
      cwd: opts.cwd ?? process.cwd(),
    },
    out: () => out,
    err: () => err,
  };
}

/** `pcibot <args>` in-process: exit code and captured output. */
export async function runCli(
  args: string[],
  opts: CaptureOptions = {},
): Promise<{ code: number; out: string; err: string }> {
  const c = captureIO(opts);
  const code = await main(args, c.io);
  return { code, out: c.out(), err: c.err() };
}
