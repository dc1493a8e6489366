// The allow-list for QEMU command lines in scenarios. A scenario is input (a
// file from the library, a user, a mail), not trusted configuration: its QEMU
// line is run by `scenario firmware-check`, `verify` and `record-layouts`. So
// before anything is modelled or run, every option and every property that
// could make QEMU open, create or truncate a host file, listen on or connect to
// a socket, talk to a monitor, load code or pass a host device through is
// refused, with an error naming the option. Allowed are the options that shape
// the PCI layout (machine, memory, CPUs, devices and their bus/addr/id/BAR-size
// properties, memory backends in RAM, null block drives) and a few that only
// switch things off. An option not listed here is refused too (as "not
// modelled", which it is not).
//
// pcibot chooses the firmware, kernel, initrd, serial console and monitor
// itself; a scenario says which firmware with `firmware:` or a -bios naming one
// of the known firmware files, never a path QEMU would read.
import { RefusedQemuOptionError, QemuArgError } from './errors.js';
import { MACHINE_PROPS_IGNORED, splitOptList } from './qemu-args.js';

/** What a scenario may not do with an option, one reason per refused option. */
const REFUSED: Record<string, string> = {
  '-D': 'writes a log file on the host',
  '-d': 'turns on debug logging (to a host file with -D)',
  '-trace': 'writes trace output to a host file',
  '-chardev': 'opens host files, sockets or terminals',
  '-monitor': 'opens a monitor (only "none" is allowed: pcibot runs the monitor itself)',
  '-mon': 'opens a monitor',
  '-qmp': 'opens a QMP monitor socket',
  '-qmp-pretty': 'opens a QMP monitor socket',
  '-serial': 'connects the serial port to a host file or socket (only none, null or stdio)',
  '-parallel': 'connects a parallel port to a host file or device',
  '-debugcon': 'connects a debug console to a host file or device',
  '-gdb': 'listens on a socket for a debugger',
  '-s': 'listens on tcp::1234 for a debugger',
  '-blockdev': 'opens a host file as a block device (use -drive if=none,file=null-co://)',
  '-hda': 'opens a host disk image',
  '-hdb': 'opens a host disk image',
  '-hdc': 'opens a host disk image',
  '-hdd': 'opens a host disk image',
  '-cdrom': 'opens a host disk image',
  '-fda': 'opens a host disk image',
  '-fdb': 'opens a host disk image',
  '-sd': 'opens a host disk image',
  '-mtdblock': 'opens a host disk image',
  '-pflash': 'opens a host flash image',
  '-snapshot': 'writes temporary disk overlays on the host',
  '-fsdev': 'shares a host directory with the guest',
  '-virtfs': 'shares a host directory with the guest',
  '-incoming': 'reads migration state from a file, socket or command',
  '-loadvm': 'loads a snapshot from a disk image',
  '-pidfile': 'writes a pid file on the host',
  '-daemonize': 'detaches from pcibot (which must be able to stop it)',
  '-plugin': 'loads a host shared library into QEMU',
  '-readconfig': 'reads more options from a host file',
  '-writeconfig': 'writes a host file',
  '-sandbox': "changes QEMU's own seccomp sandbox",
  '-L': 'sets the directory firmware and ROMs are read from',
  '-kernel': 'names a host file; pcibot boots its own kernel (put guest arguments in kernel-args:)',
  '-initrd': 'names a host file; pcibot supplies its own initramfs',
  '-append': 'pcibot sets the kernel command line (put guest arguments in kernel-args:)',
  '-dtb': 'names a host device-tree file',
  '-add-fd': 'passes host file descriptors in',
  '-spice': 'listens on a socket for a display client',
  '-vnc': 'listens on a socket for a display client',
  '-audiodev': 'opens host audio devices or writes audio files',
  '-audio': 'opens host audio devices or writes audio files',
  '-soundhw': 'opens host audio devices',
  '-option-rom': 'loads a ROM from a host file',
  '-fw_cfg': 'reads guest firmware configuration from a host file',
  '-smbios': 'can read SMBIOS tables from a host file',
  '-acpitable': 'reads ACPI tables from a host file',
  '-mem-path': 'backs guest RAM with a host file',
  '-icount': 'can record or replay to a host file',
  '-k': 'reads a keymap file',
  '-chroot': 'changes root directory',
  '-runas': 'changes user',
  '-run-with': 'changes root directory or user',
  '-tpmdev': 'opens a host TPM or socket',
  '-usbdevice': 'can pass host USB devices through',
  '-semihosting': 'gives the guest access to host files',
  '-semihosting-config': 'gives the guest access to host files',
  '-qtest': 'opens a test socket',
  '-iscsi': 'connects to a network disk',
  '-set': 'edits options after this allow-list checked them',
  '-full-screen': 'opens a display',
  '-preconfig': 'waits for a monitor command',
};

