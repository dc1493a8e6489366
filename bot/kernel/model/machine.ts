// Builds the PCI topology QEMU would create from a parsed command line: the
// machine's own functions (q35: host bridge, VGA and NIC unless suppressed,
// ICH9 LPC/SATA/SMBus; virt: host bridge and NIC), every -device on its bus at
// the address QEMU would give it (first free slot, in creation order), bus
// numbers as firmware/Linux assign them (depth first in devfn order), and the
// facts the later stages need (vIOMMU, MSI isolation, root windows inputs).
import type { Arch } from '../vocabulary.js';
import { QemuArgError } from './errors.js';
import {
  BUILTIN,
  CATALOGUE,
  PropReader,
  type BuildContext,
  type FunctionDef,
  type SecondaryBus,
} from './devices.js';
import { parseIntProp, parseSize, type DeviceArg, type ParsedQemu } from './qemu-args.js';

export type MachineType = 'q35' | 'virt';
/** Who numbers the buses: the firmware (SeaBIOS, qboot) or, with no firmware, Linux. */
export type BusNumbering = 'seabios' | 'qboot' | 'linux';

export interface MBus {
  /** QEMU bus name: `pcie.0` or the id of the bridge above it. */
  name: string;
  kind: 'root' | SecondaryBus;
  express: boolean;
  /** The bridge function above, null for the root bus. */
  parent: MFunction | null;
  /** Bus number (secondary bus number of the parent bridge). */
  number: number;
  /** Highest bus number below (subordinate). */
  subordinate: number;
  /** Functions on this bus, sorted by devfn once the machine is built. */
  functions: MFunction[];
}

export interface MFunction {
  /** Creation order: stable identity inside one model run. */
  uid: number;
  def: FunctionDef;
  qemuId: string | null;
  bus: MBus;
  slot: number;
  fn: number;
  /** The header type's multifunction bit. */
  multifunction: boolean;
  secondary: MBus | null;
  /** VFs the guest enables (scenario `sriov-numvfs`). */
  numVfs: number;
  /** Whether the guest has a driver that probes this function (matters for DT IOMMU attach). */
  guestDriver: boolean;
  /** Set on VFs. */
  physfn: MFunction | null;
  vfIndex: number;
  /** Part of the machine itself (host bridge, ICH9 LPC/SATA/SMBus), not asked for by the user. */
  builtin: boolean;
}

export interface Machine {
  arch: Arch;
  type: MachineType;
  ramBytes: number;
  root: MBus;
  /** All PCI functions, in QEMU creation order (VFs excluded; see vfsOf). */
  functions: MFunction[];
  /** The vIOMMU the guest sees, if any. */
  viommu: 'intel-iommu' | 'virtio-iommu' | 'smmuv3' | null;
  /** MSI writes are isolated per device (interrupt remapping / GICv3 ITS). */
  msiIsolated: boolean;
  /** q35: size of the 64-bit PCI hole QEMU describes in _CRS. */
  pciHole64Size: number;
  /** virt: the high PCIe MMIO window exists (highmem=on). */
  highmem: boolean;
  /** Options accepted because they cannot change the layout. */
  ignored: string[];
  /** Facts the user should know (e.g. a NIC model taken by default). */
  notes: string[];
}

export interface MachineOptions {
  arch: Arch;
  /** Scenario `sriov-numvfs`: QEMU id -> number of VFs the guest enables. */
  numVfs: Record<string, number>;
  /** Scenario `no-guest-driver`: QEMU ids or driver names without a guest driver. */
  noGuestDriver: string[];
  /**
   * Who numbers the buses: SeaBIOS and Linux walk bridges depth first in devfn
   * order (SeaBIOS also honours the resource-reserve capability's bus-reserve);
   * qboot pushes each bus' bridges on a list and numbers them last-found first.
   * Default: devfn order.
   */
  busNumbering?: BusNumbering;
}

const DEFAULT_NIC: Record<MachineType, string> = { q35: 'e1000e', virt: 'virtio-net-pci' };

