// The webhook deliveries pcibot acted on, durably (X-GitHub-Delivery ids, one
// fsync'ed JSON line each in <stateDir>/<prefix>/github/deliveries.jsonl), so
// a delivery GitHub (or anyone replaying a captured one) sends again is
// answered and not queued twice, also after Redis lost its state. Job ids in
// Redis dedupe too; this journal is what outlives Redis, as the reply journal
// does for mail.
import { appendJsonLine, JournalReader } from '../util/durable.js';

export interface DeliveryRecord {
  id: string;
  event: string;
  /** What was done: the job queued, or why nothing was. */
  outcome: string;
  at: string;
}

export class DeliveryJournal {
  private readonly seen = new Set<string>();
  private readonly reader: JournalReader<DeliveryRecord>;

  constructor(readonly file: string) {
    this.reader = new JournalReader<DeliveryRecord>(file);
  }

  /** Whether the delivery was recorded (by this process or another on this machine). */
  has(id: string): boolean {
    for (const r of this.reader.readNew()) this.seen.add(r.id);
    return this.seen.has(id);
  }

  async record(r: Omit<DeliveryRecord, 'at'>): Promise<void> {
    await appendJsonLine(this.file, { ...r, at: new Date().toISOString() });
    this.seen.add(r.id);
  }
}
