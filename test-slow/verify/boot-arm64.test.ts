// Slow: the arm64 cross build (64K pages) and boots of the seed reproducer on
// `virt` with no firmware, base and with seed 001's default-alignment change,
// held to the ground-truth boots exactly. See boot-x86.test.ts for how to run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTree, treeKernelVersion } from '../../bot/tree/kernel.js';
import { kernelRelease, kernelSeries } from '../../bot/util/kernel-version.js';
import { bootScenario } from '../../bot/verify/boot.js';
import { buildKernel } from '../../bot/verify/build.js';
import { compareLayouts, formatDifferences } from '../../bot/verify/compare.js';
import { loadGroundTruth, parseGroundTruthCommand } from '../../bot/verify/ground-truth.js';
import { defaultAlignmentOverlay } from '../../fixtures/kernel-changes.js';

const truth = new Map(loadGroundTruth().map((b) => [b.name, b]));
const log = (l: string) => {
  if (!/^\s+(CC|LD|AR|AS)\s/.test(l)) process.stderr.write(`${l}\n`);
};

async function bootLike(name: string, image: string) {
  const gt = truth.get(name)!;
  const c = parseGroundTruthCommand(gt.command);
  const run = await bootScenario({
    image,
    arch: 'arm64',
    qemuArgs: c.qemuArgs,
    kernelArgs: c.kernelArgs,
  });
  process.stderr.write(`boot ${name}: ${run.seconds.toFixed(1)} s\n`);
  assert.deepEqual(run.result.problems, [], run.log.slice(-3000));
  const diffs = compareLayouts(gt.result.layout, run.result.layout);
  // The ground truth was booted on one 6.12 point release; a difference on
  // another says so (formatDifferences names both releases).
  const kernels = { expected: gt.result.kernelVersion, measured: run.result.kernelVersion };
  assert.deepEqual(diffs, [], formatDifferences(diffs, kernels));
  return run.result.layout;
}

test('arm64 64K: base packs the small BARs into one page, the patched kernel separates them', async () => {
  const tree = await resolveTree(process.env.PCIBOT_TREE, process.env, { log });
  const base = await buildKernel({ tree, arch: 'arm64', pageSize: 65536, log });
  process.stderr.write(`arm64 base build: ${base.seconds.toFixed(1)} s\n`);
  assert.deepEqual(base.configWarnings, []);
  assert.equal(kernelRelease(base.kernelVersion), await treeKernelVersion(tree));
  assert.equal(kernelSeries(base.kernelVersion), '6.12');
  const l = await bootLike('arm64-base', base.image);
  const bar0 = (bdf: string) =>
    l.devices.find((d) => d.bdf === bdf)?.bars.find((b) => b.index === 0)?.start;
  assert.deepEqual(
    ['0000:01:01.0', '0000:01:02.0', '0000:01:03.0', '0000:01:04.0'].map(bar0),
    [0x10000000, 0x10001000, 0x10002000, 0x10003000],
  );
  await bootLike('arm64-base-smmu', base.image);
  const patched = await buildKernel({
    tree,
    arch: 'arm64',
    pageSize: 65536,
    overlay: defaultAlignmentOverlay(tree),
    log,
  });
  assert.equal(patched.incremental, true);
  const p = await bootLike('arm64-patched', patched.image);
  assert.deepEqual(p.lost, []);
});
