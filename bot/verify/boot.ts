// Boots a kernel image in QEMU (TCG: these machines have no usable KVM) with the
// verify initramfs, in the sandbox, and reads the layout off the serial console.
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import type { BootArch, Firmware } from '../kernel/vocabulary.js';
import { checkQemuAllowList } from '../kernel/model/qemu-allow.js';
import { verifyRoot } from './build.js';
import { parseBootLog, type BootResult } from './bootlog.js';
import { buildInitramfs } from './initramfs.js';
import {
  BOOT_LIMITS,
  insideSandbox,
  makeSandboxWritable,
  runSandboxed,
  SANDBOX_ROOT,
} from './sandbox.js';
import { join } from 'node:path';

export const QBOOT_ROM = '/usr/share/qemu/qboot.rom';

export interface BootOptions {
  /** Host path of the kernel image (under the verify root, see buildKernel). */
  image: string;
  arch: BootArch;
  /** The scenario's QEMU arguments (machine, memory, devices), without the program name. */
  qemuArgs: string[];
  /** Extra guest kernel command line (the scenario's kernel-args). */
  kernelArgs?: string;
  /** x86_64: seabios (QEMU's default) or qboot; arm64: none. */
  firmware?: Firmware;
  timeoutMs?: number;
  /** The verify cache root (default verifyRoot()). */
  workDir?: string;
}

export interface BootRun {
  /** The serial console output. */
  log: string;
  result: BootResult;
  seconds: number;
  qemuVersion: string;
  /** The QEMU argv as run (paths as the sandbox sees them). */
  commandLine: string[];
  exitCode: number | null;
  timedOut: boolean;
  /** QEMU's own messages (warnings, argument errors). */
  qemuStderr: string;
}

export class BootError extends Error {}

