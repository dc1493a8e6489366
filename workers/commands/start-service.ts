// Shared start-up of `pcibot worker` and `pcibot serve`: load the config, run
// the command's own checks (a usable kernel tree, reachable mirrors, known
// queue names: each a clear error and an exit status, never a hang), reach
// Redis (or fail at once saying how to start it), and stop cleanly on
// SIGTERM/SIGINT within the configured drain time. A helper of worker.ts and
// serve.ts, like command.ts (workers/cli.ts lists the commands), and not in
// workers/serve/, which the commands use and which must not depend on the CLI.
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { UsageError, type CommandIO } from './command.js';
import { EXIT_CONFIG, EXIT_UNAVAILABLE } from '../../bot/util/exit.js';

/** A start-up check that failed: its message is printed and the command exits with `code`. */
export class StartError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}
import { ConfigError, loadConfig, type ServiceConfig } from '../config.js';
import { connectRedis, RedisUnavailableError } from '../serve/redis.js';

export async function startService(
  name: string,
  argv: string[],
  io: CommandIO,
  extra: Record<string, { type: 'string' | 'boolean' }> = {},
  /** Checks before Redis is reached (throw StartError or UsageError). */
  check?: (config: ServiceConfig, values: Record<string, unknown>) => Promise<void>,
): Promise<{ config: ServiceConfig; redis: Redis; values: Record<string, unknown> } | number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, ...extra },
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let config: ServiceConfig;
  try {
    config = loadConfig({
      path: parsed.values.config as string | undefined,
      env: io.env,
      cwd: io.cwd,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`pcibot ${name}: bad configuration: ${err.message}\n`);
      return EXIT_CONFIG;
    }
    throw err;
  }
  try {
    await check?.(config, parsed.values);
  } catch (err) {
    if (err instanceof StartError) {
      io.stderr(`pcibot ${name}: ${err.message}\n`);
      return err.code;
    }
    throw err;
  }
  try {
    const redis = await connectRedis(config.redis.url, { timeoutMs: 2000, name: `pcibot-${name}` });
    return { config, redis, values: parsed.values };
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      io.stderr(`pcibot ${name}: ${err.message}\n`);
      return EXIT_UNAVAILABLE;
    }
    throw err;
  }
}

/** Resolve when SIGTERM or SIGINT arrives (the handlers are removed afterwards). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
