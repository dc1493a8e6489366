// The report pages as a person sees them: the service (BullMQ workers over
// real Redis) reviews the bundled example on the real 6.12 tree and a hostile
// mail, `pcibot serve`'s HTTP side serves what it stored, and a real headless
// Chromium (Debian's package, driven by playwright-core; never a downloaded
// browser) follows the link in the reply to the series page. The test reads
// the rendered DOM: the seed reproducer's three 32-byte BARs in one red page
// before the series and in three pages after, the numbers equal the stored
// JSON, the page loads in under a second, findings link into the diffs,
// nothing from the hostile mail runs, the 50-device SR-IOV map loads, and no
// request leaves the server (the queue dashboard's included). Screenshots go to
// test-artifacts/ (gitignored) and their paths are printed.
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { readInputs } from '../../bot/ingest/read.js';
import type { ReviewResult } from '../../workers/report/types.js';
import { DASHBOARD_CSP, startHttp, type HttpHandle } from '../../workers/serve/http.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { cacheDir } from '../../bot/util/cache.js';
import { repoRoot } from '../../bot/util/paths.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { startWorkers, type ServiceHandle } from '../../workers/service.js';
import { launchChromium } from '../browser.js';
import type {
  PageAnchor,
  PageDetails,
  PageDocument,
  PageHTMLElement,
  PageImage,
  PageElement,
  PagePerformance,
  PageStyle,
} from '../page-dom.js';
import { hostileMbox } from '../report/hostile.js';
import {
  freePort,
  removeDir,
  tempDir,
  testConfig,
  testRedis,
  uniquePrefix,
  waitFor,
} from './helpers.js';

export const ARTIFACTS = join(repoRoot, 'test-artifacts');

// The page's globals, for the callbacks that run in it (test/page-dom.ts): in
// this module only, so the rest of the program is compiled without the DOM.
declare const document: PageDocument;
declare const window: object;
declare function getComputedStyle(e: PageElement): PageStyle;

