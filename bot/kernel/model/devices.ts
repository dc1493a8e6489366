// The device catalogue: what each QEMU PCI device looks like to firmware and
// Linux. Sizes, flags, MSI-X placement, PCIe port types and ACS are the QEMU 7.2
// facts (read in QEMU's hw/ sources and confirmed with `info pci` on the
// installed qemu-system-x86_64 7.2); ROM sizes are those of Debian 12's ROM files
// (ipxe efi-*.rom 244 KiB -> 256 KiB BAR, vgabios-stdvga 39 KiB -> 64 KiB),
// as the ground-truth boots show. A `custom` device describes hardware QEMU
// does not emulate (its syntax is in fixtures/scenarios/README.md).
import { QemuArgError } from './errors.js';
import { parseBoolProp, parseIntProp, parseSize } from './qemu-args.js';
import type { DeviceKind, MsixInfo } from './layout.js';

export interface BarDef {
  index: number;
  size: number;
  io: boolean;
  is64: boolean;
  prefetch: boolean;
}

/** The PCIe capability's device/port type; `none` for conventional PCI functions. */
export type PcieType =
  'none' | 'endpoint' | 'rc-endpoint' | 'root-port' | 'upstream' | 'downstream' | 'pcie-to-pci';

/** What kind of bus a bridge provides below it. */
export type SecondaryBus =
  /** Root/downstream port: one link, Linux scans slot 0 only. */
  | 'pcie-port'
  /** Switch-internal bus below an upstream port: downstream ports in any slot. */
  | 'pcie-switch'
  /** Conventional PCI bus (pcie-pci-bridge, pci-bridge). */
  | 'pci';

export interface BridgeDef {
  secondary: SecondaryBus;
  ioWindow: boolean;
  /**
   * The I/O base/limit registers accept writes. QEMU's pcie-root-port with
   * io-reserve=0 makes them read-only at their reset value: firmware writes
   * are ignored, yet Linux still detects an I/O window (the base reads non-zero)
   * and assigns one in its resource tree.
   */
  ioWindowWritable?: boolean;
  prefWindow: boolean;
  pref64: boolean;
  /**
   * Window registers after reset: root ports disable them (base > limit), other
   * QEMU bridges leave base = limit = 0, which Linux reads as a 4 KiB I/O and
   * 1 MiB memory window at 0 (and keeps as a minimum size when it reassigns).
   */
  windowsAtReset: 'disabled' | 'zero';
  /** PCIe Slot Implemented (SeaBIOS treats such ports as hotplug-capable). */
  slotImplemented: boolean;
  /** Slot capability HPC bit: Linux marks the bridge is_hotplug_bridge and adds headroom. */
  hotplugCapable: boolean;
  /** A Standard Hot-Plug Controller capability (SeaBIOS reserves windows for it). */
  shpc: boolean;
  /** QEMU's Red Hat resource-reserve capability (pcie-root-port only); -1 = unset. */
  reserve: { bus: number; io: number; mem: number; pref32: number; pref64: number } | null;
}

export interface SriovDef {
  totalVfs: number;
  vfOffset: number;
  vfStride: number;
  vfDevice: number;
  /** Per-VF BAR sizes (the PF's SR-IOV BARs are these times TotalVFs). */
  vfBars: BarDef[];
  vfMsix?: MsixInfo;
}

/** One PCI function as the catalogue describes it, before it is placed in a machine. */
export interface FunctionDef {
  driver: string;
  /** Human name for tables: the QEMU driver name, e.g. `e1000e`. */
  name: string;
  vendor: number;
  device: number;
  /** 24-bit class code (class, subclass, prog-if). */
  classCode: number;
  kind: DeviceKind;
  pcieType: PcieType;
  bars: BarDef[];
  /** Expansion ROM BAR size, 0 for none. */
  romSize: number;
  msix?: MsixInfo;
  /** An ACS capability with SV, RR, CR and UF (what Linux requires to isolate). */
  acs: boolean;
  /** ARI capability (lets VFs and functions beyond 7 exist). */
  ari: boolean;
  bridge?: BridgeDef;
  sriov?: SriovDef;
  /** A device that carries no PCI function (intel-iommu is a system-bus device). */
  notPci?: boolean;
  /** vIOMMU devices: how guest IOMMU groups form. */
  viommu?: 'intel-iommu' | 'virtio-iommu';
}

