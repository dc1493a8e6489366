// The guest's initramfs: a static busybox and our /init, which prints the PCI
// layout as marker lines (the format parseBootLog reads, identical to the
// ground-truth boots) and powers the machine off.
//
// The archive is written here, in the kernel's "newc" cpio format, gzipped:
// that needs no root for the /dev/console node, and the same inputs give the
// same bytes (fixed mtimes, inode numbers, owners). Cached by content under
// <verify root>/initramfs/.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import type { BootArch } from '../kernel/vocabulary.js';
import { busyboxFor } from './busybox.js';

/**
 * The guest's /init. Besides the markers it documents:
 * - `kexp_vfio` on the kernel command line binds every pci-testdev (1b36:0005)
 *   to vfio-pci first; `kexp_vfio=<bdf>,<bdf>` binds the named functions.
 * - The console log level is lowered while markers are printed, so no kernel
 *   message can land in the middle of a marker line; kernel messages caused by
 *   the vfio binding are printed before that.
 */
export const INIT_SCRIPT = `#!/bin/busybox sh
# pcibot verify: print the PCI layout of this machine as @@ marker lines, then power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

echo @@KEXP-BEGIN
read up idle < /proc/uptime
echo "@@UPTIME $up"
echo "@@CMDLINE $(cat /proc/cmdline)"

vfio=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    kexp_vfio) vfio=pci-testdev ;;
    kexp_vfio=*) vfio="\${arg#kexp_vfio=}" ;;
  esac
done
if [ -n "$vfio" ]; then
  for d in /sys/bus/pci/devices/*; do
    bdf=\${d##*/}
    match=
    if [ "$vfio" = pci-testdev ]; then
      [ "$(cat $d/vendor):$(cat $d/device)" = 0x1b36:0x0005 ] && match=1
    else
      case ",$vfio," in *",$bdf,"*) match=1 ;; esac
    fi
    [ -n "$match" ] || continue
    [ -e $d/driver ] && echo $bdf > $d/driver/unbind 2>/dev/null
    echo vfio-pci > $d/driver_override 2>/dev/null
    echo $bdf > /sys/bus/pci/drivers_probe 2>/dev/null
  done
fi

read printk_levels < /proc/sys/kernel/printk
echo 1 > /proc/sys/kernel/printk

for d in /sys/bus/pci/devices/*; do
  [ -e "$d/resource" ] || continue
  bdf=\${d##*/}
  driver=-
  [ -e $d/driver ] && driver=$(basename $(readlink $d/driver))
  group=-
  [ -e $d/iommu_group ] && group=$(basename $(readlink $d/iommu_group))
  echo "@@PCIDEV $bdf vendor=$(cat $d/vendor) device=$(cat $d/device) class=$(cat $d/class) driver=$driver iommu_group=$group"
  i=0
  while read start end flags; do
    if [ "$flags" != 0x0000000000000000 ]; then
      echo "@@RES $bdf $i $start $end $flags"
    fi
    i=$((i + 1))
  done < $d/resource
done

echo @@IOMMU-GROUPS-BEGIN
if [ -d /sys/kernel/iommu_groups ]; then
  for g in $(ls /sys/kernel/iommu_groups | sort -n); do
    line="@@GROUP $g "
    for dev in $(ls /sys/kernel/iommu_groups/$g/devices); do
      line="$line$dev "
    done
    echo "$line"
  done
fi
echo @@IOMMU-GROUPS-END
echo "@@VFIO $(ls /dev/vfio 2>/dev/null | tr '\\n' ' ')"
if [ -n "$vfio" ] && [ -x /bin/vfio-probe ]; then
  probe=
  for d in /sys/bus/pci/devices/*; do
    [ -e $d/driver ] && [ -e $d/iommu_group ] || continue
    [ "$(basename $(readlink $d/driver))" = vfio-pci ] || continue
    probe="$probe $(basename $(readlink $d/iommu_group)) \${d##*/}"
  done
  [ -n "$probe" ] && /bin/vfio-probe $probe
fi
echo @@IOMEM-BEGIN
cat /proc/iomem
echo @@IOMEM-END
echo @@KEXP-END

echo "$printk_levels" > /proc/sys/kernel/printk
sleep 0.1
poweroff -f
`;

/**
 * With `kexp_vfio` and the vfio-probe helper in the initramfs, /init also runs
 * bot/verify/guest/vfio-probe.c over every device bound to vfio-pci, which adds
 * (between @@VFIO and @@IOMEM-BEGIN):
 *   @@VFIO-REGION <bdf> <index> size=0x.. flags=0x..   (flags: 1 read, 2 write, 4 mmap)
 *   @@VFIO-ERROR <bdf> <step> errno=<n>
 *   @@VFIO-IOMEM-BEGIN / /proc/iomem while the devices are open / @@VFIO-IOMEM-END
 */
export const VFIO_PROBE_MARKERS = [
  '@@VFIO-REGION',
  '@@VFIO-ERROR',
  '@@VFIO-IOMEM-BEGIN',
  '@@VFIO-IOMEM-END',
] as const;

