// Sending one composed reply exactly once: the ledger first (a reply it knows
// as settled is never sent again), then quiet flags, holds and the list
// archive (a reply already in the archive went out, whoever sent it), then
// the rate limits, the transport, and the ledger again. A reply found
// interrupted mid-send is settled by the archive once it has caught up: in
// it, it went out; absent a grace period after the send, it did not and is
// sent now. Used by the `send` queue's processor.
import { FINAL_STATES } from './journal.js';
import type { ReplyLedger } from './ledger.js';
import type { Limit, RateLimiter } from './ratelimit.js';
import { smtpErrorMeansNotSent, type Transport } from './transport.js';

export interface DeliverInput {
  replyKey: string;
  messageId: string;
  eml: string;
  envelope: { from: string; to: string[] };
  /** Set when the thread (or this reply's rule) was silenced and the reply is automatic. */
  suppressedBecause: string | null;
  /** Set when policy says not to send (too old, a backfill): recorded as held. */
  heldBecause?: string | null;
  limits: Limit[];
  /** The list the reply is Cc'd to (its archive can tell whether it went out). */
  list?: string | null;
  /** What is needed to send the reply again without Redis (kept with the durable intent). */
  payload?: Record<string, unknown>;
}

/** What the followed list archive says about one of pcibot's Message-IDs. */
export type ArchiveAnswer =
  | { kind: 'present'; detail: string }
  | { kind: 'absent'; detail: string }
  /** The archive has not caught up with `since` plus the grace period yet. */
  | { kind: 'not-yet'; waitMs: number; detail: string }
  /** No followed archive receives this reply: it cannot settle it. */
  | { kind: 'unknowable'; detail: string };

export interface ArchiveCheck {
  /**
   * Look a Message-ID up. `since`: when an interrupted send started (ms), so
   * "absent" is only said once the archive was fetched at least a grace period
   * later; null before a first send (then "absent" means "not there now").
   */
  lookup(messageId: string, since: number | null): Promise<ArchiveAnswer>;
}

export type DeliverOutcome =
  | { kind: 'sent'; detail: string }
  /** Settled before (or, with `settled`, just now by the archive or the outbox). */
  | { kind: 'already'; state: string; settled?: 'archive' | 'outbox' }
  | { kind: 'unknown'; detail: string }
  /** Interrupted mid-send earlier; the archive has not caught up yet: try again after waitMs. */
  | { kind: 'waiting'; waitMs: number; detail: string }
  | { kind: 'held'; detail: string }
  | { kind: 'suppressed'; detail: string }
  | { kind: 'rate-limited'; waitMs: number }
  | { kind: 'failed'; detail: string; retry: boolean };

export interface DeliverDeps {
  ledger: ReplyLedger;
  limiter: RateLimiter;
  transport: Transport;
  log: (line: string) => void;
  /** Called between recording the intent and sending: lets the crash test stop right there. */
  beforeSend?: (() => Promise<void> | void) | undefined;
  /** The followed list archive; without it interrupted SMTP sends wait for a person. */
  archive?: ArchiveCheck | undefined;
}

