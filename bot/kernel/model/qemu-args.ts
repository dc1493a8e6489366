// The QEMU command line as a person pastes it, read the way QEMU reads it:
// shell-like tokenising, then the options that shape the PCI layout
// (-machine, -m, -device, -global, -bios, -vga, -nic/-net/-netdev, -nodefaults,
// -drive, -object). Options that cannot change where BARs land are accepted and
// listed as ignored by design; anything else is an error naming the option, so
// the model never silently answers a question it was not asked.
import { QemuArgError } from './errors.js';

/** One `-device driver,prop=val,...` (or a device implied by -nic/-drive/-vga). */
export interface DeviceArg {
  driver: string;
  /** Properties as written, in order; `,,` already unescaped. */
  props: Record<string, string>;
  /** Where it came from: `-device`, `-nic`, `-net`, `-drive`, `-vga`. */
  source: string;
  /** The option text, for error messages. */
  text: string;
}

export interface GlobalArg {
  driver: string;
  prop: string;
  value: string;
}

export interface ParsedQemu {
  /** The machine type as written (`q35`, `pc-q35-7.2`, `virt`, ...); null when -M is absent. */
  machineType: string | null;
  machineProps: Record<string, string>;
  ramBytes: number;
  bios: string | null;
  /** -vga value, null when absent. */
  vga: string | null;
  nodefaults: boolean;
  /** false once -nic/-net/-netdev appear: QEMU then adds no default NIC. */
  defaultNic: boolean;
  devices: DeviceArg[];
  globals: GlobalArg[];
  /** -object type,id=..,props: memory backends are read for ivshmem sizes. */
  objects: Record<string, { type: string; props: Record<string, string> }>;
  /** Options accepted because they cannot change the PCI layout (`-nographic`, `-kernel ...`). */
  ignored: string[];
  /** The program name when the line started with qemu-system-*. */
  program: string | null;
}

/** Split a command line like a POSIX shell: quotes, backslash escapes, line continuations. */
export function tokenizeShell(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') {
      const n = text[i + 1];
      if (n === undefined) throw new QemuArgError('trailing backslash');
      if (n === '\n') {
        i += 2;
        continue;
      }
      cur += n;
      inToken = true;
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new QemuArgError('unterminated single quote');
      cur += text.slice(i + 1, end);
      inToken = true;
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const d = text[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]!)) {
          if (text[i + 1] !== '\n') cur += text[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) throw new QemuArgError('unterminated double quote');
      inToken = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
      i++;
      continue;
    }
    if (c === '#' && !inToken) {
      // A shell comment: up to the end of the line.
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if ('|;&<>()`$'.includes(c)) {
      throw new QemuArgError(
        `shell metacharacter '${c}' outside quotes: paste the QEMU arguments only (quote values that contain it)`,
      );
    }
    cur += c;
    inToken = true;
    i++;
  }
  if (inToken) out.push(cur);
  return out;
}

/**
 * QemuOpts-style `a,b=c,,d`: `,,` is a literal comma. The first element may be
 * an implied value (the driver of -device, the type of -machine).
 */
export function splitOptList(text: string): { implied: string | null; props: [string, string][] } {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',') {
      if (text[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  let implied: string | null = null;
  const props: [string, string][] = [];
  parts.forEach((p, idx) => {
    if (p === '') {
      if (idx === parts.length - 1 && idx > 0) return; // trailing comma
      throw new QemuArgError(`empty element in "${text}"`);
    }
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (idx === 0) implied = p;
      else props.push([p, 'on']); // QemuOpts: a bare key means key=on
    } else {
      props.push([p.slice(0, eq), p.slice(eq + 1)]);
    }
  });
  return { implied, props };
}

const SIZE_SUFFIX: Record<string, number> = {
  b: 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
  p: 2 ** 50,
};

/** QEMU sizes: `4096`, `4k`, `16M`, `256T`, `0x1000`. `bareUnit` scales suffix-less numbers (-m is MiB). */
export function parseSize(text: string, bareUnit = 1): number {
  const t = text.trim();
  const hex = /^0x([0-9a-f]+)$/i.exec(t);
  if (hex) return checkSafe(parseInt(hex[1]!, 16), text);
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp])?(?:i?b)?$/i.exec(t);
  if (!m) throw new QemuArgError(`not a size: "${text}"`);
  const unit = m[2] ? SIZE_SUFFIX[m[2].toLowerCase()]! : bareUnit;
  const v = Number(m[1]) * unit;
  if (!Number.isInteger(v)) throw new QemuArgError(`size "${text}" is not a whole number of bytes`);
  return checkSafe(v, text);
}

function checkSafe(v: number, text: string): number {
  if (!Number.isSafeInteger(v)) throw new QemuArgError(`size "${text}" is too large (over 8 PiB)`);
  return v;
}

