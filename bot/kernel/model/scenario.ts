// Scenario files (fixtures/scenarios/*.scenario): a QEMU command line as a
// person would paste it plus what QEMU does not say (architecture, firmware,
// guest page sizes, kernel command line). The format is documented in
// fixtures/scenarios/README.md; the verify stage boots the same files.
//
// parseScenario() validates everything it can without running anything: the
// keys, the QEMU options, every device and property (by building the machine),
// and the kernel pci= options. Errors name the file and line.
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ModelInputError,
  QemuArgError,
  RefusedQemuOptionError,
  RefusedScenarioError,
} from './errors.js';
import { checkQemuAllowList } from './qemu-allow.js';
import { DEFAULT_LIMITS, formatBytes } from '../../limits.js';
import { parseKernelArgs } from './kernel/cmdline.js';
import { buildMachine } from './machine.js';
import {
  ARCHES,
  FIRMWARES,
  PAGE_SIZES,
  type Arch,
  type Firmware,
  type PageSize,
} from '../vocabulary.js';
import { CATALOGUE } from './devices.js';
import { parseQemuArgs, parseSize, tokenizeShell } from './qemu-args.js';

export interface Scenario {
  name: string;
  description: string;
  arch: Arch;
  /** Resolved: from the file, else from -bios and the architecture. */
  firmware: Firmware;
  pageSizes: number[];
  kernelArgs: string;
  boot: boolean;
  /** The tokenised QEMU command line (program name, if pasted, included). */
  qemuArgs: string[];
  file: string;
  /** QEMU id -> VFs the guest enables (extension key `sriov-numvfs`). */
  sriovNumVfs: Record<string, number>;
  /** QEMU ids or drivers the guest has no driver for (extension key `no-guest-driver`). */
  noGuestDriver: string[];
}

const KEYS = new Set([
  'name',
  'description',
  'arch',
  'firmware',
  'page-sizes',
  'kernel-args',
  'boot',
  'qemu',
  'sriov-numvfs',
  'no-guest-driver',
]);

const DEFAULT_PAGE_SIZES: Record<Arch, PageSize[]> = {
  x86_64: [4096],
  arm64: [4096, 16384, 65536],
  ppc64: [65536],
  s390x: [4096],
};

/** `4k,16k,64k` -> [4096, 16384, 65536]. */
export function parsePageSizes(text: string): PageSize[] {
  const out: PageSize[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const v = parseSize(part) as PageSize;
    if (!PAGE_SIZES.includes(v))
      throw new QemuArgError(`page size ${part}: expected 4k, 16k or 64k`);
    if (!out.includes(v)) out.push(v);
  }
  if (!out.length) throw new QemuArgError('no page sizes');
  return out;
}