/** Where a device is being realised: QEMU picks PCIe capabilities and virtio legacy from this. */
export interface BuildContext {
  machine: 'q35' | 'virt';
  /** The device sits on the root bus (pcie.0). */
  onRootBus: boolean;
  /** The bus is PCI Express (root bus, port or switch bus), not a conventional PCI bus. */
  busIsExpress: boolean;
  /** -object memory backends by id, with their sizes. */
  memdevSize: (id: string) => number;
}

/** Reads a device's properties, remembering which it consumed so leftovers are reported. */
export class PropReader {
  private used = new Set<string>();
  constructor(
    readonly driver: string,
    private readonly props: Record<string, string>,
  ) {}
  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.props, name);
  }
  raw(name: string): string | undefined {
    if (!this.has(name)) return undefined;
    this.used.add(name);
    return this.props[name];
  }
  str(name: string, def: string): string {
    return this.raw(name) ?? def;
  }
  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    return v === undefined ? def : parseBoolProp(`${this.driver}.${name}`, v);
  }
  int(name: string, def: number): number {
    const v = this.raw(name);
    return v === undefined ? def : parseIntProp(`${this.driver}.${name}`, v);
  }
  size(name: string, def: number): number {
    const v = this.raw(name);
    return v === undefined ? def : parseSize(v);
  }
  /** Properties that exist in QEMU but cannot move a BAR (backends, MACs, serials). */
  accept(...names: string[]): void {
    for (const n of names) if (this.has(n)) this.used.add(n);
  }
  leftovers(): string[] {
    return Object.keys(this.props).filter((k) => !this.used.has(k));
  }
}

export interface DeviceModel {
  driver: string;
  summary: string;
  /** False for `custom` and devices QEMU 7.2 lacks (igb): scenarios using them cannot boot. */
  inQemu72: boolean;
  build(p: PropReader, ctx: BuildContext): FunctionDef;
}

const KiB = 1024;
const MiB = 1024 * KiB;

function mem32(index: number, size: number, prefetch = false): BarDef {
  return { index, size, io: false, is64: false, prefetch };
}
function mem64(index: number, size: number, prefetch = false): BarDef {
  return { index, size, io: false, is64: true, prefetch };
}
function io(index: number, size: number): BarDef {
  return { index, size, io: true, is64: false, prefetch: false };
}

export function isPow2(n: number): boolean {
  if (n < 1 || !Number.isInteger(n)) return false;
  while (n > 1) {
    if (n % 2 !== 0) return false;
    n /= 2;
  }
  return true;
}

export function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** MSI-X in a BAR of its own, laid out as QEMU's msix_init_exclusive_bar does. */
function exclusiveMsix(bar: number, vectors: number): { bar: BarDef; msix: MsixInfo } {
  let pbaOffset = 4096 / 2;
  const pbaSize = alignUp(vectors, 64) / 8;
  if (vectors * 16 > pbaOffset) pbaOffset = vectors * 16;
  let size = 4096;
  if (pbaOffset + pbaSize > 4096) size = pbaOffset + pbaSize;
  size = pow2ceil(size);
  return {
    bar: mem32(bar, size),
    msix: {
      tableBar: bar,
      tableOffset: 0,
      tableSize: vectors * 16,
      pbaBar: bar,
      pbaOffset,
      pbaSize: Math.max(8, pbaSize),
      otherRegisters: [],
    },
  };
}

/** MSI-X table and PBA at fixed offsets of one BAR; `registers` are the BAR's other register ranges. */
function msixAt(
  bar: number,
  tableOffset: number,
  vectors: number,
  pbaOffset: number,
  registers: { offset: number; size: number }[],
): MsixInfo {
  return {
    tableBar: bar,
    tableOffset,
    tableSize: vectors * 16,
    pbaBar: bar,
    pbaOffset,
    pbaSize: Math.max(8, alignUp(vectors, 64) / 8),
    otherRegisters: registers,
  };
}

/** PCIe endpoints are RC-integrated on the root bus, plain endpoints elsewhere. */
function pcieEndpoint(ctx: BuildContext): PcieType {
  return ctx.onRootBus ? 'rc-endpoint' : 'endpoint';
}

function base(
  driver: string,
  vendor: number,
  device: number,
  classCode: number,
  rest: Partial<FunctionDef> = {},
): FunctionDef {
  return {
    driver,
    name: driver,
    vendor,
    device,
    classCode,
    kind: 'endpoint',
    pcieType: 'none',
    bars: [],
    romSize: 0,
    acs: false,
    ari: false,
    ...rest,
  };
}

