// End to end on the real 6.12 tree, in the situation the real "PCI: Align
// small BARs" v3 series is in (issue 10's Done when, all in one review): the
// shapes of its eight patches (fixtures/examples/align-small-bars-shapes.ts),
// written on an author's tree that drifted from 6.12 (pci.c lacks 62 lines
// early on, so 8/8 lands 62 lines below its hunk header; bit 13 of
// enum pci_dev_flags is still free there, so 4/8 takes it and does not apply),
// with the renamed v2 8/8 in the same input. One review: 1-3 applied, 4/8 a
// conflict naming the taken bit in include/linux/pci.h, 5-8 applied without
// 4/8; the model, computed without 4/8, fixes the shared pages at 4K and loses
// nothing (no error); realign-by-default and policy-in-weak-default on 8/8 at
// the lines it landed on; v2 8/8 superseded by v3. Then 8/8 alone: lost BARs
// on x86, an error, and `--verify auto` would boot it. Nothing here is kernel
// text: anchors, our own lines, and lines read from the tree at run time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { analyseSeries } from '../../workers/analyse/analyse.js';
import type { Layout } from '../../bot/kernel/model/layout.js';
import { renderJson } from '../../workers/report/json.js';
import { renderMarkdown, renderTerminal } from '../../workers/report/text.js';
import type { ReviewReport, ReviewResult } from '../../workers/report/types.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import type { Finding } from '../../bot/types.js';
import { whenToVerify } from '../../bot/verify/when.js';
import { alignSmallBarsShapes, SHAPES } from '../../fixtures/examples/align-small-bars-shapes.js';
import {
  generateExampleMbox,
  type ExampleEdit,
  type ExamplePatch,
  type ExampleSeries,
} from '../../fixtures/examples/generate.js';
import { runReview } from '../../workers/pipeline.js';
import { applyTo, assertQbootBar2sLost, seriesFrom } from '../policy/helpers.js';

const PCI = 'drivers/pci/pci.c';
const PCI_H = 'include/linux/pci.h';
const OLD = 'PCI: Align small (<4k) BARs';
const NEW = 'PCI: Align small BARs';
const DRIFT = 62;

let tree = '';
let commit = '';
let work = '';
let v3 = '';
let v2Last = '';
let report: ReviewReport;
let s: ReviewResult;
let terminal = '';

const linesOf = (file: string): string[] =>
  execFileSync('git', ['-C', tree, 'show', `${commit}:${file}`], { maxBuffer: 64 << 20 })
    .toString()
    .split('\n');
/** 1-based line of the one line of the base tree's `file` matching `re`. */
const lineOf = (file: string, re: RegExp): number => {
  const hits = linesOf(file).flatMap((l, i) => (re.test(l) ? [i + 1] : []));
  assert.equal(hits.length, 1, `${file}: ${re} matches ${hits.length} lines`);
  return hits[0]!;
};

const MSIX_COMMENT =
  /^\t\/\* Device requires write to PCI_MSIX_ENTRY_DATA before any MSIX reads \*\/$/;

/** The author's tree: 62 lines fewer early in pci.c, bit 13 of enum pci_dev_flags still free. */
const drift: ExampleEdit[] = [
  {
    file: PCI,
    anchor: /^pci_power_t pci_choose_state\(struct pci_dev \*dev, pm_message_t state\)$/,
    op: 'replace',
    count: DRIFT,
    lines: [],
  },
  { file: PCI_H, anchor: MSIX_COMMENT, op: 'replace', count: 2, lines: [] },
];

/** 4/8 as the real one: the new flag takes bit 13, right after bit 12. */
const patch4: ExamplePatch = {
  ...SHAPES[3]!,
  edits: SHAPES[3]!.edits.map((e) =>
    e.file === PCI_H
      ? {
          file: PCI_H,
          anchor: /^\tPCI_DEV_FLAGS_HAS_MSI_MASKING = \(__force pci_dev_flags_t\) \(1 << 12\),$/,
          op: 'after',
          lines: [
            '\t/* Firmware had memory decoding on: turn it back on after reassignment */',
            '\tPCI_DEV_FLAGS_MEMORY_ENABLE = (__force pci_dev_flags_t) (1 << 13),',
          ],
        }
      : e,
  ),
};

