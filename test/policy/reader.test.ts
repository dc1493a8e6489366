// The policy reader on the real 6.12 tree, on the fixture tree, on the
// patched state of the bundled example, and on code shapes written into a
// scratch copy of the fixture tree (overlays): what it reads, what it says it
// cannot read.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readPolicy, readPolicyChange, type PolicyChange } from '../../bot/kernel/policy/read.js';
import type { Arch } from '../../bot/kernel/vocabulary.js';
import { gitRepo } from '../../bot/tree/git.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import type { TreeOverlay } from '../../bot/types.js';
import { cacheDir } from '../../bot/util/cache.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { policyAlignSmallBarsV3, policyFor6_12 } from '../../bot/kernel/model/policy.js';
import { applyTo, overlayOf, replaceOnce, seriesFrom, tempDir } from './helpers.js';

const tmp = tempDir('pcibot-policy-reader-');
let fixture = '';
let fixtureCommit = '';
let real = '';
let realCommit = '';

before(async () => {
  ({ path: fixture, commit: fixtureCommit } = await buildFixtureTree(join(tmp.path, 'tree')));
  ({ path: real, commit: realCommit } = await prepareKernelTree());
});
after(() => {
  gitRepo(fixture).close();
  tmp.cleanup();
});

describe('the real 6.12 tree', () => {
  for (const arch of ['x86_64', 'arm64'] as Arch[]) {
    test(`${arch}: exactly policyFor6_12(), nothing assumed`, async () => {
      const r = await readPolicy(openTreeReader(real, realCommit), arch);
      assert.deepEqual(r.policy, policyFor6_12());
      assert.deepEqual(r.notes, []);
      assert.equal(r.facts.version, '6.12');
      assert.match(
        r.sources['defaultAlignment']!,
        /drivers\/pci\/pci\.c: pcibios_default_alignment\(\) \(__weak\)/,
      );
      assert.equal(r.facts.defaultAlignmentExpr, '0');
      for (const [key, shape] of Object.entries(r.functions))
        if (!key.startsWith('arch/')) assert.ok(shape.found, `${key} found in 6.12`);
    });
  }

  test('ppc64: pseries policy, with the PowerNV override as a note', async () => {
    const r = await readPolicy(openTreeReader(real, realCommit), 'ppc64');
    assert.deepEqual(r.policy, policyFor6_12());
    assert.match(r.sources['defaultAlignment']!, /^arch\/powerpc\/kernel\/pci-common\.c/);
    const pnv = r.notes.find((n) => n.function === 'pnv_pci_default_alignment');
    assert.ok(pnv, JSON.stringify(r.notes));
    assert.match(
      pnv.message,
      /PowerNV .*pnv_pci_default_alignment\(\).*returns PAGE_SIZE \(64 KiB on Book3S\)/,
    );
    assert.equal(pnv.file, 'arch/powerpc/platforms/powernv/pci-ioda.c');
    assert.deepEqual(
      r.facts.platformAlignment.map((p) => [p.platform, p.alignment]),
      [['powernv', 'page']],
    );
    assert.equal(r.facts.pageSize.default, 65536);
    assert.ok(r.facts.reassignAll.some((x) => x.function === 'pnv_pci_init_ioda_phb'));
  });

  test('s390x: vfio-pci cannot mmap at all in 6.12 (CONFIG_VFIO_PCI_MMAP=n)', async () => {
    const r = await readPolicy(openTreeReader(real, realCommit), 's390x');
    assert.deepEqual(r.policy, { ...policyFor6_12(), quirks: ['vfio-pci-mmap-disabled'] });
    assert.equal(r.facts.vfioMmapKconfig, false);
    assert.match(r.notes[0]!.message, /CONFIG_VFIO_PCI_MMAP is off on s390x/);
  });

  test('facts: DMA ownership, ACS quirks, page sizes, parameters, isolation', async () => {
    const r = await readPolicy(openTreeReader(real, realCommit), 'arm64');
    const f = r.facts;
    for (const d of [
      'pcieport (drivers/pci/pcie/portdrv.c)',
      'pci-stub (drivers/pci/pci-stub.c)',
      'vfio-pci (drivers/vfio/pci/vfio_pci.c)',
    ])
      assert.ok(f.driverManagedDma.includes(d), `${d} in ${JSON.stringify(f.driverManagedDma)}`);
    assert.ok(
      f.driverManagedDma.some((d) => d.includes('drivers/vfio/pci/mlx5/main.c')),
      'variant drivers',
    );
    assert.ok(f.acsQuirks.includes('PCI_VENDOR_ID_INTEL:0x1521 pci_quirk_mf_endpoint_acs'));
    assert.ok(f.acsQuirks.length > 100);
    assert.deepEqual(f.pageSize, {
      default: 4096,
      choices: [4096, 16384, 65536],
      source: 'arch/arm64/Kconfig',
    });
    assert.equal(f.probeOnly, 'parameter-only');
    assert.equal(f.preserveConfig, 'claims-first');
    assert.deepEqual(f.msiIsolation, {
      required: true,
      override: 'allow_unsafe_interrupts',
      overrideDefault: false,
    });
    assert.ok(
      f.resourceAlignmentSyntax.includes('pci:<vendor>:<device>[:<subvendor>:<subdevice>]'),
    );
    assert.ok(!f.resourceAlignmentSyntax.includes('all'));
    const ra = f.pciOptions.find((o) => o.name === 'resource_alignment')!;
    assert.deepEqual(ra.targets, ['resource_alignment_param']);
    assert.ok(ra.usedIn.includes('pci_specified_resource_alignment'));
    assert.deepEqual(f.reassignAll, []);
    assert.deepEqual(f.alignmentKconfig, []);
  });

  test('the bundled example, applied: max(4K, PAGE_SIZE), claim drop fixed, and what it cannot read', async () => {
    const mbox = await exampleMbox({
      name: 'align-small-bars',
      tree: real,
      commit: realCommit,
      cacheDir: cacheDir(),
    });
    const applied = await applyTo(real, await seriesFrom(mbox));
    assert.deepEqual(
      applied.patches.map((p) => p.status),
      Array(8).fill('applied'),
    );
    const base = openTreeReader(real, applied.base.commit);
    const patched = openTreeReader(real, applied.base.commit, applied.overlay);
    for (const arch of ['x86_64', 'arm64'] as Arch[]) {
      const c = await readPolicyChange(base, patched, arch, {
        changedPaths: Object.keys(applied.overlay),
      });
      const x86 = arch === 'x86_64';
      assert.deepEqual(c.before.policy, policyFor6_12());
      // Patch 2's early return for a BAR already on the boundary (IS_ALIGNED(), the
      // start assigned and not unset) is read by meaning; patch 3 spares STARTALIGN
      // on x86 (the claim pass is x86's: other architectures keep the 6.12 value).
      const v3 = policyAlignSmallBarsV3();
      assert.deepEqual(c.after.policy, {
        ...v3,
        name: '6.12+patched',
        resourceAlignment: { ...v3.resourceAlignment, onlyWhenNeeded: false },
        x86ClaimDropsStartAlign: !x86,
        restoreAlignmentOnRelease: false,
      });
      assert.deepEqual(c.changedFields, [
        'defaultAlignment',
        'resourceAlignment.keepAligned',
        ...(x86 ? ['x86ClaimDropsStartAlign'] : []),
      ]);
      assert.equal(c.after.facts.defaultAlignmentExpr, 'max_t(resource_size_t,SZ_4K,PAGE_SIZE)');
      // Patch 1 gates only endpoints, on a helper of its own: a shape the model has no
      // field for (bridges still lose their windows), so what the function carries stays.
      assert.deepEqual(
        c.notes.map((n) => n.message),
        [
          'policy changed in pci_reassigndev_resource_alignment() (drivers/pci/pci.c), not understood by the model; the model keeps the base value of resourceAlignment.defaultMethod, resourceAlignment.onlyWhenNeeded',
        ],
      );
      // Patch 6's option: parsed, but nothing reads what it sets.
      const opt = c.after.facts.pciOptions.find((o) => o.name === 'small_bar_align');
      assert.deepEqual(opt, {
        name: 'small_bar_align',
        targets: ['pci_small_bar_align_order'],
        usedIn: [],
      });
    }
  });
});

