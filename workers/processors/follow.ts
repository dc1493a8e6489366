// follow (a job scheduler per lore list and spool): new messages -> ingest jobs.
// The lore cursor moves only after the batch is durably queued.
import type { Job } from 'bullmq';
import { join } from 'node:path';
import { followOnce } from '../../bot/lore/follow.js';
import { followSpool } from '../../bot/lore/spool.js';
import type { RawMail } from '../../bot/types.js';
import type { JobContext } from '../context.js';
import type { FollowJob } from '../jobs.js';

export async function follow(job: Job<FollowJob>, ctx: JobContext) {
  const { kind, list } = job.data;
  const l = ctx.list(list);
  const enqueue = async (mails: RawMail[]) => {
    await ctx.queues.enqueueMails(mails, list);
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
      });
      if (r.enqueued)
        ctx.log(`${list}: ${r.enqueued} new messages queued (epochs ${r.epochs.join(',')})`);
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
