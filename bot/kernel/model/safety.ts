// VFIO safety checks over a Layout at one page size. Each finding names the
// devices, BARs, addresses, page size and page, and cites its reference; a
// layout with no problem yields nothing.
//
//   model/shared-page   memory BARs of different devices in one page (XSA-461)   error
//   model/subpage-mmap  a sub-page BAR vfio-pci will not mmap (every access traps) warning
//   model/msix-page     MSI-X table/PBA sharing a 4 KiB range (PCIe r6.x 7.7.2)
//                       or, at larger pages, a host page with other registers      warning
//   model/oversized-bar a BAR too large to map whose mmap the policy still offers  error
//   model/group         devices that cannot be assigned apart (IOMMU groups)       warning
//   model/viommu-attach devices the guest's vIOMMU refuses (SMMUv3 StreamID clash)  info
import type { Finding } from '../../types.js';
import type { HostGroup, IommuGroup, Layout, LayoutBar, LayoutDevice, MsixInfo } from './layout.js';
import type { KernelPolicy } from './policy.js';

export interface SafetyInput {
  layout: Layout;
  pageSize: number;
  policy: KernelPolicy;
  /**
   * Host-side IOMMU groups (bdf -> id), used to say whether devices could be
   * assigned apart. null when unknown (a pasted layout).
   */
  groupOf: Map<string, number> | null;
  /** The groups themselves, with the topology facts that explain them (model/group). */
  groupReasons?: HostGroup[];
  /** Guest vIOMMU refusals (model/viommu-attach). */
  rejected?: { bdf: string; reason: string }[];
  /** Root bus windows, for the sub-page reservation test; unknown when absent. */
  rootWindows?: { kind: 'io' | 'mem'; start: number; end: number }[];
  /** Largest BAR the platform can map (ioremap/user VA); default 32 TiB. */
  mappableLimit?: number;
  /** Scenario name (or pasted file) for the evidence. */
  source: string;
}

const REF = {
  xsa461:
    'XSA-461 / CVE-2024-31146 (Xen, 2024): passing through devices that share a 4 KiB page is not security-supported',
  probeMmaps:
    'drivers/vfio/pci/vfio_pci_core.c: vfio_pci_probe_mmaps() (sub-page BARs need a page-aligned start and an exclusive page, commit 05f0c03fbac1)',
  msixSpec:
    'PCIe r6.x sec 7.7.2: MSI-X Table and PBA must not share a naturally aligned 4 KiB range with other registers',
  msixMappable:
    'commit a32295c612c5 (vfio-pci: Allow mapping MSIX BAR, v4.16); QEMU vfio-pci x-msix-relocation',
  oversized:
    '"vfio/pci: Tolerate oversized BARs by disallowing mmap" (2024); pdev->non_mappable_bars (v6.15, s390 ISM)',
  groups:
    'drivers/iommu/iommu.c: pci_device_group(); drivers/pci/search.c: pci_for_each_dma_alias()',
  acsFix: 'Jason Gunthorpe, "Fix incorrect iommu_groups with PCIe ACS" (2025)',
  smmu: 'drivers/iommu/arm/arm-smmu-v3: arm_smmu_insert_master() ("stream N already in tree")',
};

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

