// Ingest from a local spool, for people who subscribe to a list by mail: an
// mbox the MTA appends to, or a Maildir. Like the lore follower, the position
// moves only after the messages are durably queued: for an mbox a byte offset
// kept in Redis, for a Maildir the move from new/ to cur/. Both are read
// through the ingest reader (bot/ingest/read.ts): streamed, never slurped, with
// the same limits as any input.
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import {
  readMaildirEntry,
  readMboxFrom,
  type ReadItem,
  type StreamProgress,
} from '../ingest/read.js';
import type { InputLimits } from '../limits.js';
import type { RawMail } from '../types.js';

export interface SpoolOptions {
  list: string;
  path: string;
  kind: 'mbox' | 'maildir';
  redis: Redis;
  prefix: string;
  enqueue: (mails: RawMail[]) => Promise<void>;
  /** Leave an mbox's last message for the next round if the file changed this recently (still being appended). */
  settleMs?: number;
  /** The ingest limits (bot/limits.ts); an mbox round reads at most maxInputBytes. */
  limits?: Partial<InputLimits>;
}

export async function followSpool(
  opts: SpoolOptions,
): Promise<{ enqueued: number; failures: string[] }> {
  return opts.kind === 'mbox' ? followMbox(opts) : followMaildir(opts);
}

/** Messages handed to `enqueue` at a time (the position is saved after each batch). */
const BATCH = 200;

async function followMbox(opts: SpoolOptions): Promise<{ enqueued: number; failures: string[] }> {
  const key = `${opts.prefix}:svc:spool:${opts.list}:${Buffer.from(opts.path).toString('base64url')}`;
  const st = await stat(opts.path);
  const saved = await opts.redis.get(key);
  let cur = saved
    ? (JSON.parse(saved) as { ino: number; offset: number })
    : { ino: st.ino, offset: 0 };
  // Rotated or truncated: start over on the new file.
  if (cur.ino !== st.ino || cur.offset > st.size) cur = { ino: st.ino, offset: 0 };
  if (cur.offset === st.size) return { enqueued: 0, failures: [] };
  const save = (offset: number) => opts.redis.set(key, JSON.stringify({ ino: st.ino, offset }));
  const failures: string[] = [];
  let enqueued = 0;
  let batch: RawMail[] = [];
  const take = (item: ReadItem) => {
    if ('mail' in item) batch.push(item.mail);
    else failures.push(`${opts.path}: ${item.failure.reason}`);
  };
  const startOf = (item: ReadItem) =>
    ('mail' in item ? item.mail.origin : item.failure.origin).offset;
  // The newest message is held until the next one shows where it ends: it may
  // be the one the MTA is still writing, or the one maxInputBytes cut.
  let newest: ReadItem | null = null;
  const progress: StreamProgress = { bytes: 0, truncated: false };
  for await (const item of readMboxFrom(opts.path, cur.offset, opts.limits ?? {}, progress)) {
    if (newest) take(newest);
    newest = item;
    const next = startOf(item);
    if (batch.length >= BATCH && next !== undefined) {
      await opts.enqueue(batch);
      enqueued += batch.length;
      batch = [];
      await save(next);
    }
  }
  let end = cur.offset + progress.bytes;
  const settle = opts.settleMs ?? 2000;
  // settle 0 means never wait: file times can be a few ms ahead of Date.now()
  // (a coarse file-system clock), which made "changed less than 0 ms ago" true.
  const unsettled = settle > 0 && Date.now() - st.mtimeMs < settle;
  const newestStart = newest ? startOf(newest) : undefined;
  // Read the held message again next time: while the file is still being
  // written; or when maxInputBytes cut it, unless it is all this round read (a
  // message larger than the limit would never end): then it is reported.
  const hold =
    newestStart !== undefined && (unsettled || (progress.truncated && newestStart > cur.offset));
  if (newest && hold) end = newestStart;
  else if (newest) take(newest);
  if (batch.length) await opts.enqueue(batch);
  enqueued += batch.length;
  await save(end);
  return { enqueued, failures };
}

async function followMaildir(
  opts: SpoolOptions,
): Promise<{ enqueued: number; failures: string[] }> {
  const newDir = join(opts.path, 'new');
  const curDir = join(opts.path, 'cur');
  await mkdir(curDir, { recursive: true });
  const names = (await readdir(newDir)).filter((n) => !n.startsWith('.')).sort();
  let enqueued = 0;
  const failures: string[] = [];
  for (let i = 0; i < names.length; i += BATCH) {
    const part = names.slice(i, i + BATCH);
    const mails: RawMail[] = [];
    for (const n of part) {
      // Through the ingest reader: regular files only, no link followed, the message limits.
      for await (const item of readMaildirEntry(join(newDir, n), opts.limits ?? {})) {
        if ('mail' in item) mails.push(item.mail);
        else failures.push(`${join(newDir, n)}: ${item.failure.reason}`);
      }
    }
    if (mails.length) await opts.enqueue(mails);
    // Queued: now mark them seen (Maildir's own way: new/ -> cur/ with the S flag).
    for (const n of part) {
      try {
        await rename(join(newDir, n), join(curDir, `${n.split(':')[0]}:2,S`));
      } catch {
        // Already moved by another reader: fine.
      }
    }
    enqueued += mails.length;
  }
  return { enqueued, failures };
}
