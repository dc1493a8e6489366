// IOMMU groups from the topology, as drivers/iommu/iommu.c pci_device_group()
// forms them (v6.18 and before), plus the 2025 ACS series' rules as an
// alternative the policy can choose:
//   - DMA aliases (drivers/pci/search.c pci_for_each_dma_alias): root and switch
//     ports are transparent; a PCIe-to-PCI bridge aliases everything below it
//     to (secondary bus, 00.0); a conventional bridge aliases it to itself;
//   - walking up, grouping stops at the first bridge with an ACS path
//     (SV, RR, CR, UF) to the root;
//   - functions of one slot share a group unless they have ACS.
// The host-side view (which devices could be assigned apart) is the topology
// with every device attached. The guest view depends on the vIOMMU: VT-d
// attaches every device at boot; SMMUv3 and virtio-iommu attach a device when
// a driver probes it, and arm-smmu-v3 refuses a StreamID already in use.
import type { IommuGroup } from './layout.js';
import { bdfOf, vfsOf, type Machine, type MFunction } from './machine.js';
import type { KernelPolicy } from './policy.js';

export interface GroupResult {
  groups: IommuGroup[];
  /** bdf -> group id. */
  groupOf: Map<string, number>;
  /** bdf -> requester IDs the IOMMU sees for it (own RID and aliases): SMMU stream IDs. */
  requesterIds: Map<string, number[]>;
  /** Devices the guest vIOMMU could not attach, with why. */
  rejected: { bdf: string; reason: string }[];
  notes: string[];
}

const rid = (f: MFunction) => f.bus.number * 256 + f.slot * 8 + f.fn;

/** Every function (VFs after all others), in the order Linux adds them (pci_bus_add_devices). */
export function addOrder(m: Machine): MFunction[] {
  const out: MFunction[] = [];
  const walk = (fns: MFunction[]) => {
    for (const f of fns) out.push(f);
    for (const f of fns) if (f.secondary) walk(f.secondary.functions);
  };
  walk(m.root.functions);
  for (const f of [...out]) out.push(...vfsOf(f));
  return out;
}

/** The bridge above a function, or null on the root bus. */
function upstream(f: MFunction): MFunction | null {
  return f.bus.parent;
}

/**
 * pci_acs_enabled() for REQ_ACS_FLAGS, including the quirks that match QEMU
 * devices. `portsEnabled` is false when no IOMMU asked for ACS before the bus
 * scan (pci_request_acs() too late): ports then keep ACS control at 0.
 */
function acsEnabled(f: MFunction, fix2025: boolean, portsEnabled = true): boolean {
  const d = f.def;
  // Quirks: Intel RC-integrated endpoints, and Intel multi-function NICs (82576 among them).
  if (d.vendor === 0x8086 && d.pcieType === 'rc-endpoint') return true;
  if (
    d.vendor === 0x8086 &&
    [0x10c9, 0x10e6, 0x10e7, 0x10e8, 0x1521, 0x1522, 0x1523, 0x1524].includes(d.device) &&
    f.multifunction
  )
    return true;
  if (d.pcieType === 'none') return false;
  switch (d.pcieType) {
    case 'pcie-to-pci':
      return false;
    case 'root-port':
    case 'downstream':
      return d.acs && portsEnabled;
    default:
      if (f.multifunction) return d.acs || fix2025; // 2025: no ACS capability means no internal loopback
      return true;
  }
}

function acsPathEnabled(start: MFunction, fix2025: boolean, portsEnabled: boolean): boolean {
  let p: MFunction | null = start;
  while (p) {
    if (!acsEnabled(p, fix2025, portsEnabled)) return false;
    p = upstream(p);
  }
  return true;
}

/** pci_for_each_dma_alias(): [device, requester ID] pairs from the device upward. */
export function dmaAliases(f: MFunction): { dev: MFunction; rid: number }[] {
  const out = [{ dev: f, rid: rid(f) }];
  let bus = f.bus;
  while (bus.parent) {
    const br = bus.parent;
    const t = br.def.pcieType;
    if (t === 'root-port' || t === 'upstream' || t === 'downstream') {
      // transparent
    } else if (t === 'pcie-to-pci') {
      out.push({ dev: br, rid: br.secondary!.number * 256 });
    } else {
      out.push({ dev: br, rid: rid(br) });
    }
    bus = br.bus;
  }
  return out;
}

/**
 * Run pci_device_group() over `order`, attaching only functions `attach`
 * accepts; groups get ids in allocation order, as iommu_group_alloc() does.
 */
