// Slow: `pcibot review --verify auto` against the real 6.12 tree, on the shapes
// of the real "PCI: Align small BARs" v3 series
// (fixtures/examples/align-small-bars-shapes.ts). auto boots exactly when the
// model needs it:
//   - 8/8 alone: the model predicts lost BARs on x86 (an error); the patched
//     kernel is built and the qboot reproducer booted, and the boot confirms
//     the loss: the error says "confirmed by a boot of the patched kernel";
//   - a claim pass reshaped in a way the reader does not understand, with 8/8:
//     the model's lost BARs are capped at info and unverified; the boot
//     confirms them, and they are errors again;
//   - 1/8 alone: nothing to verify (the reading is the same): no build, no boot.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import {
  alignSmallBarsShapes,
  SHAPES,
  shapesOnly,
  UNKNOWN_CLAIM,
} from '../../fixtures/examples/align-small-bars-shapes.js';
import { generateExampleMbox, type ExampleSeries } from '../../fixtures/examples/generate.js';
import { runReview } from '../../workers/pipeline.js';

let tree = '';
let commit = '';
let work = '';

before(async () => {
  ({ path: tree, commit } = await prepareKernelTree());
  work = await mkdtemp(join(tmpdir(), 'pcibot-verify-auto-'));
});
after(() => rm(work, { recursive: true, force: true }));

async function reviewAuto(series: ExampleSeries) {
  const mbox = join(work, `${series.name}.mbox`);
  await generateExampleMbox({ tree, base: commit, series, out: mbox });
  const report = await runReview({
    inputs: [mbox],
    tree,
    rules: [],
    verify: { mode: 'auto', only: ['seed-001-reproducer-qboot'], arch: 'x86_64' },
  });
  assert.deepEqual(report.internalErrors, []);
  return report.series[0]!;
}

const qbootLost = ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'];

test('--verify auto boots 8/8 alone and the boot confirms the lost BARs the model predicted', async () => {
  const s = await reviewAuto(shapesOnly([8], 'auto-8-alone'));
  assert.equal(s.verifyDecision?.verify, true);
  assert.equal(s.verifyDecision?.mode, 'auto');
  assert.match(s.verifyDecision!.reason, /^auto: the model predicts .*lost BARs/);
  assert.deepEqual(
    s
      .verify!.scenarios.filter((x) => x.status === 'measured')
      .map((x) => `${x.name}@${x.pageSize}`),
    ['seed-001-reproducer-qboot@4096'],
  );
  const lost = s.findings.find((f) => f.rule === 'model/lost-bar')!;
  assert.equal(lost.severity, 'error');
  assert.equal(
    lost.evidence['boot'],
    'partly-confirmed',
    'qboot booted; the other scenarios are model only',
  );
  assert.deepEqual(lost.evidence['confirmedBy'], [
    { scenario: 'seed-001-reproducer-qboot', pageSize: 4096 },
  ]);
  assert.match(
    lost.detail,
    /Confirmed by a boot of the patched kernel: seed-001-reproducer-qboot at 4K\. Model only \(not booted\): /,
  );
  // The boot's own finding names the BARs the real kernel dropped.
  const booted = s.findings.find((f) => f.rule === 'verify/lost-bar')!;
  const items = booted.evidence['lost'] as { bdf: string; bar: number; reason: string }[];
  for (const bdf of qbootLost)
    assert.ok(
      items.some((i) => i.bdf === bdf && i.bar === 2 && /bad alignment/.test(i.reason)),
      bdf,
    );
  assert.equal(
    s.findings.find((f) => f.rule === 'verify/model-mismatch'),
    undefined,
    'the model predicted what booted',
  );
});

test('--verify auto boots a claim pass the reader did not understand; the boot confirms, and the capped finding is an error again', async () => {
  const s = await reviewAuto({
    ...alignSmallBarsShapes,
    name: 'auto-unknown-claim',
    patches: [UNKNOWN_CLAIM, SHAPES[7]!],
  });
  assert.match(s.verifyDecision!.reason, /^auto: a policy change the model does not understand/);
  const lost = s.findings.filter((f) => f.rule === 'model/lost-bar');
  // What qboot showed is real: an error again. What was not booted stays unverified, at info.
  assert.deepEqual(
    lost.map((f) => [f.severity, f.evidence['boot'], f.evidence['unverified']]),
    [
      ['error', 'confirmed', true],
      ['info', 'partly-confirmed', true],
    ],
  );
  const confirmed = lost[0]!;
  assert.match(confirmed.title, /^Confirmed by a boot: the model predicts \d+ lost BARs/);
  const items = confirmed.evidence['items'] as { scenario: string; device: string; bar: number }[];
  assert.deepEqual(items.map((i) => `${i.scenario} ${i.device}/${i.bar}`).sort(), [
    'seed-001-reproducer-qboot 0000:00:03.0/0',
    ...qbootLost.map((b) => `seed-001-reproducer-qboot ${b}/2`),
  ]);
  assert.match(
    confirmed.detail,
    /Confirmed by a boot of the patched kernel: seed-001-reproducer-qboot at 4K\.$/,
  );
  assert.ok(
    !(lost[1]!.evidence['items'] as { scenario: string }[]).some(
      (i) => i.scenario === 'seed-001-reproducer-qboot',
    ),
  );
  assert.ok(s.findings.some((x) => x.rule === 'policy/not-understood' && x.severity === 'info'));
});

test('--verify auto does not boot what the model fully understood and finds no error in: 1/8 alone', async () => {
  const s = await reviewAuto(shapesOnly([1], 'auto-1-alone'));
  assert.equal(s.verifyDecision?.verify, false);
  assert.match(s.verifyDecision!.reason, /^auto: the model understood every policy change/);
  assert.equal(s.verify, null);
});
