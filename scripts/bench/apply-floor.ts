// For `npm run bench` (scripts/bench.ts): the floor the review is measured
// against, with the same minimal temporary index and the same kind of scratch
// repository applySeries uses (so that it writes nothing to the tree either).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { APPLY, baseEntries, copyBlobs, objectFormat, seedIndex } from '../../bot/tree/apply.js';
import { gitRepo } from '../../bot/tree/git.js';
import { preparePatch } from '../../bot/tree/prepare.js';
import { createScratchRepo } from '../../bot/tree/scratch.js';

/**
 * The floor for the bench: the bare git work of applying the same patches
 * without a checkout, timed end to end, with nothing of pcibot around it
 * (no checks, no overlays, no per-patch reads, no reverse or 3-way tries).
 *
 * - default: the same minimal temporary index applySeries uses (the base
 *   entries of the touched paths, their blobs copied into a scratch
 *   repository), then one `git apply --cached` per patch. This is the strict
 *   floor: only what applySeries cannot avoid.
 * - fullIndex: what a person would type: `read-tree HEAD` into a temporary
 *   index, then one `git apply --cached` per patch. On the 86k-file kernel
 *   every apply reads and rewrites a ~9 MB index, so this is much slower.
 *
 * Failing patches are timed too (git am would stop there; the floor goes on).
 */
export async function measureApplyFloor(
  tree: string,
  diffs: string[],
  opts: { fullIndex?: boolean; strip?: 0 | 1 } = {},
): Promise<{ ms: number; setupMs: number; applyMs: number }> {
  const repo = gitRepo(resolvePath(tree));
  await repo.gitDir();
  const head = await repo.revParse('HEAD^{commit}');
  if (!head) throw new Error(`${repo.path}: HEAD does not name a commit`);
  const tempDir = await mkdtemp(join(tmpdir(), `pcibot-floor-${process.pid}-`));
  const scratch = await createScratchRepo(tempDir, objectFormat(head));
  try {
    const env = { GIT_INDEX_FILE: join(tempDir, 'index') };
    const t0 = performance.now();
    const paths = new Set<string>();
    for (const d of diffs) for (const f of (await preparePatch(d, repo, head)).files) paths.add(f);
    if (opts.fullIndex) {
      // read-tree only writes the temporary index; the blobs git apply reads are copied.
      const rt = await repo.run(['read-tree', head], { env });
      if (rt.code !== 0) throw new Error(`git read-tree HEAD failed: ${rt.stderr.trim()}`);
      await copyBlobs(repo, scratch, (await baseEntries(repo, head, paths)).entries);
    } else {
      await seedIndex(repo, scratch, head, paths, env);
    }
    const t1 = performance.now();
    for (const d of diffs)
      await scratch.repo.run([...APPLY, `-p${opts.strip ?? 1}`], { env, input: d });
    const t2 = performance.now();
    return { ms: t2 - t0, setupMs: t1 - t0, applyMs: t2 - t1 };
  } finally {
    scratch.repo.close();
    await rm(tempDir, { recursive: true, force: true });
  }
}
