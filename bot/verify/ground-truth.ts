// The real boots the project started from (copied from /work/shared/ground-truth
// into fixtures/layouts/ground-truth so tests and CI have them): each serial log
// beside the QEMU command line that produced it. Parsed with parseBootLog, they
// are the first layouts the model is held to.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootArch, BootFirmware } from '../kernel/vocabulary.js';
import { fixturesDir } from '../util/paths.js';
import { parseBootLog, type BootResult } from './bootlog.js';

export const groundTruthDir = join(fixturesDir, 'layouts', 'ground-truth');

export interface GroundTruthBoot {
  /** File stem, e.g. `base-tcg`. */
  name: string;
  /** The QEMU command line as recorded (image names are placeholders). */
  command: string;
  log: string;
  result: BootResult;
}

export function loadGroundTruth(dir: string = groundTruthDir): GroundTruthBoot[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.log'.length);
      const log = readFileSync(join(dir, f), 'utf8');
      const command = readFileSync(join(dir, `${name}.cmd`), 'utf8').trim();
      return { name, command, log, result: parseBootLog(log) };
    });
}

/** What a ground-truth .cmd line says, split into the parts verify boots with. */
export interface GroundTruthCommand {
  arch: BootArch;
  firmware: BootFirmware;
  /** The -append text after "console=... panic=-1 ". */
  kernelArgs: string;
  /** Everything else: machine, memory, devices (in order). */
  qemuArgs: string[];
}

/**
 * Reads a ground-truth command line. These are plain space-separated lines (no
 * quoting); the image names are placeholders like "bzImage (6.12 base)".
 */
export function parseGroundTruthCommand(command: string): GroundTruthCommand {
  const tokens = command.trim().split(/\s+/);
  const program = tokens.shift() ?? '';
  const arch = program.endsWith('aarch64') ? 'arm64' : program.endsWith('x86_64') ? 'x86_64' : null;
  if (!arch) throw new Error(`ground-truth command: unknown QEMU binary "${program}"`);
  let firmware: GroundTruthCommand['firmware'] = arch === 'arm64' ? 'none' : 'seabios';
  let kernelArgs = '';
  const qemuArgs: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '-nographic' || t === '-no-reboot') continue;
    if (t === '-accel' || t === '-initrd') {
      i++;
      continue;
    }
    if (t === '-kernel') {
      // "bzImage (6.12 + default alignment max(SZ_4K, PAGE_SIZE))": skip to the closing paren.
      i++;
      if (tokens[i + 1]?.startsWith('(')) {
        let depth = 0;
        for (i++; i < tokens.length; i++) {
          depth += (tokens[i]!.match(/\(/g) ?? []).length - (tokens[i]!.match(/\)/g) ?? []).length;
          if (depth <= 0) break;
        }
      }
      continue;
    }
    if (t === '-bios') {
      if (tokens[i + 1]?.endsWith('qboot.rom')) firmware = 'qboot';
      i++;
      continue;
    }
    if (t === '-append') {
      const words: string[] = [];
      while (i + 1 < tokens.length && !tokens[i + 1]!.startsWith('-')) words.push(tokens[++i]!);
      kernelArgs = words.filter((w) => !/^(console|panic)=/.test(w)).join(' ');
      continue;
    }
    qemuArgs.push(t);
  }
  return { arch, firmware, kernelArgs, qemuArgs };
}
