// Asking a real QEMU what it built: `info pci` from the monitor gives every
// function's IDs, BAR sizes and flags, and (once firmware has run) the
// addresses firmware programmed. The catalogue and the SeaBIOS model are
// checked against it; nothing here boots a kernel.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { FirmwareState } from './firmware/types.js';
import type { Machine, MFunction } from './machine.js';

export interface InfoPciBar {
  index: number;
  io: boolean;
  is64: boolean;
  prefetch: boolean;
  /** null while unassigned (QEMU prints 0xffffffffffffffff). */
  start: number | null;
  size: number;
}

export interface InfoPciFunction {
  bus: number;
  slot: number;
  fn: number;
  vendor: number;
  device: number;
  qemuId: string;
  bars: InfoPciBar[];
  /** Bridge windows as programmed: [base, limit]; limit < base means disabled. */
  windows: { kind: 'io' | 'mem' | 'pref'; base: number; limit: number }[];
  secondaryBus?: number;
}

const UNSET = 'ffffffffffffffff';

/** Parse `info pci` output (terminal escapes and echo noise are tolerated). */
export function parseInfoPci(text: string): InfoPciFunction[] {
  const out: InfoPciFunction[] = [];
  let cur: InfoPciFunction | null = null;
  const clean = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    const h = /^Bus\s+(\d+), device\s+(\d+), function (\d+):$/.exec(line);
    if (h) {
      cur = {
        bus: Number(h[1]),
        slot: Number(h[2]),
        fn: Number(h[3]),
        vendor: 0,
        device: 0,
        qemuId: '',
        bars: [],
        windows: [],
      };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const id = /PCI device ([0-9a-f]{4}):([0-9a-f]{4})$/.exec(line);
    if (id && !/subsystem/.test(line)) {
      cur.vendor = parseInt(id[1]!, 16);
      cur.device = parseInt(id[2]!, 16);
      continue;
    }
    const bar =
      /^BAR(\d): (I\/O|32 bit|64 bit)( prefetchable)?(?: memory)? at 0x([0-9a-f]+) \[0x([0-9a-f]+)\]\.$/.exec(
        line,
      );
    if (bar) {
      const unset = bar[4] === UNSET;
      const last = parseInt(bar[5]!, 16);
      const start = unset ? null : parseInt(bar[4]!, 16);
      // Unassigned BARs print [size - 2]; assigned ones print the last address.
      const size = unset ? last + 2 : last - start! + 1;
      cur.bars.push({
        index: Number(bar[1]),
        io: bar[2] === 'I/O',
        is64: bar[2] === '64 bit',
        prefetch: Boolean(bar[3]),
        start,
        size,
      });
      continue;
    }
    const win = /^(IO|memory|prefetchable memory) range \[0x([0-9a-f]+), 0x([0-9a-f]+)\]$/.exec(
      line,
    );
    if (win) {
      cur.windows.push({
        kind: win[1] === 'IO' ? 'io' : win[1] === 'memory' ? 'mem' : 'pref',
        base: parseInt(win[2]!, 16),
        limit: parseInt(win[3]!, 16),
      });
      continue;
    }
    const sec = /^secondary bus (\d+)\.$/.exec(line);
    if (sec) cur.secondaryBus = Number(sec[1]);
    const qid = /^id "(.*)"$/.exec(line);
    if (qid) cur.qemuId = qid[1]!;
  }
  return out;
}

/**
 * Starts QEMU with the given argv (program first) and returns the process with
 * stdin, stdout and stderr piped. The model never spawns QEMU itself: the
 * caller supplies this, and pcibot's callers go through the verify sandbox
 * (bot/verify/qemu-probe.ts), since the QEMU line comes from a scenario.
 */
export type QemuLauncher = (argv: string[]) => { child: ChildProcess; kill(): void };

export interface ProbeOptions {
  binary: string;
  launch: QemuLauncher;
  /**
   * Let firmware run and wait until `done(text)` holds; otherwise use -S and
   * ask at once. `logDone`: the firmware's debug console (QEMU's
   * isa-debugcon at 0x402, where SeaBIOS writes its log) must first say this
   * (it has finished setting PCI up), and only `info pci` asked after that counts.
   */
  runFirmware?: { done: (infoPci: string) => boolean; logDone?: (log: string) => boolean };
  /**
   * Where the debug console is written, for `logDone`: the path QEMU is told
   * (inside the launcher's sandbox) and the path this process reads. The
   * launcher's owner makes and removes it.
   */
  firmwareLog?: { qemuPath: string; readPath: string };
  timeoutMs?: number;
}

