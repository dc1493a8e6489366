// The GitHub App end to end: `pcibot serve`'s webhook endpoint and the
// workers over real Redis, real git and real octokit, against the API
// stand-in. A signed pull_request webhook for a PR of three commits yields one
// check run (queued -> in_progress -> completed, the right conclusion, the
// annotation on the known line) and one review whose comment sits on that
// line; a push updates the comments rather than duplicating them; a burst of
// pushes reports the last head only; a stale head's results are never posted;
// commands count only from users with write access; a 429 storm duplicates
// nothing and the service recovers after it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { startHttp, type HttpHandle } from '../../workers/serve/http.js';
import { marker, readMarker } from '../../workers/report/github.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { githubReviewKey } from '../../workers/github.js';
import { jobIds } from '../../workers/jobs.js';
import { startWorkers, type ServiceHandle } from '../../workers/service.js';
import { testConfig, testRedis, uniquePrefix, waitFor } from '../service/helpers.js';
import {
  APP_ID,
  SECRET,
  VFIO_FILE,
  VFIO_LINE,
  appKeys,
  buildPrRepo,
  commentPayload,
  deliver,
  prPayload,
  pushCommit,
  pushFix,
  standinPr,
  type PrRepo,
} from './fixtures.js';
import { BOT, GithubStandin, type StandinPr } from './standin.js';

const PUBLIC = 'https://pcibot.example.org';
const ADMIN = 'dashboard-token-0123456789';

