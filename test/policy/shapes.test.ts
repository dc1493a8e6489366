// The policy reader on the shapes of the real "PCI: Align small BARs" v3
// series, written as our own edits to the real 6.12 tree
// (fixtures/examples/align-small-bars-shapes.ts), and on other wordings of the
// same meanings: every patch is read (or read as a restructure), nothing is
// "not understood", and a reshaping it has no meaning for still is, with the
// function and its line. Then the series as a maintainer sends it: the whole
// series fixes the shared pages and loses nothing; 8/8 alone loses the small
// BARs on x86 and says it was computed without 1-7/8; an unknown reshaping
// never raises an error.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { analyseSeries } from '../../workers/analyse/analyse.js';
import { policyAlignSmallBarsV3 } from '../../bot/kernel/model/policy.js';
import type { Layout } from '../../bot/kernel/model/layout.js';
import { readPolicyChange, type PolicyChange } from '../../bot/kernel/policy/read.js';
import type { Arch } from '../../bot/kernel/vocabulary.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import type { Finding, TreeOverlay } from '../../bot/types.js';
import { overlayEditing } from '../../fixtures/kernel-changes.js';
import { whenToVerify } from '../../bot/verify/when.js';
import {
  alignSmallBarsShapes,
  SHAPES,
  SHAPE_VARIANTS,
  shapesOnly,
  UNKNOWN_CLAIM,
} from '../../fixtures/examples/align-small-bars-shapes.js';
import {
  applyEdit,
  generateExampleMbox,
  type ExampleEdit,
  type ExampleSeries,
} from '../../fixtures/examples/generate.js';
import policyInWeakDefault from '../../rules/policy-in-weak-default/rule.js';
import realignByDefault from '../../rules/realign-by-default/rule.js';
import { runReview } from '../../workers/pipeline.js';
import { applyTo, assertQbootBar2sLost, seriesFrom, tempDir } from './helpers.js';

const tmp = tempDir('pcibot-policy-shapes-');
let real = '';
let realCommit = '';

before(async () => {
  ({ path: real, commit: realCommit } = await prepareKernelTree());
});
after(() => tmp.cleanup());

/** The real tree with `edits` applied in order (blobs held in this process, nothing written). */
function overlayOf(edits: ExampleEdit[]): TreeOverlay {
  const files = [...new Set(edits.map((e) => e.file))];
  const overlay: TreeOverlay = {};
  for (const file of files)
    Object.assign(
      overlay,
      overlayEditing(real, realCommit, file, (text) =>
        edits.filter((e) => e.file === file).reduce((t, e) => applyEdit(t, e), text),
      ),
    );
  return overlay;
}

/** What the reader makes of `then` over `first` (both edit lists from the base). */
async function change(
  then: ExampleEdit[],
  first: ExampleEdit[] = [],
  arch: Arch = 'x86_64',
): Promise<PolicyChange> {
  const from = first.length ? overlayOf(first) : {};
  const to = overlayOf([...first, ...then]);
  return readPolicyChange(
    openTreeReader(real, realCommit, from),
    openTreeReader(real, realCommit, to),
    arch,
    { changedPaths: Object.keys(to), facts: false },
  );
}

const notUnderstood = (c: PolicyChange) => c.notes.filter((n) => n.kind === undefined);
const edits = (...indexes: number[]) => indexes.flatMap((i) => SHAPES[i - 1]!.edits);

