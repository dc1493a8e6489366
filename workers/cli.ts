#!/usr/bin/env node
// pcibot's entry point: `pcibot <command> [args]`. Each command lives in
// workers/commands/<name>.ts; this file only dispatches and turns exceptions into
// exit codes (bot/util/exit.ts: EXIT_USAGE for usage errors, EXIT_INTERNAL for
// internal errors).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError, type Command, type CommandIO } from './commands/command.js';
import { EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from '../bot/util/exit.js';

/** Command name -> module. Kept explicit so `--help` lists exactly what exists. */
const COMMANDS: Record<string, () => Promise<{ default: Command }>> = {
  review: () => import('./commands/review.js'),
  scenario: () => import('./commands/scenario.js'),
  rules: () => import('./commands/rules.js'),
  verify: () => import('./commands/verify.js'),
  'record-layouts': () => import('./commands/record-layouts.js'),
  worker: () => import('./commands/worker.js'),
  serve: () => import('./commands/serve.js'),
  outbox: () => import('./commands/outbox.js'),
};

export function processIO(): CommandIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    stdin: process.stdin,
    isTTY: Boolean(process.stderr.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
}

async function help(io: CommandIO): Promise<void> {
  const lines = ['usage: pcibot <command> [options]', '', 'commands:'];
  for (const load of Object.values(COMMANDS)) {
    const cmd = (await load()).default;
    lines.push(`  ${cmd.name.padEnd(16)} ${cmd.summary}`);
  }
  lines.push('', 'pcibot <command> --help shows the options of one command.');
  io.stdout(lines.join('\n') + '\n');
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await help(io);
    return name ? EXIT_OK : EXIT_USAGE;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr(`pcibot: unknown command "${name}" (try pcibot --help)\n`);
    return EXIT_USAGE;
  }
  const cmd = (await load()).default;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`pcibot ${name}: ${err.message}\n${cmd.usage.split('\n')[0]}\n`);
      return EXIT_USAGE;
    }
    io.stderr(
      `pcibot ${name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT_INTERNAL;
  }
}

// Run when executed directly (also through the npm bin symlink), not when imported by tests.
const invokedAs = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invokedAs === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2), processIO()).then((code) => {
    process.exitCode = code;
  });
}
