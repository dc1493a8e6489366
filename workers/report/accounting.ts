// What became of each message given, in words: the one text every sink shows
// (terminal, Markdown, JSON `messages[].reason`). A patch or cover letter
// names its series and whether it was reviewed, skipped or refused; a reply
// names its thread or says what it answers is missing; a superseded message
// names the version that replaced it and why; the rest say why they were not
// used. And, when nothing was reviewed, why there is no series at all.
import type { Assembly, Disposition } from '../../bot/types.js';
import type { ReviewResult } from './types.js';

type Account = Assembly['accounting'][number];

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function seriesName(r: Pick<ReviewResult, 'title' | 'version'>): string {
  return `"${r.title}"${r.version > 1 ? ` v${r.version}` : ''}`;
}

/** What the series a message belongs to became: nothing when reviewed. */
function seriesFate(r: ReviewResult | undefined): string {
  if (!r || r.status === 'reviewed') return '';
  if (r.errors?.length) return `; refused: ${r.errors.map((e) => e.reason).join('; ')}`;
  return `; skipped: ${r.scope.reason}`;
}

/** One message's disposition and reason, in words. */
export function dispositionText(
  d: Disposition,
  seriesById: ReadonlyMap<string, ReviewResult>,
): string {
  switch (d.kind) {
    case 'patch': {
      const r = seriesById.get(d.seriesId);
      if (!r) return `patch ${d.index}`;
      // A lone [PATCH] is its own series: "patch "title"", not "patch 1/1 of".
      if (r.expected === null && r.patches.length === 1)
        return `patch ${seriesName(r)}${seriesFate(r)}`;
      return `patch ${d.index}/${r.expected ?? r.patches.length} of ${seriesName(r)}${seriesFate(r)}`;
    }
    case 'cover': {
      const r = seriesById.get(d.seriesId);
      return `cover letter${r ? ` of ${seriesName(r)}` : ''}${seriesFate(r)}`;
    }
    case 'reply':
      return d.reason;
    case 'superseded': {
      const r = seriesById.get(d.seriesId);
      return `superseded by v${d.byVersion}${r ? ` (${seriesName(r)})` : ''}: ${d.reason}`;
    }
    case 'not-a-patch':
      return `not a patch: ${d.reason}`;
    case 'duplicate':
      return `duplicate of <${d.of}>`;
    case 'id-conflict':
      return `Message-ID conflict: ${d.reason}`;
    case 'failed':
      return `unreadable: ${d.reason}`;
  }
}

/** Each account's reason, in input order. */
export function accountReasons(
  accounting: readonly Account[],
  results: readonly ReviewResult[],
): string[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  return accounting.map((a) => dispositionText(a.disposition, byId));
}

/**
 * Why an input gave no series: "1 reply, no patches in the input", "2 not
 * patches, 1 unreadable, no patches in the input"; null when it gave one.
 */
export function noSeriesReason(
  messages: readonly Pick<Account, 'disposition'>[],
  series: number,
): string | null {
  if (series > 0) return null;
  if (messages.length === 0) return 'no messages in the input';
  const n = (k: Disposition['kind']) => messages.filter((m) => m.disposition.kind === k).length;
  const parts = [
    n('reply') ? plural(n('reply'), 'reply', 'replies') : '',
    n('not-a-patch')
      ? plural(n('not-a-patch'), 'message that is not a patch', 'messages that are not patches')
      : '',
    n('duplicate') ? plural(n('duplicate'), 'duplicate', 'duplicates') : '',
    n('id-conflict') ? plural(n('id-conflict'), 'Message-ID conflict', 'Message-ID conflicts') : '',
    n('failed') ? `${n('failed')} unreadable` : '',
  ].filter(Boolean);
  return `${parts.join(', ')}, no patches in the input`;
}
