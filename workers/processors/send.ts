// send (per reply, exactly once): deliver a composed reply through the ledger
// (the durable journal first; the intent recorded, with the message, before
// sending) within the list's and each recipient's rate limits (the lists'
// own addresses count against the list's limit only); automatic replies on a
// thread silenced with "pcibot: quiet" are suppressed, and replies to a patch
// older than reply.maxAgeDays are held. A reply interrupted mid-send is
// settled by the list archive (bot/lore/archive.ts): the job waits until the
// mirror has caught up, then marks it sent or sends it.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { deliverReply } from '../../bot/outbound/deliver.js';
import type { Limit, RateLimiter } from '../../bot/outbound/ratelimit.js';
import { isListAddress, type ServiceConfig } from '../config.js';
import type { JobContext } from '../context.js';
import type { SendJob } from '../jobs.js';
import { olderThanDays } from './report.js';

/**
 * The rate limits a reply falls under: its list's, and each recipient's but
 * the lists' own addresses (a list gets every reply; counting it per
 * recipient would stop all replies after perRecipient.max an hour).
 */
export function replyLimits(
  config: ServiceConfig,
  limiter: Pick<RateLimiter, 'limitKey'>,
  d: Pick<SendJob, 'list' | 'envelope'>,
): Limit[] {
  const list = config.lists.find((l) => l.name === d.list);
  return [
    ...(list
      ? [
          {
            key: limiter.limitKey('list', d.list),
            max: list.rateLimit.max,
            windowMs: list.rateLimit.perSeconds * 1000,
          },
        ]
      : []),
    ...d.envelope.to
      .filter((a) => !isListAddress(config, a))
      .map((a) => ({
        key: limiter.limitKey('rcpt', a),
        max: config.mail.perRecipient.max,
        windowMs: config.mail.perRecipient.perSeconds * 1000,
      })),
  ];
}

export async function send(job: Job<SendJob>, ctx: JobContext, token?: string) {
  const { state, config, log } = ctx;
  const { ledger, limiter, transport } = ctx.outbound;
  const d = job.data;
  const list = ctx.list(d.list);
  const quiet = await state.quietRules(d.bucket);
  const limits = replyLimits(config, limiter, d);
  const outcome = await deliverReply(
    {
      replyKey: d.replyKey,
      messageId: d.messageId,
      eml: d.eml,
      envelope: d.envelope,
      suppressedBecause:
        d.automatic && quiet.has('*') ? 'the thread was silenced with "pcibot: quiet"' : null,
      heldBecause:
        d.automatic && olderThanDays(d.replyToDate, list.reply.maxAgeDays)
          ? `the patch is older than reply.maxAgeDays (${list.reply.maxAgeDays} days)`
          : null,
      limits,
      list: d.list,
      payload: { ...d },
    },
    {
      ledger,
      limiter,
      transport,
      log,
      beforeSend: ctx.hooks.beforeSend,
      archive: ctx.archive(d.list),
    },
  );
  switch (outcome.kind) {
    case 'sent':
      await state.count(transport.kind === 'smtp' ? 'replies_sent' : 'replies_outbox');
      if (d.replyKey.startsWith('fb-')) await state.count('notices_sent');
      log(`reply ${d.replyKey} <${d.messageId}> ${outcome.detail}`);
      break;
    case 'already':
      if (outcome.settled) await state.count('replies_resolved');
      break;
    case 'unknown':
      await state.count('replies_unknown');
      break;
    case 'suppressed':
      await state.count('replies_suppressed');
      break;
    case 'held':
      await state.count('replies_held');
      log(`reply ${d.replyKey} held: ${outcome.detail}`);
      break;
    case 'waiting':
      await job.moveToDelayed(Date.now() + outcome.waitMs, token);
      throw new DelayedError();
    case 'rate-limited':
      await state.count('replies_rate_limited');
      await job.moveToDelayed(Date.now() + outcome.waitMs, token);
      throw new DelayedError();
    case 'failed':
      if (!outcome.retry) throw new UnrecoverableError(outcome.detail);
      throw new Error(outcome.detail);
  }
  return outcome;
}