/** Options that would boot a kernel or need host resources are dropped; the machine is what matters. */
function machineOnly(args: string[]): string[] {
  const out: string[] = [];
  // -bios too: the caller chooses the firmware (a scenario names one, never a path to run).
  const drop1 = new Set([
    '-bios',
    '-kernel',
    '-initrd',
    '-append',
    '-serial',
    '-monitor',
    '-display',
    '-accel',
    '-qmp',
  ]);
  const drop0 = new Set(['-nographic', '-no-reboot', '-S', '-enable-kvm', '-daemonize']);
  const start = args[0] && /qemu-system-/.test(args[0]) ? 1 : 0;
  for (let i = start; i < args.length; i++) {
    const a = args[i]!;
    if (drop1.has(a)) {
      i++;
      continue;
    }
    if (drop0.has(a)) continue;
    out.push(a);
  }
  return out;
}

/** Run QEMU with the machine part of `args` and return its `info pci`. */
export function probeInfoPci(args: string[], opts: ProbeOptions): Promise<string> {
  const argv = [
    ...machineOnly(args),
    '-display',
    'none',
    '-serial',
    'none',
    '-monitor',
    'stdio',
    '-accel',
    'tcg',
  ];
  if (!opts.runFirmware) argv.push('-S');
  const logDone = opts.runFirmware?.logDone;
  if (logDone && !opts.firmwareLog)
    throw new Error('probeInfoPci: runFirmware.logDone needs a firmwareLog to read');
  // The firmware's debug console goes to a file, read while we wait.
  const logFile = logDone ? opts.firmwareLog!.readPath : null;
  if (logDone)
    argv.push(
      '-debugcon',
      `file:${opts.firmwareLog!.qemuPath}`,
      '-global',
      'isa-debugcon.iobase=0x402',
    );
  return new Promise((resolvePromise, reject) => {
    const { child, kill } = opts.launch([opts.binary, ...argv]);
    const stdin = child.stdin!;
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    let out = '';
    let err = '';
    let asked = 0;
    /**
     * The first question whose answer counts (1-based): with `logDone`, the
     * first asked after the firmware log said so. The monitor answers in
     * order, each answer followed by a prompt, after its first prompt.
     */
    let counts = logDone ? Infinity : 1;
    const answered = () => out.split('(qemu)').length - 2;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(timer);
      try {
        stdin.write('quit\n');
      } catch {
        // already gone
      }
      setTimeout(kill, 2000).unref();
      fn();
    };
    const lastBlock = () => {
      const i = out.lastIndexOf('Bus  0, device   0, function 0:');
      const j = out.lastIndexOf('(qemu)');
      return i >= 0 && j > i && answered() >= counts ? out.slice(i, j) : null;
    };
    stdin.on('error', () => {
      // QEMU exited while we wrote; the exit handler reports it.
    });
    stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const block = lastBlock();
      if (block && (!opts.runFirmware || opts.runFirmware.done(block)))
        finish(() => resolvePromise(block));
    });
    stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', (e) => finish(() => reject(e)));
    child.on('exit', (code) =>
      finish(() =>
        reject(new Error(`${opts.binary} exited (${code}) before answering: ${err.trim()}`)),
      ),
    );
    const ask = () => {
      if (logFile && counts === Infinity) {
        let log = '';
        try {
          log = readFileSync(logFile, 'latin1');
        } catch {
          // not written yet
        }
        // This question is the first whose answer counts.
        if (logDone!(log)) counts = asked + 1;
      }
      asked++;
      try {
        stdin.write('info pci\n');
      } catch {
        // exited; handled above
      }
    };
    ask();
    const poll = setInterval(ask, 400);
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new Error(`no complete answer from ${opts.binary} in time: ${err.trim()}`)),
        ),
      opts.timeoutMs ?? 30000,
    );
  });
}

function allFunctions(m: Machine): MFunction[] {
  const out: MFunction[] = [];
  const walk = (fns: MFunction[]) => {
    for (const f of fns) {
      out.push(f);
      if (f.secondary) walk(f.secondary.functions);
    }
  };
  walk(m.root.functions);
  return out;
}

