// Following a public-inbox v2 inbox: fetch, walk the commits after the
// persisted cursor, hand each message to `enqueue`, and move the cursor only
// after `enqueue` has resolved (the jobs are in Redis). A kill at any point
// leaves the cursor at or behind what was enqueued; the next run enqueues the
// tail again and the deterministic job ids drop the repeats, so no message is
// lost and none is processed twice. Epochs roll over: when epoch N is done and
// N+1 exists, the cursor moves to the start of N+1.
//
// The cursor is kept twice: in Redis and, first, in a durable journal outside
// it (./journal.ts). When the two differ, Redis lost state (restarted empty,
// wiped, restored from an older snapshot): the durable cursor wins, and the
// walk starts again from a checkpoint far enough back that every message whose
// work Redis may have lost is queued again (the job ids and the reply ledger
// make the repeat harmless). A list followed from the beginning marks the
// archive as it was then a backfill, reviewed but not answered by default.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RawMail } from '../types.js';
import {
  addCheckpoint,
  rewindPoint,
  sameCursor,
  type Cursor,
  type DurableFollow,
  type ListJournal,
} from './journal.js';
import {
  epochHead,
  headTime,
  localEpochs,
  newCommits,
  readMessages,
  updateMirror,
} from './mirror.js';

export type { Cursor };

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
  /** The fetch time of the last walk that reached the head (ms since 1970). */
  caughtUpAt: number | null;
}

/**
 * FollowState.generation's step: KEYS generation; ARGV a new id. The marker
 * Redis holds, or, when it has none (restarted empty, wiped), the new id set
 * as the marker; returns [id, 1 when set now].
 */
const GENERATION = `
local g = redis.call('GET', KEYS[1])
if g then return {g, 0} end
redis.call('SET', KEYS[1], ARGV[1])
return {ARGV[1], 1}
`;

export class FollowState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  private key(kind: string, list: string) {
    return `${this.prefix}:svc:${kind}:${list}`;
  }
  /**
   * Redis's generation marker: written once into a Redis without one (no
   * expiry) and never else, so a Redis that lost its state (restarted empty,
   * wiped) has none or a new one, whatever writes of jobs under way were
   * replayed onto it. Jobs carry the generation they were made in
   * (workers/jobs.ts); their ids and markers are scoped by it.
   */
  async generation(): Promise<{ id: string; created: boolean }> {
    const id = randomBytes(6).toString('hex');
    const [g, created] = (await this.redis.eval(
      GENERATION,
      1,
      `${this.prefix}:svc:generation`,
      id,
    )) as [string, number];
    return { id: g, created: created === 1 };
  }
  async getCursor(list: string): Promise<Cursor | null> {
    const s = await this.redis.get(this.key('cursor', list));
    return s ? (JSON.parse(s) as Cursor) : null;
  }
  async setCursor(list: string, c: Cursor): Promise<void> {
    await this.redis.set(this.key('cursor', list), JSON.stringify(c));
  }
  /** Where the backfill ends (kept in Redis too, for followers without a journal). */
  async getBackfill(list: string): Promise<DurableFollow['backfill']> {
    const s = await this.redis.get(this.key('backfill', list));
    return s ? (JSON.parse(s) as DurableFollow['backfill']) : null;
  }
  async setBackfill(list: string, b: DurableFollow['backfill']): Promise<void> {
    if (b) await this.redis.set(this.key('backfill', list), JSON.stringify(b));
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
      caughtUpAt: num(h.caughtUpAt),
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
  /**
   * Queue the messages; `backfill`: they were in the archive when following
   * started from the beginning; `generation`: Redis's generation marker
   * (FollowState.generation) this round read.
   */
  enqueue: (mails: RawMail[], info: { backfill: boolean; generation: string }) => Promise<void>;
  /** Messages per enqueue (and cursor move). */
  batch?: number;
  /** Skip the fetch (the mirror is updated by someone else, e.g. the bench). */
  noFetch?: boolean;
  /** The durable cursor journal (the service always has one). */
  journal?: ListJournal;
  /** After Redis lost state, walk again from a checkpoint at least this much older than the durable cursor. */
  lookbackMs?: number;
  /** pcibot's own Message-IDs: noted in the journal as seen in the archive. */
  isOwn?: (messageId: string) => boolean;
}

export interface FollowResult {
  epochs: number[];
  walked: number;
  enqueued: number;
  /** Of those, how many were a backfill. */
  backfill: number;
  /** pcibot's own replies seen in this walk. */
  ownSeen: number;
  cursor: Cursor | null;
  /** Set when Redis had lost the cursor (or held another one) and the walk restarted from a checkpoint. */
  recovered: string | null;
}

/** The Message-ID of raw bytes (lower-cased, no brackets), from the header block only. */
function headerMessageId(raw: string): string | null {
  const end = raw.search(/\r?\n\r?\n/);
  const head = end < 0 ? raw : raw.slice(0, end);
  const m = /^message-id:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]+)>/im.exec(head);
  return m ? m[1]!.toLowerCase() : null;
}

const fmtCursor = (c: Cursor) => `epoch ${c.epoch} ${c.commit ? c.commit.slice(0, 12) : '(start)'}`;