/** ROM handling common to all devices: romfile= and rombar=. */
function romSize(p: PropReader, def: number): number {
  const file = p.raw('romfile');
  const rombar = p.int('rombar', 1);
  if (rombar === 0) return 0;
  if (file === undefined) return def;
  if (file === '') return 0;
  throw new QemuArgError(
    `${p.driver}: romfile=${file}: only the default ROM or romfile= (none) is modelled`,
  );
}

const NIC_PROPS = ['netdev', 'mac', 'bootindex', 'vlan', 'x-pcie-flr-init', 'failover_pair_id'];

const e1000eModel: DeviceModel = {
  driver: 'e1000e',
  summary: 'Intel 82574L NIC: 128K MMIO, 128K flash, 32-byte I/O, 16K MSI-X BAR, 256K ROM',
  inQemu72: true,
  build(p, ctx) {
    p.accept(...NIC_PROPS, 'disable_vnet_hdr', 'subsys_ven', 'subsys', 'init-vet');
    return base('e1000e', 0x8086, 0x10d3, 0x020000, {
      pcieType: pcieEndpoint(ctx),
      bars: [mem32(0, 128 * KiB), mem32(1, 128 * KiB), io(2, 32), mem32(3, 16 * KiB)],
      msix: msixAt(3, 0, 5, 0x2000, []),
      romSize: romSize(p, 256 * KiB),
    });
  },
};

const igbModel: DeviceModel = {
  driver: 'igb',
  summary: 'Intel 82576 NIC with SR-IOV (QEMU 8.0+): 8 VFs at offset 0x80 stride 2, 16K VF BARs',
  inQemu72: false,
  build(p, ctx) {
    p.accept(...NIC_PROPS);
    return base('igb', 0x8086, 0x10c9, 0x020000, {
      pcieType: pcieEndpoint(ctx),
      bars: [mem32(0, 128 * KiB), mem32(1, 128 * KiB), io(2, 32), mem64(3, 16 * KiB)],
      msix: msixAt(3, 0, 10, 0x2000, []),
      ari: true,
      sriov: {
        totalVfs: 8,
        vfOffset: 0x80,
        vfStride: 2,
        vfDevice: 0x10ca,
        vfBars: [mem64(0, 16 * KiB, true), mem64(3, 16 * KiB, true)],
        vfMsix: msixAt(3, 0, 3, 0x2000, []),
      },
    });
  },
};

const e1000Model: DeviceModel = {
  driver: 'e1000',
  summary: 'Intel 82540EM NIC (conventional PCI): 128K MMIO, 64-byte I/O, 256K ROM',
  inQemu72: true,
  build(p) {
    p.accept(
      ...NIC_PROPS,
      'autonegotiation',
      'mitigation',
      'extra_mac_registers',
      'migrate_tso_props',
    );
    return base('e1000', 0x8086, 0x100e, 0x020000, {
      bars: [mem32(0, 128 * KiB), io(1, 64)],
      romSize: romSize(p, 256 * KiB),
    });
  },
};

const pciTestdevModel: DeviceModel = {
  driver: 'pci-testdev',
  summary:
    'QEMU PCI test device: 4K MMIO BAR0, 256-byte I/O BAR1, optional 64-bit pref BAR2 (membar)',
  inQemu72: true,
  build(p) {
    const membar = p.size('membar', 0);
    if (membar && !isPow2(membar))
      throw new QemuArgError(`pci-testdev: membar=${membar} is not a power of two`);
    p.accept('membar-backed');
    const bars = [mem32(0, 4 * KiB), io(1, 256)];
    if (membar) bars.push(mem64(2, membar, true));
    return base('pci-testdev', 0x1b36, 0x0005, 0x00ff00, { bars });
  },
};

interface NvmeParams {
  tableOffset: number;
  pbaOffset: number;
  size: number;
}

/** QEMU's nvme BAR0: registers, doorbells, then MSI-X table and PBA on 4K boundaries. */
export function nvmeBar0(queues: number, vectors: number): NvmeParams {
  let size = 4096 + 2 * queues * 4;
  size = alignUp(size, 4096);
  const tableOffset = size;
  size += vectors * 16;
  size = alignUp(size, 4096);
  const pbaOffset = size;
  size += alignUp(vectors, 64) / 8;
  return { tableOffset, pbaOffset, size: pow2ceil(size) };
}