export function fmtSize(n: number): string {
  const u = ['B', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  while (n >= 1024 && n % 1024 === 0 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n}${u[i]}`;
}

export function pageLabel(p: number): string {
  return fmtSize(p).replace(' B', '');
}

const short = (bdf: string) => (bdf.startsWith('0000:') ? bdf.slice(5) : bdf);
const barName = (i: number) => (i === 6 ? 'ROM' : `BAR${i}`);

/** Endpoints (and VFs) are what vfio-pci assigns; bridges and host bridges are host-owned. */
export function isAssignable(d: LayoutDevice): boolean {
  return d.kind === 'endpoint';
}

interface MemBar {
  dev: LayoutDevice;
  bar: LayoutBar;
  start: number;
  end: number;
}

function memBars(layout: Layout, includeRoms: boolean): MemBar[] {
  const out: MemBar[] = [];
  for (const dev of layout.devices) {
    for (const bar of dev.bars) {
      if (bar.start === null || bar.flags.io || bar.size <= 0) continue;
      if (bar.index === 6 && !includeRoms) continue;
      out.push({ dev, bar, start: bar.start, end: bar.start + bar.size - 1 });
    }
  }
  return out;
}

/** Key that identifies a finding across policies: check, devices, BARs, page size (not addresses). */
function findingKey(check: string, items: string[], pageSize: number): string {
  return `${check}|${[...items].sort().join(',')}|${pageSize}`;
}

export function runSafetyChecks(inp: SafetyInput): Finding[] {
  return [
    ...checkSharedPages(inp),
    ...checkSubPage(inp),
    ...checkMsix(inp),
    ...checkOversized(inp),
    ...checkGroups(inp),
  ];
}

// 1 ------------------------------------------------------------------------

function checkSharedPages(inp: SafetyInput): Finding[] {
  const P = inp.pageSize;
  const bars = memBars(inp.layout, false);
  const byPage = new Map<number, MemBar[]>();
  for (const b of bars) {
    // A BAR covers whole pages between its first and last: only those two can be shared.
    for (const page of new Set([Math.floor(b.start / P), Math.floor(b.end / P)])) {
      const l = byPage.get(page) ?? [];
      l.push(b);
      byPage.set(page, l);
    }
  }
  // One finding per set of BARs, listing every page they share.
  const sets = new Map<string, { members: MemBar[]; pages: number[] }>();
  for (const [page, list] of [...byPage.entries()].sort((a, b) => a[0] - b[0])) {
    const devs = new Set(list.map((b) => b.dev.bdf));
    if (devs.size < 2) continue;
    if (!list.some((b) => isAssignable(b.dev))) continue;
    const id = list
      .map((b) => `${b.dev.bdf}/${b.bar.index}`)
      .sort()
      .join(',');
    const s = sets.get(id) ?? { members: list, pages: [] };
    s.pages.push(page * P);
    sets.set(id, s);
  }
  const out: Finding[] = [];
  for (const { members, pages } of sets.values()) {
    const sorted = [...members].sort((a, b) => a.start - b.start);
    const devs = [...new Set(sorted.map((m) => m.dev.bdf))];
    const groups = inp.groupOf ? [...new Set(devs.map((d) => inp.groupOf!.get(d)))] : null;
    const sameGroup = groups !== null && groups.length === 1 && groups[0] !== undefined;
    const what = sorted
      .map((m) => `${short(m.dev.bdf)} ${barName(m.bar.index)} [${hex(m.start)}-${hex(m.end)}]`)
      .join(', ');
    const pageText = pages.map(hex).join(', ');
    let detail = `${what} lie in the same ${pageLabel(inp.pageSize)} page (${pageText}). A guest given one of these devices can map that page and reach the other ${devs.length > 2 ? "devices'" : "device's"} registers (XSA-461).`;
    if (sameGroup) {
      detail += ` vfio would assign them only together (they share IOMMU group ${groups![0]}), but hypervisors that pass functions through one by one (Xen) would not.`;
    } else if (groups) {
      detail += ' They are in different IOMMU groups, so vfio lets them go to different owners.';
    }
    out.push({
      rule: 'model/shared-page',
      severity: 'error',
      title: `${devs.length} devices share a ${pageLabel(inp.pageSize)} page at ${hex(pages[0]!)}`,
      detail,
      evidence: {
        key: findingKey(
          'shared-page',
          sorted.map((m) => `${m.dev.bdf}/${m.bar.index}`),
          inp.pageSize,
        ),
        source: inp.source,
        pageSize: inp.pageSize,
        pages: pages.map(hex),
        devices: devs,
        bars: sorted.map((m) => ({
          bdf: m.dev.bdf,
          name: m.dev.name,
          bar: m.bar.index,
          start: hex(m.start),
          size: m.bar.size,
        })),
        groups: inp.groupOf
          ? Object.fromEntries(devs.map((d) => [d, inp.groupOf!.get(d) ?? null]))
          : null,
      },
      references: [REF.xsa461],
    });
  }
  return out;
}

// 2 ------------------------------------------------------------------------

function checkSubPage(inp: SafetyInput): Finding[] {
  const P = inp.pageSize;
  const all = memBars(inp.layout, true);
  const windows = inp.layout.devices.flatMap((d) =>
    d.windows.filter((w) => w.kind !== 'io').map((w) => ({ dev: d, ...w })),
  );
  const out: Finding[] = [];
  for (const dev of inp.layout.devices) {
    if (!isAssignable(dev)) continue;
    for (const bar of dev.bars) {
      // Size 0: lspci gave none (a legacy "type 3" region): nothing known to check.
      if (bar.start === null || bar.flags.io || bar.index === 6 || bar.size <= 0 || bar.size >= P)
        continue;
      const start = bar.start;
      const end = start + bar.size - 1;
      const rest = { start: end + 1, end: Math.floor(start / P) * P + P - 1 };
      let why: string | null = null;
      const others: MemBar[] = [];
      if (inp.policy.vfio.subPageMmap === 'never') {
        why = 'this kernel never mmaps BARs smaller than a page';
      } else if (start % P !== 0) {
        why = `it does not start on a ${pageLabel(P)} boundary, so its in-page offset cannot be preserved`;
        for (const o of all)
          if (o.dev.bdf !== dev.bdf || o.bar.index !== bar.index)
            if (o.start <= rest.end && o.end >= Math.floor(start / P) * P) others.push(o);
      } else {
        for (const o of all) {
          if (o.dev.bdf === dev.bdf && o.bar.index === bar.index) continue;
          if (o.start <= rest.end && o.end >= rest.start) others.push(o);
        }
        const sibling = windows.find(
          (w) => w.start <= rest.end && w.end >= rest.start && !(w.start <= start && w.end >= end),
        );
        const parent = windows
          .filter((w) => w.start <= start && w.end >= end)
          .sort((a, b) => a.end - a.start - (b.end - b.start))[0];
        if (others.length) {
          why = `the rest of its page holds ${others.map((o) => `${short(o.dev.bdf)} ${barName(o.bar.index)}`).join(', ')}, so the "vfio sub-page reserved" claim fails`;
        } else if (sibling) {
          why = `the rest of its page overlaps ${short(sibling.dev.bdf)}'s bridge window, so the "vfio sub-page reserved" claim fails`;
        } else if (parent && rest.end > parent.end) {
          why = `its page runs past the bridge window of ${short(parent.dev.bdf)} [${hex(parent.start)}-${hex(parent.end)}], so the rest of the page cannot be reserved`;
        } else if (!parent && inp.rootWindows) {
          const root = inp.rootWindows.find(
            (w) => w.kind === 'mem' && w.start <= start && w.end >= end,
          );
          if (root && rest.end > root.end)
            why =
              'its page runs past the host bridge window, so the rest of the page cannot be reserved';
        }
      }
      if (!why) continue;
      out.push({
        rule: 'model/subpage-mmap',
        severity: 'warning',
        title: `${short(dev.bdf)} ${barName(bar.index)} (${fmtSize(bar.size)}) is not mmap-able at ${pageLabel(P)} pages`,
        detail: `${dev.name} ${short(dev.bdf)} ${barName(bar.index)} [${hex(start)}-${hex(end)}] is smaller than a ${pageLabel(P)} page and ${why}. vfio-pci will not mmap it: every guest access traps to the VMM (slow, but not a leak).`,
        evidence: {
          key: findingKey('subpage-mmap', [`${dev.bdf}/${bar.index}`], P),
          source: inp.source,
          pageSize: P,
          device: dev.bdf,
          name: dev.name,
          bar: bar.index,
          start: hex(start),
          size: bar.size,
          page: hex(Math.floor(start / P) * P),
          sharedWith: others.map((o) => ({
            bdf: o.dev.bdf,
            bar: o.bar.index,
            start: hex(o.start),
          })),
        },
        references: [REF.probeMmaps],
      });
    }
  }
  return out;
}

