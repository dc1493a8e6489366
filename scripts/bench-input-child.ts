// One measured run for `npm run bench -- input` (scripts/bench.ts), in its own
// process so its peak memory is its own.
//   bench-input-child review <mbox> [warm-up mbox]
//     `pcibot review` of the mbox without a tree and without rules (read,
//     parse, assemble, scope); the warm-up mbox is reviewed first, untimed
//     (the JIT compiles the parsers on it).
//   bench-input-child assemble <mbox>   (run with --expose-gc)
//     parse every message, let the garbage collector settle, then time
//     assembleSeries alone, best of two.
// Prints one line of JSON.
import { iterateInputs } from '../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../bot/mail/parse.js';
import { assembleSeries } from '../bot/series/assemble.js';
import type { Message } from '../bot/types.js';
import { runReview } from '../workers/pipeline.js';

const [mode, mbox, warmup] = process.argv.slice(2);
if ((mode !== 'review' && mode !== 'assemble') || !mbox) {
  console.error('usage: bench-input-child review|assemble <mbox> [warm-up mbox]');
  process.exit(2);
}
if (mode === 'assemble') {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const messages: Message[] = [];
  for await (const item of iterateInputs([mbox])) {
    if (!('mail' in item)) continue;
    const m = await parseMail(item.mail);
    if (!isParseFailure(m)) messages.push(m);
  }
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    gc();
    const t0 = performance.now();
    assembleSeries(messages);
    best = Math.min(best, performance.now() - t0);
  }
  console.log(JSON.stringify({ ms: best, messages: messages.length }));
} else {
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
}
