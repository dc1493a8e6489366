// isolation-for-performance on hand-written before/after states: which
// changes count as relaxing isolation (and which refactors must not), and the
// changelog test. Near misses matter as much as hits here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import rule from '../../rules/isolation-for-performance/rule.js';
import { findRelaxations } from '../../rules/isolation-for-performance/relaxations.js';
import { findGuards } from '../../bot/kernel/c/guards.js';
import { topLevelScopes } from '../../bot/kernel/c/source.js';
import { contextFor, type Files } from './helpers.js';

const CORE = 'drivers/vfio/pci/vfio_pci_core.c';
const PERF = 'Guest accesses to these BARs trap and are emulated, which costs a lot of throughput.';

// A vfio-pci core in the shape of the kernel's (written for this test).
const core = `// SPDX-License-Identifier: GPL-2.0-only
#include <linux/pci.h>

static void vfio_pci_probe_mmaps(struct vfio_pci_core_device *vdev)
{
	struct resource *res;
	int i, bar;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		bar = i + PCI_STD_RESOURCES;
		res = &vdev->pdev->resource[bar];
		vdev->bar_mmap_supported[bar] = false;

		if (!(res->flags & IORESOURCE_MEM))
			continue;

		if (resource_size(res) >= PAGE_SIZE) {
			vdev->bar_mmap_supported[bar] = true;
			continue;
		}

		if (res->start & ~PAGE_MASK)
			continue;

		if (vfio_pci_claim_rest_of_page(vdev, res))
			continue;

		vdev->bar_mmap_supported[bar] = true;
	}
}

int vfio_pci_core_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	struct vfio_pci_core_device *vdev = to_vdev(core_vdev);
	unsigned int index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);

	if (index >= VFIO_PCI_ROM_REGION_INDEX)
		return -EINVAL;
	if (!vdev->bar_mmap_supported[index])
		return -EINVAL;
	if (index == vdev->msix_bar) {
		if (vfio_pci_overlaps_msix_table(vdev, vma))
			return -EINVAL;
	}
	return vfio_pci_map(vdev, vma, index);
}
`;

const files = (text: string): Files => ({ [CORE]: text });

async function relaxed(after: string, body = PERF) {
  const ctx = await contextFor({
    subject: 'vfio/pci: Change',
    body,
    before: files(core),
    after: files(after),
  });
  return { ctx, relaxations: await findRelaxations(ctx), hits: await rule.check(ctx) };
}

describe('csource', () => {
  test('scopes and guards, with enclosing conditions added to nested guards', () => {
    const scopes = topLevelScopes(core);
    assert.deepEqual(
      scopes.map((s) => [s.name, s.kind]),
      [
        ['vfio_pci_probe_mmaps', 'function'],
        ['vfio_pci_core_mmap', 'function'],
      ],
    );
    const guards = findGuards(core);
    const sub = guards.find((g) => g.cond === 'res->start & ~PAGE_MASK')!;
    assert.equal(sub.kind, 'deny');
    assert.equal(sub.scope, 'vfio_pci_probe_mmaps');
    const big = guards.find((g) => g.cond.startsWith('resource_size'))!;
    assert.equal(big.kind, 'allow');
    const nested = guards.find((g) => g.cond.startsWith('vfio_pci_overlaps_msix_table'))!;
    assert.deepEqual(nested.clauses, [
      ['index == vdev->msix_bar', 'vfio_pci_overlaps_msix_table(vdev, vma)'],
    ]);
  });
});

