// Ingest from files: single messages (.eml), mboxes (mboxrd; also what
// `git format-patch` writes), Maildirs, directories of any of these, and stdin.
// Each message comes out as its exact bytes (a latin1 string) with an origin
// precise enough to find it again; what cannot be a mail becomes a
// ParseFailure and the rest goes on. A missing input is a usage error (throws).
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Origin, ParseFailure, RawMail } from '../types.js';
import { notAMail } from '../mail/shape.js';

export interface ReadResult {
  mails: RawMail[];
  failures: ParseFailure[];
}

/** Above this a file is refused rather than read into one string. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

/** "file: message 3 (line 120, byte 4711)", for error messages. */
export function describeOrigin(o: Origin): string {
  const where: string[] = [];
  if (o.index !== undefined) where.push(`message ${o.index}`);
  const at: string[] = [];
  if (o.line !== undefined) at.push(`line ${o.line}`);
  if (o.offset !== undefined) at.push(`byte ${o.offset}`);
  const file = o.file === '-' ? '<stdin>' : o.file;
  return `${file}${where.length ? ': ' + where.join(' ') : ''}${at.length ? ` (${at.join(', ')})` : ''}`;
}

/** A separator line as mbox writers emit it: `From <sender> <asctime date>` (or just a sender). */
const FROM_LINE = /^From \S+(?: *$| +.*\b\d{1,2}:\d\d(?::\d\d)?\b.*\b\d{4}\b)/;

function addOne(out: ReadResult, origin: Origin, raw: string): void {
  const problem = notAMail(raw);
  if (problem) out.failures.push({ origin, ...problem });
  else out.mails.push({ origin, raw });
}

/**
 * Split an mbox (mboxrd, `>From ` unescaped; CRLF tolerated) in one pass.
 * `text` is the file as a latin1 string, so indexes are byte offsets.
 * Messages start at a `From ` line at the start of the file or after an empty line.
 */
export function splitMbox(text: string, file: string, kind: Origin['kind'] = 'mbox'): ReadResult {
  const out: ReadResult = { mails: [], failures: [] };
  const starts: number[] = [];
  if (text.startsWith('From ')) starts.push(0);
  for (let idx = text.indexOf('\nFrom '); idx >= 0; idx = text.indexOf('\nFrom ', idx + 1)) {
    const blankBefore =
      idx === 0 || text[idx - 1] === '\n' || (text[idx - 1] === '\r' && text[idx - 2] === '\n');
    if (!blankBefore) continue;
    const lineEnd = text.indexOf('\n', idx + 1);
    // (a From_ line is short; looking at 200 bytes keeps the regex cheap on hostile input)
    const line = text
      .slice(idx + 1, Math.min(lineEnd < 0 ? text.length : lineEnd, idx + 201))
      .replace(/\r$/, '');
    if (FROM_LINE.test(line)) starts.push(idx + 1);
  }
  let lineNo = 1;
  let counted = 0; // text index up to which newlines were counted
  const countTo = (pos: number) => {
    for (let j = text.indexOf('\n', counted); j >= 0 && j < pos; j = text.indexOf('\n', j + 1))
      lineNo++;
    counted = pos;
  };
  starts.forEach((start, k) => {
    countTo(start);
    const origin: Origin = { kind, file, index: k + 1, line: lineNo, offset: start };
    const end = k + 1 < starts.length ? starts[k + 1]! : text.length;
    const nl = text.indexOf('\n', start);
    let entry = nl < 0 || nl >= end ? '' : text.slice(nl + 1, end);
    // The empty line before the next From_ line is the separator, not message content.
    if (entry.endsWith('\r\n\r\n')) entry = entry.slice(0, -2);
    else if (entry.endsWith('\n\n')) entry = entry.slice(0, -1);
    if (entry.includes('>From ')) entry = entry.replace(/^>(>*From )/gm, '$1');
    addOne(out, origin, entry);
  });
  return out;
}

