// A driver that sets driver_managed_dma tells the IOMMU core it does no DMA
// through the kernel API, so its device may stay bound while the rest of the
// IOMMU group is handed to a user (vfio). That is only safe while the driver
// never touches the device's BAR MMIO, never enables bus mastering or maps
// DMA, and never resets the device: a user owning the group could otherwise
// reach those registers peer-to-peer, or the reset would pull the device out
// from under the user. vfio drivers are exempt: handing the device to the user
// is their job.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { addedLines, codeOnly, isC, removedLines, type DiffLine } from '../lib/diff.js';

/** The flag's names over time: driver_managed_dma (v6+), and the earlier RFC names. */
const DECLARATION =
  /\.\s*(driver_managed_dma|suppress_auto_claim_dma_owner|no_kernel_api_dma)\s*=\s*(true|1)\b/;

const MMIO_RISK =
  'a user owning the group could reach those registers peer-to-peer, behind the driver';
const DMA_RISK = 'the device could then do DMA through a group that belongs to a user';
const RESET_RISK = 'the reset would pull the function out from under the user who owns the group';

const FORBIDDEN: { re: RegExp; what: string; risk: string }[] = [
  {
    re: /\b(pcim?_iomap\w*|pci_ioremap\w*|devm_ioremap\w*|ioremap\w*)\s*\(/,
    what: 'maps BAR MMIO',
    risk: MMIO_RISK,
  },
  {
    re: /\b(pcim?_request_(region|regions|selected_regions|mem_regions|all_regions)\w*|pcim_iomap_regions\w*)\s*\(/,
    what: 'claims BAR regions',
    risk: MMIO_RISK,
  },
  {
    re: /\b(pci_set_master|pcim_set_mwi|pci_set_mwi)\s*\(/,
    what: 'enables bus mastering',
    risk: DMA_RISK,
  },
  {
    re: /\b(dma_map_\w+|dma_alloc_\w+|dmam_alloc_\w+|dma_pool_create|dma_set_mask\w*)\s*\(/,
    what: 'sets up DMA',
    risk: DMA_RISK,
  },
  {
    re: /\b(pci_reset_function\w*|__pci_reset_function_locked|pci_reset_bus|pci_try_reset_function|pcie_flr|pci_reset_secondary_bus|pci_bridge_secondary_bus_reset)\s*\(/,
    what: 'resets the device',
    risk: RESET_RISK,
  },
];

/** portdrv's service drivers run on the port that portdrv is bound to. */
const isPortService = (p: string) =>
  /^drivers\/pci\/(pcie\/[^/]+\.c|hotplug\/pciehp\w*\.c)$/.test(p);
const PORTDRV = 'drivers/pci/pcie/portdrv.c';

function forbiddenIn(line: DiffLine): { what: string; risk: string } | null {
  const code = codeOnly(line.text);
  return FORBIDDEN.find((f) => f.re.test(code)) ?? null;
}

async function declares(ctx: RuleContext, file: string): Promise<boolean> {
  const text = (await (ctx.after ?? ctx.before).read(file)) ?? '';
  return DECLARATION.test(text);
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const hits: RuleHit[] = [];
  // A line that is only moved or re-indented (also removed by the patch) is not new behaviour.
  const removed = new Set(removedLines(ctx.diff, isC).map((l) => l.text.trim()));
  const added = addedLines(ctx.diff, isC).filter((l) => !l.file.startsWith('drivers/vfio/'));
  const files = [...new Set(added.map((l) => l.file))];
  const portdrvDeclares = files.some(isPortService) ? await declares(ctx, PORTDRV) : false;

  for (const file of files) {
    const declaring = (await declares(ctx, file)) || (isPortService(file) && portdrvDeclares);
    if (!declaring) continue;
    const owner =
      isPortService(file) && file !== PORTDRV
        ? `${file} (a service of portdrv, which sets driver_managed_dma)`
        : file;
    for (const line of added.filter((l) => l.file === file)) {
      const found = removed.has(line.text.trim()) ? null : forbiddenIn(line);
      if (!found) continue;
      hits.push({
        title: `A driver_managed_dma driver ${found.what}`,
        detail:
          `${owner} declares driver_managed_dma, so its device may stay bound while the rest of ` +
          `its IOMMU group is owned by userspace; this line ${found.what}, which that promise rules out: ` +
          `${found.risk}.`,
        file,
        line: line.line,
        evidence: {
          code: line.text.trim(),
          declaredIn: isPortService(file) && file !== PORTDRV ? PORTDRV : file,
        },
      });
    }
  }

  // The other direction: a patch adds the declaration to a driver that already does these things.
  for (const decl of added.filter((l) => DECLARATION.test(l.text))) {
    const text = (await (ctx.after ?? ctx.before).read(decl.file)) ?? '';
    const offending = text
      .split('\n')
      .map((t, i) => ({ file: decl.file, line: i + 1, text: t }))
      .map((l) => ({ l, what: forbiddenIn(l)?.what ?? null }))
      .filter((x) => x.what !== null);
    if (offending.length === 0) continue;
    hits.push({
      title: 'driver_managed_dma declared by a driver that touches its device',
      detail:
        `This makes ${decl.file} declare driver_managed_dma, but the driver ${offending[0]!.what} ` +
        `(line ${offending[0]!.l.line}). The changelog must show the driver does no DMA and no MMIO; ` +
        'as it stands, a group containing this device could be given to userspace while the driver uses it.',
      file: decl.file,
      line: decl.line,
      evidence: {
        offending: offending.slice(0, 5).map((x) => `${x.l.line}: ${x.l.text.trim()} (${x.what})`),
      },
    });
  }
  return hits;
}

const rule: Rule = {
  id: 'driver-managed-dma',
  title: 'driver_managed_dma driver touching MMIO, DMA or reset',
  severity: 'error',
  rationale:
    'driver_managed_dma lets a driver stay bound in a user-owned IOMMU group; that is only safe ' +
    'if it never maps BAR MMIO, enables DMA or resets the device.',
  references: [
    "Lu Baolu, [PATCH 04/11] PCI: portdrv: Suppress kernel DMA ownership auto-claiming, linux-pci, 2021-11, and Bjorn Helgaas's review",
    'commit c7d469849747 ("PCI: portdrv: Set driver_managed_dma"), v5.19',
    'Jason Gunthorpe: such drivers must never reset the device (same thread)',
  ],
  check,
};

export default rule;