function machineTypeOf(arch: Arch, written: string | null): MachineType {
  const t = written ?? (arch === 'x86_64' ? 'pc' : arch === 'arm64' ? 'virt' : 'none');
  if (/^(q35|pc-q35-[\d.]+)$/.test(t)) {
    if (arch !== 'x86_64') throw new QemuArgError(`machine ${t} is an x86_64 machine, not ${arch}`);
    return 'q35';
  }
  if (/^virt(-[\d.]+)?$/.test(t)) {
    if (arch !== 'arm64')
      throw new QemuArgError(`machine ${t} is modelled for arm64 only, not ${arch}`);
    return 'virt';
  }
  if (/^(pc|pc-i440fx-[\d.]+)$/.test(t)) {
    throw new QemuArgError(`machine ${t} (i440fx) is not modelled: use -M q35`);
  }
  throw new QemuArgError(`machine ${t} is not modelled (x86_64: q35; arm64: virt)`);
}

/** Parse `addr=1f.2`, `addr=0x3`, `addr=04.0`: slot and function, hex as QEMU reads them. */
export function parseAddr(text: string): { slot: number; fn: number } {
  const m = /^(?:0x)?([0-9a-f]{1,2})(?:\.([0-7]))?$/i.exec(text.trim());
  if (!m) throw new QemuArgError(`addr=${text}: expected SLOT or SLOT.FN in hex`);
  const slot = parseInt(m[1]!, 16);
  if (slot > 31) throw new QemuArgError(`addr=${text}: slot ${slot} is above 31`);
  return { slot, fn: m[2] ? parseInt(m[2], 10) : 0 };
}

export function bdfOf(f: { bus: MBus; slot: number; fn: number }): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `0000:${h(f.bus.number, 2)}:${h(f.slot, 2)}.${f.fn}`;
}

