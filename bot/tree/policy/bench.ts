// For scripts/bench.ts: the policy read of one series, base and patched, on a
// real tree. benchPolicyRead() takes an overlay; benchPolicyReadExample()
// makes it from the bundled example series (applied in a temporary index).
import { readInputs } from '../../ingest/read.js';
import { isParseFailure, parseMail } from '../../mail/parse.js';
import { assembleSeries } from '../../series/assemble.js';
import type { Message } from '../../types.js';
import { cacheDir } from '../../util/cache.js';
import { exampleMbox } from '../../../fixtures/examples/index.js';
import { applySeries, seriesPatches } from '../apply.js';
import { benchPolicyRead, type PolicyBench } from '../../kernel/policy/read.js';

export { benchPolicyRead, type PolicyBench };

/** benchPolicyRead() on the bundled example ("PCI: Align small BARs") applied to `tree` at `commit`. */
export async function benchPolicyReadExample(
  tree: string,
  commit: string,
  rounds = 5,
): Promise<PolicyBench & { rounds: PolicyBench[] }> {
  const mbox = await exampleMbox({ name: 'align-small-bars', tree, commit, cacheDir: cacheDir() });
  const messages: Message[] = [];
  for (const raw of (await readInputs([mbox])).mails) {
    const m = await parseMail(raw);
    if (!isParseFailure(m)) messages.push(m);
  }
  const series = assembleSeries(messages).series[0];
  if (!series) throw new Error('bench: the example mbox holds no series');
  const applied = await applySeries({
    tree,
    patches: seriesPatches(series),
    baseCommit: series.baseCommit,
  });
  const all: PolicyBench[] = [];
  for (let i = 0; i < rounds; i++)
    all.push(await benchPolicyRead(tree, applied.base.commit, applied.overlay));
  // The median round, so one slow round (a busy machine) does not decide the figure.
  const sorted = [...all].sort((a, b) => a.coldMs - b.coldMs);
  return { ...sorted[Math.floor(sorted.length / 2)]!, rounds: all };
}
