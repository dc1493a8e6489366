// The verify stage: build the (patched) kernel once per architecture and page
// size, boot every scenario QEMU can boot as written, read the real layout, and
// (given the model's prediction) list the differences.
import type { Layout } from '../kernel/model/layout.js';
import type { TreeOverlay } from '../types.js';
import type { BootArch, BootPageSize, Firmware, PageSize } from '../kernel/vocabulary.js';
import { bootScenario } from './boot.js';
import type { BootResult, BootMessages, IomemEntry, VfioRegion } from './bootlog.js';
import { buildKernel, BuildError, verifyRoot } from './build.js';
import { compareLayouts, type CompareOptions, type LayoutDifference } from './compare.js';

/**
 * What verify needs of a scenario (bot/kernel/model/scenario.ts's Scenario has these
 * fields; anything shaped like it works). `qemuArgs` is the tokenised command
 * line without the program name.
 */
export interface VerifyScenario {
  name: string;
  arch: string;
  firmware: string;
  /** Bytes (4096) or as written in the file ("4k"). */
  pageSizes: (number | string)[];
  kernelArgs?: string | null;
  /** false: the file says QEMU cannot boot it as written. */
  boot?: boolean;
  qemuArgs: string[];
}

export interface VerifyOptions<S extends VerifyScenario = VerifyScenario> {
  tree: string;
  commit?: string;
  overlay?: TreeOverlay;
  /** Modes of the overlay's files (Applied.modes); without it they keep the base mode. */
  modes?: Record<string, string>;
  scenarios: S[];
  /** Only this architecture (default: every architecture the scenarios need). */
  arch?: BootArch;
  /** Only these page sizes (bytes). */
  pageSizes?: number[];
  log?: (line: string) => void;
  /** The model's layout for a scenario at a page size; enables the comparison. */
  predict?: (scenario: S, pageSize: number) => Layout | Promise<Layout>;
  /** Called with each scenario's result as soon as it is known (before the report). */
  onResult?: (result: ScenarioVerification, scenario: S) => void;
  compare?: CompareOptions;
  workDir?: string;
  bootTimeoutMs?: number;
}

export interface KernelBuildReport {
  arch: BootArch;
  pageSize: BootPageSize;
  ok: boolean;
  kernelVersion?: string;
  image?: string;
  seconds: number;
  incremental?: boolean;
  error?: string;
  /** The tail of make's output when the build failed. */
  output?: string;
  configWarnings?: string[];
}

export type ScenarioStatus = 'measured' | 'boot-failed' | 'build-failed' | 'model-only';

export interface ScenarioVerification {
  name: string;
  arch: string;
  pageSize: number;
  status: ScenarioStatus;
  /** Why a scenario was not measured. */
  reason?: string;
  measured?: Layout;
  boot?: {
    seconds: number;
    qemuVersion: string;
    kernelVersion: string | null;
    commandLine: string[];
    complete: boolean;
    problems: string[];
    messages: BootMessages;
    /** What vfio-pci offered for each region of the devices opened through VFIO (kexp_vfio). */
    vfioRegions: VfioRegion[];
    /** "vfio sub-page reserved" ranges while those devices were open. */
    vfioSubPageReserved: IomemEntry[];
    /** Where opening a device through VFIO failed (e.g. set-iommu-type1v2 errno 1). */
    vfioErrors: { bdf: string; step: string; errno: number }[];
  };
  /** Present when a predict callback was given and the boot was measured. */
  differences?: LayoutDifference[];
  predictError?: string;
}

export interface VerifyReport {
  builds: KernelBuildReport[];
  scenarios: ScenarioVerification[];
  seconds: number;
}

const PAGE_WORDS: Record<string, PageSize> = { '4k': 4096, '16k': 16384, '64k': 65536 };

export function pageSizeBytes(p: number | string): number {
  if (typeof p === 'number') return p;
  const v = PAGE_WORDS[p.trim().toLowerCase()];
  if (v === undefined) throw new Error(`unknown page size "${p}"`);
  return v;
}

export interface BootPlan {
  arch: string;
  pageSize: number;
  bootable: boolean;
  reason?: string;
}

/** For each page size of a scenario: can verify boot it here, and if not, why. */
export function planScenario(s: VerifyScenario): BootPlan[] {
  const sizes = s.pageSizes.length ? s.pageSizes.map(pageSizeBytes) : [4096];
  return sizes.map((pageSize) => {
    const plan = (bootable: boolean, reason?: string): BootPlan => ({
      arch: s.arch,
      pageSize,
      bootable,
      ...(reason ? { reason } : {}),
    });
    // The specific reasons first; then the file's own word.
    const bootable = (): BootPlan =>
      s.boot === false
        ? plan(false, 'the scenario file says QEMU cannot boot it as written (boot: no)')
        : plan(true);
    if (s.arch === 'x86_64') {
      if (pageSize !== 4096)
        return plan(false, 'x86_64 has 4K pages only: the other page sizes are model-only');
      if (s.firmware === 'seabios' || s.firmware === 'qboot') return bootable();
      if (s.firmware === 'seabios-nomin') {
        return plan(
          false,
          'SeaBIOS without the 4 KiB minimum is a patched firmware QEMU does not ship',
        );
      }
      return plan(false, `firmware ${s.firmware} is not booted by verify (SeaBIOS and qboot are)`);
    }
    if (s.arch === 'arm64') {
      if (s.firmware !== 'none')
        return plan(false, `arm64 is booted with -kernel and no firmware, not ${s.firmware}`);
      if (pageSize === 4096 || pageSize === 65536) return bootable();
      return plan(false, 'no 16K arm64 kernel is built (4K and 64K are)');
    }
    return plan(false, `${s.arch} guests are not built or booted here (x86_64 and arm64 are)`);
  });
}

