// parseBootLog against the real boots in fixtures/layouts/ground-truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadGroundTruth } from '../../bot/verify/ground-truth.js';
import { parseBootLog, parsePrintedResource, parseHexExact } from '../../bot/verify/bootlog.js';
import type { Layout, LayoutBar, LayoutDevice } from '../../bot/kernel/model/layout.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../../bot/util/paths.js';

const boots = new Map(loadGroundTruth().map((b) => [b.name, b]));

function boot(name: string) {
  const b = boots.get(name);
  assert.ok(b, `ground-truth boot ${name} exists`);
  return b.result;
}

function dev(layout: Layout, bdf: string): LayoutDevice {
  const d = layout.devices.find((x) => x.bdf === bdf);
  assert.ok(d, `device ${bdf} present`);
  return d;
}

function bar(layout: Layout, bdf: string, index: number): LayoutBar {
  const b = dev(layout, bdf).bars.find((x) => x.index === index);
  assert.ok(b, `${bdf} BAR ${index} present`);
  return b;
}

test('every ground-truth log parses completely, without problems', () => {
  assert.equal(boots.size, 8);
  for (const [name, b] of boots) {
    const r = b.result;
    assert.deepEqual(r.problems, [], name);
    assert.equal(r.complete, true, name);
    assert.equal(r.poweredOff, true, name);
    assert.equal(r.panic, null, name);
    assert.equal(r.kernelVersion, '6.12.117+', name);
    assert.ok(r.uptime !== null && r.uptime > 0.3 && r.uptime < 2, name);
    assert.ok(r.iomem.length > 30, name);
    // Every @@PCIDEV became a Layout device; every @@RES of a device became a BAR or window.
    const pcidev = b.log.split('\n').filter((l) => l.startsWith('@@PCIDEV ')).length;
    assert.equal(r.layout.devices.length, pcidev, name);
    const res = b.log.split('\n').filter((l) => l.startsWith('@@RES ')).length;
    // BARs the kernel disabled are absent from sysfs and come back from the kernel messages.
    const disabled = r.layout.lost.filter((l) => l.reason.startsWith('disabling')).length;
    const read = r.layout.devices.reduce((n, d) => n + d.bars.length + d.windows.length, 0);
    assert.equal(read - disabled, res, name);
  }
});

test('base-tcg (SeaBIOS): the seed reproducer layout', () => {
  const r = boot('base-tcg');
  const L = r.layout;
  assert.equal(r.cmdline, 'console=ttyS0 panic=-1 ');
  assert.equal(r.uptime, 0.78);
  assert.deepEqual(bar(L, '0000:01:00.0', 0), {
    index: 0,
    start: 0xfe800000,
    size: 0x1000,
    flags: { io: false, is64: false, prefetch: false },
  });
  assert.deepEqual(
    ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'].map((b) => bar(L, b, 0).start),
    [0xfe800000, 0xfe801000, 0xfe802000, 0xfe803000],
  );
  assert.deepEqual(
    ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'].map((b) => bar(L, b, 1)),
    [0xc000, 0xc100, 0xc200, 0xc300].map((start) => ({
      index: 1,
      start,
      size: 0x100,
      flags: { io: true, is64: false, prefetch: false },
    })),
  );
  assert.deepEqual(bar(L, '0000:01:02.0', 2), {
    index: 2,
    start: 0xe0002000,
    size: 32,
    flags: { io: false, is64: true, prefetch: true },
  });
  assert.equal(bar(L, '0000:01:03.0', 2).start, 0xd0000000);
  assert.equal(bar(L, '0000:01:03.0', 2).size, 0x10000000);
  const bridge = dev(L, '0000:00:03.0');
  assert.equal(bridge.kind, 'pcie-pci-bridge');
  assert.equal(bridge.name, 'pcie-pci-bridge');
  assert.deepEqual(bridge.bars, [
    { index: 0, start: 0xfea95000, size: 256, flags: { io: false, is64: true, prefetch: false } },
  ]);
  assert.deepEqual(bridge.windows, [
    { kind: 'io', start: 0xc000, end: 0xcfff, is64: false },
    { kind: 'mem', start: 0xfe800000, end: 0xfe9fffff, is64: false },
    { kind: 'pref', start: 0xd0000000, end: 0xefffffff, is64: true },
  ]);
  assert.equal(dev(L, '0000:00:00.0').kind, 'host-bridge');
  assert.equal(dev(L, '0000:01:00.0').kind, 'endpoint');
  assert.equal(dev(L, '0000:01:00.0').name, 'pci-testdev');
  assert.equal(dev(L, '0000:01:00.0').vendor, 0x1b36);
  // The shadowed VGA ROM is reported as the ROM "BAR".
  assert.equal(bar(L, '0000:00:01.0', 6).start, 0xc0000);
  assert.equal(L.groups, null);
  assert.deepEqual(L.lost, []);
  assert.deepEqual(r.messages.lost, []);
  const e1000e = r.devices.find((d) => d.bdf === '0000:00:02.0');
  assert.equal(e1000e?.kernelType, 'PCIe Root Complex Integrated Endpoint');
  assert.equal(e1000e?.classCode, 0x020000);
  assert.deepEqual(r.vfio, ['vfio']);
  const iomemTestdev = r.iomem.find((e) => e.name === '0000:01:01.0' && e.start === 0xe0001000);
  assert.deepEqual(iomemTestdev, {
    start: 0xe0001000,
    end: 0xe000101f,
    name: '0000:01:01.0',
    depth: 2,
  });
});

