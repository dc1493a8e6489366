// Sending one composed reply exactly once (at most once, when a crash leaves
// doubt): ledger first, then quiet flags and rate limits, then the transport,
// then the ledger again. Used by the `send` queue's processor.
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
  limits: Limit[];
}

export type DeliverOutcome =
  | { kind: 'sent'; detail: string }
  | { kind: 'already'; state: string }
  | { kind: 'unknown'; detail: string }
  | { kind: 'suppressed'; detail: string }
  | { kind: 'rate-limited'; waitMs: number }
  | { kind: 'failed'; detail: string; retry: boolean };

export interface DeliverDeps {
  ledger: ReplyLedger;
  limiter: RateLimiter;
  transport: Transport;
  log: (line: string) => void;
  /** Called between recording the intent and sending: lets the crash test stop right there. */
  beforeSend?: () => Promise<void> | void;
}

export async function deliverReply(
  input: DeliverInput,
  deps: DeliverDeps,
): Promise<DeliverOutcome> {
  const { ledger, transport, log } = deps;
  const prior = await ledger.get(input.replyKey);
  if (prior) {
    if (prior.state !== 'intent') return { kind: 'already', state: prior.state };
    // Interrupted between intent and result. The outbox can tell; SMTP cannot.
    const done = await transport.delivered(input.replyKey);
    if (done === true) {
      await ledger.record(
        input.replyKey,
        'sent',
        input.messageId,
        'confirmed after an interruption',
      );
      return { kind: 'already', state: 'sent' };
    }
    if (done === false) {
      await ledger.clearIntent(input.replyKey);
    } else {
      const detail = `reply ${input.replyKey} <${input.messageId}> was being sent when the worker stopped; it may or may not have gone out and is NOT resent (one missing reply is better than two)`;
      await ledger.record(input.replyKey, 'unknown', input.messageId, detail);
      log(detail);
      return { kind: 'unknown', detail };
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
  const waitMs = await deps.limiter.take(input.replyKey, input.limits);
  if (waitMs > 0) return { kind: 'rate-limited', waitMs };
  if (!(await ledger.recordIntent(input.replyKey, input.messageId))) {
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
      await ledger.clearIntent(input.replyKey);
      await deps.limiter.release(input.replyKey, input.limits);
      const permanent =
        typeof (err as { responseCode?: number }).responseCode === 'number' &&
        (err as { responseCode: number }).responseCode >= 500;
      if (permanent) await ledger.record(input.replyKey, 'failed', input.messageId, msg);
      return { kind: 'failed', detail: msg, retry: !permanent };
    }
    const detail = `sending reply ${input.replyKey} <${input.messageId}> failed midway (${msg}); it may have gone out and is NOT resent`;
    await ledger.record(input.replyKey, 'unknown', input.messageId, detail);
    log(detail);
    return { kind: 'unknown', detail };
  }
}
