// Sending replies exactly once: the ledger, the outbox (dry run), a real SMTP
// server in a child process, rate limits, and a crash between "about to send"
// and "sent" (never a second mail; reported as unknown in health).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { deliverReply, type DeliverInput } from '../../bot/outbound/deliver.js';
import { ReplyLedger } from '../../bot/outbound/ledger.js';
import { RateLimiter } from '../../bot/outbound/ratelimit.js';
import { outboxTransport, smtpTransport } from '../../bot/outbound/transport.js';
import { checkHealth } from '../../bot/service/health.js';
import { ServiceQueues } from '../../workers/queues.js';
import {
  freePort,
  removeDir,
  SmtpSink,
  tempDir,
  testConfig,
  testRedis,
  uniquePrefix,
} from './helpers.js';

const eml = (key: string) =>
  `From: pcibot <pcibot@example.org>\r\nTo: ann@example.com\r\nSubject: Re: [PATCH] x\r\nMessage-ID: <pcibot-${key}@example.org>\r\n\r\nbody ${key}\r\n`;
const input = (key: string, over: Partial<DeliverInput> = {}): DeliverInput => ({
  replyKey: key,
  messageId: `pcibot-${key}@example.org`,
  eml: eml(key),
  envelope: { from: 'pcibot@example.org', to: ['ann@example.com', 'linux-pci@vger.kernel.org'] },
  suppressedBecause: null,
  limits: [],
  ...over,
});

describe('reply delivery', () => {
  let dir: string;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  let smtp: SmtpSink;
  const prefix = uniquePrefix('out');
  let ledger: ReplyLedger;
  let limiter: RateLimiter;
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);

  before(async () => {
    dir = await tempDir('svc-out');
    const r = await testRedis(prefix);
    redis = r.redis;
    cleanup = r.cleanup;
    smtp = await SmtpSink.start(join(dir, 'smtp'));
    ledger = new ReplyLedger(redis, prefix);
    limiter = new RateLimiter(redis, prefix);
  });
  after(async () => {
    await smtp?.stop();
    await cleanup?.();
    await removeDir(dir);
  });

  it('sends through SMTP once; a second attempt finds the ledger', async () => {
    const transport = smtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      user: null,
      pass: null,
    });
    try {
      const a = await deliverReply(input('k1'), { ledger, limiter, transport, log });
      assert.equal(a.kind, 'sent');
      const b = await deliverReply(input('k1'), { ledger, limiter, transport, log });
      assert.deepEqual(b, { kind: 'already', state: 'sent' });
      const got = await smtp.messages();
      assert.equal(got.length, 1);
      assert.deepEqual(got[0]!.envelope.to, ['ann@example.com', 'linux-pci@vger.kernel.org']);
      assert.equal(got[0]!.headers.get('message-id'), '<pcibot-k1@example.org>');
    } finally {
      transport.close();
    }
  });

  it('never resends after a crash between intent and result, and says so in health', async () => {
    const transport = smtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      user: null,
      pass: null,
    });
    try {
      // A worker recorded the intent and died: whether the server got it is unknown.
      assert.equal(await ledger.recordIntent('k2', 'pcibot-k2@example.org'), true);
      const before = (await smtp.messages()).length;
      const r = await deliverReply(input('k2'), { ledger, limiter, transport, log });
      assert.equal(r.kind, 'unknown');
      assert.equal((await smtp.messages()).length, before, 'no mail sent');
      assert.equal((await ledger.get('k2'))?.state, 'unknown');
      assert.ok(logs.some((l) => l.includes('k2') && l.includes('NOT resent')));
      const queues = new ServiceQueues(redis, prefix);
      try {
        const h = await checkHealth(testConfig(prefix), redis, queues);
        assert.deepEqual(h.unknownReplies, ['k2']);
        assert.equal(h.ok, false);
      } finally {
        await queues.close();
      }
    } finally {
      transport.close();
    }
  });

  it('clears the intent when the SMTP server never took the mail, so a retry may send', async () => {
    const transport = smtpTransport({
      host: '127.0.0.1',
      port: await freePort(),
      secure: false,
      user: null,
      pass: null,
    });
    try {
      const r = await deliverReply(input('k3'), { ledger, limiter, transport, log });
      assert.equal(r.kind, 'failed');
      assert.equal(r.kind === 'failed' && r.retry, true);
      assert.equal(await ledger.get('k3'), null);
    } finally {
      transport.close();
    }
  });

  it('dry run: writes .eml files to the outbox, and can tell after a crash whether the file was written', async () => {
    const outbox = join(dir, 'outbox');
    const transport = outboxTransport(outbox);
    assert.equal(
      (await deliverReply(input('d1'), { ledger, limiter, transport, log })).kind,
      'sent',
    );
    assert.equal(await readFile(join(outbox, 'd1.eml'), 'utf8'), eml('d1'));
    // Crash after the write, before the ledger said "sent": confirmed, not rewritten.
    await redis.del(`${prefix}:svc:ledger:d1`);
    await ledger.recordIntent('d1', 'pcibot-d1@example.org');
    assert.deepEqual(await deliverReply(input('d1'), { ledger, limiter, transport, log }), {
      kind: 'already',
      state: 'sent',
    });
    // Crash before the write: the intent is void and the reply goes out.
    await ledger.recordIntent('d2', 'pcibot-d2@example.org');
    assert.equal(
      (await deliverReply(input('d2'), { ledger, limiter, transport, log })).kind,
      'sent',
    );
    assert.deepEqual((await readdir(outbox)).sort(), ['d1.eml', 'd2.eml']);
  });

  it('holds replies over the per-list or per-recipient limit and lets them through later', async () => {
    const transport = outboxTransport(join(dir, 'outbox-rl'));
    const limits = (to: string) => [
      { key: limiter.limitKey('list', 'linux-pci'), max: 2, windowMs: 60_000 },
      { key: limiter.limitKey('rcpt', to), max: 1, windowMs: 300 },
    ];
    assert.equal(
      (
        await deliverReply(input('r1', { limits: limits('a@example.com') }), {
          ledger,
          limiter,
          transport,
          log,
        })
      ).kind,
      'sent',
    );
    const held = await deliverReply(input('r2', { limits: limits('a@example.com') }), {
      ledger,
      limiter,
      transport,
      log,
    });
    assert.equal(held.kind, 'rate-limited', 'same recipient within 300 ms');
    assert.ok(held.kind === 'rate-limited' && held.waitMs > 0 && held.waitMs <= 300);
    assert.equal(await ledger.get('r2'), null, 'nothing recorded for a held reply');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(
      (
        await deliverReply(input('r2', { limits: limits('a@example.com') }), {
          ledger,
          limiter,
          transport,
          log,
        })
      ).kind,
      'sent',
    );
    const overList = await deliverReply(input('r3', { limits: limits('b@example.com') }), {
      ledger,
      limiter,
      transport,
      log,
    });
    assert.equal(overList.kind, 'rate-limited', 'third reply on the list within a minute');
  });

  it("records a silenced thread's reply as suppressed without sending it", async () => {
    const transport = outboxTransport(join(dir, 'outbox-q'));
    const r = await deliverReply(input('q1', { suppressedBecause: 'quiet' }), {
      ledger,
      limiter,
      transport,
      log,
    });
    assert.equal(r.kind, 'suppressed');
    assert.equal(await transport.delivered('q1'), false);
    assert.equal((await ledger.get('q1'))?.state, 'suppressed');
  });
});