// 3 ------------------------------------------------------------------------

interface Span {
  start: number;
  end: number;
}

/**
 * Register spans in `range` (BAR offsets) other than the MSI-X structures:
 * exact when the catalogue knows the BAR's registers, else everything in the
 * range before the first MSI-X structure (hardware packs registers first) and,
 * for a BAR that is smaller than the range, the space after the last one.
 */
function registersIn(range: Span, barSize: number, msix: MsixInfo, structs: Span[]): Span[] {
  const lim = { start: Math.max(range.start, 0), end: Math.min(range.end, barSize - 1) };
  if (msix.otherRegisters) {
    return msix.otherRegisters
      .map((r) => ({
        start: Math.max(r.offset, lim.start),
        end: Math.min(r.offset + r.size - 1, lim.end),
      }))
      .filter((s) => s.start <= s.end);
  }
  const inside = structs
    .filter((s) => s.start <= lim.end && s.end >= lim.start)
    .sort((a, b) => a.start - b.start);
  if (!inside.length) return [];
  const out: Span[] = [];
  if (inside[0]!.start > lim.start) out.push({ start: lim.start, end: inside[0]!.start - 1 });
  const last = Math.max(...inside.map((s) => s.end));
  if (barSize - 1 <= range.end && last < lim.end) out.push({ start: last + 1, end: lim.end });
  return out;
}

