// Trigger handling (from ingest, for replies by others): a maintainer's
// "pcibot: ..." command in a reply to a patch, a cover letter, or pcibot's own
// reply (mapped back to the patch it answered). In order:
//   - its DKIM result is checked and recorded, whatever happens next
//     (bot/triggers/dkim.ts);
//   - a command older than triggers.maxAgeHours (or without a readable Date,
//     or dated more than FUTURE_SKEW_HOURS ahead: its age is unknown, and a
//     future date would keep it young through every replay of the archive),
//     or read in a backfill, is history: recorded, never honoured, never
//     answered (a replayed archive must not act on old commands);
//   - senders not on the allow-list, allow-listed senders without a passing
//     DKIM signature when triggers.requireDkim, unknown or malformed commands
//     and commands on a message pcibot does not know are refused, and the
//     sender (only) gets a short notice saying why;
//   - "quiet" silences the thread or one rule; "review" (optionally on another
//     base) and "scenarios a,b" schedule a new round of the series.
import { composeNotice, replyKeyOf } from '../../bot/outbound/compose.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import { checkDkim } from '../../bot/triggers/dkim.js';
import { parseTrigger, type TriggerCommand } from '../../bot/triggers/parse.js';
import type { Message } from '../../bot/types.js';
import type { JobContext } from '../context.js';
import { hashOf, jobIds, messageKey, type SendJob } from '../jobs.js';
import { scheduleReview } from '../reviews.js';
import type { MessageMeta } from '../state.js';

const USAGE =
  'Commands, alone on the first line of a reply to a patch, the cover letter or a mail of pcibot\'s: "pcibot: review", "pcibot: review base=<commit>", "pcibot: scenarios <name>,<name>", "pcibot: quiet" or "pcibot: quiet <rule>".';

/** How far ahead of our clock a command's Date may be (senders' clocks drift). */
const FUTURE_SKEW_HOURS = 2;

export async function handleTrigger(
  msg: Message,
  ctx: JobContext,
  opts: { raw: string; backfill: boolean; list: string; generation?: string },
): Promise<void> {
  const { state, log, config } = ctx;
  const t = parseTrigger(msg.body);
  if (!t) return;
  const from = msg.from.address.toLowerCase();
  const base = { messageId: msg.messageId, from, line: t.line, date: msg.date };

  const sent = msg.date ? Date.parse(msg.date) : NaN;
  const ageHours = Number.isNaN(sent) ? null : (Date.now() - sent) / 3600_000;
  const stale = opts.backfill
    ? 'read in a backfill (in the archive when following began)'
    : ageHours === null
      ? 'it has no readable Date, so its age is unknown'
      : ageHours > config.triggers.maxAgeHours
        ? `older than triggers.maxAgeHours (${config.triggers.maxAgeHours} h): sent ${msg.date}`
        : ageHours < -FUTURE_SKEW_HOURS
          ? `dated ${msg.date}, more than ${FUTURE_SKEW_HOURS} h ahead of this machine's clock, so its age is unknown`
          : null;
  // Checked for every command, the ignored ones too: the record says who sent it.
  const dkim = await checkDkim(Buffer.from(opts.raw, 'latin1'), {
    ...(ctx.hooks.dkimResolver ? { resolver: ctx.hooks.dkimResolver } : {}),
  });
  if (stale) {
    await state.count('triggers_too_old');
    await state.recordTrigger({ ...base, dkim, outcome: 'ignored', reason: stale });
    log(`ignored "${t.line}" from ${from} <${msg.messageId}>: ${stale}`);
    return;
  }

  const refuse = async (reason: string, notice: string[]) => {
    await state.count('triggers_ignored');
    await state.recordTrigger({ ...base, dkim, outcome: 'refused', reason });
    log(`refused "${t.line}" from ${from} <${msg.messageId}>: ${reason}`);
    await sendNotice(ctx, msg, opts.list, notice);
  };

  const why = await ctx.allow.allows(from);
  if (!why)
    return refuse('sender not on the allow-list', [
      `pcibot takes commands only from the PCI and VFIO maintainers listed in MAINTAINERS and from the addresses its operator allows, so "${t.line}" was not carried out.`,
    ]);
  if (config.triggers.requireDkim && dkim.result !== 'pass')
    return refuse(`no passing DKIM signature aligned with ${from} (${dkim.detail})`, [
      `pcibot takes commands only from mail with a valid DKIM signature of the sender's domain; this one has none (${dkim.detail}), so "${t.line}" was not carried out.`,
    ]);
  if ('error' in t) return refuse(t.error, [`${t.error}, so nothing was done.`, USAGE]);

  const target = await findTarget(msg, ctx);
  if (!target)
    return refuse(`the replied-to message <${msg.inReplyTo}> is not a patch pcibot has seen`, [
      `pcibot does not know <${msg.inReplyTo ?? '?'}> as a patch or cover letter of a series it follows, nor as one of its own replies, so "${t.line}" was not carried out.`,
      USAGE,
    ]);
  const { targetId, meta } = target;
  const bucket = meta.bucket!;
  const cmd: TriggerCommand = t.command;
  const honoured = {
    ...base,
    dkim,
    outcome: 'honoured',
    allowedBy: why,
    command: cmd,
    target: targetId,
  };
  if (cmd.kind === 'quiet') {
    await state.setQuiet(bucket, cmd.rule);
    await state.count('triggers_honoured');
    await state.recordTrigger(honoured);
    log(`${from} (${why}): quiet${cmd.rule ? ` ${cmd.rule}` : ''} on thread ${bucket}`);
    return;
  }
  const assembly = assembleSeries(await state.bucketMessages(bucket));
  const series = assembly.series.find(
    (s) =>
      s.cover?.messageId === targetId ||
      s.patches.some((p) => p.messageId === targetId) ||
      s.supersedes.some((o) => o.messageIds.includes(targetId)),
  );
  if (!series)
    return refuse(`no series found for <${targetId}>`, [
      `pcibot could not put together the series <${targetId}> belongs to, so "${t.line}" was not carried out.`,
    ]);
  const round = `t${messageKey(msg.messageId).slice(0, 12)}`;
  const reviewKey = await scheduleReview(ctx, series, {
    bucket,
    round,
    list: meta.list,
    partial: !series.complete,
    baseCommit: cmd.kind === 'review' ? cmd.base : null,
    ...(cmd.kind === 'scenarios' ? { scenarios: cmd.names } : {}),
    trigger: { messageId: msg.messageId, from, command: t.line, target: targetId },
    ...(opts.generation ? { generation: opts.generation } : {}),
  });
  await state.count('triggers_honoured');
  await state.recordTrigger({ ...honoured, reviewKey });
  log(`${from} (${why}): "${t.line}" -> review ${reviewKey}`);
}