describe('the report pages in a browser', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let service: ServiceHandle | null = null;
  let http: HttpHandle | null = null;
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  let base = '';
  let outbox = '';
  const foreign: string[] = [];
  /** Requests the page's Content-Security-Policy stopped in the browser: they never left it. */
  const blockedByCsp: string[] = [];
  const dialogs: string[] = [];

  before(async () => {
    dir = await tempDir('page-browser');
    await mkdir(ARTIFACTS, { recursive: true });
    const { path: tree, commit } = await prepareKernelTree();
    const mbox = await exampleMbox({
      name: 'align-small-bars',
      tree,
      commit,
      cacheDir: cacheDir(),
    });
    const hostile = join(dir, 'hostile.mbox');
    await writeFile(hostile, await hostileMbox(mbox), 'latin1');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    outbox = join(dir, 'outbox');
    const prefix = uniquePrefix('page');
    const r = await testRedis(prefix);
    cleanup = r.cleanup;
    const config = testConfig(prefix, {
      tree: { path: tree },
      lists: [
        {
          name: 'linux-pci',
          address: 'linux-pci@vger.kernel.org',
          // The example's mails are dated 2024 (the mbox is deterministic): allow old
          // series, or the age limit (reply.maxAgeDays) would rightly send no reply.
          reply: { minSeverity: 'info', maxAgeDays: 3650 },
          archive: 'https://lore.kernel.org/linux-pci',
        },
      ],
      mail: { from: 'pcibot@example.org', outbox },
      http: { host: '127.0.0.1', port, publicUrl: base },
    });
    service = await startWorkers({ config, connection: r.redis, log: () => {}, schedule: false });
    await service.queues.enqueueMails((await readInputs([mbox, hostile])).mails, 'linux-pci');
    const state = service.state;
    await waitFor(
      'both reviews stored',
      async () => {
        const reviews = await state.listReviews();
        if (reviews.length < 2) return false;
        for (const rv of reviews) if (!(await state.getResultJson(rv.reviewKey))) return false;
        return true;
      },
      120_000,
      200,
    );
    // Replies are sent by the send queue after the review is stored.
    await waitFor(
      'the reply to the example in the outbox',
      async () =>
        (await readdir(outbox).catch(() => [] as string[])).some((f) => f.endsWith('.eml')),
      60_000,
      200,
    );
    http = await startHttp(config, r.redis, service.queues, { port });
    browser = await launchChromium();
    browser.ctx.on('request', (req) => {
      if (!req.url().startsWith(`${base}/`) && !req.url().startsWith('data:'))
        foreign.push(req.url());
    });
    browser.ctx.on('requestfailed', (req) => {
      // Chromium's blocked reason, as playwright reports it: "csp" (net::ERR_BLOCKED_BY_CSP).
      if (/^csp$|BLOCKED_BY_CSP/.test(req.failure()?.errorText ?? '')) blockedByCsp.push(req.url());
    });
    browser.ctx.on('page', (p) =>
      p.on('dialog', (d) => void (dialogs.push(d.message()), d.dismiss())),
    );
  });

  after(async () => {
    await browser?.close();
    await http?.close();
    await service?.close(5_000);
    await cleanup();
    await removeDir(dir);
  });

  /** The link to the example's page, from a reply in the outbox (decoded as a mail reader would). */
  async function linkFromReply(): Promise<string> {
    const mails = await Promise.all(
      (await readdir(outbox))
        .filter((f) => f.endsWith('.eml'))
        .map(async (f) => simpleParser(await readFile(join(outbox, f)))),
    );
    const example = mails.find((m) => /^Re: \[PATCH v3 0\/8\]/.test(m.subject ?? ''));
    assert.ok(example, `a reply to the cover letter among ${mails.length}`);
    const text = example.text ?? '';
    const m = new RegExp(
      `^The report, with the BAR address maps:\\r?\\n(${base}/series/[\\w-]+)\\r?$`,
      'm',
    ).exec(text);
    assert.ok(m, `the reply links to the page, on a line of its own:\n${text.slice(-600)}`);
    return m[1]!;
  }

  async function open(url: string): Promise<Page> {
    const page = await browser!.ctx.newPage();
    const res = await page.goto(url, { waitUntil: 'load' });
    assert.equal(res?.status(), 200, url);
    return page;
  }

  /** ms from navigation start to the load event of the page's last navigation, by the browser's clock. */
  async function loadMs(page: Page): Promise<number> {
    return page.evaluate(() => {
      // Runs in the page: its performance has navigation entries (typed in test/page-dom.ts).
      const [nav] = (performance as unknown as PagePerformance).getEntriesByType('navigation');
      return nav!.loadEventEnd - nav!.startTime;
    });
  }

  async function shot(page: Page, selector: string, name: string): Promise<string> {
    const file = join(ARTIFACTS, name);
    await page.locator(selector).first().screenshot({ path: file });
    console.log(`screenshot: ${file}`);
    return file;
  }

  it("the reply's link opens the series page; the seed reproducer's BARs share a red page before, three pages after", async (t) => {
    const url = await linkFromReply();
    const page = await open(url);
    // The first load: the server renders the page from the stored result.
    t.diagnostic(
      `series page, first load: ${(await loadMs(page)).toFixed(0)} ms to the load event`,
    );
    assert.match(await page.title(), /PCI: Align small BARs v3/);
    assert.equal(await page.evaluate(() => document.scripts.length), 0, 'no script on the page');
    const run = page.locator('#map-seed-001-reproducer-qboot-x86_64-4K');
    assert.equal(await run.evaluate((e) => (e as PageDetails).open), true, 'open: it changed');

    // Before: one page, drawn red, holding the three 32-byte BARs side by side in one row.
    const shared = run.locator('g.map.before g.page.shared[data-page="0x110000000"]');
    assert.equal(await shared.count(), 1);
    const style = await shared.evaluate((g) => ({
      bg: getComputedStyle(g.querySelector('.shared-bg')!).fill,
      stroke: getComputedStyle(g.querySelector('.pagebox')!).stroke,
      text: [...g.querySelectorAll('text.finding')].map((x) => x.textContent).join(' '),
    }));
    assert.equal(style.bg, 'rgb(253, 226, 226)');
    assert.equal(style.stroke, 'rgb(212, 0, 0)');
    // One group: the host's IOMMU group 3, the one the model/group finding names.
    assert.match(style.text, /SHARED 4K page: 3 functions, 1 group \(fixed\)/);
    const beforeBars = await shared.locator('rect.bar[data-size="32"]').evaluateAll((rs) =>
      rs.map((r) => ({
        bdf: r.getAttribute('data-bdf'),
        box: r.getBoundingClientRect().toJSON(),
      })),
    );
    assert.equal(beforeBars.length, 3);
    const bdfs = beforeBars.map((b) => b.bdf).sort();
    assert.equal(new Set(bdfs).size, 3);
    assert.equal(new Set(beforeBars.map((b) => Math.round(b.box.y))).size, 1, 'one row');
    assert.ok(
      beforeBars.every((b) => b.box.width > 3),
      'each box is visible',
    );

    // After: the same three BARs, each in a page of its own, none shared, three rows.
    const afterBars = await run.locator('g.map.after rect.bar[data-size="32"]').evaluateAll((rs) =>
      rs.map((r) => ({
        bdf: r.getAttribute('data-bdf'),
        page: r.closest('g.page')?.getAttribute('data-page'),
        shared: r.closest('g.page')?.classList.contains('shared'),
        y: Math.round(r.getBoundingClientRect().y),
      })),
    );
    assert.deepEqual(afterBars.map((b) => b.bdf).sort(), bdfs);
    assert.deepEqual(
      afterBars.map((b) => b.page),
      ['0x110000000', '0x110001000', '0x110002000'],
    );
    assert.ok(afterBars.every((b) => b.shared === false));
    assert.equal(new Set(afterBars.map((b) => b.y)).size, 3, 'three rows');
    assert.equal(
      await run.locator('g.map.after g.page.shared').count(),
      0,
      'nothing shared after at 4K',
    );

    // The map outlines the groups the findings name: the host's (this guest has no
    // vIOMMU), group 3 around the three packed BARs, and the legend says so.
    const legend = await run
      .locator('g.map.before text.legend-head, g.map.before text.legend-note')
      .allTextContents();
    assert.deepEqual(legend, [
      'devices by IOMMU group on the host (outlined): the groups the findings name',
      'no vIOMMU in this guest',
    ]);
    const outline = await shared
      .locator('rect.group[data-group="3"]')
      .evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().toJSON()));
    assert.equal(outline.length, 1, 'one outline around the packed page');
    const o = outline[0]!;
    assert.ok(
      beforeBars.every((b) => b.box.x >= o.x - 1.5 && b.box.x + b.box.width <= o.x + o.width + 1.5),
      'it spans the three boxes',
    );
    const findingText = await page.locator('body').textContent();
    assert.match(findingText ?? '', /4 devices cannot be assigned apart \(IOMMU group 3\)/);

    const file = await shot(
      page,
      '#map-seed-001-reproducer-qboot-x86_64-4K',
      'page-seed-001-reproducer-qboot-4K.png',
    );
    t.diagnostic(`screenshot: ${file}`);
    await shot(page, 'body', 'page-series-example.png');
    await page.close();
  });

  it('the page loads in under a second; its numbers are the stored JSON, and findings link into the diffs', async (t) => {
    const url = await linkFromReply();
    const page = await open(url);
    // Served again (the router keeps the rendered page): the bundled example's
    // page, its inline maps and styles, to the browser's load event.
    const ms = await loadMs(page);
    t.diagnostic(`series page, served again: ${ms.toFixed(0)} ms to the load event`);
    assert.ok(ms > 0 && ms < 1000, `${ms.toFixed(0)} ms`);
    const json = (await (await page.request.get(`${url}.json`)).json()) as ReviewResult;
    const model = json.model!;
    const rows = await page.locator('table.model-table tr.check').evaluateAll((trs) =>
      trs.map((tr) => ({
        pageSize: Number(tr.getAttribute('data-page-size')),
        check: tr.getAttribute('data-check'),
        nums: [...tr.querySelectorAll('td.n')].map((td) => Number(td.textContent)),
      })),
    );
    assert.deepEqual(
      rows,
      model.table.map((t) => ({
        pageSize: t.pageSize,
        check: t.check,
        nums: [t.fixed, t.introduced, t.remaining],
      })),
    );
    const counts = await page
      .locator('.counts')
      .evaluate((e) => ({ ...(e as PageHTMLElement).dataset }));
    assert.deepEqual(counts, {
      error: String(json.counts.error),
      warning: String(json.counts.warning),
      info: String(json.counts.info),
    });
    assert.equal(await page.locator('details.run').count(), model.runs.length);
    const reported =
      json.findings.filter((f) => f.rule !== 'model/before-after').length +
      json.patches.reduce((n, p) => n + p.findings.length, 0);
    assert.equal(await page.locator('li.finding').count(), reported);
    // The maps' style stays in the maps: the page's own text is not restyled by it.
    const weights = await page
      .locator('li.finding .detail')
      .evaluateAll((ds) => [...new Set(ds.map((d) => getComputedStyle(d).fontWeight))]);
    assert.deepEqual(weights, ['400']);
    assert.equal(await page.locator('table.patches tbody tr').count(), json.patches.length);

    // A finding's file:line goes to that line in the patch's diff.
    const loc = page.locator('a.loc').first();
    const text = await loc.textContent();
    await loc.click();
    const target = await page.evaluate(() => {
      const t = document.querySelector(':target');
      return t ? { id: t.id, cls: t.className, inDiff: Boolean(t.closest('pre.diff')) } : null;
    });
    assert.ok(target && target.inDiff, `${text} lands in a diff`);
    assert.match(target.id, /-L\d+$/);
    assert.equal(target.cls, 'add', 'the line the finding is about was added by the patch');
    // A run the series left alone: its map is linked, and loads (same origin) once opened.
    const closed = page.locator('details.run:not([open])').first();
    const id = await closed.getAttribute('id');
    await closed.locator('summary').click();
    const img = page.locator(`[id="${id}"] img`);
    await page.waitForFunction((sel) => {
      const i = document.querySelector(sel) as PageImage | null;
      return Boolean(i && i.complete && i.naturalWidth > 0);
    }, `[id="${id}"] img`);
    assert.match((await img.getAttribute('src'))!, /^[\w-]+\/maps\/\d+\.svg$/);
    // The thread, in the configured list archive.
    assert.equal(
      await page.locator('a.thread').getAttribute('href'),
      'https://lore.kernel.org/linux-pci/20261102100000.align-small-bars-v3-0%40example.org/',
    );
    await page.close();
  });

  it('a hostile mail is text on its page and in the list: nothing runs', async () => {
    const list = await open(`${base}/series`);
    const links = list.locator('table.reviews a');
    assert.equal(await links.count(), 2);
    const hostile = list.locator('table.reviews a', {
      hasText: '<script>window.__pwned=1</script>',
    });
    assert.equal(await hostile.count(), 1, 'the subject shows as text');
    await hostile.click();
    await list.waitForLoadState('load');
    const page = list;
    assert.match(page.url(), /\/series\/[\w-]+$/);
    const seen = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
      scripts: document.scripts.length,
      imgs: document.images.length,
      handlers: [...document.querySelectorAll('*')].filter((e) =>
        [...e.attributes].some((a) => a.name.startsWith('on')),
      ).length,
      jsLinks: [...document.querySelectorAll('a')].filter((a) =>
        (a as PageAnchor).href.startsWith('javascript:'),
      ).length,
      h1: document.querySelector('h1')?.textContent ?? '',
      author: document.querySelector('p.meta span')?.textContent ?? '',
    }));
    assert.deepEqual(
      { ...seen, h1: undefined, author: undefined },
      {
        pwned: null,
        scripts: 0,
        imgs: 0,
        handlers: 0,
        jsLinks: 0,
        h1: undefined,
        author: undefined,
      },
    );
    assert.match(
      seen.h1,
      /<script>window\.__pwned=1<\/script> "><img src=x onerror="window\.__pwned=2"> it/,
    );
    assert.match(seen.author, /<\/title><script>window\.__pwned=3<\/script>/);
    assert.deepEqual(dialogs, []);
    await shot(page, 'body', 'page-hostile.png');
    await page.close();
  });

  it('the scenario library: every map at every page size; the 50-device SR-IOV map loads', async (t) => {
    const page = await open(`${base}/scenarios`);
    const img = page.locator('section[data-scenario="igb-sriov-48vf"] img[alt$="at 64K"]');
    await img.scrollIntoViewIfNeeded();
    await page.waitForFunction((alt) => {
      const i = [...document.images].find((x) => x.alt === alt);
      return Boolean(i && i.complete && i.naturalWidth > 0);
    }, 'igb-sriov-48vf address map at 64K');
    const size = await img.evaluate((i) => [
      (i as PageImage).naturalWidth,
      (i as PageImage).naturalHeight,
    ]);
    assert.ok(size[0]! >= 700 && size[1]! > 1000, `${size.join('x')}`);
    const svg = await (await page.request.get(`${base}/scenarios/igb-sriov-48vf-64K.svg`)).text();
    const vfBars = [...svg.matchAll(/<rect class="bar" [^>]*data-bdf="0000:0\d:1[01]\.\d"/g)]
      .length;
    assert.equal(vfBars, 96, '48 VFs, two BARs each');
    assert.equal([...svg.matchAll(/<g class="page shared"/g)].length, 25);
    const file = await shot(
      page,
      'section[data-scenario="igb-sriov-48vf"] img[alt$="at 64K"]',
      'scenario-igb-sriov-48vf-64K.png',
    );
    t.diagnostic(`screenshot: ${file}`);
    await page.close();
  });

  it('the queue dashboard is served beside them; no request left the server', async () => {
    // The dashboard in the browser too: bull-board's page links Google Fonts,
    // which its Content-Security-Policy keeps the browser from fetching.
    const page = await browser!.ctx.newPage();
    const res = await page.goto(`${base}/admin/queues`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    assert.equal(res?.headers()['content-security-policy'], DASHBOARD_CSP);
    // It still works under that policy: its scripts run and list the queues.
    await page.getByText('github-report', { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.close();
    assert.ok(
      blockedByCsp.some((u) => u.startsWith('https://fonts.googleapis.com/')),
      `the dashboard's font stylesheet is stopped by the policy: ${blockedByCsp.join(' ')}`,
    );
    assert.deepEqual(
      foreign.filter((u) => !blockedByCsp.includes(u)),
      [],
    );
  });
});
