// Ingest from files: single messages (.eml), mboxes (mboxrd; also what
// `git format-patch` writes), Maildirs, directories of any of these, and stdin.
// Each message comes out as its exact bytes (a latin1 string) with an origin
// precise enough to find it again; what cannot be a mail becomes a
// ParseFailure and the rest goes on. A missing input is a usage error (throws
// InputError).
//
// Everything is streamed: an input is read in chunks and cut into messages as
// it comes (iterateInputs), so memory holds one chunk and one message, never a
// whole input. The limits (bot/limits.ts) bound each input and each message.
// Only regular files are opened: FIFOs, devices and sockets are refused by
// name before anything could block, and symbolic links found inside an input
// directory are reported, never followed.
import { constants } from 'node:fs';
import { lstat, open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Origin, ParseFailure, RawMail } from '../types.js';
import { notAMail } from '../mail/shape.js';
import { formatBytes, InputError, resolveLimits, type InputLimits } from '../limits.js';

export { describeOrigin } from '../util/origin.js';

export interface ReadResult {
  mails: RawMail[];
  failures: ParseFailure[];
}

export type ReadItem = { mail: RawMail } | { failure: ParseFailure };

export interface ReadOptions {
  stdin?: NodeJS.ReadableStream;
  limits?: Partial<InputLimits>;
}

/** A separator line as mbox writers emit it: `From <sender> <asctime date>` (or just a sender). */
const FROM_LINE = /^From \S+(?: *$| +.*\b\d{1,2}:\d\d(?::\d\d)?\b.*\b\d{4}\b)/;

/** A From_ line is short; this much of it decides (keeps the regex cheap on hostile input). */
const FROM_PROBE = 200;

/** Longest partial line carried from one chunk to the next before it is taken as content. */
const MAX_CARRY = 64 * 1024;

const CHUNK = 1024 * 1024;

function classifyRaw(origin: Origin, raw: string): ReadItem {
  const problem = notAMail(raw);
  if (problem) return { failure: { origin, ...problem } };
  return { mail: { origin, raw } };
}

function unescapeMboxrd(entry: string): string {
  return entry.includes('>From ') ? entry.replace(/^>(>*From )/gm, '$1') : entry;
}

/**
 * Cuts a byte stream (latin1 strings, one char per byte) into messages as it
 * arrives. An input that starts with `From ` is an mbox (mboxrd, `>From `
 * unescaped, CRLF tolerated): messages start at the first line and at each
 * `From ` line after an empty line. Anything else is one message. Each
 * message is handed to `emit` as soon as it is complete; a message over
 * maxMessageBytes is not kept (its bytes are counted and dropped) and becomes
 * a failure. Work and memory are linear in the input: every byte is looked at
 * a constant number of times, and a line is held back only while short.
 */
export class MessageSplitter {
  private mode: 'undecided' | 'mbox' | 'single' = 'undecided';
  /** Bytes seen so far (= the offset of the next byte). */
  private offset = 0;
  /** Lines completed so far. */
  private lines = 0;
  /** The unfinished last line (only while short), and its offset. */
  private carry = '';
  private carryOffset = 0;
  /** The line before the current one was empty. */
  private prevBlank = false;
  /** No line of the mbox has been seen yet (its first line is a From_ line whatever it says). */
  private first = true;
  /** A long line that began in an earlier chunk: a From_ line being skipped, or content. */
  private midLine: 'from' | 'content' | null = null;
  /** The current message: pieces, byte count, where it started. */
  private parts: string[] = [];
  private size = 0;
  private oversize = false;
  private current: Origin | null = null;
  private count = 0;
  private ended = false;

  /**
   * `kinds.single`: origin kind of a non-mbox input; `kinds.mbox`: of mbox
   * entries, or null when the input is always one message (a Maildir entry).
   */
  constructor(
    private readonly file: string,
    private readonly kinds: { single: Origin['kind']; mbox: Origin['kind'] | null },
    private readonly limits: InputLimits,
    private readonly emit: (item: ReadItem) => void,
  ) {}

  /** True when nothing more is worth reading (a single message over the limit). */
  get done(): boolean {
    return this.ended || (this.mode === 'single' && this.oversize);
  }