const nvmeModel: DeviceModel = {
  driver: 'nvme',
  summary:
    'NVMe controller: 64-bit BAR0 with MSI-X table/PBA inside (or msix-exclusive-bar), optional CMB',
  inQemu72: true,
  build(p, ctx) {
    p.accept(
      'serial',
      'drive',
      'use-intel-id',
      'logical_block_size',
      'physical_block_size',
      'subsys',
      'aerl',
      'aer_max_queued',
      'mdts',
      'zoned.zasl',
      'legacy-cmb',
      'ioeventfd',
      'smart_critical_warning',
      'ocp',
      'did',
      'bootindex',
    );
    if (p.has('pmrdev'))
      throw new QemuArgError('nvme: pmrdev (persistent memory region BAR) is not modelled');
    for (const k of [
      'sriov_max_vfs',
      'sriov_vq_flexible',
      'sriov_vi_flexible',
      'sriov_max_vq_per_vf',
      'sriov_max_vi_per_vf',
    ]) {
      if (p.has(k))
        throw new QemuArgError(
          `nvme: ${k} (NVMe SR-IOV) is not modelled; use igb or custom for SR-IOV`,
        );
    }
    const ioq = p.int('max_ioqpairs', p.int('num_queues', 65) - 1);
    const vectors = p.int('msix_qsize', 65);
    const exclusive = p.bool('msix-exclusive-bar', false);
    const cmbMb = p.int('cmb_size_mb', 0);
    const bars: BarDef[] = [];
    let msix: MsixInfo;
    if (exclusive) {
      bars.push(mem64(0, pow2ceil(4096 + 2 * (ioq + 1) * 4)));
      const ex = exclusiveMsix(4, vectors);
      bars.push(ex.bar);
      msix = ex.msix;
    } else {
      const b = nvmeBar0(ioq + 1, vectors);
      bars.push(mem64(0, b.size));
      msix = msixAt(0, b.tableOffset, vectors, b.pbaOffset, [
        { offset: 0, size: 4096 + 2 * (ioq + 1) * 4 },
      ]);
    }
    if (cmbMb) bars.push(mem64(2, pow2ceil(cmbMb * MiB), true));
    return base('nvme', 0x1b36, 0x0010, 0x010802, { pcieType: pcieEndpoint(ctx), bars, msix });
  },
};

interface VirtioKind {
  driver: string;
  /** virtio device type (modern PCI ID is 0x1040 + type). */
  id: number;
  /** The transitional (legacy) PCI device ID. */
  legacyId: number;
  classCode: number;
  legacyIo: number;
  vectors: number;
  rom: number;
  modernOnly?: boolean;
}

const VIRTIO: VirtioKind[] = [
  {
    driver: 'virtio-net-pci',
    id: 1,
    legacyId: 0x1000,
    classCode: 0x020000,
    legacyIo: 32,
    vectors: 3,
    rom: 256 * KiB,
  },
  {
    driver: 'virtio-blk-pci',
    id: 2,
    legacyId: 0x1001,
    classCode: 0x010000,
    legacyIo: 128,
    vectors: 2,
    rom: 0,
  },
  {
    driver: 'virtio-scsi-pci',
    id: 8,
    legacyId: 0x1004,
    classCode: 0x010000,
    legacyIo: 64,
    vectors: 4,
    rom: 0,
  },
  {
    driver: 'virtio-rng-pci',
    id: 4,
    legacyId: 0x1005,
    classCode: 0x00ff00,
    legacyIo: 32,
    vectors: 2,
    rom: 0,
  },
  {
    driver: 'virtio-iommu-pci',
    id: 23,
    legacyId: 0,
    classCode: 0x088000,
    legacyIo: 0,
    vectors: 2,
    rom: 0,
    modernOnly: true,
  },
];

