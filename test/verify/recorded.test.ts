// The recorded layouts in fixtures/layouts: well-formed, recorded from the scenario
// files as they are now (a changed scenario must be re-recorded), and the seed
// reproducer's recordings equal the ground-truth boots of the same command lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BootArch, BootFirmware } from '../../bot/kernel/vocabulary.js';
import { qemuCommand } from '../../bot/verify/boot.js';
import { compareLayouts, formatDifferences } from '../../bot/verify/compare.js';
import { loadGroundTruth } from '../../bot/verify/ground-truth.js';
import { loadRecordedLayouts, recordedLayoutName } from '../../bot/verify/recorded.js';
import { loadVerifyScenarios } from '../../bot/verify/scenarios.js';
import { repoRoot } from '../../bot/util/paths.js';
import { kernelSeries } from '../../bot/util/kernel-version.js';

const recorded = loadRecordedLayouts();
const truth = new Map(loadGroundTruth().map((b) => [b.name, b.result]));

/** The argv with the image and initramfs paths (which name one particular build) blanked. */
function withoutImages(argv: string[]): string[] {
  return argv.map((a, i) => (argv[i - 1] === '-kernel' || argv[i - 1] === '-initrd' ? '*' : a));
}

test('recorded layouts exist for x86 and arm64 and are well-formed', () => {
  const x86 = recorded.filter((r) => r.arch === 'x86_64');
  const arm = recorded.filter((r) => r.arch === 'arm64');
  assert.ok(x86.length >= 8, `${x86.length} x86 layouts`);
  assert.ok(arm.length >= 4, `${arm.length} arm64 layouts`);
  for (const r of recorded) {
    assert.equal(r.file.endsWith(recordedLayoutName(r.scenario, r.arch, r.pageSize)), true, r.file);
    // Any 6.12 point release (Debian moves from one to the next); the exact one is information.
    assert.equal(kernelSeries(r.kernelVersion), '6.12', r.file);
    assert.match(r.qemuVersion, /^QEMU emulator version 7\.2\./, r.file);
    assert.match(r.kernelCommit, /^[0-9a-f]{40}$/, r.file);
    assert.ok(r.layout.devices.length > 0, r.file);
    for (const l of r.layout.lost) {
      const bar = r.layout.devices
        .find((d) => d.bdf === l.bdf)
        ?.bars.find((b) => b.index === l.index);
      assert.equal(bar?.start, null, `${r.file}: lost ${l.bdf} BAR${l.index} has no address`);
    }
  }
});

test('every recorded layout was recorded from its scenario file as it is now', () => {
  const { scenarios, errors } = loadVerifyScenarios(
    [...new Set(recorded.map((r) => join(repoRoot, r.scenarioFile)))].filter((f) => existsSync(f)),
  );
  assert.deepEqual(errors, []);
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  for (const r of recorded) {
    const s = byName.get(r.scenario);
    assert.ok(s, `${r.file}: scenario ${r.scenario} (${r.scenarioFile}) exists`);
    assert.ok(
      s.pageSizes.includes(r.pageSize),
      `${r.file}: ${r.scenario} no longer checks ${r.pageSize / 1024}K pages`,
    );
    const now = qemuCommand({
      arch: s.arch as BootArch,
      qemuArgs: s.qemuArgs,
      kernel: '*',
      initrd: '*',
      kernelArgs: s.kernelArgs,
      firmware: s.firmware as BootFirmware,
    });
    assert.deepEqual(
      withoutImages(r.commandLine),
      now,
      `${r.file} is stale: the scenario changed; run pcibot record-layouts ${r.scenarioFile}`,
    );
  }
});

test('the seed reproducer recordings equal the ground-truth boots', () => {
  const pairs: [string, string][] = [
    ['seed-001-reproducer.x86_64.json', 'base-tcg'],
    ['seed-001-reproducer-qboot.x86_64.json', 'base-qboot'],
    ['seed-001-reproducer-iommu.x86_64.json', 'base-iommu'],
    ['seed-001-reproducer-arm64.arm64-64k.json', 'arm64-base'],
    ['seed-001-reproducer-arm64-smmu.arm64-64k.json', 'arm64-base-smmu'],
  ];
  for (const [file, gt] of pairs) {
    const r = recorded.find((x) => x.file.endsWith(`/${file}`));
    assert.ok(r, `${file} recorded`);
    const boot = truth.get(gt)!;
    const diffs = compareLayouts(boot.layout, r.layout);
    const kernels = { expected: boot.kernelVersion, measured: r.kernelVersion };
    assert.deepEqual(diffs, [], `${file} vs ${gt}:\n${formatDifferences(diffs, kernels)}`);
  }
});
