// KernelPolicy: the kernel behaviour the model depends on, as data. It is the
// contract with the policy reader (another issue), which fills it in by reading
// a kernel tree (pcibios_default_alignment, pci_request_resource_alignment, the
// x86 claim pass, vfio_pci_probe_mmaps, pci_device_group, ...). Tests and the
// CLI build policies directly; policyFor6_12() is the behaviour of Linux 6.12
// as read in /root/.cache/pcibot/linux-6.12.

/** What pcibios_default_alignment() returns. */
export type DefaultAlignment = 'zero' | 'page' | 'max-4k-page' | { bytes: number };

export interface KernelPolicy {
  /** Short name for reports: `6.12`, `6.12+align-small-bars`. */
  name: string;
  defaultAlignment: DefaultAlignment;
  /** pci=resource_alignment= handling (pci_specified_resource_alignment). */
  resourceAlignment: {
    supported: boolean;
    /**
     * How devices named in the parameter are realigned: `resize` (Method 1:
     * the resource becomes [0, align-1]) or `startalign` (Method 2).
     */
    namedMethod: 'resize' | 'startalign';
    /** How the arch default alignment is applied (6.12: Method 2, STARTALIGN). */
    defaultMethod: 'resize' | 'startalign';
    /**
     * pci_request_resource_alignment() leaves alone a BAR that already starts
     * on the requested boundary ("PCI: Don't reassign resources that are
     * already aligned", v3 7/8): `no` (6.12), `unless-resize` (only when the
     * BAR is not being resized, i.e. for the arch default), `always`.
     */
    keepAligned: 'no' | 'unless-resize' | 'always';
    /**
     * pci_reassigndev_resource_alignment() turns memory decoding off and
     * releases a bridge's windows only when one of the device's BARs was
     * realigned ("PCI: Don't unnecessarily disable memory decoding", v3 2/8).
     * false in 6.12: every targeted device loses decoding and windows.
     */
    onlyWhenNeeded: boolean;
  };
  /**
   * x86 pcibios_allocate_dev_resources() claims every BAR with a non-zero
   * start; a STARTALIGN BAR fails the claim and is rebased to [0, size-1],
   * losing its alignment ("disabling; bad alignment 0x0"). True in 6.12.
   */
  x86ClaimDropsStartAlign: boolean;
  /**
   * pci_bridge_release_resources() (the realloc retry path) realigns the
   * devices below a released window again ("PCI: Restore resource
   * alignment", v3 3/8). false in 6.12: released BARs keep a STARTALIGN flag
   * with a start of 0.
   */
  restoreAlignmentOnRelease: boolean;
  /** pci=realloc default: `off` (undefined in the kernel), `auto` (CONFIG_PCI_REALLOC_ENABLE_AUTO), `on`. */
  realloc: 'off' | 'auto' | 'on';
  /** CONFIG_PCI_IOV: SR-IOV BARs are sized and assigned. */
  iov: boolean;
  /** pci_hotplug_{io,mmio,mmio_pref}_size defaults. */
  hotplug: { io: number; mmio: number; mmioPref: number };
  vfio: {
    /**
     * vfio_pci_probe_mmaps() for BARs smaller than PAGE_SIZE:
     * `exclusive-page` (v4.8+: page-aligned and the rest of the page reservable),
     * `never` (before v4.8).
     */
    subPageMmap: 'exclusive-page' | 'never';
    /** v4.16+: the MSI-X table's BAR may be mmap'd whole (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE). */
    msixMappable: boolean;
    /** vendor:device pairs whose BARs are never mmap'd (pdev->non_mappable_bars, v6.15 for s390 ISM). */
    nonMappable: string[];
    /** A generic size cap on mmap-able BARs in bytes; null when there is none (all releases so far). */
    maxMappableBar: number | null;
  };
  /** pci_device_group(): before Jason Gunthorpe's 2025 ACS series, or with it. */
  acsGrouping: 'pre-2025' | 'acs-fix-2025';
  /** arm-smmu-v3 refuses a second master with a StreamID already in use ("stream N already in tree"). */
  smmuRejectsSharedStreamIds: boolean;
  /** Extra behaviour outside the fields above (e.g. `pcie_acs_override=downstream`). */
  quirks: string[];
}

export function policyFor6_12(): KernelPolicy {
  return {
    name: '6.12',
    defaultAlignment: 'zero',
    resourceAlignment: {
      supported: true,
      namedMethod: 'resize',
      defaultMethod: 'startalign',
      keepAligned: 'no',
      onlyWhenNeeded: false,
    },
    x86ClaimDropsStartAlign: true,
    restoreAlignmentOnRelease: false,
    realloc: 'off',
    iov: true,
    hotplug: { io: 256, mmio: 2 * 2 ** 20, mmioPref: 2 * 2 ** 20 },
    vfio: {
      subPageMmap: 'exclusive-page',
      msixMappable: true,
      nonMappable: [],
      maxMappableBar: null,
    },
    acsGrouping: 'pre-2025',
    smmuRejectsSharedStreamIds: true,
    quirks: [],
  };
}

