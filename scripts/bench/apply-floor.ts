// For `npm run bench` (scripts/bench.ts): the floor the review is measured
// against, with the same minimal temporary index applySeries uses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { touchedPaths } from '../../bot/mail/diffpaths.js';
import { APPLY, seedIndex } from '../../bot/tree/apply.js';
import { gitRepo } from '../../bot/tree/git.js';

/**
 * The floor for the bench: the bare git work of applying the same patches
 * without a checkout, timed end to end, with nothing of pcibot around it
 * (no checks, no overlays, no per-patch reads, no reverse or 3-way tries).
 *
 * - default: the same minimal temporary index applySeries uses (`ls-tree` of
 *   the touched paths into `update-index --index-info`), then one
 *   `git apply --cached` per patch. This is the strict floor: only what
 *   applySeries cannot avoid.
 * - fullIndex: what a person would type: `read-tree HEAD` into a temporary
 *   index, then one `git apply --cached` per patch. On the 86k-file kernel
 *   every apply reads and rewrites a ~9 MB index, so this is much slower.
 *
 * Failing patches are timed too (git am would stop there; the floor goes on).
 */
export async function measureApplyFloor(
  tree: string,
  diffs: string[],
  opts: { fullIndex?: boolean } = {},
): Promise<{ ms: number; setupMs: number; applyMs: number }> {
  const repo = gitRepo(resolvePath(tree));
  await repo.gitDir();
  const tempDir = await mkdtemp(join(tmpdir(), 'pcibot-floor-'));
  try {
    const env = { GIT_INDEX_FILE: join(tempDir, 'index') };
    const t0 = performance.now();
    if (opts.fullIndex) {
      const rt = await repo.run(['read-tree', 'HEAD'], { env });
      if (rt.code !== 0) throw new Error(`git read-tree HEAD failed: ${rt.stderr.trim()}`);
    } else {
      const paths = new Set(diffs.flatMap((d) => touchedPaths(d).paths));
      await seedIndex(repo, 'HEAD', [...paths], env);
    }
    const t1 = performance.now();
    for (const d of diffs) await repo.run(APPLY, { env, input: d });
    const t2 = performance.now();
    return { ms: t2 - t0, setupMs: t1 - t0, applyMs: t2 - t1 };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}
