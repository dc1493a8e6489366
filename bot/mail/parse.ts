// RawMail -> Message: headers through mailparser (encoded words, folding,
// addresses), the body through our own MIME walk (./mime.ts) so the patch is
// never reflowed, then the commit message, diff, trailers and b4 lines.
import { createHash } from 'node:crypto';
import { simpleParser, type AddressObject, type EmailAddress } from 'mailparser';
import type { Address, Message, ParseFailure, RawMail } from '../types.js';
import { extractDiff, parseTrailers, readB4Info } from './body.js';
import { headerValue, parseHeaderFields, splitHeaderBody, type HeaderField } from './headers.js';
import { formatBytes, resolveLimits, type InputLimits } from '../limits.js';
import { touchedPaths } from './diffpaths.js';
import { readTextParts } from './mime.js';
import { notAMail } from './shape.js';
import { parseSubject } from './subject.js';

export { extractDiff, parseTrailers } from './body.js';
export { parseSubject } from './subject.js';

export function isParseFailure(x: Message | ParseFailure): x is ParseFailure {
  return (x as Message).tags === undefined && typeof (x as ParseFailure).reason === 'string';
}

/** Message-IDs in a header value, without angle brackets, in order, de-duplicated. */
function messageIds(value: string | undefined): string[] {
  if (!value) return [];
  const ids = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  if (ids.length === 0) {
    // Some mailers drop the brackets: accept bare id@host tokens.
    for (const t of value.split(/[\s,]+/)) if (/^[^\s<>@]+@[^\s<>@]+$/.test(t)) ids.push(t);
  }
  return [...new Set(ids)];
}

function flattenAddresses(obj: AddressObject | AddressObject[] | undefined): Address[] {
  const out: Address[] = [];
  const visit = (list: EmailAddress[]) => {
    for (const a of list) {
      if (a.group) visit(a.group);
      else if (a.address || a.name) out.push({ name: a.name ?? '', address: a.address ?? '' });
    }
  };
  for (const o of obj === undefined ? [] : Array.isArray(obj) ? obj : [obj]) visit(o.value);
  return out;
}

/** The fields mailparser decodes for us; the rest (Received chains, DKIM, ...) it need not see. */
const DECODED_FIELDS = new Set(['from', 'to', 'cc', 'subject', 'date']);

/**
 * Header bytes as mailparser should see them: only the fields it decodes for
 * us (unfolded), in UTF-8, or recoded from Latin-1 when they are not UTF-8.
 */
function headerBuffer(fields: HeaderField[], warnings: string[]): Buffer {
  const header = fields
    .filter((f) => DECODED_FIELDS.has(f.name))
    .map((f) => `${f.name}: ${f.value}`)
    .join('\r\n');
  const bytes = Buffer.from(header + '\r\n\r\n', 'latin1');
  if (!/[\x80-\xff]/.test(header)) return bytes;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return bytes;
  } catch {
    warnings.push('raw 8-bit header bytes are not UTF-8; read as Latin-1');
    return Buffer.from(new TextDecoder('windows-1252').decode(bytes), 'utf8');
  }
}

/**
 * A copy of `s` that shares no memory with the string it was cut from. V8
 * keeps substrings as views of their parent: a Message-ID cut from the raw
 * mail would keep the whole mail (and the 1 MiB read chunk under it) alive
 * for as long as the Message lives. utf16le round-trips any JS string.
 */
function detach(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf16le').toString('utf16le');
}

/** At most this many warnings per message are kept (a message can repeat one per MIME part). */
const MAX_WARNINGS = 20;

/** The same warning once, and no more than MAX_WARNINGS of them. */
function tidyWarnings(warnings: string[]): string[] {
  const unique = [...new Set(warnings)].map(detach);
  if (unique.length <= MAX_WARNINGS) return unique;
  return [
    ...unique.slice(0, MAX_WARNINGS - 1),
    `... and ${unique.length - MAX_WARNINGS + 1} more warnings`,
  ];
}

/** Lines of a text (newline count, plus an unterminated last line). */
function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') || text === '' ? n : n + 1;
}

/** Why a diff is beyond the limits, or null. */
function diffTooBig(diff: string, limits: InputLimits): string | null {
  const lines = countLines(diff);
  if (lines > limits.maxDiffLines)
    return `the diff has ${lines} lines, more than maxDiffLines (${limits.maxDiffLines}); not reviewed`;
  const touched = touchedPaths(diff);
  const files = touched.paths.length + touched.invalid.length;
  if (files > limits.maxDiffFiles)
    return `the diff touches ${files} files, more than maxDiffFiles (${limits.maxDiffFiles}); not reviewed`;
  return null;
}

/**
 * Parse one mail. Never throws: whatever the bytes, the result is a Message
 * or a ParseFailure saying why (limits included: message, header and diff
 * size; see bot/limits.ts).
 */