/** 6.12 with only "PCI: Align small BARs" 8/8 (default alignment max(4K, PAGE_SIZE)), as booted in ground truth. */
export function policyMax4kPage(): KernelPolicy {
  return { ...policyFor6_12(), name: '6.12+max-4k-page', defaultAlignment: 'max-4k-page' };
}

/**
 * The whole v3 series ("PCI: Align small BARs", 1-8/8): the x86 claim pass
 * keeps STARTALIGN (5/8), only devices with a BAR to realign lose decoding and
 * windows (2/8), already aligned BARs stay (7/8), a released window's devices
 * are realigned again (3/8), and the default alignment is max(4K, PAGE_SIZE) (8/8).
 */
export function policyAlignSmallBarsV3(): KernelPolicy {
  const p = policyMax4kPage();
  return {
    ...p,
    name: '6.12+align-small-bars-v3',
    resourceAlignment: {
      ...p.resourceAlignment,
      keepAligned: 'unless-resize',
      onlyWhenNeeded: true,
    },
    x86ClaimDropsStartAlign: false,
    restoreAlignmentOnRelease: true,
  };
}

/** v6.15: s390 ISM BARs are non-mappable (pdev->non_mappable_bars). */
export function policyFor6_15(): KernelPolicy {
  const p = policyFor6_12();
  return { ...p, name: '6.15', vfio: { ...p.vfio, nonMappable: ['1014:04ed'] } };
}

export function policyAcsFix2025(): KernelPolicy {
  return { ...policyFor6_12(), name: '6.12+acs-fix-2025', acsGrouping: 'acs-fix-2025' };
}

/** Named policies for the CLI's --policy. */
export const NAMED_POLICIES: Record<string, () => KernelPolicy> = {
  '6.12': policyFor6_12,
  'max-4k-page': policyMax4kPage,
  'align-small-bars-v3': policyAlignSmallBarsV3,
  '6.15': policyFor6_15,
  'acs-fix-2025': policyAcsFix2025,
};

/** The byte alignment pcibios_default_alignment() yields for a kernel PAGE_SIZE. */
export function defaultAlignmentBytes(p: KernelPolicy, pageSize: number): number {
  const d = p.defaultAlignment;
  if (d === 'zero') return 0;
  if (d === 'page') return pageSize;
  if (d === 'max-4k-page') return Math.max(4096, pageSize);
  return d.bytes;
}

function fmtAlign(d: DefaultAlignment): string {
  if (d === 'zero') return '0 (no realignment)';
  if (d === 'page') return 'PAGE_SIZE';
  if (d === 'max-4k-page') return 'max(4K, PAGE_SIZE)';
  return `${d.bytes} bytes`;
}

export function describePolicy(p: KernelPolicy): string {
  const lines = [
    `kernel policy ${p.name}:`,
    `  default alignment: ${fmtAlign(p.defaultAlignment)}${p.defaultAlignment === 'zero' ? '' : ` via ${p.resourceAlignment.defaultMethod === 'startalign' ? 'IORESOURCE_STARTALIGN (Method 2)' : 'resize (Method 1)'}`}`,
    `  pci=resource_alignment=: ${p.resourceAlignment.supported ? `named devices ${p.resourceAlignment.namedMethod === 'resize' ? 'resized (Method 1)' : 'STARTALIGN (Method 2)'}` : 'not supported'}`,
    `  already aligned BARs: ${p.resourceAlignment.keepAligned === 'no' ? 'realigned too' : `left in place${p.resourceAlignment.keepAligned === 'unless-resize' ? ' (unless resized)' : ''}`}; decoding and bridge windows: ${p.resourceAlignment.onlyWhenNeeded ? 'touched only when a BAR is realigned' : 'turned off / released for every targeted device'}`,
    `  x86 claim pass drops STARTALIGN starts: ${p.x86ClaimDropsStartAlign ? 'yes (such BARs are lost)' : 'no'}`,
    `  realloc retry realigns devices below a released window: ${p.restoreAlignmentOnRelease ? 'yes' : 'no'}`,
    `  pci=realloc default: ${p.realloc}; SR-IOV BARs: ${p.iov ? 'sized' : 'not sized (no CONFIG_PCI_IOV)'}`,
    `  hotplug headroom: io ${p.hotplug.io}, mmio ${p.hotplug.mmio}, mmio_pref ${p.hotplug.mmioPref}`,
    `  vfio mmap: sub-page BARs ${p.vfio.subPageMmap === 'exclusive-page' ? 'only when page-aligned with the page exclusive' : 'never'}; MSI-X BAR ${p.vfio.msixMappable ? 'mappable' : 'not mappable over the table'}; non-mappable quirks ${p.vfio.nonMappable.length ? p.vfio.nonMappable.join(' ') : 'none'}; size cap ${p.vfio.maxMappableBar ?? 'none'}`,
    `  IOMMU grouping: ${p.acsGrouping === 'pre-2025' ? 'pci_device_group() as in v6.18 and before' : 'with the 2025 ACS fix (egress-only ACS, sibling ports merged)'}`,
    `  SMMUv3 shared StreamIDs: ${p.smmuRejectsSharedStreamIds ? 'second master rejected' : 'allowed'}`,
  ];
  if (p.quirks.length) lines.push(`  quirks: ${p.quirks.join(', ')}`);
  return lines.join('\n');
}
