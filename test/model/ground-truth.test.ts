// The model against real boots (fixtures/layouts/ground-truth, copied from
// /work/shared/ground-truth): every device, BAR (start, size, flags), bridge
// window, lost BAR and IOMMU group must match exactly, and the kernel's own
// resource messages ("BAR n [...]: assigned", "disabling; bad alignment 0x0",
// "can't claim ...") must come out in the same order with the same text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadGroundTruth } from '../../bot/verify/ground-truth.js';
import { compareLayouts, formatDifferences } from '../../bot/verify/compare.js';
import { fixturesDir } from '../../bot/util/paths.js';
import type { Layout } from '../../bot/kernel/model/layout.js';
import { placeScenario } from '../../bot/kernel/model/place.js';
import {
  policyFor6_12,
  policyMax4kPage,
  type KernelPolicy,
} from '../../bot/kernel/model/policy.js';
import { loadScenarios } from '../../bot/kernel/model/scenario.js';

const boots = new Map(loadGroundTruth().map((g) => [g.name, g]));
const scenarios = new Map(
  (await loadScenarios(join(fixturesDir, 'scenarios'))).map((s) => [s.name, s]),
);

const CASES: [string, string, KernelPolicy, number][] = [
  ['base-tcg', 'seed-001-reproducer', policyFor6_12(), 4096],
  ['base-qboot', 'seed-001-reproducer-qboot', policyFor6_12(), 4096],
  ['patched-tcg', 'seed-001-reproducer', policyMax4kPage(), 4096],
  ['patched-qboot', 'seed-001-reproducer-qboot', policyMax4kPage(), 4096],
  ['arm64-base', 'seed-001-reproducer-arm64', policyFor6_12(), 65536],
  ['arm64-patched', 'seed-001-reproducer-arm64', policyMax4kPage(), 65536],
  ['base-iommu', 'seed-001-reproducer-iommu', policyFor6_12(), 4096],
  ['arm64-base-smmu', 'seed-001-reproducer-arm64-smmu', policyFor6_12(), 65536],
];

/** Every assigned BAR as `bdf/index start size flags`; every unassigned one as `bdf/index unassigned`. */
function barFacts(l: Layout): string[] {
  return l.devices
    .flatMap((d) =>
      d.bars.map((b) =>
        b.start === null
          ? `${d.bdf}/${b.index} unassigned`
          : `${d.bdf}/${b.index} ${b.start.toString(16)} ${b.size.toString(16)} io=${b.flags.io} 64=${b.flags.is64} pref=${b.flags.prefetch}`,
      ),
    )
    .sort();
}

function windowFacts(l: Layout): string[] {
  return l.devices
    .flatMap((d) =>
      d.windows.map(
        (w) => `${d.bdf} ${w.kind} ${w.start.toString(16)}-${w.end.toString(16)} 64=${w.is64}`,
      ),
    )
    .sort();
}

/** The kernel's resource placement messages, without timestamps. */
function resourceMessages(lines: string[]): string[] {
  return lines
    .map((l) => l.replace(/\r$/, '').replace(/^\[\s*\d+\.\d+\]\s*/, ''))
    .filter((l) =>
      /^pci \S+: (BAR \d+|ROM|bridge window):? \[[^\]]*\]:? ?(assigned|disabling|can't|has bogus|requesting)/.test(
        l,
      ),
    );
}

for (const [boot, scenario, policy, pageSize] of CASES) {
  test(`ground truth ${boot}: the model's layout equals the real boot`, () => {
    const real = boots.get(boot);
    const s = scenarios.get(scenario);
    assert.ok(real, `ground-truth boot ${boot} is present`);
    assert.ok(s, `scenario ${scenario} is present`);
    assert.deepEqual(real.result.problems, [], 'the boot log parses cleanly');
    const p = placeScenario(s, policy, pageSize);
    const measured = real.result.layout;
    assert.deepEqual(
      p.layout.devices.map((d) => d.bdf),
      measured.devices.map((d) => d.bdf).sort(),
      'same functions, including the implicit q35/virt ones',
    );
    assert.deepEqual(barFacts(p.layout), barFacts(measured), 'every BAR: start, size and flags');
    assert.deepEqual(windowFacts(p.layout), windowFacts(measured), 'every bridge window');
    assert.deepEqual(
      p.layout.lost.map((l) => `${l.bdf}/${l.index}`),
      measured.lost.map((l) => `${l.bdf}/${l.index}`),
      'the same BARs end up without an address',
    );
    assert.deepEqual(p.layout.groups, measured.groups, 'IOMMU groups (ids and members)');
    const diffs = compareLayouts(p.layout, measured);
    assert.equal(diffs.length, 0, formatDifferences(diffs));
  });
}

for (const [boot, scenario, policy, pageSize] of CASES.slice(0, 6)) {
  test(`ground truth ${boot}: the kernel's resource messages come out in the same order`, () => {
    const real = boots.get(boot)!;
    const p = placeScenario(scenarios.get(scenario)!, policy, pageSize);
    assert.deepEqual(resourceMessages(p.kernel.log), resourceMessages(real.log.split('\n')));
  });
}

test('patched x86 boots lose the small BAR2s for the reason the kernel gives', () => {
  const p = placeScenario(scenarios.get('seed-001-reproducer-qboot')!, policyMax4kPage(), 4096);
  const lost = p.layout.lost.filter((l) => l.bdf.startsWith('0000:01:'));
  assert.deepEqual(
    lost.map((l) => `${l.bdf.slice(5)}/${l.index}`),
    ['01:00.0/2', '01:01.0/2', '01:02.0/2'],
  );
  for (const l of lost)
    assert.match(l.reason, /^disabling; bad alignment 0x0 \(the x86 claim pass rebased it to 0/);
});

test('the issue anchors: arm64 patched separates every BAR into its own 64K page', () => {
  const p = placeScenario(scenarios.get('seed-001-reproducer-arm64')!, policyMax4kPage(), 65536);
  const bar = (bdf: string, i: number) =>
    p.layout.devices.find((d) => d.bdf === bdf)!.bars.find((b) => b.index === i)!.start;
  assert.deepEqual(
    ['01:01.0', '01:02.0', '01:03.0', '01:04.0'].map((d) => bar(`0000:${d}`, 0)),
    [0x10000000, 0x10010000, 0x10020000, 0x10030000],
  );
  assert.deepEqual(
    ['01:01.0', '01:02.0', '01:03.0'].map((d) => bar(`0000:${d}`, 2)),
    [0x8010000000, 0x8010010000, 0x8010020000],
  );
  assert.equal(bar('0000:01:04.0', 2), 0x8000000000);
  assert.deepEqual(p.layout.lost, []);
});