describe('relaxations found in vfio-pci', () => {
  test('a removed refusal (sub-page BAR that does not start a page)', async () => {
    const { relaxations, hits } = await relaxed(
      core.replace('\t\tif (res->start & ~PAGE_MASK)\n\t\t\tcontinue;\n\n', ''),
    );
    assert.equal(relaxations.length, 1);
    assert.match(relaxations[0]!.what, /no longer refuses when "res->start & ~PAGE_MASK"/);
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.file, CORE);
  });

  test('a refusal narrowed by an extra condition (MSI-X table mmap behind a flag)', async () => {
    const { relaxations } = await relaxed(
      core.replace(
        '\tif (index == vdev->msix_bar) {',
        '\tif (index == vdev->msix_bar && !vdev->msix_mappable) {',
      ),
    );
    assert.equal(relaxations.length, 1);
    assert.match(relaxations[0]!.what, /now refuses only when/);
  });

  test('the MSI-X overlap check removed entirely', async () => {
    const after = core.replace(
      '\tif (index == vdev->msix_bar) {\n\t\tif (vfio_pci_overlaps_msix_table(vdev, vma))\n\t\t\treturn -EINVAL;\n\t}\n',
      '',
    );
    assert.notEqual(after, core);
    const { relaxations } = await relaxed(after);
    assert.ok(relaxations.some((r) => /vfio_pci_overlaps_msix_table/.test(r.what)));
  });

  test('a new case in which mmap is allowed', async () => {
    const { relaxations } = await relaxed(
      core.replace(
        '\t\tif (resource_size(res) >= PAGE_SIZE) {',
        '\t\tif (resource_size(res) >= PAGE_SIZE || vdev->pdev->subpage_ok) {',
      ),
    );
    assert.equal(relaxations.length, 1);
    assert.match(
      relaxations[0]!.what,
      /now grants userspace access to the BAR when "vdev->pdev->subpage_ok"/,
    );
  });

  test('quiet: checks moved, reordered, renamed or moved into a helper', async () => {
    const reordered = core.replace(
      '\tif (index >= VFIO_PCI_ROM_REGION_INDEX)\n\t\treturn -EINVAL;\n\tif (!vdev->bar_mmap_supported[index])\n\t\treturn -EINVAL;\n',
      '\tif (index >= VFIO_PCI_ROM_REGION_INDEX ||\n\t    !vdev->bar_mmap_supported[index])\n\t\treturn -EINVAL;\n',
    );
    const renamed = core
      .replaceAll('res->', 'r->')
      .replace('struct resource *res;', 'struct resource *r;')
      .replace('res = &', 'r = &')
      .replace('claim_rest_of_page(vdev, res)', 'claim_rest_of_page(vdev, r)')
      .replace('resource_size(res)', 'resource_size(r)');
    const helper = core
      .replace(
        '\t\tif (res->start & ~PAGE_MASK)\n\t\t\tcontinue;\n',
        '\t\tif (!vfio_pci_starts_page(res))\n\t\t\tcontinue;\n',
      )
      .replace(
        'static void vfio_pci_probe_mmaps',
        'static bool vfio_pci_starts_page(struct resource *res)\n{\n\tif (res->start & ~PAGE_MASK)\n\t\treturn false;\n\treturn true;\n}\n\nstatic void vfio_pci_probe_mmaps',
      );
    const expression = core
      .replace(
        '\t\tif (res->start & ~PAGE_MASK)\n\t\t\tcontinue;\n',
        '\t\tif (!vfio_pci_starts_page(res))\n\t\t\tcontinue;\n',
      )
      .replace(
        'static void vfio_pci_probe_mmaps',
        'static bool vfio_pci_starts_page(struct resource *res)\n{\n\treturn !(res->start & ~PAGE_MASK);\n}\n\nstatic void vfio_pci_probe_mmaps',
      );
    for (const [name, after] of Object.entries({ reordered, renamed, helper, expression })) {
      assert.notEqual(after, core, name);
      const { relaxations } = await relaxed(after);
      assert.deepEqual(relaxations, [], name);
    }
  });

  test('quiet: an unrelated flag set in a new case, an argument-copy check moved out', async () => {
    const flag = await relaxed(
      core.replace(
        '\t\tif (!(res->flags & IORESOURCE_MEM))\n',
        '\t\tif (res->flags & IORESOURCE_PREFETCH)\n\t\t\tvdev->has_prefetchable = true;\n\n\t\tif (!(res->flags & IORESOURCE_MEM))\n',
      ),
    );
    assert.deepEqual(flag.relaxations, []);
    const withCopy = core.replace(
      '\tif (index >= VFIO_PCI_ROM_REGION_INDEX)\n',
      '\tif (copy_from_user(&args, uarg, sizeof(args)))\n\t\treturn -EFAULT;\n\tif (index >= VFIO_PCI_ROM_REGION_INDEX)\n',
    );
    const ctx = await contextFor({
      subject: 'vfio/pci: Let the core copy the arguments',
      body: PERF,
      before: files(withCopy),
      after: files(core),
    });
    assert.deepEqual(await findRelaxations(ctx), []);
  });

  test('quiet: a refusal made stricter', async () => {
    const { relaxations } = await relaxed(
      core.replace(
        '\t\tif (res->start & ~PAGE_MASK)\n',
        '\t\tif ((res->start & ~PAGE_MASK) || !res->parent)\n',
      ),
    );
    assert.deepEqual(relaxations, []);
  });
});