export async function parseMail(
  raw: RawMail,
  limitsIn: Partial<InputLimits> = {},
): Promise<Message | ParseFailure> {
  try {
    const r = await parseMailUnguarded(raw, resolveLimits(limitsIn));
    if (isParseFailure(r)) {
      r.reason = detach(r.reason);
      if (r.messageId !== undefined) r.messageId = detach(r.messageId);
      if (r.subject !== undefined) r.subject = detach(r.subject);
    }
    return r;
  } catch (err) {
    // A bug, not the input's fault; still only this message fails.
    return {
      origin: raw.origin,
      reason: `unparsable mail (pcibot error: ${err instanceof Error ? err.message : String(err)})`,
    };
  }
}

async function parseMailUnguarded(
  raw: RawMail,
  limits: InputLimits,
): Promise<Message | ParseFailure> {
  if (raw.raw.length > limits.maxMessageBytes)
    return {
      origin: raw.origin,
      reason: `message larger than maxMessageBytes (${formatBytes(limits.maxMessageBytes)}): ${raw.raw.length} bytes; not read`,
    };
  let text = raw.raw;
  if (text.startsWith('\xef\xbb\xbf')) text = text.slice(3); // UTF-8 BOM from an editor
  if (text.startsWith('From ')) text = text.slice(text.indexOf('\n') + 1 || text.length); // mbox From_ line
  const problem = notAMail(text);
  if (problem) return { origin: raw.origin, ...problem };

  const warnings: string[] = [];
  const split = splitHeaderBody(text);
  if (split.header.length > limits.maxHeaderBytes)
    return {
      origin: raw.origin,
      reason: `header block larger than maxHeaderBytes (${formatBytes(limits.maxHeaderBytes)}): ${split.header.length} bytes; not read`,
    };
  const { fields, junk } = parseHeaderFields(split.header);
  if (junk.length > 0)
    warnings.push(`header line(s) ${junk.join(', ')} are not header fields; ignored`);

  let messageId = messageIds(headerValue(fields, 'message-id'))[0] ?? null;
  let subjectGuess: string | undefined;
  try {
    const parsed = await simpleParser(headerBuffer(fields, warnings), {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
    });
    subjectGuess = parsed.subject;
    if (!messageId) {
      // Stable across runs and machines: the same bytes give the same id.
      const hash = createHash('sha256')
        .update(Buffer.from(text, 'latin1'))
        .digest('hex')
        .slice(0, 32);
      messageId = `pcibot-${hash}@synthesised.invalid`;
      warnings.push(`no Message-ID header; using synthesised <${messageId}>`);
    }
    const subject = parsed.subject ?? '';
    if (headerValue(fields, 'subject') === undefined) warnings.push('no Subject header');
    const fromList = flattenAddresses(parsed.from);
    if (fromList.length === 0) warnings.push('no From header (or no address in it)');
    const from = fromList[0] ?? { name: '', address: '' };

    const rawDate = headerValue(fields, 'date');
    let date: string | null = null;
    if (rawDate === undefined) warnings.push('no Date header');
    else {
      const d =
        parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : new Date(rawDate);
      if (Number.isNaN(d.getTime())) warnings.push(`unreadable Date header "${rawDate}"`);
      else date = d.toISOString();
    }

    const mime = readTextParts(fields, split.body, limits);
    for (const w of mime.warnings) warnings.push(w);
    let body = '';
    for (const part of mime.parts) {
      if (body !== '' && !body.endsWith('\n')) body += '\n';
      body += part.text;
    }
    const extracted = extractDiff(body);
    const tooBig = extracted.diff === null ? null : diffTooBig(extracted.diff, limits);
    if (tooBig) return { origin: raw.origin, reason: tooBig, messageId, subject };
    const b4 = readB4Info(body);
    for (const w of b4.warnings) warnings.push(w);

    const inReplyTo = messageIds(headerValue(fields, 'in-reply-to'))[0];
    return {
      origin: raw.origin,
      messageId: detach(messageId),
      inReplyTo: inReplyTo === undefined ? null : detach(inReplyTo),
      references: messageIds(headerValue(fields, 'references')).map(detach),
      subject,
      tags: parseSubject(subject),
      from,
      to: flattenAddresses(parsed.to),
      cc: flattenAddresses(parsed.cc),
      date,
      body,
      commitMessage: extracted.commitMessage,
      diff: extracted.diff,
      diffLine: extracted.diffLine,
      trailers: parseTrailers(extracted.commitMessage),
      baseCommit: b4.baseCommit,
      changeId: b4.changeId,
      prerequisites: b4.prerequisites,
      warnings: tidyWarnings(warnings),
    };
  } catch (err) {
    const failure: ParseFailure = {
      origin: raw.origin,
      reason: `unparsable mail: ${err instanceof Error ? err.message : String(err)}`,
    };
    if (messageId) failure.messageId = messageId;
    if (subjectGuess) failure.subject = subjectGuess;
    return failure;
  }
}
