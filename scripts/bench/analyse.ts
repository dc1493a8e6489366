// For scripts/bench.ts: where the analyse stage spends its time on the bundled
// 8-patch example on the real tree, to decide how the service splits it
// (DESIGN.md, "Analyse in the service"). Measured: the patch checks of the
// whole series and of each patch alone, the series checks (the model's
// before/after), and what a job pays to fetch a series and its applied state
// from Redis. Cold = the first run in this process (empty parse and blob
// caches); warm = the median of the runs after it (a worker's next series on
// the same base).
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { readInputs } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import { applySeries, seriesPatches } from '../../bot/tree/apply.js';
import { patchIndex, type Applied, type Message, type Series } from '../../bot/types.js';
import { cacheDir } from '../../bot/util/cache.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { patchChecks, seriesChecks } from '../../workers/analyse/analyse.js';

export interface AnalyseBench {
  patches: number;
  /** ms, cold and warm: all patch checks in one call. */
  patchChecks: { cold: number; warm: number };
  /** ms, warm: each patch's checks alone (what one per-patch job computes). */
  perPatch: { index: number; warm: number }[];
  /** ms: the series checks (the model's before/after). */
  seriesChecks: { cold: number; warm: number };
  /** ms, warm: fetching series + applied from Redis and parsing them (a job's fixed cost). */
  fetch: number;
  /** Bytes of the series and applied JSON a job reads. */
  bytes: number;
  /** Layouts in the model's before/after data, and the bytes of that data as JSON. */
  model: { runs: number; layouts: number; bytes: number };
}

async function exampleSeries(tree: string, commit: string): Promise<Series> {
  const mbox = await exampleMbox({ name: 'align-small-bars', tree, commit, cacheDir: cacheDir() });
  const messages: Message[] = [];
  for (const raw of (await readInputs([mbox])).mails) {
    const m = await parseMail(raw);
    if (!isParseFailure(m)) messages.push(m);
  }
  const series = assembleSeries(messages).series[0];
  if (!series) throw new Error('bench: the example mbox holds no series');
  return series;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function coldWarm(fn: () => Promise<unknown>, runs: number) {
  const cold = await time(fn);
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) warm.push(await time(fn));
  return { cold, warm: median(warm) };
}

export async function benchAnalyse(
  tree: string,
  commit: string,
  runs = 5,
  redisUrl = process.env.PCIBOT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
): Promise<AnalyseBench> {
  const series = await exampleSeries(tree, commit);
  const applied: Applied = await applySeries({
    tree,
    patches: seriesPatches(series),
    baseCommit: series.baseCommit,
  });
  const input = { series, applied };
  const pc = await coldWarm(() => patchChecks(input), runs);
  const sc = await coldWarm(() => seriesChecks(input), runs);
  const perPatch: AnalyseBench['perPatch'] = [];
  for (const [pos, p] of series.patches.entries()) {
    const index = patchIndex(p, pos);
    const ts: number[] = [];
    for (let i = 0; i < runs; i++) ts.push(await time(() => patchChecks(input, [index])));
    perPatch.push({ index, warm: median(ts) });
  }
  const model = (await seriesChecks(input)).model;

  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const key = `pcibot-bench-analyse-${process.pid}`;
  let fetch = 0;
  let bytes = 0;
  try {
    const s = JSON.stringify(series);
    const a = JSON.stringify({ applied });
    bytes = s.length + a.length;
    await redis.set(`${key}:s`, s, 'EX', 60);
    await redis.set(`${key}:a`, a, 'EX', 60);
    const ts: number[] = [];
    for (let i = 0; i < runs; i++)
      ts.push(
        await time(async () => {
          JSON.parse((await redis.get(`${key}:s`))!);
          JSON.parse((await redis.get(`${key}:a`))!);
        }),
      );
    fetch = median(ts);
  } finally {
    await redis.del(`${key}:s`, `${key}:a`);
    redis.disconnect();
  }
  return {
    patches: series.patches.length,
    patchChecks: pc,
    perPatch,
    seriesChecks: sc,
    fetch,
    bytes,
    model: {
      runs: model?.runs.length ?? 0,
      layouts: Object.keys(model?.layouts ?? {}).length,
      bytes: model ? JSON.stringify(model).length : 0,
    },
  };
}
