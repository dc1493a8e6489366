// From a scenario to a Layout: build the machine, run the firmware, run the
// Linux placement for the guest kernel's page size, and describe the result
// with the shared Layout types (bot/kernel/model/layout.ts).
import { QemuArgError } from './errors.js';
import { runSeabios } from './firmware/seabios.js';
import { emptyFirmware, type FirmwareState } from './firmware/types.js';
import { parseKernelArgs } from './kernel/cmdline.js';
import {
  BR_IO,
  BR_MEM,
  BR_PREF,
  IOV0,
  ROM,
  placeLinux,
  type KDev,
  type KernelResult,
} from './kernel/linux.js';
import {
  IORESOURCE_IO,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  IORESOURCE_ROM_SHADOW,
  hasFlag,
} from './kernel/resource.js';
import { bdfOf, buildMachine, vfsOf, type BusNumbering, type Machine } from './machine.js';
import type { KernelPolicy } from './policy.js';
import { parseQemuArgs } from './qemu-args.js';
import type { Scenario } from './scenario.js';
import type { Layout, LayoutBar, LayoutDevice, LayoutWindow, LostBar } from './layout.js';
import { computeGroups, guestGroups, type GroupResult } from './groups.js';

export interface Placement {
  machine: Machine;
  firmware: FirmwareState;
  kernel: KernelResult;
  layout: Layout;
  /** Topological groups for the host-side view (always computed). */
  hostGroups: GroupResult;
  /** The guest kernel's PAGE_SIZE this layout was computed with. */
  kernelPageSize: number;
  /** Devices the guest vIOMMU would not attach, with why (empty without a vIOMMU). */
  guestRejected: { bdf: string; reason: string }[];
}

/** The guest kernel's PAGE_SIZE when checking at `pageSize`: x86 and s390 kernels are 4K-only. */
export function kernelPageSizeFor(arch: Scenario['arch'], pageSize: number): number {
  if (arch === 'x86_64' || arch === 's390x') return 4096;
  if (arch === 'ppc64') return 65536;
  return pageSize;
}

/** Who numbers the buses under a firmware (Linux itself when there is none). */
export function busNumberingFor(fw: Scenario['firmware']): BusNumbering {
  return fw === 'seabios' || fw === 'seabios-nomin'
    ? 'seabios'
    : fw === 'qboot'
      ? 'qboot'
      : 'linux';
}

export function buildScenarioMachine(
  s: Scenario,
  firmware: Scenario['firmware'] = s.firmware,
): Machine {
  const parsed = parseQemuArgs(s.qemuArgs);
  return buildMachine(parsed, {
    arch: s.arch,
    numVfs: s.sriovNumVfs,
    noGuestDriver: s.noGuestDriver,
    busNumbering: busNumberingFor(firmware),
  });
}

export function runFirmware(m: Machine, kind: Scenario['firmware']): FirmwareState {
  switch (kind) {
    case 'seabios':
      return runSeabios(m, 4096);
    case 'seabios-nomin':
      return runSeabios(m, 0);
    case 'qboot':
      if (m.type !== 'q35') throw new QemuArgError('qboot is an x86 firmware');
      return emptyFirmware('qboot');
    case 'none':
      return emptyFirmware('none');
    case 'ovmf':
      throw new QemuArgError('OVMF placement is not modelled');
  }
}

function layoutFlags(d: KDev, idx: number): { io: boolean; is64: boolean; prefetch: boolean } {
  const r = d.res[idx]!;
  if (r.flags)
    return {
      io: hasFlag(r, IORESOURCE_IO),
      is64: hasFlag(r, IORESOURCE_MEM_64),
      prefetch: hasFlag(r, IORESOURCE_PREFETCH),
    };
  if (idx === ROM) return { io: false, is64: false, prefetch: true };
  const b = d.f.def.bars.find((x) => x.index === idx);
  return { io: Boolean(b?.io), is64: Boolean(b?.is64), prefetch: Boolean(b?.prefetch) };
}

function barOf(d: KDev, idx: number, hwSize: number): LayoutBar {
  const r = d.res[idx]!;
  const assigned = Boolean(r.parent) || hasFlag(r, IORESOURCE_ROM_SHADOW);
  return {
    index: idx,
    start: assigned ? r.start : null,
    size: assigned ? r.size() : hwSize,
    flags: layoutFlags(d, idx),
  };
}

