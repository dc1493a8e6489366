// Linux PCI resource placement, modelled on the 6.12 sources:
//   drivers/pci/probe.c      reading BARs and bridge windows
//   drivers/pci/pci.c        pci_reassigndev_resource_alignment() (default and
//                            pci=resource_alignment= alignments, both methods)
//   arch/x86/pci/i386.c      the x86 claim passes (keep firmware BARs; a failed
//                            claim rebases the BAR to 0, dropping STARTALIGN)
//   drivers/pci/setup-bus.c  bridge window sizing (pbus_size_io/mem,
//                            calculate_mem_align), hotplug headroom, realloc
//                            passes, sorted assignment with optional add sizes
//   drivers/pci/setup-res.c  pci_assign_resource(), the three window tries
//   drivers/pci/bus.c        pci_bus_alloc_resource() (above 4 GiB first for
//                            64-bit BARs), kernel/resource.c lowest-gap search
// Function names below follow the kernel's so the two can be read side by side.
import type { Machine, MFunction, MBus } from '../machine.js';
import { bdfOf } from '../machine.js';
import type { FirmwareState } from '../firmware/types.js';
import { defaultAlignmentBytes, type KernelPolicy } from '../policy.js';
import { parseResourceAlignment, type AlignmentEntry, type KernelArgs } from './cmdline.js';
import { q35RamSplit } from '../firmware/seabios.js';
import {
  ADDR_MAX,
  IORESOURCE_IO,
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PCI_FIXED,
  IORESOURCE_PREFETCH,
  IORESOURCE_READONLY,
  IORESOURCE_ROM_ENABLE,
  IORESOURCE_ROM_SHADOW,
  IORESOURCE_SIZEALIGN,
  IORESOURCE_STARTALIGN,
  IORESOURCE_TYPE_BITS,
  IORESOURCE_UNSET,
  IORESOURCE_WINDOW,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_PREF_RANGE_TYPE_64,
  Res,
  alignDown,
  alignUp,
  allocateResource,
  clearFlag,
  ffs0,
  fmtRes,
  hasFlag,
  hex,
  releaseResource,
  requestResource,
  resType,
  resourceAlignment,
  resourceContains,
  setFlag,
  type AllocConstraint,
} from './resource.js';

export const ROM = 6;
export const IOV0 = 7;
export const IOV_END = 12;
export const BR_IO = 13;
export const BR_MEM = 14;
export const BR_PREF = 15;
const NUM_RES = 16;
const SZ_1M = 2 ** 20;

export interface KDev {
  f: MFunction;
  bdf: string;
  bus: KBus;
  res: (Res | null)[];
  /** Per-VF BAR size for the SR-IOV resources (their alignment). */
  iovVfSize: number[];
  cmdIo: boolean;
  cmdMem: boolean;
  subordinate: KBus | null;
  hotplugBridge: boolean;
  ioWindow: boolean;
  prefWindow: boolean;
  pref64Window: boolean;
  /** x86 pcibios_save_fw_addr(): where firmware had a BAR whose claim failed. */
  fwAddr: Map<number, number>;
}

export interface KBus {
  number: number;
  self: KDev | null;
  parent: KBus | null;
  devices: KDev[];
  /** Root bus: host bridge windows; child bus: the bridge's I/O, memory and prefetchable windows. */
  resources: Res[];
  children: KBus[];
}

interface DevRes {
  dev: KDev;
  res: Res;
  start: number;
  end: number;
  flags: number;
  addSize: number;
  minAlign: number;
}

export interface KernelInput {
  machine: Machine;
  fw: FirmwareState;
  policy: KernelPolicy;
  /** The guest kernel's PAGE_SIZE. */
  pageSize: number;
  args: KernelArgs;
}

export interface KernelResult {
  root: KBus;
  devs: KDev[];
  /** uid:index -> why a resource the hardware has ended up without an address. */
  lost: Map<string, string>;
  /** Kernel-style messages, in order (`pci 0000:01:00.0: BAR 2 [...]: assigned`). */
  log: string[];
  rootWindows: Res[];
}

class Ctx {
  log: string[] = [];
  lost = new Map<string, string>();
  claimNotes = new Map<string, string>();
  /** pci=resource_alignment= entries (null: no parameter). */
  alignEntries: AlignmentEntry[] | null = null;
  x86: boolean;
  minIo: number;
  minMem: number;
  skipIsa: boolean;
  e820: [number, number][] = [];
  hp: { io: number; mmio: number; mmioPref: number };
  ioRoot = new Res('PCI IO');
  memRoot = new Res('PCI mem');
  constructor(public inp: KernelInput) {
    this.x86 = inp.machine.arch === 'x86_64';
    this.minIo = 0x1000;
    this.skipIsa = inp.args.skipIsaAlign;
    const p = inp.policy.hotplug;
    this.hp = {
      io: inp.args.hpIoSize ?? p.io,
      mmio: inp.args.hpMmioSize ?? p.mmio,
      mmioPref: inp.args.hpMmioPrefSize ?? p.mmioPref,
    };
    this.ioRoot.start = 0;
    this.ioRoot.end = 0xffff;
    this.ioRoot.flags = IORESOURCE_IO;
    this.memRoot.start = 0;
    this.memRoot.end = ADDR_MAX;
    this.memRoot.flags = IORESOURCE_MEM;
    if (this.x86) {
      const { below4g, above4g } = q35RamSplit(inp.machine.ramBytes);
      // e820__setup_pci_gap(): PCIBIOS_MIN_MEM is where the gap above low RAM starts.
      this.minMem = alignUp(below4g, SZ_1M);
      this.e820 = [
        [0, 0x9fbff],
        [0x9fc00, 0x9ffff],
        [0xf0000, 0xfffff],
        [0x100000, below4g - 1],
        [0xb0000000, 0xbfffffff],
        [0xfed1c000, 0xfed1ffff],
        [0xfffc0000, 0xffffffff],
        [0xfd00000000, 0xffffffffff],
      ];
      if (above4g) this.e820.push([2 ** 32, 2 ** 32 + above4g - 1]);
    } else {
      this.minMem = 0;
    }
  }
  msg(dev: KDev | null, text: string): void {
    this.log.push(dev ? `pci ${dev.bdf}: ${text}` : text);
  }
}

function resName(idx: number): string {
  if (idx < 6) return `BAR ${idx}`;
  if (idx === ROM) return 'ROM';
  if (idx <= IOV_END) return `VF BAR ${idx - IOV0}`;
  return 'bridge window';
}

function key(dev: KDev, idx: number): string {
  return `${dev.f.uid}:${idx}`;
}

function idxOf(dev: KDev, r: Res): number {
  return dev.res.indexOf(r);
}

function pciResourceAlignment(dev: KDev, r: Res): number {
  const i = idxOf(dev, r);
  if (i >= IOV0 && i <= IOV_END) return dev.iovVfSize[i - IOV0] ?? 0;
  return resourceAlignment(r);
}

// ---------------------------------------------------------------- enumeration

