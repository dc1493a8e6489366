// What the lore follower keeps outside Redis, per list
// (`<stateDir>/<prefix>/lists/<list>/`): the cursor with a trail of older
// checkpoints, where the backfill ended, when the mirror was last fetched and
// last walked to its head (cursor.json, replaced atomically), and the
// Message-IDs of pcibot's own replies seen in the archive (seen.jsonl,
// append-only). The cursor here wins over a missing or different one in
// Redis: Redis restarted empty or restored from an older snapshot no longer
// replays the archive, and the checkpoints say how far back to walk again so
// that work Redis lost (messages ingested but not yet reviewed) is redone.
import { join } from 'node:path';
import { appendJsonLine, JournalReader, readJson, writeJsonAtomic } from '../util/durable.js';

export interface Cursor {
  epoch: number;
  /** Last commit enqueued in that epoch; null: none yet. */
  commit: string | null;
}

export interface Checkpoint {
  cursor: Cursor;
  /** ms since 1970 */
  at: number;
}

export interface DurableFollow {
  /** The inbox followed (URL or directory), for the operator's eye. */
  source: string;
  cursor: Cursor;
  /** When the cursor was last written (ms). */
  at: number;
  /** Older cursors, oldest first, at most one a minute (pruned to twice the lookback). */
  checkpoints: Checkpoint[];
  /**
   * The archive as it was when following started from the beginning: messages
   * up to this head (and in older epochs) are a backfill, reviewed but not
   * answered unless the list asks for it. null: following started from "now".
   */
  backfill: { epoch: number; head: string | null } | null;
  /** Last successful fetch (ms). */
  fetchedAt: number | null;
  /** The fetch time of the last walk that reached the head (ms): the archive is known up to then. */
  caughtUpAt: number | null;
  /**
   * The generation marker Redis held when the cursor was last written
   * (FollowState.generation): another one, or none, in Redis means Redis lost
   * its state since, even if a cursor write replayed onto it looks right.
   * Absent in journals written before generations.
   */
  generation?: string;
}

export const sameCursor = (a: Cursor | null, b: Cursor | null): boolean =>
  a !== null && b !== null && a.epoch === b.epoch && a.commit === b.commit;

const CHECKPOINT_EVERY_MS = 60_000;
const MAX_CHECKPOINTS = 5000;

/** Add the current cursor to the trail (at most one a minute) and prune what is older than needed. */
export function addCheckpoint(d: DurableFollow, lookbackMs: number, now = Date.now()): void {
  const last = d.checkpoints[d.checkpoints.length - 1];
  if (!last || now - last.at >= CHECKPOINT_EVERY_MS)
    d.checkpoints.push({ cursor: d.cursor, at: now });
  const cutoff = now - 2 * lookbackMs;
  // Keep the newest checkpoint older than the cutoff: a rewind may need it.
  let firstKept = 0;
  while (firstKept + 1 < d.checkpoints.length && d.checkpoints[firstKept + 1]!.at < cutoff)
    firstKept++;
  if (firstKept > 0) d.checkpoints.splice(0, firstKept);
  if (d.checkpoints.length > MAX_CHECKPOINTS)
    d.checkpoints.splice(1, d.checkpoints.length - MAX_CHECKPOINTS);
}

/**
 * Where to walk again from when Redis lost state: the newest checkpoint at
 * least `lookbackMs` older than the durable cursor (anything that arrived
 * after it may have been in flight), else the oldest one there is.
 */
export function rewindPoint(d: DurableFollow, lookbackMs: number): Checkpoint {
  const target = d.at - lookbackMs;
  const older = d.checkpoints.filter((c) => c.at <= target);
  return older[older.length - 1] ?? d.checkpoints[0] ?? { cursor: d.cursor, at: d.at };
}

export class ListJournal {
  private readonly seenReader: JournalReader<{ id: string }>;
  private readonly seen = new Set<string>();

  constructor(readonly dir: string) {
    this.seenReader = new JournalReader(join(dir, 'seen.jsonl'));
  }

  read(): Promise<DurableFollow | null> {
    return readJson<DurableFollow>(join(this.dir, 'cursor.json'));
  }

  write(d: DurableFollow): Promise<void> {
    return writeJsonAtomic(join(this.dir, 'cursor.json'), d);
  }

  private refresh(): void {
    for (const e of this.seenReader.readNew()) if (typeof e?.id === 'string') this.seen.add(e.id);
  }

  /** Whether the archive was seen to hold this Message-ID (lower-cased, no brackets). */
  hasSeen(messageId: string): boolean {
    this.refresh();
    return this.seen.has(messageId.toLowerCase());
  }

  /** Note Message-IDs seen in the archive (durably; repeats are not written again). */
  async noteSeen(ids: string[]): Promise<void> {
    this.refresh();
    for (const raw of ids) {
      const id = raw.toLowerCase();
      if (this.seen.has(id)) continue;
      await appendJsonLine(join(this.dir, 'seen.jsonl'), { id, at: new Date().toISOString() });
      this.seen.add(id);
    }
  }
}
