// For scripts/bench.ts: the policy read of one series, base and patched, on a
// real tree. benchPolicyRead() takes an overlay; benchPolicyReadExample()
// makes it from the bundled example series (applied in a temporary index).
import { readInputs } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import type { Message } from '../../bot/types.js';
import { cacheDir } from '../../bot/util/cache.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { applySeries, seriesPatches } from '../../bot/tree/apply.js';
import { performance } from 'node:perf_hooks';
import {
  clearPolicyCaches,
  readPolicyChange,
  type PolicyChange,
} from '../../bot/kernel/policy/read.js';
import type { Arch } from '../../bot/kernel/vocabulary.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import type { TreeOverlay } from '../../bot/types.js';

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

export interface PolicyBench {
  arches: Arch[];
  /** Both trees, every arch, with empty parse caches. */
  coldMs: number;
  /** The same again with the parse caches filled (a worker reviewing its next series). */
  warmMs: number;
  changedFields: Record<string, string[]>;
  notes: number;
  filesRead: number;
}

/**
 * Read the policy of a base commit and of the same
 * commit with an overlay (a series' patched state), for the arches the
 * scenario library covers, cold and warm.
 */
export async function benchPolicyRead(
  tree: string,
  commit: string,
  overlay: TreeOverlay,
  arches: Arch[] = ['x86_64', 'arm64'],
): Promise<PolicyBench> {
  const changedPaths = Object.keys(overlay);
  const run = async () => {
    const base = openTreeReader(tree, commit);
    const patched = openTreeReader(tree, commit, overlay);
    const out: PolicyChange[] = [];
    for (const arch of arches)
      out.push(await readPolicyChange(base, patched, arch, { changedPaths }));
    return out;
  };
  clearPolicyCaches();
  let t0 = performance.now();
  const cold = await run();
  const coldMs = performance.now() - t0;
  t0 = performance.now();
  await run();
  const warmMs = performance.now() - t0;
  return {
    arches,
    coldMs,
    warmMs,
    changedFields: Object.fromEntries(cold.map((c) => [c.arch, c.changedFields])),
    notes: cold.reduce((n, c) => n + c.notes.length, 0),
    filesRead: Object.keys(cold[0]?.before.facts.files ?? {}).length,
  };
}
