// The exactly-once ledger for replies, in two places. The durable journal
// (./journal.ts, a file outside Redis) is the record: a reply it knows as
// sent, suppressed, held or failed is never sent again, whatever Redis says.
// Redis adds the claim that keeps two workers (on any machine) from starting
// the same reply at once (SET NX on the intent). A reply found in the
// "intent" or "unknown" state was interrupted mid-send; it is settled by the
// list archive (./deliver.ts, with the lookup the send processor gives it) or
// by hand (`pcibot outbox resolve`), never by guessing.
import type { Redis } from 'ioredis';
import {
  FINAL_STATES,
  type JournalEntry,
  type JournalState,
  type ReplyJournal,
} from './journal.js';

export type LedgerState = JournalState;
export type LedgerEntry = Pick<JournalEntry, 'state' | 'messageId' | 'at' | 'detail' | 'by'>;

/** The Redis key of a reply's claim (also `pcibot outbox resolve`'s, which settles one by hand). */
export const ledgerKey = (prefix: string, replyKey: string): string =>
  `${prefix}:svc:ledger:${replyKey}`;

export class ReplyLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly journal: ReplyJournal,
  ) {}

  private key(replyKey: string): string {
    return ledgerKey(this.prefix, replyKey);
  }

  /** The reply's state: the durable journal's, else what Redis holds (older deployments). */
  async get(replyKey: string): Promise<LedgerEntry | null> {
    const d = this.journal.get(replyKey);
    if (d) return d;
    const s = await this.redis.get(this.key(replyKey));
    return s === null ? null : (JSON.parse(s) as LedgerEntry);
  }

  /**
   * Record the intent to send (durably, with what is needed to send it again
   * without Redis); false when the reply is settled already or another worker
   * holds the claim.
   */
  async recordIntent(
    replyKey: string,
    messageId: string,
    extra: { list?: string; payload?: Record<string, unknown> } = {},
  ): Promise<boolean> {
    const d = this.journal.get(replyKey);
    if (d && d.state !== 'not-sent') return false;
    const e = { state: 'intent', messageId, at: new Date().toISOString() };
    if ((await this.redis.set(this.key(replyKey), JSON.stringify(e), 'NX')) !== 'OK') return false;
    await this.journal.append({ replyKey, state: 'intent', messageId, ...extra });
    return true;
  }

  async record(
    replyKey: string,
    state: Exclude<LedgerState, 'intent' | 'not-sent'>,
    messageId: string,
    detail?: string,
    by: JournalEntry['by'] = 'transport',
  ): Promise<void> {
    const e = await this.journal.append({
      replyKey,
      state,
      messageId,
      by,
      ...(detail ? { detail } : {}),
    });
    await this.redis.set(this.key(replyKey), JSON.stringify(e));
  }

  /** Record a final "not sent" state only if nothing was recorded yet (suppressed, held). */
  async recordIfAbsent(
    replyKey: string,
    state: 'suppressed' | 'held',
    messageId: string,
    detail: string,
  ): Promise<boolean> {
    const d = this.journal.get(replyKey);
    if (d && d.state !== 'not-sent') return false;
    const e = { state, messageId, at: new Date().toISOString(), detail };
    if ((await this.redis.set(this.key(replyKey), JSON.stringify(e), 'NX')) !== 'OK') return false;
    await this.journal.append({ replyKey, state, messageId, detail, by: 'policy' });
    return true;
  }

  /** The intent is void (the reply provably did not go out): it may be sent again. */
  async clearIntent(replyKey: string, detail: string, by: JournalEntry['by'] = 'transport') {
    const cur = this.journal.get(replyKey);
    if (cur && FINAL_STATES.has(cur.state)) return;
    await this.journal.append({
      replyKey,
      state: 'not-sent',
      messageId: cur?.messageId ?? '',
      detail,
      by,
    });
    await this.redis.del(this.key(replyKey));
  }

  /** Replies interrupted mid-send and not settled yet (oldest first). */
  open() {
    return this.journal.open();
  }
}