function isMbox(text: string): boolean {
  return text.startsWith('From ');
}

async function readOneFile(path: string, kind: 'eml' | 'maildir', out: ReadResult): Promise<void> {
  let buf: Buffer;
  try {
    const st = await stat(path);
    if (st.size > MAX_FILE_BYTES) {
      out.failures.push({
        origin: { kind, file: path },
        reason: `file too large (${st.size} bytes)`,
      });
      return;
    }
    buf = await readFile(path);
  } catch (err) {
    out.failures.push({
      origin: { kind, file: path },
      reason:
        `unreadable file: ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim(),
    });
    return;
  }
  const text = buf.toString('latin1');
  if (kind === 'eml' && isMbox(text)) {
    const part = splitMbox(text, path, 'mbox');
    out.mails.push(...part.mails);
    out.failures.push(...part.failures);
  } else {
    addOne(out, { kind, file: path }, text);
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isMaildir(dir: string): Promise<boolean> {
  // tmp/ is part of a Maildir but often missing from copies (git keeps no empty dirs).
  return (await isDir(join(dir, 'cur'))) && (await isDir(join(dir, 'new')));
}

async function sortedEntries(dir: string, out: ReadResult): Promise<string[]> {
  try {
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.'));
    return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (err) {
    out.failures.push({
      origin: { kind: 'eml', file: dir },
      reason: `unreadable directory: ${(err as Error).message}`,
    });
    return [];
  }
}

async function readMaildir(dir: string, out: ReadResult): Promise<void> {
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    for (const name of await sortedEntries(d, out)) {
      const path = join(d, name);
      if (await isDir(path)) continue;
      await readOneFile(path, 'maildir', out);
    }
  }
}

async function readDirectory(dir: string, out: ReadResult, seen: Set<string>): Promise<void> {
  const real = await realpath(dir).catch(() => dir);
  if (seen.has(real)) return; // a symlink loop
  seen.add(real);
  if (await isMaildir(dir)) {
    await readMaildir(dir, out);
    return;
  }
  for (const name of await sortedEntries(dir, out)) {
    const path = join(dir, name);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      out.failures.push({
        origin: { kind: 'eml', file: path },
        reason: `unreadable: ${(err as Error).message}`,
      });
      continue;
    }
    if (st.isDirectory()) await readDirectory(path, out, seen);
    else if (st.isFile()) await readOneFile(path, 'eml', out);
    // A FIFO or device inside a directory could block or never end: report, do not read.
    else
      out.failures.push({
        origin: { kind: 'eml', file: path },
        reason: 'not a regular file; not read',
      });
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/**
 * Read every input (file, Maildir, directory, or `-` for stdin) into raw mails.
 * Throws only for inputs that do not exist (a usage error); everything else
 * that is wrong is reported in `failures`.
 */
export async function readInputs(
  inputs: string[],
  opts: { stdin?: NodeJS.ReadableStream } = {},
): Promise<ReadResult> {
  // Check all inputs first: a typo in the last one should not cost a long read.
  for (const input of inputs) {
    if (input === '-') continue;
    try {
      await stat(input);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new Error(`no such file or directory: ${input}`);
      if (code !== 'EACCES') throw new Error(`cannot read ${input}: ${(err as Error).message}`);
    }
  }
  const out: ReadResult = { mails: [], failures: [] };
  const seen = new Set<string>();
  for (const input of inputs) {
    if (input === '-') {
      const text = (await readStream(opts.stdin ?? process.stdin)).toString('latin1');
      if (isMbox(text)) {
        const part = splitMbox(text, '-', 'stdin');
        out.mails.push(...part.mails);
        out.failures.push(...part.failures);
      } else addOne(out, { kind: 'stdin', file: '-', index: 1 }, text);
      continue;
    }
    if (await isDir(input)) await readDirectory(input, out, seen);
    else await readOneFile(input, 'eml', out);
  }
  return out;
}
