// A driver that sets driver_managed_dma tells the IOMMU core it does no DMA
// through the kernel API, so its device may stay bound while the rest of the
// IOMMU group is handed to a user (vfio). That is only safe while the driver
// never touches the device's BAR MMIO, never enables bus mastering or maps
// DMA, and never resets the device: a user owning the group could otherwise
// reach those registers peer-to-peer, or the reset would pull the device out
// from under the user. vfio drivers are exempt: handing the device to the user
// is their job. A driver is all of its files: the declaration and the calls
// are looked for in every C file of the driver's module, as its Kbuild file
// lists them (rules/lib/kbuild.ts), and portdrv's services count as portdrv.
import { posix } from 'node:path';
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { addedLines, codeOnly, isC, removedLines, type DiffLine } from '../lib/diff.js';
import { moduleFiles, type ModuleFiles } from '../lib/kbuild.js';

/** The flag's names over time: driver_managed_dma (v6+), and the earlier RFC names. */
const DECLARED_NAMES = ['driver_managed_dma', 'suppress_auto_claim_dma_owner', 'no_kernel_api_dma'];
const DECLARATION = new RegExp(`\\.\\s*(${DECLARED_NAMES.join('|')})\\s*=\\s*(true|1)\\b`);

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

/** The tree the patch leaves (or the one before, when it did not apply). */
const treeOf = (ctx: RuleContext) => ctx.after ?? ctx.before;

/** Where a driver's declaration is: a file of its module (the Kbuild composite) that declares it. */
async function declaringFile(ctx: RuleContext, files: string[]): Promise<string | null> {
  for (const f of files) {
    const text = (await treeOf(ctx).read(f)) ?? '';
    // Most files name none of the flags: skip them before the per-line work
    // (pci.c alone is 7,000 lines, read for every patch that touches it).
    if (!DECLARED_NAMES.some((n) => text.includes(n))) continue;
    if (text.split('\n').some((l) => DECLARATION.test(codeOnly(l)))) return f;
  }
  return null;
}

/** `module pci-hold (hw.c, main.c, debug.c)`: the composite and its files, as the Kbuild file lists them. */
const moduleName = (m: ModuleFiles) =>
  `module ${m.modules.join('/')} (${m.files.map((f) => posix.basename(f)).join(', ')})`;

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const hits: RuleHit[] = [];
  // A line that is only moved or re-indented (also removed by the patch) is not new behaviour.
  const removed = new Set(removedLines(ctx.diff, isC).map((l) => l.text.trim()));
  const added = addedLines(ctx.diff, isC).filter((l) => !l.file.startsWith('drivers/vfio/'));
  const files = [...new Set(added.map((l) => l.file))];
  const portdrvDeclares = files.some(isPortService)
    ? (await declaringFile(ctx, [PORTDRV])) !== null
    : false;

  // A driver is all of its files: the declaration may sit in main.c while the
  // patch maps MMIO in hw.c of the same module.
  for (const file of files) {
    const module = await moduleFiles(treeOf(ctx), file);
    const declaredIn =
      (await declaringFile(ctx, module.files)) ??
      (isPortService(file) && portdrvDeclares ? PORTDRV : null);
    if (!declaredIn) continue;
    const owner =
      declaredIn === file
        ? `${file} declares driver_managed_dma`
        : module.files.includes(declaredIn)
          ? `${file} is part of ${moduleName(module)}, and ${declaredIn} declares driver_managed_dma`
          : `${file} is a service of portdrv, and ${declaredIn} declares driver_managed_dma`;
    for (const line of added.filter((l) => l.file === file)) {
      const found = removed.has(line.text.trim()) ? null : forbiddenIn(line);
      if (!found) continue;
      hits.push({
        title: `A driver_managed_dma driver ${found.what}`,
        detail:
          `${owner}, so the device may stay bound while the rest of ` +
          `its IOMMU group is owned by userspace; this line ${found.what}, which that promise rules out: ` +
          `${found.risk}.`,
        file,
        line: line.line,
        evidence: {
          code: line.text.trim(),
          declaredIn,
          ...(module.modules.length
            ? { module: module.modules.join('/'), moduleFiles: module.files }
            : {}),
        },
      });
    }
  }

  // The other direction: a patch adds the declaration to a driver that already
  // does these things, in the declaring file or any other file of its module.
  for (const decl of added.filter((l) => DECLARATION.test(codeOnly(l.text)))) {
    const module = await moduleFiles(treeOf(ctx), decl.file);
    const offending: { file: string; line: number; text: string; what: string }[] = [];
    for (const file of module.files) {
      const text = (await treeOf(ctx).read(file)) ?? '';
      text.split('\n').forEach((t, i) => {
        const what = forbiddenIn({ file, line: i + 1, text: t })?.what;
        if (what) offending.push({ file, line: i + 1, text: t.trim(), what });
      });
    }
    if (offending.length === 0) continue;
    const first = offending[0]!;
    const where = first.file === decl.file ? `line ${first.line}` : `${first.file}:${first.line}`;
    hits.push({
      title: 'driver_managed_dma declared by a driver that touches its device',
      detail:
        `This makes ${decl.file} declare driver_managed_dma, but the driver ${first.what} ` +
        `(${where}${module.modules.length ? `, in ${moduleName(module)}` : ''}). ` +
        'The changelog must show the driver does no DMA and no MMIO; ' +
        'as it stands, a group containing this device could be given to userspace while the driver uses it.',
      file: decl.file,
      line: decl.line,
      evidence: {
        offending: offending
          .slice(0, 5)
          .map(
            (x) => `${x.file === decl.file ? '' : `${x.file}:`}${x.line}: ${x.text} (${x.what})`,
          ),
        ...(module.modules.length
          ? { module: module.modules.join('/'), moduleFiles: module.files }
          : {}),
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
