// How the service files the mails of a series into thread buckets as they
// arrive: a series sent without a cover letter (git send-email's default
// threading: patch 1/N carries no In-Reply-To/References, 2..N answer it) is
// one series with one review, whichever part arrives first; numbered patches
// sent without any threading headers are still grouped.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RawMail } from '../../bot/types.js';
import { startWorkers, type ServiceHandle } from '../../workers/service.js';
import { removeDir, tempDir, testConfig, testRedis, uniquePrefix, waitFor } from './helpers.js';
import { buildFixtureSeries, type FixtureSeries } from './series.js';

const raw = (text: string, i: number): RawMail => ({
  origin: { kind: 'eml', file: `thread-${i}.eml` },
  raw: Buffer.from(text, 'utf8').toString('latin1'),
});

async function idle(h: ServiceHandle): Promise<boolean> {
  const d = await h.queues.depths();
  return Object.entries(d)
    .filter(([q]) => q !== 'follow')
    .every(
      ([, s]) =>
        (s.waiting ?? 0) +
          (s.active ?? 0) +
          (s['waiting-children'] ?? 0) +
          (s.prioritized ?? 0) +
          (s.delayed ?? 0) ===
        0,
    );
}

/** Drop a mail's threading headers, or point them at `parent`. */
function rethread(text: string, parent: string | null): string {
  const head = text.slice(0, text.indexOf('\n\n'));
  const body = text.slice(text.indexOf('\n\n'));
  const kept = head.split('\n').filter((l) => !/^(In-Reply-To|References):/i.test(l));
  if (parent) kept.push(`In-Reply-To: <${parent}>`, `References: <${parent}>`);
  return kept.join('\n') + body;
}

describe('service thread buckets', () => {
  let dir: string;
  let fx: FixtureSeries;
  before(async () => {
    dir = await tempDir('svc-thread');
    fx = await buildFixtureSeries(join(dir, 'fx'));
  });
  after(async () => removeDir(dir));

  /** The fixture's three patches without the cover letter, threaded as `threading` says. */
  const coverless = (threading: 'send-email' | 'none') => {
    const first = fx.ids.patches[0]!;
    return fx.series
      .slice(1)
      .map((m, i) => rethread(m, threading === 'send-email' && i > 0 ? first : null));
  };

  const run = async (what: string, mails: string[], together = false) => {
    const prefix = uniquePrefix(`thread-${what}`);
    const { redis, cleanup } = await testRedis(prefix);
    const logs: string[] = [];
    const h = await startWorkers({
      config: testConfig(prefix, {
        tree: { path: fx.tree },
        lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org' }],
        mail: { from: 'pcibot@example.org', outbox: join(dir, `outbox-${what}`) },
        // Short, so that a split series would be reviewed (twice, partially) within the test.
        completenessTimeoutSec: 3,
      }),
      connection: redis,
      log: (l: string) => logs.push(l),
      schedule: false,
    });
    try {
      // One at a time, in the given order; or all at once (ingested concurrently).
      if (together) await h.queues.enqueueMails(mails.map(raw), 'linux-pci');
      else
        for (const [i, m] of mails.entries()) {
          await h.queues.enqueueMails([raw(m, i)], 'linux-pci');
          await waitFor('ingest', async () => {
            const q = (await h.queues.depths()).ingest;
            return (q.completed ?? 0) + (q.failed ?? 0) > i;
          });
        }
      await waitFor('a review', async () => (await h.state.listReviews()).length > 0, 30_000);
      // Past any completeness deadline, and nothing left to do.
      await new Promise((r) => setTimeout(r, 3_500));
      await waitFor('idle', () => idle(h), 30_000);
      const reviews = await h.state.listReviews();
      assert.equal(reviews.length, 1, `one review: ${JSON.stringify(reviews)}\n${logs.join('\n')}`);
      const [r] = reviews;
      assert.equal(r!.partial, false);
      assert.deepEqual(r!.missing, []);
      const series = await h.state.getSeries(r!.reviewKey);
      assert.deepEqual(
        series!.patches.map((p) => p.messageId),
        fx.ids.patches,
      );
      assert.equal(series!.cover, null);
    } finally {
      await h.close(5_000);
      await cleanup();
    }
  };

  it('a series without a cover letter, 1/N first: one series, one review', async () => {
    const [p1, p2, p3] = coverless('send-email');
    await run('first', [p1!, p2!, p3!]);
  });

  it('a series without a cover letter, 2..N before 1/N: one series, one review', async () => {
    const [p1, p2, p3] = coverless('send-email');
    await run('last', [p3!, p2!, p1!]);
  });

  it('a series without a cover letter, all parts at once: one series, one review', async () => {
    const [p1, p2, p3] = coverless('send-email');
    await run('together', [p3!, p1!, p2!], true);
  });

  it('numbered patches without any threading headers: one series, one review', async () => {
    const [p1, p2, p3] = coverless('none');
    await run('unthreaded', [p2!, p1!, p3!]);
  });
});
