// A driver is all of its files (rules/lib/kbuild.ts): a file's module is the
// Kbuild composite that lists it, read from the shapes the real tree uses
// (the fixture tree's drivers/pci/pcie and drivers/vfio/pci Makefiles are
// written in the 6.12 shapes), and driver-managed-dma judges the driver
// across them in both directions.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gitRepo } from '../../bot/tree/git.js';
import { openTreeReader, type TreeReader } from '../../bot/tree/reader.js';
import type { Finding } from '../../bot/types.js';
import { repoRoot } from '../../bot/util/paths.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import driverManagedDma from '../../rules/driver-managed-dma/rule.js';
import { kbuildComposites, moduleFiles } from '../../rules/lib/kbuild.js';
import { runReview } from '../../workers/pipeline.js';

let work = '';
let tree = '';
let reader: TreeReader;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pcibot-kbuild-'));
  const built = await buildFixtureTree(join(work, 'tree'));
  tree = built.path;
  reader = openTreeReader(tree, built.commit);
});
after(async () => {
  gitRepo(tree).close();
  await rm(work, { recursive: true, force: true });
});

/** The fixture tree with some files' text replaced (a Kbuild file edited, or added). */
const edited = (files: Record<string, string>): TreeReader => ({
  ...reader,
  read: async (p) => files[p] ?? reader.read(p),
  exists: async (p) => p in files || reader.exists(p),
});

describe('kbuildComposites', () => {
  test('-y, -objs, -$(CONFIG_...), continuation lines and comments; obj-, flags and directories are not modules', () => {
    const m = kbuildComposites(
      [
        '# SPDX-License-Identifier: GPL-2.0',
        'ccflags-y := -I$(src)',
        'foo-y\t\t:= foo_main.o foo_hw.o # the core',
        'foo-$(CONFIG_FOO_DEBUG) += foo_debug.o',
        'foo-$(CONFIG_FOO_MORE:m=y) += foo_more.o',
        'bar-objs := bar_a.o \\',
        '\t\tbar_b.o \\',
        '\t\tsub/bar_c.o',
        'obj-$(CONFIG_FOO) += foo.o bar.o standalone.o',
        'obj-y += subdir/',
        'subdir-ccflags-y += -DDEBUG',
        'baz-y := ../escape.o /abs.o baz.o',
      ].join('\n'),
    );
    assert.deepEqual(Object.fromEntries(m), {
      foo: ['foo_main.o', 'foo_hw.o', 'foo_debug.o', 'foo_more.o'],
      bar: ['bar_a.o', 'bar_b.o', 'sub/bar_c.o'],
      baz: ['baz.o'],
    });
  });
});