/** Whether a QEMU system emulator verify can boot with is on the PATH. */
export function qemuInstalled(path = process.env.PATH ?? ''): boolean {
  return path
    .split(':')
    .filter((d) => d !== '')
    .some((d) =>
      ['qemu-system-x86_64', 'qemu-system-aarch64'].some((b) => {
        try {
          accessSync(join(d, b), fsConstants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
    );
}

export function qemuBinary(arch: BootArch): string {
  return arch === 'x86_64' ? 'qemu-system-x86_64' : 'qemu-system-aarch64';
}

const versions = new Map<string, string>();

/** "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" */
export function qemuVersion(arch: BootArch): string {
  const bin = qemuBinary(arch);
  let v = versions.get(bin);
  if (v === undefined) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) throw new BootError(`${bin} is not installed or does not run`);
    v = r.stdout.split('\n')[0]!.trim();
    versions.set(bin, v);
  }
  return v;
}

function has(args: string[], ...names: string[]): boolean {
  return args.some((a) => names.includes(a));
}

/** The options pcibot itself must control; a scenario that sets them is refused. */
const RESERVED = [
  '-kernel',
  '-initrd',
  '-append',
  '-bios',
  '-serial',
  '-monitor',
  '-daemonize',
  '-pidfile',
  '-qmp',
  '-enable-kvm',
];

/**
 * The full QEMU argv for a boot: the scenario's own arguments, in their order
 * (device order decides PCI slots), with what verify needs around them.
 */
export function qemuCommand(opts: {
  arch: BootArch;
  qemuArgs: string[];
  kernel: string;
  initrd: string;
  kernelArgs?: string;
  firmware?: Firmware;
}): string[] {
  const firmware = opts.firmware ?? (opts.arch === 'x86_64' ? 'seabios' : 'none');
  // The scenario as pasted: drop the program name and the options verify sets itself
  // (-nographic, -no-reboot, and a -bios that names the scenario's own firmware).
  let a = opts.qemuArgs;
  if (a[0] && /(^|\/)qemu-system-[\w-]+$/.test(a[0])) a = a.slice(1);
  const kept: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t === '-nographic' || t === '-no-reboot') continue;
    if (t === '-bios') {
      const rom = a[i + 1] ?? '';
      const matches =
        firmware === 'qboot'
          ? /qboot[^/]*\.rom$/.test(rom)
          : firmware === 'seabios' && /(^|\/)bios[^/]*\.bin$/.test(rom);
      if (!matches)
        throw new BootError(`scenario sets -bios ${rom}, which is not its firmware (${firmware})`);
      i++;
      continue;
    }
    if (RESERVED.includes(t))
      throw new BootError(`scenario sets ${t}, which verify controls itself`);
    kept.push(t);
  }
  a = kept;
  // The scenario parser checked this already; checked again here because this is
  // where a QEMU line is run, whatever produced it.
  checkQemuAllowList(a);
  const accel = a.findIndex((x) => x === '-accel');
  if (accel >= 0 && !/^tcg\b/.test(a[accel + 1] ?? '')) {
    throw new BootError(`scenario asks for -accel ${a[accel + 1]}; verify boots under TCG only`);
  }
  const head: string[] = [qemuBinary(opts.arch)];
  if (accel < 0) head.push('-accel', 'tcg');
  if (opts.arch === 'arm64') {
    if (!has(a, '-M', '-machine')) head.push('-M', 'virt');
    if (!has(a, '-cpu')) head.push('-cpu', 'cortex-a57');
    if (firmware !== 'none')
      throw new BootError(`arm64 boots with firmware "none" only, not ${firmware}`);
  } else if (firmware === 'qboot') {
    if (!existsSync(QBOOT_ROM))
      throw new BootError(`${QBOOT_ROM} is missing (package qemu-system-data)`);
  } else if (firmware !== 'seabios') {
    throw new BootError(`x86_64 boots with seabios or qboot, not ${firmware}`);
  }
  if (!has(a, '-m')) head.push('-m', '512');
  const console = opts.arch === 'x86_64' ? 'ttyS0' : 'ttyAMA0';
  // "console=... panic=-1 " + extra: the trailing space when there is no extra is
  // what the ground-truth boots had, so /proc/cmdline matches them byte for byte.
  const append = `console=${console} panic=-1 ${opts.kernelArgs ?? ''}`;
  const tail = [
    '-nographic',
    '-no-reboot',
    '-kernel',
    opts.kernel,
    '-initrd',
    opts.initrd,
    '-append',
    append,
  ];
  if (firmware === 'qboot') tail.push('-bios', QBOOT_ROM);
  return [...head, ...a, ...tail];
}

/** Boots one scenario and parses what the guest printed. */
export async function bootScenario(opts: BootOptions): Promise<BootRun> {
  const root = opts.workDir ?? verifyRoot();
  const initramfs = buildInitramfs({ arch: opts.arch, root });
  const scratch = join(root, 'boot');
  makeSandboxWritable(scratch);
  const commandLine = qemuCommand({
    arch: opts.arch,
    qemuArgs: opts.qemuArgs,
    kernel: insideSandbox(root, opts.image),
    initrd: insideSandbox(root, initramfs.path),
    kernelArgs: opts.kernelArgs,
    firmware: opts.firmware,
  });
  const version = qemuVersion(opts.arch);
  const run = await runSandboxed(commandLine, {
    root,
    cwd: `${SANDBOX_ROOT}/boot`,
    timeoutMs: opts.timeoutMs ?? 180_000,
    limits: BOOT_LIMITS,
    maxOutput: 16 * 2 ** 20,
  });
  const result = parseBootLog(run.stdout);
  if (run.timedOut)
    result.problems.push(`QEMU killed after ${(opts.timeoutMs ?? 180_000) / 1000} s`);
  if (run.code !== 0 && !run.timedOut) {
    result.problems.push(
      `QEMU exited with ${run.code ?? run.signal}: ${run.stderr.trim().split('\n').slice(-3).join(' / ')}`,
    );
  }
  return {
    log: run.stdout,
    result,
    seconds: run.seconds,
    qemuVersion: version,
    commandLine,
    exitCode: run.code,
    timedOut: run.timedOut,
    qemuStderr: run.stderr,
  };
}