function checkMsix(inp: SafetyInput): Finding[] {
  const out: Finding[] = [];
  const P = inp.pageSize;
  for (const dev of inp.layout.devices) {
    const m = dev.msix;
    if (!m) continue;
    const bar = dev.bars.find((b) => b.index === m.tableBar);
    if (!bar || bar.flags.io) continue;
    const structs: Span[] = [{ start: m.tableOffset, end: m.tableOffset + m.tableSize - 1 }];
    if (m.pbaBar === m.tableBar)
      structs.push({ start: m.pbaOffset, end: m.pbaOffset + m.pbaSize - 1 });
    // Naturally aligned ranges are absolute when the BAR has an address (a BAR
    // smaller than the range may start anywhere inside it); offsets otherwise.
    const clash = (unit: number): { range: Span; regs: Span[] } | null => {
      for (const s of structs) {
        const b0 = bar.start ?? 0;
        const first = Math.floor((b0 + s.start) / unit) * unit - b0;
        const range = { start: first, end: first + unit - 1 };
        const regs = registersIn(range, bar.size, m, structs);
        if (regs.length) return { range, regs };
      }
      return null;
    };
    const spec = clash(4096);
    const base = bar.start;
    const at = (off: number) => (base === null ? `offset ${hex(off)}` : hex(base + off));
    const evidence = (unit: number, c: { range: Span; regs: Span[] }) => ({
      key: findingKey(
        unit === 4096 ? 'msix-4k' : 'msix-page',
        [`${dev.bdf}/${m.tableBar}`],
        unit === 4096 ? 4096 : P,
      ),
      source: inp.source,
      pageSize: P,
      device: dev.bdf,
      name: dev.name,
      bar: m.tableBar,
      barStart: base === null ? null : hex(base),
      table: { offset: hex(m.tableOffset), size: m.tableSize },
      pba: { bar: m.pbaBar, offset: hex(m.pbaOffset), size: m.pbaSize },
      range: { start: at(c.range.start), size: c.range.end - c.range.start + 1 },
      registers: c.regs.map((r) => ({ offset: hex(r.start), size: r.end - r.start + 1 })),
    });
    if (spec) {
      out.push({
        rule: 'model/msix-page',
        severity: 'warning',
        title: `${short(dev.bdf)} ${barName(m.tableBar)}: MSI-X shares a 4 KiB range with other registers`,
        detail: `${dev.name} ${short(dev.bdf)} keeps its MSI-X table (${barName(m.tableBar)} offset ${hex(m.tableOffset)}) in the same naturally aligned 4 KiB range as other registers (${spec.regs.map((r) => `offset ${hex(r.start)}-${hex(r.end)}`).join(', ')}), which PCIe r6.x 7.7.2 forbids: the VMM cannot trap the table without trapping those registers.`,
        evidence: evidence(4096, spec),
        references: [REF.msixSpec, REF.msixMappable],
      });
      continue;
    }
    if (P > 4096) {
      const host = clash(P);
      if (host) {
        out.push({
          rule: 'model/msix-page',
          severity: 'warning',
          title: `${short(dev.bdf)} ${barName(m.tableBar)}: MSI-X table shares a ${pageLabel(P)} page with registers`,
          detail: `${dev.name} ${short(dev.bdf)} follows the 4 KiB rule, but at ${pageLabel(P)} pages its MSI-X table's page (${at(host.range.start)}) also holds registers (${host.regs.map((r) => `offset ${hex(r.start)}-${hex(r.end)}`).join(', ')}). ${inp.policy.vfio.msixMappable ? 'vfio-pci lets userspace map that page (MSIX_MAPPABLE), relying on isolated MSI; QEMU still traps it unless x-msix-relocation moves the table.' : 'vfio-pci will not map over the table, so those registers trap on every access.'}`,
          evidence: evidence(P, host),
          references: [REF.msixSpec, REF.msixMappable],
        });
      }
    }
  }
  return out;
}

// 4 ------------------------------------------------------------------------

const DEFAULT_MAPPABLE = 2 ** 45; // 32 TiB: the x86-64 4-level vmalloc/ioremap space

