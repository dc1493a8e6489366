// The GitHub pieces one by one: which webhook asks for what, a PR as patch
// mails (hostile titles and messages included), where a comment may sit on the
// PR's diff, the check run's conclusion, title, summary and annotations, the
// review plan (create, update, resolve by fingerprint), and the config keys.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DeliveryJournal } from '../../bot/github/deliveries.js';
import { PrDiffMap } from '../../bot/github/diffmap.js';
import { classifyEvent, commentCommand } from '../../bot/github/events.js';
import { parsePrRef, prMails, type FetchedPr } from '../../bot/github/pr.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import {
  annotations,
  checkOutput,
  checkTitle,
  commentBody,
  conclusionOf,
  mdText,
  planReview,
  readMarker,
  reviewBody,
  truncateSummary,
  MAX_SUMMARY,
} from '../../workers/report/github.js';
import type { ReportedFinding, ReviewResult } from '../../workers/report/types.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import type { Message } from '../../bot/types.js';
import { repoRoot } from '../../bot/util/paths.js';
import { ConfigError, loadConfig, validateConfig } from '../../workers/config.js';
import { prPayload, commentPayload } from './fixtures.js';
import type { StandinPr } from './standin.js';

const HEAD = '1'.repeat(40);
const pr: StandinPr = {
  owner: 'o',
  repo: 'r',
  number: 3,
  title: 't',
  body: '',
  user: 'u',
  git: '',
  baseRef: 'master',
  baseSha: '2'.repeat(40),
  headSha: HEAD,
  state: 'open',
  draft: false,
};
const OPTS = { ignoreDrafts: true, ignoreBots: true };

describe('webhook events', () => {
  test('the pull_request actions that review, and the rest', () => {
    for (const a of ['opened', 'synchronize', 'reopened', 'ready_for_review'] as const) {
      const r = classifyEvent('pull_request', prPayload(a, pr), OPTS);
      assert.equal(r.kind, 'pr', a);
      assert.equal(r.kind === 'pr' && r.headSha, HEAD);
      assert.deepEqual(r.kind === 'pr' && r.ref, { owner: 'o', repo: 'r', number: 3 });
    }
    assert.equal(classifyEvent('pull_request', prPayload('closed', pr), OPTS).kind, 'ignore');
    const draft = classifyEvent('pull_request', prPayload('opened', { ...pr, draft: true }), OPTS);
    assert.equal(draft.kind, 'ignore');
    const drafts = classifyEvent('pull_request', prPayload('opened', { ...pr, draft: true }), {
      ...OPTS,
      ignoreDrafts: false,
    });
    assert.equal(drafts.kind, 'pr', 'drafts are configurable');
    const bot = classifyEvent(
      'pull_request',
      prPayload('opened', pr, { login: 'ci[bot]', type: 'Bot' }),
      OPTS,
    );
    assert.equal(bot.kind, 'ignore');
    const p = prPayload('opened', pr) as unknown as { installation?: unknown };
    delete p.installation;
    assert.equal(classifyEvent('pull_request', p, OPTS).kind, 'ignore');
    assert.equal(classifyEvent('pull_request', '[]', OPTS).kind, 'ignore');
    assert.equal(
      classifyEvent(
        'pull_request',
        { ...prPayload('opened', pr), pull_request: { head: { sha: 'x; rm -rf' } } },
        OPTS,
      ).kind,
      'ignore',
    );
  });

  test('comments: the command, on a PR, not from a bot; write access is for the worker to ask', () => {
    const c = classifyEvent(
      'issue_comment',
      commentPayload(pr, 'someone', 'Thanks!\n  /pcibot review  \n'),
      OPTS,
    );
    assert.equal(c.kind, 'command');
    assert.equal(c.kind === 'command' && c.user, 'someone');
    assert.equal(c.kind === 'command' && c.command, 'review');
    const onIssue = commentPayload(pr, 'someone', '/pcibot review') as unknown as {
      issue: Record<string, unknown>;
    };
    delete onIssue.issue.pull_request;
    assert.equal(classifyEvent('issue_comment', onIssue, OPTS).kind, 'ignore');
    const edited = { ...commentPayload(pr, 'someone', '/pcibot review'), action: 'edited' };
    assert.equal(classifyEvent('issue_comment', edited, OPTS).kind, 'ignore');
    assert.equal(commentCommand('/pcibot recheck'), 'recheck');
    assert.equal(commentCommand('/PCIBOT Review'), 'review');
    assert.equal(commentCommand('/pcibot reviewer'), null);
    assert.equal(commentCommand('please run `/pcibot review`'), null);
    assert.equal(commentCommand('> /pcibot review'), null, 'a quote is not a command');
  });

  test('owner/repo#N and PR URLs', () => {
    assert.deepEqual(parsePrRef('torvalds/linux#123'), {
      owner: 'torvalds',
      repo: 'linux',
      number: 123,
    });
    assert.deepEqual(parsePrRef('https://github.com/a-b/c.d/pull/9'), {
      owner: 'a-b',
      repo: 'c.d',
      number: 9,
    });
    for (const bad of ['linux#1', 'a/b#0', 'a/b#x', '../x#1', 'a/b#1;ls'])
      assert.equal(parsePrRef(bad), null, bad);
  });
});

