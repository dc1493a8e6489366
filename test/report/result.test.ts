// reviewResult() (workers/report/result.ts), the one report stage of `pcibot
// review` and the service, and the mail sink's plan over it: which findings
// are reported, their fingerprints and head lines, what the previous version
// fixed, and which messages get which reply.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnalyseOutput } from '../../workers/analyse/analyse.js';
import { mailSink, planReplies, type MailContext } from '../../workers/report/mail.js';
import { reviewResult, type ReviewInput } from '../../workers/report/result.js';
import type {
  Applied,
  Finding,
  Message,
  PatchApplyStatus,
  ScopeDecision,
  Series,
} from '../../bot/types.js';

const FILE = 'drivers/pci/pci.c';

function message(index: number, diff: string | null, over: Partial<Message> = {}): Message {
  return {
    origin: { kind: 'eml', file: `p${index}.eml` },
    messageId: `p${index}@example.org`,
    inReplyTo: index === 0 ? null : 'p0@example.org',
    references: index === 0 ? [] : ['p0@example.org'],
    subject: `[PATCH ${index}/2] PCI: Patch ${index}`,
    tags: {
      prefixes: ['PATCH', `${index}/2`],
      isPatch: true,
      rfc: false,
      resend: false,
      version: 1,
      index,
      total: 2,
      treeTags: [],
      isReply: false,
      title: `PCI: Patch ${index}`,
    },
    from: { name: 'Ann Author', address: 'ann@example.com' },
    to: [{ name: '', address: 'linux-pci@vger.kernel.org' }],
    cc: [],
    date: '2025-01-06T10:00:00.000Z',
    body: '',
    commitMessage: 'Signed-off-by: Ann Author <ann@example.com>\n',
    diff,
    diffLine: null,
    trailers: [],
    baseCommit: null,
    changeId: null,
    prerequisites: [],
    warnings: [],
    ...over,
  };
}

const hunk = (header: string, lines: string[]) =>
  [`diff --git a/${FILE} b/${FILE}`, `--- a/${FILE}`, `+++ b/${FILE}`, header, ...lines, ''].join(
    '\n',
  );
/** Patch 1 adds line 12 (a __setup), as a rule would point at it. */
const PATCH1 = hunk('@@ -10,2 +10,3 @@', [' a', '+__setup("knob=", knob_setup);', ' b']);

function series(patch2: string | null, cover = true): Series {
  return {
    id: 's-0000000000000001',
    title: 'PCI: Two patches',
    version: 2,
    rfc: false,
    resend: false,
    author: { name: 'Ann Author', address: 'ann@example.com' },
    cover: cover ? message(0, null, { subject: '[PATCH 0/2] PCI: Two patches' }) : null,
    patches: [message(1, PATCH1), message(2, patch2)],
    expected: 2,
    missing: [],
    complete: true,
    baseCommit: null,
    changeId: null,
    supersedes: [],
    replies: [],
  };
}

function applied(s: Series, status2: PatchApplyStatus = 'applied'): Applied {
  return {
    tree: '/nonexistent',
    base: { commit: '0'.repeat(40), how: 'head' },
    patches: s.patches.map((p, i) => ({
      index: i + 1,
      messageId: p.messageId,
      status: i === 1 ? status2 : 'applied',
      files: [FILE],
    })),
    overlay: {},
    overlays: [{}, {}],
  };
}

const finding = (over: Partial<Finding>): Finding => ({
  rule: 'new-kernel-parameter',
  severity: 'warning',
  title: 'New kernel parameter "knob"',
  detail: 'A new boot parameter.',
  patch: 1,
  file: FILE,
  line: 12,
  evidence: {},
  references: [],
  ...over,
});

const scope: ScopeDecision = {
  seriesId: 's-0000000000000001',
  inScope: true,
  reason: 'touches drivers/pci/',
  paths: [FILE],
};

function analysis(perPatch: Record<number, Finding[]>, seriesLevel: Finding[] = []): AnalyseOutput {
  return { perPatch, series: seriesLevel, errors: [], model: null };
}

function input(s: Series, a: AnalyseOutput, over: Partial<ReviewInput> = {}): ReviewInput {
  return {
    series: s,
    scope,
    applied: applied(s),
    analysis: a,
    verify: { decision: { asked: false, verify: false, reason: 'not asked for' }, outcome: null },
    ...over,
  };
}

const warn = finding({});
const info = finding({
  rule: 'subject-prefix',
  severity: 'info',
  title: 'Subject prefix',
  patch: 2,
  file: undefined,
  line: undefined,
});
const model = finding({
  rule: 'model/fixed',
  severity: 'info',
  title: 'The series fixes 1 shared page',
  patch: undefined,
  file: undefined,
  line: undefined,
});

