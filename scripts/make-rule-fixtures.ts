// Writes the rule fixtures rules/<id>/{fires,quiet}*.eml: one patch mail each,
// made as edits to the fixture kernel tree (fixtures/kernel-tree) so that they
// apply in the tests, written on an author's tree that drifted from it (see
// fixtureDrift) so that they apply at offsets, as real mail does. Run after changing a definition or the fixture tree:
//   npm run build && node dist/scripts/make-rule-fixtures.js [rule-id ...]
// (with rule ids, only those rules' fixtures are written).
// The .eml files are committed; this script is how they were made.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixtureTree, fixtureTreeFiles } from '../fixtures/kernel-tree/build.js';
import {
  generateExampleMbox,
  type ExampleEdit,
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
  {
    // The vfio tree's history also spells the driver with a hyphen
    // ("vfio-pci/zdev: Add a device feature for error information", kvm, 2025-11).
    rule: 'subject-prefix',
    file: 'quiet-vfio-hyphen.eml',
    patch: {
      subject: 'vfio-pci/core: Say why small BARs need a page of their own',
      body:
        'A BAR smaller than a page can only be mapped when nothing else uses the\n' +
        'rest of its page. Say so where the check is.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\tif \(resource_size\(res\) >= PAGE_SIZE\) \{$/,
          op: 'before',
          lines: ['\t\t/* A BAR of a page or more is mapped by whole pages. */'],
        },
      ],
    },
  },
  // --- isolation-for-performance and vfio-uapi (owner: rules) ---
  {
    rule: 'isolation-for-performance',
    file: 'fires.eml',
    patch: {
      subject: 'vfio/pci: Mmap sub-page BARs that do not start a page',
      body:
        'On hosts with 64K pages most BARs smaller than a page do not start a host\n' +
        'page, so vfio-pci refuses to mmap them and every guest access to them\n' +
        'traps to QEMU and is emulated. NICs that keep their doorbells in such a\n' +
        'BAR lose most of their throughput: with this patch we measured twice the\n' +
        'packet rate in the guest.\n\n' +
        'Drop the page-alignment requirement; the BAR is mapped together with the\n' +
        'rest of its page.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\t \* A smaller BAR can only be mapped if it starts a page \(the$/,
          op: 'replace',
          count: 3,
          lines: [
            '\t\t * A smaller BAR can be mapped if the rest of its page can be',
            '\t\t * reserved so no other BAR moves in.',
          ],
        },
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\tif \(res->start & ~PAGE_MASK\)$/,
          op: 'replace',
          count: 3,
          lines: [],
        },
      ],
    },
  },
  {
    rule: 'isolation-for-performance',
    file: 'fires-acs-quirk.eml',
    patch: {
      subject: 'PCI: Add ACS quirk for Intel 0x1593 multifunction NICs',
      body:
        'The two functions of these NICs have no ACS capability, so they end up\n' +
        'in one IOMMU group and must be assigned to the same guest. Spreading them\n' +
        'over two guests doubles the throughput we get out of one host.\n\n' +
        'Use the multifunction endpoint quirk for them.',
      edits: [
        {
          file: 'drivers/pci/quirks.c',
          anchor: /^\t\{ PCI_VENDOR_ID_INTEL, 0x1533, pci_quirk_mf_endpoint_acs \},$/,
          op: 'after',
          lines: ['\t{ PCI_VENDOR_ID_INTEL, 0x1593, pci_quirk_mf_endpoint_acs },'],
        },
      ],
    },
  },
  {
    rule: 'isolation-for-performance',
    file: 'quiet.eml',
    patch: {
      subject: 'vfio/pci: Allow mmap of sub-page BARs that do not start a page',
      body:
        'On hosts with 64K pages most BARs smaller than a page do not start a host\n' +
        'page, so vfio-pci refuses to mmap them and every guest access to them\n' +
        'traps to QEMU and is emulated, which costs throughput.\n\n' +
        'Isolation does not depend on the BAR starting the page: the rest of the\n' +
        'page is still reserved before the BAR is offered for mmap, so no other\n' +
        "device's registers can be reached through the mapping. Drop the\n" +
        'page-alignment requirement.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\t \* A smaller BAR can only be mapped if it starts a page \(the$/,
          op: 'replace',
          count: 3,
          lines: [
            '\t\t * A smaller BAR can be mapped if the rest of its page can be',
            '\t\t * reserved so no other BAR moves in.',
          ],
        },
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\tif \(res->start & ~PAGE_MASK\)$/,
          op: 'replace',
          count: 3,
          lines: [],
        },
      ],
    },
  },
  {
    rule: 'isolation-for-performance',
    file: 'quiet-reordered.eml',
    patch: {
      subject: 'vfio/pci: Check whether a BAR can be mapped before the VMA',
      body:
        'Userspace commonly probes BARs that cannot be mapped. Refuse those\n' +
        'before looking at the VMA, which saves the overhead of the VMA checks on\n' +
        'that path and groups the region checks together.',
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\tif \(\(vma->vm_flags & VM_SHARED\) == 0\)$/,
          op: 'replace',
          count: 2,
          lines: [],
        },
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\tif \(!vdev->bar_mmap_supported\[index\]\)$/,
          op: 'after',
          skip: 1,
          lines: ['\tif ((vma->vm_flags & VM_SHARED) == 0)', '\t\treturn -EINVAL;'],
        },
      ],
    },
  },
  {
    rule: 'vfio-uapi',
    file: 'fires.eml',
    patch: {
      subject: 'vfio/type1: Let userspace register a reserved IOVA range for MSIs',
      body:
        'On ARM the MSI doorbell must be mapped in the IOMMU at an IOVA the guest\n' +
        'does not use. Let userspace register that range with VFIO_IOMMU_MAP_DMA\n' +
        'and a new flag, VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA; the host then maps\n' +
        'doorbells inside it when the device allocates its MSIs.\n\n' +
        'Add the map and unmap ioctls to type1 at the same time.',
      edits: [
        {
          file: 'include/uapi/linux/vfio.h',
          anchor: /^#endif \/\* _UAPIVFIO_H \*\/$/,
          op: 'before',
          lines: [
            '/**',
            ' * VFIO_IOMMU_MAP_DMA - map process memory for device DMA',
            ' *',
            ' * Map process virtual addresses to IO virtual addresses. Caller sets',
            ' * argsz; READ and/or WRITE are required.',
            ' *',
            ' * With VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA the call only registers an IOVA',
            ' * range the host uses to map MSI doorbells; vaddr and the READ/WRITE',
            ' * flags are ignored. A single MSI_RESERVED_IOVA range can be registered.',
            ' */',
            'struct vfio_iommu_type1_dma_map {',
            '\t__u32\targsz;',
            '\t__u32\tflags;',
            '#define VFIO_DMA_MAP_FLAG_READ (1 << 0)\t\t/* readable from device */',
            '#define VFIO_DMA_MAP_FLAG_WRITE (1 << 1)\t/* writable from device */',
            '#define VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA (1 << 2)\t/* MSI doorbell range */',
            '\t__u64\tvaddr;\t\t\t\t/* Process virtual address */',
            '\t__u64\tiova;\t\t\t\t/* IO virtual address */',
            '\t__u64\tsize;\t\t\t\t/* Size of mapping (bytes) */',
            '};',
            '',
            '#define VFIO_IOMMU_MAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 13)',
            '',
            '/**',
            ' * VFIO_IOMMU_UNMAP_DMA - unmap IO virtual addresses',
            ' *',
            ' * Caller sets argsz; the size unmapped is returned in size. A reserved',
            ' * MSI range must be unmapped with the MSI_RESERVED_IOVA flag set.',
            ' */',
            'struct vfio_iommu_type1_dma_unmap {',
            '\t__u32\targsz;',
            '\t__u32\tflags;',
            '\t__u64\tiova;\t\t\t\t/* IO virtual address */',
            '\t__u64\tsize;\t\t\t\t/* Size of mapping (bytes) */',
            '};',
            '',
            '#define VFIO_IOMMU_UNMAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 14)',
            '',
          ],
        },
        {
          file: 'drivers/vfio/vfio_iommu_type1.c',
          anchor: /^out_free:$/,
          op: 'after',
          skip: 3,
          lines: [
            '',
            'static long vfio_iommu_type1_ioctl(void *iommu_data, unsigned int cmd,',
            '\t\t\t\t   unsigned long arg)',
            '{',
            '\tstruct vfio_iommu *iommu = iommu_data;',
            '',
            '\tswitch (cmd) {',
            '\tcase VFIO_IOMMU_MAP_DMA: {',
            '\t\tstruct vfio_iommu_type1_dma_map map;',
            '\t\tuint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |',
            '\t\t\t\tVFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA;',
            '\t\tint prot = 0;',
            '',
            '\t\tif (copy_from_user(&map, (void __user *)arg, sizeof(map)))',
            '\t\t\treturn -EFAULT;',
            '\t\tif (map.argsz < sizeof(map) || map.flags & ~mask)',
            '\t\t\treturn -EINVAL;',
            '\t\tif (map.flags & VFIO_DMA_MAP_FLAG_READ)',
            '\t\t\tprot |= IOMMU_READ;',
            '\t\tif (map.flags & VFIO_DMA_MAP_FLAG_WRITE)',
            '\t\t\tprot |= IOMMU_WRITE;',
            '\t\treturn vfio_dma_do_map(iommu, &map, prot);',
            '\t}',
            '\tcase VFIO_IOMMU_UNMAP_DMA: {',
            '\t\tstruct vfio_iommu_type1_dma_unmap unmap;',
            '',
            '\t\tif (copy_from_user(&unmap, (void __user *)arg, sizeof(unmap)))',
            '\t\t\treturn -EFAULT;',
            '\t\tif (unmap.argsz < sizeof(unmap) || unmap.flags)',
            '\t\t\treturn -EINVAL;',
            '\t\treturn vfio_dma_do_unmap(iommu, &unmap);',
            '\t}',
            '\t}',
            '',
            '\treturn -ENOTTY;',
            '}',
          ],
        },
      ],
    },
  },
  {
    rule: 'vfio-uapi',
    file: 'fires-renumbered.eml',
    patch: {
      subject: 'vfio: Keep the region capability IDs dense',
      body:
        'Region capability 2 has no user in this tree. Give its number to the\n' +
        'MSI-X mappable capability so that the IDs have no hole.',
      edits: [
        {
          file: 'include/uapi/linux/vfio.h',
          anchor: /^#define VFIO_REGION_INFO_CAP_MSIX_MAPPABLE\s+3$/,
          op: 'replace',
          lines: ['#define VFIO_REGION_INFO_CAP_MSIX_MAPPABLE\t2'],
        },
      ],
    },
  },
  {
    rule: 'vfio-uapi',
    file: 'quiet.eml',
    patch: {
      subject: 'vfio/pci: Report BARs that have their page to themselves',
      body:
        'Userspace cannot tell whether a mappable BAR smaller than a page has the\n' +
        'rest of its page reserved, which it needs to know before it places\n' +
        'another BAR next to it in the guest. Report it with a new region flag,\n' +
        'set for every sub-page BAR vfio-pci offers for mmap.',
      edits: [
        {
          file: 'include/uapi/linux/vfio.h',
          anchor: /^#define VFIO_REGION_INFO_FLAG_CAPS\s/,
          op: 'after',
          lines: [
            '/*',
            ' * The region is smaller than a host page and the rest of that page is',
            ' * reserved: nothing else can be mapped in the same page.',
            ' */',
            '#define VFIO_REGION_INFO_FLAG_EXCLUSIVE_PAGE (1 << 4)',
          ],
        },
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\t\tinfo->flags \|= VFIO_REGION_INFO_FLAG_MMAP;$/,
          op: 'after',
          lines: [
            '\t\tif (info->size < PAGE_SIZE)',
            '\t\t\tinfo->flags |= VFIO_REGION_INFO_FLAG_EXCLUSIVE_PAGE;',
          ],
        },
      ],
    },
  },
  {
    rule: 'vfio-uapi',
    file: 'quiet-doc.eml',
    patch: {
      subject: 'vfio: Document how the MSI-X table stays with the host',
      body:
        'Say in the UAPI what the MSI-X mappable capability does not change:\n' +
        'the vector table is still programmed only through VFIO_DEVICE_SET_IRQS,\n' +
        'and reads and writes of it through the region are still filtered.',
      edits: [
        {
          file: 'include/uapi/linux/vfio.h',
          anchor: /^ \* the table itself is still only programmed through VFIO_DEVICE_SET_IRQS\.$/,
          op: 'replace',
          lines: [
            ' * the table itself is still only programmed through VFIO_DEVICE_SET_IRQS.',
            ' * Reads of the table through the region file return all ones and writes',
            ' * to it are dropped, whether or not the region is mapped.',
          ],
        },
      ],
    },
  },
  // --- end of isolation-for-performance and vfio-uapi ---

  // realign-by-default
  {
    rule: 'realign-by-default',
    file: 'fires.eml',
    patch: {
      subject: 'PCI: Page-align memory BARs by default',
      body:
        'Small memory BARs of different devices can end up in one page, and a\n' +
        'device passed through to a guest then exposes the other device. Make\n' +
        'the default alignment of memory BARs a page on every architecture that\n' +
        'does not choose its own.',
      edits: [
        {
          file: PCI,
          anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
          op: 'replace',
          count: 4,
          lines: [
            'resource_size_t __weak pcibios_default_alignment(void)',
            '{',
            '\treturn PAGE_SIZE;',
            '}',
          ],
        },
      ],
    },
  },
  {
    rule: 'realign-by-default',
    file: 'fires-opt-out.eml',
    patch: {
      subject: 'PCI: Align small BARs by default, with pci=no_small_bar_align',
      body:
        'Make the default alignment of memory BARs max(4K, PAGE_SIZE) so that\n' +
        'small BARs of different devices never share a page, and add\n' +
        'pci=no_small_bar_align for systems where moving BARs at boot breaks\n' +
        'something.',
      edits: [
        {
          file: PCI,
          anchor: /^ \* pcibios_default_alignment - alignment every device's BARs get by default$/,
          op: 'before',
          skip: -1,
          lines: [
            '/* pci=no_small_bar_align: keep the firmware alignment of small BARs */',
            'static bool pci_no_small_bar_align;',
            '',
          ],
        },
        {
          file: PCI,
          anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
          op: 'replace',
          count: 4,
          lines: [
            'resource_size_t __weak pcibios_default_alignment(void)',
            '{',
            '\tif (pci_no_small_bar_align)',
            '\t\treturn 0;',
            '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
            '}',
          ],
        },
        {
          file: PCI,
          anchor: /^\t\t\} else if \(!strncmp\(str, "resource_alignment=", 19\)\) \{$/,
          op: 'before',
          lines: [
            '\t\t} else if (!strcmp(str, "no_small_bar_align")) {',
            '\t\t\tpci_no_small_bar_align = true;',
          ],
        },
      ],
    },
  },
  {
    rule: 'realign-by-default',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Add pci=small_bar_align to page-align small BARs for passthrough',
      body:
        'Systems that pass devices through to guests need small BARs of\n' +
        'different devices in different pages. Add pci=small_bar_align, which\n' +
        'makes the default alignment of memory BARs max(4K, PAGE_SIZE); without\n' +
        'it nothing changes.',
      edits: [
        {
          file: PCI,
          anchor: /^ \* pcibios_default_alignment - alignment every device's BARs get by default$/,
          op: 'before',
          skip: -1,
          lines: [
            '/* pci=small_bar_align: page-align small BARs (for passthrough) */',
            'static bool pci_small_bar_align;',
            '',
          ],
        },
        {
          file: PCI,
          anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
          op: 'replace',
          count: 4,
          lines: [
            'resource_size_t __weak pcibios_default_alignment(void)',
            '{',
            '\tif (pci_small_bar_align)',
            '\t\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
            '\treturn 0;',
            '}',
          ],
        },
        {
          file: PCI,
          anchor: /^\t\t\} else if \(!strncmp\(str, "resource_alignment=", 19\)\) \{$/,
          op: 'before',
          lines: [
            '\t\t} else if (!strcmp(str, "small_bar_align")) {',
            '\t\t\tpci_small_bar_align = true;',
          ],
        },
      ],
    },
  },

  // policy-in-weak-default
  {
    rule: 'policy-in-weak-default',
    file: 'fires.eml',
    patch: {
      subject: 'PCI: Align small BARs to max(4K, PAGE_SIZE)',
      body:
        'Small BARs of different devices end up in one page, so a device passed\n' +
        'through to a guest exposes the registers of the other (XSA-461). Make\n' +
        'the default alignment of memory BARs max(4K, PAGE_SIZE).',
      edits: [
        {
          file: PCI,
          anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
          op: 'replace',
          count: 4,
          lines: [
            'resource_size_t __weak pcibios_default_alignment(void)',
            '{',
            '\t/*',
            '\t * PCIe r6.1 sec 7.7.2: MSI-X structures must not share a naturally',
            '\t * aligned 4 KiB range with other registers.',
            '\t */',
            '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
            '}',
          ],
        },
      ],
    },
  },
  {
    rule: 'policy-in-weak-default',
    file: 'quiet.eml',
    patch: {
      subject: 'PCI: Align small BARs to max(4K, PAGE_SIZE)',
      body:
        'Small BARs of different devices end up in one page, so a device passed\n' +
        'through to a guest exposes the registers of the other (XSA-461). Make\n' +
        'the default alignment of memory BARs max(4K, PAGE_SIZE).',
      edits: [
        {
          file: PCI,
          anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
          op: 'replace',
          count: 4,
          lines: [
            'resource_size_t __weak pcibios_default_alignment(void)',
            '{',
            '\t/*',
            "\t * Keep small BARs of different devices out of each other's pages:",
            '\t * a device passed through to a guest must not expose another',
            "\t * device's registers (XSA-461).",
            '\t */',
            '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
            '}',
          ],
        },
      ],
    },
  },

  // Appended (the position gives each fixture its date): a driver is all of
  // its files (the hold and park modules of the fixture tree's second
  // commit), and a fix whose subject starts with "Add".
  {
    rule: 'driver-managed-dma',
    file: 'fires-other-file.eml',
    patch: {
      subject: 'PCI: hold: Reset the function before holding it',
      body:
        'A function left running by the previous owner can still be mastering\n' +
        'when pci-hold binds to it; reset it first so it comes up quiet.',
      edits: [
        {
          file: 'drivers/pci/hold/hw.c',
          anchor: /^\tpci_read_config_word\(pdev, PCI_COMMAND, &cmd\);$/,
          op: 'before',
          lines: ['\tpci_reset_function(pdev);', ''],
        },
      ],
    },
  },
  {
    rule: 'driver-managed-dma',
    file: 'fires-declaration-other-file.eml',
    patch: {
      subject: 'PCI: park: Let the rest of the group go to userspace',
      body:
        'A parked function does nothing, so it need not keep the other\n' +
        'functions of its IOMMU group from being assigned to a guest.',
      edits: [
        {
          file: 'drivers/pci/hold/park_main.c',
          anchor: /^\t\.probe\t+= park_probe,$/,
          op: 'after',
          lines: ['\t.driver_managed_dma\t= true,'],
        },
      ],
    },
  },
  {
    rule: 'driver-managed-dma',
    file: 'quiet-standalone-object.eml',
    patch: {
      subject: 'PCI: hold: Check the BAR is idle in hold_util_is_quiet()',
      body:
        'Read the status register as well as the command register before\n' +
        'calling a function quiet.',
      edits: [
        {
          file: 'drivers/pci/hold/hold_util.c',
          anchor: /^\treturn !\(cmd & \(PCI_COMMAND_MASTER \| PCI_COMMAND_MEMORY\)\);$/,
          op: 'replace',
          lines: [
            '\tif (cmd & (PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY))',
            '\t\treturn false;',
            '\tregs = pci_iomap(pdev, 0, 4);',
            '\tif (!regs)',
            '\t\treturn true;',
            '\tidle = !(ioread32(regs) & 1);',
            '\tpci_iounmap(pdev, regs);',
            '\treturn idle;',
          ],
        },
        {
          file: 'drivers/pci/hold/hold_util.c',
          anchor: /^\tu16 cmd;$/,
          op: 'after',
          lines: ['\tvoid __iomem *regs;', '\tbool idle;'],
        },
      ],
    },
  },
  {
    rule: 'driver-managed-dma',
    file: 'quiet-other-module.eml',
    patch: {
      subject: 'PCI: park: Enable bus mastering for the sleep handshake',
      body:
        'The device acknowledges the sleep request with a DMA write; enable\n' +
        'bus mastering before asking it to sleep.',
      edits: [
        {
          file: 'drivers/pci/hold/park_hw.c',
          anchor: /^\twritel\(PARK_CTRL_SLEEP, regs \+ PARK_CTRL\);$/,
          op: 'before',
          lines: ['\tpci_set_master(pdev);'],
        },
      ],
    },
  },
  {
    rule: 'stable-and-fixes',
    file: 'quiet-add-missing-check.eml',
    patch: {
      subject: 'vfio/pci: Add missing range check in vfio_pci_core_mmap',
      body:
        'The page offset of a mapping is added to its length unchecked, so a\n' +
        'large vm_pgoff wraps req_start + req_len and passes the size check\n' +
        'against the region. Reject a request whose end wraps.',
      trailers: [
        'Fixes: 5c1d2e3f4a5b ("vfio/pci: Map BARs on first fault")',
        'Cc: stable@vger.kernel.org',
      ],
      edits: [
        {
          file: 'drivers/vfio/pci/vfio_pci_core.c',
          anchor: /^\tif \(req_start \+ req_len > phys_len\)$/,
          op: 'before',
          lines: ['\tif (req_start + req_len < req_start)', '\t\treturn -EINVAL;'],
        },
      ],
    },
  },
  {
    rule: 'stable-and-fixes',
    file: 'fires-enable-feature.eml',
    patch: {
      subject: 'PCI: Enable resource reallocation detection and remove PCI_REALLOC_ENABLE_AUTO',
      body:
        'Detecting firmware that left SR-IOV BARs without space is cheap and\n' +
        'always useful; do it unconditionally and drop the option.',
      trailers: ['Cc: stable@vger.kernel.org'],
      edits: [
        {
          file: 'drivers/pci/Kconfig',
          anchor: /^config PCI_REALLOC_ENABLE_AUTO$/,
          op: 'replace',
          count: 10,
          lines: [],
        },
      ],
    },
  },
];

