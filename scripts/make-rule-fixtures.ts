// Writes the rule fixtures rules/<id>/{fires,quiet}*.eml: one patch mail each,
// made as edits to the fixture kernel tree (fixtures/kernel-tree) so that they
// apply in the tests. Run after changing a definition or the fixture tree:
//   npm run build && node dist/scripts/make-rule-fixtures.js
// The .eml files are committed; this script is how they were made.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtureTree } from '../fixtures/kernel-tree/build.js';
import {
  generateExampleMbox,
  type ExamplePatch,
  type ExampleSeries,
} from '../fixtures/examples/generate.js';
import { repoRoot } from '../bot/util/paths.js';

interface Fixture {
  rule: string;
  file: string;
  patch: ExamplePatch;
}

const PCI = 'drivers/pci/pci.c';
const DOC = 'Documentation/admin-guide/kernel-parameters.txt';
const PORTDRV = 'drivers/pci/pcie/portdrv.c';

const fixtures: Fixture[] = [
  // new-kernel-parameter
  {
    rule: 'new-kernel-parameter',
    file: 'fires.eml',
    patch: {
      subject: 'PCI: Add pci=nosharedpage to keep small BARs apart',
      body: 'Add a boot option that pads every memory BAR smaller than a page to a\nfull page, so that BARs of different devices never share one.',
      edits: [
        {
          file: PCI,
          anchor: /^static char \*resource_alignment_param;$/,
          op: 'before',
          lines: ['static bool pci_no_shared_page;', ''],
        },
        {
          file: PCI,
          anchor: /^\t\t\} else if \(!strncmp\(str, "resource_alignment=", 19\)\) \{$/,
          op: 'before',
          lines: [
            '\t\t} else if (!strcmp(str, "nosharedpage")) {',
            '\t\t\tpci_no_shared_page = true;',
          ],
        },
        {
          file: DOC,
          anchor: /^\t\tresource_alignment=$/,
          op: 'before',
          lines: [
            '\t\tnosharedpage\t[PCI] Pad memory BARs smaller than a page to a',
            '\t\t\t\tfull page.',
          ],
        },
      ],
    },
  },
  {
    rule: 'new-kernel-parameter',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Accept pci=realloc=auto',
      body: 'pci=realloc= takes on and off; accept "auto" as well, meaning the\nKconfig default, and document it.',
      edits: [
        {
          file: DOC,
          anchor: /^\t\t\t\ton: reallocate when needed$/,
          op: 'after',
          lines: ['\t\t\t\tauto: the CONFIG_PCI_REALLOC_ENABLE_AUTO default'],
        },
        {
          file: PCI,
          anchor: /^\t\t\tpci_realloc_get_opt\(str \+ 8\);$/,
          op: 'replace',
          lines: ['\t\t\t/* on, off or auto */', '\t\t\tpci_realloc_get_opt(str + 8);'],
        },
      ],
    },
  },

  // stable-and-fixes
  {
    rule: 'stable-and-fixes',
    file: 'fires-feature.eml',
    patch: {
      subject: 'PCI: Add PCI_SMALL_BAR_ALIGN to align small BARs by default',
      body: 'Add a Kconfig option that makes the default alignment of memory BARs\na page, for systems that pass devices through to guests.',
      trailers: ['Cc: stable@vger.kernel.org'],
      edits: [
        {
          file: 'drivers/pci/Kconfig',
          anchor: /^config PCI_REALLOC_ENABLE_AUTO$/,
          op: 'before',
          lines: [
            'config PCI_SMALL_BAR_ALIGN',
            '\tbool "Align memory BARs smaller than a page to a page"',
            '\thelp',
            "\t  Keep small BARs of different devices out of each other's pages.",
            '',
          ],
        },
      ],
    },
  },
  {
    rule: 'stable-and-fixes',
    file: 'fires-no-fixes-tag.eml',
    patch: {
      subject: 'PCI: Honour pci=realloc=off again',
      body:
        'pci=realloc=off is ignored since commit 1f2e3d4c5b6a ("PCI: Rework the\n' +
        'realloc option parsing"), which broke the "off" case: the option is\n' +
        'matched by the "realloc" prefix test first.\n\n' +
        'Test the longer option first.',
      edits: [
        {
          file: PCI,
          anchor: /^\t\t\} else if \(!strncmp\(str, "realloc=", 8\)\) \{$/,
          op: 'replace',
          lines: ['\t\t} else if (!strncmp(str, "realloc=", 8)) { /* before "realloc" */'],
        },
      ],
    },
  },
  {
    rule: 'stable-and-fixes',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Honour pci=realloc=off again',
      body:
        'pci=realloc=off is ignored since commit 1f2e3d4c5b6a ("PCI: Rework the\n' +
        'realloc option parsing"), which broke the "off" case: the option is\n' +
        'matched by the "realloc" prefix test first.\n\n' +
        'Test the longer option first.',
      trailers: [
        'Fixes: 1f2e3d4c5b6a ("PCI: Rework the realloc option parsing")',
        'Cc: stable@vger.kernel.org',
      ],
      edits: [
        {
          file: PCI,
          anchor: /^\t\t\} else if \(!strncmp\(str, "realloc=", 8\)\) \{$/,
          op: 'replace',
          lines: ['\t\t} else if (!strncmp(str, "realloc=", 8)) { /* before "realloc" */'],
        },
      ],
    },
  },

  // capitalise-mmio-bar
  {
    rule: 'capitalise-mmio-bar',
    file: 'fires.eml',
    patch: {
      subject: 'vfio/pci: Explain why sub-page BARs need an exclusive page',
      body:
        'A small bar can only be mapped when nothing else uses the rest of its\n' +
        'page: the mmio page is handed to userspace whole.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\tif \(resource_size\(res\) >= PAGE_SIZE\) \{$/,
          op: 'before',
          lines: ['\t\t/* A whole page or more: userspace gets whole pages of mmio anyway. */'],
        },
      ],
    },
  },
  {
    rule: 'capitalise-mmio-bar',
    file: 'quiet.eml',
    patch: {
      subject: 'vfio/pci: Explain why sub-page BARs need an exclusive page',
      body:
        'A BAR smaller than a page can only be mapped when nothing else uses the\n' +
        'rest of its page: the MMIO page is handed to userspace whole. BAR0 of\n' +
        'most devices is large enough; see mmio_base in the driver, and the\n' +
        'progress bar in the test tool.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\tif \(resource_size\(res\) >= PAGE_SIZE\) \{$/,
          op: 'before',
          lines: ['\t\t/* A whole page or more: userspace gets whole pages of MMIO anyway. */'],
        },
      ],
    },
  },

  // driver-managed-dma
  {
    rule: 'driver-managed-dma',
    file: 'fires.eml',
    patch: {
      subject: 'PCI: portdrv: Enable bus mastering on ports',
      body: 'Some switches need bus mastering enabled before their ports signal\ninterrupts; enable it when the port driver binds.',
      edits: [
        {
          file: PORTDRV,
          anchor: /^\treturn pcie_port_device_register\(dev\);$/,
          op: 'before',
          lines: ['\tpci_set_master(dev);', ''],
        },
      ],
    },
  },
  {
    rule: 'driver-managed-dma',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: portdrv: Say which port type was refused',
      body: 'Log the PCIe port type when the port driver does not bind to a\nfunction, to make bug reports easier to read.',
      edits: [
        {
          file: PORTDRV,
          anchor: /^\t\treturn -ENODEV;$/,
          op: 'replace',
          lines: ['\t\tpci_dbg(dev, "not a PCIe port (type %d)\\n", type);', '\t\treturn -ENODEV;'],
        },
      ],
    },
  },
  {
    rule: 'driver-managed-dma',
    file: 'quiet-vfio.eml',
    patch: {
      subject: 'vfio/pci: Check the device is alive before registering it',
      body: 'Map BAR0 briefly and read its first register, so that a device that\nfell off the bus is refused at registration instead of at first use.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\treturn vfio_register_group_dev\(&vdev->vdev\);$/,
          op: 'before',
          lines: [
            '\tif (pci_resource_len(pdev, 0)) {',
            '\t\tvoid __iomem *io = pci_iomap(pdev, 0, 4);',
            '',
            '\t\tif (io && ioread32(io) == ~0U) {',
            '\t\t\tpci_iounmap(pdev, io);',
            '\t\t\treturn -ENODEV;',
            '\t\t}',
            '\t\tif (io)',
            '\t\t\tpci_iounmap(pdev, io);',
            '\t}',
            '',
          ],
        },
      ],
    },
  },

  // changelog-replaces
  {
    rule: 'changelog-replaces',
    file: 'fires.eml',
    patch: {
      subject: 'PCI: Mark realigned resources as windows',
      body: 'This replaces IORESOURCE_STARTALIGN with IORESOURCE_WINDOW for the\nresources realigned at boot, so the bridge sizing code can tell them apart.',
      edits: [
        {
          file: PCI,
          anchor: /^\t\tr->flags \|= IORESOURCE_STARTALIGN;$/,
          op: 'after',
          lines: ['\t\tr->flags |= IORESOURCE_WINDOW;'],
        },
      ],
    },
  },
  {
    rule: 'changelog-replaces',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Keep the size alignment of realigned resources',
      body: 'Replace IORESOURCE_STARTALIGN with IORESOURCE_SIZEALIGN for resources\nrealigned at boot: the start no longer carries the alignment.',
      edits: [
        {
          file: PCI,
          anchor: /^\t\tr->flags \|= IORESOURCE_STARTALIGN;$/,
          op: 'replace',
          lines: ['\t\tr->flags |= IORESOURCE_SIZEALIGN;'],
        },
      ],
    },
  },

  // core-and-arch-mixed
  {
    rule: 'core-and-arch-mixed',
    file: 'fires.eml',
    patch: {
      subject: 'PCI: Align small BARs on x86',
      body: 'Make the default alignment a page, and on x86 keep the alignment of\nresources whose firmware claim fails.',
      edits: [
        {
          file: PCI,
          anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
          op: 'replace',
          count: 3,
          lines: [
            'resource_size_t __weak pcibios_default_alignment(void)',
            '{',
            '\treturn PAGE_SIZE;',
          ],
        },
        {
          file: 'arch/x86/pci/i386.c',
          anchor: /^\t\t\tr->end -= r->start;$/,
          op: 'replace',
          count: 2,
          lines: [
            '\t\t\tif (r->flags & IORESOURCE_STARTALIGN) {',
            '\t\t\t\tr->flags |= IORESOURCE_UNSET;',
            '\t\t\t\tcontinue;',
            '\t\t\t}',
            '\t\t\tr->end -= r->start;',
            '\t\t\tr->start = 0;',
          ],
        },
      ],
    },
  },
  {
    rule: 'core-and-arch-mixed',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Rename pci_claim_resource() to pci_claim_bar()',
      body: 'The function claims one BAR of a device; say so in its name, and\nupdate the x86 caller.',
      edits: [
        {
          file: 'include/linux/pci.h',
          anchor: /^int pci_claim_resource\(struct pci_dev \*dev, int resource\);$/,
          op: 'replace',
          lines: ['int pci_claim_bar(struct pci_dev *dev, int resource);'],
        },
        {
          file: 'drivers/pci/setup-res.c',
          anchor: /^int pci_claim_resource\(struct pci_dev \*dev, int resource\)$/,
          op: 'replace',
          lines: ['int pci_claim_bar(struct pci_dev *dev, int resource)'],
        },
        {
          file: 'arch/x86/pci/i386.c',
          anchor: /^\t\t\tif \(pci_claim_resource\(dev, idx\) == 0\)$/,
          op: 'replace',
          lines: ['\t\t\tif (pci_claim_bar(dev, idx) == 0)'],
        },
      ],
    },
  },

  // subject-prefix
  {
    rule: 'subject-prefix',
    file: 'fires.eml',
    patch: {
      subject: 'pci: fix the message for unknown options',
      body: 'Print the option that was not understood in quotes of one kind.',
      edits: [
        {
          file: PCI,
          anchor: /^\t\t\tpr_err\("PCI: Unknown option `%s'\\n", str\);$/,
          op: 'replace',
          lines: ['\t\t\tpr_err("PCI: Unknown option \'%s\'\\n", str);'],
        },
      ],
    },
  },
  {
    rule: 'subject-prefix',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Quote unknown options consistently',
      body: 'Print the option that was not understood in quotes of one kind.',
      edits: [
        {
          file: PCI,
          anchor: /^\t\t\tpr_err\("PCI: Unknown option `%s'\\n", str\);$/,
          op: 'replace',
          lines: ['\t\t\tpr_err("PCI: Unknown option \'%s\'\\n", str);'],
        },
      ],
    },
  },
];

const author = { name: 'Fixture Author', address: 'fixture.author@example.org' };

const work = await mkdtemp(join(tmpdir(), 'pcibot-rule-fixtures-'));
try {
  const { path: tree, commit } = await buildFixtureTree(join(work, 'tree'));
  for (const [i, f] of fixtures.entries()) {
    const series: ExampleSeries = {
      name: `${f.rule}-${f.file.replace(/\.eml$/, '')}`,
      version: 1,
      author,
      to: ['Bjorn Helgaas <bhelgaas@google.com>'],
      cc: ['linux-pci@vger.kernel.org'],
      date: new Date(Date.UTC(2026, 9, 1, 9, 0, i)).toISOString(),
      cover: null,
      patches: [f.patch],
    };
    const tmp = join(work, 'out.mbox');
    await generateExampleMbox({ tree, base: commit, series, out: tmp });
    const dest = join(repoRoot, 'rules', f.rule, f.file);
    await copyFile(tmp, dest);
    console.log(`wrote rules/${f.rule}/${f.file}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