function virtioModel(k: VirtioKind): DeviceModel {
  return {
    driver: k.driver,
    summary: `${k.driver}: legacy I/O BAR0 (transitional), 4K MSI-X BAR1, 16K 64-bit pref modern BAR4`,
    inQemu72: true,
    build(p, ctx) {
      p.accept(
        ...NIC_PROPS,
        'drive',
        'rng',
        'num-queues',
        'queue-size',
        'mq',
        'iothread',
        'serial',
        'ioeventfd',
        'event_idx',
        'indirect_desc',
        'packed',
        'use-started',
        'any_layout',
        'iommu_platform',
        'x-disable-legacy-check',
        'granule',
        'aw-bits',
        'boot-bypass',
        'scsi',
        'config-wce',
        'discard',
        'write-zeroes',
      );
      if (k.driver === 'virtio-blk-pci' && !p.has('drive'))
        throw new QemuArgError('virtio-blk-pci: drive= is required (QEMU refuses it without one)');
      const legacyProp = p.str('disable-legacy', 'auto');
      const modern = !p.bool('disable-modern', false);
      let legacy: boolean;
      if (k.modernOnly) legacy = false;
      else if (legacyProp === 'auto') legacy = !ctx.busIsExpress || ctx.onRootBus;
      else legacy = !parseBoolProp(`${k.driver}.disable-legacy`, legacyProp);
      if (!legacy && !modern)
        throw new QemuArgError(`${k.driver}: neither legacy nor modern interface left`);
      const vectors = p.int('vectors', k.vectors);
      const pagePerVq = p.bool('page-per-vq', false);
      const pioNotify = p.bool('modern-pio-notify', false);
      p.accept(
        'ats',
        'x-ats-page-aligned',
        'x-pcie-lnkctl-init',
        'x-pcie-pm-init',
        'x-pcie-flr-init',
        'x-pcie-deverr-init',
        'x-pcie-extcap-init',
        'migrate-extra',
        'x-ignore-backend-features',
      );
      const bars: BarDef[] = [];
      let msix: MsixInfo | undefined;
      if (legacy) bars.push(io(0, k.legacyIo));
      if (vectors > 0) {
        const ex = exclusiveMsix(1, vectors);
        bars.push(ex.bar);
        msix = ex.msix;
      }
      if (modern && pioNotify) bars.push(io(2, 4));
      if (modern) bars.push(mem64(4, pagePerVq ? 8 * MiB : 16 * KiB, true));
      const device = legacy ? k.legacyId : 0x1040 + k.id;
      const express = ctx.busIsExpress && !ctx.onRootBus && modern;
      return base(
        k.driver,
        0x1af4,
        k.driver === 'virtio-iommu-pci' ? 0x1057 : device,
        k.classCode,
        {
          pcieType: express ? 'endpoint' : 'none',
          bars,
          msix,
          romSize: romSize(p, k.rom),
          viommu: k.driver === 'virtio-iommu-pci' ? 'virtio-iommu' : undefined,
        },
      );
    },
  };
}

const ivshmemModel: DeviceModel = {
  driver: 'ivshmem-plain',
  summary: 'Inter-VM shared memory: 256-byte BAR0, 64-bit pref BAR2 of the memdev size',
  inQemu72: true,
  build(p, ctx) {
    const memdev = p.raw('memdev');
    if (!memdev) throw new QemuArgError('ivshmem-plain: memdev= is required');
    p.accept('master');
    const size = ctx.memdevSize(memdev);
    if (!isPow2(size))
      throw new QemuArgError(`ivshmem-plain: memdev ${memdev} size ${size} is not a power of two`);
    return base('ivshmem-plain', 0x1af4, 0x1110, 0x050000, {
      bars: [mem32(0, 256), mem64(2, size, true)],
    });
  },
};

const vgaModel: DeviceModel = {
  driver: 'VGA',
  summary: 'Standard VGA: 32-bit pref framebuffer BAR0 (vgamem_mb), 4K MMIO BAR2, 64K ROM',
  inQemu72: true,
  build(p) {
    const vgamem = p.int('vgamem_mb', 16);
    const mmio = p.bool('mmio', true);
    p.accept(
      'qemu-extended-regs',
      'edid',
      'xres',
      'yres',
      'xmax',
      'ymax',
      'refresh_rate',
      'global-vmstate',
    );
    const bars = [mem32(0, pow2ceil(vgamem * MiB), true)];
    if (mmio) bars.push(mem32(2, 4 * KiB));
    return base('VGA', 0x1234, 0x1111, 0x030000, { bars, romSize: romSize(p, 64 * KiB) });
  },
};

const xhciModel: DeviceModel = {
  driver: 'qemu-xhci',
  summary: 'USB 3 xHCI: 16K 64-bit BAR0 with the MSI-X table at 0x3000 and PBA at 0x3800',
  inQemu72: true,
  build(p, ctx) {
    p.accept('p2', 'p3', 'streams');
    const intrs = p.int('intrs', 16);
    const msix = p.str('msix', 'auto') !== 'off';
    return base('qemu-xhci', 0x1b36, 0x000d, 0x0c0330, {
      pcieType: ctx.busIsExpress ? pcieEndpoint(ctx) : 'none',
      bars: [mem64(0, 16 * KiB)],
      // Capability, operational, runtime registers and doorbells sit below 0x3000.
      msix: msix ? msixAt(0, 0x3000, intrs, 0x3800, [{ offset: 0, size: 0x3000 }]) : undefined,
    });
  },
};

const ahciModel: DeviceModel = {
  driver: 'ich9-ahci',
  summary: 'ICH9 AHCI SATA: 32-byte I/O BAR4, 4K ABAR BAR5',
  inQemu72: true,
  build() {
    return base('ich9-ahci', 0x8086, 0x2922, 0x010601, { bars: [io(4, 32), mem32(5, 4 * KiB)] });
  },
};