test('base-qboot: three 32-byte BAR2s in one 4 KiB page', () => {
  const L = boot('base-qboot').layout;
  assert.deepEqual(
    ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'].map((b) => bar(L, b, 0).start),
    [0x21000000, 0x21001000, 0x21002000, 0x21003000],
  );
  assert.deepEqual(
    ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'].map((b) => bar(L, b, 2).start),
    [0x110000000, 0x110000020, 0x110000040, 0x100000000],
  );
  assert.deepEqual(dev(L, '0000:00:03.0').windows[2], {
    kind: 'pref',
    start: 0x100000000,
    end: 0x117ffffff,
    is64: true,
  });
  assert.deepEqual(L.lost, []);
});

test('patched-tcg: the small BAR2s are lost, with the kernel reason', () => {
  const r = boot('patched-tcg');
  const L = r.layout;
  for (const bdf of ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0']) {
    assert.deepEqual(bar(L, bdf, 2), {
      index: 2,
      start: null,
      size: 32,
      flags: { io: false, is64: true, prefetch: true },
    });
    assert.ok(
      L.lost.some(
        (l) => l.bdf === bdf && l.index === 2 && l.reason === 'disabling; bad alignment 0x0',
      ),
      bdf,
    );
  }
  assert.deepEqual(
    r.messages.lost.filter((l) => l.reason.startsWith('disabling')).map((l) => l.bdf),
    ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'],
  );
  // The 256 MiB BAR2 survives, re-placed above 4 GiB; BAR0s moved into the 32-bit window.
  assert.equal(bar(L, '0000:01:03.0', 2).start, 0x100000000);
  assert.equal(bar(L, '0000:01:00.0', 0).start, 0x20000000);
  // The bridge's own BAR0 ends up unassigned too ("has bogus alignment").
  assert.deepEqual(bar(L, '0000:00:03.0', 0), {
    index: 0,
    start: null,
    size: 256,
    flags: { io: false, is64: true, prefetch: false },
  });
  assert.deepEqual(
    L.lost.find((l) => l.bdf === '0000:00:03.0'),
    {
      bdf: '0000:00:03.0',
      index: 0,
      reason: 'has bogus alignment',
    },
  );
  assert.equal(L.lost.length, 4);
  assert.ok(
    r.messages.warnings.some((w) => w.includes("can't claim; no compatible bridge window")),
  );
});

test('patched-qboot loses the same BARs', () => {
  const L = boot('patched-qboot').layout;
  assert.deepEqual(
    L.lost.map((l) => `${l.bdf}/${l.index}`),
    ['0000:00:03.0/0', '0000:01:00.0/2', '0000:01:01.0/2', '0000:01:02.0/2'],
  );
  assert.equal(bar(L, '0000:01:03.0', 2).start, 0x100000000);
});

