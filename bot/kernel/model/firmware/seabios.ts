// SeaBIOS 1.16.2 PCI resource assignment (src/fw/pciinit.c, QEMU builds), as
// shipped with Debian 12's QEMU 7.2 and seen in the ground-truth boots:
// - every memory BAR smaller than PCI_DEVICE_MEM_MIN (4 KiB) is padded to 4 KiB
//   (the `seabios-nomin` variant sets the minimum to 0, seed 001's hack);
// - per bus and type, entries are kept sorted by alignment then size, largest
//   first, stable for ties; bridge windows are added to the parent bus from the
//   highest secondary bus number down, with minimums of 4 KiB (I/O) and 2 MiB
//   (memory), hotplug reserves, and QEMU's resource-reserve capability;
// - the root bus' two 32-bit regions are placed top-down from 0xfec00000 (the
//   one with the larger alignment on top), entries mapped upward inside each;
// - I/O starts at 0xc000 when the total is below 0x4000, else 0x1000;
// - only when the 32-bit window overflows do 64-bit root-bus entries move above
//   RAM (1.16.2 has no pci_pad_mem64), at 4 GiB + RAM above 4 GiB, 1 GiB aligned.
import { QemuArgError } from '../errors.js';
import type { Machine, MFunction } from '../machine.js';
import { alignDown, alignUp } from '../kernel/resource.js';
import { emptyFirmware, type FirmwareState } from './types.js';

type RegionType = 0 | 1 | 2; // io, mem, prefmem
const IO = 0 as const;
const MEM = 1 as const;
const PREF = 2 as const;

interface Entry {
  dev: MFunction;
  /** BAR index, 6 for the ROM, -1 for a bridge window. */
  bar: number;
  size: number;
  align: number;
  is64: boolean;
  type: RegionType;
}

interface Region {
  base: number;
  list: Entry[];
}

interface SBus {
  r: [Region, Region, Region];
  busDev: MFunction | null;
}

const PCI_BRIDGE_MEM_MIN = 2 * 2 ** 20;
const PCI_BRIDGE_IO_MIN = 0x1000;
const PCIMEM_END = 0xfec00000;
const PCI_IO_LOW_END = 0xa000;

function insertSorted(list: Entry[], e: Entry): void {
  let i = 0;
  for (; i < list.length; i++) {
    const pos = list[i]!;
    if (pos.align < e.align || (pos.align === e.align && pos.size < e.size)) break;
  }
  list.splice(i, 0, e);
}

function regionAlign(r: Region): number {
  return r.list.length ? r.list[0]!.align : 1;
}
function regionSum(r: Region): number {
  return r.list.reduce((s, e) => s + e.size, 0);
}

/** q35 RAM split as QEMU does it: below 4 GiB up to 0xb0000000, or 2 GiB when RAM reaches it. */
export function q35RamSplit(ramBytes: number): { below4g: number; above4g: number } {
  const lowmem = ramBytes >= 0xb0000000 ? 0x80000000 : 0xb0000000;
  const below4g = Math.min(ramBytes, lowmem);
  return { below4g, above4g: ramBytes - below4g };
}