/**
 * Differences between the modelled firmware placement and what a real QEMU
 * reports after its firmware ran: BAR addresses (ROMs excluded: firmware leaves
 * them disabled, so QEMU does not show them) and bridge window registers.
 */
export function compareFirmware(m: Machine, fw: FirmwareState, info: InfoPciFunction[]): string[] {
  const diffs: string[] = [];
  const h = (n: number | null | undefined) =>
    n === null || n === undefined ? 'unassigned' : '0x' + n.toString(16);
  const fns = allFunctions(m);
  for (const f of fns) {
    const where = `${f.bus.number.toString(16).padStart(2, '0')}:${f.slot.toString(16).padStart(2, '0')}.${f.fn} ${f.def.driver}`;
    const real = info.find((i) => i.bus === f.bus.number && i.slot === f.slot && i.fn === f.fn);
    if (!real) {
      diffs.push(`${where}: not in QEMU's info pci`);
      continue;
    }
    if (real.vendor !== f.def.vendor || real.device !== f.def.device)
      diffs.push(`${where}: QEMU has ${real.vendor.toString(16)}:${real.device.toString(16)}`);
    for (const b of f.def.bars) {
      const rb = real.bars.find((x) => x.index === b.index);
      const model = fw.bars.get(f.uid)?.get(b.index) ?? null;
      if (!rb) diffs.push(`${where} BAR${b.index}: QEMU has no such BAR`);
      else if (rb.start !== model)
        diffs.push(`${where} BAR${b.index}: model ${h(model)}, SeaBIOS ${h(rb.start)}`);
    }
    for (const rb of real.bars) {
      if (rb.index !== 6 && !f.def.bars.some((b) => b.index === rb.index))
        diffs.push(`${where} BAR${rb.index}: in QEMU, not in the model`);
    }
    if (f.def.bridge) {
      const mw = fw.windows.get(f.uid) ?? {};
      for (const rw of real.windows) {
        const w = mw[rw.kind];
        // QEMU prints the decoded range; a window firmware left alone is compared as disabled.
        const realOn = rw.base <= rw.limit;
        const modelOn = w !== undefined && w.base <= w.limit;
        if (realOn !== modelOn)
          diffs.push(
            `${where} ${rw.kind} window: model ${modelOn ? `${h(w!.base)}-${h(w!.limit)}` : 'off'}, SeaBIOS ${realOn ? `${h(rw.base)}-${h(rw.limit)}` : 'off'}`,
          );
        else if (realOn && (rw.base !== w!.base || rw.limit !== w!.limit))
          diffs.push(
            `${where} ${rw.kind} window: model ${h(w!.base)}-${h(w!.limit)}, SeaBIOS ${h(rw.base)}-${h(rw.limit)}`,
          );
      }
    }
  }
  for (const i of info) {
    if (!fns.some((f) => f.bus.number === i.bus && f.slot === i.slot && f.fn === i.fn))
      diffs.push(`${i.bus}:${i.slot}.${i.fn}: in QEMU, not in the model`);
  }
  return diffs;
}

/**
 * SeaBIOS has set the ICH9 SMBus's fixed I/O base (or, without one, a
 * bridge's secondary bus). Not enough on its own: SeaBIOS enables each
 * device's decoding one after the other, and devices behind bridges come
 * after the SMBus; seabiosLogDone says when all are.
 */
export function seabiosDone(infoPci: string): boolean {
  return (
    /SMBus[\s\S]*?BAR4: I\/O at 0x0700/.test(infoPci) ||
    (!/SMBus/.test(infoPci) && /secondary bus [1-9]/.test(infoPci))
  );
}

/**
 * SeaBIOS's log says pci_setup() has returned: smp_setup(), which runs right
 * after it, reports the CPUs ("Found 1 cpu(s) max supported 1 cpu(s)").
 */
export function seabiosLogDone(log: string): boolean {
  return /^Found \d+ cpu\(s\)/m.test(log);
}

/** Wait for SeaBIOS to have set PCI up (probeInfoPci's runFirmware). */
export const SEABIOS_DONE = { done: seabiosDone, logDone: seabiosLogDone } as const;
