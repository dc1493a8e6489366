// The report pages of `pcibot serve`, as one express Router (mounted by
// http.ts, behind the same access control as the queue dashboard):
//   /series              the reviews the service made, newest first
//   /series/<review>     one review's page (workers/report/html.ts): findings with
//                        links into the diffs, apply status, the model's table,
//                        the address maps before and after, the verify outcome,
//                        the thread in the list archive, or the pull request
//   /series/<review>.json  its ReviewResult, exactly as stored
//   /series/<review>/maps/<n>.svg  the map of a run the page links (runs the
//                        series left as they were; the others are inline)
//   /series/<series id>  the latest review of that series (a redirect)
//   /scenarios           the scenario library, each map at each page size
//   /scenarios/<file>.svg  one of those maps
// Everything is read from what the service stored (ServiceState: the result,
// the series with its diffs, the review record); nothing is recomputed but
// the library's maps, once per process, and a review's page, once per stored
// result (a few are kept). Pages carry no script and the responses forbid any
// (Content-Security-Policy).
import { join } from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import type { Redis } from 'ioredis';
import { NAMED_POLICIES } from '../../bot/kernel/model/policy.js';
import { loadScenariosLenient } from '../../bot/kernel/model/scenario.js';
import {
  PAGE_CSP,
  archiveUrl,
  diffsOf,
  libraryPage,
  reviewListPage,
  runSvg,
  seriesPage,
} from '../report/html.js';
import { libraryMaps, type LibraryMaps } from '../report/library.js';
import { fixturesDir } from '../../bot/util/paths.js';
import type { ServiceConfig } from '../config.js';
import type { ReviewResult } from '../report/types.js';
import { GithubState } from '../github.js';
import { ServiceState } from '../state.js';

export interface PagesOptions {
  config: ServiceConfig;
  redis: Redis;
  /** The scenario library shown at /scenarios (default fixtures/scenarios). */
  scenariosDir?: string;
}

const REVIEW_KEY = /^[A-Za-z0-9_-]{1,120}$/;
const RUN_FILE = /^(\d{1,5})\.svg$/;
/** Rendered review pages kept in memory. */
const PAGE_CACHE = 16;
const MAP_FILE = /^[A-Za-z0-9_.+-]{1,160}\.svg$/;

function secure(res: Response): Response {
  return res
    .set('Content-Security-Policy', PAGE_CSP)
    .set('X-Content-Type-Options', 'nosniff')
    .set('Referrer-Policy', 'no-referrer')
    .set('Cache-Control', 'no-cache');
}

const html = (res: Response, body: string, status = 200) =>
  secure(res).status(status).type('text/html; charset=utf-8').send(body);

const notFound = (res: Response, what: string) =>
  secure(res).status(404).type('text/plain; charset=utf-8').send(`not found: ${what}\n`);

/** "" when the request path ends in "/", else `last + "/"`: relative links that work both ways. */
const below = (req: Request, last: string) => (req.path.endsWith('/') ? '' : `${last}/`);

