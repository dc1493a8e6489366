// Trigger handling (from ingest, for replies by others): a maintainer's
// "pcibot: ..." command in a reply to a patch pcibot has seen. Senders not on
// the allow-list are ignored (and recorded); "quiet" silences the thread or
// one rule; "review" (optionally on another base) and "scenarios a,b"
// schedule a new round of the series the message belongs to.
import { assembleSeries } from '../../bot/series/assemble.js';
import { parseTrigger, type TriggerCommand } from '../../bot/triggers/parse.js';
import type { Message } from '../../bot/types.js';
import type { JobContext } from '../context.js';
import { messageKey } from '../jobs.js';
import { scheduleReview } from '../reviews.js';

export async function handleTrigger(msg: Message, ctx: JobContext): Promise<void> {
  const { state, log } = ctx;
  const t = parseTrigger(msg.body);
  if (!t) return;
  const from = msg.from.address.toLowerCase();
  const base = { messageId: msg.messageId, from, line: t.line };
  const why = await ctx.allow.allows(from);
  if (!why) {
    await state.count('triggers_ignored');
    await state.recordTrigger({
      ...base,
      outcome: 'ignored',
      reason: 'sender not on the allow-list',
    });
    log(`ignored "${t.line}" from ${from} <${msg.messageId}>: not on the allow-list`);
    return;
  }
  if ('error' in t) {
    await state.recordTrigger({ ...base, outcome: 'ignored', reason: t.error });
    log(`ignored "${t.line}" from ${from}: ${t.error}`);
    return;
  }
  const targetId = msg.inReplyTo!;
  const meta = await state.getMeta(messageKey(targetId));
  if (!meta || !meta.bucket) {
    await state.recordTrigger({
      ...base,
      outcome: 'ignored',
      reason: `the replied-to message <${targetId}> is not a patch pcibot has seen`,
    });
    log(`ignored "${t.line}" from ${from}: <${targetId}> is not a known patch`);
    return;
  }
  const cmd: TriggerCommand = t.command;
  if (cmd.kind === 'quiet') {
    await state.setQuiet(meta.bucket, cmd.rule);
    await state.count('triggers_honoured');
    await state.recordTrigger({ ...base, outcome: 'honoured', allowedBy: why, command: cmd });
    log(`${from} (${why}): quiet${cmd.rule ? ` ${cmd.rule}` : ''} on thread ${meta.bucket}`);
    return;
  }
  const assembly = assembleSeries(await state.bucketMessages(meta.bucket));
  const series = assembly.series.find(
    (s) =>
      s.cover?.messageId === targetId ||
      s.patches.some((p) => p.messageId === targetId) ||
      s.supersedes.some((o) => o.messageIds.includes(targetId)),
  );
  if (!series) {
    await state.recordTrigger({
      ...base,
      outcome: 'ignored',
      reason: `no series found for <${targetId}>`,
    });
    return;
  }
  const round = `t${messageKey(msg.messageId).slice(0, 12)}`;
  const reviewKey = await scheduleReview(ctx, series, {
    bucket: meta.bucket,
    round,
    list: meta.list,
    partial: !series.complete,
    baseCommit: cmd.kind === 'review' ? cmd.base : null,
    ...(cmd.kind === 'scenarios' ? { scenarios: cmd.names } : {}),
    trigger: { messageId: msg.messageId, from, command: t.line, target: targetId },
  });
  await state.count('triggers_honoured');
  await state.recordTrigger({
    ...base,
    outcome: 'honoured',
    allowedBy: why,
    command: cmd,
    reviewKey,
  });
  log(`${from} (${why}): "${t.line}" -> review ${reviewKey}`);
}
