// The API side against the stand-in, with the real octokit: the App's
// installation token (a JWT signed with the App's key, one token reused),
// primary and secondary rate limits waited out, 5xx retried with back-off and
// then failing, check-run annotations in batches of 50, a review GitHub
// refuses the comments of (422) posted without them, paginated listings, and
// the permission check.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GithubApp, RequestError, type ApiEvents, type Octokit } from '../../bot/github/client.js';
import {
  completeCheckRun,
  createCheckRun,
  listReviewComments,
  postReview,
  userCanWrite,
} from '../../bot/github/post.js';
import { getPr } from '../../bot/github/pr.js';
import {
  APP_ID,
  INSTALLATION_ID,
  appKeys,
  buildPrRepo,
  standinPr,
  type PrRepo,
} from './fixtures.js';
import { GithubStandin, type StandinPr } from './standin.js';

describe('octokit against the stand-in', () => {
  let work: string;
  let repo: PrRepo;
  let gh: GithubStandin;
  let pr: StandinPr;
  let o: Octokit;
  const events: { kind: string; detail: unknown }[] = [];
  const ev: ApiEvents = {
    rateLimited: (d) => events.push({ kind: 'rateLimited', detail: d }),
    failed: (d) => events.push({ kind: 'failed', detail: d }),
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pcibot-gh-client-'));
    repo = await buildPrRepo(join(work, 'pr'));
    const keys = appKeys();
    gh = new GithubStandin(APP_ID, keys.publicKey);
    await gh.start();
    pr = standinPr(repo);
    gh.addPr(pr);
    gh.permissions.set('writer', 'write');
    gh.permissions.set('maint', 'maintain');
    gh.permissions.set('reader', 'read');
    const app = new GithubApp({
      appId: APP_ID,
      privateKey: keys.privateKeyPem,
      baseUrl: gh.url,
      retryAfterUnitMs: 20,
      writeIntervalMs: 0,
      rateLimitRetries: 2,
      retries: 2,
      events: ev,
    });
    o = await app.installation(INSTALLATION_ID);
    assert.equal(await app.installation(INSTALLATION_ID), o, 'one client per installation');
  });
  after(async () => {
    await gh.stop();
    await rm(work, { recursive: true, force: true });
  });

  const tokenRequests = () =>
    gh.requests.filter((r) => r.path === `/app/installations/${INSTALLATION_ID}/access_tokens`);

  test('one installation token, from a JWT the App key signed, serves many requests', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await getPr(o, pr)).headSha, pr.headSha);
    assert.equal(tokenRequests().length, 1);
    assert.match(
      String(tokenRequests()[0]!.headers.authorization),
      /^bearer [\w-]+\.[\w-]+\.[\w-]+$/,
    );
    const calls = gh.requests.filter((r) => r.path.startsWith('/repos/'));
    assert.ok(calls.every((r) => /^token ghs_/.test(String(r.headers.authorization))));
  });

  test('a secondary rate limit (429, Retry-After) and a primary one (403, reset) are waited out', async () => {
    events.length = 0;
    gh.secondaryLimit(/\/pulls\/7$/, { retryAfter: 2 });
    const t0 = Date.now();
    assert.equal((await getPr(o, pr)).number, 7);
    assert.ok(Date.now() - t0 >= 40, 'waited Retry-After (2 s at 20 ms a second)');
    gh.primaryLimit(/\/pulls\/7$/, { resetInSec: 1 });
    assert.equal((await getPr(o, pr)).number, 7);
    assert.deepEqual(
      events.map((e) => [
        (e.detail as { kind: string }).kind,
        (e.detail as { retry: boolean }).retry,
      ]),
      [
        ['secondary', true],
        ['primary', true],
      ],
    );
    assert.equal((events[0]!.detail as { retryAfterSec: number }).retryAfterSec, 2);
  });

  test('past rateLimitRetries the request fails with the 429, and says so', async () => {
    events.length = 0;
    gh.secondaryLimit(/\/pulls\/7$/, { times: 3, retryAfter: 1 });
    await assert.rejects(
      getPr(o, pr),
      (e: unknown) => e instanceof RequestError && e.status === 429,
    );
    assert.deepEqual(
      events
        .filter((e) => e.kind === 'rateLimited')
        .map((e) => (e.detail as { retry: boolean }).retry),
      [true, true, false],
    );
    assert.ok(
      events.some((e) => e.kind === 'failed' && (e.detail as { status: number }).status === 429),
    );
  });

  test('5xx answers are retried with back-off, then fail', async () => {
    gh.fail({ path: /\/pulls\/7$/, status: 502, times: 2 });
    const n = gh.requests.length;
    assert.equal((await getPr(o, pr)).number, 7);
    assert.equal(gh.requests.length - n, 3);
    gh.fail({ path: /\/pulls\/7$/, status: 500, times: 3 });
    await assert.rejects(
      getPr(o, pr),
      (e: unknown) => e instanceof RequestError && e.status === 500,
    );
    // A 404 is not retried.
    const m = gh.requests.length;
    await assert.rejects(
      getPr(o, { ...pr, number: 404 }),
      (e: unknown) => e instanceof RequestError && e.status === 404,
    );
    assert.equal(gh.requests.length - m, 1);
  });

  test('a check run takes its annotations 50 per request, the conclusion with the last batch', async () => {
    const id = await createCheckRun(o, pr, pr.headSha, { externalId: 'batch-test' });
    const annotations = Array.from({ length: 120 }, (_, i) => ({
      path: 'drivers/vfio/pci/vfio_pci_core.c',
      start_line: i + 1,
      end_line: i + 1,
      annotation_level: 'notice' as const,
      title: `note ${i}`,
      message: `message ${i}`,
    }));
    const seen: number[] = [];
    const r = await completeCheckRun(
      o,
      pr,
      id,
      { conclusion: 'neutral', title: 't', summary: 's', annotations },
      { onBatch: async (n) => void seen.push(n) },
    );
    assert.equal(r.requests, 3);
    assert.deepEqual(seen, [1, 2, 3]);
    const run = gh.checkRuns.get(id)!;
    assert.deepEqual(run.batches, [50, 50, 20]);
    assert.equal(run.annotations.length, 120);
    assert.deepEqual(run.statuses, ['queued', 'completed']);
    assert.equal(run.conclusion, 'neutral');
    // A retried job that had sent two batches sends only the third.
    const id2 = await createCheckRun(o, pr, pr.headSha, { externalId: 'batch-test-2' });
    await completeCheckRun(
      o,
      pr,
      id2,
      { conclusion: 'success', title: 't', summary: 's', annotations },
      { done: 2 },
    );
    assert.deepEqual(gh.checkRuns.get(id2)!.batches, [20]);
  });

  test('a review whose comments GitHub refuses (422) is posted without them', async () => {
    const reviews = gh.reviews.length;
    const r = await postReview(o, pr, pr.headSha, 'body', [
      { path: 'drivers/vfio/pci/vfio_pci_core.c', line: 44, side: 'RIGHT', body: 'on the diff' },
      { path: 'drivers/pci/pci.c', line: 10, side: 'RIGHT', body: 'not on the diff' },
    ]);
    assert.equal(r.comments, 0);
    assert.match(r.refused ?? '', /Unprocessable|Line could not be resolved/);
    assert.equal(gh.reviews.length, reviews + 1);
    assert.match(gh.reviews.at(-1)!.body, /did not take the line comments/);
    const ok = await postReview(o, pr, pr.headSha, 'body', [
      { path: 'drivers/vfio/pci/vfio_pci_core.c', line: 44, side: 'RIGHT', body: 'on the diff' },
    ]);
    assert.equal(ok.comments, 1);
    assert.equal(ok.refused, null);
  });

  test('review comments are listed over every page', async () => {
    const before = (await listReviewComments(o, pr)).length;
    for (let i = 0; i < 130; i++)
      gh.addHumanComment(pr, 'drivers/vfio/pci/vfio_pci_core.c', 44, `c${i}`);
    const all = await listReviewComments(o, pr);
    assert.equal(all.length, before + 130);
    assert.ok(
      gh.requests.some((r) => r.path.endsWith('/pulls/7/comments') && r.query.get('page') === '2'),
    );
  });

  test('write access is asked of the API: write and maintain yes, read and strangers no', async () => {
    assert.equal(await userCanWrite(o, pr, 'writer'), true);
    assert.equal(await userCanWrite(o, pr, 'maint'), true);
    assert.equal(await userCanWrite(o, pr, 'reader'), false);
    assert.equal(await userCanWrite(o, pr, 'stranger'), false);
  });
});