describe('reviewResult', () => {
  it('reports everything by default; at warning, info rides along only as model context', () => {
    const s = series(hunk('@@ -1,1 +1,1 @@', ['-x', '+y']));
    const a = analysis({ 1: [warn], 2: [info] }, [model]);
    const all = reviewResult(input(s, a));
    assert.deepEqual(all.counts, { error: 0, warning: 1, info: 2 });
    assert.deepEqual(all.filter, {
      minSeverity: 'info',
      quiet: [],
      dropped: { quiet: 0, belowMinSeverity: 0 },
    });
    const atWarning = reviewResult(input(s, a), { minSeverity: 'warning' });
    assert.deepEqual(
      atWarning.findings.map((f) => f.rule),
      ['model/fixed'],
    );
    assert.deepEqual(
      atWarning.patches.map((p) => p.findings.map((f) => f.rule)),
      [['new-kernel-parameter'], []],
    );
    assert.deepEqual(atWarning.filter.dropped, { quiet: 0, belowMinSeverity: 1 });
    // Quiet the only warning: nothing reaches the threshold, so nothing is reported.
    const quiet = reviewResult(input(s, a), {
      minSeverity: 'warning',
      quiet: ['new-kernel-parameter'],
    });
    assert.deepEqual(quiet.counts, { error: 0, warning: 0, info: 0 });
    assert.deepEqual(quiet.filter.dropped, { quiet: 1, belowMinSeverity: 2 });
  });

  it('fingerprints: stable over versions and filters, distinct for equal findings', () => {
    const s = series(hunk('@@ -1,1 +1,1 @@', ['-x', '+y']));
    const twice = finding({ patch: 2, line: 40 });
    const r = reviewResult(input(s, analysis({ 1: [warn], 2: [twice] })));
    const [f1, f2] = r.patches.map((p) => p.findings[0]!.fingerprint);
    assert.match(f1!, /^[0-9a-f]{16}$/);
    assert.notEqual(f1, f2, 'the same finding twice gets two fingerprints');
    // Another version: the finding moved to another line and patch; the same fingerprint.
    const moved = reviewResult(input(s, analysis({ 1: [], 2: [finding({ patch: 2, line: 99 })] })));
    assert.equal(moved.patches[1]!.findings[0]!.fingerprint, f1);
    const filtered = reviewResult(input(s, analysis({ 1: [warn], 2: [] })), {
      minSeverity: 'error',
      quiet: ['x'],
    });
    assert.equal(filtered.counts.warning, 0);
    const unfiltered = reviewResult(input(s, analysis({ 1: [warn], 2: [] })));
    assert.equal(unfiltered.patches[0]!.findings[0]!.fingerprint, f1);
  });

  it('head lines: shifted by later hunks above, kept below, lost when rewritten', () => {
    const at = (patch2: string | null, status2: PatchApplyStatus = 'applied') => {
      const s = series(patch2);
      return reviewResult(
        input(s, analysis({ 1: [warn], 2: [] }), { applied: applied(s, status2) }),
      ).patches[0]!.findings[0]!;
    };
    const above = hunk('@@ -3,2 +3,5 @@', [' p', '+n1', '+n2', '+n3', ' q']);
    assert.equal(at(above).line, 12, 'line stays the line after its own patch');
    assert.equal(at(above).headLine, 15);
    assert.equal(at(above, 'conflict').headLine, 12, 'a patch that did not apply moves nothing');
    assert.equal(at(hunk('@@ -12,0 +13,2 @@', ['+n1', '+n2'])).headLine, 12, 'insertion below');
    assert.equal(at(hunk('@@ -11,0 +12,1 @@', ['+n1'])).headLine, 13, 'insertion right above');
    assert.equal(at(hunk('@@ -11,3 +11,3 @@', [' a', '-x', '+y', ' b'])).headLine, null);
    assert.equal(at(hunk('@@ -11,3 +11,4 @@', [' a', '+n', ' x', ' b'])).headLine, 13);
    assert.equal(at(null).headLine, 12, 'a patch without a diff');
    const noTree = reviewResult(
      input(series(above), analysis({ 1: [warn], 2: [] }), { applied: null }),
    );
    assert.equal('headLine' in noTree.patches[0]!.findings[0]!, false, 'not applied: no head line');
  });

  it('head lines follow where a later patch landed, not its hunk header', () => {
    // Patch 2 says it inserts three lines at 43, but git applied it 40 lines up
    // (its context had moved): above patch 1's line 12, which then moves down.
    const far = hunk('@@ -43,2 +43,5 @@', [' p', '+n1', '+n2', '+n3', ' q']);
    const s = series(far);
    const a = applied(s);
    const at = (landed: boolean) => {
      if (landed)
        a.patches[1]!.landed = [{ file: FILE, diffLine: 4, oldStart: 3, newStart: 3, offset: -40 }];
      return reviewResult(input(s, analysis({ 1: [warn], 2: [] }), { applied: a })).patches[0]!
        .findings[0]!.headLine;
    };
    assert.equal(at(false), 12, 'by the header, the hunk is below line 12');
    assert.equal(at(true), 15, 'where it landed, it is above');
  });

  it('says which patches the findings about the series were computed without', () => {
    const s = series(PATCH1);
    const without = (a: Applied | null, over: Partial<Series> = {}) =>
      reviewResult(input({ ...s, ...over }, analysis({ 1: [warn], 2: [] }), { applied: a }))
        .without;
    assert.equal(without(applied(s)), undefined, 'all applied');
    assert.deepEqual(without(applied(s, 'conflict')), [{ index: 2, why: 'did not apply' }]);
    assert.deepEqual(without(applied(s, 'already-applied')), undefined, 'already in the tree');
    assert.deepEqual(without(applied(s, 'conflict'), { missing: [3], expected: 3 }), [
      { index: 2, why: 'did not apply' },
      { index: 3, why: 'not in the input' },
    ]);
    const none = applied(s, 'conflict');
    none.patches[0]!.status = 'malformed';
    assert.equal(without(none), undefined, 'nothing applied: no findings about the series');
    assert.equal(without(null), undefined, 'not applied at all');
  });

  it('says what the previous version had that this one fixed', () => {
    const s = series(null);
    const r = reviewResult(
      input(s, analysis({ 1: [warn], 2: [] }), {
        previous: {
          version: 1,
          findings: [
            { rule: warn.rule, file: warn.file, title: warn.title },
            { rule: 'stable-and-fixes', file: undefined, title: 'Cc: stable on a feature' },
          ],
        },
      }),
    );
    assert.deepEqual(r.fixed, {
      version: 1,
      findings: [{ rule: 'stable-and-fixes', file: undefined, title: 'Cc: stable on a feature' }],
    });
    assert.deepEqual(
      r.messages.map((m) => `${m.role}:${m.index ?? '-'}`),
      ['cover:-', 'patch:1', 'patch:2'],
    );
  });

  it('never calls a finding fixed while its rule still fires on the file (reworded, recounted)', () => {
    const s = series(null);
    const reworded = finding({ title: 'New kernel parameter "knob" (now documented)' });
    const lost = (n: number) =>
      finding({
        rule: 'model/lost-bar',
        severity: 'error',
        title: `The series introduces ${n} lost BARs`,
        patch: undefined,
        file: undefined,
        line: undefined,
      });
    const other = finding({
      rule: 'driver-managed-dma',
      severity: 'error',
      title: 'A driver_managed_dma driver maps BAR MMIO',
    });
    const r = reviewResult(
      input(s, analysis({ 1: [reworded], 2: [] }, [lost(3)]), {
        previous: {
          version: 1,
          findings: [
            { rule: warn.rule, file: FILE, title: warn.title },
            { rule: warn.rule, file: FILE, title: 'New kernel parameter "other"' },
            { rule: 'model/lost-bar', title: lost(27).title },
            { rule: 'model/fixed', title: 'The series fixes 9 shared pages' },
            { rule: other.rule, file: FILE, title: other.title },
          ],
        },
      }),
    );
    // One new-kernel-parameter finding is left on pci.c: it stands for one of the two old ones
    // (the first, reworded); the model's list is no problem; the lost BARs are recounted, not gone.
    assert.deepEqual(r.fixed?.findings, [
      { rule: warn.rule, file: FILE, title: 'New kernel parameter "other"' },
      { rule: other.rule, file: FILE, title: other.title },
    ]);
  });
});

