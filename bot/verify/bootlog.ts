// Reads the serial log of a verify boot into a Layout.
//
// The guest's /init (bot/verify/initramfs.ts) prints parseable marker lines
// after the kernel has booted; the same format is used by the real boots in
// /work/shared/ground-truth, which this parser must read exactly:
//
//   @@KEXP-BEGIN
//   @@UPTIME <seconds>
//   @@CMDLINE <the guest's /proc/cmdline>
//   @@PCIDEV <bdf> vendor=0x.... device=0x.... class=0x...... driver=<name|-> iommu_group=<n|->
//   @@RES <bdf> <resource index> <start> <end> <flags>   (one sysfs `resource` line; flags != 0)
//   @@IOMMU-GROUPS-BEGIN / @@GROUP <n> <bdf>... / @@IOMMU-GROUPS-END
//   @@VFIO <entries of /dev/vfio>
//   @@IOMEM-BEGIN / <lines of /proc/iomem> / @@IOMEM-END
//   @@KEXP-END
//
// Kernel messages may be interleaved anywhere (the console is shared), so every
// line is classified on its own. Besides the markers, the kernel's own messages
// are read for what sysfs cannot say: the PCIe port type of each device (the
// enumeration line "[vvvv:dddd] type 01 class 0x060400 PCIe Root Port"), the size
// and flags of BARs the kernel disabled (they vanish from sysfs), and why a BAR
// has no address.
import type {
  BarFlags,
  DeviceKind,
  IommuGroup,
  Layout,
  LayoutBar,
  LayoutDevice,
  LayoutWindow,
  LostBar,
} from '../kernel/model/layout.js';

/** IORESOURCE_* bits as the kernel exposes them in sysfs `resource` files. */
export const IORESOURCE = {
  IO: 0x100,
  MEM: 0x200,
  PREFETCH: 0x2000,
  SIZEALIGN: 0x40000,
  STARTALIGN: 0x80000,
  MEM_64: 0x100000,
  WINDOW: 0x200000,
  DISABLED: 0x10000000,
  UNSET: 0x20000000,
} as const;

export interface IomemEntry {
  start: number;
  /** Inclusive. */
  end: number;
  name: string;
  /** Nesting level in /proc/iomem (two spaces per level). */
  depth: number;
}

/** One VFIO region (BAR 0-5, ROM 6) as VFIO_DEVICE_GET_REGION_INFO reported it. */
export interface VfioRegion {
  bdf: string;
  index: number;
  size: number;
  /** VFIO_REGION_INFO_FLAG_*: 1 read, 2 write, 4 mmap, 8 caps. */
  flags: number;
  /** vfio-pci lets user space mmap the region (flag 4). */
  mmap: boolean;
}

/** What the guest said about one PCI function, beyond its Layout entry. */
export interface BootPciDevice {
  bdf: string;
  vendor: number;
  device: number;
  /** 24-bit class code, e.g. 0x060400. */
  classCode: number;
  /** Bound driver, null when none. */
  driver: string | null;
  iommuGroup: number | null;
  /** The kernel's description from its enumeration line, e.g. "PCIe Root Port". */
  kernelType: string | null;
}

export interface BootMessages {
  /** Every "BAR n ...: disabling / can't assign / failed to assign" message, in log order. */
  lost: LostBar[];
  /** Kernel messages worth a look: PCI resource complaints, WARNING/BUG/Oops/panic lines. */
  warnings: string[];
}