/** The comment 8/8 puts inside pcibios_default_alignment(), above its return. */
const COMMENT = [
  '\t/*',
  '\t * Keep MSI-X structures off a 4K range shared with other registers,',
  '\t * as PCIe r6.1 sec 7.7.2 asks.',
  '\t */',
];
/** 8/8 as the real one: an include, and the spec comment inside the __weak default. */
const patch8 = (subject: string): ExamplePatch => ({
  subject,
  body:
    'A device passed through to a guest needs each of its small BARs on a page\n' +
    'of its own. Make the default alignment of memory BARs max(4K, PAGE_SIZE).\n\n' +
    'The earlier patches of this series are prerequisites of this one.',
  edits: [
    {
      file: PCI,
      anchor: /^#include <linux\/bitfield\.h>$/,
      op: 'after',
      lines: ['#include <linux/sizes.h>'],
    },
    {
      // The definition and its brace stay; its one-line body becomes the comment and the return.
      file: PCI,
      anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
      op: 'replace',
      count: 3,
      lines: [
        'resource_size_t __weak pcibios_default_alignment(void)',
        '{',
        ...COMMENT,
        '\treturn max(SZ_4K, PAGE_SIZE);',
      ],
    },
  ],
});

const v3Series: ExampleSeries = {
  ...alignSmallBarsShapes,
  name: 'v3-real-tree',
  drift,
  cover: {
    subject: NEW,
    body:
      'Align small memory BARs to max(4K, PAGE_SIZE), after preparing the\n' +
      `resource code for it.\n\nv2->v3:\n* rename ("${OLD}") to\n  ("${NEW}")\n`,
  },
  patches: [...SHAPES.slice(0, 3), patch4, ...SHAPES.slice(4, 7), patch8(NEW)],
};

before(async () => {
  ({ path: tree, commit } = await prepareKernelTree());
  work = await mkdtemp(join(tmpdir(), 'pcibot-v3-real-tree-'));
  v3 = join(work, 'v3.mbox');
  await generateExampleMbox({ tree, base: commit, series: v3Series, out: v3 });
  const v2 = join(work, 'v2.mbox');
  await generateExampleMbox({
    tree,
    base: commit,
    out: v2,
    series: {
      ...v3Series,
      version: 2,
      date: '2026-10-12T10:00:00Z',
      cover: { subject: OLD, body: 'Align small BARs to a page.' },
      patches: v3Series.patches.map((p, i) => (i === 7 ? patch8(OLD) : p)),
    },
  });
  // Only v2's last patch, as a reviewer who saved that one mail.
  const mails = readFileSync(v2, 'utf8').split(/^(?=From [0-9a-f]{40} )/m);
  v2Last = join(work, 'v2-8.mbox');
  await writeFile(v2Last, mails[mails.length - 1]!);
  report = await runReview({ inputs: [v2Last, v3], tree });
  assert.deepEqual(report.internalErrors, []);
  s = report.series[0]!;
  terminal = renderTerminal(report, { width: 400 });
});

after(() => rm(work, { recursive: true, force: true }));

const patch = (n: number) => s.patches.find((p) => p.index === n)!;
const byRule = (fs: readonly Finding[], rule: string) => fs.filter((f) => f.rule === rule);

