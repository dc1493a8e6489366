// Is this a mail at all? A cheap check that ingest and parse share, so that an
// empty mbox entry, binary garbage or a web page saved from a list archive
// becomes a clear ParseFailure instead of a nonsense Message.
import { parseHeaderFields, splitHeaderBody } from './headers.js';

/** Headers at least one of which any real message (or format-patch file) carries. */
const MAIL_HEADERS = new Set([
  'from',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'received',
  'return-path',
  'mime-version',
  'content-type',
  'in-reply-to',
  'references',
  'delivered-to',
  'sender',
]);

// These run on up to 8 KiB of anything (a file that is not a mail at all), so
// none may backtrack over an unbounded run: no `^\s*` under the m flag (it
// spans blank lines), no `[^\]]*` between brackets (a run of `[` rescans).

/** A bracket group naming PATCH: `[PATCH v2 1/3]`, `[RFC PATCH]` (bounded, no nested brackets). */
const PATCH_GROUP = /\[[^\][\n]{0,200}PATCH[^\][\n]{0,200}\]/i;

/** What a web page copy of a list thread tends to contain near its top. */
const WEB_HINTS = new RegExp(
  [
    /^[ \t]*(?:From|Date|Subject|Message-I[Dd]|To|Cc)[ \t]*:/.source,
    /\[(?:Date|Thread) (?:Prev|Next|Index)\]/.source,
    /^[ \t]*(?:Re|Fwd?|Aw):\s/.source,
    PATCH_GROUP.source,
    /mailing list archive|lore\.kernel\.org|patchwork|<\/?(?:html|body|div|head)\b/.source,
  ].join('|'),
  'im',
);

export interface ShapeProblem {
  reason: string;
  /** Best guesses, for the failure record. */
  messageId?: string;
  subject?: string;
}

/**
 * Why `raw` (a latin1 string, one char per byte) is not a mail, or null when
 * it has a plausible header block.
 */
export function notAMail(raw: string): ShapeProblem | null {
  // A BOM from an editor and an mbox From_ line on top do not make a mail less of a mail.
  if (raw.startsWith('\xef\xbb\xbf')) raw = raw.slice(3);
  if (raw.startsWith('From ')) raw = raw.slice(raw.indexOf('\n') + 1 || raw.length);
  if (raw.trim() === '')
    return { reason: raw.length === 0 ? 'empty entry' : 'empty entry (only whitespace)' };
  const probe = raw.length > 65536 ? raw.slice(0, 65536) : raw;
  const nul = probe.indexOf('\0');
  if (nul >= 0) return { reason: `binary data, not a mail (NUL byte at offset ${nul})` };
  // Bytes below 0x20 other than tab/CR/LF/FF/ESC are not text.
  const head = probe.slice(0, 4096);
  let controls = 0;
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27) controls++;
  }
  if (controls > 8)
    return {
      reason: `binary data, not a mail (${controls} control bytes in the first ${head.length})`,
    };

  if (/^\s*<(?:!doctype|html|\?xml)/i.test(probe)) {
    return { reason: 'not a mail: an HTML document (a saved web page?)', ...guessIds(probe) };
  }
  // The header block, as far as it matters here (a mail's first 16 KiB hold it).
  const { header } = splitHeaderBody(probe.length > 16384 ? probe.slice(0, 16384) : probe);
  const { fields } = parseHeaderFields(header);
  const firstIsField = header !== '' && /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(header);
  if (!firstIsField || !fields.some((f) => MAIL_HEADERS.has(f.name))) {
    const looksWeb = WEB_HINTS.test(probe.slice(0, 8192));
    // A first line like "Re: [PATCH] ..." is a header field by syntax but no mail header.
    // Never quote the input: it may be any file (a symlink to a secret, a config file).
    if (looksWeb)
      return {
        reason: 'not a mail: no header block; looks like a copy of a web page',
        ...guessIds(probe),
      };
    return {
      reason: firstIsField
        ? 'not a mail: no header block (no From, Subject, Message-ID or other mail header field)'
        : 'not a mail: no header block (the first line is not a "Name: value" header field)',
    };
  }
  return null;
}

/** Message-ID and subject that a web page copy may still show, for the failure record. */
function guessIds(text: string): { messageId?: string; subject?: string } {
  const top = text.slice(0, 8192);
  const out: { messageId?: string; subject?: string } = {};
  const mid = /^[ \t]*Message[- ]I[Dd]:?[ \t]*<?([^\s<>@]+@[^\s<>]+?)>?(?:\s|$)/m.exec(top);
  if (mid) out.messageId = mid[1]!;
  const subj = /^Subject:[ \t]*(.+(?:\r?\n[ \t]+.+)*)/m.exec(top);
  if (subj) out.subject = subj[1]!.replace(/\r?\n[ \t]+/g, ' ').trim();
  else {
    const lines = top.split(/\r?\n/);
    const title =
      lines.find((l) => PATCH_GROUP.test(l)) ??
      lines.find((l) => /^[ \t]*\[v?\d+,[ \t]*\d+\/\d+\]/.test(l));
    if (title) out.subject = title.trim();
  }
  return out;
}