const author = { name: 'Fixture Author', address: 'fixture.author@example.org' };

/** A line of the author's own, in the file's comment syntax. */
function ownLine(file: string, k: number): string {
  const text = `author's tree, not in the target tree: note ${k}`;
  if (/\.[ch]$/.test(file)) return `/* ${text} */`;
  if (/(^|\/)(Kconfig|Makefile)[^/]*$/.test(file)) return `# ${text}`;
  return text;
}

/** 0-based line of the first line an edit changes or inserts before. */
function firstTouched(lines: string[], e: ExamplePatch['edits'][number]): number {
  const { anchor } = e;
  const at = typeof anchor === 'number' ? anchor - 1 : lines.findIndex((l) => anchor.test(l));
  return e.op === 'replace' ? at : at + (e.op === 'after' ? 1 : 0) + (e.skip ?? 0);
}

/**
 * The author's tree of fixture `i`: real patches are written on another tree
 * than the one they are applied to, so their hunks land tens of lines away
 * from their headers. Above the first line each file's edits touch (three lines
 * of context and one more stay as they are), the author's tree has 20-44 lines
 * of its own (the hunks land that much higher) or, for every other fixture,
 * lacks up to 40 of the tree's lines (they land lower), when the file has room.
 */
function fixtureDrift(
  i: number,
  patch: ExamplePatch,
  files: Record<string, string>,
): ExampleEdit[] {
  const out: ExampleEdit[] = [];
  for (const [j, file] of [...new Set(patch.edits.map((e) => e.file))].entries()) {
    const lines = files[file]!.split('\n');
    const first = Math.min(
      ...patch.edits.filter((e) => e.file === file).map((e) => firstTouched(lines, e)),
    );
    const free = first - 4; // lines 1..free are neither changed nor context
    if (free < 1) continue;
    const remove = Math.min(40, free);
    if ((i + j) % 2 === 1 && remove >= 12) {
      out.push({ file, anchor: 1, op: 'replace', count: remove, lines: [] });
    } else {
      const n = 20 + ((i * 7 + j * 5) % 25);
      out.push({
        file,
        anchor: 1,
        op: 'before',
        lines: Array.from({ length: n }, (_, k) => ownLine(file, k + 1)),
      });
    }
  }
  return out;
}

const work = await mkdtemp(join(tmpdir(), 'pcibot-rule-fixtures-'));
try {
  const { path: tree, commit } = await buildFixtureTree(join(work, 'tree'));
  const files = fixtureTreeFiles();
  const only = process.argv.slice(2);
  for (const [i, f] of fixtures.entries()) {
    if (only.length && !only.includes(f.rule)) continue;
    const series: ExampleSeries = {
      name: `${f.rule}-${f.file.replace(/\.eml$/, '')}`,
      version: 1,
      author,
      to: ['Bjorn Helgaas <bhelgaas@google.com>'],
      cc: ['linux-pci@vger.kernel.org'],
      date: new Date(Date.UTC(2026, 9, 1, 9, 0, i)).toISOString(),
      cover: null,
      patches: [f.patch],
      drift: fixtureDrift(i, f.patch, files),
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