describe('the real v3 situation on 6.12, generated with drift', () => {
  test('one series, v3; 1-3 applied, 4/8 a conflict, 5-8 applied without 4/8', () => {
    assert.equal(report.summary.series, 1);
    assert.equal(report.series.length, 1);
    assert.equal([s.version, s.title].join(' '), `3 ${NEW}`);
    assert.deepEqual(
      s.patches.map((p) => p.apply?.status),
      ['applied', 'applied', 'applied', 'conflict', 'applied', 'applied', 'applied', 'applied'],
    );
    for (const n of [5, 6, 7, 8])
      assert.match(patch(n).apply!.detail!, /^without 4\/8, which did not apply/, `${n}/8`);
    assert.match(
      patch(7).apply!.detail!,
      /likely built on 4\/8: its drivers\/pci\/pci\.c \(index [0-9a-f]+\) is what 4\/8 makes of that file$/,
    );
    assert.deepEqual(s.without, [{ index: 4, why: 'did not apply' }]);
    assert.match(
      terminal,
      /8\/8 PCI: Align small BARs\n {6}applied without 4\/8, which did not apply/,
    );
  });

  test('4/8: the conflict names the line that did not match in include/linux/pci.h and the taken bit 13', () => {
    const c = patch(4).apply!.conflicts!;
    assert.deepEqual(
      c.map((x) => x.file),
      [PCI_H],
    );
    assert.equal(c[0]!.line, lineOf(PCI_H, MSIX_COMMENT), c[0]!.reason);
    assert.match(
      c[0]!.reason,
      /bit 13 of enum pci_dev_flags is taken: PCI_DEV_FLAGS_MSIX_TOUCH_ENTRY_DATA_FIRST \(line (\d+)\) has it, so PCI_DEV_FLAGS_MEMORY_ENABLE needs another/,
    );
    const taken = /\(line (\d+)\) has it/.exec(c[0]!.reason)![1];
    assert.equal(Number(taken), lineOf(PCI_H, MSIX_COMMENT) + 1);
  });

  test('the model, computed without 4/8: shared pages fixed at 4K, nothing lost, no error', () => {
    assert.deepEqual(reportedErrors(s), [], 'no error at all in the series');
    assert.deepEqual(byRule(s.findings, 'model/lost-bar'), []);
    assert.deepEqual(byRule(s.findings, 'policy/not-understood'), []);
    const summary = byRule(s.findings, 'model/before-after')[0]!;
    assert.match(summary.detail, /, base 6\.12 against 6\.12\+[\w-]+ without 4\/8:\n/);
    assert.match(summary.detail, /The model's "after" is computed without 4\/8 \(did not apply\)/);
    assert.match(
      summary.detail,
      /At 4K \(\d+ scenario runs\): [1-9]\d* shared pages fixed, 0 introduced, 0 remain/,
    );
    // Where Linux assigns (qboot), the three 32-byte BAR2s get a 4K page each, as the real boot.
    const model = s.model!;
    const run = model.runs.find(
      (r) => r.scenario === 'seed-001-reproducer-qboot' && r.pageSize === 4096,
    )!;
    const layout: Layout = model.layouts[run.after]!;
    const bar2 = (bdf: string) =>
      layout.devices.find((d) => d.bdf === bdf)!.bars.find((b) => b.index === 2)!.start;
    assert.deepEqual(
      ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'].map(bar2),
      [0x110000000, 0x110001000, 0x110002000],
    );
    assert.deepEqual(layout.lost, []);
  });

  test('8/8: realign-by-default and policy-in-weak-default on the lines where it landed', () => {
    const p8 = patch(8);
    assert.deepEqual(
      p8.apply?.landed?.map((l) => [l.file, l.offset]),
      [[PCI, DRIFT]],
    );
    // In the patched tree the function is one line lower (8/8's include), nothing else above it moves.
    const def = lineOf(PCI, /^resource_size_t __weak pcibios_default_alignment\(void\)$/) + 1;
    const at = (rule: string) => p8.findings.find((f) => f.rule === rule);
    assert.equal(at('policy-in-weak-default')?.severity, 'warning');
    assert.equal(at('realign-by-default')?.severity, 'warning');
    assert.equal(at('policy-in-weak-default')?.file, PCI);
    assert.equal(at('policy-in-weak-default')?.line, def + 2, 'the comment 8/8 adds');
    assert.equal(at('realign-by-default')?.line, def + 2 + COMMENT.length, 'the new return');
    assert.equal(at('realign-by-default')?.mailLine, def + 2 + COMMENT.length - DRIFT);
    assert.ok(terminal.includes(`realign-by-default  ${PCI}:${def + 2 + COMMENT.length}\n`));
  });

  test('v2 8/8 (renamed) is superseded by v3, in all three formats', () => {
    const reason = `title changed: "${OLD}" -> "${NEW}", as the v3 cover letter's changelog says`;
    assert.deepEqual(
      s.supersedes.map((x) => [x.version, x.messageIds.length, x.reason]),
      [[2, 1, reason]],
    );
    const old = report.messages.find((m) => m.subject === `[PATCH v2 8/8] ${OLD}`)!;
    assert.deepEqual(old.disposition, { kind: 'superseded', seriesId: s.id, byVersion: 3, reason });
    const json = JSON.parse(renderJson(report)) as ReviewReport;
    assert.equal(json.messages.find((m) => m.messageId === old.messageId)!.reason, old.reason);
    assert.ok(terminal.includes(`]: ${old.reason}\n`));
    assert.ok(
      renderMarkdown(report).includes(`- Supersedes v2: ${reason.replace(/([<>])/g, '\\$1')}`),
    );
  });

  test('8/8 alone: lost BARs on x86, an error, and --verify auto would boot it', async () => {
    const lone = join(work, 'v3-8.mbox');
    await generateExampleMbox({
      tree,
      base: commit,
      out: lone,
      series: {
        ...v3Series,
        cover: null,
        patches: [patch8(NEW)],
        numbering: { indexes: [8], total: 8 },
      },
    });
    const series = await seriesFrom(lone);
    const applied = await applyTo(tree, series);
    const out = await analyseSeries({ series, applied, rules: [] });
    const lost = byRule(out.series, 'model/lost-bar');
    assert.deepEqual(
      lost.map((f) => f.severity),
      ['error'],
    );
    assertQbootBar2sLost(lost[0]!.evidence);
    const decision = whenToVerify('auto', applied, out.series);
    assert.equal(decision.verify, true);
    assert.match(decision.reason, /^auto: the model predicts .*lost BARs/);
    // The full series needs no boot: nothing not understood, no error predicted.
    assert.equal(
      s.findings.some((f) => f.rule === 'policy/not-understood'),
      false,
    );
  });
});

/** Every error finding of a series: its own and its patches'. */
function reportedErrors(r: ReviewResult): string[] {
  return [...r.findings, ...r.patches.flatMap((p) => p.findings)]
    .filter((f) => f.severity === 'error')
    .map((f) => `${f.rule}: ${f.title}`);
}