describe('the reader on the v3 shapes, patch by patch', () => {
  test('1/8: the claim moved into a static helper reads the same: "restructured", not "not understood"', async () => {
    const c = await change(edits(1));
    assert.deepEqual(c.changedFields, []);
    assert.deepEqual(notUnderstood(c), []);
    assert.deepEqual(
      c.notes.map((n) => [n.kind, n.function, n.file, typeof n.line, n.fields]),
      [
        [
          'restructured',
          'pcibios_allocate_dev_resources',
          'arch/x86/pci/i386.c',
          'number',
          ['x86ClaimDropsStartAlign'],
        ],
      ],
    );
    assert.equal(c.after.policy.x86ClaimDropsStartAlign, true);
  });

  test('5/8 on 1/8: `else if (!(flags & STARTALIGN))` in the helper spares the alignment', async () => {
    for (const cond of [
      '!(res->flags & IORESOURCE_STARTALIGN)',
      '(res->flags & IORESOURCE_STARTALIGN) == 0',
    ]) {
      const c = await change(
        [
          {
            ...edits(5)[0]!,
            lines: [edits(5)[0]!.lines[0]!, `\t\t} else if (${cond}) {`],
          },
        ],
        edits(1),
      );
      assert.deepEqual(c.changedFields, ['x86ClaimDropsStartAlign'], cond);
      assert.equal(c.after.policy.x86ClaimDropsStartAlign, false, cond);
      assert.deepEqual(c.notes, [], cond);
    }
  });

  test('reworded: a guard-clause helper, with and without an early return for STARTALIGN', async () => {
    const spared = await change(SHAPE_VARIANTS.claimGuardClauses(true));
    assert.equal(spared.after.policy.x86ClaimDropsStartAlign, false);
    assert.deepEqual(spared.notes, []);
    const moved = await change(SHAPE_VARIANTS.claimGuardClauses(false));
    assert.deepEqual(moved.changedFields, []);
    assert.deepEqual(
      moved.notes.map((n) => n.kind),
      ['restructured'],
    );
  });

  test('an unknown reshaping of the claim: "not understood", with the function and its line; the base value kept', async () => {
    const c = await change(UNKNOWN_CLAIM.edits);
    assert.equal(c.after.policy.x86ClaimDropsStartAlign, true);
    assert.deepEqual(c.changedFields, []);
    const nu = notUnderstood(c);
    assert.deepEqual(nu.map((n) => [n.function, n.file, typeof n.line, n.fields]).sort(), [
      [
        'pcibios_allocate_dev_resources',
        'arch/x86/pci/i386.c',
        'number',
        ['x86ClaimDropsStartAlign'],
      ],
      ['pcibios_claim_bar', 'arch/x86/pci/i386.c', 'number', ['x86ClaimDropsStartAlign']],
    ]);
    assert.match(nu.find((n) => n.function === 'pcibios_claim_bar')!.message, /\(added\)/);
  });

  test('2/8: the request says whether it realigned, decoding and windows only when needed (three wordings)', async () => {
    for (const [name, e] of [
      ['2/8', edits(2)],
      ['|=', SHAPE_VARIANTS.requestOr()],
      ['if () = true', SHAPE_VARIANTS.requestIf()],
    ] as const) {
      const c = await change(e);
      assert.deepEqual(c.changedFields, ['resourceAlignment.onlyWhenNeeded'], name);
      assert.equal(c.after.policy.resourceAlignment.onlyWhenNeeded, true, name);
      assert.deepEqual(c.notes, [], name);
    }
    // The request rewritten to return bool, and nothing else: nothing changes.
    const alone = await change([edits(2)[0]!]);
    assert.deepEqual([alone.changedFields, alone.notes], [[], []]);
  });

  test('2/8 with `x = x || request()`: it would stop realigning after the first BAR, so it is not read as 2/8', async () => {
    const c = await change(SHAPE_VARIANTS.requestShortCircuit());
    assert.equal(c.after.policy.resourceAlignment.onlyWhenNeeded, false);
    assert.deepEqual(
      notUnderstood(c).map((n) => [n.function, n.fields]),
      [
        [
          'pci_reassigndev_resource_alignment',
          ['resourceAlignment.defaultMethod', 'resourceAlignment.onlyWhenNeeded'],
        ],
      ],
    );
  });

  test('3/8: a released window realigns the devices below it (two names)', async () => {
    for (const e of [edits(3), SHAPE_VARIANTS.restoreRenamed()]) {
      const c = await change(e);
      assert.deepEqual(c.changedFields, ['restoreAlignmentOnRelease']);
      assert.deepEqual(c.notes, []);
    }
  });

  test('4/8 on 2/8: remembering that decoding was on is placement-neutral', async () => {
    const c = await change(edits(4), edits(2));
    assert.deepEqual([c.changedFields, c.notes], [[], []]);
  });

  test('7/8 on 2/8: an already aligned BAR is kept, as `!(start & (align - 1))` or IS_ALIGNED()', async () => {
    const cases: [ExampleEdit[], string][] = [
      [edits(7), 'unless-resize'],
      [[SHAPE_VARIANTS.keepIsAligned(true)], 'unless-resize'],
      [[SHAPE_VARIANTS.keepIsAligned(false)], 'always'],
    ];
    for (const [e, keep] of cases) {
      const c = await change(e, edits(2));
      assert.deepEqual(c.changedFields, ['resourceAlignment.keepAligned'], keep);
      assert.equal(c.after.policy.resourceAlignment.keepAligned, keep);
      assert.deepEqual(c.notes, []);
    }
    // A condition it has no meaning for: "not understood", the base value kept.
    const odd = await change([SHAPE_VARIANTS.keepOdd()], edits(2));
    assert.equal(odd.after.policy.resourceAlignment.keepAligned, 'no');
    assert.deepEqual(
      notUnderstood(odd).map((n) => n.function),
      ['pci_request_resource_alignment'],
    );
  });

  test('the whole series, in order: the v3 policy, nothing not understood, on x86 and arm64', async () => {
    for (const arch of ['x86_64', 'arm64'] as Arch[]) {
      const c = await change(edits(1, 2, 3, 4, 5, 6, 7, 8), [], arch);
      assert.deepEqual(notUnderstood(c), [], arch);
      assert.deepEqual(c.after.policy, {
        ...policyAlignSmallBarsV3(),
        name: c.after.policy.name,
        // The claim pass is x86's own.
        x86ClaimDropsStartAlign: arch !== 'x86_64',
      });
    }
  });
});