export async function deliverReply(
  input: DeliverInput,
  deps: DeliverDeps,
): Promise<DeliverOutcome> {
  const { ledger, transport, log } = deps;
  const prior = await ledger.get(input.replyKey);
  if (prior && FINAL_STATES.has(prior.state)) return { kind: 'already', state: prior.state };
  if (prior && prior.state !== 'not-sent') {
    // Interrupted between intent and result. The outbox can tell; for SMTP the archive can.
    const done = await transport.delivered(input.replyKey);
    if (done === true) {
      await ledger.record(
        input.replyKey,
        'sent',
        input.messageId,
        'confirmed after an interruption',
      );
      return { kind: 'already', state: 'sent', settled: 'outbox' };
    }
    if (done === false) {
      await ledger.clearIntent(input.replyKey, 'interrupted before the outbox file was written');
    } else {
      const since = Date.parse(ledger.journal.intent(input.replyKey)?.at ?? prior.at);
      const ans: ArchiveAnswer = deps.archive
        ? await deps.archive.lookup(input.messageId, Number.isNaN(since) ? Date.now() : since)
        : { kind: 'unknowable', detail: 'no list archive is followed for it' };
      if (ans.kind === 'present') {
        await ledger.record(
          input.replyKey,
          'sent',
          input.messageId,
          `interrupted mid-send; ${ans.detail}`,
          'archive',
        );
        log(
          `reply ${input.replyKey} <${input.messageId}>: interrupted earlier, ${ans.detail}: sent`,
        );
        return { kind: 'already', state: 'sent', settled: 'archive' };
      }
      if (ans.kind === 'absent') {
        log(
          `reply ${input.replyKey} <${input.messageId}>: interrupted earlier, ${ans.detail}: sending it now`,
        );
        await ledger.clearIntent(input.replyKey, `interrupted mid-send; ${ans.detail}`, 'archive');
      } else {
        const detail = `reply ${input.replyKey} <${input.messageId}> was being sent when the worker stopped; it may or may not have gone out: ${ans.detail}`;
        if (prior.state !== 'unknown') {
          await ledger.record(input.replyKey, 'unknown', input.messageId, detail);
          log(detail);
        }
        if (ans.kind === 'not-yet') return { kind: 'waiting', waitMs: ans.waitMs, detail };
        return { kind: 'unknown', detail: `${detail} (settle it with pcibot outbox resolve)` };
      }
    }
  }
  if (input.suppressedBecause) {
    await ledger.recordIfAbsent(
      input.replyKey,
      'suppressed',
      input.messageId,
      input.suppressedBecause,
    );
    return { kind: 'suppressed', detail: input.suppressedBecause };
  }
  if (input.heldBecause) {
    await ledger.recordIfAbsent(input.replyKey, 'held', input.messageId, input.heldBecause);
    return { kind: 'held', detail: input.heldBecause };
  }
  // Sent by another machine, or by this one before its journal was lost: the archive has it.
  if (deps.archive) {
    const ans = await deps.archive.lookup(input.messageId, null);
    if (ans.kind === 'present') {
      await ledger.record(input.replyKey, 'sent', input.messageId, ans.detail, 'archive');
      log(`reply ${input.replyKey} <${input.messageId}>: ${ans.detail}: not sent again`);
      return { kind: 'already', state: 'sent', settled: 'archive' };
    }
  }
  const waitMs = await deps.limiter.take(input.replyKey, input.limits);
  if (waitMs > 0) return { kind: 'rate-limited', waitMs };
  if (
    !(await ledger.recordIntent(input.replyKey, input.messageId, {
      ...(input.list ? { list: input.list } : {}),
      ...(input.payload ? { payload: input.payload } : {}),
    }))
  ) {
    const now = await ledger.get(input.replyKey);
    return { kind: 'already', state: now?.state ?? 'unknown' };
  }
  await deps.beforeSend?.();
  try {
    const detail = await transport.send(input.replyKey, input.eml, input.envelope);
    await ledger.record(input.replyKey, 'sent', input.messageId, detail);
    return { kind: 'sent', detail };
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    if (transport.kind === 'outbox' || smtpErrorMeansNotSent(err)) {
      await ledger.clearIntent(input.replyKey, `not accepted: ${msg}`);
      await deps.limiter.release(input.replyKey, input.limits);
      const permanent =
        typeof (err as { responseCode?: number }).responseCode === 'number' &&
        (err as { responseCode: number }).responseCode >= 500;
      if (permanent) await ledger.record(input.replyKey, 'failed', input.messageId, msg);
      return { kind: 'failed', detail: msg, retry: !permanent };
    }
    const detail = `sending reply ${input.replyKey} <${input.messageId}> failed midway (${msg}); it may have gone out: the list archive will tell`;
    await ledger.record(input.replyKey, 'unknown', input.messageId, detail);
    log(detail);
    // The next attempt asks the archive (and waits for it to catch up).
    return { kind: 'waiting', waitMs: 1000, detail };
  }
}