/** Parse a number as QEMU does for integer properties: decimal or 0x-hex. */
export function parseIntProp(name: string, text: string): number {
  const t = text.trim();
  let v: number;
  if (/^0x[0-9a-f]+$/i.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^-?\d+$/.test(t)) v = parseInt(t, 10);
  else throw new QemuArgError(`${name}=${text}: not an integer`);
  if (!Number.isSafeInteger(v)) throw new QemuArgError(`${name}=${text}: out of range`);
  return v;
}

export function parseBoolProp(name: string, text: string): boolean {
  const t = text.toLowerCase();
  if (['on', 'yes', 'true', 'y'].includes(t)) return true;
  if (['off', 'no', 'false', 'n'].includes(t)) return false;
  throw new QemuArgError(`${name}=${text}: expected on or off`);
}

/**
 * Options that cannot change the PCI layout; each takes an argument unless listed
 * in NO_ARG. Options that reach the host (-D, -trace, -kernel, -chardev, ...) are
 * not here: scenarios are checked against qemu-allow.ts first, which refuses them.
 */
const IGNORED_WITH_ARG = new Set([
  '-serial',
  '-accel',
  '-cpu',
  '-smp',
  '-display',
  '-monitor',
  '-name',
  '-uuid',
  '-rtc',
  '-boot',
  '-msg',
  '-overcommit',
  '-watchdog-action',
  '-action',
]);
const IGNORED_NO_ARG = new Set([
  '-nographic',
  '-no-reboot',
  '-no-shutdown',
  '-S',
  '-enable-kvm',
  '-mem-prealloc',
  '-no-user-config',
]);

/** -machine properties the model reads or that cannot affect PCI placement. */
export const MACHINE_PROPS_IGNORED: ReadonlySet<string> = new Set([
  'accel',
  'kernel-irqchip',
  'kernel_irqchip',
  'smm',
  'vmport',
  'dump-guest-core',
  'mem-merge',
  'graphics',
  'hpet',
  'pit',
  'pic',
  'sata', // handled
  'smbus', // handled
  'iommu', // handled (virt)
  'gic-version', // handled (virt: MSI isolation)
  'its', // handled
  'highmem', // handled
  'acpi',
  'ras',
  'secure',
  'virtualization',
  'mte',
  'dtb-randomness',
  'confidential-guest-support',
  'memory-backend',
  'default-bus-bypass-iommu',
  'max-ram-below-4g', // handled (q35)
  'suppress-vmdesc',
  'usb', // handled (must be off)
  'nvdimm',
]);

function needArg(args: string[], i: number, opt: string): string {
  const v = args[i + 1];
  if (v === undefined) throw new QemuArgError(`${opt} needs an argument`);
  return v;
}

/** Normalise `--device` to `-device` as QEMU accepts both. */
function optName(tok: string): string {
  return tok.startsWith('--') ? tok.slice(1) : tok;
}