test('base-iommu: IOMMU groups and the vfio-pci binding', () => {
  const r = boot('base-iommu');
  assert.equal(r.cmdline, 'console=ttyS0 panic=-1 intel_iommu=on kexp_vfio');
  assert.deepEqual(r.layout.groups, [
    { id: 0, bdfs: ['0000:00:00.0'] },
    { id: 1, bdfs: ['0000:00:01.0'] },
    { id: 2, bdfs: ['0000:00:02.0'] },
    {
      id: 3,
      bdfs: ['0000:00:03.0', '0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'],
    },
    { id: 4, bdfs: ['0000:00:1f.0', '0000:00:1f.2', '0000:00:1f.3'] },
  ]);
  const testdevs = r.devices.filter((d) => d.vendor === 0x1b36 && d.device === 0x0005);
  assert.equal(testdevs.length, 4);
  assert.ok(testdevs.every((d) => d.driver === 'vfio-pci' && d.iommuGroup === 3));
  assert.deepEqual(r.vfio, ['3', 'vfio']);
  assert.ok(r.iomem.some((e) => e.name === 'dmar0' && e.start === 0xfed90000));
});

test('arm64 64K: base packs, patched separates', () => {
  const base = boot('arm64-base').layout;
  const patched = boot('arm64-patched').layout;
  const bdfs = ['0000:01:01.0', '0000:01:02.0', '0000:01:03.0', '0000:01:04.0'];
  assert.deepEqual(
    bdfs.map((b) => bar(base, b, 0).start),
    [0x10000000, 0x10001000, 0x10002000, 0x10003000],
  );
  assert.deepEqual(
    bdfs.map((b) => bar(base, b, 2).start),
    [0x8010000000, 0x8010000020, 0x8010000040, 0x8000000000],
  );
  assert.deepEqual(
    bdfs.map((b) => bar(patched, b, 0).start),
    [0x10000000, 0x10010000, 0x10020000, 0x10030000],
  );
  assert.deepEqual(
    bdfs.map((b) => bar(patched, b, 2).start),
    [0x8010000000, 0x8010010000, 0x8010020000, 0x8000000000],
  );
  assert.deepEqual(patched.lost, []);
  assert.equal(dev(base, '0000:00:00.0').name, 'gpex-pcihost');
  assert.equal(dev(base, '0000:00:02.0').kind, 'pcie-pci-bridge');
  assert.deepEqual(dev(base, '0000:00:02.0').windows[2], {
    kind: 'pref',
    start: 0x8000000000,
    end: 0x8017ffffff,
    is64: true,
  });
});

test('arm64-base-smmu: groups with only the devices vfio could bind', () => {
  const r = boot('arm64-base-smmu');
  assert.deepEqual(r.layout.groups, [{ id: 0, bdfs: ['0000:00:02.0', '0000:01:01.0'] }]);
  assert.equal(r.devices.find((d) => d.bdf === '0000:01:01.0')?.driver, 'vfio-pci');
  assert.equal(r.devices.find((d) => d.bdf === '0000:01:02.0')?.driver, null);
});

test('kernel messages interleaved with markers do not disturb parsing', () => {
  const log = boots.get('base-tcg')!.log;
  // The mouse probe line really sits between two @@PCIDEV blocks in this log.
  assert.match(log, /\n\[ +[0-9.]+\] input: ImExPS\/2[^\n]*\n@@PCIDEV 0000:01:03.0/);
  assert.equal(bar(boot('base-tcg').layout, '0000:01:03.0', 0).start, 0xfe803000);
});

