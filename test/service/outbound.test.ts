// Sending replies exactly once: the ledger (its durable journal first), the
// outbox (dry run), a real SMTP server in a child process, rate limits, and a
// crash between "about to send" and "sent": settled by the list archive (in
// it: sent; absent a grace period later: sent now, once; no archive: left to
// a person, and shown in health).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { deliverReply, type DeliverInput } from '../../bot/outbound/deliver.js';
import { ReplyLedger } from '../../bot/outbound/ledger.js';
import { ReplyJournal } from '../../bot/outbound/journal.js';
import { ArchiveLookup } from '../../bot/lore/archive.js';
import { ListJournal } from '../../bot/lore/journal.js';
import { RateLimiter } from '../../bot/outbound/ratelimit.js';
import { outboxTransport, smtpTransport } from '../../bot/outbound/transport.js';
import { checkHealth } from '../../workers/serve/health.js';
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
    ledger = new ReplyLedger(redis, prefix, new ReplyJournal(join(dir, 'replies.jsonl')));
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

  it('settles a send interrupted mid-way by the archive: present is sent, absent after the grace period is sent once', async () => {
    const transport = smtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      user: null,
      pass: null,
    });
    const listJournal = new ListJournal(join(dir, 'lists', 'linux-pci'));
    const archive = new ArchiveLookup({
      list: 'linux-pci',
      mirror: join(dir, 'inbox'),
      journal: listJournal,
      graceMs: 60_000,
      pollMs: 1000,
    });
    try {
      // k2: a worker recorded the intent and died; the follower has since seen it in the archive.
      assert.equal(await ledger.recordIntent('k2', 'pcibot-k2@example.org'), true);
      const before = (await smtp.messages()).length;
      await listJournal.noteSeen(['pcibot-k2@example.org']);
      assert.deepEqual(
        await deliverReply(input('k2'), { ledger, limiter, transport, log, archive }),
        {
          kind: 'already',
          state: 'sent',
          settled: 'archive',
        },
      );
      assert.equal((await ledger.get('k2'))?.by, 'archive');

      // k4: interrupted too, not in the archive, which has not caught up yet: wait.
      assert.equal(await ledger.recordIntent('k4', 'pcibot-k4@example.org'), true);
      const w = await deliverReply(input('k4'), { ledger, limiter, transport, log, archive });
      assert.equal(w.kind, 'waiting');
      assert.ok(w.kind === 'waiting' && w.waitMs > 50_000, 'waits about the grace period');
      assert.equal((await ledger.get('k4'))?.state, 'unknown');
      assert.equal((await smtp.messages()).length, before, 'nothing sent while in doubt');
      // The follower walked the archive to its head from a fetch past the grace period: absent.
      const intentAt = Date.parse(ledger.journal.intent('k4')!.at);
      await listJournal.write({
        source: join(dir, 'inbox'),
        cursor: { epoch: 0, commit: null },
        at: intentAt + 61_000,
        checkpoints: [],
        backfill: null,
        fetchedAt: intentAt + 61_000,
        caughtUpAt: intentAt + 61_000,
      });
      const sent = await deliverReply(input('k4'), { ledger, limiter, transport, log, archive });
      assert.equal(sent.kind, 'sent');
      const again = await deliverReply(input('k4'), { ledger, limiter, transport, log, archive });
      assert.deepEqual(again, { kind: 'already', state: 'sent' });
      const got = (await smtp.messages()).filter(
        (m) => m.headers.get('message-id') === '<pcibot-k4@example.org>',
      );
      assert.equal(got.length, 1, 'sent exactly once after resolution');
    } finally {
      transport.close();
    }
  });

  it('leaves an interrupted send to a person when no archive can tell, and says so in health', async () => {
    const transport = smtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      user: null,
      pass: null,
    });
    const config = testConfig(prefix);
    const root = join(config.stateDir, prefix);
    const own = new ReplyLedger(redis, prefix, new ReplyJournal(join(root, 'replies.jsonl')));
    try {
      await own.journal.append({
        replyKey: 'k5',
        state: 'intent',
        messageId: 'pcibot-k5@example.org',
        at: new Date(Date.now() - 3600_000).toISOString(),
      });
      const before = (await smtp.messages()).length;
      const r = await deliverReply(input('k5'), { ledger: own, limiter, transport, log });
      assert.equal(r.kind, 'unknown');
      assert.equal((await smtp.messages()).length, before, 'no mail sent');
      assert.ok(logs.some((l) => l.includes('k5') && l.includes('may or may not have gone out')));
      const queues = new ServiceQueues(redis, prefix);
      try {
        const h = await checkHealth(config, redis, queues);
        assert.deepEqual(h.unknownReplies, ['k5']);
        assert.equal(h.ok, false);
        assert.ok(h.problems.some((p) => /interrupted mid-send and not settled/.test(p)));
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
      assert.equal(
        (await ledger.get('k3'))?.state,
        'not-sent',
        'the intent is void: a retry may send',
      );
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
    await ledger.recordIntent('d3', 'pcibot-d3@example.org');
    await transport.send('d3', eml('d3'), input('d3').envelope);
    assert.deepEqual(await deliverReply(input('d3'), { ledger, limiter, transport, log }), {
      kind: 'already',
      state: 'sent',
      settled: 'outbox',
    });
    // Redis forgot d1 (restarted empty): the durable journal still knows it went out.
    await redis.del(`${prefix}:svc:ledger:d1`);
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
    assert.deepEqual((await readdir(outbox)).sort(), ['d1.eml', 'd2.eml', 'd3.eml']);
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