function barFlags(b: { io: boolean; is64: boolean; prefetch: boolean }): number {
  if (b.io) return IORESOURCE_IO | PCI_BASE_ADDRESS_SPACE_IO | IORESOURCE_SIZEALIGN;
  let f = IORESOURCE_MEM | IORESOURCE_SIZEALIGN;
  if (b.is64) f |= IORESOURCE_MEM_64 | PCI_BASE_ADDRESS_MEM_TYPE_64;
  if (b.prefetch) f |= IORESOURCE_PREFETCH | PCI_BASE_ADDRESS_MEM_PREFETCH;
  return f >>> 0;
}

function makeRes(name: string, start: number, size: number, flags: number): Res {
  const r = new Res(name);
  r.start = start;
  r.end = start + size - 1;
  r.flags = flags >>> 0;
  return r;
}

function buildDevices(ctx: Ctx): { root: KBus; devs: KDev[] } {
  const { machine, fw, policy } = ctx.inp;
  const devs: KDev[] = [];
  const mkBus = (b: MBus, parent: KBus | null, self: KDev | null): KBus => {
    const kb: KBus = { number: b.number, self, parent, devices: [], resources: [], children: [] };
    if (self) kb.resources = [self.res[BR_IO]!, self.res[BR_MEM]!, self.res[BR_PREF]!];
    for (const f of b.functions) {
      const d = mkDev(f, kb);
      kb.devices.push(d);
      devs.push(d);
    }
    for (const d of kb.devices) {
      if (d.f.secondary) {
        const child = mkBus(d.f.secondary, kb, d);
        d.subordinate = child;
        kb.children.push(child);
      }
    }
    return kb;
  };
  const mkDev = (f: MFunction, bus: KBus): KDev => {
    const bdf = bdfOf(f);
    const fwBars = fw.bars.get(f.uid);
    const res: (Res | null)[] = new Array(NUM_RES).fill(null);
    for (const b of f.def.bars) {
      res[b.index] = makeRes(
        `${bdf} BAR ${b.index}`,
        fwBars?.get(b.index) ?? 0,
        b.size,
        barFlags(b),
      );
    }
    if (f.def.romSize) {
      res[ROM] = makeRes(
        `${bdf} ROM`,
        fwBars?.get(ROM) ?? 0,
        f.def.romSize,
        IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_READONLY | IORESOURCE_SIZEALIGN,
      );
    }
    const iovVfSize: number[] = [];
    if (f.def.sriov && policy.iov) {
      for (const vb of f.def.sriov.vfBars) {
        res[IOV0 + vb.index] = makeRes(
          `${bdf} VF BAR ${vb.index}`,
          0,
          vb.size * f.def.sriov.totalVfs,
          barFlags(vb),
        );
        iovVfSize[vb.index] = vb.size;
      }
    }
    const br = f.def.bridge;
    const dev: KDev = {
      f,
      bdf,
      bus,
      res,
      iovVfSize,
      cmdIo: fw.decodeEnabled,
      cmdMem: fw.decodeEnabled,
      subordinate: null,
      hotplugBridge: Boolean(br?.hotplugCapable),
      ioWindow: Boolean(br?.ioWindow),
      prefWindow: Boolean(br?.prefWindow),
      pref64Window: Boolean(br?.pref64),
      fwAddr: new Map(),
    };
    if (br) {
      const w = fw.windows.get(f.uid) ?? {};
      const mk = (
        kind: 'io' | 'mem' | 'pref',
        idx: number,
        supported: boolean,
        gran: number,
        flags: number,
      ): Res => {
        const r = new Res(`${bdf} bridge window`);
        r.start = 0;
        r.end = 0;
        r.flags = 0;
        if (!supported) return r;
        const reg = w[kind];
        let base: number;
        let limit: number;
        // Only x86 reads bridge windows back (pcibios_fixup_bus -> pci_read_bridge_bases);
        // a generic host bridge that reassigns everything never does, so they start empty.
        if (!ctx.x86) return r;
        if (reg) {
          base = reg.base;
          limit = reg.limit;
        } else if (br.windowsAtReset === 'zero') {
          base = 0;
          limit = gran - 1;
        } else {
          return r;
        }
        if (base > limit) return r; // pci_read_bridge_*(): base > limit means no window
        r.start = base;
        r.end = limit;
        r.flags = flags >>> 0;
        void idx;
        return r;
      };
      res[BR_IO] = mk('io', BR_IO, br.ioWindow, 0x1000, IORESOURCE_IO);
      res[BR_MEM] = mk('mem', BR_MEM, true, SZ_1M, IORESOURCE_MEM);
      res[BR_PREF] = mk(
        'pref',
        BR_PREF,
        br.prefWindow,
        SZ_1M,
        IORESOURCE_MEM |
          IORESOURCE_PREFETCH |
          (br.pref64 ? IORESOURCE_MEM_64 | PCI_PREF_RANGE_TYPE_64 : 0),
      );
    }
    return dev;
  };
  const root = mkBus(machine.root, null, null);
  return { root, devs };
}

function rootWindows(ctx: Ctx): Res[] {
  const m = ctx.inp.machine;
  const out: Res[] = [];
  const win = (name: string, start: number, end: number, flags: number) => {
    const r = new Res(name);
    r.start = start;
    r.end = end;
    r.flags = (flags | IORESOURCE_WINDOW) >>> 0;
    requestResource(flags & IORESOURCE_IO ? ctx.ioRoot : ctx.memRoot, r);
    out.push(r);
  };
  if (m.type === 'q35') {
    // QEMU's q35 _CRS: I/O around the 0xcf8 config ports, the VGA hole, the
    // 32-bit hole above low RAM minus MMCONFIG, and the 64-bit hole.
    const { below4g, above4g } = q35RamSplit(m.ramBytes);
    win('PCI Bus 0000:00', 0x0, 0xcf7, IORESOURCE_IO);
    win('PCI Bus 0000:00', 0xd00, 0xffff, IORESOURCE_IO);
    win('PCI Bus 0000:00', 0xa0000, 0xbffff, IORESOURCE_MEM);
    if (below4g < 0xb0000000) win('PCI Bus 0000:00', below4g, 0xafffffff, IORESOURCE_MEM);
    win('PCI Bus 0000:00', 0xc0000000, 0xfebfffff, IORESOURCE_MEM);
    const hole64Start = alignUp(2 ** 32 + above4g, 2 ** 30);
    let start = hole64Start;
    let end = alignUp(hole64Start + m.pciHole64Size, 2 ** 30);
    const fw64 = ctx.inp.fw.mem64;
    if (fw64) {
      start = fw64[0];
      end = Math.max(end, fw64[1] + 1);
    }
    win('PCI Bus 0000:00', start, end - 1, IORESOURCE_MEM);
  } else {
    win('pcie@10000000', 0x0, 0xffff, IORESOURCE_IO);
    win('pcie@10000000', 0x10000000, 0x3efeffff, IORESOURCE_MEM);
    if (m.highmem)
      win('pcie@10000000', 0x8000000000, 0xffffffffff, IORESOURCE_MEM | IORESOURCE_MEM_64);
  }
  return out;
}

// ------------------------------------------------------- resource alignment