describe('a PR as patch mails', () => {
  const fetched = (title: string, message: string): FetchedPr => ({
    pr: {
      owner: 'o',
      repo: 'r',
      number: 3,
      title,
      body: 'Body with\n---\na separator',
      state: 'open',
      draft: false,
      headSha: HEAD,
      baseSha: '2'.repeat(40),
      baseRef: 'master',
      author: { login: 'u', type: 'User' },
      htmlUrl: 'https://github.com/o/r/pull/3',
      updatedAt: '2026-10-01T00:00:00Z',
    },
    commits: [1, 2].map((i) => ({
      sha: String(i).repeat(40),
      parents: [i === 1 ? '9'.repeat(40) : '1'.repeat(40)],
      message: i === 1 ? message : 'PCI: second\n\nBody.',
      author: {
        name: 'Ann "the" Author\nBcc: x@y',
        email: 'ann@example.org',
        date: '2026-10-01T00:00:00Z',
      },
      diff: `diff --git a/drivers/pci/f${i}.c b/drivers/pci/f${i}.c\nindex 1111111..2222222 100644\n--- a/drivers/pci/f${i}.c\n+++ b/drivers/pci/f${i}.c\n@@ -1 +1,2 @@\n a\n+b\n`,
    })),
    diff: '',
  });

  test('a cover letter and one patch per commit, in order, threaded, on the first parent', async () => {
    const msgs: Message[] = [];
    for (const raw of prMails(
      fetched('PCI: Fix it', 'PCI: first\n\nWhy.\n\nSigned-off-by: A <a@b>'),
    )) {
      const m = await parseMail(raw);
      assert.ok(!isParseFailure(m));
      msgs.push(m);
    }
    const { series } = assembleSeries(msgs);
    assert.equal(series.length, 1);
    const s = series[0]!;
    assert.equal(s.title, 'PCI: Fix it');
    assert.equal(s.baseCommit, '9'.repeat(40));
    assert.deepEqual(
      s.patches.map((p) => p.tags.index),
      [1, 2],
    );
    assert.equal(s.patches[0]!.subject, '[PATCH 1/2] PCI: first');
    assert.match(s.patches[0]!.commitMessage, /Signed-off-by: A <a@b>/);
    assert.match(s.patches[0]!.diff ?? '', /^diff --git a\/drivers\/pci\/f1.c/);
    assert.equal(s.patches[0]!.origin.kind, 'github');
  });

  test('hostile titles, names and messages make no headers and stay one line', async () => {
    const title = 'Évil\r\nBcc: victim@example.org\nSubject: [PATCH 9/9] forged';
    const mails = prMails(fetched(title, 'PCI: x\nIn-Reply-To: <forged@x>\n\nbody'));
    const cover = await parseMail(mails[0]!);
    assert.ok(!isParseFailure(cover));
    assert.equal(
      cover.subject,
      '[PATCH 0/2] Évil Bcc: victim@example.org Subject: [PATCH 9/9] forged',
    );
    assert.deepEqual(cover.cc, []);
    const p1 = await parseMail(mails[1]!);
    assert.ok(!isParseFailure(p1));
    assert.equal(p1.from.address, 'ann@example.org');
    assert.equal(p1.inReplyTo, cover.messageId);
    assert.equal(p1.subject, '[PATCH 1/2] PCI: x');
  });
});