/**
 * The patch or cover letter a command is about: the message it answers, else
 * the nearest one in its References that pcibot filed in a thread; a reply of
 * pcibot's own is mapped back to the message it answered (its Message-ID
 * names the review; the stored series says which message that was).
 */
async function findTarget(
  msg: Message,
  ctx: JobContext,
): Promise<{ targetId: string; meta: MessageMeta } | null> {
  const { state, config } = ctx;
  const ids = [...(msg.inReplyTo ? [msg.inReplyTo] : []), ...[...msg.references].reverse()];
  for (const id of [...new Set(ids)]) {
    const meta = await state.getMeta(messageKey(id));
    if (meta?.bucket) return { targetId: id, meta };
    const replyKey = replyKeyOf(id, config.mail.from);
    if (!replyKey) continue;
    // Our reply: what did it answer? The archive's copy (its In-Reply-To), else the review's series.
    if (meta?.inReplyTo) {
      const m2 = await state.getMeta(messageKey(meta.inReplyTo));
      if (m2?.bucket) return { targetId: meta.inReplyTo, meta: m2 };
    }
    const k = /^(.+)-(s|p(\d+))$/.exec(replyKey);
    if (!k) continue;
    const series = await state.getSeries(k[1]!);
    if (!series) continue;
    const answered =
      k[2] === 's' || k[3] === '0'
        ? (series.cover ?? series.patches[0])
        : series.patches.find((p) => p.tags.index === Number(k[3]));
    if (!answered) continue;
    const m3 = await state.getMeta(messageKey(answered.messageId));
    if (m3?.bucket) return { targetId: answered.messageId, meta: m3 };
  }
  return null;
}

/** A short answer to the sender only, once per command (its reply key derives from the command's Message-ID). */
async function sendNotice(
  ctx: JobContext,
  msg: Message,
  list: string,
  paragraphs: string[],
): Promise<void> {
  const replyKey = `fb-${hashOf(`notice\0${msg.messageId}`, 20)}`;
  const c = await composeNotice({
    original: msg,
    paragraphs,
    from: ctx.config.mail.from,
    replyKey,
    infoUrl: ctx.config.mail.infoUrl,
  });
  if (c.envelope.to.length === 0) return;
  await ctx.queues.queues.send.add(
    'send',
    {
      replyKey,
      reviewKey: '',
      list,
      bucket: '',
      automatic: false,
      messageId: c.messageId,
      inReplyTo: c.inReplyTo,
      subject: c.subject,
      envelope: c.envelope,
      eml: c.eml,
      replyToDate: msg.date,
    } satisfies SendJob,
    { jobId: jobIds.send(replyKey), attempts: 8, backoff: { type: 'exponential', delay: 5000 } },
  );
}