describe('moduleFiles on the fixture tree', () => {
  test('drivers/pci/pcie: pcieportdrv is portdrv.c and rcec.c; the port services are objects of their own', async () => {
    assert.deepEqual(await moduleFiles(reader, 'drivers/pci/pcie/rcec.c'), {
      modules: ['pcieportdrv'],
      files: ['drivers/pci/pcie/rcec.c', 'drivers/pci/pcie/portdrv.c'],
    });
    assert.deepEqual(await moduleFiles(reader, 'drivers/pci/pcie/aer.c'), {
      modules: [],
      files: ['drivers/pci/pcie/aer.c'],
    });
  });

  test('drivers/vfio/pci: vfio-pci-core, its configured part only when it is in the tree', async () => {
    assert.deepEqual(await moduleFiles(reader, 'drivers/vfio/pci/vfio_pci_rdwr.c'), {
      modules: ['vfio-pci-core'],
      files: ['drivers/vfio/pci/vfio_pci_rdwr.c', 'drivers/vfio/pci/vfio_pci_core.c'],
    });
    const withZdev = edited({ 'drivers/vfio/pci/vfio_pci_zdev.c': '// zdev\n' });
    assert.deepEqual((await moduleFiles(withZdev, 'drivers/vfio/pci/vfio_pci_core.c')).files, [
      'drivers/vfio/pci/vfio_pci_core.c',
      'drivers/vfio/pci/vfio_pci_rdwr.c',
      'drivers/vfio/pci/vfio_pci_zdev.c',
    ]);
  });

  test('two modules and a standalone object in one directory stay apart', async () => {
    assert.deepEqual((await moduleFiles(reader, 'drivers/pci/hold/hw.c')).files, [
      'drivers/pci/hold/hw.c',
      'drivers/pci/hold/main.c',
      'drivers/pci/hold/debug.c',
    ]);
    assert.deepEqual(await moduleFiles(reader, 'drivers/pci/hold/park_main.c'), {
      modules: ['pci-park'],
      files: ['drivers/pci/hold/park_main.c', 'drivers/pci/hold/park_hw.c'],
    });
    assert.deepEqual((await moduleFiles(reader, 'drivers/pci/hold/hold_util.c')).modules, []);
    assert.deepEqual((await moduleFiles(reader, 'drivers/pci/hold/hold.h')).files, [
      'drivers/pci/hold/hold.h',
    ]);
    assert.deepEqual((await moduleFiles(reader, 'drivers/pci/pci.c')).files, ['drivers/pci/pci.c']);
  });

  test('an edited Makefile is read as edited, and a Kbuild file wins over the Makefile', async () => {
    const moved = edited({
      'drivers/pci/hold/Makefile': 'pci-hold-y := main.o\nobj-m += pci-hold.o hw.o\n',
    });
    assert.deepEqual(await moduleFiles(moved, 'drivers/pci/hold/hw.c'), {
      modules: [],
      files: ['drivers/pci/hold/hw.c'],
    });
    const kbuild = edited({ 'drivers/pci/hold/Kbuild': 'pci-hold-objs := hw.o hold_util.o\n' });
    assert.deepEqual((await moduleFiles(kbuild, 'drivers/pci/hold/hw.c')).files, [
      'drivers/pci/hold/hw.c',
      'drivers/pci/hold/hold_util.c',
    ]);
  });
});

describe('driver-managed-dma across a module', () => {
  async function hits(file: string): Promise<Finding[]> {
    const report = await runReview({
      inputs: [join(repoRoot, 'rules', 'driver-managed-dma', file)],
      tree,
      rules: [driverManagedDma],
      model: false,
    });
    assert.deepEqual(
      report.series[0]!.patches.map((p) => p.apply?.status),
      ['applied'],
    );
    return report.series[0]!.patches.flatMap((p) => p.findings).filter(
      (f) => f.rule === 'driver-managed-dma',
    );
  }

  test('a reset added in hw.c of a driver that declares in main.c', async () => {
    const [h, ...rest] = await hits('fires-other-file.eml');
    assert.deepEqual(rest, []);
    assert.equal(h!.file, 'drivers/pci/hold/hw.c');
    assert.equal(h!.title, 'A driver_managed_dma driver resets the device');
    assert.equal(h!.evidence['declaredIn'], 'drivers/pci/hold/main.c');
    assert.equal(h!.evidence['module'], 'pci-hold');
    assert.match(
      h!.detail,
      /part of module pci-hold \(hw\.c, main\.c, debug\.c\), and drivers\/pci\/hold\/main\.c declares/,
    );
  });

  test('the declaration added in park_main.c of a driver whose park_hw.c maps its BAR', async () => {
    const [h, ...rest] = await hits('fires-declaration-other-file.eml');
    assert.deepEqual(rest, []);
    assert.equal(h!.file, 'drivers/pci/hold/park_main.c');
    assert.deepEqual(h!.evidence['offending'], [
      'drivers/pci/hold/park_hw.c:18: regs = pcim_iomap(pdev, 0, 0); (maps BAR MMIO)',
    ]);
    assert.match(
      h!.detail,
      /maps BAR MMIO \(drivers\/pci\/hold\/park_hw\.c:18, in module pci-park/,
    );
  });

  test('quiet for an object of its own, and for another module, in the declaring directory', async () => {
    assert.deepEqual(await hits('quiet-standalone-object.eml'), []);
    assert.deepEqual(await hits('quiet-other-module.eml'), []);
  });
});
