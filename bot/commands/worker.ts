// `pcibot worker`: process the service queues until SIGTERM.
import { startWorkers } from '../../workers/service.js';
import { QUEUE_NAMES, type QueueName } from '../../workers/config.js';
import { startService, untilSignal } from './start-service.js';
import { UsageError, type Command } from './command.js';
import { EXIT_OK } from '../util/exit.js';

const usage = `usage: pcibot worker [--config FILE] [--queues ingest,assemble,...]

Processes pcibot's BullMQ queues (${QUEUE_NAMES.join(', ')}): follows the
configured lore mirrors and spools, assembles series as their parts arrive,
applies and reviews them, and sends (or, in dry-run, writes to the outbox) one
threaded reply per patch with findings. Run several on as many machines as
you like against one Redis.

  -c, --config FILE   service config (JSON); default $PCIBOT_CONFIG
  --queues LIST       only these queues (default: all)

Environment: PCIBOT_REDIS_URL, PCIBOT_REDIS_PREFIX, PCIBOT_TREE,
PCIBOT_MAIL_SEND=1, PCIBOT_SMTP_HOST, PCIBOT_SMTP_PORT, PCIBOT_OUTBOX, ...
SIGTERM/SIGINT: stop taking jobs and let running ones finish (drainTimeoutSec).
Needs Redis; fails at once with how to start one when it is not reachable.`;

const command: Command = {
  name: 'worker',
  summary: 'process the service queues (lore following, review, replies); needs Redis',
  usage,
  async run(argv, io) {
    const started = await startService('worker', argv, io, { queues: { type: 'string' } });
    if (typeof started === 'number') return started;
    const { config, redis, values } = started;
    let only: QueueName[] | undefined;
    if (typeof values.queues === 'string') {
      only = values.queues.split(',').map((q) => q.trim()) as QueueName[];
      const bad = only.filter((q) => !QUEUE_NAMES.includes(q));
      if (bad.length)
        throw new UsageError(`unknown queue ${bad.join(', ')} (known: ${QUEUE_NAMES.join(', ')})`);
    }
    const log = (l: string) => io.stderr(`[pcibot worker ${new Date().toISOString()}] ${l}\n`);
    const handle = await startWorkers({
      config,
      connection: redis,
      log,
      ...(only ? { only } : {}),
    });
    log(
      `working on ${handle.workers.map((w) => w.name).join(', ')} (redis ${config.redis.url}, prefix ${config.redis.prefix}, ` +
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