export function runSeabios(m: Machine, memMin: number): FirmwareState {
  if (m.type !== 'q35') throw new QemuArgError('SeaBIOS is modelled on the q35 machine only');
  const fw = emptyFirmware(memMin ? 'seabios' : 'seabios-nomin');
  fw.decodeEnabled = true;
  const maxBus = m.root.subordinate;
  const busses: SBus[] = [];
  for (let b = 0; b <= maxBus; b++) {
    busses.push({
      r: [
        { base: 0, list: [] },
        { base: 0, list: [] },
        { base: 0, list: [] },
      ],
      busDev: null,
    });
  }
  const byBus: MFunction[][] = busses.map(() => []);
  const walk = (fns: MFunction[]) => {
    for (const f of fns) {
      byBus[f.bus.number]!.push(f);
      if (f.secondary) {
        busses[f.secondary.number]!.busDev = f;
        walk(f.secondary.functions);
      }
    }
  };
  walk(m.root.functions);
  const devices = byBus.flatMap((l) =>
    [...l].sort((a, b) => a.slot * 8 + a.fn - (b.slot * 8 + b.fn)),
  );

  // pci_bios_check_devices: the devices' own BARs, in bus-major, devfn order.
  for (const f of devices) {
    const bus = busses[f.bus.number]!;
    const isBridge = Boolean(f.def.bridge);
    for (let i = 0; i < 7; i++) {
      if (isBridge && i >= 2 && i < 6) continue;
      let size = 0;
      let type: RegionType = MEM;
      let is64 = false;
      if (i === 6) {
        size = f.def.romSize;
      } else {
        const b = f.def.bars.find((x) => x.index === i);
        if (b) {
          size = b.size;
          type = b.io ? IO : b.prefetch ? PREF : MEM;
          is64 = b.is64;
        }
      }
      if (!size) continue;
      if (type !== IO && size < memMin) size = memMin;
      insertSorted(bus.r[type].list, { dev: f, bar: i, size, align: size, is64, type });
      if (is64) i++;
    }
  }

  // Propagate bridge needs to the parent bus, from the highest secondary bus down.
  for (let sec = maxBus; sec > 0; sec--) {
    const s = busses[sec]!;
    const bdev = s.busDev;
    if (!bdev || !bdev.def.bridge) continue;
    const br = bdev.def.bridge;
    const parent = busses[bdev.bus.number]!;
    const pcieCap = bdev.def.pcieType !== 'none';
    const hotplug = pcieCap
      ? (bdev.def.pcieType === 'root-port' || bdev.def.pcieType === 'downstream') &&
        br.slotImplemented
      : br.shpc;
    for (const type of [IO, MEM, PREF] as const) {
      let align = type === IO ? PCI_BRIDGE_IO_MIN : PCI_BRIDGE_MEM_MIN;
      if (type === IO && !br.ioWindow) continue;
      if (type === PREF && !br.prefWindow) continue;
      let size = 0;
      const rv = br.reserve;
      if (rv) {
        if (type === IO && rv.io !== -1) size = rv.io;
        if (type === MEM && rv.mem !== -1) size = rv.mem;
        if (type === PREF) {
          if (rv.pref32 !== -1 && rv.pref64 === -1) size = rv.pref32;
          else if (rv.pref32 === -1 && rv.pref64 !== -1) size = rv.pref64;
        }
      }
      if (regionAlign(s.r[type]) > align) align = regionAlign(s.r[type]);
      let sum = regionSum(s.r[type]);
      const optional = pcieCap && type === IO;
      if (!sum && hotplug && !optional) sum = align;
      if (size > sum) {
        if (type !== IO) size = alignUp(size, align);
      } else {
        size = alignUp(sum, align);
      }
      const is64 = type === PREF && br.pref64 && s.r[PREF].list.every((e) => e.is64);
      insertSorted(parent.r[type].list, { dev: bdev, bar: -1, size, align, is64, type });
    }
  }

  // Root regions.
  const root = busses[0]!;
  const ioSum = regionSum(root.r[IO]);
  if (ioSum < 0x4000) root.r[IO].base = 0xc000;
  else if (ioSum < PCI_IO_LOW_END - 0x1000) root.r[IO].base = 0x1000;
  else throw new QemuArgError('SeaBIOS: out of I/O address space (it would panic)');

  const { above4g } = q35RamSplit(m.ramBytes);
  const pcimemStart = 0xb0000000 + 0x10000000; // above MMCONFIG on q35
  const initRootMem = (): boolean => {
    let rEnd = root.r[PREF];
    let rStart = root.r[MEM];
    if (regionAlign(rStart) < regionAlign(rEnd)) {
      rEnd = root.r[MEM];
      rStart = root.r[PREF];
    }
    rEnd.base = alignDown(PCIMEM_END - regionSum(rEnd), regionAlign(rEnd));
    rStart.base = alignDown(rEnd.base - regionSum(rStart), regionAlign(rStart));
    return rStart.base >= pcimemStart && rStart.base <= PCIMEM_END;
  };

  const map = (r: Region) => {
    for (const e of r.list) {
      const addr = r.base;
      r.base += e.size;
      if (e.bar === -1) {
        const sec = e.dev.secondary!;
        busses[sec.number]!.r[e.type].base = addr;
        const w = fw.windows.get(e.dev.uid) ?? {};
        const key = e.type === IO ? 'io' : e.type === MEM ? 'mem' : 'pref';
        if (key === 'io' && e.dev.def.bridge?.ioWindowWritable === false) continue;
        const gran = e.type === IO ? 0x1000 : 0x100000;
        // The registers hold the window in 4 KiB (I/O) or 1 MiB (memory) units;
        // an empty entry leaves limit below base, which disables the window.
        w[key] = {
          base: alignDown(addr, gran),
          limit: alignDown(addr + e.size - 1, gran) + gran - 1,
        };
        fw.windows.set(e.dev.uid, w);
      } else {
        const bars = fw.bars.get(e.dev.uid) ?? new Map<number, number>();
        bars.set(e.bar, addr);
        fw.bars.set(e.dev.uid, bars);
      }
    }
    r.list = [];
  };

  if (!initRootMem()) {
    const r64mem: Region = { base: 0, list: [] };
    const r64pref: Region = { base: 0, list: [] };
    for (const [from, to] of [
      [root.r[MEM], r64mem],
      [root.r[PREF], r64pref],
    ] as const) {
      const keep: Entry[] = [];
      for (const e of from.list) {
        if (e.is64 && e.dev.def.classCode >> 8 !== 0x0c03) to.list.push(e);
        else keep.push(e);
      }
      from.list = keep;
    }
    if (!initRootMem())
      throw new QemuArgError('SeaBIOS: out of 32-bit address space (it would panic)');
    const sumMem = regionSum(r64mem);
    const sumPref = regionSum(r64pref);
    r64mem.base = alignUp(alignUp(2 ** 32 + above4g, regionAlign(r64mem)), 2 ** 30);
    r64pref.base = alignUp(alignUp(r64mem.base + sumMem, regionAlign(r64pref)), 2 ** 30);
    const start = r64mem.base;
    const end = alignUp(r64pref.base + sumPref, 2 ** 30);
    fw.mem64 = [start, end - 1];
    fw.notes.push(
      `SeaBIOS: 32-bit window too small; 64-bit BARs placed at ${start.toString(16)}-${(end - 1).toString(16)}`,
    );
    map(r64mem);
    map(r64pref);
  }
  for (let b = 0; b <= maxBus; b++) for (const t of [IO, MEM, PREF] as const) map(busses[b]!.r[t]);

  // ich9_smbus_setup() moves the SMBus I/O BAR to 0x700 after the mapping (the slot it had stays unused).
  for (const f of devices) {
    if (f.def.vendor === 0x8086 && f.def.device === 0x2930) fw.bars.get(f.uid)?.set(4, 0x700);
  }
  return fw;
}