/** The marker tags the init script prints, in order (tests hold the script to them). */
export const MARKERS = [
  '@@KEXP-BEGIN',
  '@@UPTIME',
  '@@CMDLINE',
  '@@PCIDEV',
  '@@RES',
  '@@IOMMU-GROUPS-BEGIN',
  '@@GROUP',
  '@@IOMMU-GROUPS-END',
  '@@VFIO',
  '@@IOMEM-BEGIN',
  '@@IOMEM-END',
  '@@KEXP-END',
] as const;

export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  /** Full st_mode: type bits and permissions. */
  mode: number;
  data?: Buffer;
  /** Device number for character/block nodes. */
  rdev?: { major: number; minor: number };
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Writes entries as a "newc" (070701) cpio archive, owned by root, mtime 0. */
export function writeCpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (e: CpioEntry) => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(e.name + '\0');
    const header =
      '070701' +
      hex8(e.name === 'TRAILER!!!' ? 0 : ino++) +
      hex8(e.mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8((e.mode & 0o170000) === S_IFDIR ? 2 : 1) +
      hex8(0) + // mtime
      hex8(data.length) +
      hex8(0) +
      hex8(0) +
      hex8(e.rdev?.major ?? 0) +
      hex8(e.rdev?.minor ?? 0) +
      hex8(name.length) +
      hex8(0);
    const head = Buffer.concat([Buffer.from(header, 'latin1'), name]);
    parts.push(head, pad4(head.length), data, pad4(data.length));
  };
  for (const e of entries) add(e);
  add({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** The entries of the verify initramfs around a given busybox binary. */
export function initramfsEntries(
  busybox: Buffer,
  init: string = INIT_SCRIPT,
  vfioProbe?: Buffer,
): CpioEntry[] {
  const dir = (name: string): CpioEntry => ({ name, mode: S_IFDIR | 0o755 });
  return [
    dir('bin'),
    dir('dev'),
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } },
    { name: 'dev/null', mode: S_IFCHR | 0o666, rdev: { major: 1, minor: 3 } },
    dir('proc'),
    dir('sys'),
    dir('tmp'),
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(init) },
    ...(vfioProbe ? [{ name: 'bin/vfio-probe', mode: S_IFREG | 0o755, data: vfioProbe }] : []),
  ];
}

export interface InitramfsResult {
  path: string;
  /** sha256 of the gzipped archive. */
  sha256: string;
  busybox: string;
  /** The vfio-probe helper inside, or why it is missing. */
  vfioProbe: { path: string } | { missing: string };
}

const VFIO_PROBE_SOURCE = 'guest/vfio-probe.c';

function guestSource(): string {
  // Compiled code lives in dist*/bot/verify; the C source stays in bot/verify/guest.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [
      join(dir, VFIO_PROBE_SOURCE),
      join(dir, 'bot', 'verify', VFIO_PROBE_SOURCE),
    ]) {
      if (existsSync(candidate)) return candidate;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find bot/verify/${VFIO_PROBE_SOURCE}`);
    dir = up;
  }
}

/**
 * Compiles the guest's vfio-probe helper (our own freestanding C, no libc) for
 * `arch` with the host's (cross) compiler, cached by source and compiler.
 */
export function buildVfioProbe(
  arch: BootArch,
  root: string,
): { path: string } | { missing: string } {
  const cc = arch === 'x86_64' ? 'gcc' : 'aarch64-linux-gnu-gcc';
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) return { missing: `${cc} is not installed` };
  const source = guestSource();
  const key = createHash('sha256')
    .update(readFileSync(source))
    .update(version.stdout)
    .digest('hex')
    .slice(0, 16);
  const dir = join(root, 'initramfs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `vfio-probe-${arch}-${key}`);
  if (existsSync(path)) return { path };
  const flags = ['-static', '-nostdlib', '-ffreestanding', '-fno-stack-protector', '-fno-builtin'];
  const r = spawnSync(
    cc,
    [...flags, '-fno-pie', '-no-pie', '-O2', '-s', '-o', `${path}.tmp`, source],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) return { missing: `${cc} failed on ${source}: ${r.stderr.trim()}` };
  renameSync(`${path}.tmp`, path);
  return { path };
}

/** Builds (or finds in the cache) the gzipped initramfs for `arch`. */
export function buildInitramfs(opts: { arch: BootArch; root: string }): InitramfsResult {
  const busybox = busyboxFor(opts.arch, opts.root);
  const probe = buildVfioProbe(opts.arch, opts.root);
  const cpio = writeCpioNewc(
    initramfsEntries(
      readFileSync(busybox),
      INIT_SCRIPT,
      'path' in probe ? readFileSync(probe.path) : undefined,
    ),
  );
  const gz = gzipSync(cpio, { level: 9 });
  const sha256 = createHash('sha256').update(gz).digest('hex');
  const dir = join(opts.root, 'initramfs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${opts.arch}-${sha256.slice(0, 16)}.cpio.gz`);
  if (!existsSync(path)) {
    writeFileSync(`${path}.tmp`, gz);
    renameSync(`${path}.tmp`, path);
  }
  return { path, sha256, busybox, vfioProbe: probe };
}