  push(chunk: string): void {
    if (this.done || chunk.length === 0) return;
    if (this.mode === 'undecided') {
      const head = this.carry + chunk;
      if (head.length < 5 && 'From '.startsWith(head) && this.kinds.mbox !== null) {
        this.carry = head;
        return;
      }
      this.carry = '';
      this.decide(head);
      chunk = head;
    }
    if (this.mode === 'single') {
      this.append(chunk);
      this.offset += chunk.length;
      return;
    }
    this.scanMbox(chunk);
  }

  /** The input ended (or was cut off at byte `truncatedAt` by maxInputBytes). */
  end(truncatedAt?: number): void {
    if (this.ended) return;
    if (this.mode === 'undecided') {
      const head = this.carry;
      this.carry = '';
      if (this.decide(head) === 'single') this.append(head);
      else this.scanMbox(head);
    }
    if (this.mode === 'mbox' && this.carry !== '') {
      // The last line has no newline: still a line.
      const line = this.carry;
      this.carry = '';
      if ((this.first || this.prevBlank) && (this.first || isFromLine(line, 0, line.length)))
        this.start(this.carryOffset, this.lines + 1);
      else if (this.current) this.append(line);
      this.first = false;
    }
    this.finish(truncatedAt);
    this.ended = true;
  }

  private decide(head: string): 'mbox' | 'single' {
    if (this.kinds.mbox !== null && head.startsWith('From ')) return (this.mode = 'mbox');
    this.current = { kind: this.kinds.single, file: this.file };
    if (this.kinds.single === 'stdin') this.current.index = 1;
    return (this.mode = 'single');
  }

  private append(piece: string): void {
    if (piece.length === 0) return;
    this.size += piece.length;
    if (this.oversize) return;
    if (this.size > this.limits.maxMessageBytes) {
      this.oversize = true;
      this.parts = [];
      return;
    }
    this.parts.push(piece);
  }

  private scanMbox(chunk: string): void {
    let text = chunk;
    let base = this.offset;
    if (this.carry !== '') {
      text = this.carry + chunk;
      base = this.carryOffset;
      this.carry = '';
    }
    this.offset += chunk.length;
    let pos = 0;
    let spanStart = 0; // start of message content not yet appended
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) {
        if (this.midLine === null && text.length - pos < MAX_CARRY) {
          // An unfinished short line: wait for its end to know what it is.
          if (this.current) this.append(text.slice(spanStart, pos));
          this.carry = text.slice(pos);
          this.carryOffset = base + pos;
          return;
        }
        if (this.midLine === null) {
          // A long unfinished line: its first bytes decide.
          if (
            (this.first || this.prevBlank) &&
            (this.first || isFromLine(text, pos, text.length))
          ) {
            if (this.current) this.append(text.slice(spanStart, pos));
            this.start(base + pos, this.lines + 1);
            this.midLine = 'from';
          } else this.midLine = 'content';
          this.first = false;
        }
        if (this.midLine === 'content' && this.current) this.append(text.slice(spanStart));
        this.prevBlank = false;
        return;
      }
      const lineStart = pos;
      pos = nl + 1;
      this.lines++;
      if (this.midLine !== null) {
        if (this.midLine === 'from') spanStart = pos; // the rest of a From_ line is not content
        this.midLine = null;
        this.prevBlank = false;
        continue;
      }
      const isFrom =
        (this.first || this.prevBlank) && (this.first || isFromLine(text, lineStart, nl));
      this.first = false;
      if (isFrom) {
        if (this.current) this.append(text.slice(spanStart, lineStart));
        this.start(base + lineStart, this.lines);
        spanStart = pos; // the From_ line itself is not content
        this.prevBlank = false;
        continue;
      }
      this.prevBlank = nl === lineStart || (nl === lineStart + 1 && text[lineStart] === '\r');
    }
    if (this.current) this.append(text.slice(spanStart));
  }

  private start(offset: number, line: number): void {
    this.finish();
    this.count++;
    this.current = {
      kind: this.kinds.mbox ?? this.kinds.single,
      file: this.file,
      index: this.count,
      line,
      offset,
    };
  }

  private finish(truncatedAt?: number): void {
    const origin = this.current;
    if (!origin) return;
    const { size, parts, oversize } = this;
    this.current = null;
    this.parts = [];
    this.size = 0;
    this.oversize = false;
    if (truncatedAt !== undefined) {
      this.emit({
        failure: {
          origin,
          reason: `input larger than maxInputBytes (${formatBytes(this.limits.maxInputBytes)}); reading stopped at byte ${truncatedAt}, inside this message`,
        },
      });
      return;
    }
    if (oversize) {
      this.emit({
        failure: {
          origin,
          reason: `message larger than maxMessageBytes (${formatBytes(this.limits.maxMessageBytes)}): ${this.mode === 'single' ? 'more than ' + this.limits.maxMessageBytes : size} bytes; not read`,
        },
      });
      return;
    }
    let entry = parts.length === 1 ? parts[0]! : parts.join('');
    if (this.mode === 'mbox') {
      // The empty line before the next From_ line is the separator, not message content.
      if (entry.endsWith('\r\n\r\n')) entry = entry.slice(0, -2);
      else if (entry.endsWith('\n\n')) entry = entry.slice(0, -1);
      entry = unescapeMboxrd(entry);
    }
    this.emit(classifyRaw(origin, entry));
  }
}