export async function verifyScenarios<S extends VerifyScenario>(
  opts: VerifyOptions<S>,
): Promise<VerifyReport> {
  const started = process.hrtime.bigint();
  const log = opts.log ?? (() => {});
  const root = opts.workDir ?? verifyRoot();
  const results: ScenarioVerification[] = [];
  const done = (r: ScenarioVerification, s: S) => {
    results.push(r);
    opts.onResult?.(r, s);
  };
  const groups = new Map<
    string,
    { arch: BootArch; pageSize: BootPageSize; runs: { s: S; pageSize: number }[] }
  >();

  for (const s of opts.scenarios) {
    for (const p of planScenario(s)) {
      if (opts.arch && p.arch !== opts.arch) continue;
      if (opts.pageSizes && !opts.pageSizes.includes(p.pageSize)) continue;
      if (!p.bootable) {
        done(
          {
            name: s.name,
            arch: s.arch,
            pageSize: p.pageSize,
            status: 'model-only',
            reason: p.reason,
          },
          s,
        );
        continue;
      }
      const arch = s.arch as BootArch;
      const key = `${arch}/${p.pageSize}`;
      if (!groups.has(key))
        groups.set(key, { arch, pageSize: p.pageSize as BootPageSize, runs: [] });
      groups.get(key)!.runs.push({ s, pageSize: p.pageSize });
    }
  }

  const builds: KernelBuildReport[] = [];
  for (const g of groups.values()) {
    log(`building ${g.arch} (${g.pageSize / 1024}K pages) for ${g.runs.length} scenario(s)`);
    let image: string;
    let kernelVersion: string;
    try {
      const b = await buildKernel({
        tree: opts.tree,
        commit: opts.commit,
        overlay: opts.overlay,
        modes: opts.modes,
        arch: g.arch,
        pageSize: g.pageSize,
        workDir: root,
        log,
      });
      image = b.image;
      kernelVersion = b.kernelVersion;
      builds.push({
        arch: g.arch,
        pageSize: g.pageSize,
        ok: true,
        kernelVersion,
        image,
        seconds: b.seconds,
        incremental: b.incremental,
        configWarnings: b.configWarnings,
      });
    } catch (err) {
      const e = err as Error;
      builds.push({
        arch: g.arch,
        pageSize: g.pageSize,
        ok: false,
        seconds: 0,
        error: e.message,
        output: err instanceof BuildError ? err.output : undefined,
      });
      for (const r of g.runs) {
        done(
          {
            name: r.s.name,
            arch: g.arch,
            pageSize: r.pageSize,
            status: 'build-failed',
            reason: e.message,
          },
          r.s,
        );
      }
      continue;
    }
    for (const r of g.runs) {
      done(await verifyOne(r.s, g.arch, r.pageSize, image), r.s);
    }
  }

  async function verifyOne(
    s: S,
    arch: BootArch,
    pageSize: number,
    image: string,
  ): Promise<ScenarioVerification> {
    const out: ScenarioVerification = { name: s.name, arch, pageSize, status: 'boot-failed' };
    let result: BootResult;
    try {
      const boot = await bootScenario({
        image,
        arch,
        qemuArgs: s.qemuArgs,
        kernelArgs: s.kernelArgs ?? undefined,
        firmware: s.firmware as Firmware,
        timeoutMs: opts.bootTimeoutMs,
        workDir: root,
      });
      result = boot.result;
      out.boot = {
        seconds: boot.seconds,
        qemuVersion: boot.qemuVersion,
        kernelVersion: result.kernelVersion,
        commandLine: boot.commandLine,
        complete: result.complete,
        problems: result.problems,
        messages: result.messages,
        vfioRegions: result.vfioRegions,
        vfioErrors: result.vfioErrors,
        vfioSubPageReserved: (result.vfioIomem ?? []).filter(
          (e) => e.name === 'vfio sub-page reserved',
        ),
      };
      log(
        `${s.name} (${arch}, ${pageSize / 1024}K): booted in ${boot.seconds.toFixed(1)} s${result.complete ? '' : ' -- incomplete'}`,
      );
    } catch (err) {
      out.reason = (err as Error).message;
      return out;
    }
    if (!result.complete) {
      out.reason = result.panic
        ? `the guest panicked: ${result.panic}`
        : `the guest did not finish printing its layout: ${result.problems.join('; ')}`;
      return out;
    }
    out.status = 'measured';
    out.measured = result.layout;
    if (opts.predict) {
      try {
        const predicted = await opts.predict(s, pageSize);
        out.differences = compareLayouts(predicted, result.layout, opts.compare);
      } catch (err) {
        out.predictError = (err as Error).message;
      }
    }
    return out;
  }

  return { builds, scenarios: results, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
