// For scripts/bench.ts: the report page of the bundled example series as
// `pcibot serve` serves it. The review is stored in Redis as the service
// stores it (ServiceState: the result, the series, the record), the HTTP
// server renders /series/<review> from it, and Debian's Chromium loads it.
// Measured: the browser's navigation to the load event (cold: the first load,
// in a fresh profile, for which the server renders the page from the stored
// result; warm: the median after it, the page from the router's cache), the
// server's answer alone (request to last byte), and as the baseline the same
// page loaded from a file (no server, no render).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ReviewResult } from '../../workers/report/types.js';
import { startHttp } from '../../workers/serve/http.js';
import type { Series } from '../../bot/types.js';
import { cacheDir } from '../../bot/util/cache.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { validateConfig } from '../../workers/config.js';
import { runReview } from '../../workers/pipeline.js';
import { ServiceQueues } from '../../workers/queues.js';
import { ServiceState } from '../../workers/state.js';
import { launchChromium } from '../../test/browser.js';
import type { PagePerformance } from '../../test/page-dom.js';

export interface PageBench {
  /** Bytes of the page. */
  bytes: number;
  runs: number;
  /** ms: GET /series/<review> once rendered (the router keeps it), median. */
  served: number;
  /** ms: navigation start to the load event in Chromium; cold: the server renders the page. */
  browser: { cold: number; warm: number };
  /** ms, the baseline: the same HTML from a file, median. */
  file: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchPage(tree: string, commit: string, runs: number): Promise<PageBench> {
  const mbox = await exampleMbox({ name: 'align-small-bars', tree, commit, cacheDir: cacheDir() });
  let stored: { series: Series; result: ReviewResult } | null = null;
  await runReview({
    inputs: [mbox],
    tree,
    onResult: (series, result) => {
      stored = { series, result };
    },
  });
  if (!stored) throw new Error('bench page: the example was not reviewed');
  const { series, result } = stored as { series: Series; result: ReviewResult };

  const prefix = `pcibot-bench-page-${process.pid}`;
  const config = validateConfig({
    redis: { url: process.env.PCIBOT_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix },
    lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org' }],
  });
  const redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
  const state = new ServiceState(redis, prefix, 1);
  const queues = new ServiceQueues(redis, prefix);
  const key = 'bench-v3-a';
  await state.putSeries(key, series);
  await state.putResult(key, result);
  await state.putReview({
    reviewKey: key,
    seriesId: series.id,
    title: series.title,
    version: series.version,
    round: 'a',
    list: 'linux-pci',
    status: 'reviewed',
    partial: false,
    missing: [],
    findings: {},
    fixed: null,
    replies: [],
    at: new Date().toISOString(),
  });
  const http = await startHttp(config, redis, queues, { host: '127.0.0.1', port: 0 });
  const url = `${http.url}/series/${key}`;
  const work = await mkdtemp(join(tmpdir(), 'pcibot-bench-page-'));
  const browser = await launchChromium();
  try {
    const load = async (target: string) => {
      const page = await browser.ctx.newPage();
      await page.goto(target, { waitUntil: 'load' });
      const ms = await page.evaluate(() => {
        // Runs in the page: its performance has navigation entries (typed in test/page-dom.ts).
        const page = performance as unknown as PagePerformance;
        const [nav] = page.getEntriesByType('navigation');
        return nav!.loadEventEnd - nav!.startTime;
      });
      await page.close();
      return ms;
    };
    // Cold: the first load of the page, which the server renders from the stored result.
    const cold = await load(url);
    let html = '';
    const served: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const res = await fetch(url);
      html = await res.text();
      if (res.status !== 200) throw new Error(`bench page: ${url}: HTTP ${res.status}`);
      served.push(performance.now() - t0);
    }
    const file = join(work, 'page.html');
    await writeFile(file, html);
    const warm: number[] = [];
    const fromFile: number[] = [];
    for (let i = 0; i < runs; i++) {
      warm.push(await load(url));
      fromFile.push(await load(`file://${file}`));
    }
    return {
      bytes: Buffer.byteLength(html),
      runs,
      served: median(served),
      browser: { cold, warm: median(warm) },
      file: median(fromFile),
    };
  } finally {
    await browser.close();
    await http.close();
    await queues.close();
    await ServiceState.wipe(redis, prefix);
    redis.disconnect();
    await rm(work, { recursive: true, force: true });
  }
}