describe('relaxations elsewhere', () => {
  const QUIRKS = 'drivers/pci/quirks.c';
  const quirks = `static const struct pci_dev_acs_enabled {
	u16 vendor;
	u16 device;
	int (*acs_enabled)(struct pci_dev *dev, u16 acs_flags);
} pci_dev_acs_enabled[] = {
	{ PCI_VENDOR_ID_ATI, 0x4385, pci_quirk_amd_sb_acs },
	{ 0 }
};

static void quirk_dma_func1_alias(struct pci_dev *dev)
{
	pci_add_dma_alias(dev, PCI_DEVFN(PCI_SLOT(dev->devfn), 1), 1);
}
DECLARE_PCI_FIXUP_HEADER(PCI_VENDOR_ID_MARVELL_EXT, 0x9120, quirk_dma_func1_alias);
DECLARE_PCI_FIXUP_HEADER(PCI_VENDOR_ID_MARVELL_EXT, 0x9123, quirk_dma_func1_alias);
`;
  const TYPE1 = 'drivers/vfio/vfio_iommu_type1.c';
  const type1 = `static bool allow_unsafe_interrupts;
module_param_named(allow_unsafe_interrupts, allow_unsafe_interrupts, bool, 0644);

static int vfio_iommu_type1_attach_group(void *iommu_data, struct iommu_group *iommu_group)
{
	if (!allow_unsafe_interrupts &&
	    !iommu_group_has_isolated_msi(iommu_group)) {
		pr_warn("%s: No interrupt remapping support\\n", __func__);
		return -EPERM;
	}
	return 0;
}
`;
  const DRV = 'drivers/pci/hotplug/shpchp_core.c';
  const drv = `static struct pci_driver shpc_driver = {
	.name		= "shpchp",
	.probe		= shpc_probe,
};
`;
  const base: Files = { [QUIRKS]: quirks, [TYPE1]: type1, [DRV]: drv };
  const relax = async (after: Files) =>
    findRelaxations(await contextFor({ subject: 'x', body: PERF, before: base, after }));

  test('new ACS quirk entries; moved entries are not new', async () => {
    const add = await relax({
      [QUIRKS]: quirks.replace(
        '\t{ 0 }',
        '\t{ PCI_VENDOR_ID_INTEL, 0x1593, pci_quirk_mf_endpoint_acs },\n\t{ 0 }',
      ),
    });
    assert.deepEqual(
      add.map((r) => r.kind),
      ['acs-quirk'],
    );
    const moved = await relax({
      [QUIRKS]: quirks.replace(
        '\t{ PCI_VENDOR_ID_ATI, 0x4385, pci_quirk_amd_sb_acs },\n\t{ 0 }',
        '\t{ PCI_VENDOR_ID_ATI,  0x4385, pci_quirk_amd_sb_acs },\n\t{ 0 }',
      ),
    });
    assert.deepEqual(moved, []);
  });

  test('ACS reported in a new case, or unconditionally', async () => {
    const PCI = 'drivers/pci/pci.c';
    const pci = `static bool pcie_acs_override;

bool pci_acs_enabled(struct pci_dev *pdev, u16 acs_flags)
{
	int ret;

	ret = pci_dev_specific_acs_enabled(pdev, acs_flags);
	if (ret >= 0)
		return ret > 0;

	if (!pci_is_pcie(pdev))
		return false;

	return pci_acs_flags_enabled(pdev, acs_flags);
}
`;
    const run = async (after: string) =>
      findRelaxations(
        await contextFor({
          subject: 'x',
          body: PERF,
          before: { [PCI]: pci },
          after: { [PCI]: after },
        }),
      );
    const override = await run(
      pci.replace('\tint ret;\n', '\tint ret;\n\n\tif (pcie_acs_override)\n\t\treturn true;\n'),
    );
    assert.equal(override.length, 1);
    assert.match(
      override[0]!.what,
      /pci_acs_enabled\(\) now grants isolation .* when "pcie_acs_override"/,
    );
    const always = await run(
      pci.replace('\treturn pci_acs_flags_enabled(pdev, acs_flags);', '\treturn true;'),
    );
    assert.equal(always.length, 1);
    assert.match(always[0]!.what, /gains an unconditional grant/);
    const split = await run(
      pci.replace(
        '\tif (ret >= 0)\n\t\treturn ret > 0;\n',
        '\tif (ret > 0) {\n\t\treturn true;\n\t}\n\tif (ret == 0)\n\t\treturn false;\n',
      ),
    );
    assert.deepEqual(split, [], 'the quirk result, spelled out');
  });

  test('a removed DMA alias quirk', async () => {
    const r = await relax({
      [QUIRKS]: quirks.replace(
        'DECLARE_PCI_FIXUP_HEADER(PCI_VENDOR_ID_MARVELL_EXT, 0x9123, quirk_dma_func1_alias);\n',
        '',
      ),
    });
    assert.deepEqual(
      r.map((x) => x.kind),
      ['dma-alias'],
    );
  });

  test('MSI isolation: the check narrowed by a new switch, and the switch on by default', async () => {
    const narrowed = await relax({
      [TYPE1]: type1.replace(
        '\t    !iommu_group_has_isolated_msi(iommu_group)) {',
        '\t    !iommu_group_has_isolated_msi(iommu_group) && !vfio_trust_platform) {',
      ),
    });
    assert.ok(
      narrowed.some((r) => r.kind === 'msi-isolation'),
      JSON.stringify(narrowed),
    );
    const on = await relax({
      [TYPE1]: type1.replace(
        'static bool allow_unsafe_interrupts;',
        'static bool allow_unsafe_interrupts = true;',
      ),
    });
    assert.deepEqual(
      on.map((r) => r.kind),
      ['unsafe-switch'],
    );
    const reworded = await relax({
      [TYPE1]: type1.replace('No interrupt remapping support', 'No MSI isolation for this group'),
    });
    assert.deepEqual(reworded, []);
  });

  test('a new unsafe module parameter', async () => {
    const r = await relax({
      [TYPE1]: type1.replace(
        'static int vfio',
        'static bool allow_unsafe_p2p;\nmodule_param(allow_unsafe_p2p, bool, 0444);\n\nstatic int vfio',
      ),
    });
    assert.ok(r.some((x) => x.kind === 'unsafe-switch' && /allow_unsafe_p2p/.test(x.what)));
  });

  test('driver_managed_dma added outside vfio, not inside it', async () => {
    const r = await relax({
      [DRV]: drv.replace(
        '\t.probe\t\t= shpc_probe,\n',
        '\t.probe\t\t= shpc_probe,\n\t.driver_managed_dma = true,\n',
      ),
    });
    assert.deepEqual(
      r.map((x) => x.kind),
      ['dma-ownership'],
    );
    const VDRV = 'drivers/vfio/pci/foo/main.c';
    const v = await findRelaxations(
      await contextFor({
        subject: 'x',
        body: PERF,
        before: { [VDRV]: drv },
        after: {
          [VDRV]: drv.replace(
            '\t.probe\t\t= shpc_probe,\n',
            '\t.probe\t\t= shpc_probe,\n\t.driver_managed_dma = true,\n',
          ),
        },
      }),
    );
    assert.deepEqual(v, []);
  });
});