function pathMatches(dev: KDev, e: Extract<AlignmentEntry['match'], { kind: 'path' }>): boolean {
  // Walk up from the device: the last path element is the device itself.
  let d: KDev | null = dev;
  for (let i = e.path.length - 1; i >= 0; i--) {
    if (!d) return false;
    const p = e.path[i]!;
    if (d.f.slot !== p.dev || d.f.fn !== p.fn) return false;
    if (i === 0) return d.bus.number === e.bus && e.domain === 0;
    d = d.bus.self;
  }
  return false;
}

/** pci_specified_resource_alignment(): [alignment, resize]. */
function specifiedAlignment(
  ctx: Ctx,
  dev: KDev,
  entries: AlignmentEntry[] | null,
): [number, boolean] {
  const def = defaultAlignmentBytes(ctx.inp.policy, ctx.inp.pageSize);
  if (!entries) return [def, false];
  for (const e of entries) {
    const hit =
      e.match.kind === 'id'
        ? dev.f.def.vendor === e.match.vendor && dev.f.def.device === e.match.device
        : pathMatches(dev, e.match);
    if (hit) {
      const order = e.order ?? Math.log2(ctx.inp.pageSize);
      return [2 ** order, ctx.inp.policy.resourceAlignment.namedMethod === 'resize'];
    }
  }
  return [def, ctx.inp.policy.resourceAlignment.defaultMethod === 'resize'];
}

/**
 * pci_request_resource_alignment(): realign one BAR; whether it did (false
 * when the BAR is not memory, fixed, big enough, or, with "already aligned"
 * BARs kept (v3 7/8), already on the boundary).
 */
function requestResourceAlignment(
  ctx: Ctx,
  dev: KDev,
  idx: number,
  align: number,
  resize: boolean,
): boolean {
  const r = dev.res[idx];
  if (!r || !hasFlag(r, IORESOURCE_MEM)) return false;
  if (hasFlag(r, IORESOURCE_PCI_FIXED)) {
    ctx.msg(dev, `${resName(idx)} ${fmtRes(r)}: ignoring requested alignment ${hex(align)}`);
    return false;
  }
  const size = r.size();
  if (size >= align) return false;
  const keep = ctx.inp.policy.resourceAlignment.keepAligned;
  // Addresses pass 2^32: `%`, not `&`.
  if ((keep === 'always' || (keep === 'unless-resize' && !resize)) && r.start > align)
    if (r.start % align === 0) return false;
  ctx.msg(dev, `${resName(idx)} ${fmtRes(r)}: requesting alignment to ${hex(align)}`);
  if (resize) {
    r.start = 0;
    r.end = align - 1;
  } else {
    clearFlag(r, IORESOURCE_SIZEALIGN);
    setFlag(r, IORESOURCE_STARTALIGN);
    r.start = align;
    r.end = r.start + size - 1;
  }
  setFlag(r, IORESOURCE_UNSET);
  return true;
}

/**
 * pci_reassigndev_resource_alignment(): memory decoding off, every BAR
 * realigned, a bridge's windows released; with "only when needed" (v3 2/8)
 * decoding and windows are touched only when a BAR was realigned.
 */
function reassigndevResourceAlignment(ctx: Ctx, dev: KDev): void {
  const [align, resize] = specifiedAlignment(ctx, dev, ctx.alignEntries);
  if (!align) return;
  if (!dev.f.def.bridge && dev.f.def.classCode >> 8 === 0x0600) {
    ctx.msg(dev, "Can't reassign resources to host bridge");
    return;
  }
  if (ctx.inp.policy.resourceAlignment.onlyWhenNeeded) {
    let needed = false;
    for (let i = 0; i <= ROM; i++)
      needed = requestResourceAlignment(ctx, dev, i, align, resize) || needed;
    if (!needed) return;
    dev.cmdMem = false;
  } else {
    dev.cmdMem = false;
    for (let i = 0; i <= ROM; i++) requestResourceAlignment(ctx, dev, i, align, resize);
  }
  if (dev.f.def.bridge) {
    for (const i of [BR_IO, BR_MEM, BR_PREF]) {
      const r = dev.res[i]!;
      if (!hasFlag(r, IORESOURCE_MEM)) continue;
      setFlag(r, IORESOURCE_UNSET);
      r.end = r.size() - 1;
      r.start = 0;
    }
  }
}

/** x86 pci_fixup_video(): the boot VGA with decoding on gets the shadowed legacy ROM. */
function fixupVideo(ctx: Ctx, devs: KDev[]): void {
  if (!ctx.x86) return;
  for (const d of devs) {
    if (d.f.def.classCode >> 8 !== 0x0300) continue;
    if (!(d.cmdIo || d.cmdMem)) return;
    const r = d.res[ROM] ?? makeRes(`${d.bdf} ROM`, 0, 1, 0);
    d.res[ROM] = r;
    r.start = 0xc0000;
    r.end = 0xdffff;
    r.flags = IORESOURCE_MEM | IORESOURCE_ROM_SHADOW | IORESOURCE_PCI_FIXED;
    ctx.msg(d, 'Video device with shadowed ROM at [mem 0x000c0000-0x000dffff]');
    return;
  }
}

// ------------------------------------------------------------------ claiming

function findParentResource(dev: KDev, r: Res): Res | null {
  for (const w of dev.bus.resources) {
    if (!w) continue;
    if (resourceContains(w, r)) {
      if (hasFlag(w, IORESOURCE_PREFETCH) && !hasFlag(r, IORESOURCE_PREFETCH)) return null;
      return w;
    }
  }
  return null;
}

function claimResource(ctx: Ctx, dev: KDev, idx: number): boolean {
  const r = dev.res[idx]!;
  const name = resName(idx);
  if (hasFlag(r, IORESOURCE_UNSET)) {
    ctx.msg(dev, `${name} ${fmtRes(r)}: can't claim; no address assigned`);
    ctx.claimNotes.set(key(dev, idx), "can't claim; no address assigned");
    return false;
  }
  if (hasFlag(r, IORESOURCE_ROM_SHADOW)) return true;
  const root = findParentResource(dev, r);
  if (!root) {
    ctx.msg(dev, `${name} ${fmtRes(r)}: can't claim; no compatible bridge window`);
    setFlag(r, IORESOURCE_UNSET);
    return false;
  }
  const conflict = requestResource(root, r);
  if (conflict) {
    ctx.msg(dev, `${name} ${fmtRes(r)}: can't claim; address conflict with ${conflict.name}`);
    setFlag(r, IORESOURCE_UNSET);
    return false;
  }
  return true;
}