/** Options without an argument that cannot reach the host. */
const ALLOWED_FLAGS = new Set([
  '-nodefaults',
  '-nographic',
  '-no-reboot',
  '-no-shutdown',
  '-S',
  '-enable-kvm',
  '-mem-prealloc',
  '-no-user-config',
]);

/** Options with an argument, each with the check of its argument. */
const ALLOWED_WITH_ARG: Record<string, (v: string) => void> = {
  '-M': machine,
  '-machine': machine,
  '-m': (v) => optList('-m', v, { implied: SIMPLE, keys: ['size', 'slots', 'maxmem'] }),
  '-smp': (v) =>
    optList('-smp', v, {
      implied: /^\d+$/,
      keys: ['cpus', 'sockets', 'dies', 'clusters', 'cores', 'threads', 'maxcpus', 'books'],
    }),
  // CPU models and features (`cortex-a57`, `max,pauth=off`) name nothing on the host.
  '-cpu': (v) => {
    if (!/^[\w.+-]+(,[\w.+=-]+)*$/.test(v)) throw refused('-cpu', v, 'is not a CPU model');
  },
  '-accel': (v) =>
    optList('-accel', v, {
      implied: /^(tcg|kvm)$/,
      keys: ['accel', 'thread', 'tb-size', 'split-wx', 'one-insn-per-tb', 'kernel-irqchip'],
    }),
  '-device': device,
  '-global': global,
  '-object': (v) =>
    // RAM backends only (ivshmem-plain's memdev): file and memfd backends map host files.
    optList('-object', v, {
      implied: /^memory-backend-ram$/,
      keys: ['qom-type', 'id', 'size', 'share', 'prealloc', 'merge', 'dump', 'reserve'],
      values: { 'qom-type': /^memory-backend-ram$/ },
      needImplied: 'memory-backend-ram',
    }),
  '-drive': drive,
  '-nic': (v) =>
    optList('-nic', v, {
      implied: /^(none|user)$/,
      keys: ['model', 'mac', 'id'],
    }),
  '-net': (v) =>
    optList('-net', v, {
      implied: /^(nic|none|user)$/,
      keys: ['model', 'macaddr', 'mac', 'id', 'name', 'vlan', 'netdev'],
    }),
  // User-mode networking only, without its file options (smb=, tftp=, bootfile=,
  // hostfwd=); tap, bridge, socket, vhost and the rest reach the host.
  '-netdev': (v) => optList('-netdev', v, { implied: /^user$/, keys: ['id'] }),
  '-vga': (v) => {
    if (!/^[\w-]+$/.test(v)) throw refused('-vga', v, 'is not a VGA type');
  },
  '-display': (v) => {
    if (v !== 'none') throw refused('-display', v, 'opens a display (only "none" is allowed)');
  },
  '-serial': (v) => {
    if (!['none', 'null', 'stdio'].includes(v)) throw refused('-serial', v, REFUSED['-serial']!);
  },
  '-monitor': (v) => {
    if (v !== 'none') throw refused('-monitor', v, REFUSED['-monitor']!);
  },
  '-bios': bios,
  '-name': (v) => optList('-name', v, { implied: SIMPLE, keys: ['guest', 'debug-threads'] }),
  '-uuid': (v) => {
    if (!/^[0-9a-f-]{1,36}$/i.test(v)) throw refused('-uuid', v, 'is not a UUID');
  },
  '-rtc': (v) => optList('-rtc', v, { keys: ['base', 'clock', 'driftfix'] }),
  // Not splash= (a host image file).
  '-boot': (v) =>
    optList('-boot', v, {
      implied: /^[a-z]+$/,
      keys: ['order', 'once', 'menu', 'strict', 'reboot-timeout', 'splash-time'],
    }),
  '-msg': (v) => optList('-msg', v, { keys: ['timestamp', 'guest-name'] }),
  '-overcommit': (v) => optList('-overcommit', v, { keys: ['mem-lock', 'cpu-pm'] }),
  '-watchdog-action': (v) => {
    if (!/^[\w-]+$/.test(v)) throw refused('-watchdog-action', v, 'is not an action');
  },
  '-action': (v) => optList('-action', v, { keys: ['reboot', 'shutdown', 'panic', 'watchdog'] }),
};