describe('GitHub App: webhook to check run and review', { timeout: 240_000 }, () => {
  let work: string;
  let repo: PrRepo;
  let gh: GithubStandin;
  let pr: StandinPr;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  let svc: ServiceHandle;
  let http: HttpHandle;
  const prefix = uniquePrefix('github');
  const logs: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pcibot-gh-svc-'));
    const tree = (await buildFixtureTree(join(work, 'tree'))).path;
    repo = await buildPrRepo(join(work, 'pr'));
    const keys = appKeys();
    await writeFile(join(work, 'app.pem'), keys.privateKeyPem);
    gh = new GithubStandin(APP_ID, keys.publicKey);
    await gh.start();
    pr = standinPr(repo);
    gh.addPr(pr);
    gh.permissions.set('maintainer', 'write');
    gh.permissions.set('reader', 'read');
    ({ redis, cleanup } = await testRedis(prefix));
    const config = testConfig(prefix, {
      tree: { path: tree },
      github: {
        appId: String(APP_ID),
        privateKeyFile: join(work, 'app.pem'),
        webhookSecret: SECRET,
        apiUrl: gh.url,
        debounceSec: 1,
        commentMinSeverity: 'info',
        rateLimitRetries: 2,
        retries: 2,
        retryAfterUnitMs: 50,
        writeIntervalMs: 0,
      },
      http: { publicUrl: PUBLIC, admin: { token: ADMIN } },
    });
    svc = await startWorkers({
      config,
      connection: redis,
      schedule: false,
      log: (l) => {
        logs.push(l);
        if (process.env.PCIBOT_TEST_LOG) process.stderr.write(`[worker] ${l}\n`);
      },
    });
    http = await startHttp(config, redis, svc.queues, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await http?.close();
    await svc?.close(5000);
    await cleanup?.();
    await gh?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const ref = () => ({ owner: pr.owner, repo: pr.repo, number: pr.number });
  /** The review of `head` (automatic round) has finished its GitHub report job. */
  const reported = (head: string, round = 'a') =>
    waitFor(
      `the GitHub report of ${head.slice(0, 12)}`,
      async () => {
        const job = await Job.fromId(
          svc.queues.queues['github-report'],
          jobIds.githubReport(githubReviewKey(ref(), head, round)),
        );
        const st = await job?.getState();
        if (st === 'failed') throw new Error(`report job failed: ${job?.failedReason}`);
        return st === 'completed' ? job : null;
      },
      90_000,
    );
  /** Every github job finished (none waiting, delayed or active). */
  const githubIdle = () =>
    waitFor(
      'the github queue to be idle',
      async () => {
        const c = await svc.queues.queues.github.getJobCounts('waiting', 'delayed', 'active');
        return (c.waiting ?? 0) + (c.delayed ?? 0) + (c.active ?? 0) === 0;
      },
      60_000,
    );
  const push = async (head: string, action: 'opened' | 'synchronize' = 'synchronize') => {
    pr.headSha = head;
    const d = await deliver(http.url, 'pull_request', prPayload(action, pr));
    assert.equal(d.status, 202, d.text);
    return d;
  };
  const botComments = () => [...gh.comments.values()].filter((c) => c.user === BOT);

  test('a signed pull_request webhook: one check run and one review on the known line', async () => {
    const head = pr.headSha;
    await push(head, 'opened');
    await reported(head);
    const runs = gh.checkRunsOf(head);
    assert.equal(runs.length, 1);
    const run = runs[0]!;
    assert.equal(run.name, 'pcibot');
    assert.deepEqual(run.statuses, ['queued', 'in_progress', 'completed']);
    assert.equal(run.conclusion, 'failure'); // the portdrv commit's error finding
    assert.equal(run.details_url, `${PUBLIC}/series/${githubReviewKey(ref(), head, 'a')}`);
    const ann = run.annotations.find((a) => a.path === VFIO_FILE);
    assert.ok(ann, JSON.stringify(run.annotations));
    assert.equal(ann.start_line, VFIO_LINE);
    assert.equal(ann.annotation_level, 'notice');
    assert.match(ann.title ?? '', /^capitalise-mmio-bar: /);
    assert.ok(
      run.annotations.some(
        (a) => a.path === 'drivers/pci/pcie/portdrv.c' && a.annotation_level === 'failure',
      ),
    );
    assert.match(run.output.summary ?? '', /\| # \| patch \| applies \|/);
    assert.match(run.output.title ?? '', /1 error/);

    assert.equal(gh.reviews.length, 1);
    const review = gh.reviews[0]!;
    assert.equal(review.commitId, head);
    assert.equal(review.event, 'COMMENT');
    const onLine = botComments().filter((c) => c.path === VFIO_FILE);
    assert.equal(onLine.length, 1);
    assert.equal(onLine[0]!.line, VFIO_LINE);
    assert.equal(onLine[0]!.side, 'RIGHT');
    assert.ok(readMarker(onLine[0]!.body));
    assert.match(onLine[0]!.body, /capitalise-mmio-bar/);

    // The check run's details link: the review's page, behind the dashboard's auth.
    const page = `${http.url}/series/${githubReviewKey(ref(), head, 'a')}`;
    assert.equal((await fetch(page)).status, 401);
    const res = await fetch(page, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /PCI\/VFIO: three commits/);
    // The page links the pull request (as the API gave its page), not a list thread.
    assert.match(
      html,
      new RegExp(
        `<a class="thread" href="https://github\\.com/${pr.owner}/${pr.repo}/pull/${pr.number}">the pull request</a>`,
      ),
    );
  });

  test('a synchronize push updates the comments in place, never a second one per finding', async () => {
    const before = botComments().map((c) => ({ id: c.id, fp: readMarker(c.body)!.fingerprint }));
    const reviews = gh.reviews.length;
    // Another App's comment carrying pcibot's marker (a finding no longer current, so
    // pcibot would "resolve" it if it took the comment for its own): not pcibot's to edit.
    const copied = `Quoting pcibot:\n${marker('0123456789abcdef')}`;
    const foreign = gh.addHumanComment(pr, VFIO_FILE, VFIO_LINE, copied, 'other-app[bot]', 'Bot');
    const head = await pushCommit(repo, 'A second comment.');
    await push(head);
    await reported(head);
    assert.equal(gh.checkRunsOf(head).length, 1);
    assert.equal(gh.checkRunsOf(head)[0]!.status, 'completed');
    assert.equal(gh.reviews.length, reviews, 'no new review: nothing new to say on a line');
    const now = botComments();
    assert.deepEqual(
      now.map((c) => ({ id: c.id, fp: readMarker(c.body)!.fingerprint })),
      before,
    );
    // The comments link to the newest report: updated in place.
    const patched = gh.requests.filter(
      (r) => r.method === 'PATCH' && /\/pulls\/comments\/\d+$/.test(r.path),
    );
    assert.ok(patched.length >= before.length);
    assert.ok(now.every((c) => c.body.includes(githubReviewKey(ref(), head, 'a'))));
    assert.equal(gh.comments.get(foreign)?.body, copied, "the other App's comment is untouched");
    assert.ok(!patched.some((r) => r.path.endsWith(`/pulls/comments/${foreign}`)));
    // pcibot's login was asked of the API once (GET /app), not per review.
    assert.equal(gh.requests.filter((r) => r.method === 'GET' && r.path === '/app').length, 1);

    // A push that fixes the vfio finding: its comment is marked resolved, nothing new.
    const fixed = await pushFix(repo);
    await push(fixed);
    await reported(fixed);
    const vfio = botComments().filter((c) => c.path === VFIO_FILE);
    assert.equal(vfio.length, 1);
    assert.equal(readMarker(vfio[0]!.body)?.resolved, true);
    assert.match(vfio[0]!.body, /Resolved/);
    assert.equal(gh.reviews.length, reviews);
  });

  test('a burst of three pushes reports the last head only', async () => {
    const heads: string[] = [];
    for (const what of ['burst one', 'burst two', 'burst three']) {
      const h = await pushCommit(repo, what);
      heads.push(h);
      await push(h);
    }
    await reported(heads[2]!);
    await githubIdle();
    assert.equal(gh.checkRunsOf(heads[0]!).length, 0);
    assert.equal(gh.checkRunsOf(heads[1]!).length, 0);
    assert.equal(gh.checkRunsOf(heads[2]!).length, 1);
    assert.ok(gh.reviews.every((r) => r.commitId !== heads[0] && r.commitId !== heads[1]));
  });

  test('a head that goes stale while it is reviewed: its check is cancelled, nothing else posted', async () => {
    const reports = svc.queues.queues['github-report'];
    await reports.pause();
    const comments = botComments().map((c) => `${c.id}:${c.body}`);
    const reviews = gh.reviews.length;
    const stale = await pushCommit(repo, 'soon stale');
    await push(stale);
    const rk = githubReviewKey(ref(), stale, 'a');
    await waitFor(
      'the stale head to reach its report',
      async () => {
        const job = await Job.fromId(svc.queues.queues['github-report'], jobIds.githubReport(rk));
        return ['waiting', 'paused'].includes((await job?.getState()) ?? '');
      },
      60_000,
    );
    // A newer push GitHub knows of (its webhook not even arrived yet).
    pr.headSha = await pushCommit(repo, 'the newer one');
    await reports.resume();
    await reported(stale);
    const run = gh.checkRunsOf(stale)[0]!;
    assert.equal(run.conclusion, 'cancelled');
    assert.deepEqual(run.annotations, []);
    assert.equal(gh.reviews.length, reviews);
    assert.deepEqual(
      botComments().map((c) => `${c.id}:${c.body}`),
      comments,
    );
  });

  test('/pcibot review counts only from a user the API says has write access', async () => {
    await githubIdle();
    const runs = gh.checkRuns.size;
    const d1 = await deliver(
      http.url,
      'issue_comment',
      commentPayload(pr, 'reader', '/pcibot review', 501),
    );
    assert.equal(d1.status, 202, d1.text);
    await githubIdle();
    assert.equal(gh.checkRuns.size, runs, 'a reader changes nothing');
    assert.ok(gh.requests.some((r) => r.path.endsWith('/collaborators/reader/permission')));
    const d2 = await deliver(
      http.url,
      'issue_comment',
      commentPayload(pr, 'stranger', 'please\n/pcibot recheck', 502),
    );
    assert.equal(d2.status, 202);
    await githubIdle();
    assert.equal(gh.checkRuns.size, runs, 'a non-collaborator (404) changes nothing');

    const d3 = await deliver(
      http.url,
      'issue_comment',
      commentPayload(pr, 'maintainer', '/pcibot review', 503),
    );
    assert.equal(d3.status, 202);
    await reported(pr.headSha, 'c503');
    assert.equal(gh.checkRuns.size, runs + 1);
    assert.equal(gh.checkRunsOf(pr.headSha).at(-1)!.status, 'completed');
  });

  test('a 429 storm duplicates nothing, and the service recovers after it', async () => {
    await githubIdle();
    const comments = botComments().length;
    // Six secondary-limit answers on check runs: more than one job attempt's retries.
    gh.secondaryLimit(/\/check-runs/, { times: 6, retryAfter: 1 });
    const head = await pushCommit(repo, 'in the storm');
    await push(head);
    await reported(head);
    assert.equal(
      gh.faults.reduce((n, f) => n + f.times, 0),
      0,
      'the storm was used up',
    );
    assert.equal(gh.checkRunsOf(head).length, 1, 'one check run, however many attempts');
    assert.equal(gh.checkRunsOf(head)[0]!.status, 'completed');
    assert.equal(botComments().length, comments, 'no comment twice');
    const health = (await (await fetch(`${http.url}/healthz`)).json()) as {
      github: { configured: boolean; failuresInRow: number; limitedUntil: number | null };
      counters: Record<string, number>;
    };
    assert.equal(health.github.configured, true);
    assert.ok((health.counters.github_rate_limited ?? 0) >= 6, JSON.stringify(health.counters));
    assert.ok(health.github.limitedUntil !== null);
    const metrics = await (await fetch(`${http.url}/metrics`)).text();
    assert.match(metrics, /pcibot_events_total\{event="github_rate_limited"\} \d+/);
    assert.match(metrics, /pcibot_github_ratelimit_remaining \d+/);

    // After the storm: the next push is reviewed as usual.
    const after = await pushCommit(repo, 'after the storm');
    await push(after);
    await reported(after);
    assert.equal(gh.checkRunsOf(after).length, 1);
    assert.deepEqual(gh.checkRunsOf(after)[0]!.statuses, ['queued', 'in_progress', 'completed']);
    const h2 = (await (await fetch(`${http.url}/healthz`)).json()) as {
      github: { failuresInRow: number };
    };
    assert.equal(h2.github.failuresInRow, 0);
  });

  test('a captured delivery replayed under a new X-GitHub-Delivery changes nothing', async () => {
    await githubIdle();
    const runs = gh.checkRuns.size;
    const reviews = gh.reviews.length;
    const comments = botComments().map((c) => `${c.id}:${c.body}`);
    const firstHead = gh.reviews[0]!.commitId;
    assert.notEqual(firstHead, pr.headSha, 'the PR moved on since its first push');
    // The same signed bodies as before (a replayer cannot sign anew), fresh delivery ids.
    const opened = await deliver(
      http.url,
      'pull_request',
      prPayload('opened', { ...pr, headSha: firstHead }),
    );
    assert.equal(opened.status, 202, opened.text);
    const command = await deliver(
      http.url,
      'issue_comment',
      commentPayload(pr, 'maintainer', '/pcibot review', 503),
    );
    assert.equal(command.status, 202, command.text);
    // Let the debounce of the replayed push run out, then everything settle.
    await new Promise((r) => setTimeout(r, 1500));
    await githubIdle();
    assert.equal(gh.checkRuns.size, runs, 'no check run for a replayed push or comment');
    assert.equal(gh.reviews.length, reviews);
    assert.deepEqual(
      botComments().map((c) => `${c.id}:${c.body}`),
      comments,
    );
  });

  test('a PR that touches nothing in scope gets a neutral "skipped" check', async () => {
    const other: StandinPr = {
      ...standinPr(repo),
      number: 8,
      baseSha: repo.base,
      headSha: repo.commits[0]!,
    };
    gh.addPr(other);
    const d = await deliver(http.url, 'pull_request', prPayload('opened', other));
    assert.equal(d.status, 202, d.text);
    await waitFor(
      'the skipped check',
      async () => gh.checkRunsOf(other.headSha)[0]?.status === 'completed',
      60_000,
    );
    const run = gh.checkRunsOf(other.headSha)[0]!;
    assert.equal(run.conclusion, 'neutral');
    assert.match(run.output.title ?? '', /^skipped: /);
    assert.ok(!gh.reviews.some((r) => r.number === 8));
  });
});