function x86ClaimPhase(ctx: Ctx, root: KBus): void {
  const allocBridges = (bus: KBus) => {
    if (bus.self) {
      for (const idx of [BR_IO, BR_MEM, BR_PREF]) {
        const r = bus.self.res[idx]!;
        if (!r.flags || r.parent) continue;
        if (!r.start || !claimResource(ctx, bus.self, idx)) {
          r.start = 0;
          r.end = 0;
          r.flags = 0;
        }
      }
    }
    for (const c of bus.children) allocBridges(c);
  };
  allocBridges(root);
  const allocDevs = (bus: KBus, pass: number) => {
    for (const dev of bus.devices) {
      const idxs = [0, 1, 2, 3, 4, 5, ...(ctx.inp.policy.iov ? [7, 8, 9, 10, 11, 12] : [])];
      for (const idx of idxs) {
        const r = dev.res[idx];
        if (!r || r.parent || !r.start) continue;
        const disabled = hasFlag(r, IORESOURCE_IO) ? !dev.cmdIo : !dev.cmdMem;
        if ((pass === 1) !== disabled) continue;
        if (!claimResource(ctx, dev, idx)) {
          if (hasFlag(r, IORESOURCE_PCI_FIXED)) continue;
          // With "x86/PCI: Preserve IORESOURCE_STARTALIGN alignment" (v3 5/8) a
          // realigned BAR keeps its start (the alignment): no fw address, no rebase.
          if (!ctx.inp.policy.x86ClaimDropsStartAlign && hasFlag(r, IORESOURCE_STARTALIGN))
            continue;
          dev.fwAddr.set(idx, r.start);
          // With a STARTALIGN start this also drops the requested alignment.
          r.end -= r.start;
          r.start = 0;
        }
      }
      if (dev.subordinate) allocDevs(dev.subordinate, pass);
    }
  };
  allocDevs(root, 0);
  allocDevs(root, 1);
  const allocRoms = (bus: KBus) => {
    for (const dev of bus.devices) {
      const r = dev.res[ROM];
      if (r && r.flags && r.start && !r.parent) {
        if (!claimResource(ctx, dev, ROM)) {
          r.end -= r.start;
          r.start = 0;
        }
      }
      if (dev.subordinate) allocRoms(dev.subordinate);
    }
  };
  allocRoms(root);
}

// -------------------------------------------------------------------- sizing

function addToList(list: DevRes[], dev: KDev, res: Res, addSize: number, minAlign: number): void {
  list.unshift({ dev, res, start: res.start, end: res.end, flags: res.flags, addSize, minAlign });
}
function removeFromList(list: DevRes[], res: Res): void {
  const i = list.findIndex((e) => e.res === res);
  if (i >= 0) list.splice(i, 1);
}
function getAddSize(list: DevRes[] | null, res: Res): number {
  return list?.find((e) => e.res === res)?.addSize ?? 0;
}
function getAddAlign(list: DevRes[] | null, res: Res): number {
  return list?.find((e) => e.res === res)?.minAlign ?? 0;
}

function findBusResourceOfType(bus: KBus, mask: number, type: number): Res | null {
  let assigned: Res | null = null;
  for (const r of bus.resources) {
    if (!r) continue;
    if ((r.flags & mask) === type && !r.parent) return r;
    if ((r.flags & mask) === type && !assigned) assigned = r;
  }
  return assigned;
}

function calculateIosize(
  size: number,
  minSize: number,
  size1: number,
  addSize: number,
  childrenAdd: number,
  oldSize: number,
  align: number,
): number {
  if (size < minSize) size = minSize;
  if (oldSize === 1) oldSize = 0;
  size = size + size1;
  size = Math.max(size, addSize) + childrenAdd;
  return alignUp(Math.max(size, oldSize), align);
}

function calculateMemsize(
  size: number,
  minSize: number,
  addSize: number,
  childrenAdd: number,
  oldSize: number,
  align: number,
): number {
  if (size < minSize) size = minSize;
  if (oldSize === 1) oldSize = 0;
  size = Math.max(size, addSize) + childrenAdd;
  return alignUp(Math.max(size, oldSize), align);
}

function calculateMemAlign(aligns: number[], maxOrder: number): number {
  let align = 0;
  let minAlign = 0;
  for (let order = 0; order <= maxOrder; order++) {
    const align1 = 2 ** (order + 20);
    if (!align) minAlign = align1;
    else if (alignUp(align + minAlign, minAlign) < align1) minAlign = align1 / 2;
    align += aligns[order]!;
  }
  return minAlign;
}

function pbusSizeIo(
  ctx: Ctx,
  bus: KBus,
  minSize: number,
  addSize: number,
  realloc: DevRes[] | null,
): void {
  const bRes = findBusResourceOfType(bus, IORESOURCE_IO, IORESOURCE_IO);
  if (!bRes || bRes.parent) return;
  let minAlign = 0x1000;
  let size = 0;
  let size1 = 0;
  let childrenAdd = 0;
  for (const dev of bus.devices) {
    for (const r of dev.res) {
      if (!r || r.parent || !hasFlag(r, IORESOURCE_IO)) continue;
      const rs = r.size();
      if (rs < 0x400) size += rs;
      else size1 += rs;
      const align = pciResourceAlignment(dev, r);
      if (align > minAlign) minAlign = align;
      if (realloc) childrenAdd += getAddSize(realloc, r);
    }
  }
  const size0 = calculateIosize(size, minSize, size1, 0, 0, bRes.size(), minAlign);
  const s1 =
    !realloc || (!addSize && !childrenAdd)
      ? size0
      : calculateIosize(size, minSize, size1, addSize, childrenAdd, bRes.size(), minAlign);
  if (!size0 && !s1) {
    bRes.flags = 0;
    return;
  }
  bRes.start = minAlign;
  bRes.end = bRes.start + size0 - 1;
  setFlag(bRes, IORESOURCE_STARTALIGN);
  if (bus.self && s1 > size0 && realloc) addToList(realloc, bus.self, bRes, s1 - size0, minAlign);
}

function upstreamSpaceAvailable(
  bus: KBus,
  mask: number,
  type: number,
  size: number,
  align: number,
): boolean {
  let b: KBus | null = bus.parent;
  while (b && b.parent) {
    for (const r of b.resources) {
      if (!r || !r.parent || (r.flags & mask) !== type) continue;
      if (r.size() >= size) {
        const probe = new Res('probe');
        probe.flags = r.flags;
        if (allocateResource(r, probe, size, { min: 0, max: ADDR_MAX, align }, null, true))
          return true;
      }
      return false;
    }
    b = b.parent;
  }
  return true;
}