function rootPortReserve(p: PropReader) {
  return {
    bus: p.int('bus-reserve', -1),
    io: p.has('io-reserve') ? p.size('io-reserve', -1) : -1,
    mem: p.has('mem-reserve') ? p.size('mem-reserve', -1) : -1,
    pref32: p.has('pref32-reserve') ? p.size('pref32-reserve', -1) : -1,
    pref64: p.has('pref64-reserve') ? p.size('pref64-reserve', -1) : -1,
  };
}

const PORT_PROPS = [
  'chassis',
  'slot',
  'port',
  'x-speed',
  'x-width',
  'aer',
  'power_controller_present',
  'x-native-hotplug',
  'x-do-not-expose-native-hotplug-cap',
  'x-migrate-msix',
];

const rootPortModel: DeviceModel = {
  driver: 'pcie-root-port',
  summary: 'Generic PCIe root port: 4K MSI-X BAR0, ACS, hotplug slot, resource-reserve capability',
  inQemu72: true,
  build(p, ctx) {
    if (!ctx.onRootBus) throw new QemuArgError('pcie-root-port must sit on the root bus (pcie.0)');
    p.accept(...PORT_PROPS);
    const reserve = rootPortReserve(p);
    const hotplug = p.bool('hotplug', true);
    const ex = exclusiveMsix(0, 1);
    return base('pcie-root-port', 0x1b36, 0x000c, 0x060400, {
      kind: 'root-port',
      pcieType: 'root-port',
      bars: [ex.bar],
      msix: ex.msix,
      acs: true,
      ari: true,
      bridge: {
        secondary: 'pcie-port',
        ioWindow: true,
        ioWindowWritable: reserve.io !== 0,
        prefWindow: true,
        pref64: true,
        windowsAtReset: 'disabled',
        slotImplemented: true,
        hotplugCapable: hotplug,
        shpc: false,
        reserve,
      },
    });
  },
};

const ioh3420Model: DeviceModel = {
  driver: 'ioh3420',
  summary: 'Intel X58 root port: no BAR, no ACS (devices below escalate to its group)',
  inQemu72: true,
  build(p, ctx) {
    if (!ctx.onRootBus) throw new QemuArgError('ioh3420 must sit on the root bus (pcie.0)');
    p.accept(...PORT_PROPS);
    const hotplug = p.bool('hotplug', true);
    return base('ioh3420', 0x8086, 0x3420, 0x060400, {
      kind: 'root-port',
      pcieType: 'root-port',
      ari: true,
      bridge: {
        secondary: 'pcie-port',
        ioWindow: true,
        prefWindow: true,
        pref64: true,
        windowsAtReset: 'disabled',
        slotImplemented: true,
        hotplugCapable: hotplug,
        shpc: false,
        reserve: null,
      },
    });
  },
};

const upstreamModel: DeviceModel = {
  driver: 'x3130-upstream',
  summary: 'TI XIO3130 switch upstream port: no BAR',
  inQemu72: true,
  build(p, ctx) {
    if (ctx.onRootBus)
      throw new QemuArgError('x3130-upstream must sit below a root port, not on the root bus');
    p.accept('aer');
    return base('x3130-upstream', 0x104c, 0x8232, 0x060400, {
      kind: 'upstream-port',
      pcieType: 'upstream',
      bridge: {
        secondary: 'pcie-switch',
        ioWindow: true,
        prefWindow: true,
        pref64: true,
        windowsAtReset: 'zero',
        slotImplemented: false,
        hotplugCapable: false,
        shpc: false,
        reserve: null,
      },
    });
  },
};

const downstreamModel: DeviceModel = {
  driver: 'xio3130-downstream',
  summary: 'TI XIO3130 switch downstream port: no BAR, no ACS (sibling ports are not isolated)',
  inQemu72: true,
  build(p) {
    p.accept(...PORT_PROPS);
    const hotplug = p.bool('hotplug', true);
    return base('xio3130-downstream', 0x104c, 0x8233, 0x060400, {
      kind: 'downstream-port',
      pcieType: 'downstream',
      ari: true,
      bridge: {
        secondary: 'pcie-port',
        ioWindow: true,
        prefWindow: true,
        pref64: true,
        windowsAtReset: 'zero',
        slotImplemented: true,
        hotplugCapable: hotplug,
        shpc: false,
        reserve: null,
      },
    });
  },
};

