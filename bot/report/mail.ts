// The mail sink: a ReviewResult as replies on the list. It decides which
// messages are answered and with what (each patch's reported findings under
// that patch; the series' findings under the cover letter, or with the first
// patch's when there is none; one reply per message; the notes about missing
// patches, what the previous version had, the scenarios asked for), and hands
// each reply to bot/outbound/compose.ts, the one mail formatter (quoting,
// wrapping, headers). Pure: the same result and context give the same mails.
import { composeReply, type ComposedReply, type ReplySettings } from '../outbound/compose.js';
import type { Address, Finding, Message, Series } from '../types.js';
import type { ReviewResult } from './types.js';

export interface MailContext {
  /** The series the result is of: the messages answered and quoted. */
  series: Series;
  list: { address: string; reply: ReplySettings & { allClear: boolean } };
  from: Address;
  /** Reply keys are `<replyKeyPrefix>-p<patch index>` (0: the cover letter). */
  replyKeyPrefix: string;
  infoUrl?: string | null;
  /** The series' report page; null: no link (no public URL configured). */
  pageUrl?: string | null;
  /** Reviewed at the completeness deadline: the minutes it waited for the missing patches. */
  waitedMinutes?: number | null;
  /** A maintainer asked for this review by replying to this message (a trigger). */
  askedOn?: string | null;
  /** The scenarios a maintainer asked for. */
  scenarios?: string[];
  date?: Date;
}

export interface PlannedReply {
  replyKey: string;
  /** The patch answered (0: the cover letter, or the series as a whole). */
  index: number;
  original: Message;
  findings: Finding[];
  notes: string[];
}

/** The notes that go with the first reply: missing patches, fixed since the last version, scenarios. */
export function resultNotes(
  result: ReviewResult,
  ctx: Pick<MailContext, 'waitedMinutes' | 'scenarios'>,
): string[] {
  const notes: string[] = [];
  if (result.missing.length)
    notes.push(
      `Reviewed without patch${result.missing.length > 1 ? 'es' : ''} ${result.missing.join(', ')} of ${result.expected}, which did not arrive${ctx.waitedMinutes != null ? ` within ${ctx.waitedMinutes} minutes` : ''}.`,
    );
  if (result.fixed && result.fixed.findings.length)
    notes.push(
      `Fixed since v${result.fixed.version}:\n${result.fixed.findings.map((f) => `- ${f.title}${f.file ? ` (${f.file})` : ''}`).join('\n')}`,
    );
  if (ctx.scenarios?.length) notes.push(`Scenarios asked for: ${ctx.scenarios.join(', ')}.`);
  return notes;
}

/** Which messages get a reply, with which findings and notes (nothing: no reply). */
export function planReplies(result: ReviewResult, ctx: MailContext): PlannedReply[] {
  const { series } = ctx;
  const key = (index: number) => `${ctx.replyKeyPrefix}-p${index}`;
  const notes = resultNotes(result, ctx);
  const target = series.cover ?? series.patches[0]!;
  const replies: PlannedReply[] = [];
  // Without a cover letter the series' findings answer the first patch, in the
  // same mail as that patch's own findings (one reply per message).
  const seriesOnFirst = !series.cover;
  if (result.findings.length && !seriesOnFirst)
    replies.push({
      replyKey: key(0),
      index: 0,
      original: target,
      findings: result.findings,
      notes: [],
    });
  result.patches.forEach((p, pos) => {
    const original = series.patches.find((m) => m.messageId === p.messageId)!;
    const findings: Finding[] =
      seriesOnFirst && pos === 0 ? [...result.findings, ...p.findings] : p.findings;
    if (findings.length)
      replies.push({ replyKey: key(p.index), index: p.index, original, findings, notes: [] });
  });
  if (replies.length) replies[0]!.notes.push(...notes);
  else if (ctx.list.reply.allClear || ctx.askedOn) {
    const asked = ctx.askedOn
      ? [...series.patches, ...(series.cover ? [series.cover] : [])].find(
          (m) => m.messageId === ctx.askedOn,
        )
      : undefined;
    replies.push({
      replyKey: key(0),
      index: 0,
      original: asked ?? target,
      findings: [],
      notes: [
        `pcibot found nothing to report on this series${result.version > 1 ? ` (v${result.version})` : ''}.`,
        ...notes,
      ],
    });
  }
  return replies;
}

/** The replies, composed. */
export async function mailSink(
  result: ReviewResult,
  ctx: MailContext,
): Promise<(ComposedReply & { replyKey: string; index: number })[]> {
  const out: (ComposedReply & { replyKey: string; index: number })[] = [];
  for (const r of planReplies(result, ctx)) {
    const c = await composeReply({
      original: r.original,
      findings: r.findings,
      notes: r.notes,
      list: ctx.list,
      from: ctx.from,
      replyKey: r.replyKey,
      infoUrl: ctx.infoUrl,
      pageUrl: ctx.pageUrl ?? null,
      ...(ctx.date ? { date: ctx.date } : {}),
    });
    out.push({ ...c, replyKey: r.replyKey, index: r.index });
  }
  return out;
}