function pbusSizeMem(
  ctx: Ctx,
  bus: KBus,
  mask: number,
  type: number,
  type2: number,
  type3: number,
  minSize: number,
  addSize: number,
  realloc: DevRes[] | null,
): number {
  const bRes = findBusResourceOfType(bus, mask | IORESOURCE_PREFETCH, type);
  if (!bRes) return -1;
  if (bRes.parent) return 0;
  const aligns = new Array<number>(24).fill(0);
  let maxOrder = 0;
  let size = 0;
  let childrenAdd = 0;
  let addAlign = 0;
  for (const dev of bus.devices) {
    dev.res.forEach((r, i) => {
      if (!r) return;
      const t = r.flags & mask;
      if (
        r.parent ||
        hasFlag(r, IORESOURCE_PCI_FIXED) ||
        (t !== type && t !== type2 && t !== type3)
      )
        return;
      const rs = r.size();
      if (ctx.inp.policy.iov && realloc && i >= IOV0 && i <= IOV_END) {
        addAlign = Math.max(pciResourceAlignment(dev, r), addAlign);
        r.end = r.start - 1;
        addToList(realloc, dev, r, rs, 0);
        childrenAdd += rs;
        return;
      }
      const align = pciResourceAlignment(dev, r);
      let order = ffs0(align) - 20;
      if (order < 0) order = 0;
      if (order >= aligns.length) {
        ctx.msg(dev, `${resName(i)} ${fmtRes(r)}: disabling; bad alignment ${hex(align)}`);
        const why = ctx.claimNotes.get(key(dev, i));
        ctx.lost.set(
          key(dev, i),
          `disabling; bad alignment ${hex(align)}${why ? ` (the x86 claim pass rebased it to 0 after "${why}", dropping its STARTALIGN alignment)` : ''}`,
        );
        r.flags = 0;
        return;
      }
      size += Math.max(rs, align);
      if (rs <= align) aligns[order]! += align;
      if (order > maxOrder) maxOrder = order;
      if (realloc) {
        childrenAdd += getAddSize(realloc, r);
        addAlign = Math.max(addAlign, getAddAlign(realloc, r));
      }
    });
  }
  const winAlign = SZ_1M;
  let minAlign = Math.max(calculateMemAlign(aligns, maxOrder), winAlign);
  let size0 = calculateMemsize(size, minSize, 0, 0, bRes.size(), minAlign);
  addAlign = Math.max(minAlign, addAlign);
  if (
    bus.self &&
    size0 &&
    !upstreamSpaceAvailable(bus, mask | IORESOURCE_PREFETCH, type, size0, addAlign)
  ) {
    minAlign = Math.max(2 ** (maxOrder + 20), winAlign);
    size0 = calculateMemsize(size, minSize, 0, 0, bRes.size(), winAlign);
    ctx.msg(bus.self, `bridge window ${fmtRes(bRes)} requires relaxed alignment rules`);
  }
  const s1 =
    !realloc || (!addSize && !childrenAdd)
      ? size0
      : calculateMemsize(size, minSize, addSize, childrenAdd, bRes.size(), addAlign);
  if (!size0 && !s1) {
    bRes.flags = 0;
    return 0;
  }
  bRes.start = minAlign;
  bRes.end = size0 + minAlign - 1;
  setFlag(bRes, IORESOURCE_STARTALIGN);
  if (bus.self && s1 > size0 && realloc) addToList(realloc, bus.self, bRes, s1 - size0, addAlign);
  return 0;
}

function bridgeCheckRanges(bus: KBus): void {
  const b = bus.self!;
  setFlag(b.res[BR_MEM]!, IORESOURCE_MEM);
  if (b.ioWindow) setFlag(b.res[BR_IO]!, IORESOURCE_IO);
  if (b.prefWindow) {
    setFlag(b.res[BR_PREF]!, IORESOURCE_MEM | IORESOURCE_PREFETCH);
    if (b.pref64Window) setFlag(b.res[BR_PREF]!, IORESOURCE_MEM_64 | PCI_PREF_RANGE_TYPE_64);
  }
}

function sizeBridges(ctx: Ctx, bus: KBus, realloc: DevRes[] | null): void {
  for (const dev of bus.devices) if (dev.subordinate) sizeBridges(ctx, dev.subordinate, realloc);
  if (!bus.self) return; // root bus: host->size_windows is not set on these hosts
  const pref = bus.self.res[BR_PREF]!;
  bridgeCheckRanges(bus);
  let addIo = 0;
  let addMmio = 0;
  let addPref = 0;
  if (bus.self.hotplugBridge) {
    addIo = ctx.hp.io;
    addMmio = ctx.hp.mmio;
    addPref = ctx.hp.mmioPref;
  }
  pbusSizeIo(ctx, bus, realloc ? 0 : addIo, addIo, realloc);
  let mask = IORESOURCE_MEM;
  let prefmask = IORESOURCE_MEM | IORESOURCE_PREFETCH;
  let type2 = 0;
  let type3 = 0;
  if (hasFlag(pref, IORESOURCE_MEM_64)) {
    prefmask |= IORESOURCE_MEM_64;
    const ret = pbusSizeMem(
      ctx,
      bus,
      prefmask,
      prefmask,
      prefmask,
      prefmask,
      realloc ? 0 : addPref,
      addPref,
      realloc,
    );
    if (ret === 0) {
      mask = prefmask;
      type2 = prefmask & ~IORESOURCE_MEM_64;
      type3 = prefmask & ~IORESOURCE_PREFETCH;
    }
  }
  if (!type2) {
    prefmask &= ~IORESOURCE_MEM_64;
    const ret = pbusSizeMem(
      ctx,
      bus,
      prefmask,
      prefmask,
      prefmask,
      prefmask,
      realloc ? 0 : addPref,
      addPref,
      realloc,
    );
    if (ret === 0) mask = prefmask;
    else addMmio += addPref;
    type2 = type3 = IORESOURCE_MEM;
  }
  pbusSizeMem(
    ctx,
    bus,
    mask,
    IORESOURCE_MEM,
    type2,
    type3,
    realloc ? 0 : addMmio,
    addMmio,
    realloc,
  );
}

// ------------------------------------------- distributing hotplug headroom

interface Span {
  start: number;
  end: number;
  flags: number;
}
const spanSize = (s: Span) => s.end - s.start + 1;

function adjustBridgeWindow(res: Res, addList: DevRes[] | null, newSize: number): void {
  if (res.parent || !newSize) return;
  if (newSize === res.size()) return;
  res.end = res.start + newSize - 1;
  if (addList) removeFromList(addList, res);
}

function removeDevResource(avail: Span, dev: KDev, res: Res): void {
  const size = res.size();
  if (!size) return;
  let align = pciResourceAlignment(dev, res);
  align = align ? alignUp(avail.start, align) - avail.start : 0;
  avail.start = Math.min(avail.start + align + size, avail.end + 1);
}

function busDistribute(
  bus: KBus,
  addList: DevRes[] | null,
  io: Span,
  mmio: Span,
  pref: Span,
): void {
  const bridge = bus.self!;
  const ioRes = bridge.res[BR_IO]!;
  const mmioRes = bridge.res[BR_MEM]!;
  const prefRes = bridge.res[BR_PREF]!;
  let a = pciResourceAlignment(bridge, ioRes);
  if (!ioRes.parent && a) io.start = Math.min(alignUp(io.start, a), io.end + 1);
  a = pciResourceAlignment(bridge, mmioRes);
  if (!mmioRes.parent && a) mmio.start = Math.min(alignUp(mmio.start, a), mmio.end + 1);
  a = pciResourceAlignment(bridge, prefRes);
  if (!prefRes.parent && a) pref.start = Math.min(alignUp(pref.start, a), pref.end + 1);
  adjustBridgeWindow(ioRes, addList, spanSize(io));
  adjustBridgeWindow(mmioRes, addList, spanSize(mmio));
  adjustBridgeWindow(prefRes, addList, spanSize(pref));
  const bridges = bus.devices.filter((d) => d.f.def.bridge);
  const hot = bridges.filter((d) => d.hotplugBridge).length;
  const normal = bridges.length - hot;
  if (!bridges.length) return;
  for (const dev of bus.devices) {
    for (const r of dev.res) {
      if (!r) continue;
      if (resType(r) === IORESOURCE_IO) removeDevResource(io, dev, r);
      else if (resType(r) === IORESOURCE_MEM) {
        if (
          hasFlag(r, IORESOURCE_PREFETCH) &&
          (r.flags & IORESOURCE_MEM_64) === (pref.flags & IORESOURCE_MEM_64)
        )
          removeDevResource(pref, dev, r);
        else removeDevResource(mmio, dev, r);
      }
    }
  }
  const n = hot || normal;
  const ioPer = Math.floor(spanSize(io) / n);
  const mmioPer = Math.floor(spanSize(mmio) / n);
  const prefPer = Math.floor(spanSize(pref) / n);
  for (const dev of bridges) {
    const b = dev.subordinate;
    if (!b) continue;
    if (hot && !dev.hotplugBridge) continue;
    let r = dev.res[BR_IO]!;
    a = pciResourceAlignment(dev, r);
    io.end = a ? io.start + alignDown(ioPer, a) - 1 : io.start + ioPer - 1;
    io.start -= r.size();
    r = dev.res[BR_MEM]!;
    a = pciResourceAlignment(dev, r);
    mmio.end = a ? mmio.start + alignDown(mmioPer, a) - 1 : mmio.start + mmioPer - 1;
    mmio.start -= r.size();
    r = dev.res[BR_PREF]!;
    a = pciResourceAlignment(dev, r);
    pref.end = a ? pref.start + alignDown(prefPer, a) - 1 : pref.start + prefPer - 1;
    pref.start -= r.size();
    busDistribute(b, addList, { ...io }, { ...mmio }, { ...pref });
    io.start += io.end + 1;
    mmio.start += mmio.end + 1;
    pref.start += pref.end + 1;
  }
}