function checkOversized(inp: SafetyInput): Finding[] {
  const out: Finding[] = [];
  const limit = inp.mappableLimit ?? DEFAULT_MAPPABLE;
  for (const dev of inp.layout.devices) {
    if (!isAssignable(dev)) continue;
    for (const bar of dev.bars) {
      if (bar.flags.io || bar.index === 6 || bar.size <= limit) continue;
      const id =
        dev.vendor !== undefined && dev.device !== undefined
          ? `${dev.vendor.toString(16).padStart(4, '0')}:${dev.device.toString(16).padStart(4, '0')}`
          : null;
      if (id && inp.policy.vfio.nonMappable.includes(id)) continue;
      if (inp.policy.vfio.maxMappableBar !== null && bar.size > inp.policy.vfio.maxMappableBar)
        continue;
      out.push({
        rule: 'model/oversized-bar',
        severity: 'error',
        title: `${short(dev.bdf)} ${barName(bar.index)} (${fmtSize(bar.size)}) is too large to map, yet vfio-pci offers mmap`,
        detail: `${dev.name} ${short(dev.bdf)} ${barName(bar.index)} is ${fmtSize(bar.size)}, beyond what the kernel can map (${fmtSize(limit)}), but kernel policy ${inp.policy.name} neither marks the device non-mappable nor caps BAR size, so vfio-pci advertises mmap and the map fails or exhausts the address space (the s390 ISM case).`,
        evidence: {
          key: findingKey('oversized-bar', [`${dev.bdf}/${bar.index}`], inp.pageSize),
          source: inp.source,
          pageSize: inp.pageSize,
          device: dev.bdf,
          name: dev.name,
          id,
          bar: bar.index,
          size: bar.size,
          start: bar.start === null ? null : hex(bar.start),
          limit,
        },
        references: [REF.oversized],
      });
    }
  }
  return out;
}

// 5 ------------------------------------------------------------------------

function checkGroups(inp: SafetyInput): Finding[] {
  const out: Finding[] = [];
  const byBdf = new Map(inp.layout.devices.map((d) => [d.bdf, d]));
  for (const g of inp.groupReasons ?? []) {
    const members = g.bdfs
      .map((b) => byBdf.get(b))
      .filter((d): d is LayoutDevice => Boolean(d) && isAssignable(d!));
    if (members.length < 2) continue;
    out.push({
      rule: 'model/group',
      severity: 'warning',
      title: `${members.length} devices cannot be assigned apart (IOMMU group ${g.id})`,
      detail: `${members.map((d) => `${d.name} ${short(d.bdf)}`).join(', ')} share IOMMU group ${g.id} (${g.reason}); vfio assigns a group as a whole, so they must go to the same owner.`,
      evidence: {
        key: findingKey(
          'group',
          members.map((d) => d.bdf),
          0,
        ),
        source: inp.source,
        group: g.id,
        devices: g.bdfs,
        reason: g.reason,
        grouping: inp.policy.acsGrouping,
      },
      references:
        inp.policy.acsGrouping === 'acs-fix-2025' ? [REF.groups, REF.acsFix] : [REF.groups],
    });
  }
  const rej = (inp.rejected ?? []).filter((r) => /stream/.test(r.reason));
  if (rej.length) {
    out.push({
      rule: 'model/viommu-attach',
      severity: 'info',
      title: `the guest's SMMUv3 refuses ${rej.length} device${rej.length > 1 ? 's' : ''} (shared StreamID)`,
      detail: `${rej.map((r) => `${short(r.bdf)}: ${r.reason}`).join('; ')}. Those devices get no IOMMU group in the guest and cannot be used with DMA or vfio there.`,
      evidence: {
        key: findingKey(
          'viommu-attach',
          rej.map((r) => r.bdf),
          0,
        ),
        source: inp.source,
        rejected: rej,
      },
      references: [REF.smmu],
    });
  }
  return out;
}

/** Explain each host group with the topology facts that formed it. */
export function explainGroups(layout: Layout, groups: IommuGroup[]): HostGroup[] {
  const byBdf = new Map(layout.devices.map((d) => [d.bdf, d]));
  return groups.map((g) => {
    const devs = g.bdfs.map((b) => byBdf.get(b)).filter((d): d is LayoutDevice => Boolean(d));
    const bridge = devs.find((d) => d.kind === 'pcie-pci-bridge' || d.kind === 'pci-bridge');
    const port = devs.find((d) => d.kind === 'root-port' || d.kind === 'downstream-port');
    let reason: string;
    if (g.bdfs.length === 1)
      reason = 'a group of its own: no DMA alias or missing ACS ties it to another device';
    else if (bridge)
      reason = `everything behind ${bridge.name} ${short(bridge.bdf)} uses its requester ID (DMA alias)`;
    else if (port)
      reason = `${port.name} ${short(port.bdf)} has no ACS, so devices below it are not isolated`;
    else if (new Set(devs.map((d) => d.bdf.slice(0, -2))).size === 1)
      reason = 'functions of one multifunction slot without ACS';
    else reason = 'no ACS between them';
    return { id: g.id, bdfs: g.bdfs, reason };
  });
}
