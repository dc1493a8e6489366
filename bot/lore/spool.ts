// Ingest from a local spool, for people who subscribe to a list by mail: an
// mbox the MTA appends to, or a Maildir. Like the lore follower, the position
// moves only after the messages are durably queued: for an mbox a byte offset
// kept in Redis, for a Maildir the move from new/ to cur/.
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { splitMbox } from '../ingest/read.js';
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
}

export async function followSpool(
  opts: SpoolOptions,
): Promise<{ enqueued: number; failures: string[] }> {
  return opts.kind === 'mbox' ? followMbox(opts) : followMaildir(opts);
}

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
  const all = await readFile(opts.path);
  const text = all.subarray(cur.offset).toString('latin1');
  const { mails, failures } = splitMbox(text, opts.path, 'mbox');
  let end = text.length;
  const settle = opts.settleMs ?? 2000;
  // settle 0 means never wait: file times can be a few ms ahead of Date.now()
  // (a coarse file-system clock), which made "changed less than 0 ms ago" true.
  if (mails.length > 0 && settle > 0 && Date.now() - st.mtimeMs < settle) {
    // The MTA may still be writing the last message.
    const last = mails.pop()!;
    end = last.origin.offset ?? end;
  }
  for (const m of mails) if (m.origin.offset !== undefined) m.origin.offset += cur.offset;
  if (mails.length) await opts.enqueue(mails);
  await opts.redis.set(key, JSON.stringify({ ino: st.ino, offset: cur.offset + end }));
  return { enqueued: mails.length, failures: failures.map((f) => `${opts.path}: ${f.reason}`) };
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
  for (let i = 0; i < names.length; i += 200) {
    const part = names.slice(i, i + 200);
    const mails: RawMail[] = [];
    for (const n of part) {
      try {
        mails.push({
          origin: { kind: 'maildir', file: join(newDir, n) },
          raw: (await readFile(join(newDir, n))).toString('latin1'),
        });
      } catch (err) {
        failures.push(`${join(newDir, n)}: ${(err as Error).message}`);
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
