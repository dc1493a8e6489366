// Slow: builds the real 6.12 kernel (x86_64, tiny config, cached with ccache in
// ${PCIBOT_CACHE:-~/.cache/pcibot}/verify) and boots the seed reproducer in QEMU
// under TCG, with SeaBIOS and with qboot, then with seed 001's default-alignment
// change. Every measured layout must equal the ground-truth boot of the same
// command line exactly (same 6.12 series, same QEMU).
//
// Runs in `npm test` when CI=true or PCIBOT_SLOW=1 (scripts/run-tests.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolveTree, treeKernelVersion } from '../../bot/tree/kernel.js';
import { kernelRelease, kernelSeries } from '../../bot/util/kernel-version.js';
import { bootScenario } from '../../bot/verify/boot.js';
import { buildKernel } from '../../bot/verify/build.js';
import { compareLayouts, formatDifferences } from '../../bot/verify/compare.js';
import { loadGroundTruth, parseGroundTruthCommand } from '../../bot/verify/ground-truth.js';
import { defaultAlignmentOverlay } from '../../fixtures/kernel-changes.js';
import type { Layout } from '../../bot/kernel/model/layout.js';
import type { BootResult } from '../../bot/verify/bootlog.js';

const truth = new Map(loadGroundTruth().map((b) => [b.name, b]));
const log = (l: string) => {
  if (!/^\s+(CC|LD|AR|AS)\s/.test(l)) process.stderr.write(`${l}\n`);
};

async function bootLike(name: string, image: string) {
  const gt = truth.get(name)!;
  const c = parseGroundTruthCommand(gt.command);
  const run = await bootScenario({
    image,
    arch: c.arch,
    qemuArgs: c.qemuArgs,
    kernelArgs: c.kernelArgs,
    firmware: c.firmware,
  });
  process.stderr.write(`boot ${name}: ${run.seconds.toFixed(1)} s\n`);
  assert.deepEqual(run.result.problems, [], run.log.slice(-3000));
  assert.equal(run.result.complete, true);
  assert.match(run.qemuVersion, /^QEMU emulator version 7\.2\./);
  assert.equal(run.result.cmdline, gt.result.cmdline);
  const diffs = compareLayouts(gt.result.layout, run.result.layout);
  // The ground truth was booted on one 6.12 point release; a difference on
  // another says so (formatDifferences names both releases).
  const kernels = { expected: gt.result.kernelVersion, measured: run.result.kernelVersion };
  assert.deepEqual(diffs, [], formatDifferences(diffs, kernels));
  last = run.result;
  return run.result.layout;
}

let last: BootResult | null = null;

function bar(l: Layout, bdf: string, index: number): number | null | undefined {
  return l.devices.find((d) => d.bdf === bdf)?.bars.find((b) => b.index === index)?.start;
}

const testdevs = ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'];

test('x86_64: base kernel, seed reproducer with SeaBIOS and qboot, then seed 001 8/8 alone', async () => {
  const tree = await resolveTree(process.env.PCIBOT_TREE, process.env, { log });
  const base = await buildKernel({ tree, arch: 'x86_64', log });
  process.stderr.write(
    `base build: ${base.seconds.toFixed(1)} s (incremental ${base.incremental})\n`,
  );
  // Debian's linux-source-6.12 follows the stable point releases: the kernel is
  // the 6.12 series, and exactly the release of the tree setup made.
  assert.equal(kernelSeries(base.kernelVersion), '6.12');
  assert.equal(kernelRelease(base.kernelVersion), await treeKernelVersion(tree));
  assert.ok(existsSync(base.image));
  assert.deepEqual(base.configWarnings, []);

  const seabios = await bootLike('base-tcg', base.image);
  assert.deepEqual(
    testdevs.map((b) => bar(seabios, b, 0)),
    [0xfe800000, 0xfe801000, 0xfe802000, 0xfe803000],
  );
  assert.deepEqual(
    testdevs.map((b) => bar(seabios, b, 2)),
    [0xe0000000, 0xe0001000, 0xe0002000, 0xd0000000],
  );
  const qboot = await bootLike('base-qboot', base.image);
  assert.deepEqual(
    testdevs.map((b) => bar(qboot, b, 2)),
    [0x110000000, 0x110000020, 0x110000040, 0x100000000],
  );
  const iommu = await bootLike('base-iommu', base.image);
  assert.equal(iommu.groups?.find((g) => g.bdfs.includes('0000:01:00.0'))?.bdfs.length, 5);
  // kexp_vfio: the guest opened the test devices through VFIO; SeaBIOS's padding lets
  // vfio-pci mmap the 32-byte BAR2s and reserve the rest of each page.
  assert.deepEqual(last!.vfioErrors, []);
  assert.deepEqual(
    last!.vfioRegions.filter((r) => r.index === 2).map((r) => r.mmap),
    [true, true, true, true],
  );
  assert.equal(
    (last!.vfioIomem ?? []).filter((e) => e.name === 'vfio sub-page reserved').length,
    3,
  );

  // The one-file patch: an incremental rebuild, and the small BAR2s are lost.
  const patched = await buildKernel({
    tree,
    arch: 'x86_64',
    overlay: defaultAlignmentOverlay(tree),
    log,
  });
  process.stderr.write(`patched build: ${patched.seconds.toFixed(1)} s\n`);
  assert.equal(patched.incremental, true);
  assert.notEqual(patched.image, base.image);
  for (const name of ['patched-tcg', 'patched-qboot']) {
    const l = await bootLike(name, patched.image);
    assert.deepEqual(
      l.lost.filter((x) => x.index === 2).map((x) => `${x.bdf} ${x.reason}`),
      testdevs.slice(0, 3).map((b) => `${b} disabling; bad alignment 0x0`),
    );
  }
});
