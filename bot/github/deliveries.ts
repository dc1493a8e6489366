// The webhook deliveries pcibot acted on, durably (X-GitHub-Delivery ids, one
// fsync'ed JSON line each), so a delivery GitHub (or anyone replaying a
// captured one) sends again is answered and not queued twice, also after Redis
// lost its state. Job ids in Redis dedupe too; this journal is what outlives
// Redis, as the reply journal does for mail.
//
// Bounded: one file per UTC month (<dir>/2026-12.jsonl), only appended to, so
// several processes on one machine share it without locks. Ids are remembered
// for `windowDays` (GitHub redelivers within days); files wholly older than
// that are deleted. A delivery replayed after the window is queued again,
// which costs a review of the PR's current head, whose results replace the
// earlier ones in place (comments are matched by fingerprint).
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { appendJsonLine, JournalReader } from '../util/durable.js';

export interface DeliveryRecord {
  id: string;
  event: string;
  /** What was done: the job queued, or why nothing was. */
  outcome: string;
  at: string;
}

const DAY_MS = 86_400_000;
const MONTH_FILE = /^(\d{4})-(\d{2})\.jsonl$/;

const monthOf = (t: number): string => new Date(t).toISOString().slice(0, 7);

/** The first instant after the month a file holds. */
function monthEnd(name: string): number | null {
  const m = MONTH_FILE.exec(name);
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]), 1);
}

export class DeliveryJournal {
  private readonly readers = new Map<string, JournalReader<DeliveryRecord>>();
  private readonly seen = new Map<string, string>();

  constructor(
    readonly dir: string,
    readonly windowDays = 30,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the delivery was recorded within the window (by this process or another on this machine). */
  has(id: string): boolean {
    this.refresh();
    return this.seen.has(id);
  }

  async record(r: Omit<DeliveryRecord, 'at'>): Promise<void> {
    const at = this.now();
    await appendJsonLine(join(this.dir, `${monthOf(at)}.jsonl`), {
      ...r,
      at: new Date(at).toISOString(),
    });
    this.seen.set(r.id, new Date(at).toISOString());
  }

  /** Ids remembered now (for tests and /metrics). */
  get size(): number {
    this.refresh();
    return this.seen.size;
  }

  private refresh(): void {
    const since = this.now() - this.windowDays * DAY_MS;
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      const end = monthEnd(name);
      if (end === null) continue;
      const file = join(this.dir, name);
      if (end <= since) {
        // Every id in it is past the window: forget the file and its ids.
        rmSync(file, { force: true });
        this.readers.delete(file);
        continue;
      }
      let reader = this.readers.get(file);
      if (!reader) this.readers.set(file, (reader = new JournalReader<DeliveryRecord>(file)));
      for (const r of reader.readNew()) this.seen.set(r.id, r.at);
    }
    const cutoff = new Date(since).toISOString();
    for (const [id, at] of this.seen) if (at < cutoff) this.seen.delete(id);
  }
}
