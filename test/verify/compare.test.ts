// compareLayouts on real layouts (the ground-truth boots) and precise edits of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGroundTruth } from '../../bot/verify/ground-truth.js';
import { compareLayouts, formatSize, shortBdf } from '../../bot/verify/compare.js';
import type { Layout } from '../../bot/kernel/model/layout.js';

const boots = new Map(loadGroundTruth().map((b) => [b.name, b.result.layout]));
const layout = (name: string): Layout => structuredClone(boots.get(name)!);

test('a layout equals itself', () => {
  for (const [name, l] of boots) assert.deepEqual(compareLayouts(l, structuredClone(l)), [], name);
});

test('a moved BAR is reported with both addresses and sizes', () => {
  const model = layout('base-qboot');
  const bar = model.devices.find((d) => d.bdf === '0000:01:01.0')!.bars.find((b) => b.index === 2)!;
  bar.start = 0x110000000;
  const diffs = compareLayouts(model, layout('base-qboot'));
  assert.equal(diffs.length, 1);
  assert.equal(diffs[0]!.kind, 'bar');
  assert.equal(
    diffs[0]!.message,
    '01:01.0 BAR2: model 0x110000000 (32 B), measured 0x110000020 (32 B)',
  );
});

test('SeaBIOS vs qboot: every moved BAR and window is named', () => {
  const diffs = compareLayouts(layout('base-tcg'), layout('base-qboot'));
  const messages = diffs.map((d) => d.message);
  assert.ok(
    messages.includes('01:00.0 BAR0: model 0xfe800000 (4 KiB), measured 0x21000000 (4 KiB)'),
  );
  assert.ok(
    messages.includes('01:02.0 BAR2: model 0xe0002000 (32 B), measured 0x110000040 (32 B)'),
  );
  assert.ok(
    messages.includes(
      '00:03.0 pref window: model 0xd0000000-0xefffffff 64-bit, measured 0x100000000-0x117ffffff 64-bit',
    ),
  );
  assert.ok(messages.includes('00:03.0 io window: model 0xc000-0xcfff, measured 0x1000-0x1fff'));
  // Devices both have: no missing/extra devices; groups absent on both sides.
  assert.ok(
    diffs.every(
      (d) => d.kind === 'bar' || d.kind === 'window' || (d.kind === 'bar-flags' && d.index === 6),
    ),
    messages.join('\n'),
  );
  // SeaBIOS's shadowed VGA ROM copy is not prefetchable; Linux's own ROM assignment is.
  assert.ok(messages.includes('00:01.0 ROM flags: model 32-bit mem, measured 32-bit pref mem'));
  assert.equal(diffs.length, 28);
});

test('lost BARs: the patched x86 kernel against a model that keeps them', () => {
  const diffs = compareLayouts(layout('base-tcg'), layout('patched-tcg'));
  const lost = diffs.filter((d) => d.kind === 'bar' && d.index === 2 && d.bdf !== '0000:01:03.0');
  assert.deepEqual(
    lost.map((d) => d.message),
    [
      '01:00.0 BAR2: model 0xe0000000 (32 B), measured unassigned (32 B; disabling; bad alignment 0x0)',
      '01:01.0 BAR2: model 0xe0001000 (32 B), measured unassigned (32 B; disabling; bad alignment 0x0)',
      '01:02.0 BAR2: model 0xe0002000 (32 B), measured unassigned (32 B; disabling; bad alignment 0x0)',
    ],
  );
  // No second report of the same BARs as 'lost'.
  assert.equal(diffs.filter((d) => d.kind === 'lost').length, 0);
});

test('a lost BAR the boot does not list at all is still reported', () => {
  const model = layout('patched-tcg');
  const real = layout('patched-tcg');
  // The boot lists the device without BAR2 and without a lost entry: only the model loses it.
  const dev = real.devices.find((d) => d.bdf === '0000:01:00.0')!;
  dev.bars = dev.bars.filter((b) => b.index !== 2);
  real.lost = real.lost.filter((l) => !(l.bdf === '0000:01:00.0' && l.index === 2));
  const diffs = compareLayouts(model, real);
  assert.deepEqual(
    diffs.map((d) => d.kind),
    ['bar-missing'],
  );
  assert.match(
    diffs[0]!.message,
    /^01:00.0 BAR2: model unassigned \(32 B; disabling; bad alignment 0x0\), not in the boot$/,
  );
  // And a lost entry alone (same BAR listed identically on both sides) is its own kind.
  const real2 = layout('patched-tcg');
  real2.lost = real2.lost.filter((l) => l.bdf !== '0000:01:01.0');
  const d2 = compareLayouts(layout('patched-tcg'), real2);
  assert.deepEqual(
    d2.map((d) => d.message),
    ['01:01.0 BAR2: model loses it (disabling; bad alignment 0x0), the boot does not'],
  );
});