function isFromLine(text: string, start: number, end: number): boolean {
  if (!text.startsWith('From ', start)) return false;
  const line = text.slice(start, Math.min(end, start + FROM_PROBE)).replace(/\r$/, '');
  return FROM_LINE.test(line);
}

/**
 * Split an mbox held in memory (mboxrd, `>From ` unescaped; CRLF tolerated).
 * `text` is latin1, so indexes are byte offsets. A text that does not start
 * with `From ` is one message.
 */
export function splitMbox(
  text: string,
  file: string,
  kind: Origin['kind'] = 'mbox',
  limits: Partial<InputLimits> = {},
): ReadResult {
  const out: ReadResult = { mails: [], failures: [] };
  const s = new MessageSplitter(file, { single: kind, mbox: kind }, resolveLimits(limits), (item) =>
    collect(out, item),
  );
  s.push(text);
  s.end();
  return out;
}

function collect(out: ReadResult, item: ReadItem): void {
  if ('mail' in item) out.mails.push(item.mail);
  else out.failures.push(item.failure);
}

function fileTypeName(st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isSymbolicLink(): boolean;
  isDirectory(): boolean;
}): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function failure(kind: Origin['kind'], file: string, reason: string): ReadItem {
  return { failure: { origin: { kind, file }, reason } };
}