function runGrouping(
  order: MFunction[],
  fix2025: boolean,
  attach: (f: MFunction) => string | null,
  portsAcs = true,
): GroupResult {
  const groupOf = new Map<MFunction, number>();
  const requesterIds = new Map<string, number[]>();
  const rejected: { bdf: string; reason: string }[] = [];
  let next = 0;
  for (const f of order) {
    const why = attach(f);
    if (why) {
      rejected.push({ bdf: bdfOf(f), reason: why });
      continue;
    }
    const aliases = dmaAliases(f);
    requesterIds.set(bdfOf(f), [...new Set(aliases.map((a) => a.rid))]);
    let group: number | undefined;
    let pdev = f;
    let excludeBridge = false;
    for (const a of aliases) {
      // 2025: the PCIe-to-PCI bridge itself is not merged into its children's group.
      if (fix2025 && a.dev !== f && a.dev.def.pcieType === 'pcie-to-pci') {
        const sib = order.find(
          (o) =>
            o !== f &&
            groupOf.has(o) &&
            dmaAliases(o).some((x) => x.rid === a.rid && x.dev === a.dev),
        );
        if (sib !== undefined) group = groupOf.get(sib);
        pdev = a.dev;
        excludeBridge = true;
        break;
      }
      pdev = a.dev;
      group = groupOf.get(a.dev);
      if (group !== undefined) break;
    }
    if (group === undefined) {
      let bus = pdev.bus;
      while (bus.parent) {
        const br = bus.parent;
        if (acsPathEnabled(br, fix2025, portsAcs)) break;
        pdev = br;
        group = groupOf.get(br);
        if (group !== undefined) break;
        bus = br.bus;
      }
    }
    if (group === undefined && !excludeBridge && groupOf.has(pdev)) group = groupOf.get(pdev);
    if (group === undefined && !excludeBridge && pdev.multifunction && !acsEnabled(pdev, fix2025)) {
      for (const o of pdev.bus.functions) {
        if (o === pdev || o.slot !== pdev.slot || acsEnabled(o, fix2025)) continue;
        const g = groupOf.get(o);
        if (g !== undefined) {
          group = g;
          break;
        }
      }
    }
    if (group === undefined) group = next++;
    groupOf.set(f, group);
  }
  if (fix2025) mergeSiblingPorts(order, groupOf);
  const byId = new Map<number, string[]>();
  for (const [f, g] of groupOf) {
    const l = byId.get(g) ?? [];
    l.push(bdfOf(f));
    byId.set(g, l);
  }
  const groups = [...byId.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, bdfs]) => ({ id, bdfs: bdfs.sort() }));
  const m = new Map<string, number>();
  for (const [f, g] of groupOf) m.set(bdfOf(f), g);
  return { groups, groupOf: m, requesterIds, rejected, notes: [] };
}

/** 2025: ACS is egress-only, so downstream ports without ACS on one switch share a group. */
function mergeSiblingPorts(order: MFunction[], groupOf: Map<MFunction, number>): void {
  const seen = new Set<unknown>();
  for (const f of order) {
    if (f.def.pcieType !== 'downstream' || f.def.acs || seen.has(f.bus)) continue;
    seen.add(f.bus);
    const ports = f.bus.functions.filter((o) => o.def.pcieType === 'downstream' && !o.def.acs);
    const ids = new Set(
      ports.map((p) => groupOf.get(p)).filter((x): x is number => x !== undefined),
    );
    if (ids.size < 2) continue;
    const target = Math.min(...ids);
    for (const [k, g] of groupOf) if (ids.has(g)) groupOf.set(k, target);
  }
}

/** The host-side view: every device attached, as the kernel would group them. */
export function computeGroups(m: Machine, policy: KernelPolicy): GroupResult {
  return runGrouping(addOrder(m), policy.acsGrouping === 'acs-fix-2025', () => null);
}

/** The groups the guest kernel shows under its vIOMMU. */
export function guestGroups(m: Machine, policy: KernelPolicy, _host: GroupResult): GroupResult {
  const fix = policy.acsGrouping === 'acs-fix-2025';
  if (m.viommu === 'intel-iommu') return runGrouping(addOrder(m), fix, () => null);
  // ACS is only switched on at device add, if an IOMMU asked for it first:
  // ACPI VIOT (x86 virtio-iommu) does so before the bus scan; the DT paths
  // (of_iommu_configure: SMMUv3, virtio-iommu on virt) only at driver probe,
  // too late for the ports, which then isolate nothing.
  const earlyAcs = m.viommu === 'virtio-iommu' && m.type === 'q35';
  const used = new Set<number>();
  const res = runGrouping(
    addOrder(m),
    fix,
    (f) => {
      if (!f.guestDriver) return 'no guest driver probed it, so the vIOMMU never attached it';
      if (f.def.kind === 'host-bridge')
        return 'no driver binds to a host bridge, so the vIOMMU never attached it';
      if (m.viommu === 'smmuv3' && policy.smmuRejectsSharedStreamIds) {
        const ids = [...new Set(dmaAliases(f).map((a) => a.rid))];
        const clash = ids.find((i) => used.has(i));
        if (clash !== undefined)
          return `stream ${clash} already in use (DMA alias through a PCIe-to-PCI bridge); arm-smmu-v3 refuses the device`;
        for (const i of ids) used.add(i);
      }
      return null;
    },
    earlyAcs,
  );
  if (!earlyAcs)
    res.notes.push(
      'ACS was requested only at driver probe (DT IOMMU), after the ports were added: ports isolate nothing',
    );
  return res;
}
