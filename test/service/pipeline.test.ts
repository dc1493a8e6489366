// The queue pipeline's behaviour over time, in dry-run (outbox) mode: waiting
// for a series to be complete (and reviewing what arrived at the deadline),
// a new version saying which findings of the previous one it fixes, a newer
// version dropping the older one's pending review, "pcibot: quiet", and the
// replies held for a backfill and for a series older than reply.maxAgeDays.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Job } from 'bullmq';
import type { RawMail } from '../../bot/types.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import { jobIds, messageKey, reviewKeyOf } from '../../workers/jobs.js';
import { lineageOf, startWorkers, type ServiceHandle } from '../../workers/service.js';
import { removeDir, tempDir, testConfig, testRedis, uniquePrefix, waitFor } from './helpers.js';
import { repoRoot } from '../../bot/util/paths.js';
import { buildFixtureSeries, type FixtureSeries } from './series.js';

const raw = (text: string, i: number): RawMail => ({
  origin: { kind: 'eml', file: `test-${i}.eml` },
  raw: Buffer.from(text, 'utf8').toString('latin1'),
});

async function idle(h: ServiceHandle, queues?: string[]): Promise<boolean> {
  const d = await h.queues.depths();
  return Object.entries(d)
    .filter(([q]) => q !== 'follow' && (!queues || queues.includes(q)))
    .every(
      ([q, s]) =>
        (s.waiting ?? 0) +
          (s.active ?? 0) +
          (s['waiting-children'] ?? 0) +
          (s.prioritized ?? 0) +
          (q === 'assemble' ? 0 : (s.delayed ?? 0)) ===
        0,
    );
}

const outboxFiles = async (dir: string) => {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
  } catch {
    return [];
  }
};

