// One measured run for `npm run bench -- input` (scripts/bench.ts), in its own
// process so its peak memory is its own: `pcibot review` of one mbox without a
// tree and without rules (read, parse, assemble, scope, analyse plumbing).
// Prints one line of JSON.
import { runReview } from '../workers/pipeline.js';

const mbox = process.argv[2];
if (!mbox) {
  console.error('usage: bench-input-child <mbox>');
  process.exit(2);
}
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