export async function followOnce(opts: FollowOptions): Promise<FollowResult> {
  const { list, state, journal } = opts;
  const batch = opts.batch ?? 500;
  const lookbackMs = opts.lookbackMs ?? 7 * 3600_000;
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
  const fetchedAt = Date.now();
  await state.setStatus(list, { lastFetchAt: fetchedAt, lastError: null });
  const result: FollowResult = {
    epochs,
    walked: 0,
    enqueued: 0,
    backfill: 0,
    ownSeen: 0,
    cursor: null,
    recovered: null,
  };
  if (epochs.length === 0) return result;
  const newest = epochs[epochs.length - 1]!;

  // The generation first: a Redis restarted empty after this read has none,
  // and the next round sees it, whatever this round writes there.
  const gen = await state.generation();
  const redisCursor = await state.getCursor(list);
  const durable = journal ? await journal.read() : null;
  let cursor: Cursor;
  let backfill = durable ? durable.backfill : await state.getBackfill(list);
  let moved = false;
  const genLost =
    durable?.generation !== undefined && durable.generation !== gen.id
      ? gen.created
        ? 'Redis lost its generation marker (restarted empty or wiped)'
        : `Redis holds another generation (${gen.id}, not ${durable.generation}; restored from a snapshot?)`
      : null;
  if (durable && (genLost || !sameCursor(redisCursor, durable.cursor))) {
    const cp = rewindPoint(durable, lookbackMs);
    result.recovered =
      `${
        !redisCursor
          ? 'Redis has no cursor (restarted empty or wiped)'
          : genLost && sameCursor(redisCursor, durable.cursor)
            ? `${genLost}, its cursor a replayed write`
            : `Redis holds another cursor (${fmtCursor(redisCursor)}; restored from an older snapshot?)`
      }` +
      ` than the durable one (${fmtCursor(durable.cursor)}): walking again from ${fmtCursor(cp.cursor)} of ${new Date(cp.at).toISOString()}`;
    cursor = cp.cursor;
    moved = true;
  } else if (durable) {
    cursor = durable.cursor;
  } else if (redisCursor) {
    cursor = redisCursor;
    moved = true; // into the journal
  } else {
    cursor =
      opts.startFrom === 'now'
        ? { epoch: newest, commit: await epochHead(opts.mirrorDir, newest) }
        : { epoch: epochs[0]!, commit: null };
    if (opts.startFrom === 'beginning')
      backfill = { epoch: newest, head: await epochHead(opts.mirrorDir, newest) };
    await state.setStatus(list, { lastNewAt: fetchedAt });
    moved = true;
  }
  await state.setBackfill(list, backfill);
  const d: DurableFollow = durable
    ? { ...durable, source: opts.source, backfill, generation: gen.id }
    : {
        source: opts.source,
        cursor,
        at: fetchedAt,
        checkpoints: [],
        backfill,
        fetchedAt: null,
        caughtUpAt: null,
        generation: gen.id,
      };
  // The durable cursor first, then Redis: a crash between the two is seen as a
  // difference next time, and only makes the walk start further back.
  const save = async (c: Cursor) => {
    d.cursor = c;
    d.at = Date.now();
    addCheckpoint(d, lookbackMs, d.at);
    if (journal) await journal.write(d);
    await state.setCursor(list, c);
  };
  if (moved) await save(cursor);

  for (const epoch of epochs) {
    if (epoch < cursor.epoch) continue;
    const commits = await newCommits(
      opts.mirrorDir,
      epoch,
      epoch === cursor.epoch ? cursor.commit : null,
    );
    // commits[0..lastBackfill] were in the archive when following began from the beginning.
    let lastBackfill = -1;
    if (backfill) {
      if (epoch < backfill.epoch) lastBackfill = commits.length - 1;
      else if (epoch === backfill.epoch && backfill.head)
        lastBackfill = commits.indexOf(backfill.head);
    }
    for (let i = 0; i < commits.length; i += batch) {
      const part = commits.slice(i, i + batch);
      const blobs = await readMessages(opts.mirrorDir, epoch, part);
      const old: RawMail[] = [];
      const fresh: RawMail[] = [];
      const own: string[] = [];
      part.forEach((commit, j) => {
        const raw = blobs[j];
        if (raw === null || raw === undefined) return;
        const mail: RawMail = {
          origin: { kind: 'lore', file: `${opts.source}#${epoch}`, commit },
          raw,
        };
        (i + j <= lastBackfill ? old : fresh).push(mail);
        if (opts.isOwn) {
          const id = headerMessageId(raw);
          if (id && opts.isOwn(id)) own.push(id);
        }
      });
      if (old.length) await opts.enqueue(old, { backfill: true, generation: gen.id });
      if (fresh.length) await opts.enqueue(fresh, { backfill: false, generation: gen.id });
      if (own.length && journal) await journal.noteSeen(own);
      // Only now, with the batch durably queued, does the cursor move.
      cursor = { epoch, commit: part[part.length - 1]! };
      await save(cursor);
      result.walked += part.length;
      result.enqueued += old.length + fresh.length;
      result.backfill += old.length;
      result.ownSeen += own.length;
    }
    if (epoch < newest && cursor.epoch === epoch) {
      cursor = { epoch: epoch + 1, commit: null };
      await save(cursor);
    }
  }
  // Walked to the head as fetched: the archive is known up to the fetch.
  d.fetchedAt = fetchedAt;
  d.caughtUpAt = fetchedAt;
  if (journal) await journal.write(d);
  const head = await epochHead(opts.mirrorDir, newest);
  await state.setStatus(list, {
    epoch: newest,
    head,
    headTime: ((await headTime(opts.mirrorDir, newest)) ?? 0) * 1000 || null,
    caughtUpAt: fetchedAt,
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