function stripComment(v: string): string {
  const i = v.search(/\s#/);
  return (i >= 0 ? v.slice(0, i) : v).trim();
}

export function parseScenario(text: string, file: string): Scenario {
  const fields = new Map<string, { value: string; line: number }>();
  const lines = text.split(/\r?\n/);
  let cur: { key: string; line: number; parts: string[]; cont: boolean } | null = null;
  const flush = () => {
    if (!cur) return;
    const value =
      cur.key === 'qemu'
        ? cur.parts.join('\n')
        : stripComment(cur.parts.join(' ').replace(/\\$/, ''));
    fields.set(cur.key, { value, line: cur.line });
    cur = null;
  };
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    if (/^\s*#/.test(raw) && !(cur && cur.cont)) return;
    if (!raw.trim()) {
      if (cur && !cur.cont) flush();
      return;
    }
    const continuing = cur && (cur.cont || /^\s/.test(raw));
    if (continuing && cur) {
      cur.parts.push(raw);
      cur.cont = /\\\s*$/.test(raw);
      return;
    }
    flush();
    const m = /^([A-Za-z][\w-]*)\s*:\s?(.*)$/.exec(raw);
    if (!m) throw new ModelInputError(file, lineNo, `expected "key: value", got "${raw.trim()}"`);
    const k = m[1]!.toLowerCase();
    if (!KEYS.has(k))
      throw new ModelInputError(
        file,
        lineNo,
        `unknown key "${m[1]}" (known: ${[...KEYS].join(', ')})`,
      );
    if (fields.has(k)) throw new ModelInputError(file, lineNo, `key "${k}" given twice`);
    cur = { key: k, line: lineNo, parts: [m[2]!], cont: /\\\s*$/.test(m[2]!) };
  });
  flush();

  const get = (k: string) => fields.get(k);
  const need = (k: string) => {
    const f = get(k);
    if (!f || !f.value) throw new ModelInputError(file, f?.line, `missing "${k}:"`);
    return f;
  };
  const at = <T>(k: string, fn: (v: string) => T): T => {
    const f = get(k)!;
    try {
      return fn(f.value);
    } catch (e) {
      if (e instanceof RefusedQemuOptionError) throw new RefusedScenarioError(file, f.line, e);
      if (e instanceof QemuArgError) throw new ModelInputError(file, f.line, `${k}: ${e.message}`);
      throw e;
    }
  };

  const name = need('name').value;
  if (!/^[\w.+-]+$/.test(name))
    throw new ModelInputError(
      file,
      get('name')!.line,
      `name "${name}": use letters, digits, . _ + -`,
    );
  const description = need('description').value;
  const archText = need('arch').value;
  if (!ARCHES.includes(archText as Arch))
    throw new ModelInputError(
      file,
      get('arch')!.line,
      `arch "${archText}": expected ${ARCHES.join(' | ')}`,
    );
  const arch = archText as Arch;
  const qemuField = need('qemu');
  const qemuArgs = at('qemu', (v) => tokenizeShell(v));
  // The allow-list first: nothing below (nor any QEMU run) sees a refused option.
  at('qemu', () => checkQemuAllowList(qemuArgs));
  const parsed = at('qemu', () => parseQemuArgs(qemuArgs));

  let firmware: Firmware;
  if (get('firmware')) {
    const fwText = get('firmware')!.value;
    if (!FIRMWARES.includes(fwText as Firmware))
      throw new ModelInputError(
        file,
        get('firmware')!.line,
        `firmware "${fwText}": expected ${FIRMWARES.join(' | ')}`,
      );
    firmware = fwText as Firmware;
  } else if (parsed.bios) {
    if (/qboot/.test(parsed.bios)) firmware = 'qboot';
    else if (/(bios|seabios)[^/]*\.bin$/.test(parsed.bios)) firmware = 'seabios';
    else
      throw new ModelInputError(
        file,
        qemuField.line,
        `-bios ${parsed.bios}: say which firmware it is with "firmware:"`,
      );
  } else {
    firmware = arch === 'x86_64' ? 'seabios' : arch === 'arm64' ? 'none' : 'none';
  }
  if (firmware === 'ovmf')
    throw new ModelInputError(
      file,
      get('firmware')?.line,
      'firmware ovmf is not modelled yet (documented gap)',
    );
  if (arch === 'arm64' && firmware !== 'none')
    throw new ModelInputError(
      file,
      get('firmware')?.line,
      `firmware ${firmware} on arm64 virt is not modelled (boot with -kernel: none)`,
    );
  if (arch === 'x86_64' && firmware === 'none')
    throw new ModelInputError(
      file,
      get('firmware')?.line,
      'x86 q35 always runs firmware: seabios, seabios-nomin or qboot',
    );

  const pageSizes = get('page-sizes') ? at('page-sizes', parsePageSizes) : DEFAULT_PAGE_SIZES[arch];
  const kernelArgs = get('kernel-args')?.value ?? '';
  if (get('kernel-args')) at('kernel-args', parseKernelArgs);

  const sriovNumVfs: Record<string, number> = {};
  if (get('sriov-numvfs')) {
    at('sriov-numvfs', (v) => {
      for (const part of v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const m = /^([\w.-]+)=(\d+)$/.exec(part);
        if (!m) throw new QemuArgError(`"${part}": expected ID=COUNT`);
        sriovNumVfs[m[1]!] = Number(m[2]);
      }
    });
  }
  const noGuestDriver = get('no-guest-driver')
    ? get('no-guest-driver')!
        .value.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

  const bootText = (get('boot')?.value ?? 'no').toLowerCase();
  if (!['yes', 'no'].includes(bootText))
    throw new ModelInputError(file, get('boot')?.line, `boot "${bootText}": expected yes or no`);
  const boot = bootText === 'yes';

  // Build the machine once: every device and property is checked here.
  try {
    buildMachine(parsed, { arch, numVfs: sriovNumVfs, noGuestDriver });
  } catch (e) {
    if (e instanceof QemuArgError) throw new ModelInputError(file, qemuField.line, e.message);
    throw e;
  }
  if (boot) {
    const why = bootBlocker(
      arch,
      firmware,
      parsed.devices.map((d) => d.driver),
    );
    if (why) throw new ModelInputError(file, get('boot')!.line, `boot: yes, but ${why}`);
  }
  return {
    name,
    description,
    arch,
    firmware,
    pageSizes,
    kernelArgs,
    boot,
    qemuArgs,
    file,
    sriovNumVfs,
    noGuestDriver,
  };
}

