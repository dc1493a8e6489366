// A scratch git repository for applying patches, so that nothing is ever
// written to the tree's repository: not the attacker-chosen blobs `git apply`
// makes, and not the mtimes of objects it already has (git "freshens" an
// existing object instead of writing it again, and it would do that through an
// alternate too, so the tree is not an alternate of the scratch repository).
//
// The scratch repository is a bare git directory made by hand inside the
// caller's temporary directory (`pcibot-apply-<pid>-*`, removed by
// applySeries' finally, or by sweepStaleTempDirs when the process was killed).
// It holds copies of exactly the blobs git needs from the tree (the base
// contents of the paths a series touches, the preimages a 3-way merge names),
// written as loose objects by this module; git runs there with its own
// configuration only (no user or system config: no merge drivers, filters or
// hooks an attacker's .gitattributes could name).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, constants as zlibConstants } from 'node:zlib';
import { GitRepo } from './git.js';

export type ObjectFormat = 'sha1' | 'sha256';

/** Environment for git in a scratch repository: its GIT_DIR, no global or system config. */
export function scratchEnv(gitDir: string): Record<string, string> {
  return {
    GIT_DIR: gitDir,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    // Error messages name paths as they are (control characters still quoted).
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'core.quotePath',
    GIT_CONFIG_VALUE_0: 'false',
    // Objects here live for one applySeries: fast zlib, not small files.
    GIT_CONFIG_KEY_1: 'core.looseCompression',
    GIT_CONFIG_VALUE_1: '1',
  };
}

export interface ScratchRepo {
  gitDir: string;
  format: ObjectFormat;
  /** Runs git here (GitRepo.run) and reads objects (one cat-file child; close() when done). */
  repo: GitRepo;
  /** Blob ids copied in from the tree (so: also in the tree's repository). */
  copied: Set<string>;
  /** Write a blob the caller read from the tree (its id is trusted, not recomputed). */
  copyBlob(oid: string, data: Buffer): Promise<void>;
}

/** Create the scratch repository `<dir>/git` (bare, empty, the tree's object format). */
export async function createScratchRepo(dir: string, format: ObjectFormat): Promise<ScratchRepo> {
  const gitDir = join(dir, 'git');
  await mkdir(join(gitDir, 'objects'), { recursive: true });
  await mkdir(join(gitDir, 'refs'), { recursive: true });
  await writeFile(join(gitDir, 'HEAD'), 'ref: refs/heads/scratch\n');
  await writeFile(
    join(gitDir, 'config'),
    format === 'sha1'
      ? '[core]\n\trepositoryformatversion = 0\n\tbare = true\n'
      : '[core]\n\trepositoryformatversion = 1\n\tbare = true\n[extensions]\n\tobjectformat = sha256\n',
  );
  const repo = new GitRepo(gitDir, { env: scratchEnv(gitDir) });
  const copied = new Set<string>();
  const dirs = new Set<string>();
  return {
    gitDir,
    format,
    repo,
    copied,
    async copyBlob(oid: string, data: Buffer): Promise<void> {
      if (copied.has(oid)) return;
      copied.add(oid);
      const sub = join(gitDir, 'objects', oid.slice(0, 2));
      if (!dirs.has(sub)) {
        await mkdir(sub, { recursive: true });
        dirs.add(sub);
      }
      // Stored, not compressed: these copies live for one applySeries, and
      // deflating the base files was a tenth of a review's own time.
      const body = deflateSync(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]), {
        level: zlibConstants.Z_NO_COMPRESSION,
      });
      await writeFile(join(sub, oid.slice(2)), body, { flag: 'wx' }).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      });
    },
  };
}