test('missing and extra devices, flags, kinds', () => {
  const model = layout('base-tcg');
  model.devices = model.devices.filter((d) => d.bdf !== '0000:00:1f.3');
  model.devices.push({
    bdf: '0000:02:00.0',
    name: 'nvme',
    kind: 'endpoint',
    bars: [],
    windows: [],
  });
  const b = model.devices.find((d) => d.bdf === '0000:01:03.0')!.bars.find((x) => x.index === 2)!;
  b.flags = { io: false, is64: false, prefetch: false };
  model.devices.find((d) => d.bdf === '0000:00:03.0')!.kind = 'pci-bridge';
  const diffs = compareLayouts(model, layout('base-tcg'));
  assert.deepEqual(diffs.map((d) => d.message).sort(), [
    '00:03.0: model pci-bridge, measured pcie-pci-bridge',
    '00:1f.3 (ich9-smbus): found in the boot, not in the model',
    '01:03.0 BAR2 flags: model 32-bit mem, measured 64-bit pref mem',
    '02:00.0 (nvme): in the model, not found in the boot',
  ]);
  const quiet = compareLayouts(model, layout('base-tcg'), {
    extraDevices: 'ignore',
    devices: (bdf) => bdf.startsWith('0000:01:'),
  });
  assert.deepEqual(
    quiet.map((d) => d.kind),
    ['bar-flags'],
  );
});

test('a BAR lost on both sides: its space is compared, not the width and prefetch bits the kernel left', () => {
  const model = layout('base-tcg');
  const real = layout('base-tcg');
  const barOf = (l: Layout) =>
    l.devices.find((d) => d.bdf === '0000:01:03.0')!.bars.find((x) => x.index === 2)!;
  barOf(model).start = null;
  barOf(real).start = null;
  barOf(real).flags = { ...barOf(model).flags, prefetch: !barOf(model).flags.prefetch };
  assert.deepEqual(compareLayouts(model, real), []);
  // A different space is still a difference, lost or not.
  barOf(real).flags = { io: true, is64: false, prefetch: false };
  assert.deepEqual(
    compareLayouts(model, real).map((d) => d.kind),
    ['bar-flags'],
  );
  // And a placed BAR's bits are compared as before.
  barOf(model).start = barOf(real).start = 0xfe000000;
  barOf(real).flags = { ...barOf(model).flags, prefetch: !barOf(model).flags.prefetch };
  assert.deepEqual(
    compareLayouts(model, real).map((d) => d.kind),
    ['bar-flags'],
  );
});

test('IOMMU groups compared as partitions, numbers ignored', () => {
  const real = layout('base-iommu');
  const model = layout('base-iommu');
  model.groups = model.groups!.map((g) => ({ ...g, id: g.id + 10 })).reverse();
  assert.deepEqual(compareLayouts(model, real), []);
  // The model splits the bridge's group: one difference naming both sides.
  model.groups = [
    ...model.groups.filter((g) => !g.bdfs.includes('0000:01:00.0')),
    { id: 20, bdfs: ['0000:00:03.0', '0000:01:00.0'] },
    { id: 21, bdfs: ['0000:01:01.0', '0000:01:02.0', '0000:01:03.0'] },
  ];
  const diffs = compareLayouts(model, real);
  assert.equal(diffs.length, 1);
  assert.equal(
    diffs[0]!.message,
    'IOMMU group {00:03.0, 01:00.0, 01:01.0, 01:02.0, 01:03.0} measured; the model has {00:03.0, 01:00.0} {01:01.0, 01:02.0, 01:03.0}',
  );
  const none = compareLayouts(layout('base-tcg'), real, { devices: () => true });
  assert.ok(
    none.some(
      (d) => d.kind === 'groups' && d.message === 'IOMMU groups: none in the model, 5 measured',
    ),
  );
});

test('formatting helpers', () => {
  assert.equal(formatSize(32), '32 B');
  assert.equal(formatSize(4096), '4 KiB');
  assert.equal(formatSize(268435456), '256 MiB');
  assert.equal(formatSize(0x18000000), '384 MiB');
  assert.equal(formatSize(1536 * 2 ** 20), '1.5 GiB');
  assert.equal(shortBdf('0000:01:00.0'), '01:00.0');
  assert.equal(shortBdf('0001:01:00.0'), '0001:01:00.0');
});