/** Why a scenario cannot boot in QEMU 7.2 as written, or null. */
function bootBlocker(arch: Arch, firmware: Firmware, drivers: string[]): string | null {
  if (arch !== 'x86_64' && arch !== 'arm64') return `${arch} guests are not booted`;
  if (firmware === 'seabios-nomin') return 'seabios-nomin needs a patched SeaBIOS';
  for (const d of drivers) {
    const m = CATALOGUE[d];
    if (m && !m.inQemu72) return `${d} is not a QEMU 7.2 device`;
  }
  return null;
}

/** A file over the byte limit its reader was given. */
export class FileOverLimitError extends ModelInputError {}

/**
 * Reads a regular file of at most `maxBytes`, never reading past the limit
 * (FileOverLimitError, saying `overLimit`); anything but a regular file is
 * refused without waiting on it. The buffer is sized by what the file says it
 * holds, not by the limit.
 */
export function readBoundedFile(file: string, maxBytes: number, overLimit: string): string {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ModelInputError(file, undefined, 'not a regular file');
    // One byte more than expected, to see the end (the file may also grow as it is read).
    let buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) throw new FileOverLimitError(file, undefined, overLimit);
        const bigger = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(bigger);
        buf = bigger;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a scenario (or ground-truth .cmd) file, refusing one over
 * `maxScenarioBytes` (bot/limits.ts) or that is not a regular file, without
 * reading more than the limit: scenario files are input.
 */
export function readScenarioFile(file: string, maxBytes = DEFAULT_LIMITS.maxScenarioBytes): string {
  return readBoundedFile(
    file,
    maxBytes,
    `scenario is over the maxScenarioBytes limit (${formatBytes(maxBytes)})`,
  );
}

/** Load one .scenario file or every .scenario file in a directory (sorted by name). */
export async function loadScenarios(
  dirOrFile: string,
  maxBytes = DEFAULT_LIMITS.maxScenarioBytes,
): Promise<Scenario[]> {
  const st = await stat(dirOrFile);
  const files = st.isDirectory()
    ? (await readdir(dirOrFile))
        .filter((f) => f.endsWith('.scenario'))
        .sort()
        .map((f) => join(dirOrFile, f))
    : [dirOrFile];
  const out: Scenario[] = [];
  for (const f of files) out.push(parseScenario(readScenarioFile(f, maxBytes), f));
  return out;
}

/** Like loadScenarios, but bad files become errors in the result instead of stopping the batch. */
export async function loadScenariosLenient(
  dirOrFile: string,
  maxBytes = DEFAULT_LIMITS.maxScenarioBytes,
): Promise<{ scenarios: Scenario[]; errors: ModelInputError[] }> {
  const st = await stat(dirOrFile);
  const files = st.isDirectory()
    ? (await readdir(dirOrFile))
        .filter((f) => f.endsWith('.scenario'))
        .sort()
        .map((f) => join(dirOrFile, f))
    : [dirOrFile];
  const scenarios: Scenario[] = [];
  const errors: ModelInputError[] = [];
  for (const f of files) {
    try {
      scenarios.push(parseScenario(readScenarioFile(f, maxBytes), f));
    } catch (e) {
      if (e instanceof ModelInputError) errors.push(e);
      else throw e;
    }
  }
  return { scenarios, errors };
}
