// The MIME body walk: which parts carry text (the message and any patch
// attachment), decoded from their transfer encoding and charset, CRLF turned
// into LF and format=flowed undone, and nothing else touched. We do this over
// the raw bytes instead of taking mailparser's `text`, because mailparser
// reflows format=flowed without exceptions and joins parts with its own
// separators; a patch must come out byte for byte as it was written.
import { DEFAULT_LIMITS, type InputLimits } from '../limits.js';
import { crlfToLf } from '../util/text.js';
import { decodeFlowed } from './flowed.js';
import {
  decodeBytes,
  headerValue,
  parseHeaderFields,
  parseParamHeader,
  splitHeaderBody,
  type HeaderField,
} from './headers.js';

export interface TextPart {
  /** `text/plain`, `text/x-patch`, ... */
  contentType: string;
  filename: string | null;
  attachment: boolean;
  text: string;
}

export interface MimeResult {
  parts: TextPart[];
  warnings: string[];
}

/** Text types that are not for reading as plain text. */
const NOT_PLAIN = new Set([
  'text/html',
  'text/enriched',
  'text/richtext',
  'text/calendar',
  'text/vcard',
  'text/x-vcard',
]);
/** Attachment types we never read and never warn about. */
const QUIET_SKIP =
  /^(?:application\/(?:pgp-signature|pkcs7-signature|x-pkcs7-signature|pgp-keys)|image\/)/;

/** Decode quoted-printable (latin1 string in, bytes out). Invalid escapes stay as written. */
export function decodeQuotedPrintable(s: string): Buffer {
  const noSoft = s.replace(/=[ \t]*\r?\n/g, '');
  const out = Buffer.allocUnsafe(noSoft.length);
  let n = 0;
  for (let i = 0; i < noSoft.length; i++) {
    const c = noSoft.charCodeAt(i);
    if (
      c === 0x3d &&
      i + 2 < noSoft.length &&
      /^[0-9A-Fa-f]{2}$/.test(noSoft.slice(i + 1, i + 3))
    ) {
      out[n++] = parseInt(noSoft.slice(i + 1, i + 3), 16);
      i += 2;
    } else out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

function decodeTransfer(body: string, cte: string, warnings: string[]): Buffer {
  switch (cte) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return Buffer.from(body, 'latin1');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64': {
      const clean = body.replace(/[^A-Za-z0-9+/=]/g, '');
      // Mailers pad base64 to a multiple of 4: anything else was cut off.
      if (clean.length % 4 !== 0) warnings.push('base64 body is truncated; decoded what is there');
      return Buffer.from(clean, 'base64');
    }
    default:
      warnings.push(`unknown Content-Transfer-Encoding "${cte}"; body read as is`);
      return Buffer.from(body, 'latin1');
  }
}

/** The pieces of a multipart body between its boundary lines (preamble and epilogue dropped). */
function splitMultipart(
  body: string,
  boundary: string,
  warnings: string[],
  maxPieces: number,
): string[] {
  const delim = '--' + boundary;
  const parts: string[] = [];
  let start = -1; // body start of the current part
  let pos = 0;
  let closed = false;
  while (pos <= body.length) {
    const at = body.indexOf(delim, pos);
    if (at < 0) break;
    const atLineStart = at === 0 || body[at - 1] === '\n';
    const after = body.slice(at + delim.length, at + delim.length + 2);
    let lineEnd = body.indexOf('\n', at);
    if (lineEnd < 0) lineEnd = body.length;
    const rest = body.slice(at + delim.length, lineEnd).replace(/\r$/, '');
    const isClose = after === '--';
    if (!atLineStart || !(isClose ? /^--\s*$/.test(rest) : /^\s*$/.test(rest))) {
      pos = at + delim.length;
      continue;
    }
    if (start >= 0) {
      // The line break before the delimiter belongs to the delimiter.
      let end = at;
      if (body[end - 1] === '\n') end--;
      if (body[end - 1] === '\r') end--;
      parts.push(body.slice(start, Math.max(start, end)));
      if (parts.length >= maxPieces) return parts;
    }
    if (isClose) {
      closed = true;
      break;
    }
    start = lineEnd + 1;
    pos = start;
  }
  if (!closed) {
    if (start >= 0) {
      parts.push(body.slice(start));
      warnings.push(`multipart body has no closing boundary "--${boundary}--"; read to the end`);
    }
  }
  return parts;
}

interface Walk {
  parts: TextPart[];
  warnings: string[];
  /** Entities walked so far, against maxParts. */
  entities: number;
  maxDepth: number;
  maxParts: number;
  /** The part limit was hit (warned once). */
  cut: boolean;
}

function filenameOf(fields: HeaderField[]): string | null {
  const disp = parseParamHeader(headerValue(fields, 'content-disposition'));
  const type = parseParamHeader(headerValue(fields, 'content-type'));
  return disp.params['filename'] ?? type.params['name'] ?? null;
}