const pciePciBridgeModel: DeviceModel = {
  driver: 'pcie-pci-bridge',
  summary:
    'PCIe-to-PCI bridge: 256-byte 64-bit SHPC BAR0; everything below aliases to one requester ID',
  inQemu72: true,
  build(p) {
    p.accept('msi');
    return base('pcie-pci-bridge', 0x1b36, 0x000e, 0x060400, {
      kind: 'pcie-pci-bridge',
      pcieType: 'pcie-to-pci',
      bars: [mem64(0, 256)],
      bridge: {
        secondary: 'pci',
        ioWindow: true,
        prefWindow: true,
        pref64: true,
        windowsAtReset: 'zero',
        slotImplemented: false,
        hotplugCapable: false,
        shpc: true,
        reserve: null,
      },
    });
  },
};

const pciBridgeModel: DeviceModel = {
  driver: 'pci-bridge',
  summary: 'Conventional PCI-PCI bridge: 256-byte 64-bit SHPC BAR0 when shpc=on',
  inQemu72: true,
  build(p) {
    if (!p.has('chassis_nr')) throw new QemuArgError('pci-bridge: chassis_nr= is required');
    p.accept('chassis_nr', 'msi', 'addr');
    const shpc = p.bool('shpc', true);
    return base('pci-bridge', 0x1b36, 0x0001, 0x060400, {
      kind: 'pci-bridge',
      pcieType: 'none',
      bars: shpc ? [mem64(0, 256)] : [],
      bridge: {
        secondary: 'pci',
        ioWindow: true,
        prefWindow: true,
        pref64: true,
        windowsAtReset: 'zero',
        slotImplemented: false,
        hotplugCapable: false,
        shpc,
        reserve: null,
      },
    });
  },
};

const intelIommuModel: DeviceModel = {
  driver: 'intel-iommu',
  summary: 'Intel VT-d vIOMMU (a system device, no PCI function): gives the guest IOMMU groups',
  inQemu72: true,
  build(p) {
    p.accept(
      'intremap',
      'caching-mode',
      'eim',
      'device-iotlb',
      'aw-bits',
      'x-scalable-mode',
      'dma-drain',
      'snoop-control',
      'x-pasid-mode',
      'dma-translation',
    );
    return base('intel-iommu', 0x8086, 0, 0, { notPci: true, viommu: 'intel-iommu' });
  },
};

/** `custom`: a function described entirely by properties (see fixtures/scenarios/README.md). */
const customModel: DeviceModel = {
  driver: 'custom',
  summary:
    'Hardware QEMU does not emulate: explicit BARs (barN=mem32|mem64|mem32pref|mem64pref|io:SIZE), ROM, MSI-X, ACS, SR-IOV',
  inQemu72: false,
  build(p, ctx) {
    const vendor = p.int('vendor', 0x1b36);
    const device = p.int('device', 0x00ff);
    const classCode = p.int('class', 0x00ff00);
    const pcie = p.str('pcie', ctx.busIsExpress ? 'endpoint' : 'none');
    if (!['endpoint', 'none'].includes(pcie))
      throw new QemuArgError(`custom: pcie=${pcie}: expected endpoint or none`);
    const bars: BarDef[] = [];
    for (let i = 0; i < 6; i++) {
      const spec = p.raw(`bar${i}`);
      if (spec !== undefined) bars.push(parseBarSpec(`custom.bar${i}`, i, spec));
    }
    checkBarSlots('custom', bars);
    const rom = p.size('rom', 0);
    if (rom && !isPow2(rom)) throw new QemuArgError(`custom: rom=${rom} is not a power of two`);
    let msix: MsixInfo | undefined;
    if (p.has('msix-bar') || p.has('msix-vectors')) {
      const tableBar = p.int('msix-bar', 0);
      const vectors = p.int('msix-vectors', 1);
      const tableOffset = p.int('msix-offset', 0);
      const pbaBar = p.int('pba-bar', tableBar);
      const pbaOffset = p.int('pba-offset', alignUp(tableOffset + vectors * 16, 8));
      for (const [what, b, off, len] of [
        ['table', tableBar, tableOffset, vectors * 16],
        ['PBA', pbaBar, pbaOffset, Math.max(8, alignUp(vectors, 64) / 8)],
      ] as const) {
        const bar = bars.find((x) => x.index === b);
        if (!bar || bar.io)
          throw new QemuArgError(`custom: MSI-X ${what} in BAR${b}, which is not a memory BAR`);
        if (off + len > bar.size)
          throw new QemuArgError(
            `custom: MSI-X ${what} at ${off}+${len} runs past BAR${b} (${bar.size} bytes)`,
          );
      }
      msix = {
        tableBar,
        tableOffset,
        tableSize: vectors * 16,
        pbaBar,
        pbaOffset,
        pbaSize: Math.max(8, alignUp(vectors, 64) / 8),
      };
      if (p.bool('msix-only-bar', false)) msix.otherRegisters = [];
    }
    const acs = p.bool('acs', false);
    let sriov: SriovDef | undefined;
    const totalVfs = p.int('sriov-vfs', 0);
    if (totalVfs) {
      const vfBars: BarDef[] = [];
      for (let i = 0; i < 6; i++) {
        const spec = p.raw(`vf-bar${i}`);
        if (spec !== undefined) vfBars.push(parseBarSpec(`custom.vf-bar${i}`, i, spec));
      }
      if (vfBars.some((b) => b.io)) throw new QemuArgError('custom: VF BARs must be memory');
      checkBarSlots('custom VF', vfBars);
      sriov = {
        totalVfs,
        vfOffset: p.int('vf-offset', 1),
        vfStride: p.int('vf-stride', 1),
        vfDevice: p.int('vf-device', device + 1),
        vfBars,
      };
    }
    return base('custom', vendor, device, classCode, {
      name: 'custom',
      pcieType: pcie === 'none' ? 'none' : pcieEndpoint(ctx),
      bars,
      romSize: rom,
      msix,
      acs,
      ari: Boolean(sriov),
      sriov,
    });
  },
};

