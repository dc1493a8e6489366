// follow (a job scheduler per lore list and spool): new messages -> ingest jobs.
// The lore cursor moves only after the batch is durably queued; it is kept in
// the durable journal too, which wins when Redis lost it (bot/lore/follow.ts).
// After each walk, replies interrupted mid-send on this list are made sure to
// have a send job (Redis may have lost it), which settles them against the
// archive just walked.
import { Job } from 'bullmq';
import { join } from 'node:path';
import { followOnce } from '../../bot/lore/follow.js';
import { followSpool } from '../../bot/lore/spool.js';
import { replyKeyOf } from '../../bot/outbound/compose.js';
import type { RawMail } from '../../bot/types.js';
import type { JobContext } from '../context.js';
import { jobIds, type FollowJob, type SendJob } from '../jobs.js';

export async function follow(job: Job<FollowJob>, ctx: JobContext) {
  const { kind, list } = job.data;
  const l = ctx.list(list);
  const enqueue = async (
    mails: RawMail[],
    info: { backfill: boolean; generation?: string } = { backfill: false },
  ) => {
    await ctx.queues.enqueueMails(mails, list, info);
    await ctx.hooks.afterEnqueue?.();
  };
  if (kind === 'lore') {
    if (!l.mirror) return { skipped: 'no mirror configured' };
    const release = await ctx.follow.lock(list, ctx.config.jobLockSec * 1000);
    if (!release) return { skipped: 'another worker is following this list' };
    try {
      const r = await followOnce({
        list,
        source: l.mirror,
        mirrorDir: join(ctx.config.mirrorsDir, list),
        startFrom: l.startFrom,
        state: ctx.follow,
        enqueue,
        journal: ctx.journal(list),
        // Anything that arrived this long before Redis lost its state may still have been in flight.
        lookbackMs: (ctx.config.completenessTimeoutSec + 3600) * 1000,
        isOwn: (id) => replyKeyOf(id, ctx.config.mail.from) !== null,
      });
      if (r.recovered) {
        await ctx.state.count('redis_state_lost');
        ctx.log(`${list}: ${r.recovered}`);
      }
      if (r.enqueued)
        ctx.log(
          `${list}: ${r.enqueued} new messages queued${r.backfill ? ` (${r.backfill} of them a backfill: reviewed, not answered)` : ''} (epochs ${r.epochs.join(',')})`,
        );
      await requeueOpenReplies(ctx, list);
      return r;
    } finally {
      await release();
    }
  }
  const r = await followSpool({
    list,
    path: job.data.path!,
    kind,
    redis: ctx.redis,
    prefix: ctx.config.redis.prefix,
    enqueue,
  });
  for (const f of r.failures) ctx.log(`spool: ${f}`);
  return r;
}

/**
 * Replies of this list interrupted mid-send (open in the durable journal) get
 * their send job back if Redis lost it, so the send processor settles them
 * against the archive; a job that gave up is retried.
 */
async function requeueOpenReplies(ctx: JobContext, list: string): Promise<void> {
  for (const o of ctx.outbound.ledger.open()) {
    if (o.list !== list || !o.payload) continue;
    const id = jobIds.send(o.replyKey);
    const existing = await Job.fromId(ctx.queues.queues.send, id);
    if (existing) {
      const st = await existing.getState();
      if (st === 'failed') await existing.retry();
      else if (st === 'completed') {
        await existing.remove();
        await addSend(ctx, id, o.payload as unknown as SendJob);
      }
      continue;
    }
    await addSend(ctx, id, o.payload as unknown as SendJob);
    ctx.log(`reply ${o.replyKey} <${o.messageId}> was interrupted mid-send: queued to settle it`);
  }
}

async function addSend(ctx: JobContext, id: string, data: SendJob): Promise<void> {
  await ctx.queues.queues.send.add('send', data, {
    jobId: id,
    attempts: 8,
    backoff: { type: 'exponential', delay: 5000 },
  });
}
