// The exactly-once ledger for replies. The intent is recorded before a reply
// is handed to the transport and the result after; a reply found in the
// "intent" state was interrupted mid-send (a crash, a kill) and is never sent
// again: better one missing than two on a public list. Such replies are marked
// "unknown" and shown in health and the logs.
import type { Redis } from 'ioredis';

export type LedgerState = 'intent' | 'sent' | 'unknown' | 'suppressed' | 'failed';

export interface LedgerEntry {
  state: LedgerState;
  messageId: string;
  at: string;
  detail?: string;
}

export class ReplyLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(replyKey: string): string {
    return `${this.prefix}:svc:ledger:${replyKey}`;
  }
  private get unknownKey(): string {
    return `${this.prefix}:svc:ledger-unknown`;
  }

  async get(replyKey: string): Promise<LedgerEntry | null> {
    const s = await this.redis.get(this.key(replyKey));
    return s === null ? null : (JSON.parse(s) as LedgerEntry);
  }

  /** Record the intent to send; false when an entry exists already (someone got there first). */
  async recordIntent(replyKey: string, messageId: string): Promise<boolean> {
    const e: LedgerEntry = { state: 'intent', messageId, at: new Date().toISOString() };
    return (await this.redis.set(this.key(replyKey), JSON.stringify(e), 'NX')) === 'OK';
  }

  async record(
    replyKey: string,
    state: Exclude<LedgerState, 'intent'>,
    messageId: string,
    detail?: string,
  ): Promise<void> {
    const e: LedgerEntry = {
      state,
      messageId,
      at: new Date().toISOString(),
      ...(detail ? { detail } : {}),
    };
    const m = this.redis.multi().set(this.key(replyKey), JSON.stringify(e));
    if (state === 'unknown') m.sadd(this.unknownKey, replyKey);
    await m.exec();
  }

  /** Suppress without sending, only if nothing was recorded yet. */
  async recordIfAbsent(
    replyKey: string,
    state: 'suppressed',
    messageId: string,
    detail: string,
  ): Promise<boolean> {
    const e: LedgerEntry = { state, messageId, at: new Date().toISOString(), detail };
    return (await this.redis.set(this.key(replyKey), JSON.stringify(e), 'NX')) === 'OK';
  }

  /** The intent is void: the transport proved the message was not accepted. */
  async clearIntent(replyKey: string): Promise<void> {
    const cur = await this.get(replyKey);
    if (cur?.state === 'intent') await this.redis.del(this.key(replyKey));
  }

  /** Replies that may or may not have gone out (for /healthz). */
  async unknown(): Promise<string[]> {
    return (await this.redis.smembers(this.unknownKey)).sort();
  }
}