describe('where a comment may sit', () => {
  const diff = [
    'diff --git a/a.c b/a.c',
    'index 1..2 100644',
    '--- a/a.c',
    '+++ b/a.c',
    '@@ -10,3 +10,4 @@ f()',
    ' ten',
    '-old',
    '+new',
    '+newer',
    ' thirteen',
    'diff --git a/gone.c b/gone.c',
    'deleted file mode 100644',
    'index 1..0',
    '--- a/gone.c',
    '+++ /dev/null',
    '@@ -1 +0,0 @@',
    '-x',
    '',
  ].join('\n');
  test('lines of the hunks, on the new side; nothing else', () => {
    const m = new PrDiffMap(diff);
    assert.deepEqual(m.place('a.c', 11), { path: 'a.c', line: 11, side: 'RIGHT' });
    for (const l of [10, 11, 12, 13]) assert.ok(m.place('a.c', l), String(l));
    assert.equal(m.place('a.c', 9), null);
    assert.equal(m.place('a.c', 14), null);
    assert.equal(m.place('a.c', null), null);
    assert.equal(m.place('gone.c', 1), null);
    assert.equal(m.place('other.c', 11), null);
    assert.deepEqual(m.files(), ['a.c']);
  });
});

function finding(over: Partial<ReportedFinding> = {}): ReportedFinding {
  return {
    rule: 'r',
    severity: 'warning',
    title: 'A title',
    detail: 'Some detail',
    evidence: {},
    references: [],
    file: 'a.c',
    line: 11,
    headLine: 11,
    fingerprint: 'aaaaaaaaaaaaaaaa',
    ...over,
  } as ReportedFinding;
}

function result(findings: ReportedFinding[], over: Partial<ReviewResult> = {}): ReviewResult {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return {
    id: 's',
    title: 'T',
    version: 1,
    rfc: false,
    author: { name: 'A', address: 'a@b' },
    cover: null,
    expected: 1,
    received: 1,
    missing: [],
    complete: true,
    supersedes: [],
    baseCommit: null,
    scope: { seriesId: 's', inScope: true, reason: 'touches drivers/pci', paths: [] },
    status: 'reviewed',
    base: null,
    patches: [
      { index: 1, messageId: 'm', subject: '[PATCH] T', title: 'T', apply: null, findings },
    ],
    findings: [],
    verify: null,
    verifyDecision: null,
    counts,
    filter: { minSeverity: 'info', quiet: [], dropped: { quiet: 0, belowMinSeverity: 0 } },
    model: null,
    messages: [],
    fixed: null,
    internalErrors: [],
    ...over,
  } as ReviewResult;
}

