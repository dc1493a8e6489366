// Composing a reply on the list, the way a reviewer would write it: threaded
// under the patch (Re: subject, In-Reply-To, References), to the author with
// the list and the original Cc's copied, plain text wrapped at 72 columns, the
// relevant part of the hunk quoted with "> " and the comment below it (no
// top-posting), and a short signature saying what pcibot is and how to
// re-trigger or silence it. Pure: the same input gives the same message.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Address, Finding, Message } from '../types.js';
import { readFileSections } from '../util/diff/files.js';
import { wrapWords } from '../util/text.js';

export const WRAP = 72;

export interface ReplySettings {
  ccList: boolean;
  ccOriginal: boolean;
}

/** Findings about one message of a series, quoted from that message (a series reply has several). */
export interface ReplySection {
  /** The message the findings are about: their hunks are quoted from its diff. */
  message: Message;
  /** A line naming the patch ("[PATCH 2/3] PCI: Foo"); null: no heading (the series itself). */
  heading: string | null;
  findings: Finding[];
}

export interface ReplyInput {
  /** The mail replied to (a patch, or the cover letter for series-level findings). */
  original: Message;
  findings: Finding[];
  /**
   * A reply for the whole series: the findings per patch, each under its
   * heading with hunks quoted from its own patch. When set, `findings` is
   * not used.
   */
  sections?: ReplySection[];
  /** Extra paragraphs: missing parts, what v(N-1) findings are fixed, an all-clear line. */
  notes: string[];
  list: { address: string; reply: ReplySettings };
  from: Address;
  /** Unique per reply; the Message-ID is derived from it. */
  replyKey: string;
  infoUrl?: string | null;
  /** The series' report page (address maps and all); null: no link. */
  pageUrl?: string | null;
  date?: Date;
}

export interface ComposedReply {
  messageId: string;
  subject: string;
  inReplyTo: string;
  references: string[];
  to: Address[];
  cc: Address[];
  text: string;
  /** The whole message, ready for SMTP or an .eml file. */
  eml: string;
  envelope: { from: string; to: string[] };
}

/** One paragraph for a mail: wrapWords() at `width` (72) columns, `indent` on continuation lines. */
export const wrapParagraph = (text: string, width = WRAP, indent = ''): string[] =>
  wrapWords(text, width, '', indent);

export function replySubject(subject: string): string {
  return /^\s*re\s*:/i.test(subject) ? subject.trim() : `Re: ${subject.trim()}`;
}

interface HunkLine {
  text: string;
  /** New-side line number for ' ' and '+' lines. */
  newLine: number | null;
}

interface Hunk {
  file: string;
  header: string;
  lines: HunkLine[];
}

/**
 * The hunks of a unified diff, with new-side line numbers, for quoting: each
 * under the file it changes (its new name, read as the diff model reads it:
 * quoted names undone, `b/` removed). Hunks of deleted files are left out.
 */
export function diffHunks(diff: string): Hunk[] {
  return readFileSections(diff).flatMap((s) =>
    s.newPath === null
      ? []
      : s.hunks.map((h) => ({
          file: s.newPath!,
          header: h.header,
          lines: h.body.map((l) => ({ text: l.raw, newLine: l.newLine })),
        })),
  );
}

/**
 * The lines to quote for a finding: the hunk header and the lines around the
 * finding's line (a few before, two after), or the start of the file's first
 * hunk when the finding has no line. Empty when the file is not in the diff.
 */
export function quoteFor(
  diff: string | null,
  file: string | undefined,
  line: number | undefined,
): string[] {
  if (!diff || !file) return [];
  const hunks = diffHunks(diff).filter((h) => h.file === file);
  if (hunks.length === 0) return [];
  let hunk = hunks[0]!;
  let at = -1;
  if (line !== undefined) {
    for (const h of hunks) {
      const i = h.lines.findIndex((l) => l.newLine === line);
      if (i >= 0) {
        hunk = h;
        at = i;
        break;
      }
    }
  }
  const body = hunk.lines;
  const from = at < 0 ? 0 : Math.max(0, at - 6);
  const to = at < 0 ? Math.min(body.length, 8) : Math.min(body.length, at + 3);
  const out = [hunk.header];
  if (from > 0) out.push(' [...]');
  out.push(...body.slice(from, to).map((l) => l.text));
  if (to < body.length) out.push(' [...]');
  return out;
}

/**
 * For a finding about the commit message (no file): the message lines its
 * evidence points at (a trailer, a sentence), so the reply still quotes what
 * it talks about. Empty when nothing matches.
 */
export function quoteFromMessage(m: Message, f: Finding): string[] {
  const needles = Object.values(f.evidence)
    .filter((v): v is string => typeof v === 'string' && v.trim().length >= 8)
    .map((v) => v.trim());
  if (needles.length === 0) return [];
  const lines = m.commitMessage.split('\n');
  const hits = lines.filter(
    (l) =>
      l.trim().length > 0 &&
      needles.some((n) => l.includes(n) || (l.trim().length >= 8 && n.includes(l.trim()))),
  );
  return hits.slice(0, 4);
}