export function buildMachine(q: ParsedQemu, opts: MachineOptions): Machine {
  const type = machineTypeOf(opts.arch, q.machineType);
  const root: MBus = {
    name: 'pcie.0',
    kind: 'root',
    express: true,
    parent: null,
    number: 0,
    subordinate: 0,
    functions: [],
  };
  const m: Machine = {
    arch: opts.arch,
    type,
    ramBytes: q.ramBytes,
    root,
    functions: [],
    viommu: null,
    msiIsolated: true,
    pciHole64Size: 32 * 2 ** 30,
    highmem: true,
    ignored: [...q.ignored],
    notes: [],
  };
  const buses = new Map<string, MBus>([['pcie.0', root]]);
  const ids = new Set<string>();
  let uid = 0;

  const mp = q.machineProps;
  if (type === 'virt') {
    if (mp['iommu'] !== undefined) {
      if (mp['iommu'] !== 'smmuv3')
        throw new QemuArgError(`-machine iommu=${mp['iommu']} is not modelled (smmuv3 is)`);
      m.viommu = 'smmuv3';
    }
    const gic = mp['gic-version'] ?? '3';
    // GICv2 uses GICv2m frames, which do not isolate MSIs; GICv3 has an ITS unless its=off.
    m.msiIsolated = gic !== '2' && mp['its'] !== 'off';
    if (mp['highmem'] !== undefined) m.highmem = !/^(off|no|false)$/.test(mp['highmem']);
    for (const k of ['sata', 'smbus', 'max-ram-below-4g']) {
      if (mp[k] !== undefined) throw new QemuArgError(`-machine ${k}= is a q35 property, not virt`);
    }
  } else {
    for (const k of ['iommu', 'gic-version', 'its', 'highmem']) {
      if (mp[k] !== undefined) throw new QemuArgError(`-machine ${k}= is a virt property, not q35`);
    }
    if (mp['max-ram-below-4g'] !== undefined)
      throw new QemuArgError('-machine max-ram-below-4g is not modelled');
  }
  if (mp['usb'] !== undefined && !/^(off|no|false)$/.test(mp['usb'])) {
    throw new QemuArgError('-machine usb=on adds USB controllers that are not modelled');
  }

  // -global: q35-pcihost.pci-hole64-size moves the 64-bit root window; device globals become defaults.
  const deviceGlobals: Record<string, Record<string, string>> = {};
  for (const g of q.globals) {
    if (g.driver === 'q35-pcihost' && g.prop === 'pci-hole64-size') {
      if (type !== 'q35') throw new QemuArgError('-global q35-pcihost.* needs -M q35');
      m.pciHole64Size = parseSize(g.value);
      continue;
    }
    if (!CATALOGUE[g.driver])
      throw new QemuArgError(`-global ${g.driver}.${g.prop}: driver ${g.driver} is not modelled`);
    (deviceGlobals[g.driver] ??= {})[g.prop] = g.value;
  }

  const memdevSize = (id: string): number => {
    const o = q.objects[id];
    if (!o) throw new QemuArgError(`memdev=${id}: no -object with that id`);
    if (!o.type.startsWith('memory-backend-'))
      throw new QemuArgError(`memdev=${id}: -object ${o.type} is not a memory backend`);
    const s = o.props['size'];
    if (!s) throw new QemuArgError(`-object ${id}: no size=`);
    return parseSize(s);
  };

  const place = (
    def: FunctionDef,
    qemuId: string | null,
    bus: MBus,
    addr: { slot: number; fn: number } | null,
    mf: boolean,
    text: string,
  ): MFunction => {
    let slot: number;
    let fn: number;
    if (addr) {
      slot = addr.slot;
      fn = addr.fn;
      if (bus.functions.some((f) => f.slot === slot && f.fn === fn)) {
        throw new QemuArgError(
          `${text}: address ${slot.toString(16)}.${fn} on ${bus.name} is already taken`,
        );
      }
    } else {
      fn = 0;
      const maxSlot = bus.kind === 'pcie-port' ? 0 : 31;
      const free = [...Array(maxSlot + 1).keys()].find(
        (s) => !bus.functions.some((f) => f.slot === s && f.fn === 0),
      );
      if (free === undefined) throw new QemuArgError(`${text}: no free slot on bus ${bus.name}`);
      slot = free;
    }
    if (bus.kind === 'pcie-port' && slot !== 0) {
      throw new QemuArgError(
        `${text}: slot ${slot} behind ${bus.name} (a PCIe port): Linux only scans slot 0 there`,
      );
    }
    const f: MFunction = {
      uid: uid++,
      def,
      qemuId,
      bus,
      slot,
      fn,
      multifunction: mf,
      secondary: null,
      numVfs: 0,
      guestDriver: true,
      physfn: null,
      vfIndex: -1,
      builtin: text === 'q35' || text === 'virt',
    };
    bus.functions.push(f);
    m.functions.push(f);
    if (def.bridge) {
      const name = qemuId ?? `${def.driver}.${f.uid}`;
      const sec: MBus = {
        name,
        kind: def.bridge.secondary,
        express: def.bridge.secondary !== 'pci',
        parent: f,
        number: -1,
        subordinate: -1,
        functions: [],
      };
      f.secondary = sec;
      if (qemuId) buses.set(qemuId, sec);
    }
    return f;
  };

  const ctxFor = (bus: MBus): BuildContext => ({
    machine: type,
    onRootBus: bus.kind === 'root',
    busIsExpress: bus.express,
    memdevSize,
  });

  const addDevice = (a: DeviceArg): void => {
    let driver = a.driver;
    if (driver === '<default-nic>') driver = DEFAULT_NIC[type];
    if (driver === '<ide-drive>') {
      if (type !== 'q35')
        throw new QemuArgError(`${a.source} ${a.text}: the virt machine has no IDE/AHCI`);
      m.ignored.push(`${a.source} ${a.text} (on the built-in AHCI)`);
      return;
    }
    const model = CATALOGUE[driver];
    if (!model)
      throw new QemuArgError(`${a.source} ${a.text}: device "${driver}" is not in the catalogue`);
    const props = { ...(deviceGlobals[driver] ?? {}), ...a.props };
    const id = props['id'] ?? null;
    delete props['id'];
    if (id !== null) {
      if (ids.has(id)) throw new QemuArgError(`${a.source} ${a.text}: duplicate id "${id}"`);
      ids.add(id);
    }
    const busName = props['bus'];
    delete props['bus'];
    const addrText = props['addr'];
    delete props['addr'];
    const mfText = props['multifunction'];
    delete props['multifunction'];
    const bus = busName === undefined ? root : buses.get(busName);
    if (!bus)
      throw new QemuArgError(`${a.source} ${a.text}: bus "${busName}" does not exist (yet)`);
    const reader = new PropReader(driver, props);
    const def = model.build(reader, ctxFor(bus));
    const left = reader.leftovers();
    if (left.length)
      throw new QemuArgError(
        `${a.source} ${a.text}: ${driver} has no modelled property ${left.map((l) => `"${l}"`).join(', ')}`,
      );
    if (def.notPci) {
      if (busName !== undefined || addrText !== undefined)
        throw new QemuArgError(`${driver} is not a PCI device: no bus=/addr=`);
      if (def.viommu === 'intel-iommu') {
        if (type !== 'q35') throw new QemuArgError('intel-iommu needs -M q35');
        m.viommu = 'intel-iommu';
        // Interrupt remapping (intremap=on) is what isolates MSIs under VT-d.
        m.msiIsolated = /^(on|true|yes)$/i.test(a.props['intremap'] ?? 'off');
      }
      return;
    }
    const mf = mfText === undefined ? false : /^(on|true|yes)$/i.test(mfText);
    place(
      def,
      id,
      bus,
      addrText === undefined ? null : parseAddr(addrText),
      mf,
      `${a.source} ${a.text}`,
    );
    if (def.viommu === 'virtio-iommu') m.viommu = 'virtio-iommu';
  };

  // The machine's own functions, in the order QEMU creates them.
  if (type === 'q35') {
    place(BUILTIN.q35Host(), null, root, { slot: 0, fn: 0 }, false, 'q35');
    place(BUILTIN.q35Lpc(), null, root, { slot: 0x1f, fn: 0 }, true, 'q35');
    const userVga = q.devices.some((d) => d.driver === 'VGA');
    const vga = q.nodefaults ? (q.vga ?? 'none') : (q.vga ?? (userVga ? 'none' : 'std'));
    if (vga === 'std') addDevice({ driver: 'VGA', props: {}, source: '-vga', text: 'std' });
    else if (vga !== 'none') throw new QemuArgError(`-vga ${vga} is not modelled (std or none)`);
  } else {
    place(BUILTIN.virtHost(), null, root, { slot: 0, fn: 0 }, false, 'virt');
    if (q.vga !== null && q.vga !== 'none')
      throw new QemuArgError(`-vga ${q.vga} on virt is not modelled`);
  }
  const nics = q.devices.filter((d) => d.source === '-nic' || d.source === '-net');
  if (q.defaultNic && !q.nodefaults) {
    addDevice({
      driver: DEFAULT_NIC[type],
      props: {},
      source: 'default NIC',
      text: DEFAULT_NIC[type],
    });
    m.notes.push(
      `QEMU adds its default NIC (${DEFAULT_NIC[type]}); pass -nic none to leave it out`,
    );
  }
  for (const d of nics) addDevice(d);
  if (type === 'q35') {
    if (!/^(off|no|false)$/.test(mp['sata'] ?? 'on')) {
      addDevice({ driver: 'ich9-ahci', props: { addr: '1f.2' }, source: 'q35', text: 'ich9-ahci' });
      m.functions[m.functions.length - 1]!.builtin = true;
    }
    if (!/^(off|no|false)$/.test(mp['smbus'] ?? 'on'))
      place(BUILTIN.q35Smbus(), null, root, { slot: 0x1f, fn: 3 }, false, 'q35');
  }
  for (const d of q.devices) if (d.source === '-device') addDevice(d);
  for (const d of q.devices)
    if (d.source !== '-device' && d.source !== '-nic' && d.source !== '-net') addDevice(d);

  validateFunctions(m);
  numberBuses(m, opts.busNumbering ?? 'linux');
  for (const bus of allBuses(m))
    bus.functions.sort((a, b) => a.slot * 8 + a.fn - (b.slot * 8 + b.fn));

  for (const [id, n] of Object.entries(opts.numVfs)) {
    const f = m.functions.find((x) => x.qemuId === id);
    if (!f) throw new QemuArgError(`sriov-numvfs: no device with id "${id}"`);
    if (!f.def.sriov)
      throw new QemuArgError(`sriov-numvfs: ${id} (${f.def.driver}) has no SR-IOV capability`);
    if (n < 0 || n > f.def.sriov.totalVfs)
      throw new QemuArgError(`sriov-numvfs: ${id}=${n}: TotalVFs is ${f.def.sriov.totalVfs}`);
    const lastDevfn = f.slot * 8 + f.fn + f.def.sriov.vfOffset + (n - 1) * f.def.sriov.vfStride;
    if (n > 0 && lastDevfn > 255)
      throw new QemuArgError(
        `sriov-numvfs: ${id}=${n}: VFs would spill onto other bus numbers (not modelled)`,
      );
    f.numVfs = n;
  }
  for (const name of opts.noGuestDriver) {
    const hit = m.functions.filter((f) => f.qemuId === name || f.def.driver === name);
    if (!hit.length)
      throw new QemuArgError(`no-guest-driver: no device with id or driver "${name}"`);
    for (const f of hit) f.guestDriver = false;
  }
  return m;
}