function bridgeResourcesNotAssigned(dev: KDev): boolean {
  for (const i of [BR_IO, BR_MEM, BR_PREF]) {
    const r = dev.res[i]!;
    if (r.flags && !hasFlag(r, IORESOURCE_STARTALIGN)) return false;
  }
  return true;
}

function rootBusDistribute(bus: KBus, addList: DevRes[] | null): void {
  for (const dev of bus.devices) {
    if (!dev.f.def.bridge || !dev.subordinate) continue;
    if (bus.self && bridgeResourcesNotAssigned(dev)) {
      if (!dev.hotplugBridge) continue;
      const span = (r: Res): Span => ({ start: r.start, end: r.end, flags: r.flags });
      busDistribute(
        dev.subordinate,
        addList,
        span(dev.res[BR_IO]!),
        span(dev.res[BR_MEM]!),
        span(dev.res[BR_PREF]!),
      );
    } else {
      rootBusDistribute(dev.subordinate, addList);
    }
  }
}

// ---------------------------------------------------------------- assignment

function x86AlignResource(ctx: Ctx): AllocConstraint['alignf'] {
  return (avail) => {
    let start = avail.start;
    if (avail.flags & IORESOURCE_IO) {
      if (ctx.skipIsa) return start;
      // Keep I/O in the 0x000-0x0ff region modulo 0x400 (ISA aliasing).
      if (start % 0x400 >= 0x100) start = alignUp(start, 0x400);
    } else if (avail.flags & IORESOURCE_MEM) {
      if (start < 0x100000) start = 0x100000;
    }
    return start;
  };
}

function x86Trim(ctx: Ctx): AllocConstraint['trim'] {
  const clip = (a: Span, s: number, e: number) => {
    if (a.end < s || a.start > e) return;
    const low = a.start < s ? s - a.start : 0;
    const high = a.end > e ? a.end - e : 0;
    if (low > high) a.end = s - 1;
    else a.start = e + 1;
  };
  return (a) => {
    if (!(a.flags & IORESOURCE_MEM)) return;
    clip(a, 0xffe00000, 0xffffffff);
    for (const [s, e] of ctx.e820) clip(a, s, e);
  };
}

type Region = [number, number];
const PCI_32: Region = [0, 0xffffffff];
const PCI_64: Region = [0, ADDR_MAX];
const PCI_HIGH: Region = [2 ** 32, ADDR_MAX];

function busAllocFromRegion(
  ctx: Ctx,
  bus: KBus,
  res: Res,
  size: number,
  align: number,
  min: number,
  typeMask: number,
  region: Region,
): boolean {
  typeMask |= IORESOURCE_TYPE_BITS;
  for (const r of bus.resources) {
    if (!r) continue;
    if (((res.flags ^ r.flags) & typeMask) !== 0) continue;
    if (hasFlag(r, IORESOURCE_PREFETCH) && !hasFlag(res, IORESOURCE_PREFETCH)) continue;
    let aStart = Math.max(r.start, region[0]);
    let aEnd = Math.min(r.end, region[1]);
    if (aEnd < aStart) {
      aStart = r.start;
      aEnd = r.start - 1;
    }
    const minUsed = aStart ? aStart : min;
    const max = aEnd;
    if (size > max - minUsed + 1) continue;
    const c: AllocConstraint = { min: minUsed, max, align };
    if (ctx.x86) {
      c.alignf = x86AlignResource(ctx);
      c.trim = x86Trim(ctx);
    }
    if (allocateResource(r, res, size, c, res.parent === r ? res : null)) return true;
  }
  return false;
}

function busAllocResource(
  ctx: Ctx,
  bus: KBus,
  res: Res,
  size: number,
  align: number,
  min: number,
  typeMask: number,
): boolean {
  if (hasFlag(res, IORESOURCE_MEM_64)) {
    if (busAllocFromRegion(ctx, bus, res, size, align, min, typeMask, PCI_HIGH)) return true;
    return busAllocFromRegion(ctx, bus, res, size, align, min, typeMask, PCI_64);
  }
  return busAllocFromRegion(ctx, bus, res, size, align, min, typeMask, PCI_32);
}

function doAssign(ctx: Ctx, dev: KDev, res: Res, size: number, align: number): boolean {
  const bus = dev.bus;
  const min = hasFlag(res, IORESOURCE_IO) ? ctx.minIo : ctx.minMem;
  if (busAllocResource(ctx, bus, res, size, align, min, IORESOURCE_PREFETCH | IORESOURCE_MEM_64))
    return true;
  if (
    (res.flags & (IORESOURCE_PREFETCH | IORESOURCE_MEM_64)) ===
    (IORESOURCE_PREFETCH | IORESOURCE_MEM_64)
  ) {
    if (busAllocResource(ctx, bus, res, size, align, min, IORESOURCE_PREFETCH)) return true;
  }
  if (res.flags & (IORESOURCE_PREFETCH | IORESOURCE_MEM_64)) {
    return busAllocResource(ctx, bus, res, size, align, min, 0);
  }
  return false;
}

function revertFwAddress(ctx: Ctx, dev: KDev, idx: number, size: number): boolean {
  const res = dev.res[idx]!;
  const fwAddr = dev.fwAddr.get(idx);
  if (!fwAddr) return false;
  const start = res.start;
  const end = res.end;
  res.start = fwAddr;
  res.end = fwAddr + size - 1;
  clearFlag(res, IORESOURCE_UNSET);
  let root = findParentResource(dev, res);
  if (!root) {
    if (dev.bus.self) return false;
    root = hasFlag(res, IORESOURCE_IO) ? ctx.ioRoot : ctx.memRoot;
  }
  ctx.msg(dev, `${resName(idx)}: trying firmware assignment ${fmtRes(res)}`);
  if (requestResource(root, res)) {
    res.start = start;
    res.end = end;
    setFlag(res, IORESOURCE_UNSET);
    return false;
  }
  return true;
}

