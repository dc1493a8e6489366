// The durable reply journal: every step of every reply (the intent to send,
// with the whole message; sent; proved not sent; suppressed; held; failed;
// unknown; settled by the archive or by hand), one JSON line each, fsync'ed,
// in a file outside Redis (`<stateDir>/<prefix>/replies.jsonl`). It is what
// pcibot itself knows it sent, whatever Redis remembers: Redis restored from
// an old snapshot or restarted empty cannot make a reply go out twice from
// this machine. The state of a reply is its last line.
import { appendJsonLine, JournalReader } from '../util/durable.js';

export type JournalState =
  /** About to hand the message to the transport. */
  | 'intent'
  /** The transport took it (or the archive / a person says it went out). */
  | 'sent'
  /** Proved not sent (refused before DATA, the outbox file not written, the archive does not have it): may be sent again. */
  | 'not-sent'
  /** The send was interrupted or failed midway: it may or may not have gone out (resolved by the archive or by hand). */
  | 'unknown'
  /** Not sent: the thread was silenced. */
  | 'suppressed'
  /** Not sent: too old, a backfill, or the like (final). */
  | 'held'
  /** Not sent: the server refused it for good. */
  | 'failed';

/** States after which a reply is never sent again. */
export const FINAL_STATES: ReadonlySet<JournalState> = new Set([
  'sent',
  'suppressed',
  'held',
  'failed',
]);
/** States of a reply whose fate is open (interrupted mid-send). */
export const OPEN_STATES: ReadonlySet<JournalState> = new Set(['intent', 'unknown']);

export interface JournalEntry {
  replyKey: string;
  state: JournalState;
  messageId: string;
  /** ISO time of this line. */
  at: string;
  detail?: string;
  /** Who decided: the transport, the list archive (mirror), a person (`pcibot outbox resolve`). */
  by?: 'transport' | 'archive' | 'hand' | 'policy';
  /** The list the reply is Cc'd to (whose archive can tell whether it went out). */
  list?: string;
  /** intent lines: what is needed to send it again without Redis (the send job's data). */
  payload?: Record<string, unknown>;
}

export interface OpenReply {
  replyKey: string;
  messageId: string;
  state: JournalState;
  /** When the (last) send was started, ms. */
  since: number;
  list: string | null;
  detail: string | null;
  payload: Record<string, unknown> | null;
}

export class ReplyJournal {
  private readonly reader: JournalReader<JournalEntry>;
  private readonly last = new Map<string, JournalEntry>();
  private readonly intents = new Map<string, JournalEntry>();

  constructor(readonly file: string) {
    this.reader = new JournalReader<JournalEntry>(file);
  }

  /** Fold in what this and other processes appended since the last look. */
  private refresh(): void {
    for (const e of this.reader.readNew()) {
      if (typeof e?.replyKey !== 'string' || typeof e.state !== 'string') continue;
      this.last.set(e.replyKey, e);
      if (e.state === 'intent') this.intents.set(e.replyKey, e);
    }
  }

  /** The reply's current state (its last line), or null when pcibot never touched it. */
  get(replyKey: string): JournalEntry | null {
    this.refresh();
    return this.last.get(replyKey) ?? null;
  }

  /** The last intent line (it carries the message and the send job's data). */
  intent(replyKey: string): JournalEntry | null {
    this.refresh();
    return this.intents.get(replyKey) ?? null;
  }

  async append(e: Omit<JournalEntry, 'at'> & { at?: string }): Promise<JournalEntry> {
    const entry: JournalEntry = { ...e, at: e.at ?? new Date().toISOString() };
    await appendJsonLine(this.file, entry);
    this.refresh();
    return entry;
  }

  /** Replies whose fate is open: interrupted mid-send, not yet settled. */
  open(): OpenReply[] {
    this.refresh();
    const out: OpenReply[] = [];
    for (const [k, e] of this.last) {
      if (!OPEN_STATES.has(e.state)) continue;
      const intent = this.intents.get(k) ?? null;
      out.push({
        replyKey: k,
        messageId: e.messageId,
        state: e.state,
        since: Date.parse(intent?.at ?? e.at),
        list: e.list ?? intent?.list ?? null,
        detail: e.detail ?? null,
        payload: intent?.payload ?? null,
      });
    }
    return out.sort((a, b) => a.since - b.since || a.replyKey.localeCompare(b.replyKey));
  }

  /** Every reply's current state (for `pcibot outbox status`). */
  all(): JournalEntry[] {
    this.refresh();
    return [...this.last.values()].sort((a, b) => a.at.localeCompare(b.at));
  }
}
