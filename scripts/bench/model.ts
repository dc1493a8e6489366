// For `npm run bench` (scripts/bench.ts): the model over the whole scenario
// library at three page sizes, before and after a policy change.
import { join } from 'node:path';
import { runModel } from '../../bot/kernel/model/run.js';
import { policyFor6_12, policyMax4kPage } from '../../bot/kernel/model/policy.js';
import { loadScenarios } from '../../bot/kernel/model/scenario.js';
import { fixturesDir } from '../../bot/util/paths.js';

/** The whole library at its page sizes, before (6.12) and after (max(4K, PAGE_SIZE)). */
export async function benchModel(
  dir = join(fixturesDir, 'scenarios'),
  rounds = 5,
): Promise<{ scenarios: number; evaluations: number; ms: number; scenariosPerSecond: number }> {
  const scenarios = await loadScenarios(dir);
  const t0 = performance.now();
  let evaluations = 0;
  for (let i = 0; i < rounds; i++) {
    const run = runModel(scenarios, policyFor6_12(), policyMax4kPage(), {
      pageSizes: [4096, 16384, 65536],
    });
    evaluations += run.results.length * 2;
    if (run.errors.length)
      throw new Error(`bench: ${run.errors.map((e) => `${e.scenario}: ${e.message}`).join('; ')}`);
  }
  const ms = (performance.now() - t0) / rounds;
  return {
    scenarios: scenarios.length,
    evaluations: evaluations / rounds,
    ms,
    scenariosPerSecond: (scenarios.length / ms) * 1000,
  };
}