function formatFinding(f: Finding): string[] {
  const lines: string[] = [];
  const where = f.file ? ` (${f.file}${f.line ? `:${f.line}` : ''})` : '';
  lines.push(
    ...wrapParagraph(
      `${f.severity === 'error' ? 'Error' : f.severity === 'warning' ? 'Warning' : 'Note'}: ${f.title}${where}`,
    ),
  );
  lines.push('');
  for (const para of f.detail.split(/\n\s*\n/)) {
    lines.push(...wrapParagraph(para));
    lines.push('');
  }
  if (f.references.length) {
    lines.push('See:');
    for (const r of f.references)
      lines.push(...wrapParagraph(r, WRAP, '    ').map((l, i) => (i === 0 ? `  ${l}` : l)));
    lines.push('');
  }
  lines.push(`[pcibot rule: ${f.rule}]`);
  return lines;
}

export function signature(infoUrl?: string | null, pageUrl?: string | null): string[] {
  // Written out (not wrapped) so the commands are never split across lines;
  // the page's URL on a line of its own, whole, so mail readers link it.
  return [
    '-- ',
    'pcibot, an automated reviewer for PCI and VFIO patches. It can be',
    "wrong; a maintainer's word counts.",
    ...(pageUrl ? ['The report, with the BAR address maps:', pageUrl] : []),
    ...(infoUrl ? wrapParagraph(infoUrl) : []),
    'Maintainers: reply "pcibot: review" to run it again, or',
    '"pcibot: quiet" to stop its replies on this thread.',
  ];
}

function attribution(m: Message): string {
  const who = m.from.name || m.from.address;
  const when = m.date ? new Date(m.date) : null;
  const day =
    when && !Number.isNaN(when.getTime())
      ? `On ${when.toUTCString().replace(/ GMT$/, ' +0000')}, `
      : '';
  return `${day}${who} wrote:`;
}

/** The findings of one section: for each, the quoted hunk (once) and the comment. */
function sectionText(message: Message, findings: Finding[], quoted: Set<string>): string[] {
  const out: string[] = [];
  for (const f of findings) {
    const hunk = quoteFor(message.diff, f.file, f.mailLine ?? f.line);
    const quote = hunk.length ? hunk : quoteFromMessage(message, f);
    const key = `${message.messageId}\n${quote.join('\n')}`;
    if (quote.length && !quoted.has(key)) {
      quoted.add(key);
      if (hunk.length) out.push(`> +++ b/${f.file}`);
      out.push(...quote.map((l) => `> ${l}`.trimEnd()));
      out.push('');
    }
    out.push(...formatFinding(f));
    out.push('');
  }
  return out;
}

/** The sections a reply is made of (one, under no heading, for a reply to one patch). */
export function replySections(input: Pick<ReplyInput, 'original' | 'findings' | 'sections'>) {
  return input.sections ?? [{ message: input.original, heading: null, findings: input.findings }];
}

/** The body: attribution, then for each finding the quoted hunk and the comment, then notes and signature. */
export function replyText(input: ReplyInput): string {
  const out: string[] = [];
  const quoted = new Set<string>();
  const { original } = input;
  const sections = replySections(input).filter((s) => s.findings.length > 0);
  const anyQuote = sections.some((s) =>
    s.findings.some(
      (f) =>
        quoteFor(s.message.diff, f.file, f.mailLine ?? f.line).length > 0 ||
        quoteFromMessage(s.message, f).length > 0,
    ),
  );
  if (anyQuote) {
    out.push(...wrapParagraph(attribution(original)));
    out.push('');
  }
  for (const sec of sections) {
    if (sec.heading) {
      out.push(...wrapParagraph(sec.heading));
      out.push('');
    }
    out.push(...sectionText(sec.message, sec.findings, quoted));
  }
  out.push(...notesText(input.notes));
  out.push(...signature(input.infoUrl, input.pageUrl));
  return out.join('\n') + '\n';
}

function notesText(notes: string[]): string[] {
  const out: string[] = [];
  for (const note of notes) {
    for (const para of note.split(/\n\s*\n/)) {
      // Prose is wrapped; "- item" lines keep their list shape.
      let prose: string[] = [];
      const flush = () => {
        if (prose.length) out.push(...wrapParagraph(prose.join(' ')));
        prose = [];
      };
      for (const l of para.split('\n')) {
        if (/^\s*- /.test(l)) {
          flush();
          out.push(...wrapParagraph(l.trim(), WRAP, '  '));
        } else prose.push(l);
      }
      flush();
      out.push('');
    }
  }
  return out;
}

const angle = (id: string) => `<${id}>`;
const sameAddr = (a: Address, b: Address) => a.address.toLowerCase() === b.address.toLowerCase();

