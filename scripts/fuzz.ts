// `npm run fuzz`: every fuzz target (test/fuzz/targets.ts) on 100,000 inputs
// (FUZZ_RUNS to change), from a fixed seed (FUZZ_SEED) so a crash can be
// replayed; `npm run fuzz -- mail diff` runs only those. Prints per target:
// inputs, crashes, the slowest input per KB; the smallest crashing input of
// each target that crashed. Exit 1 when anything crashed.
import { cpus } from 'node:os';
import { formatResult, fuzzTarget } from '../test/fuzz/harness.js';
import { TARGETS } from '../test/fuzz/targets.js';

const runs = Number(process.env.FUZZ_RUNS ?? 100_000);
const seed = Number(process.env.FUZZ_SEED ?? 20250106);
const only = process.argv.slice(2);
const unknown = only.filter((n) => !TARGETS.some((t) => t.name === n));
if (unknown.length) {
  console.error(
    `fuzz: unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`,
  );
  process.exit(2);
}
console.log(
  `pcibot fuzz: ${runs} inputs per target, seed ${seed}, ${new Date().toISOString().slice(0, 10)}, ` +
    `node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'} (${cpus().length} cores)`,
);
let crashed = 0;
for (const target of TARGETS) {
  if (only.length && !only.includes(target.name)) continue;
  const r = await fuzzTarget(target, { runs, seed });
  console.log(formatResult(r));
  if (r.crashes) {
    crashed++;
    console.log(
      `  smallest crash (${r.crash!.bytes} bytes): ${r.crash!.error}\n  input: ${r.crash!.input}`,
    );
  }
}
process.exit(crashed ? 1 : 0);
