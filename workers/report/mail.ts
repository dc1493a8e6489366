// The mail sink: a ReviewResult as replies on the list. It decides which
// messages are answered and with what, per the list's `reply.mode`:
//   series (default): one reply to the cover letter (or patch 1 without
//     one) holding the series' findings and every patch's, each patch's under
//     its subject with its own hunks quoted;
//   patch: each patch's reported findings under that patch, the series'
//     findings under the cover letter, or with the first patch's when there
//     is none; one reply per message.
// A reply made only of info findings is never sent (they ride along in a
// reply that has a warning or an error). The notes about missing patches,
// what the previous version had and the scenarios asked for go with the first
// reply. Each reply is composed by bot/outbound/compose.ts, the one mail
// formatter (quoting, wrapping, headers). Pure: the same result and context
// give the same mails.
import {
  composeReply,
  type ComposedReply,
  type ReplySection,
  type ReplySettings,
} from '../../bot/outbound/compose.js';
import type { Address, Finding, Message, Series } from '../../bot/types.js';
import type { ReviewResult } from './types.js';

export interface MailContext {
  /** The series the result is of: the messages answered and quoted. */
  series: Series;
  list: {
    address: string;
    reply: ReplySettings & { allClear: boolean; mode?: 'series' | 'patch' };
  };
  from: Address;
  /** Reply keys are `<replyKeyPrefix>-p<patch index>` (0: the cover letter) or, in series mode, `<replyKeyPrefix>-s`. */
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
  /** Series mode: the findings per patch (compose.ts quotes each from its patch). */
  sections?: ReplySection[];
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
  const mode = ctx.list.reply.mode ?? 'series';
  const key = (index: number) => `${ctx.replyKeyPrefix}-p${index}`;
  const notes = resultNotes(result, ctx);
  const target = series.cover ?? series.patches[0]!;
  const patchMessage = (messageId: string) =>
    series.patches.find((m) => m.messageId === messageId)!;
  let replies: PlannedReply[] = [];
  if (mode === 'series') {
    const sections: ReplySection[] = [];
    if (result.findings.length)
      sections.push({ message: target, heading: null, findings: result.findings });
    for (const p of result.patches)
      if (p.findings.length)
        sections.push({
          message: patchMessage(p.messageId),
          heading: p.subject,
          findings: p.findings,
        });
    const findings = sections.flatMap((x) => x.findings);
    if (findings.length)
      replies.push({
        replyKey: `${ctx.replyKeyPrefix}-s`,
        index: series.cover ? 0 : (result.patches[0]?.index ?? 1),
        original: target,
        findings,
        sections,
        notes: [],
      });
  } else {
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
      const findings: Finding[] =
        seriesOnFirst && pos === 0 ? [...result.findings, ...p.findings] : p.findings;
      if (findings.length)
        replies.push({
          replyKey: key(p.index),
          index: p.index,
          original: patchMessage(p.messageId),
          findings,
          notes: [],
        });
    });
  }
  // Notes (info) alone are not worth a mail.
  replies = replies.filter((r) => r.findings.some((f) => f.severity !== 'info'));
  if (replies.length) replies[0]!.notes.push(...notes);
  else if (ctx.list.reply.allClear || ctx.askedOn) {
    const asked = ctx.askedOn
      ? [...series.patches, ...(series.cover ? [series.cover] : [])].find(
          (m) => m.messageId === ctx.askedOn,
        )
      : undefined;
    const onlyInfo =
      result.findings.length > 0 || result.patches.some((p) => p.findings.length > 0);
    replies.push({
      replyKey: mode === 'series' ? `${ctx.replyKeyPrefix}-s` : key(0),
      index: 0,
      original: asked ?? target,
      findings: [],
      notes: [
        `pcibot found ${onlyInfo ? 'nothing at warning or error level' : 'nothing to report'} on this series${result.version > 1 ? ` (v${result.version})` : ''}.`,
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
      ...(r.sections ? { sections: r.sections } : {}),
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
