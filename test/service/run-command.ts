// Runs `pcibot worker` / `pcibot serve` in a child process for the tests and
// the crash script (workers/cli.ts registers the commands; this runner does not
// depend on that): `node run-command.js --run worker [args]`. Without --run
// (e.g. when node --test picks this file up) it does nothing.
import { UsageError, type CommandIO } from '../../workers/commands/command.js';

const at = process.argv.indexOf('--run');
if (at >= 0) {
  const name = process.argv[at + 1]!;
  const io: CommandIO = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdin: process.stdin,
    isTTY: false,
    stdoutIsTTY: false,
    env: process.env,
    cwd: process.cwd(),
  };
  const mod =
    name === 'worker'
      ? await import('../../workers/commands/worker.js')
      : name === 'outbox'
        ? await import('../../workers/commands/outbox.js')
        : await import('../../workers/commands/serve.js');
  let code: number;
  try {
    code = await mod.default.run(process.argv.slice(at + 2), io);
  } catch (err) {
    // As workers/cli.ts does: a usage error is exit 2, anything else a crash.
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`pcibot ${name}: ${err.message}\n`);
    code = 2;
  }
  process.exit(code);
}
