// Where verify's scenarios come from: scenario files (fixtures/scenarios/*.scenario,
// read by the model's own parser in bot/kernel/model/scenario.ts: verify has no second
// parser) and the ground-truth command lines (*.cmd beside their logs), which are
// turned into scenario text and read by the same parser.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseScenario, readScenarioFile, type Scenario } from '../kernel/model/scenario.js';
import { parseGroundTruthCommand } from './ground-truth.js';

export interface LoadedScenarios {
  scenarios: Scenario[];
  /** Files that could not be read, with the reason (the rest of the batch goes on). */
  errors: { file: string; message: string }[];
}

/** A ground-truth .cmd line as a scenario (same parser, same checks as a .scenario file). */
export function groundTruthScenario(file: string): Scenario {
  const c = parseGroundTruthCommand(readScenarioFile(file));
  const text = [
    `name: ${basename(file, '.cmd')}`,
    `description: the ground-truth boot ${basename(file)}`,
    `arch: ${c.arch}`,
    `firmware: ${c.firmware}`,
    `page-sizes: ${c.arch === 'arm64' ? '64k' : '4k'}`,
    ...(c.kernelArgs ? [`kernel-args: ${c.kernelArgs}`] : []),
    'boot: yes',
    `qemu: ${c.qemuArgs.map(shellQuote).join(' ')}${c.firmware === 'qboot' ? ' -bios /usr/share/qemu/qboot.rom' : ''}`,
    '',
  ].join('\n');
  return parseScenario(text, file);
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function listInputs(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    if (existsSync(p) && statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) {
        if (f.endsWith('.scenario') || f.endsWith('.cmd')) files.push(join(p, f));
      }
    } else files.push(p);
  }
  return files;
}

/** Reads scenario files, directories of them, and ground-truth .cmd files. */
export function loadVerifyScenarios(paths: string[]): LoadedScenarios {
  const out: LoadedScenarios = { scenarios: [], errors: [] };
  for (const file of listInputs(paths)) {
    try {
      if (!existsSync(file)) throw new Error('no such file');
      out.scenarios.push(
        file.endsWith('.cmd')
          ? groundTruthScenario(file)
          : parseScenario(readScenarioFile(file), file),
      );
    } catch (err) {
      out.errors.push({ file, message: (err as Error).message });
    }
  }
  return out;
}
