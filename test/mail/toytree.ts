// A toy kernel-shaped tree (our own content, not kernel code) that the patch
// fixtures in fixtures/mails/ were made against with `git format-patch`. Tests
// build it as a real git repository so `git apply --check` can prove that a
// diff extracted from a mail is byte-exact.
//
// The commit is made with fixed identities and dates, so its id is stable and
// equals the `base-commit:` recorded in the fixtures (TOY_BASE_COMMIT).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TOY_BASE_COMMIT = '30e89f7475725c32783644aa82b1da096c36a249';

export const TOY_TREE: Record<string, string> = {
  'drivers/pci/toy-align.c': `// SPDX-License-Identifier: GPL-2.0
/*
 * Toy resource alignment policy, used only by pcibot's tests.
 *
 * Thanks to Jörg Rödel for the original report on sub-page BARs.
 */
#include <linux/pci.h>
#include <linux/pci-toy.h>

static bool toy_align_small_bars;

/* Alignment of a memory BAR: its size, as the PCI spec requires (naturally aligned). */
resource_size_t toy_bar_alignment(struct pci_dev *dev, int bar)
{
	struct resource *res = &dev->resource[bar];
	resource_size_t size = resource_size(res);

	if (!(res->flags & IORESOURCE_MEM))
		return size;

	return size;
}

int toy_align_setup(char *str)
{
	if (!strcmp(str, "small"))
		toy_align_small_bars = true;
	return 0;
}
`,
  'drivers/pci/toy-setup.c': `// SPDX-License-Identifier: GPL-2.0
/*
 * Toy bus setup for pcibot's tests.
 */
#include <linux/pci.h>
#include <linux/pci-toy.h>

void toy_setup_bus(struct pci_bus *bus)
{
	struct pci_dev *dev;

	list_for_each_entry(dev, &bus->devices, bus_list)
		toy_assign_resources(dev);
}
`,
  'include/linux/pci-toy.h': `/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LINUX_PCI_TOY_H
#define LINUX_PCI_TOY_H

#include <linux/types.h>

struct pci_dev;
struct pci_bus;

resource_size_t toy_bar_alignment(struct pci_dev *dev, int bar);
void toy_setup_bus(struct pci_bus *bus);
void toy_assign_resources(struct pci_dev *dev);

#endif /* LINUX_PCI_TOY_H */
`,
  'drivers/vfio/pci/toy_vfio_core.c': `// SPDX-License-Identifier: GPL-2.0-only
/*
 * Toy VFIO mmap policy for pcibot's tests.
 */
#include <linux/pci.h>
#include <linux/vfio.h>

static bool toy_bar_mmap_allowed(struct pci_dev *pdev, int bar)
{
	resource_size_t size = pci_resource_len(pdev, bar);

	/* Sub-page BARs may share a page with another device: never mmap them. */
	if (size < PAGE_SIZE)
		return false;

	return true;
}
`,
  'drivers/iommu/toy-iommu.c': `// SPDX-License-Identifier: GPL-2.0
/*
 * Toy IOMMU driver for pcibot's tests.
 */
#include <linux/iommu.h>

static int toy_iommu_map(struct iommu_domain *domain, unsigned long iova,
			 phys_addr_t paddr, size_t size)
{
	return toy_hw_map(domain, iova, paddr, size);
}

static struct iommu_group *toy_device_group(struct device *dev)
{
	return generic_device_group(dev);
}
`,
  'net/core/toy_dev.c': `// SPDX-License-Identifier: GPL-2.0
/*
 * Toy net device helpers for pcibot's tests.
 */
#include <linux/netdevice.h>

int toy_dev_open(struct net_device *dev)
{
	netif_start_queue(dev);
	return 0;
}

int toy_dev_stop(struct net_device *dev)
{
	netif_stop_queue(dev);
	return 0;
}
`,
  'Documentation/admin-guide/kernel-parameters.txt': `	nowatchdog	[KNL] Disable both lockup detectors, i.e.
			soft-lockup and NMI watchdog (hard-lockup).

	pci=option[,option...]	[PCI,EARLY] various PCI subsystem options.

		realloc=	Enable/disable reallocating PCI bridge resources
				if allocations done by BIOS are too small.

		resource_alignment=
				Format: [<order of align>@]<pci_dev>[; ...]
				Specifies alignment and device to reassign
				aligned memory resources.

	pcie_aspm=	[PCIE] Forcibly enable or ignore PCIe Active State Power
			Management.

	quiet		[KNL,EARLY] Disable most log messages
`,
  'Documentation/PCI/toy-notes.rst': `=====================
Toy notes for pcibot
=====================

Things a reviewer checks:

- 
- BAR sizes and alignment
- MSI-X table placement

Written by Anna Tester.
`,
};

/** Write TOY_TREE into a new temporary git repository, committed; returns its path. */
export async function makeToyRepo(): Promise<{
  dir: string;
  head: string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-toy-'));
  for (const [path, content] of Object.entries(TOY_TREE)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content, 'utf8');
  }
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Toy Maintainer',
    GIT_AUTHOR_EMAIL: 'toy@example.org',
    GIT_AUTHOR_DATE: '2025-01-06T10:00:00Z',
    GIT_COMMITTER_NAME: 'Toy Maintainer',
    GIT_COMMITTER_EMAIL: 'toy@example.org',
    GIT_COMMITTER_DATE: '2025-01-06T10:00:00Z',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  const git = (...args: string[]) => run('git', args, { cwd: dir, env });
  await git('init', '-q', '-b', 'master');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'Toy tree for pcibot tests');
  const head = (await git('rev-parse', 'HEAD')).stdout.trim();
  return { dir, head, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