/** Multifunction rules: functions > 0 need function 0 with multifunction=on, as Linux scans them. */
function validateFunctions(m: Machine): void {
  for (const bus of allBuses(m)) {
    for (const f of bus.functions) {
      if (f.fn === 0) continue;
      const f0 = bus.functions.find((x) => x.slot === f.slot && x.fn === 0);
      if (!f0)
        throw new QemuArgError(
          `${f.def.driver} at ${f.slot.toString(16)}.${f.fn} on ${bus.name}: no function 0 in that slot, so Linux never sees it`,
        );
      if (!f0.multifunction)
        throw new QemuArgError(
          `${f.def.driver} at ${f.slot.toString(16)}.${f.fn} on ${bus.name}: function 0 (${f0.def.driver}) lacks multifunction=on`,
        );
      f.multifunction = true;
    }
    for (const f of bus.functions) {
      if (
        f.fn === 0 &&
        f.multifunction &&
        !bus.functions.some((x) => x.slot === f.slot && x.fn > 0)
      ) {
        // multifunction=on with nothing else in the slot: Linux still sees a single function.
        f.multifunction = true;
      }
    }
  }
}

export function allBuses(m: Machine): MBus[] {
  const out: MBus[] = [];
  const walk = (b: MBus) => {
    out.push(b);
    for (const f of [...b.functions].sort((x, y) => x.slot * 8 + x.fn - (y.slot * 8 + y.fn)))
      if (f.secondary) walk(f.secondary);
  };
  walk(m.root);
  return out;
}