const errText = (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}` : e instanceof Error ? e.message : String(err);
};

/**
 * Read one regular file through the splitter. `inDirectory`: found while
 * walking a directory, so a symbolic link is not followed. Nothing is opened
 * that is not a regular file (a FIFO would block, a device never end), and the
 * type is checked again on the open descriptor.
 */
async function* readFileItems(
  path: string,
  kind: 'eml' | 'maildir',
  limits: InputLimits,
  inDirectory: boolean,
): AsyncGenerator<ReadItem> {
  let fh: FileHandle;
  try {
    const st = inDirectory ? await lstat(path) : await stat(path);
    if (!st.isFile()) {
      const what = fileTypeName(st);
      yield failure(
        kind,
        path,
        st.isSymbolicLink()
          ? 'a symbolic link inside an input directory; not followed'
          : `${what}, not a regular file; not read`,
      );
      return;
    }
    fh = await open(
      path,
      constants.O_RDONLY | constants.O_NONBLOCK | (inDirectory ? constants.O_NOFOLLOW : 0),
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    yield failure(
      kind,
      path,
      code === 'ELOOP'
        ? 'a symbolic link inside an input directory; not followed'
        : `unreadable file: ${errText(err)}`,
    );
    return;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      yield failure(kind, path, `${fileTypeName(st)}, not a regular file; not read`);
      return;
    }
    const kinds =
      kind === 'eml' ? { single: kind, mbox: 'mbox' as const } : { single: kind, mbox: null };
    yield* splitStream(readHandle(fh), path, kinds, limits);
  } catch (err) {
    yield failure(kind, path, `unreadable file: ${errText(err)}`);
  } finally {
    await fh.close().catch(() => {});
  }
}

/** The bytes of an open file in chunks, from `position` (a byte offset) or its current position. */
async function* readHandle(fh: FileHandle, position: number | null = null): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let at = position;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, at);
    if (bytesRead === 0) return;
    if (at !== null) at += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

async function* readStream(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  for await (const chunk of stream)
    yield typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer);
}

/** How much of a stream splitStream read, and whether maxInputBytes cut it. */
export interface StreamProgress {
  bytes: number;
  truncated: boolean;
}

/** Cut a stream of bytes into messages, reading at most maxInputBytes of it. */
async function* splitStream(
  chunks: AsyncIterable<Buffer>,
  file: string,
  kinds: { single: Origin['kind']; mbox: Origin['kind'] | null },
  limits: InputLimits,
  stop?: () => void,
  progress?: StreamProgress,
): AsyncGenerator<ReadItem> {
  const queue: ReadItem[] = [];
  const splitter = new MessageSplitter(file, kinds, limits, (item) => queue.push(item));
  let total = 0;
  let truncated: number | undefined;
  for await (const buf of chunks) {
    let piece = buf;
    if (total + piece.length > limits.maxInputBytes) {
      piece = piece.subarray(0, limits.maxInputBytes - total);
      truncated = limits.maxInputBytes;
    }
    total += piece.length;
    if (progress) [progress.bytes, progress.truncated] = [total, truncated !== undefined];
    splitter.push(piece.toString('latin1'));
    yield* queue.splice(0);
    if (truncated !== undefined || splitter.done) break;
  }
  stop?.();
  splitter.end(splitter.done ? undefined : truncated);
  yield* queue.splice(0);
}

/**
 * One file of a Maildir spool, read as any Maildir entry of an input is
 * (regular files only, no link followed, the message limits).
 */
export function readMaildirEntry(
  path: string,
  limits: Partial<InputLimits> = {},
): AsyncGenerator<ReadItem> {
  return readFileItems(path, 'maildir', resolveLimits(limits), true);
}

/**
 * The messages of an mbox spool from byte `from` on (the MTA appends to it),
 * streamed and bounded like any input: at most maxInputBytes are read per
 * call. Origins' offsets count from the start of the file. `progress` says how
 * many bytes were read and whether the limit cut the read (then the last item
 * is the message it cut: a failure, to be read again from its start).
 */
export async function* readMboxFrom(
  path: string,
  from: number,
  limits: Partial<InputLimits>,
  progress: StreamProgress,
): AsyncGenerator<ReadItem> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      yield failure('mbox', path, `${fileTypeName(st)}, not a regular file; not read`);
      return;
    }
    const kinds = { single: 'mbox' as const, mbox: 'mbox' as const };
    for await (const item of splitStream(
      readHandle(fh, from),
      path,
      kinds,
      resolveLimits(limits),
      undefined,
      progress,
    )) {
      const origin = 'mail' in item ? item.mail.origin : item.failure.origin;
      if (origin.offset !== undefined) origin.offset += from;
      yield item;
    }
  } finally {
    await fh.close().catch(() => {});
  }
}

async function isDirNoFollow(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isMaildir(dir: string): Promise<boolean> {
  // tmp/ is part of a Maildir but often missing from copies (git keeps no empty dirs).
  return (await isDirNoFollow(join(dir, 'cur'))) && (await isDirNoFollow(join(dir, 'new')));
}

async function sortedEntries(dir: string, kind: Origin['kind']): Promise<string[] | ReadItem> {
  try {
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.'));
    return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (err) {
    return failure(kind, dir, `unreadable directory: ${errText(err)}`);
  }
}

async function* readMaildir(dir: string, limits: InputLimits): AsyncGenerator<ReadItem> {
  for (const sub of ['cur', 'new']) {
    const d = join(dir, sub);
    const names = await sortedEntries(d, 'maildir');
    if (!Array.isArray(names)) {
      yield names;
      continue;
    }
    for (const name of names) {
      const path = join(d, name);
      if (await isDirNoFollow(path)) continue;
      yield* readFileItems(path, 'maildir', limits, true);
    }
  }
}

async function* readDirectory(
  dir: string,
  limits: InputLimits,
  seen: Set<string>,
  depth: number,
): AsyncGenerator<ReadItem> {
  const real = await realpath(dir).catch(() => dir);
  if (seen.has(real)) return; // the same directory given twice
  seen.add(real);
  if (await isMaildir(dir)) {
    yield* readMaildir(dir, limits);
    return;
  }
  const names = await sortedEntries(dir, 'eml');
  if (!Array.isArray(names)) {
    yield names;
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      yield failure('eml', path, `unreadable: ${errText(err)}`);
      continue;
    }
    if (st.isSymbolicLink()) {
      yield failure('eml', path, 'a symbolic link inside an input directory; not followed');
    } else if (st.isDirectory()) {
      if (depth >= limits.maxDirectoryDepth)
        yield failure(
          'eml',
          path,
          `directory nested deeper than maxDirectoryDepth (${limits.maxDirectoryDepth}); not read`,
        );
      else yield* readDirectory(path, limits, seen, depth + 1);
    } else if (st.isFile()) {
      yield* readFileItems(path, 'eml', limits, true);
    } else {
      // A FIFO or device inside a directory could block or never end: report, do not open.
      yield failure('eml', path, `${fileTypeName(st)}, not a regular file; not read`);
    }
  }
}

/**
 * Check that every input exists, before any is read (a typo in the last one
 * should not cost a long read). Throws InputError for a missing one.
 */
export async function checkInputs(inputs: string[]): Promise<void> {
  for (const input of inputs) {
    if (input === '-') continue;
    try {
      await stat(input);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new InputError(`no such file or directory: ${input}`);
      if (code !== 'EACCES') throw new InputError(`cannot read ${input}: ${errText(err)}`);
    }
  }
}

/**
 * Every message of every input (file, Maildir, directory, or `-` for stdin),
 * one at a time, in input order. Throws (InputError) only for inputs that do
 * not exist; everything else that is wrong is yielded as a failure.
 */
export async function* iterateInputs(
  inputs: string[],
  opts: ReadOptions = {},
): AsyncGenerator<ReadItem> {
  const limits = resolveLimits(opts.limits);
  await checkInputs(inputs);
  let count = 0;
  for await (const item of eachInput(inputs, opts, limits)) {
    if (++count > limits.maxMessages) {
      // Returning closes the input being read (a stream's iterator destroys it).
      const origin = 'mail' in item ? item.mail.origin : item.failure.origin;
      yield {
        failure: {
          origin,
          reason: `more than maxMessages (${limits.maxMessages}) messages in the inputs; reading stopped at this one`,
        },
      };
      return;
    }
    yield item;
  }
}

async function* eachInput(
  inputs: string[],
  opts: ReadOptions,
  limits: InputLimits,
): AsyncGenerator<ReadItem> {
  const seen = new Set<string>();
  for (const input of inputs) {
    if (input === '-') {
      const stdin = opts.stdin ?? process.stdin;
      // Stop the writer too (a `yes | pcibot review -` gets EPIPE, not a full pipe).
      const stop = () => (stdin as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      yield* splitStream(readStream(stdin), '-', { single: 'stdin', mbox: 'stdin' }, limits, stop);
      continue;
    }
    let st;
    try {
      st = await stat(input);
    } catch (err) {
      yield failure('eml', input, `unreadable: ${errText(err)}`);
      continue;
    }
    if (st.isDirectory()) yield* readDirectory(input, limits, seen, 0);
    else yield* readFileItems(input, 'eml', limits, false);
  }
}

/**
 * Read every input into raw mails, all in memory (for small inputs and
 * tests; the review pipeline uses iterateInputs). Throws only for inputs that
 * do not exist; everything else that is wrong is reported in `failures`.
 */
export async function readInputs(inputs: string[], opts: ReadOptions = {}): Promise<ReadResult> {
  const out: ReadResult = { mails: [], failures: [] };
  for await (const item of iterateInputs(inputs, opts)) collect(out, item);
  return out;
}