describe('the changelog test', () => {
  const relaxing = core.replace('\t\tif (res->start & ~PAGE_MASK)\n\t\t\tcontinue;\n\n', '');
  const hits = async (body: string, subject = 'vfio/pci: Map more BARs') =>
    rule.check(await contextFor({ subject, body, before: files(core), after: files(relaxing) }));

  test('fires on a performance-only justification', async () => {
    const h = await hits('This makes guest accesses faster: they no longer trap.');
    assert.equal(h.length, 1);
    assert.deepEqual((h[0]!.evidence as { performanceWords: string[] }).performanceWords, [
      'faster',
      'trap',
    ]);
  });

  test('quiet when the changelog discusses isolation or security, or argues no speed at all', async () => {
    for (const body of [
      'This makes guest accesses faster. The rest of the page is reserved, so isolation holds.',
      'Faster, and safe: no other device can be placed in the page.',
      'This avoids the overhead. See XSA-461 for why page sharing matters.',
      'Map these BARs too; the page is reserved for the device.',
      'Faster this way. No functional change for BARs of a page or more.',
    ])
      assert.deepEqual(await hits(body), [], body);
  });

  test('quiet when nothing is relaxed, however fast it claims to be', async () => {
    const ctx = await contextFor({
      subject: 'vfio/pci: Cut the overhead of mmap',
      body: 'Faster mmap: fewer traps.',
      before: files(core),
      after: files(
        core.replace(
          'return vfio_pci_map(vdev, vma, index);',
          'return vfio_pci_map_huge(vdev, vma, index);',
        ),
      ),
    });
    assert.deepEqual(await rule.check(ctx), []);
  });
});