describe('service pipeline over time (dry run)', () => {
  let dir: string;
  let fx: FixtureSeries;
  before(async () => {
    dir = await tempDir('svc-pipe');
    fx = await buildFixtureSeries(join(dir, 'fx'));
  });
  after(async () => removeDir(dir));

  const config = (prefix: string, outbox: string, over: Record<string, unknown> = {}) =>
    testConfig(prefix, {
      tree: { path: fx.tree },
      lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org' }],
      mail: { from: 'pcibot@example.org', outbox },
      ...over,
    });

  it('a review done again after Redis lost its state is not blocked by what the client replayed onto it', async () => {
    const prefix = uniquePrefix('pipe-gen');
    const { redis, cleanup } = await testRedis(prefix);
    const outbox = join(dir, 'outbox-gen');
    const logs: string[] = [];
    const h = await startWorkers({
      // Poll every second: the check for timers of an earlier generation runs every three.
      config: config(prefix, outbox, { pollIntervalSec: 1 }),
      connection: redis,
      log: (l) => logs.push(l),
      schedule: false,
    });
    try {
      // Redis restarted empty and the follower set a new generation, g2; the
      // client replayed onto it, from generation g1: the ingested and
      // review-scheduled markers of the series, and its review's flow (a
      // report waiting for its analyse job), without the series.
      await redis.set(`${prefix}:svc:generation`, 'g2');
      const messages = [];
      for (const m of fx.series) {
        const p = await parseMail(raw(m, 0));
        assert.ok(!isParseFailure(p));
        messages.push(p);
        await h.state.markIngested(messageKey(p.messageId), 'g1');
      }
      const s = assembleSeries(messages).series[0]!;
      const rk = reviewKeyOf(s.id, s.version, 'a');
      await h.state.claimReview(rk, 'g1');
      const req = {
        reviewKey: rk,
        bucket: 'b',
        seriesId: s.id,
        version: s.version,
        round: 'a',
        list: 'linux-pci',
        lineage: [],
        partial: false,
        generation: 'g1',
      };
      await h.queues.flow.add({
        name: 'report',
        queueName: 'report',
        prefix,
        data: req,
        opts: { jobId: jobIds.report(rk, 'g1') },
        children: [
          {
            name: 'analyse',
            queueName: 'analyse',
            prefix,
            data: { reviewKey: rk, generation: 'g1' },
            opts: { jobId: jobIds.analyse(rk, 'g1') },
          },
        ],
      });
      // ... and a completeness deadline of g1, ten minutes off: an orphan
      // that would hold the assemble queue busy until then.
      const timerId = jobIds.assemble('b-old', 'deadline', 'g1');
      await h.queues.queues.assemble.add(
        'assemble',
        { bucket: 'b-old', reason: 'deadline', generation: 'g1' },
        { jobId: timerId, delay: 600_000 },
      );
      // The follower walks the archive again, in generation g2.
      await h.queues.enqueueMails(fx.series.map(raw), 'linux-pci', { generation: 'g2' });
      await waitFor(
        'the reply',
        async () => (await idle(h)) && (await outboxFiles(outbox)).length === 1,
        30_000,
      );
      const orphan = await Job.fromId(h.queues.queues.report, jobIds.report(rk, 'g1'));
      assert.equal(await orphan?.getState(), 'completed');
      assert.match(
        String(orphan?.returnvalue?.orphan),
        /made in Redis generation g1, Redis now at g2/,
      );
      assert.equal((await h.state.getReview(rk))?.status, 'reviewed');
      // The g1 timer was run at once, as an orphan, not ten minutes later.
      const timer = await waitFor('the g1 timer run', async () => {
        const j = await Job.fromId(h.queues.queues.assemble, timerId);
        return (await j?.getState()) === 'completed' ? j : null;
      });
      assert.match(String(timer?.returnvalue?.orphan), /made in Redis generation g1/);
      assert.ok(logs.some((l) => /ran 1 delayed jobs of an earlier Redis generation/.test(l)));
    } finally {
      await h.close(5_000);
      await cleanup();
    }
  });

  it('waits for the missing patch until the deadline, reviews what arrived, and v2 says what it fixed', async () => {
    const prefix = uniquePrefix('pipe-time');
    const { redis, cleanup } = await testRedis(prefix);
    const outbox = join(dir, 'outbox-time');
    const h = await startWorkers({
      config: config(prefix, outbox, { completenessTimeoutSec: 3 }),
      connection: redis,
      log: () => {},
      schedule: false,
    });
    try {
      const t0 = Date.now();
      // Cover, 1/3 and 3/3: patch 2 never comes.
      await h.queues.enqueueMails(
        [fx.series[0]!, fx.series[1]!, fx.series[3]!].map(raw),
        'linux-pci',
      );
      await waitFor('ingest', () => idle(h, ['ingest', 'assemble']), 20_000);
      assert.equal((await h.state.listReviews()).length, 0, 'not reviewed while waiting for 2/3');
      const [review] = await waitFor(
        'the deadline review',
        async () => {
          const r = await h.state.listReviews();
          return r.length ? r : null;
        },
        20_000,
        100,
      );
      assert.ok(Date.now() - t0 >= 2_500, 'reviewed at the deadline, not before');
      assert.equal(review!.partial, true);
      assert.deepEqual(review!.missing, [2]);
      await waitFor(
        'the reply',
        async () => (await idle(h)) && (await outboxFiles(outbox)).length === 1,
        20_000,
      );
      const first = await readFile(join(outbox, (await outboxFiles(outbox))[0]!), 'utf8');
      assert.match(
        first.replace(/\r\n/g, '\n'),
        /Reviewed without patch 2 of 3, which did not arrive within/,
      );

      // v2 arrives: complete, reviewed at once; patch 1's parameter is gone.
      const v2 = await fx.v2();
      await h.queues.enqueueMails(v2.series.map(raw), 'linux-pci');
      const r2 = await waitFor(
        'v2 review',
        async () => (await h.state.listReviews()).find((r) => r.version === 2),
        20_000,
      );
      assert.equal(r2.partial, false);
      assert.equal(r2.fixed?.version, 1);
      assert.deepEqual(
        r2.fixed?.findings.map((f) => f.rule),
        ['new-kernel-parameter'],
      );
      await waitFor(
        'v2 reply',
        async () => (await idle(h)) && (await outboxFiles(outbox)).length === 2,
        20_000,
      );
      const v2files = (await outboxFiles(outbox)).filter((f) => f.includes('-v2-'));
      assert.equal(v2files.length, 1, 'one reply for v2');
      const text = (await readFile(join(outbox, v2files[0]!), 'utf8')).replace(/\r\n/g, '\n');
      assert.match(text, /In-Reply-To: <cover-v2\./);
      assert.match(
        text,
        /^\[PATCH v2 3\/3\] PCI: Add an ACS isolation hook/m,
        'only patch 3 of v2 has a finding',
      );
      assert.doesNotMatch(text, /^\[PATCH v2 1\/3\]/m);
      assert.match(
        text,
        /Fixed since v1:\n- New kernel parameter "pci_foo_align" \(drivers\/pci\/pci\.c\)/,
      );
    } finally {
      await h.close(5_000);
      await cleanup();
    }
  });

  it("quiet by default: a series with only info findings gets no mail, whatever the list's minSeverity", async () => {
    const infoOnly = await readFile(
      join(repoRoot, 'rules', 'subject-prefix', 'fires.eml'),
      'latin1',
    );
    for (const minSeverity of ['warning', 'info'] as const) {
      const prefix = uniquePrefix(`pipe-min-${minSeverity}`);
      const { redis, cleanup } = await testRedis(prefix);
      const outbox = join(dir, `outbox-min-${minSeverity}`);
      const h = await startWorkers({
        config: config(prefix, outbox, {
          lists: [
            { name: 'linux-pci', address: 'linux-pci@vger.kernel.org', reply: { minSeverity } },
          ],
        }),
        connection: redis,
        log: () => {},
        schedule: false,
      });
      try {
        await h.queues.enqueueMails(
          [{ origin: { kind: 'eml', file: 'info-only.eml' }, raw: infoOnly }],
          'linux-pci',
        );
        const [review] = await waitFor(
          'review',
          async () => {
            const r = await h.state.listReviews();
            return r.length ? r : null;
          },
          20_000,
          100,
        );
        await waitFor('idle', () => idle(h), 20_000);
        const files = await outboxFiles(outbox);
        assert.deepEqual(files, [], 'info findings alone send nothing');
        assert.deepEqual(review!.replies, []);
        const found = Object.values(review!.findings).flat();
        if (minSeverity === 'warning') assert.deepEqual(found, [], 'info is below the threshold');
        else
          assert.ok(
            found.some((f) => f.rule === 'subject-prefix'),
            'reported, but not worth a mail on its own',
          );
      } finally {
        await h.close(5_000);
        await cleanup();
      }
    }
  });

  it('a backfill and a series older than reply.maxAgeDays are reviewed, not answered; sendBackfill answers the backfill', async () => {
    // The fault test cannot show this alone: there, a replayed review's reply
    // is also found in the archive. Here nothing else would stop it.
    const old = await buildFixtureSeries(join(dir, 'fx-old'), {
      tag: 'pipe-old',
      sentAt: Date.now() - 20 * 86400_000,
    });
    const run = async (
      name: string,
      reply: Record<string, unknown>,
      mails: string[],
      backfill: boolean,
    ) => {
      const prefix = uniquePrefix(`pipe-${name}`);
      const { redis, cleanup } = await testRedis(prefix);
      const outbox = join(dir, `outbox-${name}`);
      const h = await startWorkers({
        config: config(prefix, outbox, {
          lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org', reply }],
        }),
        connection: redis,
        log: () => {},
        schedule: false,
      });
      try {
        await h.queues.enqueueMails(mails.map(raw), 'linux-pci', { backfill });
        const [review] = await waitFor(
          `${name}: the review`,
          async () => {
            const r = await h.state.listReviews();
            return r.length && (await idle(h)) ? r : null;
          },
          30_000,
          100,
        );
        return { review: review!, files: await outboxFiles(outbox) };
      } finally {
        await h.close(5_000);
        await cleanup();
      }
    };

    const backfill = await run('backfill', {}, fx.series, true);
    assert.deepEqual(backfill.files, [], 'a backfill sends nothing');
    assert.deepEqual(backfill.review.replies, []);
    assert.match(String(backfill.review.held), /a backfill .*reviewed, not answered/);
    assert.ok(Object.values(backfill.review.findings).flat().length > 0, 'it was reviewed');

    const aged = await run('aged', {}, old.series, false);
    assert.deepEqual(aged.files, [], 'a series 20 days old gets no reply');
    assert.match(String(aged.review.held), /older than reply\.maxAgeDays \(14 days\)/);

    const asked = await run('sendbackfill', { sendBackfill: true }, fx.series, true);
    assert.equal(asked.files.length, 1, 'sendBackfill: the backfill is answered, once');
    assert.equal(asked.review.held, undefined);
    const widened = await run('widened', { maxAgeDays: 30 }, old.series, false);
    assert.equal(widened.files.length, 1, 'within a wider reply.maxAgeDays it is answered');
  });

  it('drops the pending review of v1 when v2 arrives, and honours a maintainer\'s "pcibot: quiet"', async () => {
    const prefix = uniquePrefix('pipe-drop');
    const { redis, cleanup } = await testRedis(prefix);
    const outbox = join(dir, 'outbox-drop');
    const cfg = config(prefix, outbox);
    // First only ingest and assemble run: reviews pile up in the apply queue.
    const front = await startWorkers({
      config: cfg,
      connection: redis,
      log: () => {},
      schedule: false,
      only: ['ingest', 'assemble'],
    });
    let back: ServiceHandle | null = null;
    try {
      const v2 = await fx.v2();
      await front.queues.enqueueMails(fx.series.map(raw), 'linux-pci');
      await waitFor('v1 queued', () => idle(front, ['ingest', 'assemble']), 20_000);
      const v1Lineage = await front.state.lineage(
        lineageOf({
          changeId: null,
          title: 'PCI: Small BAR alignment and an ACS quirk',
          author: { name: '', address: 'ann@example.com' },
        } as never),
      );
      const v1 = v1Lineage.get(1);
      assert.equal(v1?.status, 'scheduled');
      assert.ok(
        await Job.fromId(front.queues.queues.apply, jobIds.apply(v1!.reviewKey)),
        'v1 apply job waiting',
      );

      await front.queues.enqueueMails(
        [
          ...v2.series,
          fx
            .reply(
              'PCI Maintainer <pci-maintainer@example.org>',
              1,
              'pcibot: quiet',
              'quiet-1@example.org',
            )
            .replace(/1-v1\.pcibot-e2e/g, '1-v2.pcibot-e2e')
            .replace(/cover\.1736157600\.pcibot-e2e/, 'cover-v2.pcibot-e2e'),
        ].map(raw),
        'linux-pci',
      );
      await waitFor('v2 queued', () => idle(front, ['ingest', 'assemble']), 20_000);
      const lin = await front.state.lineage(
        lineageOf({
          changeId: null,
          title: 'PCI: Small BAR alignment and an ACS quirk',
          author: { name: '', address: 'ann@example.com' },
        } as never),
      );
      assert.equal(lin.get(1)?.status, 'dropped');
      assert.equal(lin.get(2)?.status, 'scheduled');
      assert.equal(
        await Job.fromId(front.queues.queues.apply, jobIds.apply(v1!.reviewKey)),
        undefined,
        'v1 apply job removed',
      );
      const trig = (await front.state.triggers()).find(
        (t) => t.messageId === 'quiet-1@example.org',
      );
      assert.equal(trig?.outcome, 'honoured');

      back = await startWorkers({
        config: cfg,
        connection: redis,
        log: () => {},
        schedule: false,
        only: ['apply', 'analyse', 'report', 'send'],
      });
      const reviews = await waitFor(
        'v2 reviewed',
        async () => {
          const r = await back!.state.listReviews();
          return r.length && (await idle(back!)) ? r : null;
        },
        30_000,
      );
      assert.deepEqual(
        reviews.map((r) => r.version),
        [2],
        'v1 never reviewed',
      );
      assert.ok(reviews[0]!.replies.length > 0, 'v2 had something to say');
      assert.deepEqual(await outboxFiles(outbox), [], 'but the thread was silenced');
      const counters = await back.state.counters();
      assert.equal(
        counters.replies_suppressed,
        reviews[0]!.replies.length,
        JSON.stringify({ counters, reviews }),
      );
      assert.equal(counters.series_superseded, 1);
    } finally {
      await front.close(5_000);
      await back?.close(5_000);
      await cleanup();
    }
  });
});