describe('the fixture tree', () => {
  test('gives policyFor6_12(), and says what it had to assume', async () => {
    const r = await readPolicy(openTreeReader(fixture, fixtureCommit), 'x86_64');
    assert.deepEqual(r.policy, policyFor6_12());
    assert.deepEqual(
      r.notes.map((n) => n.fields),
      [['acsGrouping'], ['smmuRejectsSharedStreamIds']],
    );
    assert.match(r.notes[0]!.message, /drivers\/iommu\/iommu\.c is not in the tree/);
    assert.deepEqual(r.facts.driverManagedDma, ['pcieport (drivers/pci/pcie/portdrv.c)']);
    assert.equal(r.facts.files['drivers/iommu/iommu.c'], false);
  });
});

// ---------------------------------------------------------------------------
// Code shapes, written into the fixture tree

const WEAK = 'resource_size_t __weak pcibios_default_alignment(void)\n{\n\treturn 0;\n}';
const weakDefault = (body: string) => (pci: string | null) =>
  replaceOnce(pci!, WEAK, `resource_size_t __weak pcibios_default_alignment(void)\n{\n${body}\n}`);

async function change(
  changes: Record<string, string | ((old: string | null) => string)>,
  arch: Arch = 'x86_64',
  base: Record<string, string | ((old: string | null) => string)> = {},
): Promise<PolicyChange> {
  const baseOverlay: TreeOverlay = overlayOf(fixture, fixtureCommit, base);
  const all = { ...base };
  for (const [p, c] of Object.entries(changes)) {
    const prev = all[p];
    all[p] =
      prev === undefined
        ? c
        : (old: string | null) => {
            const mid = typeof prev === 'string' ? prev : prev(old);
            return typeof c === 'string' ? c : c(mid);
          };
  }
  const overlay = overlayOf(fixture, fixtureCommit, all);
  return readPolicyChange(
    openTreeReader(fixture, fixtureCommit, baseOverlay),
    openTreeReader(fixture, fixtureCommit, overlay),
    arch,
    { changedPaths: Object.keys(overlay) },
  );
}