describe('the check run', () => {
  test('failure for an error, neutral for a warning or a skip, success otherwise', () => {
    assert.equal(conclusionOf(result([finding({ severity: 'error' }), finding()])), 'failure');
    assert.equal(conclusionOf(result([finding()])), 'neutral');
    assert.equal(conclusionOf(result([finding({ severity: 'info' })])), 'success');
    assert.equal(conclusionOf(result([])), 'success');
    assert.equal(conclusionOf(result([], { status: 'skipped' })), 'neutral');
    assert.equal(
      checkTitle(result([finding({ severity: 'error' }), finding(), finding()])),
      '1 error, 2 warnings',
    );
    assert.equal(checkTitle(result([])), 'No findings');
  });

  test('annotations: at the head line, the level by severity; a moved line says so at line 1', () => {
    const a = annotations(
      result([
        finding({ severity: 'info' }),
        finding({ severity: 'error', headLine: null, line: 7, fingerprint: 'b'.repeat(16) }),
        finding({ file: undefined, fingerprint: 'c'.repeat(16) }),
      ]),
    );
    assert.equal(a.length, 2, 'a finding without a file is in the summary only');
    assert.equal(a[0]!.annotation_level, 'failure');
    assert.equal(a[0]!.start_line, 1);
    assert.match(a[0]!.message, /line 7 after patch 1; a later commit changed that line/);
    assert.equal(a[1]!.annotation_level, 'notice');
    assert.equal(a[1]!.start_line, 11);
  });

  test('the report page is linked through the public URL, and nothing is linked without one', () => {
    const url = 'https://pcibot.example.org/series/k-v1-a';
    const r = result([finding()]);
    const plan = planReview(r, {
      place: () => ({ path: 'a.c', line: 11, side: 'RIGHT' as const }),
      minSeverity: 'warning',
      headSha: HEAD,
      pageUrl: url,
      existing: [],
    });
    const linked = [
      checkOutput(r, { pageUrl: url }).summary,
      commentBody(finding(), { pageUrl: url }),
      reviewBody(r, plan, url),
    ];
    assert.match(
      linked[0]!,
      /\nReport page: \[https:\/\/pcibot\.example\.org\/series\/k-v1-a\]\(https:\/\/pcibot\.example\.org\/series\/k-v1-a\)\n$/,
    );
    assert.match(linked[1]!, /· \[report\]\(https:\/\/pcibot\.example\.org\/series\/k-v1-a\)/);
    assert.match(linked[2]!, /The whole report: https:\/\/pcibot\.example\.org\/series\/k-v1-a/);
    const unlinked = [
      checkOutput(r, { pageUrl: null }).summary,
      commentBody(finding(), { pageUrl: null }),
      reviewBody(r, plan, null),
    ];
    for (const text of unlinked) {
      assert.doesNotMatch(text, /https?:|Report page|\[report\]|whole report/);
    }
  });

  test('the summary fits GitHub: cut at a line, with a link to the whole report', () => {
    const long = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`).join('\n');
    const cut = truncateSummary(long, MAX_SUMMARY, 'https://p.example/series/k');
    assert.ok(cut.length <= MAX_SUMMARY);
    assert.match(cut, /cut here.*https:\/\/p\.example\/series\/k/s);
    assert.ok(long.startsWith(cut.slice(0, cut.indexOf('\n\n---'))));
    assert.equal(truncateSummary('short', MAX_SUMMARY, null), 'short');
    const huge = result(
      Array.from({ length: 400 }, (_, i) =>
        finding({ detail: 'd'.repeat(400), fingerprint: i.toString(16).padStart(16, '0') }),
      ),
    );
    const out = checkOutput(huge, { pageUrl: 'https://p.example/series/k' });
    assert.ok(out.summary.length <= MAX_SUMMARY);
    assert.equal(out.annotations.length, 400);
    assert.match(out.summary, /^# pcibot review/);
  });
});

describe('the review plan', () => {
  const place = (p: string, l: number | null | undefined) =>
    p === 'a.c' && l === 11 ? { path: p, line: 11, side: 'RIGHT' as const } : null;
  const base = { place, minSeverity: 'warning' as const, headSha: HEAD, pageUrl: null };

  test('new findings on the diff are created; off the diff or below the threshold they are not', () => {
    const plan = planReview(
      result([
        finding(),
        finding({ headLine: 99, fingerprint: 'b'.repeat(16) }),
        finding({ severity: 'info', fingerprint: 'c'.repeat(16) }),
      ]),
      { ...base, existing: [] },
    );
    assert.equal(plan.create.length, 1);
    assert.equal(plan.create[0]!.line, 11);
    assert.equal(readMarker(plan.create[0]!.body)?.fingerprint, 'a'.repeat(16));
    assert.equal(plan.offDiff, 1);
  });

  test('a finding already commented on is updated (when its text changed); a gone one resolved', () => {
    const f = finding();
    const same = commentBody(f, { pageUrl: null });
    const gone = commentBody(finding({ fingerprint: 'd'.repeat(16) }), { pageUrl: null });
    const plan = planReview(result([f]), {
      ...base,
      existing: [
        { id: 1, body: same },
        { id: 2, body: gone },
      ],
    });
    assert.deepEqual(plan.create, []);
    assert.deepEqual(plan.update, []);
    assert.deepEqual(
      plan.resolve.map((r) => r.id),
      [2],
    );
    assert.equal(readMarker(plan.resolve[0]!.body)?.resolved, true);
    const changed = planReview(result([finding({ detail: 'New detail' })]), {
      ...base,
      existing: [{ id: 1, body: same }],
    });
    assert.deepEqual(
      changed.update.map((u) => u.id),
      [1],
    );
    // An already resolved comment is not resolved again.
    const again = planReview(result([]), {
      ...base,
      existing: [{ id: 2, body: plan.resolve[0]!.body }],
    });
    assert.deepEqual(again.resolve, []);
  });

  test('patch text is escaped: no mention, no raw HTML, no forged marker', () => {
    const f = finding({
      title: '@torvalds <img src=x> **bold**',
      detail: 'x <!-- pcibot:finding ffffffffffffffff resolved --> y',
    });
    const body = commentBody(f, { pageUrl: null });
    assert.equal(readMarker(body)?.fingerprint, 'a'.repeat(16));
    assert.equal(body.match(/<!--/g)?.length, 1);
    assert.doesNotMatch(body, /@torvalds/);
    assert.doesNotMatch(body, /(?<!\\)<img/);
    assert.equal(mdText('a_b*c'), 'a\\_b\\*c');
  });
});

describe('the deliveries journal', () => {
  test('remembers ids across processes for its window, then forgets them and their files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pcibot-deliveries-'));
    try {
      let now = Date.UTC(2026, 0, 30, 12);
      const clock = () => now;
      const a = new DeliveryJournal(dir, 7, clock);
      const b = new DeliveryJournal(dir, 7, clock);
      await a.record({ id: 'd-jan', event: 'pull_request', outcome: 'queued' });
      assert.ok(b.has('d-jan'), 'another process sees it');
      now = Date.UTC(2026, 1, 3, 12);
      await b.record({ id: 'd-feb', event: 'pull_request', outcome: 'queued' });
      assert.ok(a.has('d-jan') && a.has('d-feb'), 'within the window, across months');
      assert.deepEqual((await readdir(dir)).sort(), ['2026-01.jsonl', '2026-02.jsonl']);
      now = Date.UTC(2026, 1, 8, 12);
      assert.ok(!a.has('d-jan'), 'nine days on, the January id is past the window');
      assert.ok(a.has('d-feb'));
      assert.deepEqual(await readdir(dir), ['2026-02.jsonl'], 'the January file is gone');
      assert.equal(a.size, 1);
      const fresh = new DeliveryJournal(dir, 7, clock);
      assert.ok(fresh.has('d-feb') && !fresh.has('d-jan'), 'a restart reads the same');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('config', () => {
  test('the sample config has the github keys, off by default', () => {
    const c = loadConfig({ path: join(repoRoot, 'pcibot.example.json'), env: {} });
    assert.equal(c.github.enabled, false);
    assert.equal(c.github.apiUrl, 'https://api.github.com');
    assert.equal(c.github.debounceSec, 30);
    assert.equal(c.github.commentMinSeverity, 'warning');
    assert.equal(c.github.maxWebhookBytes, 25 * 1024 * 1024);
    assert.equal(c.concurrency.github, 2);
  });

  test('the App settings go together, and are checked', () => {
    assert.throws(() => validateConfig({ github: { appId: 1 } }), ConfigError);
    assert.throws(
      () => validateConfig({ github: { appId: 'x', webhookSecret: 's' } }),
      /numeric App ID/,
    );
    assert.throws(
      () =>
        validateConfig({
          github: { appId: 1, webhookSecret: 's', privateKeyFile: '/nonexistent.pem' },
        }),
      /cannot read it/,
    );
    assert.throws(() => validateConfig({ github: { minSeverity: 'loud' } }), /github.minSeverity/);
    assert.throws(
      () => validateConfig({ github: { colour: 'red' } }),
      /github.colour: unknown setting/,
    );
    const env = loadConfig({ env: { PCIBOT_GITHUB_API_URL: 'https://ghe.example/api/v3' } });
    assert.equal(env.github.apiUrl, 'https://ghe.example/api/v3');
  });
});
