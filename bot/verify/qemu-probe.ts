// QEMU runs that ask the monitor what QEMU built (`info pci`), for
// `scenario firmware-check` and the catalogue/firmware tests. The QEMU line
// comes from a scenario, which is input: like a verify boot it is checked
// against the allow-list and runs in the verify sandbox (unprivileged, no
// network, limits, a scratch directory as its working directory).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkQemuAllowList } from '../kernel/model/qemu-allow.js';
import { probeInfoPci, type ProbeOptions } from '../kernel/model/qemu-info.js';
import { verifyRoot } from './build.js';
import { BOOT_LIMITS, makeSandboxWritable, SANDBOX_ROOT, spawnSandboxed } from './sandbox.js';

/** The scratch directory probes run in, below the verify root. */
export const PROBE_DIR = 'probe';

export interface SandboxedProbeOptions extends Omit<ProbeOptions, 'launch'> {
  /** The verify cache root the sandbox binds (default verifyRoot()). */
  workDir?: string;
}

/** probeInfoPci with QEMU started in the sandbox, after the allow-list passed `args`. */
export function probeInfoPciSandboxed(
  args: string[],
  opts: SandboxedProbeOptions,
): Promise<string> {
  checkQemuAllowList(args);
  const root = opts.workDir ?? verifyRoot();
  makeSandboxWritable(join(root, PROBE_DIR));
  const { workDir: _unused, ...probe } = opts;
  void _unused;
  // The firmware's debug console, when asked for: a file in the probe
  // directory, written by QEMU inside the sandbox and read here.
  const logName = `fwlog-${process.pid}-${randomBytes(6).toString('hex')}.log`;
  const readPath = join(root, PROBE_DIR, logName);
  const firmwareLog = opts.runFirmware?.logDone
    ? { qemuPath: `${SANDBOX_ROOT}/${PROBE_DIR}/${logName}`, readPath }
    : undefined;
  let exited: Promise<unknown> = Promise.resolve();
  return probeInfoPci(args, {
    ...probe,
    ...(firmwareLog ? { firmwareLog } : {}),
    launch: (argv) => {
      const run = spawnSandboxed(argv, {
        root,
        cwd: `${SANDBOX_ROOT}/${PROBE_DIR}`,
        limits: BOOT_LIMITS,
        stdin: true,
      });
      exited = new Promise((done) => {
        if (run.child.exitCode !== null || run.child.signalCode !== null) done(null);
        else run.child.once('exit', done);
      });
      return run;
    },
  }).finally(() => {
    // Once QEMU is gone (it may still write as it exits), not before.
    if (firmwareLog) void exited.then(() => rmSync(readPath, { force: true }));
  });
}