export interface BootResult {
  layout: Layout;
  /** From the "Linux version" banner, e.g. "6.12.117+". */
  kernelVersion: string | null;
  cmdline: string | null;
  uptime: number | null;
  messages: BootMessages;
  iomem: IomemEntry[];
  /** The end marker (@@KEXP-END) was seen: the guest printed everything. */
  complete: boolean;
  devices: BootPciDevice[];
  /** Entries of /dev/vfio, null when the marker was absent. */
  vfio: string[] | null;
  /** The kernel reached "reboot: Power down". */
  poweredOff: boolean;
  /** What vfio-pci offered per region of each device the vfio-probe helper opened. */
  vfioRegions: VfioRegion[];
  /** Where opening a device through VFIO failed (step and errno). */
  vfioErrors: { bdf: string; step: string; errno: number }[];
  /** /proc/iomem while the probed devices were open (null when nothing was probed). */
  vfioIomem: IomemEntry[] | null;
  /** "Kernel panic - not syncing: ..." text, if the guest panicked. */
  panic: string | null;
  /** Problems reading the log itself (malformed marker lines, missing sections). */
  problems: string[];
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** Parses a hex number (with or without 0x) exactly, refusing values a JS number would round. */
export function parseHexExact(text: string, what: string): number {
  if (!/^(0x)?[0-9a-fA-F]+$/.test(text)) throw new Error(`${what}: not a hex number: "${text}"`);
  const value = BigInt(text.startsWith('0x') ? text : `0x${text}`);
  if (value > MAX_EXACT) {
    throw new Error(`${what}: ${text} is above 2^53 and cannot be held exactly`);
  }
  return Number(value);
}

/** The kernel's %pR text, e.g. "[mem 0xe0000000-0xe000001f 64bit pref]" or "[mem size 0x20]". */
export interface PrintedResource {
  type: 'io' | 'mem' | 'other';
  /** null when the kernel printed "size" (IORESOURCE_UNSET). */
  start: number | null;
  size: number;
  is64: boolean;
  prefetch: boolean;
  window: boolean;
  disabled: boolean;
}

const RESOURCE_TEXT =
  /^\[(io |mem|irq|dma|bus|\?\?\?) +(?:size (0x[0-9a-f]+)|(0x[0-9a-f]+)(?:-(0x[0-9a-f]+))?)((?: [a-z0-9]+)*)\]$/;

export function parsePrintedResource(text: string): PrintedResource | null {
  const m = RESOURCE_TEXT.exec(text);
  if (!m) return null;
  const [, kind, sizeText, startText, endText, words = ''] = m;
  const flags = new Set(words.trim().split(/\s+/).filter(Boolean));
  let start: number | null = null;
  let size: number;
  if (sizeText !== undefined) {
    size = parseHexExact(sizeText, 'resource size');
  } else {
    start = parseHexExact(startText!, 'resource start');
    const end = endText !== undefined ? parseHexExact(endText, 'resource end') : start;
    size = end - start + 1;
  }
  return {
    type: kind === 'io ' ? 'io' : kind === 'mem' ? 'mem' : 'other',
    start,
    size,
    is64: flags.has('64bit'),
    prefetch: flags.has('pref'),
    window: flags.has('window'),
    disabled: flags.has('disabled'),
  };
}

const TIMESTAMP = /^\[\s*\d+\.\d+\]\s?/;
// ESC sequences SeaBIOS and the console emit (clear screen, wrap mode) and stray CRs.
const TERMINAL_NOISE = /\x1b(?:\[[0-9;?]*[A-Za-z]|c)|\r/g;

/** "pci 0000:01:00.0: BAR 2 [mem ...]: text" and "pci 0000:00:03.0: BAR 0: [mem ...] text". */
const PCI_RESOURCE_MESSAGE =
  /^pci (\S+): (?:(BAR|VF BAR) (\d+)|(ROM)|(bridge window))(:?) (\[[^\]]*\])(?::? ?(.*))?$/;
const PCI_ENUMERATION =
  /^pci (\S+): \[([0-9a-f]{4}):([0-9a-f]{4})\] type ([0-9a-f]{2}) class (0x[0-9a-f]+) (.*)$/;

/** Resource messages after which the BAR has no address (unless a later pass assigns it). */
const LOSS_REASONS = [
  /^disabling; bad alignment/,
  /^can't assign; /,
  /^failed to assign/,
  /^can't reassign; /,
  /^has bogus alignment/,
  /^not assigned; can't enable device/,
];
/** Resource messages that are routine, not warnings. */
const ROUTINE = [/^assigned$/, /^requesting alignment to /, /^releasing$/, /^$/];

function classify(
  classCode: number,
  kernelType: string | null,
  vendor: number,
  device: number,
): DeviceKind {
  const base = classCode >> 8;
  if (base === 0x0600) return 'host-bridge';
  if (base !== 0x0604 && base !== 0x0609) return 'endpoint';
  switch (kernelType) {
    case 'PCIe Root Port':
      return 'root-port';
    case 'PCIe Switch Upstream Port':
      return 'upstream-port';
    case 'PCIe Switch Downstream Port':
      return 'downstream-port';
    case 'PCIe to PCI/PCI-X bridge':
      return 'pcie-pci-bridge';
    case 'conventional PCI bridge':
      return 'pci-bridge';
  }
  // No enumeration line (quiet boot): fall back on QEMU's well-known IDs.
  const id = `${hex4(vendor)}:${hex4(device)}`;
  if (id === '1b36:000e') return 'pcie-pci-bridge';
  if (id === '1b36:0001') return 'pci-bridge';
  if (id === '1b36:000c' || id === '8086:3420') return 'root-port';
  if (id === '104c:8232') return 'upstream-port';
  if (id === '104c:8233') return 'downstream-port';
  return 'other-bridge';
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** QEMU device models by PCI ID, to name measured devices the way scenarios do. */
const QEMU_NAMES: Record<string, string> = {
  '8086:29c0': 'q35-host-bridge',
  '8086:2918': 'ich9-lpc',
  '8086:2922': 'ich9-ahci',
  '8086:2930': 'ich9-smbus',
  '1234:1111': 'VGA',
  '8086:10d3': 'e1000e',
  '8086:100e': 'e1000',
  '8086:10c9': 'igb',
  '8086:10ca': 'igbvf',
  '1b36:0001': 'pci-bridge',
  '1b36:0005': 'pci-testdev',
  '1b36:0008': 'gpex-pcihost',
  '1b36:000c': 'pcie-root-port',
  '1b36:000e': 'pcie-pci-bridge',
  '1b36:0010': 'nvme',
  '8086:3420': 'ioh3420',
  '104c:8232': 'x3130-upstream',
  '104c:8233': 'xio3130-downstream',
  '1af4:1000': 'virtio-net-pci',
  '1af4:1001': 'virtio-blk-pci',
  '1af4:1041': 'virtio-net-pci',
  '1af4:1042': 'virtio-blk-pci',
  '1af4:1110': 'ivshmem',
};

function flagsOf(bits: number): BarFlags {
  return {
    io: (bits & IORESOURCE.IO) !== 0 && (bits & IORESOURCE.MEM) === 0,
    is64: (bits & IORESOURCE.MEM_64) !== 0,
    prefetch: (bits & IORESOURCE.PREFETCH) !== 0,
  };
}

interface ResLine {
  index: number;
  start: number;
  end: number;
  flags: number;
}

interface DeviceAccumulator {
  info: BootPciDevice;
  res: ResLine[];
}

/**
 * Parses a verify boot's serial log. Never throws on odd input: what cannot be
 * read is listed in `problems` and `complete` says whether the guest finished.
 */
export function parseBootLog(text: string): BootResult {
  const problems: string[] = [];
  const lostMessages: LostBar[] = [];
  const warnings: string[] = [];
  const iomem: IomemEntry[] = [];
  const kernelTypes = new Map<string, string>();
  /** The BARs as the kernel first saw them, for sizes of BARs that later vanish. */
  const probed = new Map<string, PrintedResource>();
  /** Last loss reason per "bdf/index", cleared when the BAR is assigned afterwards. */
  const lossReason = new Map<string, string>();
  const devices: DeviceAccumulator[] = [];
  const byBdf = new Map<string, DeviceAccumulator>();
  const groupLines: IommuGroup[] = [];
  let sawGroupSection = false;
  let kernelVersion: string | null = null;
  let cmdline: string | null = null;
  let uptime: number | null = null;
  let vfio: string[] | null = null;
  let begun = false;
  let complete = false;
  let poweredOff = false;
  let panic: string | null = null;
  let inIomem = false;
  let iomemTarget = iomem;
  let iomemEnd = '@@IOMEM-END';
  const vfioRegions: VfioRegion[] = [];
  const vfioErrors: { bdf: string; step: string; errno: number }[] = [];
  let vfioIomem: IomemEntry[] | null = null;

  const lines = text.replace(TERMINAL_NOISE, '').split('\n');
  lines.forEach((rawLine, lineIndex) => {
    const where = `line ${lineIndex + 1}`;
    const markerAt = rawLine.indexOf('@@');
    // Kernel message (possibly with garbage before the timestamp).
    const ts = TIMESTAMP.exec(rawLine);
    if (ts && markerAt !== 0) {
      readKernelMessage(rawLine.slice(ts[0].length), where);
      return;
    }
    const bannerAt = rawLine.indexOf('Linux version ');
    if (bannerAt >= 0 && kernelVersion === null) {
      const m = /Linux version (\S+)/.exec(rawLine.slice(bannerAt));
      if (m) kernelVersion = m[1]!;
    }
    if (inIomem) {
      if (rawLine.startsWith(iomemEnd)) {
        inIomem = false;
        return;
      }
      if (rawLine.startsWith('@@')) {
        problems.push(`${where}: ${rawLine.split(' ')[0]} inside a /proc/iomem section`);
        inIomem = false;
      } else {
        const m = /^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(rawLine);
        if (m) {
          try {
            iomemTarget.push({
              depth: m[1]!.length / 2,
              start: parseHexExact(m[2]!, `${where} iomem start`),
              end: parseHexExact(m[3]!, `${where} iomem end`),
              name: m[4]!,
            });
          } catch (err) {
            problems.push((err as Error).message);
          }
        } else if (rawLine.trim() !== '') {
          problems.push(`${where}: unreadable /proc/iomem line "${rawLine}"`);
        }
        return;
      }
    }
    if (markerAt < 0) return;
    if (markerAt > 0) {
      problems.push(`${where}: marker not at the start of the line: "${rawLine}"`);
      return;
    }
    readMarker(rawLine, where);
  });

  function readKernelMessage(msg: string, where: string): void {
    if (msg.startsWith('Linux version ') && kernelVersion === null) {
      kernelVersion = msg.split(' ')[2] ?? null;
      return;
    }
    if (msg.startsWith('reboot: Power down')) {
      poweredOff = true;
      return;
    }
    if (msg.startsWith('Kernel panic - not syncing:')) {
      panic = msg.slice('Kernel panic - not syncing:'.length).trim();
      warnings.push(msg);
      return;
    }
    if (/^(WARNING:|BUG:|Oops|general protection fault)/.test(msg)) {
      warnings.push(msg);
      return;
    }
    const en = PCI_ENUMERATION.exec(msg);
    if (en) {
      kernelTypes.set(en[1]!, en[6]!.trim());
      return;
    }
    const rm = PCI_RESOURCE_MESSAGE.exec(msg);
    if (!rm) return;
    const [, bdf, barWord, barNumber, rom, bridgeWindow, , resourceText, restText] = rm;
    if (bridgeWindow) {
      if (restText && !ROUTINE.some((r) => r.test(restText))) warnings.push(msg);
      return;
    }
    if (barWord === 'VF BAR') return;
    const index = rom ? 6 : Number(barNumber);
    let resource: PrintedResource | null = null;
    try {
      resource = parsePrintedResource(resourceText!);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
    const key = `${bdf}/${index}`;
    const rest = (restText ?? '').trim();
    if (resource && rest === '' && !probed.has(key)) probed.set(key, resource);
    if (rest === '') return;
    if (rest === 'assigned' || rest.startsWith('reassigned')) {
      lossReason.delete(key);
      return;
    }
    if (ROUTINE.some((r) => r.test(rest))) return;
    warnings.push(msg);
    if (LOSS_REASONS.some((r) => r.test(rest))) {
      lostMessages.push({ bdf: bdf!, index, reason: rest });
      lossReason.set(key, rest);
      if (resource && !probed.has(key)) probed.set(key, resource);
    }
  }

  function readMarker(line: string, where: string): void {
    const [tag, ...fields] = line.split(' ');
    try {
      switch (tag) {
        case '@@KEXP-BEGIN':
          begun = true;
          return;
        case '@@KEXP-END':
          complete = true;
          return;
        case '@@UPTIME': {
          const v = Number(fields[0]);
          if (!Number.isFinite(v)) throw new Error(`bad uptime "${fields[0]}"`);
          uptime = v;
          return;
        }
        case '@@CMDLINE':
          cmdline = line.slice('@@CMDLINE '.length);
          return;
        case '@@PCIDEV':
          readPciDev(fields);
          return;
        case '@@RES':
          readRes(fields);
          return;
        case '@@IOMMU-GROUPS-BEGIN':
          sawGroupSection = true;
          return;
        case '@@IOMMU-GROUPS-END':
          return;
        case '@@GROUP': {
          const id = Number(fields[0]);
          const bdfs = fields.slice(1).filter(Boolean);
          if (!Number.isInteger(id) || bdfs.some((b) => !BDF.test(b))) {
            throw new Error(`bad group line`);
          }
          groupLines.push({ id, bdfs });
          return;
        }
        case '@@VFIO':
          vfio = fields.filter(Boolean);
          return;
        case '@@IOMEM-BEGIN':
          inIomem = true;
          iomemTarget = iomem;
          iomemEnd = '@@IOMEM-END';
          return;
        case '@@VFIO-IOMEM-BEGIN':
          inIomem = true;
          vfioIomem = [];
          iomemTarget = vfioIomem;
          iomemEnd = '@@VFIO-IOMEM-END';
          return;
        case '@@VFIO-IOMEM-END':
          return;
        case '@@VFIO-REGION': {
          const [bdf, indexText, sizeText, flagsText] = fields;
          const size = /^size=(0x[0-9a-f]+)$/.exec(sizeText ?? '')?.[1];
          const flags = /^flags=(0x[0-9a-f]+)$/.exec(flagsText ?? '')?.[1];
          if (!bdf || !BDF.test(bdf) || !size || !flags || !/^\d$/.test(indexText ?? '')) {
            throw new Error('bad @@VFIO-REGION line');
          }
          const f = parseHexExact(flags, 'flags');
          vfioRegions.push({
            bdf,
            index: Number(indexText),
            size: parseHexExact(size, 'size'),
            flags: f,
            mmap: (f & 4) !== 0,
          });
          return;
        }
        case '@@VFIO-ERROR': {
          const [bdf, step, errnoText] = fields;
          const errno = /^errno=(-?\d+)$/.exec(errnoText ?? '')?.[1];
          if (!bdf || !step || errno === undefined) throw new Error('bad @@VFIO-ERROR line');
          vfioErrors.push({ bdf, step, errno: Number(errno) });
          return;
        }
        case '@@IOMEM-END':
          return;
        default:
          // Markers this parser does not know are kept as problems, never silently dropped.
          problems.push(`${where}: unknown marker ${tag}`);
      }
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}: "${line}"`);
    }
  }

  function readPciDev(fields: string[]): void {
    const [bdf, ...pairs] = fields;
    if (!bdf || !BDF.test(bdf)) throw new Error('bad BDF');
    const kv = new Map<string, string>();
    for (const p of pairs) {
      const eq = p.indexOf('=');
      if (eq > 0) kv.set(p.slice(0, eq), p.slice(eq + 1));
    }
    const need = (k: string): string => {
      const v = kv.get(k);
      if (v === undefined) throw new Error(`missing ${k}=`);
      return v;
    };
    const driver = need('driver');
    const group = need('iommu_group');
    const info: BootPciDevice = {
      bdf,
      vendor: parseHexExact(need('vendor'), 'vendor'),
      device: parseHexExact(need('device'), 'device'),
      classCode: parseHexExact(need('class'), 'class'),
      driver: driver === '-' ? null : driver,
      iommuGroup: group === '-' ? null : Number(group),
      kernelType: null,
    };
    if (byBdf.has(bdf)) throw new Error(`device ${bdf} listed twice`);
    const acc = { info, res: [] };
    devices.push(acc);
    byBdf.set(bdf, acc);
  }

  function readRes(fields: string[]): void {
    const [bdf, indexText, startText, endText, flagsText] = fields;
    if (!bdf || !BDF.test(bdf) || flagsText === undefined) throw new Error('bad @@RES line');
    const acc = byBdf.get(bdf);
    if (!acc) throw new Error(`@@RES for ${bdf} before its @@PCIDEV`);
    const index = Number(indexText);
    if (!Number.isInteger(index) || index < 0) throw new Error(`bad resource index "${indexText}"`);
    acc.res.push({
      index,
      start: parseHexExact(startText!, 'start'),
      end: parseHexExact(endText!, 'end'),
      flags: parseHexExact(flagsText, 'flags'),
    });
  }

  if (!begun) problems.push('no @@KEXP-BEGIN: the guest never ran /init to the end of boot');
  else if (!complete) problems.push('no @@KEXP-END: the guest output stops early');

  const layoutDevices: LayoutDevice[] = [];
  const lost: LostBar[] = [];
  for (const { info, res } of devices) {
    info.kernelType = kernelTypes.get(info.bdf) ?? null;
    const kind = classify(info.classCode, info.kernelType, info.vendor, info.device);
    const isBridge = kind !== 'endpoint' && kind !== 'host-bridge';
    const bars: LayoutBar[] = [];
    const windows: LayoutWindow[] = [];
    for (const r of res) {
      const unassigned = (r.flags & (IORESOURCE.UNSET | IORESOURCE.DISABLED)) !== 0;
      if (r.index <= 6) {
        bars.push({
          index: r.index,
          start: unassigned ? null : r.start,
          size: r.end - r.start + 1,
          flags: flagsOf(r.flags),
        });
      } else if (isBridge) {
        // Bridge windows follow the BARs, ROM (and VF BARs with CONFIG_PCI_IOV).
        if (unassigned) continue;
        const f = flagsOf(r.flags);
        windows.push({
          kind: f.io ? 'io' : f.prefetch ? 'pref' : 'mem',
          start: r.start,
          end: r.end,
          is64: f.is64,
        });
      }
    }
    // BARs the kernel disabled are gone from sysfs: put them back, unassigned,
    // with the size and flags the kernel printed when it found them.
    for (const [key, reason] of lossReason) {
      const [bdf, indexText] = key.split('/');
      if (bdf !== info.bdf) continue;
      const index = Number(indexText);
      const existing = bars.find((b) => b.index === index);
      if (existing && existing.start !== null) continue;
      if (!existing) {
        const p = probed.get(key);
        if (!p) {
          problems.push(`${bdf} BAR ${index}: lost ("${reason}") but its size is unknown`);
          continue;
        }
        bars.push({
          index,
          start: null,
          size: p.size,
          flags: { io: p.type === 'io', is64: p.is64, prefetch: p.prefetch },
        });
      }
      lost.push({ bdf: info.bdf, index, reason });
    }
    for (const b of bars) {
      if (b.start === null && !lost.some((l) => l.bdf === info.bdf && l.index === b.index)) {
        lost.push({ bdf: info.bdf, index: b.index, reason: 'unassigned (no kernel message)' });
      }
    }
    bars.sort((a, b) => a.index - b.index);
    const name =
      QEMU_NAMES[`${hex4(info.vendor)}:${hex4(info.device)}`] ??
      `${hex4(info.vendor)}:${hex4(info.device)}`;
    layoutDevices.push({
      bdf: info.bdf,
      name,
      vendor: info.vendor,
      device: info.device,
      kind,
      bars,
      windows,
    });
  }
  lost.sort((a, b) => (a.bdf === b.bdf ? a.index - b.index : a.bdf < b.bdf ? -1 : 1));

  let groups: IommuGroup[] | null = null;
  if (groupLines.length > 0) {
    groups = groupLines
      .map((g) => ({ id: g.id, bdfs: [...g.bdfs].sort() }))
      .sort((a, b) => a.id - b.id);
  } else if (!sawGroupSection && devices.some((d) => d.info.iommuGroup !== null)) {
    // Older logs without the group section: rebuild groups from the per-device field.
    const m = new Map<number, string[]>();
    for (const d of devices) {
      if (d.info.iommuGroup === null) continue;
      m.set(d.info.iommuGroup, [...(m.get(d.info.iommuGroup) ?? []), d.info.bdf]);
    }
    groups = [...m].map(([id, bdfs]) => ({ id, bdfs: bdfs.sort() })).sort((a, b) => a.id - b.id);
  }

  return {
    layout: { devices: layoutDevices, groups, lost },
    kernelVersion,
    cmdline,
    uptime,
    messages: { lost: lostMessages, warnings },
    iomem,
    complete,
    devices: devices.map((d) => d.info),
    vfio,
    vfioRegions,
    vfioErrors,
    vfioIomem,
    poweredOff,
    panic,
    problems,
  };
}

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
