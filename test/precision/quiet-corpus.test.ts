// Precision: fixtures/quiet-corpus holds list traffic a maintainer would take
// without remarks (controller drivers, DT bindings, reviews, vfio cleanups, a
// variant driver, a pull request). The whole review pipeline runs over it
// against the fixture kernel tree, with every rule, and no rule may raise an
// error or a warning. The sanity checks make sure that "no findings" is not
// "nothing reviewed": the mails parse, the series are in scope and apply, and
// the same pipeline does fire on a firing fixture.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { QUIET_CORPUS, ruleStats } from '../../workers/commands/rules.js';
import type { ReviewReport } from '../../workers/report/types.js';
import { allRules } from '../../rules/index.js';
import { repoRoot } from '../../bot/util/paths.js';
import { runReview } from '../../workers/pipeline.js';

let work = '';
let tree = '';
let report: ReviewReport;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pcibot-precision-'));
  tree = (await buildFixtureTree(join(work, 'tree'))).path;
  report = await runReview({ inputs: [QUIET_CORPUS], tree });
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const corpusFiles = () => readdirSync(QUIET_CORPUS).filter((f) => /\.(eml|mbox)$/.test(f));

describe('quiet corpus', () => {
  test('is at least 30 mails, in both .eml and .mbox files', () => {
    const files = corpusFiles();
    assert.ok(files.some((f) => f.endsWith('.eml')));
    assert.ok(files.some((f) => f.endsWith('.mbox')));
    assert.ok(report.summary.messages >= 30, `only ${report.summary.messages} messages`);
  });

  test('every mail parses and is accounted for', () => {
    assert.deepEqual(report.failures, []);
    assert.deepEqual(report.internalErrors, []);
    const perFile = new Map<string, number>();
    for (const m of report.messages)
      perFile.set(m.origin.file, (perFile.get(m.origin.file) ?? 0) + 1);
    for (const f of corpusFiles())
      assert.ok((perFile.get(join(QUIET_CORPUS, f)) ?? 0) > 0, `${f}: no message read`);
    assert.ok(report.messages.every((m) => m.disposition.kind !== 'failed'));
  });

  test('is really reviewed: series in scope, patches applied, replies and covers threaded', () => {
    const { series, reviewed } = report.summary;
    assert.ok(series >= 15, `only ${series} series`);
    assert.ok(reviewed / series >= 0.8, `${reviewed} of ${series} series reviewed`);
    const patches = report.series.filter((s) => s.status === 'reviewed').flatMap((s) => s.patches);
    assert.ok(patches.length >= 20, `only ${patches.length} patches reviewed`);
    const notApplied = patches.filter(
      (p) => !p.apply || !['applied', 'applied-3way'].includes(p.apply.status),
    );
    assert.deepEqual(
      notApplied.map((p) => `${p.subject}: ${JSON.stringify(p.apply)}`),
      [],
      'every reviewed patch applies to the fixture tree',
    );
    const kinds = new Set(report.messages.map((m) => m.disposition.kind));
    for (const k of ['patch', 'cover', 'reply'] as const)
      assert.ok(kinds.has(k), `no ${k} in the corpus`);
    // Multi-patch series arrive whole.
    const multi = report.series.filter((s) => s.expected !== null && s.expected > 1);
    assert.ok(multi.length >= 3, 'the corpus has series of several patches');
    for (const s of multi) assert.ok(s.complete, `${s.title}: missing ${s.missing.join(',')}`);
  });

  test('no rule raises an error or a warning', () => {
    const loud = report.series.flatMap((s) =>
      [...s.findings, ...s.patches.flatMap((p) => p.findings)]
        .filter((f) => f.severity === 'error' || f.severity === 'warning')
        .map(
          (f) =>
            `${f.rule} (${f.severity}) on "${s.title}" patch ${f.patch ?? '-'}: ${f.title} [${f.file ?? ''}:${f.line ?? ''}]`,
        ),
    );
    assert.deepEqual(loud, []);
    assert.equal(report.summary.findings.error, 0);
    assert.equal(report.summary.findings.warning, 0);
  });

  test('ruleStats counts the same run per rule, every rule listed', async () => {
    const s = await ruleStats([QUIET_CORPUS], tree);
    assert.equal(s.messages, report.summary.messages);
    assert.equal(s.reviewed, report.summary.reviewed);
    assert.deepEqual(
      s.rules.map((r) => r.id),
      allRules.map((r) => r.id),
    );
    assert.equal(s.totals.error, 0);
    assert.equal(s.totals.warning, 0);
    assert.equal(s.totals.info, report.summary.findings.info);
    assert.equal(s.applied, s.patches);
  });

  test('control: the same pipeline and tree do fire on firing fixtures', async () => {
    const fires = ['isolation-for-performance/fires.eml', 'vfio-uapi/fires.eml'].map((f) =>
      join(repoRoot, 'rules', f),
    );
    const s = await ruleStats(fires, tree);
    const hit = (id: string) => s.rules.find((r) => r.id === id)!.hits.warning;
    assert.ok(hit('isolation-for-performance') > 0);
    assert.ok(hit('vfio-uapi') > 0);
  });
});