function pciAssignResource(ctx: Ctx, dev: KDev, idx: number): boolean {
  const res = dev.res[idx]!;
  if (hasFlag(res, IORESOURCE_PCI_FIXED)) return true;
  setFlag(res, IORESOURCE_UNSET);
  const align = pciResourceAlignment(dev, res);
  const name = resName(idx);
  if (!align) {
    ctx.msg(dev, `${name} ${fmtRes(res)}: can't assign; bogus alignment`);
    return false;
  }
  const size = res.size();
  let ok = doAssign(ctx, dev, res, size, align);
  if (!ok) {
    ctx.msg(dev, `${name} ${fmtRes(res)}: can't assign; no space`);
    ok = revertFwAddress(ctx, dev, idx, size);
  }
  if (!ok) {
    ctx.msg(dev, `${name} ${fmtRes(res)}: failed to assign`);
    return false;
  }
  clearFlag(res, IORESOURCE_UNSET | IORESOURCE_STARTALIGN);
  ctx.msg(dev, `${name} ${fmtRes(res)}: assigned`);
  return true;
}

function resetResource(res: Res): void {
  res.start = 0;
  res.end = 0;
  res.flags = 0;
}

function devSortResources(ctx: Ctx, dev: KDev, head: { dev: KDev; res: Res }[]): void {
  const cls = dev.f.def.classCode >> 8;
  if (cls === 0x0000 || cls === 0x0600) return;
  dev.res.forEach((r, i) => {
    if (!r || hasFlag(r, IORESOURCE_PCI_FIXED) || !r.flags || r.parent) return;
    const rAlign = pciResourceAlignment(dev, r);
    if (!rAlign) {
      ctx.msg(dev, `BAR ${i}: ${fmtRes(r)} has bogus alignment`);
      const why = ctx.claimNotes.get(key(dev, i));
      ctx.lost.set(
        key(dev, i),
        `has bogus alignment${why ? ` (the x86 claim pass rebased it to 0 after "${why}", dropping its STARTALIGN alignment)` : ''}`,
      );
      return;
    }
    let at = head.length;
    for (let j = 0; j < head.length; j++) {
      const e = head[j]!;
      if (rAlign > pciResourceAlignment(e.dev, e.res)) {
        at = j;
        break;
      }
    }
    head.splice(at, 0, { dev, res: r });
  });
}

function assignRequestedSorted(
  ctx: Ctx,
  head: { dev: KDev; res: Res }[],
  fail: DevRes[] | null,
): void {
  for (const e of head) {
    const idx = idxOf(e.dev, e.res);
    if (e.res.size() && !pciAssignResource(ctx, e.dev, idx)) {
      if (fail && !(idx === ROM && !hasFlag(e.res, IORESOURCE_ROM_ENABLE)))
        addToList(fail, e.dev, e.res, 0, 0);
      ctx.lost.set(key(e.dev, idx), "can't assign; no space");
      resetResource(e.res);
    }
  }
}

function needToRelease(mask: number, res: Res): boolean {
  if (hasFlag(res, IORESOURCE_IO)) return (mask & IORESOURCE_IO) !== 0;
  if (hasFlag(res, IORESOURCE_PREFETCH)) {
    if (mask & IORESOURCE_PREFETCH) return true;
    if (mask & IORESOURCE_MEM && res.parent && !hasFlag(res.parent, IORESOURCE_PREFETCH))
      return true;
    return false;
  }
  if (hasFlag(res, IORESOURCE_MEM)) return (mask & IORESOURCE_MEM) !== 0;
  return false;
}

function reassignResourcesSorted(
  ctx: Ctx,
  realloc: DevRes[],
  head: { dev: KDev; res: Res }[],
): void {
  for (const add of [...realloc]) {
    const res = add.res;
    if (!res.flags) {
      removeFromList(realloc, res);
      continue;
    }
    if (!head.some((e) => e.res === res)) continue;
    const idx = idxOf(add.dev, res);
    if (!res.size()) {
      res.start = add.minAlign;
      res.end = res.start + add.addSize - 1;
      if (!pciAssignResource(ctx, add.dev, idx)) {
        if (idx >= IOV0 && idx <= IOV_END)
          ctx.lost.set(key(add.dev, idx), "can't assign; no space for the SR-IOV BAR");
        resetResource(res);
      }
    } else {
      res.flags = (res.flags | (add.flags & (IORESOURCE_STARTALIGN | IORESOURCE_SIZEALIGN))) >>> 0;
      // pci_reassign_resource(): grow in place or move within the same window.
      const oldStart = res.start;
      const oldEnd = res.end;
      const parent = res.parent;
      if (parent) {
        const newSize = res.size() + add.addSize;
        const c: AllocConstraint = { min: parent.start, max: parent.end, align: add.minAlign || 1 };
        if (ctx.x86) {
          c.alignf = x86AlignResource(ctx);
          c.trim = x86Trim(ctx);
        }
        if (allocateResource(parent, res, newSize, c, res)) {
          ctx.msg(
            add.dev,
            `${resName(idx)} ${fmtRes(res)}: reassigned; extended by ${hex(add.addSize)}`,
          );
        } else {
          res.start = oldStart;
          res.end = oldEnd;
          ctx.msg(add.dev, `${resName(idx)} ${fmtRes(res)}: failed to add ${hex(add.addSize)}`);
        }
      }
    }
    removeFromList(realloc, res);
  }
}

function assignResourcesSorted(
  ctx: Ctx,
  head: { dev: KDev; res: Res }[],
  realloc: DevRes[] | null,
  fail: DevRes[] | null,
): void {
  if (realloc && realloc.length) {
    const save = head.map((e) => ({
      res: e.res,
      start: e.res.start,
      end: e.res.end,
      flags: e.res.flags,
    }));
    for (const e of [...head]) {
      e.res.end += getAddSize(realloc, e.res);
      if (!hasFlag(e.res, IORESOURCE_STARTALIGN)) continue;
      const addAlign = getAddAlign(realloc, e.res);
      if (addAlign > e.res.start) {
        const rs = e.res.size();
        e.res.start = addAlign;
        e.res.end = addAlign + rs - 1;
        const from = head.indexOf(e);
        for (let j = 0; j < head.length; j++) {
          const o = head[j]!;
          if (addAlign > pciResourceAlignment(o.dev, o.res)) {
            head.splice(from, 1);
            head.splice(j > from ? j - 1 : j, 0, e);
            break;
          }
        }
      }
    }
    const localFail: DevRes[] = [];
    const lostBefore = new Map(ctx.lost);
    assignRequestedSorted(ctx, head, localFail);
    if (!localFail.length) {
      for (const e of head) removeFromList(realloc, e.res);
      return;
    }
    ctx.lost = lostBefore;
    let failType = 0;
    for (const f of localFail) failType |= f.flags;
    failType &= IORESOURCE_IO | IORESOURCE_MEM | IORESOURCE_PREFETCH;
    const keep: { dev: KDev; res: Res }[] = [];
    for (const e of head) {
      if (e.res.parent && !needToRelease(failType, e.res)) {
        removeFromList(realloc, e.res);
        const si = save.findIndex((s) => s.res === e.res);
        if (si >= 0) save.splice(si, 1);
      } else keep.push(e);
    }
    head.splice(0, head.length, ...keep);
    for (const e of head) if (e.res.parent) releaseResource(e.res);
    for (const s of save) {
      s.res.start = s.start;
      s.res.end = s.end;
      s.res.flags = s.flags;
    }
    ctx.msg(null, 'assignment with optional sizes failed; retrying with required sizes only');
  }
  assignRequestedSorted(ctx, head, fail);
  if (realloc) reassignResourcesSorted(ctx, realloc, head);
}