function walkEntity(
  fields: HeaderField[],
  body: string,
  depth: number,
  w: Walk,
  defaultType = 'text/plain',
): void {
  const ct = parseParamHeader(headerValue(fields, 'content-type'));
  const type = ct.value || defaultType;
  const disposition = parseParamHeader(headerValue(fields, 'content-disposition')).value;
  const filename = filenameOf(fields);

  if (++w.entities > w.maxParts) {
    if (!w.cut)
      w.warnings.push(
        `more than maxMimeParts (${w.maxParts}) MIME parts; the rest of the message was ignored`,
      );
    w.cut = true;
    return;
  }
  if (type.startsWith('multipart/')) {
    if (depth >= w.maxDepth) {
      w.warnings.push(`MIME nesting deeper than ${w.maxDepth} (maxMimeDepth); inner parts ignored`);
      return;
    }
    const boundary = ct.params['boundary'];
    if (!boundary) {
      w.warnings.push(`${type} without a boundary; body read as plain text`);
      leaf(fields, body, 'text/plain', ct.params, false, null, w);
      return;
    }
    // (never more pieces than parts may still be walked: a flood of boundaries stays cheap)
    const pieces = splitMultipart(body, boundary, w.warnings, w.maxParts - w.entities + 1);
    const children = pieces.map((p) => {
      const split = splitHeaderBody(p);
      return { fields: parseHeaderFields(split.header).fields, body: split.body };
    });
    const childDefault = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    if (type === 'multipart/alternative') {
      // Prefer the plain-text rendering; fall back to the first alternative.
      const plain = children.find((c) => {
        const t = parseParamHeader(headerValue(c.fields, 'content-type')).value || 'text/plain';
        return t === 'text/plain' || t.startsWith('multipart/');
      });
      if (plain) walkEntity(plain.fields, plain.body, depth + 1, w);
      else if (children[0]) walkEntity(children[0].fields, children[0].body, depth + 1, w);
      return;
    }
    for (const c of children) walkEntity(c.fields, c.body, depth + 1, w, childDefault);
    return;
  }
  if (type === 'message/rfc822') {
    w.warnings.push(`an attached message${filename ? ` (${filename})` : ''} was not read`);
    return;
  }
  const isPatchFile = filename !== null && /\.(?:patch|diff)$/i.test(filename);
  if (type.startsWith('text/') && !NOT_PLAIN.has(type)) {
    leaf(fields, body, type, ct.params, disposition === 'attachment', filename, w);
  } else if (isPatchFile) {
    leaf(fields, body, type, ct.params, true, filename, w);
  } else if (NOT_PLAIN.has(type)) {
    w.warnings.push(`${type} part ignored (only plain text is read)`);
  } else if (!QUIET_SKIP.test(type)) {
    w.warnings.push(`attachment ${filename ? `"${filename}" ` : ''}(${type}) ignored`);
  }
}

/** A format-patch file as an attachment starts with its own mbox From line and headers. */
const FORMAT_PATCH_START = /^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\n/;

function leaf(
  fields: HeaderField[],
  body: string,
  type: string,
  params: Record<string, string>,
  attachment: boolean,
  filename: string | null,
  w: Walk,
): void {
  const cte = (headerValue(fields, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  const bytes = decodeTransfer(body, cte, w.warnings);
  const charset = params['charset'] ?? '';
  const decoded = decodeBytes(bytes, charset);
  if (decoded.problem) w.warnings.push(decoded.problem);
  let text = crlfToLf(decoded.text);
  if ((params['format'] ?? '').toLowerCase() === 'flowed') {
    text = decodeFlowed(text, (params['delsp'] ?? '').toLowerCase() === 'yes');
  }
  if (attachment && FORMAT_PATCH_START.test(text)) {
    // Keep what git am would use: the message after the attachment's own headers.
    const blank = text.indexOf('\n\n');
    text = blank >= 0 ? text.slice(blank + 2) : '';
  }
  w.parts.push({ contentType: type, filename, attachment, text });
}

/** Walk a message body given its top-level header fields. */
export function readTextParts(
  topFields: HeaderField[],
  body: string,
  limits: Pick<InputLimits, 'maxMimeDepth' | 'maxMimeParts'> = DEFAULT_LIMITS,
): MimeResult {
  const w: Walk = {
    parts: [],
    warnings: [],
    entities: 0,
    maxDepth: limits.maxMimeDepth,
    maxParts: limits.maxMimeParts,
    cut: false,
  };
  walkEntity(topFields, body, 0, w);
  if (w.parts.length === 0) w.warnings.push('no text/plain part in the message');
  return { parts: w.parts, warnings: w.warnings };
}
