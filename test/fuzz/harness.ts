// The fuzz engine behind `npm run fuzz` (scripts/fuzz.ts) and the small
// deterministic budget in `npm test` (test/fuzz/fuzz.test.ts). A target is one
// entry in test/fuzz/targets.ts: a fast-check arbitrary for its inputs and the
// code to run on each. Whatever the input, a target must return; a throw that
// is not a deliberate, typed input error (InputError, or what the target's
// `deliberate` accepts) is a crash, and so is a broken invariant (`check`).
// Per target the engine counts inputs and crashes, keeps the smallest
// crashing input, and finds the slowest input per KB (time / max(1, KB)).
import fc from 'fast-check';
import { InputError } from '../../bot/limits.js';

export interface FuzzTarget<T = unknown> {
  name: string;
  /** What is fuzzed, one line. */
  what: string;
  input: fc.Arbitrary<T>;
  /** Size of an input in bytes (for the time per KB). */
  size(input: T): number;
  /** The code under test. */
  run(input: T): unknown;
  /** An invariant on the result: a description of what is wrong, or null. */
  check?(input: T, result: unknown): string | null;
  /** Errors that are the target's documented way to refuse input; InputError always is. */
  deliberate?(err: unknown): boolean;
}

export interface FuzzCrash {
  /** The input, shown (JSON, cut to 400 characters). */
  input: string;
  bytes: number;
  error: string;
}

export interface FuzzResult<T = unknown> {
  name: string;
  inputs: number;
  crashes: number;
  /** Inputs refused with a deliberate error (not crashes). */
  refused: number;
  /** The smallest crashing input. */
  crash: FuzzCrash | null;
  slowest: { msPerKB: number; ms: number; bytes: number; input?: T };
  totalMs: number;
}

const show = (x: unknown): string => {
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 400 ? s.slice(0, 400) + '...' : s;
};

/** Run `runs` inputs of one target from `seed`. Deterministic for a given seed and run count. */
export async function fuzzTarget<T>(
  target: FuzzTarget<T>,
  opts: { runs: number; seed: number },
): Promise<FuzzResult<T>> {
  const r: FuzzResult<T> = {
    name: target.name,
    inputs: 0,
    crashes: 0,
    refused: 0,
    crash: null,
    slowest: { msPerKB: 0, ms: 0, bytes: 0 },
    totalMs: 0,
  };
  const crashed = (input: T, bytes: number, error: string) => {
    r.crashes++;
    if (!r.crash || bytes < r.crash.bytes) r.crash = { input: show(input), bytes, error };
  };
  const property = fc.asyncProperty(target.input, async (input) => {
    const bytes = target.size(input);
    const t0 = performance.now();
    let result: unknown;
    let threw: unknown = undefined;
    let failed = false;
    try {
      result = await target.run(input);
    } catch (err) {
      threw = err;
      failed = true;
    }
    let ms = performance.now() - t0;
    r.inputs++;
    r.totalMs += ms;
    const perKB = (t: number) => t / Math.max(1, bytes / 1024);
    if (perKB(ms) > r.slowest.msPerKB) {
      // A new record: time it again and keep the faster run, so a garbage
      // collection or a first-call compile is not taken for slow code.
      const t1 = performance.now();
      try {
        await target.run(input);
      } catch {
        // (the outcome was recorded above)
      }
      ms = Math.min(ms, performance.now() - t1);
      if (perKB(ms) > r.slowest.msPerKB) r.slowest = { msPerKB: perKB(ms), ms, bytes, input };
    }
    if (failed) {
      if (threw instanceof InputError || target.deliberate?.(threw)) r.refused++;
      else
        crashed(
          input,
          bytes,
          threw instanceof Error ? `${threw.name}: ${threw.message}` : String(threw),
        );
      return true;
    }
    let broken: string | null = null;
    try {
      broken = target.check?.(input, result) ?? null;
    } catch (err) {
      broken = `the invariant check threw: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (broken) crashed(input, bytes, `invariant: ${broken}`);
    return true;
  });
  await fc.check(property, { numRuns: opts.runs, seed: opts.seed, endOnFailure: true });
  return r;
}

/** One line per target: inputs, crashes, slowest per KB. */
export function formatResult<T>(r: FuzzResult<T>): string {
  const kb = (r.slowest.bytes / 1024).toFixed(1);
  return (
    `${r.name.padEnd(10)} ${String(r.inputs).padStart(7)} inputs ${String(r.crashes).padStart(4)} crashes` +
    `${r.refused ? ` (${r.refused} refused)` : ''}   slowest ${r.slowest.msPerKB.toFixed(2)} ms/KB` +
    ` (${r.slowest.ms.toFixed(1)} ms on ${kb} KB)   total ${(r.totalMs / 1000).toFixed(1)} s`
  );
}