test('truncated and damaged logs are reported, not guessed', () => {
  const full = boots.get('base-tcg')!.log;
  const cut = full.slice(0, full.indexOf('@@PCIDEV 0000:01:02.0'));
  const r = parseBootLog(cut);
  assert.equal(r.complete, false);
  assert.ok(r.problems.some((p) => p.includes('@@KEXP-END')));
  assert.equal(r.layout.devices.length, 9);
  assert.equal(r.poweredOff, false);

  const damaged = full.replace(
    '@@RES 0000:01:01.0 0 0x00000000fe801000',
    '@@RES 0000:01:01.0 0 0x00000000fe80[    1.0] x',
  );
  const d = parseBootLog(damaged);
  assert.ok(
    d.problems.some((p) => /line \d+: .*@@RES 0000:01:01.0/.test(p)),
    d.problems.join('\n'),
  );
  assert.equal(
    dev(d.layout, '0000:01:01.0').bars.find((b) => b.index === 0),
    undefined,
  );

  const none = parseBootLog('SeaBIOS\nno kernel here\n');
  assert.equal(none.complete, false);
  assert.equal(none.kernelVersion, null);
  assert.deepEqual(none.layout.devices, []);
  assert.ok(none.problems.some((p) => p.includes('@@KEXP-BEGIN')));

  const panicked = parseBootLog(
    '[    0.5] Kernel panic - not syncing: VFS: Unable to mount root fs\n',
  );
  assert.equal(panicked.panic, 'VFS: Unable to mount root fs');
});

test('%pR resource text and exact hex parsing', () => {
  assert.deepEqual(parsePrintedResource('[mem size 0x00000020 64bit pref]'), {
    type: 'mem',
    start: null,
    size: 32,
    is64: true,
    prefetch: true,
    window: false,
    disabled: false,
  });
  assert.deepEqual(parsePrintedResource('[io  0xc000-0xc0ff]'), {
    type: 'io',
    start: 0xc000,
    size: 0x100,
    is64: false,
    prefetch: false,
    window: false,
    disabled: false,
  });
  assert.equal(parsePrintedResource('[mem 0x8000000000-0xffffffffff window]')?.window, true);
  assert.equal(parsePrintedResource('not a resource'), null);
  assert.equal(parseHexExact('0x0000008018004000', 'x'), 0x8018004000);
  assert.throws(() => parseHexExact('0xffffffffffffffff', 'start'), /above 2\^53/);
  assert.throws(() => parseHexExact('0xzz', 'start'), /not a hex number/);
});

test('vfio-probe output: what vfio-pci offers, and its sub-page reservations', () => {
  const dir = join(fixturesDir, 'layouts', 'boot-logs');
  const seabios = parseBootLog(
    readFileSync(join(dir, 'seed-001-reproducer-iommu.x86_64.log'), 'utf8'),
  );
  assert.deepEqual(seabios.problems, []);
  assert.deepEqual(seabios.vfioErrors, []);
  // SeaBIOS gave each 32-byte BAR2 its own 4 KiB page: vfio-pci maps them and reserves the rest.
  const bar2 = seabios.vfioRegions.filter((r) => r.index === 2);
  assert.deepEqual(
    bar2.map((r) => [r.bdf, r.size, r.mmap]),
    [
      ['0000:01:00.0', 32, true],
      ['0000:01:01.0', 32, true],
      ['0000:01:02.0', 32, true],
      ['0000:01:03.0', 0x10000000, true],
    ],
  );
  assert.ok(
    seabios.vfioRegions.filter((r) => r.index === 1).every((r) => r.flags === 3 && !r.mmap),
  );
  assert.deepEqual(
    (seabios.vfioIomem ?? [])
      .filter((e) => e.name === 'vfio sub-page reserved')
      .map((e) => [e.start, e.end]),
    [
      [0xe0000020, 0xe0000fff],
      [0xe0001020, 0xe0001fff],
      [0xe0002020, 0xe0002fff],
    ],
  );
  // qboot: Linux packed the three BAR2s into one page; vfio-pci will not mmap them.
  const qboot = parseBootLog(
    readFileSync(join(dir, 'seed-001-reproducer-qboot-noiommu.x86_64.log'), 'utf8'),
  );
  assert.deepEqual(qboot.problems, []);
  assert.deepEqual(
    qboot.vfioRegions.filter((r) => r.index === 2).map((r) => r.mmap),
    [false, false, false, true],
  );
  assert.equal(
    (qboot.vfioIomem ?? []).filter((e) => e.name === 'vfio sub-page reserved').length,
    0,
  );
  assert.deepEqual(qboot.vfio, ['noiommu-0', 'noiommu-1', 'noiommu-2', 'noiommu-3', 'vfio']);
  // The ordinary markers are unchanged by the extra section.
  assert.equal(
    qboot.layout.devices.find((d) => d.bdf === '0000:01:01.0')?.bars[2]?.start,
    0x110000020,
  );
});
