// Before/after: runModel with default alignment 0 (6.12) against
// max(4K, PAGE_SIZE), the change of seed 001.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixturesDir } from '../../bot/util/paths.js';
import {
  policyFor6_12,
  policyMax4kPage,
  policyAlignSmallBarsV3,
  describePolicy,
  defaultAlignmentBytes,
} from '../../bot/kernel/model/policy.js';
import { runModel } from '../../bot/kernel/model/run.js';
import { benchModel } from '../../scripts/bench/model.js';
import { loadScenarios } from '../../bot/kernel/model/scenario.js';
import { formatLayout } from '../../bot/kernel/model/format.js';

const all = await loadScenarios(join(fixturesDir, 'scenarios'));
const pick = (...names: string[]) => all.filter((s) => names.includes(s.name));

test('seabios-nomin: the three 32-byte BAR2s of different devices share one page (error), before the change', () => {
  const run = runModel(
    pick('seed-001-reproducer-seabios-nomin'),
    policyFor6_12(),
    policyMax4kPage(),
    { pageSizes: [4096] },
  );
  const r = run.results[0]!;
  const shared = r.before.findings.filter((f) => f.rule === 'model/shared-page');
  assert.equal(shared.length, 1);
  assert.deepEqual(shared[0]!.evidence['devices'], [
    '0000:01:00.0',
    '0000:01:01.0',
    '0000:01:02.0',
  ]);
  assert.equal(shared[0]!.severity, 'error');
});

test('kernel-assigned arm64: max(4K, PAGE_SIZE) separates the BARs: shared pages fixed at 4K, 16K and 64K, nothing introduced', () => {
  const run = runModel(pick('seed-001-reproducer-arm64'), policyFor6_12(), policyMax4kPage());
  assert.deepEqual(run.errors, []);
  assert.deepEqual(
    run.results.map((r) => r.pageSize),
    [4096, 16384, 65536],
  );
  for (const r of run.results) {
    assert.ok(
      r.fixed.some((f) => f.rule === 'model/shared-page'),
      `shared page fixed at ${r.pageSize}`,
    );
    assert.deepEqual(r.introduced, [], `nothing introduced at ${r.pageSize}`);
    assert.deepEqual(
      r.after.findings.filter((f) => f.rule === 'model/shared-page'),
      [],
    );
    assert.match(
      r.summary,
      /^seed-001-reproducer-arm64 at (4K|16K|64K): \d+ fixed, 0 introduced, 1 unchanged$/,
    );
  }
});

test('kernel-assigned x86 (qboot): the change fixes the shared page but loses the small BAR2s (introduced)', () => {
  const run = runModel(pick('seed-001-reproducer-qboot'), policyFor6_12(), policyMax4kPage(), {
    pageSizes: [4096],
  });
  const r = run.results[0]!;
  assert.ok(r.fixed.some((f) => f.rule === 'model/shared-page'));
  const lost = r.introduced
    .filter((f) => f.rule === 'model/lost-bar')
    .map((f) => `${f.evidence['device']}/${f.evidence['bar']}`);
  assert.deepEqual(lost.sort(), [
    '0000:00:03.0/0',
    '0000:01:00.0/2',
    '0000:01:01.0/2',
    '0000:01:02.0/2',
  ]);
  assert.match(
    r.summary,
    /introduced: lost 00:03\.0 BAR0; lost 01:00\.0 BAR2; lost 01:01\.0 BAR2; lost 01:02\.0 BAR2/,
  );
});

test('with the whole v3 series (STARTALIGN kept through the x86 claim pass) x86 keeps the BARs and separates them', () => {
  const run = runModel(
    pick('seed-001-reproducer-qboot'),
    policyFor6_12(),
    policyAlignSmallBarsV3(),
    { pageSizes: [4096] },
  );
  const r = run.results[0]!;
  assert.deepEqual(
    r.introduced.filter((f) => f.severity === 'error'),
    [],
  );
  assert.ok(r.fixed.some((f) => f.rule === 'model/shared-page'));
  assert.deepEqual(r.after.layout.lost, []);
  const bar2 = r.after.layout.devices
    .filter((d) => d.name === 'pci-testdev')
    .map((d) => d.bars.find((b) => b.index === 2)!.start! % 4096);
  assert.deepEqual(bar2, [0, 0, 0, 0]);
});