/** Depth-first in devfn order, as SeaBIOS and Linux number buses. */
function numberBuses(m: Machine, who: BusNumbering): void {
  let next = 0;
  const walk = (b: MBus) => {
    const bridges = [...b.functions].sort((x, y) => x.slot * 8 + x.fn - (y.slot * 8 + y.fn));
    if (who === 'qboot') bridges.reverse();
    for (const f of bridges) {
      if (!f.secondary) continue;
      const s = f.secondary;
      s.number = ++next;
      walk(s);
      const reserve = who === 'seabios' ? (f.def.bridge?.reserve?.bus ?? -1) : -1;
      if (reserve > 0) next = Math.max(next, s.number + reserve);
      s.subordinate = next;
    }
  };
  walk(m.root);
  m.root.subordinate = next;
  if (next > 255) throw new QemuArgError('more than 255 buses');
}

/** Build the VF functions of a PF (not placed on the bus list: they are created by the guest). */
export function vfsOf(pf: MFunction): MFunction[] {
  const s = pf.def.sriov;
  if (!s || pf.numVfs === 0) return [];
  const out: MFunction[] = [];
  for (let i = 0; i < pf.numVfs; i++) {
    const devfn = pf.slot * 8 + pf.fn + s.vfOffset + i * s.vfStride;
    out.push({
      uid: 100000 + pf.uid * 1000 + i,
      def: {
        driver: `${pf.def.driver}-vf`,
        name: `${pf.def.name} VF${i}`,
        vendor: pf.def.vendor,
        device: s.vfDevice,
        classCode: pf.def.classCode,
        kind: 'endpoint',
        pcieType: pf.def.pcieType,
        bars: s.vfBars,
        romSize: 0,
        msix: s.vfMsix,
        acs: false,
        ari: false,
      },
      qemuId: pf.qemuId ? `${pf.qemuId}.vf${i}` : null,
      bus: pf.bus,
      slot: Math.floor(devfn / 8),
      fn: devfn % 8,
      multifunction: false,
      secondary: null,
      numVfs: 0,
      guestDriver: pf.guestDriver,
      physfn: pf,
      vfIndex: i,
      builtin: false,
    });
  }
  return out;
}

export { parseIntProp };