/** A value that names nothing: letters, digits and `. _ + : -`. */
const SIMPLE = /^[\w.+:-]*$/;

/** The firmware files a scenario's -bios may name; QEMU is always given pcibot's own copy. */
const KNOWN_FIRMWARE =
  /^(?:(?:\/usr\/share\/(?:qemu|seabios))\/)?(qboot\.rom|bios\.bin|bios-256k\.bin)$/;

/** Device drivers that pass a host device or host resource into the guest. */
const HOST_DRIVERS =
  /^(vfio|vhost|vfio-user|virtio-9p|usb-host|usb-redir|u2f-passthru|pci-assign|kvm-pci-assign|xen-pci-passthrough|loader|guest-loader|ivshmem-doorbell|ivshmem$|virtserialport|virtconsole|isa-serial|pci-serial|tpm-|vhost-user)/;

/** Device properties that name a host file, socket, character device or host device. */
const HOST_PROPS = new Set([
  'romfile',
  'chardev',
  'host',
  'sysfsdev',
  'fd',
  'fds',
  'vhostfd',
  'vhostfds',
  'file',
  'filename',
  'path',
  'socket',
  'fsdev',
  'x-igd-opregion',
]);

function refused(
  option: string,
  value: string | undefined,
  reason: string,
): RefusedQemuOptionError {
  return new RefusedQemuOptionError(option, value, reason);
}

function optList(
  option: string,
  value: string,
  rule: {
    implied?: RegExp;
    keys: string[];
    values?: Record<string, RegExp>;
    needImplied?: string;
  },
): void {
  const { implied, props } = splitOptList(value);
  if (implied !== null && !(rule.implied ?? /^$/).test(implied))
    throw refused(option, value, `"${implied}" is not allowed here`);
  let typed = implied !== null;
  for (const [k, v] of props) {
    if (!rule.keys.includes(k))
      throw refused(
        option,
        value,
        `property "${k}" is not allowed (allowed: ${rule.keys.join(', ')})`,
      );
    const re = rule.values?.[k] ?? SIMPLE;
    if (!re.test(v)) throw refused(option, value, `${k}=${v} is not allowed`);
    if (k === 'qom-type') typed = true;
  }
  if (rule.needImplied && !typed)
    throw refused(option, value, `only ${rule.needImplied} is allowed`);
}

/**
 * -machine keys a scenario may give: the ones the parser knows, except those
 * that name another object (a memory backend can be a host file; a
 * confidential-guest object reaches the host too).
 */
const MACHINE_KEYS = [
  'type',
  ...[...MACHINE_PROPS_IGNORED].filter(
    (k) => k !== 'memory-backend' && k !== 'confidential-guest-support',
  ),
];

function machine(v: string): void {
  optList('-machine', v, { implied: /^[\w.-]+$/, keys: MACHINE_KEYS });
}