describe('default alignment shapes', () => {
  const cases: [string, string, unknown][] = [
    ['return PAGE_SIZE;', '\treturn PAGE_SIZE;', 'page'],
    ['max(SZ_4K, PAGE_SIZE)', '\treturn max(SZ_4K, PAGE_SIZE);', 'max-4k-page'],
    [
      'max_t(..., SZ_4K, PAGE_SIZE) (newer patches)',
      '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
      'max-4k-page',
    ],
    ['max(PAGE_SIZE, 4096UL)', '\treturn max(PAGE_SIZE, 4096UL);', 'max-4k-page'],
    ['1UL << PAGE_SHIFT', '\treturn 1UL << PAGE_SHIFT;', 'page'],
    ['SZ_64K', '\treturn SZ_64K;', { bytes: 65536 }],
  ];
  for (const [name, body, want] of cases) {
    test(name, async () => {
      const c = await change({ 'drivers/pci/pci.c': weakDefault(body) });
      assert.deepEqual(c.after.policy.defaultAlignment, want);
      assert.deepEqual(c.changedFields, ['defaultAlignment']);
      assert.deepEqual(c.notes, []);
    });
  }

  const kconfig = (dflt: string) => (k: string | null) =>
    replaceOnce(
      k!,
      'config PCI_STUB\n',
      `config PCI_PAGE_ALIGN_BARS\n\tbool "Page-align small memory BARs"\n${dflt}\thelp\n\t  Give every small memory BAR a page of its own.\n\nconfig PCI_STUB\n`,
    );
  test('IS_ENABLED(CONFIG_X) with the symbol off by default: an opt-in, nothing changes', async () => {
    const c = await change({
      'drivers/pci/Kconfig': kconfig(''),
      'drivers/pci/pci.c': weakDefault(
        '\tif (IS_ENABLED(CONFIG_PCI_PAGE_ALIGN_BARS))\n\t\treturn max(SZ_4K, PAGE_SIZE);\n\treturn 0;',
      ),
    });
    assert.equal(c.after.policy.defaultAlignment, 'zero');
    assert.equal(c.changed, false);
    assert.deepEqual(c.notes, []);
    assert.deepEqual(c.after.facts.alignmentKconfig, [
      { symbol: 'CONFIG_PCI_PAGE_ALIGN_BARS', onByDefault: false },
    ]);
    const sw = c.after.facts.alignmentSwitches;
    assert.equal(sw.length, 1);
    assert.deepEqual(
      {
        kind: sw[0]!.kind,
        name: sw[0]!.name,
        on: sw[0]!.onByDefault,
        whenOn: sw[0]!.whenOn,
        whenOff: sw[0]!.whenOff,
      },
      {
        kind: 'kconfig',
        name: 'CONFIG_PCI_PAGE_ALIGN_BARS',
        on: false,
        whenOn: 'max-4k-page',
        whenOff: 'zero',
      },
    );
  });

  test('#ifdef CONFIG_X with `default y`: the aligned branch is the default', async () => {
    const c = await change({
      'drivers/pci/Kconfig': kconfig('\tdefault y\n'),
      'drivers/pci/pci.c': weakDefault(
        '#ifdef CONFIG_PCI_PAGE_ALIGN_BARS\n\treturn PAGE_SIZE;\n#else\n\treturn 0;\n#endif',
      ),
    });
    assert.equal(c.after.policy.defaultAlignment, 'page');
    assert.equal(c.after.facts.alignmentSwitches[0]!.onByDefault, true);
  });

  test('a variable set by a pci= option, off by default: opt-in', async () => {
    const c = await change({
      'drivers/pci/pci.c': (pci) => {
        let t = weakDefault('\tif (pci_align_small_bars)\n\t\treturn PAGE_SIZE;\n\treturn 0;')(pci);
        t = replaceOnce(
          t,
          '/**\n * pcibios_default_alignment',
          'static bool pci_align_small_bars;\n\n/**\n * pcibios_default_alignment',
        );
        return replaceOnce(
          t,
          '\t\t} else if (!strncmp(str, "resource_alignment=", 19)) {',
          '\t\t} else if (!strcmp(str, "align_small_bars")) {\n\t\t\tpci_align_small_bars = true;\n\t\t} else if (!strncmp(str, "resource_alignment=", 19)) {',
        );
      },
    });
    assert.equal(c.after.policy.defaultAlignment, 'zero');
    assert.deepEqual(
      c.after.facts.alignmentSwitches.map((s) => [s.kind, s.name, s.onByDefault]),
      [['pci-option', 'pci=align_small_bars', false]],
    );
  });

  test('an arch override in a changed arch file replaces the weak default for that arch only', async () => {
    const override = (old: string | null) =>
      `${old}\nresource_size_t pcibios_default_alignment(void)\n{\n\treturn PAGE_SIZE;\n}\n`;
    const x86 = await change({ 'arch/x86/pci/i386.c': override });
    assert.equal(x86.after.policy.defaultAlignment, 'page');
    assert.match(x86.after.sources['defaultAlignment']!, /^arch\/x86\/pci\/i386\.c/);
    const arm = await change({ 'arch/x86/pci/i386.c': override }, 'arm64');
    assert.equal(arm.after.policy.defaultAlignment, 'zero');
  });

  test('a shape the reader does not know: "not understood", and the base value is kept', async () => {
    const c = await change({
      'drivers/pci/pci.c': weakDefault('\treturn pcibios_platform_alignment(pci_bus_count());'),
    });
    assert.equal(c.after.policy.defaultAlignment, 'zero');
    assert.equal(c.changed, false);
    assert.deepEqual(
      c.notes.map((n) => n.message),
      [
        'policy changed in pcibios_default_alignment() (drivers/pci/pci.c), not understood by the model; the model keeps the base value of defaultAlignment',
      ],
    );
    assert.equal(c.notes[0]!.file, 'drivers/pci/pci.c');
    assert.equal(c.notes[0]!.line, 36);
  });

  test('comments and reworded messages are not policy changes', async () => {
    const c = await change({
      'drivers/pci/pci.c': (pci) =>
        replaceOnce(
          replaceOnce(
            pci!,
            '\tif (size >= align)\n',
            '\t/* already large enough */\n\tif (size >= align)\n',
          ),
          'pr_info_once("PCI: Ignoring requested alignments (PCI_PROBE_ONLY)\\n");',
          'pr_info_once("PCI: PROBE_ONLY: firmware BARs kept, requested alignments ignored\\n");',
        ),
    });
    assert.equal(c.changed, false);
    assert.deepEqual(c.notes, []);
  });
});

