// send (per reply, exactly once): deliver a composed reply through the ledger
// (intent recorded before sending) within the list's and each recipient's
// rate limits; automatic replies on a thread silenced with "pcibot: quiet"
// are suppressed.
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { deliverReply } from '../../bot/outbound/deliver.js';
import type { Limit } from '../../bot/outbound/ratelimit.js';
import type { JobContext } from '../context.js';
import type { SendJob } from '../jobs.js';

export async function send(job: Job<SendJob>, ctx: JobContext, token?: string) {
  const { state, config, log } = ctx;
  const { ledger, limiter, transport } = ctx.outbound;
  const d = job.data;
  const list = ctx.list(d.list);
  const quiet = await state.quietRules(d.bucket);
  const limits: Limit[] = [
    {
      key: limiter.limitKey('list', d.list),
      max: list.rateLimit.max,
      windowMs: list.rateLimit.perSeconds * 1000,
    },
    ...d.envelope.to.map((a) => ({
      key: limiter.limitKey('rcpt', a),
      max: config.mail.perRecipient.max,
      windowMs: config.mail.perRecipient.perSeconds * 1000,
    })),
  ];
  const outcome = await deliverReply(
    {
      replyKey: d.replyKey,
      messageId: d.messageId,
      eml: d.eml,
      envelope: d.envelope,
      suppressedBecause:
        d.automatic && quiet.has('*') ? 'the thread was silenced with "pcibot: quiet"' : null,
      limits,
    },
    { ledger, limiter, transport, log, beforeSend: ctx.hooks.beforeSend },
  );
  switch (outcome.kind) {
    case 'sent':
      await state.count(transport.kind === 'smtp' ? 'replies_sent' : 'replies_outbox');
      log(`reply ${d.replyKey} <${d.messageId}> ${outcome.detail}`);
      break;
    case 'unknown':
      await state.count('replies_unknown');
      break;
    case 'suppressed':
      await state.count('replies_suppressed');
      break;
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