/** Checks one `prop=value` of a device (or a -global); the model checks that it knows the property. */
function deviceProp(option: string, text: string, key: string, value: string): void {
  // romfile= (empty) means "no ROM" and names nothing.
  if (key === 'romfile' && value === '') return;
  if (HOST_PROPS.has(key))
    throw refused(option, text, `property "${key}" names a host file, socket or device`);
  if (!/^[\w.+:, -]*$/.test(value))
    throw refused(option, text, `${key}=${value}: not a plain value (paths and URLs are refused)`);
}

function device(v: string): void {
  const { implied, props } = splitOptList(v);
  if (implied !== null && HOST_DRIVERS.test(implied))
    throw refused('-device', v, `${implied} reaches a host device, file or socket`);
  for (const [k, val] of props) deviceProp('-device', v, k, val);
}

function global(v: string): void {
  const m = /^([^.=]+)\.([^=]+)=(.*)$/.exec(v);
  if (m) {
    if (HOST_DRIVERS.test(m[1]!)) throw refused('-global', v, `${m[1]} reaches the host`);
    deviceProp('-global', v, m[2]!, m[3]!);
    return;
  }
  // driver=,property=,value= form
  const rec = new Map(splitOptList(v).props);
  deviceProp('-global', v, rec.get('property') ?? '', rec.get('value') ?? '');
  if (HOST_DRIVERS.test(rec.get('driver') ?? '')) throw refused('-global', v, 'reaches the host');
}

/**
 * -drive: only block backends that are not host files, which is what the
 * library needs (an NVMe namespace needs a drive): `file=null-co://` (or
 * `null-aio://`, or `driver=null-co`), or no file at all.
 */
function drive(v: string): void {
  optList('-drive', v, {
    keys: ['if', 'id', 'file', 'driver', 'format', 'readonly', 'media', 'cache', 'size'],
    values: {
      if: /^(none|virtio|ide)$/,
      file: /^null-(co|aio):\/\/$/,
      driver: /^null-(co|aio)$/,
      format: /^raw$/,
    },
  });
}

function bios(v: string): void {
  if (!KNOWN_FIRMWARE.test(v))
    throw refused(
      '-bios',
      v,
      'firmware is chosen by pcibot: say "firmware: seabios | qboot" (a -bios may only name qboot.rom or bios.bin)',
    );
}

/** Normalise `--device` to `-device` as QEMU accepts both. */
function optionName(tok: string): string {
  return tok.startsWith('--') ? tok.slice(1) : tok;
}

/**
 * Checks a tokenised QEMU command line against the allow-list; throws
 * RefusedQemuOptionError naming the first option that is not allowed, or a
 * QemuArgError for a malformed line. The program name may lead.
 */
export function checkQemuAllowList(args: string[]): void {
  let i = 0;
  if (args[0] !== undefined && /(^|\/)qemu-system-[\w-]+$/.test(args[0])) i = 1;
  for (; i < args.length; i++) {
    const tok = args[i]!;
    if (tok.startsWith('@'))
      throw refused(tok, undefined, 'an @file argument reads more arguments from a host file');
    if (!tok.startsWith('-'))
      throw new QemuArgError(
        `unexpected argument "${tok}" (a disk image without an option is not modelled)`,
      );
    const opt = optionName(tok);
    if (ALLOWED_FLAGS.has(opt)) continue;
    const check = Object.prototype.hasOwnProperty.call(ALLOWED_WITH_ARG, opt)
      ? ALLOWED_WITH_ARG[opt]
      : undefined;
    if (check) {
      const v = args[i + 1];
      if (v === undefined) throw new QemuArgError(`${opt} needs an argument`);
      if (v.startsWith('@'))
        throw refused(opt, v, 'an @file argument reads more arguments from a host file');
      check(v);
      i++;
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(REFUSED, opt))
      throw refused(opt, undefined, REFUSED[opt]!);
    throw new QemuArgError(`option ${tok} is not modelled (it may change the PCI layout)`);
  }
}
