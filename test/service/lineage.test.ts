// The service's version lineage guards links as the assembler does (see
// test/series/versions.test.ts): a series never gets two parents (or two
// children) of one version through the weak links (a renamed title, the same
// change at a consecutive version), so a v3 that could follow either of two
// v2s supersedes neither, and a v2 that two v3s could follow is left live.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assembleSeries } from '../../bot/series/assemble.js';
import { lineageKeys, strongLineageKeys } from '../../bot/series/identity.js';
import type { Series } from '../../bot/types.js';
import { makeContext } from '../../workers/context.js';
import { reviewKeyOf } from '../../workers/jobs.js';
import { scheduleReview } from '../../workers/reviews.js';
import { CHANGES, postings, type PostingSpec } from '../series/version-mails.js';
import { testConfig, testRedis, uniquePrefix } from './helpers.js';

const a2: PostingSpec = {
  id: 'a2',
  version: 2,
  date: '2025-03-01T10:00:00Z',
  patches: [{ title: 'PCI: Pad tiny BARs', ...CHANGES.acs }],
};
const b2: PostingSpec = {
  id: 'b2',
  version: 2,
  date: '2025-03-01T11:00:00Z',
  patches: [{ title: 'PCI: Keep decoding on', ...CHANGES.decode }],
};
// Renamed from a2's title, and the same change as b2's.
const c3: PostingSpec = {
  id: 'c3',
  version: 3,
  date: '2025-03-08T10:00:00Z',
  patches: [
    {
      title: 'PCI: Leave decoding alone',
      ...CHANGES.decode,
      at: 300,
      notes: 'v2->v3:\n* new subject (was: "PCI: Pad tiny BARs")',
    },
  ],
};

/** Each posting as the service sees it: assembled alone (its own thread bucket). */
async function alone(spec: PostingSpec): Promise<Series> {
  const [s] = assembleSeries(await postings(spec)).series;
  return s!;
}

async function withService(
  fn: (ctx: ReturnType<typeof makeContext>, logs: string[]) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix('lineage');
  const { redis, cleanup } = await testRedis(prefix);
  const logs: string[] = [];
  const ctx = makeContext({
    config: testConfig(prefix),
    connection: redis,
    log: (l) => logs.push(l),
  });
  try {
    await fn(ctx, logs);
  } finally {
    await ctx.queues.close();
    await cleanup();
  }
}

const schedule = (ctx: ReturnType<typeof makeContext>, s: Series) =>
  scheduleReview(ctx, s, { bucket: `b-${s.id}`, round: 'a', list: 'linux-pci', partial: false });

const statusOf = async (ctx: ReturnType<typeof makeContext>, s: Series) =>
  (await ctx.state.lineage(lineageKeys(s))).get(s.version)?.status;

const newer = async (ctx: ReturnType<typeof makeContext>, s: Series) => {
  const { versions } = await ctx.state.versions(lineageKeys(s), strongLineageKeys(s), {
    seriesId: s.id,
    version: s.version,
  });
  return [...versions.keys()].filter((v) => v > s.version);
};

describe('service lineage', () => {
  it('never two parents of one version: a v3 that could follow either of two v2s supersedes neither', async () => {
    // The assembler, given all three, links none of them.
    const together = assembleSeries(await postings(a2, b2, c3));
    assert.ok(together.series.every((s) => s.supersedes.length === 0));

    const [sa, sb, sc] = await Promise.all([alone(a2), alone(b2), alone(c3)]);
    await withService(async (ctx, logs) => {
      await schedule(ctx, sa);
      await schedule(ctx, sb);
      await schedule(ctx, sc);
      assert.equal(await statusOf(ctx, sa), 'scheduled', logs.join('\n'));
      assert.equal(await statusOf(ctx, sb), 'scheduled', logs.join('\n'));
      assert.equal(await ctx.state.isDropped(reviewKeyOf(sa.id, 2, 'a')), false);
      assert.equal(await ctx.state.isDropped(reviewKeyOf(sb.id, 2, 'a')), false);
      assert.match(logs.join('\n'), /not superseding any v2: more than one series/);
      // Nor does either v2, assembled again, count as superseded by the v3.
      assert.deepEqual(await newer(ctx, sa), []);
      assert.deepEqual(await newer(ctx, sb), []);
      // And the v3's review has no previous version to say what it fixed.
      const { versions } = await ctx.state.versions(lineageKeys(sc), strongLineageKeys(sc), {
        seriesId: sc.id,
        version: 3,
      });
      assert.equal(versions.get(2), undefined);
    });
  });

  it('with one candidate the link holds: a v3 supersedes the one v2 it follows', async () => {
    const [sb, sc] = await Promise.all([alone(b2), alone(c3)]);
    await withService(async (ctx) => {
      await schedule(ctx, sb);
      await schedule(ctx, sc);
      assert.equal(await statusOf(ctx, sb), 'dropped');
      assert.equal(await ctx.state.isDropped(reviewKeyOf(sb.id, 2, 'a')), true);
      assert.deepEqual(await newer(ctx, sb), [3]);
    });
  });

  it('never two children of one version: a v2 that two v3s could follow is not superseded', async () => {
    const old: PostingSpec = {
      id: 'o2',
      version: 2,
      date: '2025-03-01T10:00:00Z',
      patches: [{ title: 'PCI: Pad tiny BARs', ...CHANGES.acs }],
    };
    const child = (id: string, title: string, change: keyof typeof CHANGES): PostingSpec => ({
      id,
      version: 3,
      date: '2025-03-08T10:00:00Z',
      patches: [
        {
          title,
          ...CHANGES[change],
          notes: 'v2->v3:\n* split out of "PCI: Pad tiny BARs" (was: "PCI: Pad tiny BARs")',
        },
      ],
    });
    const together = assembleSeries(
      await postings(
        old,
        child('x3', 'PCI: Pad BARs', 'align'),
        child('y3', 'PCI: Keep decoding', 'decode'),
      ),
    );
    assert.ok(together.series.every((s) => s.supersedes.length === 0));

    const [so, sx, sy] = await Promise.all([
      alone(old),
      alone(child('x3', 'PCI: Pad BARs', 'align')),
      alone(child('y3', 'PCI: Keep decoding', 'decode')),
    ]);
    await withService(async (ctx) => {
      // The v3s are scheduled first (the v2 arrives, or is assembled again, later).
      await schedule(ctx, sx);
      await schedule(ctx, sy);
      assert.deepEqual(await newer(ctx, so), [], 'the v2 is live');
    });
  });
});