describe('the other fields', () => {
  const i386Rebase = '\t\t\tr->end -= r->start;\n\t\t\tr->start = 0;\n';
  test("x86 claim pass: STARTALIGN spared by if/else (the example's patch 3 shape)", async () => {
    const c = await change({
      'arch/x86/pci/i386.c': (t) =>
        replaceOnce(
          t!,
          i386Rebase,
          '\t\t\tif (r->flags & IORESOURCE_STARTALIGN) {\n\t\t\t\tr->flags |= IORESOURCE_UNSET;\n\t\t\t} else {\n\t\t\t\tr->end -= r->start;\n\t\t\t\tr->start = 0;\n\t\t\t}\n',
        ),
    });
    assert.equal(c.after.policy.x86ClaimDropsStartAlign, false);
    assert.deepEqual(c.notes, []);
  });

  test('x86 claim pass: unset resources skipped before the claim', async () => {
    const c = await change({
      'arch/x86/pci/i386.c': (t) =>
        replaceOnce(
          t!,
          '\t\t\tif (!r->start)\t\t/* never assigned */\n',
          '\t\t\tif (r->flags & IORESOURCE_UNSET)\n\t\t\t\tcontinue;\n\t\t\tif (!r->start)\t\t/* never assigned */\n',
        ),
    });
    assert.equal(c.after.policy.x86ClaimDropsStartAlign, false);
    assert.deepEqual(c.notes, []);
  });

  test('x86 claim pass refactored beyond recognition: not understood, base value kept', async () => {
    const c = await change({
      'arch/x86/pci/i386.c': (t) =>
        replaceOnce(t!, i386Rebase, '\t\t\tpcibios_forget_resource(dev, idx);\n'),
    });
    assert.equal(c.after.policy.x86ClaimDropsStartAlign, true);
    assert.match(
      c.notes[0]!.message,
      /^policy changed in pcibios_allocate_dev_resources\(\) \(arch\/x86\/pci\/i386\.c\), not understood by the model/,
    );
  });

  test('realloc: on by default, or auto through Kconfig', async () => {
    const on = await change({
      'drivers/pci/setup-bus.c': (t) =>
        replaceOnce(t!, 'pci_realloc_enable = undefined;', 'pci_realloc_enable = user_enabled;'),
    });
    assert.equal(on.after.policy.realloc, 'on');
    assert.deepEqual(on.notes, []);
    const auto = await change({
      'drivers/pci/Kconfig': (t) =>
        replaceOnce(t!, '\tdepends on PCI_IOV\n', '\tdepends on PCI_IOV\n\tdefault y\n'),
    });
    assert.equal(auto.after.policy.realloc, 'auto');
  });

  test('vfio: non_mappable_bars and the s390 ISM fixup (v6.15 shape), per architecture', async () => {
    const changes = {
      'drivers/vfio/pci/vfio_pci_core.c': (t: string | null) =>
        replaceOnce(
          t!,
          '\t\tvdev->bar_mmap_supported[bar] = false;\n',
          '\t\tvdev->bar_mmap_supported[bar] = false;\n\n\t\tif (vdev->pdev->non_mappable_bars)\n\t\t\tcontinue;\n',
        ),
      'arch/s390/pci/pci_fixup.c':
        '// SPDX-License-Identifier: GPL-2.0\n#include <linux/pci.h>\n\n/* ISM BARs are larger than anything can map */\nstatic void ism_no_mmap(struct pci_dev *pdev)\n{\n\tpdev->non_mappable_bars = 1;\n}\nDECLARE_PCI_FIXUP_EARLY(PCI_VENDOR_ID_IBM, PCI_DEVICE_ID_IBM_ISM, ism_no_mmap);\n',
      'include/linux/pci_ids.h':
        '/* PCI ids (pcibot test) */\n#define PCI_VENDOR_ID_IBM\t\t0x1014\n#define PCI_DEVICE_ID_IBM_ISM\t\t0x04ED\n',
    };
    const s390 = await change(changes, 's390x');
    assert.deepEqual(s390.after.policy.vfio.nonMappable, ['1014:04ed']);
    assert.deepEqual(s390.after.facts.nonMappableFixups, [
      '1014:04ed (arch/s390/pci/pci_fixup.c: ism_no_mmap)',
    ]);
    assert.deepEqual(s390.notes, []);
    const x86 = await change(changes, 'x86_64');
    assert.deepEqual(x86.after.policy.vfio.nonMappable, [], 'an s390 fixup does not apply on x86');
  });

  test('vfio: a size cap, and mmap refusing the MSI-X table', async () => {
    const c = await change({
      'drivers/vfio/pci/vfio_pci_core.c': (t) =>
        replaceOnce(
          replaceOnce(
            t!,
            '\t\tif (!resource_size(res))\n\t\t\tcontinue;\n',
            '\t\tif (!resource_size(res))\n\t\t\tcontinue;\n\n\t\tif (resource_size(res) > (1ULL << 40))\n\t\t\tcontinue;\n',
          ),
          '\tphys_len = PAGE_ALIGN(pci_resource_len(pdev, index));\n',
          '\tif (index == vdev->msix_bar) {\n\t\tif (vma->vm_pgoff <= vdev->msix_offset >> PAGE_SHIFT)\n\t\t\treturn -EINVAL;\n\t}\n\n\tphys_len = PAGE_ALIGN(pci_resource_len(pdev, index));\n',
        ),
    });
    assert.equal(c.after.policy.vfio.maxMappableBar, 2 ** 40);
    assert.equal(c.after.policy.vfio.msixMappable, false);
    assert.deepEqual(c.changedFields, ['vfio.msixMappable', 'vfio.maxMappableBar']);
    assert.deepEqual(c.notes, []);
  });

  const iommu = (body: string) =>
    `// SPDX-License-Identifier: GPL-2.0-only\n#include <linux/iommu.h>\n\nstruct iommu_group *pci_device_group(struct device *dev)\n{\n${body}\n}\n`;
  const pre = iommu(
    '\tstruct pci_dev *pdev = to_pci_dev(dev);\n\tstruct group_for_pci_data data;\n\tstruct pci_bus *bus;\n\n\tif (pci_for_each_dma_alias(pdev, get_pci_alias_or_group, &data))\n\t\treturn data.group;\n\tfor (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent)\n\t\tif (pci_acs_path_enabled(bus->self, NULL, REQ_ACS_FLAGS))\n\t\t\tbreak;\n\treturn iommu_group_alloc();',
  );
  test('ACS grouping: the 2025 series is recognised (pci_bus_isolated)', async () => {
    const fix = iommu(
      '\tstruct pci_dev *pdev = to_pci_dev(dev);\n\n\tswitch (pci_bus_isolated(pdev->bus)) {\n\tcase PCIE_ISOLATED:\n\t\treturn iommu_group_alloc();\n\tdefault:\n\t\treturn pci_group_alloc_non_isolated();\n\t}',
    );
    const c = await change({ 'drivers/iommu/iommu.c': fix }, 'x86_64', {
      'drivers/iommu/iommu.c': pre,
    });
    assert.equal(c.before.policy.acsGrouping, 'pre-2025');
    assert.equal(c.after.policy.acsGrouping, 'acs-fix-2025');
    assert.deepEqual(c.notes, []);
    // Another change to the old algorithm is not understood.
    const other = await change(
      {
        'drivers/iommu/iommu.c': pre.replace(
          '\treturn iommu_group_alloc();',
          '\treturn pci_group_of_slot(pdev);',
        ),
      },
      'x86_64',
      { 'drivers/iommu/iommu.c': pre },
    );
    assert.equal(other.after.policy.acsGrouping, 'pre-2025');
    assert.match(
      other.notes[0]!.message,
      /^policy changed in pci_device_group\(\) \(drivers\/iommu\/iommu\.c\)/,
    );
  });

  test('facts the model has no field for: ACS quirk entries and DMA ownership', async () => {
    const c = await change({
      'drivers/pci/quirks.c': (t) =>
        replaceOnce(
          t!,
          '\t{ 0 }\n};',
          '\t{ PCI_VENDOR_ID_INTEL, 0x1234, pci_quirk_mf_endpoint_acs },\n\t{ 0 }\n};',
        ),
      'drivers/pci/pci-stub.c':
        '// SPDX-License-Identifier: GPL-2.0\n#include <linux/pci.h>\n\nstatic struct pci_driver stub_driver = {\n\t.name\t\t= "pci-stub",\n\t.driver_managed_dma = true,\n};\n',
    });
    assert.equal(c.changed, false);
    assert.deepEqual(
      c.notes.map((n) => n.message),
      [
        'policy changed in pci_dev_acs_enabled[] (drivers/pci/quirks.c), not understood by the model: adds PCI_VENDOR_ID_INTEL:0x1234 pci_quirk_mf_endpoint_acs',
        'policy changed in DMA ownership, not understood by the model: pci-stub (drivers/pci/pci-stub.c) now declares driver_managed_dma',
      ],
    );
  });
});
