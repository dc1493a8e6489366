// Small durable files for state that must outlive Redis (the service's reply
// ledger and follow cursors): an append-only JSON-lines journal whose every
// line is on disk (fsync) before the append resolves, and a JSON document
// replaced atomically (temp file, fsync, rename, fsync of the directory). A
// torn last line (a crash mid-append) is skipped on reading, never fatal.
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { open, rename, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Append one JSON value as a line; resolves once it is on disk. */
export async function appendJsonLine(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const line = JSON.stringify(value) + '\n';
  // One write(2) with O_APPEND: concurrent appenders on one machine never interleave lines.
  const fh = await open(file, 'a');
  try {
    await fh.write(line);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Reads a journal incrementally: each call returns the complete lines added
 * since the last call (other processes may append meanwhile). A line that does
 * not parse (torn by a crash) is skipped once it is followed by a newline; an
 * unfinished last line waits for the next call.
 */
export class JournalReader<T> {
  private offset = 0;
  constructor(readonly file: string) {}

  readNew(): T[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // replaced: read again
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      const text = buf.subarray(0, got).toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end < 0) return [];
      this.offset += Buffer.byteLength(text.slice(0, end + 1), 'utf8');
      const out: T[] = [];
      for (const line of text.slice(0, end).split('\n')) {
        if (!line.trim()) continue;
        try {
          out.push(JSON.parse(line) as T);
        } catch {
          // a torn line from a crash mid-append: skipped
        }
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }
}

/** Replace a JSON document atomically and durably. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(JSON.stringify(value, null, 1) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await fsyncDir(dir);
}

/** A JSON document written by writeJsonAtomic, or null when there is none. */
export async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** Make sure a directory exists and is writable (at start, to fail early). */
export function ensureWritableDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const probe = `${dir}/.probe-${process.pid}`;
  const fd = openSync(probe, 'w');
  fsyncSync(fd);
  closeSync(fd);
  rmSync(probe, { force: true });
}
