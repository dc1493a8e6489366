// Following a public-inbox v2 inbox: fetch, walk the commits after the
// persisted cursor, hand each message to `enqueue`, and move the cursor only
// after `enqueue` has resolved (the jobs are in Redis). A kill at any point
// leaves the cursor at or behind what was enqueued; the next run enqueues the
// tail again and the deterministic job ids drop the repeats, so no message is
// lost and none is processed twice. Epochs roll over: when epoch N is done and
// N+1 exists, the cursor moves to the start of N+1.
import type { Redis } from 'ioredis';
import type { RawMail } from '../types.js';
import {
  epochHead,
  headTime,
  localEpochs,
  newCommits,
  readMessages,
  updateMirror,
} from './mirror.js';

export interface Cursor {
  epoch: number;
  /** Last commit enqueued in that epoch; null: none yet. */
  commit: string | null;
}

export interface MirrorStatus {
  list: string;
  /** ms since 1970 of the last successful fetch. */
  lastFetchAt: number | null;
  /** ms since 1970 when new commits were last seen (or following started). */
  lastNewAt: number | null;
  lastError: string | null;
  epoch: number | null;
  head: string | null;
  /** Commit time of the newest message (ms since 1970). */
  headTime: number | null;
}

export class FollowState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  private key(kind: string, list: string) {
    return `${this.prefix}:svc:${kind}:${list}`;
  }
  async getCursor(list: string): Promise<Cursor | null> {
    const s = await this.redis.get(this.key('cursor', list));
    return s ? (JSON.parse(s) as Cursor) : null;
  }
  async setCursor(list: string, c: Cursor): Promise<void> {
    await this.redis.set(this.key('cursor', list), JSON.stringify(c));
  }
  async status(list: string): Promise<MirrorStatus> {
    const h = await this.redis.hgetall(this.key('mirror', list));
    const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));
    return {
      list,
      lastFetchAt: num(h.lastFetchAt),
      lastNewAt: num(h.lastNewAt),
      lastError: h.lastError || null,
      epoch: num(h.epoch),
      head: h.head || null,
      headTime: num(h.headTime),
    };
  }
  async setStatus(
    list: string,
    s: Partial<Record<keyof MirrorStatus, string | number | null>>,
  ): Promise<void> {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(s))
      flat[k] = v === null || v === undefined ? '' : String(v);
    await this.redis.hset(this.key('mirror', list), flat);
  }
  /**
   * A lock so two workers never walk one list at once. It expires after
   * `ttlMs` unless renewed, so a killed worker blocks following for at most
   * that long; the holder renews it every ttl/3 until released.
   */
  async lock(list: string, ttlMs: number): Promise<(() => Promise<void>) | null> {
    const token = `${process.pid}-${Math.random()}`;
    const key = this.key('follow-lock', list);
    if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
    const renew = setInterval(
      () => {
        this.redis
          .eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
            1,
            key,
            token,
            ttlMs,
          )
          .catch(() => {});
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    return async () => {
      clearInterval(renew);
      await this.redis.eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        1,
        key,
        token,
      );
    };
  }
}

export interface FollowOptions {
  list: string;
  /** URL or local path of the inbox. */
  source: string;
  mirrorDir: string;
  startFrom: 'now' | 'beginning';
  state: FollowState;
  enqueue: (mails: RawMail[]) => Promise<void>;
  /** Messages per enqueue (and cursor move). */
  batch?: number;
  /** Skip the fetch (the mirror is updated by someone else, e.g. the bench). */
  noFetch?: boolean;
}

export interface FollowResult {
  epochs: number[];
  walked: number;
  enqueued: number;
  cursor: Cursor | null;
}

export async function followOnce(opts: FollowOptions): Promise<FollowResult> {
  const { list, state } = opts;
  const batch = opts.batch ?? 500;
  let epochs: number[];
  try {
    epochs = opts.noFetch
      ? await localEpochs(opts.mirrorDir)
      : await updateMirror(opts.source, opts.mirrorDir);
  } catch (err) {
    await state.setStatus(list, {
      lastError: `fetch failed: ${(err as Error).message.split('\n')[0]}`,
    });
    throw err;
  }
  const now = Date.now();
  await state.setStatus(list, { lastFetchAt: now, lastError: null });
  const result: FollowResult = { epochs, walked: 0, enqueued: 0, cursor: null };
  if (epochs.length === 0) return result;
  const newest = epochs[epochs.length - 1]!;

  let cursor = await state.getCursor(list);
  if (!cursor) {
    cursor =
      opts.startFrom === 'now'
        ? { epoch: newest, commit: await epochHead(opts.mirrorDir, newest) }
        : { epoch: epochs[0]!, commit: null };
    await state.setCursor(list, cursor);
    await state.setStatus(list, { lastNewAt: now });
  }

  for (const epoch of epochs) {
    if (epoch < cursor.epoch) continue;
    const commits = await newCommits(
      opts.mirrorDir,
      epoch,
      epoch === cursor.epoch ? cursor.commit : null,
    );
    for (let i = 0; i < commits.length; i += batch) {
      const part = commits.slice(i, i + batch);
      const blobs = await readMessages(opts.mirrorDir, epoch, part);
      const mails: RawMail[] = [];
      part.forEach((commit, j) => {
        const raw = blobs[j];
        if (raw !== null && raw !== undefined)
          mails.push({ origin: { kind: 'lore', file: `${opts.source}#${epoch}`, commit }, raw });
      });
      if (mails.length) await opts.enqueue(mails);
      // Only now, with the batch durably queued, does the cursor move.
      cursor = { epoch, commit: part[part.length - 1]! };
      await state.setCursor(list, cursor);
      result.walked += part.length;
      result.enqueued += mails.length;
    }
    if (epoch < newest && cursor.epoch === epoch) {
      cursor = { epoch: epoch + 1, commit: null };
      await state.setCursor(list, cursor);
    }
  }
  const head = await epochHead(opts.mirrorDir, newest);
  await state.setStatus(list, {
    epoch: newest,
    head,
    headTime: ((await headTime(opts.mirrorDir, newest)) ?? 0) * 1000 || null,
    ...(result.walked > 0 ? { lastNewAt: Date.now() } : {}),
  });
  result.cursor = cursor;
  return result;
}

/** Stalled: no new commit seen for longer than `thresholdSec`. */
export function isStalled(s: MirrorStatus, thresholdSec: number, now = Date.now()): boolean {
  const since = s.lastNewAt ?? s.lastFetchAt;
  if (since === null) return false;
  return now - since > thresholdSec * 1000;
}
