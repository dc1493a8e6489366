// `npm run bench -- conflicts`: one patch with N sections for one file whose
// hunks all fail (what a hostile mail can carry), through applySeries, next to
// the floor: one bare `git apply --cached` of the same patch in the same kind of
// temporary index. applySeries runs git twice here (the patch, then its
// reverse, to tell "already applied" from "conflict"), so about 2x the floor is
// what linear conflict reporting looks like; the time per section must not grow
// with N.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySeries } from '../../bot/tree/apply.js';
import { gitRepo } from '../../bot/tree/git.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { measureApplyFloor } from './apply-floor.js';

export interface ConflictBenchRow {
  sections: number;
  applyMs: number;
  floorMs: number;
  conflicts: number;
}

/** N sections of `file`, each a hunk whose context is nowhere in the file. */
export function failingSections(file: string, n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(
      `diff --git a/${file} b/${file}\n--- a/${file}\n+++ b/${file}\n` +
        `@@ -${i + 10},3 +${i + 10},3 @@\n not in the file ${i}\n-old ${i}\n+new ${i}\n context ${i}\n`,
    );
  }
  return parts.join('');
}

export async function benchConflicts(
  sizes: number[] = [5_000, 10_000, 20_000],
  file = 'drivers/pci/Kconfig',
): Promise<ConflictBenchRow[]> {
  const work = await mkdtemp(join(tmpdir(), 'pcibot-bench-conflicts-'));
  try {
    const { path: tree } = await buildFixtureTree(join(work, 'tree'));
    const rows: ConflictBenchRow[] = [];
    for (const n of sizes) {
      const diff = failingSections(file, n);
      const floor = await measureApplyFloor(tree, [diff]);
      const t0 = performance.now();
      const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'bench', diff }] });
      const applyMs = performance.now() - t0;
      const p = r.patches[0]!;
      if (p.status !== 'conflict') throw new Error(`bench: expected a conflict, got ${p.status}`);
      rows.push({ sections: n, applyMs, floorMs: floor.ms, conflicts: p.conflicts?.length ?? 0 });
    }
    gitRepo(tree).close();
    return rows;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