/** Who gets the reply: To the author; Cc the list and (if configured) the original To/Cc, without duplicates or ourselves. */
export function replyRecipients(input: Pick<ReplyInput, 'original' | 'list' | 'from'>): {
  to: Address[];
  cc: Address[];
} {
  const to = [input.original.from].filter((a) => a.address);
  const cc: Address[] = [];
  const add = (a: Address) => {
    if (
      !a.address ||
      sameAddr(a, input.from) ||
      to.some((t) => sameAddr(t, a)) ||
      cc.some((c) => sameAddr(c, a))
    )
      return;
    cc.push(a);
  };
  if (input.list.reply.ccList) add({ name: '', address: input.list.address });
  if (input.list.reply.ccOriginal)
    for (const a of [...input.original.to, ...input.original.cc]) add(a);
  return { to, cc };
}

export function replyMessageId(replyKey: string, from: Address): string {
  const domain = from.address.split('@')[1] || 'localhost';
  return `pcibot-${replyKey}@${domain}`;
}

/** The reply key of one of pcibot's own Message-IDs (replyMessageId's inverse), else null. */
export function replyKeyOf(messageId: string, from: Address): string | null {
  const domain = (from.address.split('@')[1] || 'localhost').toLowerCase();
  const m = /^<?pcibot-([A-Za-z0-9_.-]+)@([^>]+)>?$/.exec(messageId.trim());
  return m && m[2]!.toLowerCase() === domain ? m[1]! : null;
}

export async function composeReply(input: ReplyInput): Promise<ComposedReply> {
  const { to, cc } = replyRecipients(input);
  return build(input, to, cc, replyText(input));
}

export interface NoticeInput {
  /** The mail answered (a maintainer's command). */
  original: Message;
  /** Paragraphs; wrapped at 72 columns. */
  paragraphs: string[];
  from: Address;
  /** Unique per notice; the Message-ID is derived from it. */
  replyKey: string;
  infoUrl?: string | null;
  date?: Date;
}

/**
 * A short answer to the sender only (no list, no Cc): why a command was not
 * carried out. Threaded like any reply; same headers, same signature.
 */
export async function composeNotice(input: NoticeInput): Promise<ComposedReply> {
  const out: string[] = [];
  for (const p of input.paragraphs) {
    out.push(...wrapParagraph(p));
    out.push('');
  }
  out.push(...signature(input.infoUrl));
  const to = [input.original.from].filter((a) => a.address);
  return build(input, to, [], out.join('\n') + '\n');
}

async function build(
  input: Pick<ReplyInput, 'original' | 'from' | 'replyKey' | 'date'>,
  to: Address[],
  cc: Address[],
  text: string,
): Promise<ComposedReply> {
  const { original } = input;
  const messageId = replyMessageId(input.replyKey, input.from);
  const references = [
    ...original.references.filter((r) => r !== original.messageId),
    original.messageId,
  ];
  const subject = replySubject(original.subject);
  const composer = new MailComposer({
    from: { name: input.from.name, address: input.from.address },
    to: to.map((a) => ({ name: a.name, address: a.address })),
    ...(cc.length ? { cc: cc.map((a) => ({ name: a.name, address: a.address })) } : {}),
    subject,
    text,
    messageId: angle(messageId),
    inReplyTo: angle(original.messageId),
    references: references.map(angle),
    date: input.date ?? new Date(),
    headers: {
      // RFC 3834: tells vacation responders and other bots not to answer.
      'Auto-Submitted': 'auto-generated',
      'X-Pcibot-Reply': input.replyKey,
    },
  });
  const eml = unencodedBody((await composer.compile().build()).toString('utf8'), text);
  return {
    messageId,
    subject,
    inReplyTo: original.messageId,
    references,
    to,
    cc,
    text,
    eml,
    envelope: { from: input.from.address, to: [...to, ...cc].map((a) => a.address) },
  };
}

/** The longest line SMTP carries (RFC 5321 4.5.3.1.6), CRLF not counted. */
const MAX_LINE_OCTETS = 998;

/**
 * The reply's body as written, not quoted-printable. nodemailer picks
 * quoted-printable for any line past 76 characters, and quoted kernel code
 * often is (the kernel allows 100 columns): the raw mail, which is what a
 * maintainer's mutt or lore's raw view shows, then has `=3D` and soft breaks
 * in the quoted hunk. Mail on the kernel lists is plain 7bit or 8bit text, as
 * git send-email writes it; we do the same whenever SMTP can carry it (every
 * line within 998 octets, no bare CR or NUL), and keep nodemailer's encoding
 * otherwise.
 */
export function unencodedBody(eml: string, text: string): string {
  const split = eml.indexOf('\r\n\r\n');
  if (split < 0) return eml;
  const head = eml.slice(0, split);
  const cte = /^Content-Transfer-Encoding: *quoted-printable\r?$/im;
  if (!cte.test(head)) return eml;
  if (/[\r\0]/.test(text)) return eml;
  const lines = text.split('\n');
  if (lines.some((l) => Buffer.byteLength(l, 'utf8') > MAX_LINE_OCTETS)) return eml;
  const ascii = !/[^\x00-\x7f]/.test(text);
  const body = lines.join('\r\n');
  return (
    head.replace(cte, `Content-Transfer-Encoding: ${ascii ? '7bit' : '8bit'}`) + '\r\n\r\n' + body
  );
}