/** `mem32:4K`, `mem64pref:256T`, `io:32`. */
export function parseBarSpec(what: string, index: number, spec: string): BarDef {
  const m = /^(mem32|mem64|mem32pref|mem64pref|io):(.+)$/.exec(spec);
  if (!m)
    throw new QemuArgError(`${what}=${spec}: expected mem32|mem64|mem32pref|mem64pref|io:SIZE`);
  const size = parseSize(m[2]!);
  if (!isPow2(size)) throw new QemuArgError(`${what}=${spec}: BAR sizes are powers of two`);
  const kind = m[1]!;
  if (kind === 'io') {
    if (size < 4 || size > 256)
      throw new QemuArgError(`${what}=${spec}: I/O BARs are 4 to 256 bytes`);
    return io(index, size);
  }
  if (size < 16) throw new QemuArgError(`${what}=${spec}: memory BARs are at least 16 bytes`);
  if (!kind.startsWith('mem64') && size > 2 ** 31)
    throw new QemuArgError(`${what}=${spec}: a 32-bit BAR cannot exceed 2 GiB`);
  return kind.startsWith('mem64')
    ? mem64(index, size, kind.endsWith('pref'))
    : mem32(index, size, kind.endsWith('pref'));
}

function checkBarSlots(what: string, bars: BarDef[]): void {
  for (const b of bars) {
    if (b.is64 && b.index === 5)
      throw new QemuArgError(`${what}: a 64-bit BAR cannot start at BAR5`);
    if (b.is64 && bars.some((o) => o.index === b.index + 1)) {
      throw new QemuArgError(`${what}: BAR${b.index} is 64-bit and uses BAR${b.index + 1}`);
    }
  }
}

export const CATALOGUE: Record<string, DeviceModel> = Object.fromEntries(
  [
    e1000eModel,
    igbModel,
    e1000Model,
    pciTestdevModel,
    nvmeModel,
    ...VIRTIO.map(virtioModel),
    ivshmemModel,
    vgaModel,
    xhciModel,
    ahciModel,
    rootPortModel,
    ioh3420Model,
    upstreamModel,
    downstreamModel,
    pciePciBridgeModel,
    pciBridgeModel,
    intelIommuModel,
    customModel,
  ].map((m) => [m.driver, m]),
);

/** The built-in functions of the machines, which no -device creates. */
export const BUILTIN = {
  q35Host: (): FunctionDef =>
    base('q35-host', 0x8086, 0x29c0, 0x060000, { kind: 'host-bridge', name: 'q35 host bridge' }),
  q35Lpc: (): FunctionDef => base('ich9-lpc', 0x8086, 0x2918, 0x060100, { name: 'ICH9 LPC' }),
  q35Smbus: (): FunctionDef =>
    base('ich9-smbus', 0x8086, 0x2930, 0x0c0500, { name: 'ICH9 SMBus', bars: [io(4, 64)] }),
  virtHost: (): FunctionDef =>
    base('gpex-root', 0x1b36, 0x0008, 0x060000, { kind: 'host-bridge', name: 'virt host bridge' }),
};