export function placeScenario(
  s: Scenario,
  policy: KernelPolicy,
  pageSize: number,
  firmware?: Scenario['firmware'],
): Placement {
  const machine = buildScenarioMachine(s, firmware ?? s.firmware);
  const fw = runFirmware(machine, firmware ?? s.firmware);
  const args = parseKernelArgs(s.kernelArgs);
  const kernelPageSize = kernelPageSizeFor(s.arch, pageSize);
  const kernel = placeLinux({ machine, fw, policy, pageSize: kernelPageSize, args });

  const devices: LayoutDevice[] = [];
  const lost: LostBar[] = [];
  for (const d of kernel.devs) {
    const def = d.f.def;
    const bars: LayoutBar[] = [];
    for (const b of def.bars) bars.push(barOf(d, b.index, b.size));
    if (d.res[ROM]) bars.push(barOf(d, ROM, def.romSize || d.res[ROM]!.size()));
    const windows: LayoutWindow[] = [];
    if (def.bridge) {
      for (const [idx, kind] of [
        [BR_IO, 'io'],
        [BR_MEM, 'mem'],
        [BR_PREF, 'pref'],
      ] as const) {
        const r = d.res[idx]!;
        if (r.flags && r.parent)
          windows.push({ kind, start: r.start, end: r.end, is64: hasFlag(r, IORESOURCE_MEM_64) });
      }
    }
    const dev: LayoutDevice = {
      bdf: d.bdf,
      name: def.name,
      vendor: def.vendor,
      device: def.device,
      kind: def.kind,
      bars,
      windows,
    };
    if (d.f.qemuId) dev.qemuId = d.f.qemuId;
    if (def.msix) dev.msix = def.msix;
    if (def.sriov) {
      const vfBars: LayoutBar[] = def.sriov.vfBars.map((vb) => {
        const r = d.res[IOV0 + vb.index];
        const assigned = Boolean(r && r.parent);
        return {
          index: vb.index,
          start: assigned ? r!.start : null,
          size: vb.size,
          flags: { io: false, is64: vb.is64, prefetch: vb.prefetch },
        };
      });
      dev.sriov = {
        totalVfs: def.sriov.totalVfs,
        numVfs: d.f.numVfs,
        vfBars,
        vfOffset: def.sriov.vfOffset,
        vfStride: def.sriov.vfStride,
      };
    }
    devices.push(dev);
    for (const [k, reason] of kernel.lost) {
      const [uid, idx] = k.split(':').map(Number);
      if (uid === d.f.uid && idx !== undefined && idx < IOV0)
        lost.push({ bdf: d.bdf, index: idx, reason });
      if (uid === d.f.uid && idx !== undefined && idx >= IOV0 && idx < BR_IO)
        lost.push({ bdf: d.bdf, index: idx, reason: `SR-IOV VF BAR ${idx - IOV0}: ${reason}` });
    }
    // VFs the guest enables: carved from the PF's SR-IOV BARs.
    for (const vf of vfsOf(d.f)) {
      const vbars: LayoutBar[] = (def.sriov?.vfBars ?? []).map((vb) => {
        const r = d.res[IOV0 + vb.index];
        const start = r && r.parent ? r.start + vf.vfIndex * vb.size : null;
        return {
          index: vb.index,
          start,
          size: vb.size,
          flags: { io: false, is64: vb.is64, prefetch: vb.prefetch },
        };
      });
      const vdev: LayoutDevice = {
        bdf: bdfOf(vf),
        name: vf.def.name,
        vendor: vf.def.vendor,
        device: vf.def.device,
        kind: 'endpoint',
        bars: vbars,
        windows: [],
        physfn: d.bdf,
      };
      if (vf.qemuId) vdev.qemuId = vf.qemuId;
      if (vf.def.msix) vdev.msix = vf.def.msix;
      devices.push(vdev);
    }
  }
  devices.sort((a, b) => (a.bdf < b.bdf ? -1 : a.bdf > b.bdf ? 1 : 0));
  lost.sort((a, b) => (a.bdf < b.bdf ? -1 : a.bdf > b.bdf ? 1 : a.index - b.index));

  const hostGroups = computeGroups(machine, policy);
  const groups = machine.viommu && !args.iommuOff ? guestGroups(machine, policy, hostGroups) : null;
  return {
    machine,
    firmware: fw,
    kernel,
    layout: { devices, groups: groups?.groups ?? null, lost },
    hostGroups,
    kernelPageSize,
    guestRejected: groups?.rejected ?? [],
  };
}