export function pagesRouter(opts: PagesOptions): Router {
  const { config } = opts;
  const state = new ServiceState(opts.redis, config.redis.prefix, config.retentionDays);
  const github = new GithubState(opts.redis, config.redis.prefix, 0);
  const router = express.Router();
  const scenariosDir = opts.scenariosDir ?? join(fixturesDir, 'scenarios');
  const policy = NAMED_POLICIES['6.12']!();
  let library: Promise<LibraryMaps & { errors: string[] }> | null = null;
  const getLibrary = () => {
    library ??= loadScenariosLenient(scenariosDir).then((r) => ({
      ...libraryMaps(r.scenarios, policy),
      errors: r.errors.map((e) => e.message),
    }));
    library.catch(() => (library = null));
    return library;
  };

  router.get('/series', async (req, res) => {
    const records = (await state.listReviews()).reverse();
    const base = below(req, 'series');
    const items = await Promise.all(
      records.map(async (r) => {
        const result = await state.getResult(r.reviewKey);
        return {
          href: `${base}${r.reviewKey}`,
          title: r.title,
          version: r.version,
          ...(result ? { counts: result.counts } : {}),
          status: `${r.status}${r.partial ? ' (partial)' : ''}, ${r.list}`,
          at: r.at,
        };
      }),
    );
    html(
      res,
      reviewListPage(items, {
        heading: 'pcibot reviews',
        links: [
          { href: `${base}../scenarios`, text: 'scenario library' },
          { href: `${base}../admin/queues`, text: 'queue dashboard' },
        ],
      }),
    );
  });

  // A review's result as stored, parsed once, and its page rendered once: the
  // cache entry holds the stored JSON, so a result stored again is rendered again.
  const rendered = new Map<string, { json: string; result: ReviewResult; html?: string }>();
  async function stored(key: string) {
    const json = await state.getResultJson(key);
    if (json === null) return null;
    let e = rendered.get(key);
    if (!e || e.json !== json) {
      e = { json, result: JSON.parse(json) as ReviewResult };
      rendered.delete(key);
      rendered.set(key, e);
      while (rendered.size > PAGE_CACHE) rendered.delete(rendered.keys().next().value!);
    }
    return e;
  }

  router.get('/series/:id', async (req, res) => {
    const id = req.params.id;
    const json = id.endsWith('.json');
    const key = json ? id.slice(0, -5) : id;
    if (!REVIEW_KEY.test(key)) return notFound(res, 'review');
    const e = await stored(key);
    if (json) {
      if (!e) return notFound(res, 'review');
      return secure(res).type('application/json; charset=utf-8').send(e.json);
    }
    if (!e) {
      // A series id: its latest review.
      const latest = (await state.listReviews()).filter((r) => r.seriesId === key).pop();
      if (latest) return secure(res).redirect(302, latest.reviewKey);
      return notFound(res, 'review');
    }
    if (e.html === undefined) {
      const result = e.result;
      const [series, record] = await Promise.all([state.getSeries(key), state.getReview(key)]);
      const archive = config.lists.find((l) => l.name === record?.list)?.archive ?? null;
      const first = result.cover?.messageId ?? result.patches[0]?.messageId;
      const messages = series ? [...series.patches, ...(series.cover ? [series.cover] : [])] : [];
      // A pull request's review links the pull request (stored when it was fetched).
      const pr = record?.list === 'github' ? await github.prUrl(key) : null;
      e.html = seriesPage({
        result,
        diffs: diffsOf(result, messages),
        ...(pr
          ? { threadUrl: pr, threadKind: 'pull request' as const, archiveBase: null }
          : {
              threadUrl: archive && first ? archiveUrl(archive, first) : null,
              archiveBase: archive,
            }),
        jsonHref: `${key}.json`,
        indexHref: '../series',
        mapHref: (i) => `${key}/maps/${i}.svg`,
      });
    }
    html(res, e.html);
  });

  router.get('/series/:id/maps/:file', async (req, res) => {
    const { id, file } = req.params;
    const m = RUN_FILE.exec(file);
    if (!REVIEW_KEY.test(id) || !m) return notFound(res, 'map');
    const e = await stored(id);
    const run = e?.result.model?.runs[Number(m[1])];
    if (!e?.result.model || !run) return notFound(res, 'map');
    secure(res).type('image/svg+xml; charset=utf-8').send(runSvg(e.result.model, run));
  });

  router.get('/scenarios', async (req, res) => {
    const lib = await getLibrary();
    const base = below(req, 'scenarios');
    html(
      res,
      libraryPage(
        lib.entries.map((e) => ({
          ...e,
          maps: e.maps.map((m) => ({ ...m, href: base + m.href })),
        })),
        {
          policy: policy.name,
          links: [{ href: `${base}../series`, text: 'reviews' }],
        },
      ),
    );
  });

  router.get('/scenarios/:file', async (req, res) => {
    const file = req.params.file;
    if (!MAP_FILE.test(file)) return notFound(res, 'map');
    const svg = (await getLibrary()).files.get(file);
    if (svg === undefined) return notFound(res, 'map');
    secure(res).type('image/svg+xml; charset=utf-8').send(svg);
  });

  return router;
}
