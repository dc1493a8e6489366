// For `npm run bench` (scripts/bench.ts, the lead's): the verify stage's real
// cost for a review: a one-file patch rebuilt incrementally over a warm base
// build, then three scenarios booted. Build and boot times are separate.
import { bootScenario } from '../../bot/verify/boot.js';
import { buildKernel } from '../../bot/verify/build.js';
import { loadGroundTruth, parseGroundTruthCommand } from '../../bot/verify/ground-truth.js';
import { defaultAlignmentOverlay } from '../../fixtures/kernel-changes.js';

export interface VerifyBenchResult {
  /** Bringing the build dir back to the base tree (not part of the measurement). */
  baseSeconds: number;
  /** The incremental rebuild for the one-file patch. */
  buildSeconds: number;
  boots: { name: string; seconds: number; complete: boolean }[];
  bootSeconds: number;
  totalSeconds: number;
  kernelVersion: string;
}

/** The three x86 boots of the seed reproducer: SeaBIOS, qboot, SeaBIOS + intel-iommu. */
export const BENCH_BOOTS = ['patched-tcg', 'patched-qboot', 'base-iommu'];

export async function benchVerifyIncremental(opts: {
  tree: string;
  log?: (line: string) => void;
}): Promise<VerifyBenchResult> {
  const log = opts.log;
  const base = await buildKernel({ tree: opts.tree, arch: 'x86_64', log });
  const patched = await buildKernel({
    tree: opts.tree,
    arch: 'x86_64',
    overlay: defaultAlignmentOverlay(opts.tree),
    log,
  });
  const truth = new Map(loadGroundTruth().map((b) => [b.name, b]));
  const boots: VerifyBenchResult['boots'] = [];
  for (const name of BENCH_BOOTS) {
    const c = parseGroundTruthCommand(truth.get(name)!.command);
    const run = await bootScenario({
      image: patched.image,
      arch: c.arch,
      qemuArgs: c.qemuArgs,
      kernelArgs: c.kernelArgs,
      firmware: c.firmware,
    });
    boots.push({ name, seconds: run.seconds, complete: run.result.complete });
  }
  const bootSeconds = boots.reduce((s, b) => s + b.seconds, 0);
  return {
    baseSeconds: base.seconds,
    buildSeconds: patched.seconds,
    boots,
    bootSeconds,
    totalSeconds: patched.seconds + bootSeconds,
    kernelVersion: patched.kernelVersion,
  };
}
