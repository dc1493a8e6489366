// The static busybox each guest's initramfs is made from.
//
// x86_64: Debian's busybox-static, installed on the host (/bin/busybox).
// arm64: the same Debian package built for arm64. It cannot be installed beside
// the host's, so it is downloaded (not installed) with apt's own client and
// unpacked into the verify cache, once:
//   apt-get -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 update
//   apt-get -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 download busybox-static:arm64
//   dpkg-deb -x busybox-static_*_arm64.deb <cache>/busybox/arm64
// PCIBOT_BUSYBOX_X86_64 / PCIBOT_BUSYBOX_ARM64 name another static busybox.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import type { BootArch } from '../kernel/vocabulary.js';

const ELF_MACHINE: Record<BootArch, number> = { x86_64: 0x3e, arm64: 0xb7 };

export class BusyboxError extends Error {}

/** Checks that `path` is an ELF executable for `arch` with no interpreter (static). */
export function checkStaticElf(path: string, arch: BootArch): void {
  const bytes = readFileSync(path);
  if (bytes.subarray(0, 4).toString('latin1') !== '\x7fELF') {
    throw new BusyboxError(`${path} is not an ELF file`);
  }
  const machine = bytes.readUInt16LE(18);
  if (machine !== ELF_MACHINE[arch]) {
    throw new BusyboxError(
      `${path} is built for ELF machine 0x${machine.toString(16)}, not ${arch}`,
    );
  }
  // A dynamically linked binary names its loader; a static one does not.
  if (
    bytes.includes(Buffer.from('/lib/ld-linux')) ||
    bytes.includes(Buffer.from('/lib64/ld-linux'))
  ) {
    throw new BusyboxError(`${path} is dynamically linked; the initramfs needs a static busybox`);
  }
}

/** Path of a static busybox for `arch`, fetching the arm64 one into `root` if needed. */
export function busyboxFor(arch: BootArch, root: string, env = process.env): string {
  const override = arch === 'x86_64' ? env.PCIBOT_BUSYBOX_X86_64 : env.PCIBOT_BUSYBOX_ARM64;
  if (override) {
    checkStaticElf(override, arch);
    return override;
  }
  if (arch === 'x86_64') {
    const path = '/bin/busybox';
    if (!existsSync(path)) {
      throw new BusyboxError('/bin/busybox is missing: apt-get install busybox-static');
    }
    checkStaticElf(path, arch);
    return path;
  }
  const dir = join(root, 'busybox', 'arm64');
  const path = join(dir, 'bin', 'busybox');
  if (!existsSync(path)) fetchArm64Busybox(dir);
  checkStaticElf(path, arch);
  return path;
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new BusyboxError(
      `${cmd} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`,
    );
  }
}

function fetchArm64Busybox(dir: string): void {
  if (process.getuid?.() !== 0) {
    throw new BusyboxError(
      `no arm64 busybox at ${dir}; as root pcibot fetches Debian's busybox-static:arm64 there, ` +
        'or set PCIBOT_BUSYBOX_ARM64 to a static arm64 busybox',
    );
  }
  const archs = ['-o', 'APT::Architectures::=amd64', '-o', 'APT::Architectures::=arm64'];
  mkdirSync(join(dir, '..'), { recursive: true });
  // Beside the destination, so the final rename stays on one filesystem. (apt warns that
  // it downloads as root when its _apt user cannot reach the directory; that is fine.)
  const tmp = mkdtempSync(join(dir, '..', '.fetch-'));
  try {
    run('apt-get', ['-q', ...archs, 'update'], tmp);
    run('apt-get', ['-q', ...archs, 'download', 'busybox-static:arm64'], tmp);
    const deb = readdirSync(tmp).find(
      (f) => f.startsWith('busybox-static_') && f.endsWith('_arm64.deb'),
    );
    if (!deb) throw new BusyboxError('apt-get download left no busybox-static arm64 package');
    const unpacked = join(tmp, 'x');
    run('dpkg-deb', ['-x', deb, unpacked], tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(unpacked, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