function assignBus(ctx: Ctx, bus: KBus, realloc: DevRes[] | null, fail: DevRes[] | null): void {
  const head: { dev: KDev; res: Res }[] = [];
  for (const dev of bus.devices) devSortResources(ctx, dev, head);
  assignResourcesSorted(ctx, head, realloc, fail);
  for (const dev of bus.devices)
    if (dev.subordinate) assignBus(ctx, dev.subordinate, realloc, fail);
}

function busDepth(bus: KBus): number {
  let d = 0;
  for (const c of bus.children) d = Math.max(d, busDepth(c) + 1);
  return d;
}

function releaseChildResources(r: Res): void {
  for (const c of [...r.children]) {
    releaseChildResources(c);
    const size = c.size();
    c.parent = null;
    c.start = 0;
    c.end = size - 1;
  }
  r.children = [];
}

function bridgeReleaseResources(ctx: Ctx, bus: KBus, type: number): void {
  const dev = bus.self!;
  const pref = dev.res[BR_PREF]!;
  let idx: number;
  if (type & IORESOURCE_IO) idx = BR_IO;
  else if (!(type & IORESOURCE_PREFETCH)) idx = BR_MEM;
  else if (type & IORESOURCE_MEM_64 && hasFlag(pref, IORESOURCE_MEM_64)) idx = BR_PREF;
  else if (!hasFlag(pref, IORESOURCE_MEM_64) && hasFlag(pref, IORESOURCE_PREFETCH)) idx = BR_PREF;
  else idx = BR_MEM;
  const r = dev.res[idx]!;
  if (!r.parent) return;
  releaseChildResources(r);
  releaseResource(r);
  ctx.msg(dev, `resource ${idx} ${fmtRes(r)} released`);
  r.end = r.size() - 1;
  r.start = 0;
  // "PCI: Restore resource alignment" (v3 3/8): the devices below are realigned again.
  if (ctx.inp.policy.restoreAlignmentOnRelease) restoreChildResourceAlignment(ctx, bus);
}

function restoreChildResourceAlignment(ctx: Ctx, bus: KBus): void {
  for (const dev of bus.devices) {
    reassigndevResourceAlignment(ctx, dev);
    if (dev.subordinate) restoreChildResourceAlignment(ctx, dev.subordinate);
  }
}

function busReleaseBridgeResources(ctx: Ctx, bus: KBus, type: number, wholeSubtree: boolean): void {
  let leaf = true;
  for (const dev of bus.devices) {
    if (!dev.subordinate) continue;
    leaf = false;
    if (wholeSubtree) busReleaseBridgeResources(ctx, dev.subordinate, type, true);
  }
  if (!bus.self) return;
  if (wholeSubtree || leaf) bridgeReleaseResources(ctx, bus, type);
}

function assignUnassignedRootBus(ctx: Ctx, bus: KBus): void {
  const policy = ctx.inp.policy;
  const arg = ctx.inp.args.realloc;
  let enable: 'undefined' | 'user_disabled' | 'user_enabled' | 'auto_enabled' =
    arg === 'on'
      ? 'user_enabled'
      : arg === 'off'
        ? 'user_disabled'
        : policy.realloc === 'on'
          ? 'user_enabled'
          : 'undefined';
  if (enable === 'undefined' && policy.realloc === 'auto' && policy.iov) {
    // pci_realloc_detect(): any SR-IOV BAR left at bus address 0 turns realloc on.
    const walk = (b: KBus): boolean =>
      b.devices.some(
        (d) =>
          d.res.slice(IOV0, IOV_END + 1).some((r) => r && r.flags && !r.start) ||
          (d.subordinate ? walk(d.subordinate) : false),
      );
    if (walk(bus)) enable = 'auto_enabled';
  }
  let tryNum = 1;
  if (enable === 'user_enabled' || enable === 'auto_enabled') tryNum = busDepth(bus) + 1;
  let tried = 0;
  const realloc: DevRes[] = [];
  for (;;) {
    const addList = tried + 1 === tryNum ? realloc : null;
    sizeBridges(ctx, bus, addList);
    rootBusDistribute(bus, addList);
    const fail: DevRes[] = [];
    assignBus(ctx, bus, addList, fail);
    tried++;
    if (!fail.length) break;
    if (tried >= tryNum) {
      if (enable === 'undefined')
        ctx.msg(null, 'Some PCI device resources are unassigned, try booting with pci=realloc');
      break;
    }
    ctx.msg(null, `No. ${tried + 1} try to assign unassigned res`);
    const whole = tried + 1 > 2;
    for (const f of fail)
      busReleaseBridgeResources(
        ctx,
        f.dev.bus,
        f.flags & (IORESOURCE_IO | IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_MEM_64),
        whole,
      );
    for (const f of fail) {
      f.res.start = f.start;
      f.res.end = f.end;
      f.res.flags = f.flags;
      const idx = idxOf(f.dev, f.res);
      if (f.dev.f.def.bridge && idx >= BR_IO) f.res.flags = 0;
      ctx.lost.delete(key(f.dev, idx));
    }
  }
}

// ------------------------------------------------------------------- driver

export function placeLinux(inp: KernelInput): KernelResult {
  const ctx = new Ctx(inp);
  const { root, devs } = buildDevices(ctx);
  const windows = rootWindows(ctx);
  root.resources = windows;

  // Header fixups run before pci_reassigndev_resource_alignment() in pci_device_add().
  fixupVideo(ctx, devs);
  if (inp.args.resourceAlignment !== null && inp.policy.resourceAlignment.supported) {
    ctx.alignEntries = parseResourceAlignment(inp.args.resourceAlignment);
  }
  for (const d of devs) reassigndevResourceAlignment(ctx, d);

  if (ctx.x86) x86ClaimPhase(ctx, root);
  assignUnassignedRootBus(ctx, root);

  // Anything the hardware has that ended with flags cleared or no parent is lost.
  for (const d of devs) {
    d.res.forEach((r, i) => {
      if (i >= BR_IO || !r) return;
      const k = key(d, i);
      if (r.parent || hasFlag(r, IORESOURCE_ROM_SHADOW)) {
        ctx.lost.delete(k);
        return;
      }
      if (!ctx.lost.has(k)) ctx.lost.set(k, r.flags ? 'not assigned' : 'disabled');
    });
  }
  return { root, devs, lost: ctx.lost, log: ctx.log, rootWindows: windows };
}

export { resName };
export type { MBus };
