// The BullMQ queues of the service and their default job options. One Queue
// object per stage plus a FlowProducer for the per-series flows. Transient
// errors are retried with exponential backoff; jobs that fail on bad input
// throw UnrecoverableError and are not retried. Finished jobs are kept for a
// week so their ids keep deduplicating re-deliveries.
import { FlowProducer, Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_NAMES, type QueueName } from './config.js';
import type { RawMail } from '../bot/types.js';
import { ingestJobId, type IngestJob } from './jobs.js';

export const JOB_DEFAULTS: DefaultJobOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 7 * 86400, count: 200_000 },
  removeOnFail: { age: 30 * 86400 },
};

export class ServiceQueues {
  readonly queues: Record<QueueName, Queue>;
  readonly flow: FlowProducer;

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
  ) {
    const q = {} as Record<QueueName, Queue>;
    for (const name of QUEUE_NAMES)
      q[name] = new Queue(name, { connection, prefix, defaultJobOptions: JOB_DEFAULTS });
    this.queues = q;
    this.flow = new FlowProducer({ connection, prefix });
  }

  /** Queue raw messages for ingest; resolves once Redis holds the jobs. Ids dedupe repeats. */
  async enqueueMails(
    mails: RawMail[],
    list: string,
    opts: { backfill?: boolean; generation?: string } = {},
  ): Promise<void> {
    if (mails.length === 0) return;
    const gen = opts.generation ? { generation: opts.generation } : {};
    await this.queues.ingest.addBulk(
      mails.map((raw) => ({
        name: 'ingest',
        data: {
          raw,
          list,
          ...(opts.backfill ? { backfill: true } : {}),
          ...gen,
        } satisfies IngestJob,
        opts: { jobId: ingestJobId(raw.raw, opts.generation) },
      })),
    );
  }

  /** Jobs per state, per queue (for /healthz and /metrics). */
  async depths(): Promise<Record<QueueName, Record<string, number>>> {
    const out = {} as Record<QueueName, Record<string, number>>;
    for (const name of QUEUE_NAMES)
      out[name] = await this.queues[name].getJobCounts(
        'waiting',
        'active',
        'delayed',
        'completed',
        'failed',
        'waiting-children',
        'prioritized',
      );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...Object.values(this.queues).map((q) => q.close()), this.flow.close()]);
  }
}