/** Generate, apply and analyse a series of shapes (mbox written under the test's temp dir). */
async function analysed(series: ExampleSeries) {
  const mbox = join(tmp.path, `${series.name}.mbox`);
  await generateExampleMbox({ tree: real, base: realCommit, series, out: mbox });
  const s = await seriesFrom(mbox);
  const applied = await applyTo(real, s);
  const out = await analyseSeries({ series: s, applied, rules: [] });
  assert.deepEqual(out.errors, []);
  return { mbox, series: s, applied, out };
}

const layoutOf = (
  out: Awaited<ReturnType<typeof analysed>>['out'],
  scenario: string,
  side: 'before' | 'after',
): Layout => {
  const run = out.model!.runs.find((r) => r.scenario === scenario && r.pageSize === 4096)!;
  return out.model!.layouts[run[side]]!;
};

const bar = (l: Layout, bdf: string, index: number) =>
  l.devices.find((d) => d.bdf === bdf)!.bars.find((b) => b.index === index)!.start;

const byRule = (fs: Finding[], rule: string) => fs.filter((f) => f.rule === rule);

describe('the v3 shapes as a series on the real tree', () => {
  test('the whole series: shared pages fixed at 4K where Linux assigns, nothing lost, no error, SeaBIOS left alone', async () => {
    const { out } = await analysed(alignSmallBarsShapes);
    assert.deepEqual(
      out.series.filter((f) => f.severity !== 'info').map((f) => f.title),
      [],
    );
    assert.deepEqual(byRule(out.series, 'policy/not-understood'), []);
    assert.deepEqual(byRule(out.series, 'model/lost-bar'), []);
    const summary = byRule(out.series, 'model/before-after')[0]!;
    assert.match(
      summary.detail,
      /At 4K \(\d+ scenario runs\): [1-9]\d* shared pages fixed, 0 introduced, 0 remain/,
    );
    // qboot assigns nothing: the three 32-byte BAR2s get a 4K page each, as the real boot.
    const qboot = layoutOf(out, 'seed-001-reproducer-qboot', 'after');
    assert.deepEqual(
      ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'].map((b) => bar(qboot, b, 2)),
      [0x110000000, 0x110001000, 0x110002000],
    );
    assert.deepEqual(qboot.lost, []);
    // SeaBIOS already put every small BAR on its own 4K page: nothing moves.
    assert.deepEqual(
      layoutOf(out, 'seed-001-reproducer', 'after'),
      layoutOf(out, 'seed-001-reproducer', 'before'),
    );
    const fixed = byRule(out.series, 'model/fixed')[0]!;
    const items = fixed.evidence['items'] as {
      scenario: string;
      rule: string;
      pageSizes: number[];
    }[];
    assert.ok(
      items.some(
        (i) =>
          i.scenario === 'seed-001-reproducer-qboot' &&
          i.rule === 'model/shared-page' &&
          i.pageSizes.includes(4096),
      ),
      JSON.stringify(items.slice(0, 5)),
    );
  });

  test('8/8 alone: the x86 claim pass loses the small BARs (an error), computed without 1-7/8, which it says it needs', async () => {
    const { out, series } = await analysed(shapesOnly([8], 'shapes-8-alone'));
    assert.deepEqual(series.missing, [1, 2, 3, 4, 5, 6, 7]);
    const lost = byRule(out.series, 'model/lost-bar');
    assert.equal(lost.length, 1);
    const f = lost[0]!;
    assert.equal(f.severity, 'error');
    assert.match(
      f.title,
      /^The series introduces \d+ lost BARs in \d+ scenarios \(computed without 1-7\/8 \(not in the input\)\)$/,
    );
    assert.match(
      f.detail,
      /computed without 1-7\/8 \(not in the input\): it reads the tree with only the patches that applied\. 8\/8 says: "The earlier patches of this series are prerequisites of this one"\./,
    );
    assertQbootBar2sLost(f.evidence);
    assert.deepEqual(f.evidence['without'], {
      text: 'computed without 1-7/8 (not in the input)',
      missing: [1, 2, 3, 4, 5, 6, 7],
      failed: [],
      stated: [
        { index: 8, sentence: 'The earlier patches of this series are prerequisites of this one.' },
      ],
    });
    assert.equal(
      whenToVerify('auto', null, out.series).verify,
      false,
      'nothing applied, nothing booted',
    );
  });

  test('1/8 alone: no "not understood", no model run, one info that the claim was restructured', async () => {
    const { out } = await analysed(shapesOnly([1], 'shapes-1-alone'));
    assert.deepEqual(
      out.series.map((f) => [f.rule, f.severity]),
      [['policy/restructured', 'info']],
    );
    const [r] = out.series;
    assert.equal(r!.file, 'arch/x86/pci/i386.c');
    assert.equal(typeof r!.line, 'number');
    assert.deepEqual(r!.evidence['changedBy'], [1]);
    assert.match(
      r!.title,
      /^pcibios_allocate_dev_resources\(\) restructured by 1\/8; the model reads it the same$/,
    );
  });

  test('an unknown reshaping with 8/8: "not understood" at info, and the lost BARs that depend on it capped and unverified', async () => {
    const series: ExampleSeries = {
      ...alignSmallBarsShapes,
      name: 'shapes-unknown-claim',
      patches: [UNKNOWN_CLAIM, SHAPES[7]!],
    };
    const { out, applied } = await analysed(series);
    assert.deepEqual(
      out.series.filter((f) => f.severity !== 'info').map((f) => f.title),
      [],
      'no error, no warning',
    );
    const nu = byRule(out.series, 'policy/not-understood');
    assert.deepEqual(
      nu
        .map((f) => [f.evidence['function'], f.file, typeof f.line, f.evidence['changedBy']])
        .sort(),
      [
        ['pcibios_allocate_dev_resources', 'arch/x86/pci/i386.c', 'number', [1]],
        ['pcibios_claim_bar', 'arch/x86/pci/i386.c', 'number', [1]],
      ],
    );
    const lost = byRule(out.series, 'model/lost-bar');
    assert.equal(lost.length, 1);
    const f = lost[0]!;
    assert.deepEqual(
      [f.severity, f.evidence['unverified'], f.evidence['modelSeverity']],
      ['info', true, 'error'],
    );
    assert.match(
      f.title,
      /^Unverified: the model predicts \d+ lost BARs in \d+ scenarios, on policy it did not understand$/,
    );
    assert.match(
      f.detail,
      /depends on pcibios_\w+\(\) \(arch\/x86\/pci\/i386\.c:\d+\), changed by 1\/2/,
    );
    const deps = f.evidence['dependsOn'] as { field: string; function: string }[];
    assert.ok(
      deps.every((d) => d.field === 'x86ClaimDropsStartAlign'),
      JSON.stringify(deps),
    );
    // The shared pages 8/8 fixes do not depend on the claim pass's reading: still info as fixed.
    assert.ok(byRule(out.series, 'model/fixed').length === 1);
    // --verify auto boots exactly this series; the report says "model only" until it does.
    const decision = whenToVerify('auto', applied, out.series);
    assert.equal(decision.verify, true);
    assert.match(
      decision.reason,
      /^auto: a policy change the model does not understand \(pcibios_/,
    );
  });

  test('the report says "model only" for model findings no boot confirmed', async () => {
    const mbox = join(tmp.path, 'shapes-8-alone.mbox');
    const report = await runReview({ inputs: [mbox], tree: real, rules: [] });
    const s = report.series[0]!;
    const lost = s.findings.find((f) => f.rule === 'model/lost-bar')!;
    assert.equal(lost.evidence['boot'], 'model-only');
    assert.match(lost.detail, /Model only \(not booted: not asked for\)\.$/);
    assert.equal(s.verifyDecision?.asked, false);
  });

  test('realign-by-default still fires on 8/8 (opt-in was asked for), and says what the preparatory patches change', async () => {
    const at8 = async (mbox: string) => {
      const report = await runReview({
        inputs: [mbox],
        tree: real,
        rules: [realignByDefault],
        model: false,
      });
      const p8 = report.series[0]!.patches.find((p) => p.index === 8)!;
      return p8.findings.find((f) => f.rule === 'realign-by-default')!;
    };
    const whole = await at8(join(tmp.path, 'align-small-bars-shapes.mbox'));
    assert.equal(whole.severity, 'warning');
    assert.match(whole.title, /^Realigns every small memory BAR not already aligned by default/);
    assert.match(
      whole.detail,
      /marks every small memory BAR that does not already start on a max\(4K, PAGE_SIZE\) boundary for reassignment and turns off memory decoding \(and releases the bridge windows\) of each device that has such a BAR: where firmware aligned every BAR nothing moves/,
    );
    const alone = await at8(join(tmp.path, 'shapes-8-alone.mbox'));
    assert.match(alone.title, /^Realigns every memory BAR of every device by default/);
    assert.match(
      alone.detail,
      /marks every small memory BAR of every device for reassignment and turns off memory decoding of every device \(and releases every bridge window\) at boot/,
    );
  });

  test('policy-in-weak-default quotes the changelog\'s reason whole, through "e.g."', async () => {
    const series = shapesOnly([8], 'shapes-8-eg');
    const p8 = series.patches[0]!;
    series.patches = [
      {
        ...p8,
        body: 'Devices passed through to guests (e.g. with QEMU and vfio) must not share a page with\nother devices. Align small BARs to max(4K, PAGE_SIZE).',
      },
    ];
    const mbox = join(tmp.path, `${series.name}.mbox`);
    await generateExampleMbox({ tree: real, base: realCommit, series, out: mbox });
    const report = await runReview({
      inputs: [mbox],
      tree: real,
      rules: [policyInWeakDefault],
      model: false,
    });
    const f = report.series[0]!.patches[0]!.findings.find(
      (x) => x.rule === 'policy-in-weak-default',
    );
    assert.ok(f, 'fires: the comment cites the spec, the changelog the passthrough');
    assert.equal(
      f.evidence['changelogReason'],
      'Devices passed through to guests (e.g. with QEMU and vfio) must not share a page with other devices',
    );
  });
});