describe('the mail sink', () => {
  const ctx = (
    s: Series,
    over: Partial<MailContext> = {},
    mode: 'series' | 'patch' = 'patch',
  ): MailContext => ({
    series: s,
    list: {
      address: 'linux-pci@vger.kernel.org',
      reply: { ccList: true, ccOriginal: true, allClear: false, mode },
    },
    from: { name: 'pcibot', address: 'pcibot@example.org' },
    replyKeyPrefix: 'rk',
    ...over,
  });
  const PATCH2 = hunk('@@ -20,2 +20,3 @@', [' c', '+__setup("other=", other_setup);', ' d']);
  const error = finding({ severity: 'error', title: 'A second problem', patch: 2, line: 21 });

  it('series mode (the default): one reply to the cover, every patch under its subject, notes once', async () => {
    const s = { ...series(PATCH2), missing: [], expected: 2 };
    const r = reviewResult(input(s, analysis({ 1: [warn], 2: [error, info] }, [model])));
    // No reply.mode given: series.
    const defaults = ctx(s);
    defaults.list = {
      address: defaults.list.address,
      reply: { ccList: true, ccOriginal: true, allClear: false },
    };
    const plan = planReplies(r, defaults);
    assert.equal(plan.length, 1, 'one reply for the series');
    assert.equal(plan[0]!.replyKey, 'rk-s');
    assert.equal(plan[0]!.original.messageId, 'p0@example.org', 'to the cover letter');
    assert.deepEqual(
      plan[0]!.sections?.map((x) => [
        x.heading,
        x.message.messageId,
        x.findings.map((f) => f.rule),
      ]),
      [
        [null, 'p0@example.org', ['model/fixed']],
        ['[PATCH 1/2] PCI: Patch 1', 'p1@example.org', ['new-kernel-parameter']],
        ['[PATCH 2/2] PCI: Patch 2', 'p2@example.org', ['new-kernel-parameter', 'subject-prefix']],
      ],
    );
    const [mail] = await mailSink(r, ctx(s, {}, 'series'));
    assert.ok(mail);
    assert.equal(mail.inReplyTo, 'p0@example.org');
    const text = mail.text;
    const h1 = text.indexOf('[PATCH 1/2] PCI: Patch 1');
    const h2 = text.indexOf('[PATCH 2/2] PCI: Patch 2');
    assert.ok(h1 > 0 && h2 > h1, 'each patch under its subject, in order');
    assert.ok(
      text.slice(h1, h2).includes('> +++ b/drivers/pci/pci.c'),
      "patch 1's hunk quoted under patch 1",
    );
    assert.match(text.slice(h2), /^Error: A second problem/m);

    // Without a cover letter: to patch 1.
    const bare = series(PATCH2, false);
    const r2 = reviewResult(input(bare, analysis({ 1: [], 2: [warn] })));
    const p2 = planReplies(r2, ctx(bare, {}, 'series'));
    assert.deepEqual(
      p2.map((p) => [p.replyKey, p.original.messageId]),
      [['rk-s', 'p1@example.org']],
    );
  });

  it('never sends a reply made only of info findings', () => {
    const s = series(PATCH2);
    const infoOnly = reviewResult(input(s, analysis({ 1: [], 2: [info] }, [model])), {
      minSeverity: 'info',
    });
    assert.ok(
      infoOnly.patches.some((p) => p.findings.length > 0),
      'info findings are reported',
    );
    for (const mode of ['series', 'patch'] as const)
      assert.deepEqual(planReplies(infoOnly, ctx(s, {}, mode)), [], mode);
    // Asked for by a maintainer: an answer, but not the info findings on their own.
    const asked = planReplies(infoOnly, ctx(s, { askedOn: 'p1@example.org' }, 'series'));
    assert.equal(asked.length, 1);
    assert.deepEqual(asked[0]!.findings, []);
    assert.match(asked[0]!.notes[0]!, /nothing at warning or error level/);
  });

  it('patch mode: each patch with its own findings; an info-only cover reply is dropped and the notes move on', () => {
    const s = { ...series(null), missing: [2], expected: 2 };
    const r = reviewResult(input(s, analysis({ 1: [warn], 2: [] }, [model])));
    const plan = planReplies(r, ctx(s, { waitedMinutes: 60 }));
    assert.deepEqual(
      plan.map((p) => [p.replyKey, p.original.messageId, p.findings.map((f) => f.rule)]),
      [['rk-p1', 'p1@example.org', ['new-kernel-parameter']]],
    );
    assert.deepEqual(plan[0]!.notes, [
      'Reviewed without patch 2 of 2, which did not arrive within 60 minutes.',
    ]);
  });

  it('patch mode without a cover: the series findings go with the first patch; nothing to say is silence or an all-clear', () => {
    const s = series(null, false);
    const r = reviewResult(input(s, analysis({ 1: [warn], 2: [] }, [model])));
    const plan = planReplies(r, ctx(s));
    assert.deepEqual(
      plan.map((p) => [p.index, p.findings.map((f) => f.rule)]),
      [[1, ['model/fixed', 'new-kernel-parameter']]],
    );
    const clean = reviewResult(input(s, analysis({ 1: [], 2: [] })));
    assert.deepEqual(planReplies(clean, ctx(s)), []);
    const asked = planReplies(clean, ctx(s, { askedOn: 'p2@example.org' }));
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.original.messageId, 'p2@example.org');
    assert.deepEqual(asked[0]!.notes, ['pcibot found nothing to report on this series (v2).']);
  });
});
