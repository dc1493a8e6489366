// One measured run for `npm run bench -- input` (scripts/bench.ts), in its own
// process so its peak memory is its own: `pcibot review` of one mbox without a
// tree and without rules (read, parse, assemble, scope, analyse plumbing).
// Prints one line of JSON. With a second mbox, that one is reviewed first,
// untimed (a warm-up: the JIT compiles the parsers on it).
import { runReview } from '../workers/pipeline.js';

const [mbox, warmup] = process.argv.slice(2);
if (!mbox) {
  console.error('usage: bench-input-child <mbox> [warm-up mbox]');
  process.exit(2);
}
if (warmup) await runReview({ inputs: [warmup], tree: null, model: false, rules: [] });
const t0 = performance.now();
const report = await runReview({ inputs: [mbox], tree: null, model: false, rules: [] });
const ms = performance.now() - t0;
console.log(
  JSON.stringify({
    ms,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    messages: report.summary.messages,
    series: report.summary.series,
    failed: report.summary.failed,
    timing: report.timing,
  }),
);