test('findings are matched by check, devices, BARs and page size, not by address', () => {
  const run = runModel(pick('seed-001-reproducer-qboot'), policyFor6_12(), policyFor6_12(), {
    pageSizes: [4096, 65536],
  });
  for (const r of run.results) {
    assert.deepEqual(r.fixed, []);
    assert.deepEqual(r.introduced, []);
    assert.equal(r.unchanged.length, r.before.findings.length);
  }
});

test('a scenario the model cannot evaluate is reported and the batch goes on', () => {
  const broken = {
    ...pick('e1000e-rootport')[0]!,
    name: 'broken',
    qemuArgs: ['-M', 'q35', '-device', 'nonsense'],
  };
  const run = runModel([broken, ...pick('e1000e-rootport')], policyFor6_12(), policyMax4kPage());
  assert.equal(run.errors.length, 1);
  assert.match(run.errors[0]!.message, /nonsense/);
  assert.deepEqual(
    run.results.map((r) => r.scenario),
    ['e1000e-rootport'],
  );
});

test('policies: default alignment values and description', () => {
  assert.equal(defaultAlignmentBytes(policyFor6_12(), 65536), 0);
  assert.equal(defaultAlignmentBytes(policyMax4kPage(), 4096), 4096);
  assert.equal(defaultAlignmentBytes(policyMax4kPage(), 65536), 65536);
  assert.match(
    describePolicy(policyMax4kPage()),
    /default alignment: max\(4K, PAGE_SIZE\) via IORESOURCE_STARTALIGN/,
  );
  assert.deepEqual(
    JSON.parse(JSON.stringify(policyFor6_12())),
    policyFor6_12(),
    'a policy is plain data',
  );
});

test('formatLayout prints BAR ranges with flags, windows, groups and lost BARs', () => {
  const r = runModel(pick('seed-001-reproducer-iommu'), policyFor6_12(), policyMax4kPage(), {
    pageSizes: [4096],
  }).results[0]!;
  const before = formatLayout(r.before.layout);
  assert.match(
    before,
    /01:03\.0 pci-testdev \[1b36:0005\]\n {4}BAR0 +mem 32-bit +0xfe803000-0xfe803fff +\[size=4K\]/,
  );
  assert.match(before, /window +pref 64-bit +0xd0000000-0xefffffff +\[size=512M\]/);
  assert.match(before, /IOMMU groups:\n(.*\n)* +3: 00:03\.0 01:00\.0 01:01\.0 01:02\.0 01:03\.0/);
  const after = formatLayout(r.after.layout);
  assert.match(
    after,
    /BARs without an address:\n(.*\n)* +01:00\.0 BAR2: disabling; bad alignment 0x0/,
  );
});

test('benchModel runs the whole library at three page sizes, before and after', async () => {
  const b = await benchModel(join(fixturesDir, 'scenarios'), 1);
  assert.equal(b.scenarios, all.length);
  assert.equal(b.evaluations, all.length * 3 * 2);
  assert.ok(b.scenariosPerSecond > 0);
});

test('pci=realloc: the SR-IOV BAR SeaBIOS left no room for is placed after releasing the port window; without it it is lost', () => {
  const s = pick('sriov-realloc-seabios')[0]!;
  const withRealloc = runModel([s], policyFor6_12(), policyFor6_12(), { pageSizes: [4096] })
    .results[0]!.before;
  const pf = withRealloc.layout.devices.find((d) => d.qemuId === 'pf0')!;
  assert.equal(pf.sriov!.vfBars[0]!.start, 2 ** 32);
  assert.equal(withRealloc.layout.devices.filter((d) => d.physfn === pf.bdf).length, 8);
  assert.ok(withRealloc.log.includes('No. 2 try to assign unassigned res'));
  const without = runModel([{ ...s, kernelArgs: '' }], policyFor6_12(), policyFor6_12(), {
    pageSizes: [4096],
  }).results[0]!.before;
  const pf2 = without.layout.devices.find((d) => d.qemuId === 'pf0')!;
  assert.equal(pf2.sriov!.vfBars[0]!.start, null);
  assert.ok(without.layout.lost.some((l) => l.bdf === pf2.bdf && /SR-IOV VF BAR 0/.test(l.reason)));
  assert.ok(
    without.log.includes('Some PCI device resources are unassigned, try booting with pci=realloc'),
  );
});
