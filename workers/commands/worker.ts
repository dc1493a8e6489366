// `pcibot worker`: process the service queues until SIGTERM. Fails at start,
// with a clear error and before touching Redis, on an unknown queue name
// (usage, 2), a missing or unusable kernel tree or state directory (78) and
// an unreachable mirror (69).
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { startWorkers } from '../service.js';
import { QUEUE_NAMES, stateRoot, type QueueName } from '../config.js';
import { mirrorProblem, treeProblem } from '../serve/preflight.js';
import { ensureWritableDir } from '../../bot/util/durable.js';
import { StartError, startService, untilSignal } from './start-service.js';
import { UsageError, type Command } from './command.js';
import { EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE } from '../../bot/util/exit.js';

const usage = `usage: pcibot worker [--config FILE] [--queues ingest,assemble,...]

Processes pcibot's BullMQ queues (${QUEUE_NAMES.join(', ')}): follows the
configured lore mirrors and spools, assembles series as their parts arrive,
applies and reviews them, and sends (or, in dry-run, writes to the outbox)
one threaded reply per series (reply.mode "patch": per patch) with warnings
or errors. Run several on as many machines as you like against one Redis;
run the follow and send queues where the state directory (stateDir) is.

  -c, --config FILE   service config (JSON); default $PCIBOT_CONFIG
  --queues LIST       only these queues (default: all)

Environment: PCIBOT_REDIS_URL, PCIBOT_REDIS_PREFIX, PCIBOT_TREE,
PCIBOT_STATE_DIR, PCIBOT_MAIL_SEND=1, PCIBOT_SMTP_HOST, PCIBOT_SMTP_PORT,
PCIBOT_OUTBOX, ...
SIGTERM/SIGINT: stop taking jobs and let running ones finish (drainTimeoutSec).
Checked at start: the kernel tree (78), the state directory (78), each
followed mirror (69), Redis (69; says how to start one).`;

/** The queues named by --queues, or a usage error naming the unknown ones. */
export function parseQueues(value: unknown): QueueName[] | undefined {
  if (typeof value !== 'string') return undefined;
  const only = value
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  const bad = only.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q));
  if (bad.length)
    throw new UsageError(
      `unknown queue ${bad.map((b) => JSON.stringify(b)).join(', ')} (known: ${QUEUE_NAMES.join(', ')})`,
    );
  if (only.length === 0) throw new UsageError('--queues names no queue');
  return only as QueueName[];
}

/** Queues whose jobs read the kernel tree. */
const TREE_QUEUES: QueueName[] = ['apply', 'analyse', 'verify', 'report'];

async function redisDurabilityWarnings(redis: Redis): Promise<string[]> {
  const out: string[] = [];
  try {
    const aof = (await redis.config('GET', 'appendonly')) as string[];
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (aof[1] !== 'yes')
      out.push(
        'Redis runs without AOF (appendonly no): a restart loses what was written since its last snapshot; pcibot recovers (durable cursor and reply journal in stateDir) but redoes that work. See README, "Running Redis".',
      );
    if (policy[1] && policy[1] !== 'noeviction')
      out.push(
        `Redis evicts keys under memory pressure (maxmemory-policy ${policy[1]}): BullMQ needs noeviction.`,
      );
  } catch {
    // CONFIG is disabled on some managed Redis: nothing to say.
  }
  return out;
}

const command: Command = {
  name: 'worker',
  summary: 'process the service queues (lore following, review, replies); needs Redis',
  usage,
  async run(argv, io) {
    const started = await startService(
      'worker',
      argv,
      io,
      { queues: { type: 'string' } },
      async (config, values) => {
        const names = parseQueues(values.queues) ?? [...QUEUE_NAMES];
        if (names.some((q) => TREE_QUEUES.includes(q))) {
          const p = await treeProblem(config.tree);
          if (p)
            throw new StartError(`${p}. (tree.path in the config, or PCIBOT_TREE)`, EXIT_CONFIG);
        }
        if (names.includes('follow') || names.includes('send')) {
          try {
            ensureWritableDir(stateRoot(config));
          } catch (err) {
            throw new StartError(
              `the state directory ${stateRoot(config)} is not writable (stateDir): ${(err as Error).message}`,
              EXIT_CONFIG,
            );
          }
        }
        if (names.includes('follow'))
          for (const l of config.lists) {
            if (!l.mirror) continue;
            const p = await mirrorProblem(l.mirror);
            if (p)
              throw new StartError(
                `the mirror of list ${l.name} cannot be followed: ${p}`,
                /^https?:/.test(l.mirror) ? EXIT_UNAVAILABLE : EXIT_CONFIG,
              );
          }
      },
    );
    if (typeof started === 'number') return started;
    const { config, redis, values } = started;
    const only = parseQueues(values.queues);
    const log = (l: string) => io.stderr(`[pcibot worker ${new Date().toISOString()}] ${l}\n`);
    let handle;
    try {
      for (const w of await redisDurabilityWarnings(redis)) log(`warning: ${w}`);
      handle = await startWorkers({
        config,
        connection: redis,
        log,
        ...(only ? { only } : {}),
      });
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    log(
      `working on ${handle.workers.map((w) => w.name).join(', ')} (redis ${config.redis.url}, prefix ${config.redis.prefix}, ` +
        `state ${join(stateRoot(config))}, ` +
        `${config.mail.send ? 'sending via SMTP' : `dry run: replies to ${config.mail.outbox}`})`,
    );
    const sig = await untilSignal();
    log(`${sig}: draining (up to ${config.drainTimeoutSec} s)`);
    const { drained } = await handle.close();
    redis.disconnect();
    log(drained ? 'stopped' : 'stopped after the drain timeout');
    return EXIT_OK;
  },
};
export default command;