export function parseQemuArgs(args: string[]): ParsedQemu {
  const out: ParsedQemu = {
    machineType: null,
    machineProps: {},
    ramBytes: 128 * 2 ** 20,
    bios: null,
    vga: null,
    nodefaults: false,
    defaultNic: true,
    devices: [],
    globals: [],
    objects: {},
    ignored: [],
    program: null,
  };
  let i = 0;
  if (args[0] && /(^|\/)qemu-system-[\w-]+$/.test(args[0])) {
    out.program = args[0];
    i = 1;
  }
  for (; i < args.length; i++) {
    const tok = args[i]!;
    if (!tok.startsWith('-')) {
      throw new QemuArgError(
        `unexpected argument "${tok}" (a disk image without an option is not modelled)`,
      );
    }
    const opt = optName(tok);
    if (IGNORED_NO_ARG.has(opt)) {
      out.ignored.push(opt);
      continue;
    }
    if (IGNORED_WITH_ARG.has(opt)) {
      out.ignored.push(`${opt} ${needArg(args, i, opt)}`);
      i++;
      continue;
    }
    switch (opt) {
      case '-M':
      case '-machine': {
        const v = needArg(args, i++, opt);
        const { implied, props } = splitOptList(v);
        for (const [k, val] of props) {
          if (k === 'type') out.machineType = val;
          else if (MACHINE_PROPS_IGNORED.has(k)) out.machineProps[k] = val;
          else throw new QemuArgError(`-machine property "${k}" is not modelled`);
        }
        if (implied) out.machineType = implied;
        break;
      }
      case '-m': {
        const v = needArg(args, i++, opt);
        const { implied, props } = splitOptList(v);
        let size = implied;
        for (const [k, val] of props) {
          if (k === 'size') size = val;
          else
            throw new QemuArgError(
              `-m ${k}= is not modelled (memory hotplug moves the 64-bit PCI window)`,
            );
        }
        if (!size) throw new QemuArgError('-m without a size');
        out.ramBytes = parseSize(size, 2 ** 20);
        break;
      }
      case '-bios':
        out.bios = needArg(args, i++, opt);
        break;
      case '-vga':
        out.vga = needArg(args, i++, opt);
        break;
      case '-nodefaults':
        out.nodefaults = true;
        break;
      case '-device': {
        const v = needArg(args, i++, opt);
        const { implied, props } = splitOptList(v);
        if (!implied) throw new QemuArgError(`-device ${v}: no driver name`);
        if (implied === 'help' || props.some(([k]) => k === 'help')) {
          throw new QemuArgError(`-device ${v}: help requests are not a machine`);
        }
        out.devices.push({
          driver: implied,
          props: toRecord(props, `-device ${implied}`),
          source: '-device',
          text: v,
        });
        break;
      }
      case '-global': {
        const v = needArg(args, i++, opt);
        const m = /^([^.=]+)\.([^=]+)=(.*)$/.exec(v);
        if (!m) {
          const kv = splitOptList(v);
          const rec = toRecord(kv.props, '-global');
          if (kv.implied || !rec['driver'] || !rec['property'] || rec['value'] === undefined) {
            throw new QemuArgError(`-global ${v}: expected driver.prop=value`);
          }
          out.globals.push({ driver: rec['driver'], prop: rec['property'], value: rec['value'] });
        } else {
          out.globals.push({ driver: m[1]!, prop: m[2]!, value: m[3]! });
        }
        break;
      }
      case '-nic': {
        const v = needArg(args, i++, opt);
        out.defaultNic = false;
        const { implied, props } = splitOptList(v);
        if (implied === 'none') break;
        const rec = toRecord(props, '-nic');
        const model = rec['model'] ?? null;
        if (model === 'help') throw new QemuArgError('-nic model=help is not a machine');
        out.devices.push({ driver: model ?? '<default-nic>', props: {}, source: '-nic', text: v });
        break;
      }
      case '-net': {
        const v = needArg(args, i++, opt);
        out.defaultNic = false;
        const { implied, props } = splitOptList(v);
        if (implied === 'nic') {
          const rec = toRecord(props, '-net');
          out.devices.push({
            driver: rec['model'] ?? '<default-nic>',
            props: {},
            source: '-net',
            text: v,
          });
        }
        // -net none / -net user / -net tap: backends only.
        break;
      }
      case '-netdev':
        needArg(args, i++, opt);
        out.defaultNic = false;
        out.ignored.push(`-netdev ${args[i]}`);
        break;
      case '-drive': {
        const v = needArg(args, i++, opt);
        const rec = toRecord(splitOptList(v).props, '-drive');
        const itf = rec['if'] ?? '<default>';
        if (itf === 'virtio') {
          out.devices.push({
            driver: 'virtio-blk-pci',
            props: { drive: rec['id'] ?? '<drive>' },
            source: '-drive',
            text: v,
          });
        } else if (itf === 'none' || itf === 'pflash') {
          out.ignored.push(`-drive ${v}`);
        } else if (itf === '<default>' || itf === 'ide') {
          // q35 puts these on the built-in AHCI; the machine builder rejects them elsewhere.
          out.devices.push({ driver: '<ide-drive>', props: {}, source: '-drive', text: v });
        } else {
          throw new QemuArgError(`-drive if=${itf} is not modelled`);
        }
        break;
      }
      case '-hda':
      case '-hdb':
      case '-cdrom': {
        const v = needArg(args, i++, opt);
        out.devices.push({ driver: '<ide-drive>', props: {}, source: opt, text: v });
        break;
      }
      case '-object': {
        const v = needArg(args, i++, opt);
        const { implied, props } = splitOptList(v);
        const rec = toRecord(props, '-object');
        const type = implied ?? rec['qom-type'];
        if (!type) throw new QemuArgError(`-object ${v}: no type`);
        if (!rec['id']) throw new QemuArgError(`-object ${v}: no id`);
        out.objects[rec['id']] = { type, props: rec };
        break;
      }
      default:
        throw new QemuArgError(`option ${tok} is not modelled (it may change the PCI layout)`);
    }
  }
  return out;
}

function toRecord(props: [string, string][], where: string): Record<string, string> {
  const rec: Record<string, string> = {};
  for (const [k, v] of props) {
    if (Object.prototype.hasOwnProperty.call(rec, k)) {
      throw new QemuArgError(`${where}: property "${k}" given twice`);
    }
    rec[k] = v;
  }
  return rec;
}
