// Paths inside the pcibot checkout, found from the running file (compiled code
// lives in dist*/, sources beside it), so fixtures resolve the same from any
// output directory.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'rules'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`pcibot: cannot find the project root above ${start}`);
    dir = up;
  }
}

export const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
export const fixturesDir = join(repoRoot, 'fixtures');
