// Where the kernel tree comes from: `--tree auto` (or nothing) prepares the real
// 6.12 tree with scripts/kernel-tree.sh (cached after the first run); anything
// else must be a git repository, used as is and never modified.
import { spawn } from 'node:child_process';
import { realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { simpleGit } from 'simple-git';
import { repoRoot } from '../util/paths.js';

export interface KernelTree {
  path: string;
  commit: string;
}

/** Run scripts/kernel-tree.sh and return the tree it prints. Progress lines go to `log`. */
export function prepareKernelTree(
  opts: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<KernelTree> {
  const script = join(repoRoot, 'scripts', 'kernel-tree.sh');
  const env = { ...process.env };
  if (opts.cacheDir) env.PCIBOT_CACHE = resolve(opts.cacheDir);
  return new Promise((resolveP, reject) => {
    const child = spawn('bash', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => {
      const text = partial + b.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        errTail = (errTail + line + '\n').slice(-2000);
        opts.log?.(line);
      }
    });
    child.on('error', (e) => reject(new Error(`kernel-tree: cannot run ${script}: ${e.message}`)));
    child.on('close', (code) => {
      if (partial) {
        errTail += partial;
        opts.log?.(partial);
      }
      const m = /^(\S.*) ([0-9a-f]{40,64})\s*$/m.exec(out);
      if (code !== 0 || !m) {
        reject(
          new Error(
            `kernel-tree: ${script} failed (exit ${code}): ${errTail.trim() || out.trim()}`,
          ),
        );
        return;
      }
      resolveP({ path: m[1]!, commit: m[2]! });
    });
  });
}

/**
 * The tree to review against. `spec` is `--tree`: 'auto' (or unset with
 * PCIBOT_TREE unset) prepares the kernel tree; otherwise (or PCIBOT_TREE) a
 * path that must be a git repository; the top of its work tree (or the bare
 * repository) is returned.
 */
export async function resolveTree(
  spec: string | undefined,
  env: Record<string, string | undefined> = process.env,
  opts: { log?: (line: string) => void } = {},
): Promise<string> {
  const wanted = spec ?? env.PCIBOT_TREE;
  if (wanted === undefined || wanted === '' || wanted === 'auto') {
    return (await prepareKernelTree({ cacheDir: env.PCIBOT_CACHE, log: opts.log })).path;
  }
  const path = resolve(wanted);
  const st = await stat(path).catch(() => null);
  if (!st) throw new Error(`tree ${wanted}: no such directory`);
  if (!st.isDirectory()) throw new Error(`tree ${wanted}: not a directory`);
  const git = simpleGit({ baseDir: path });
  const notRepo = (e: Error): never => {
    throw new Error(`tree ${wanted}: not a git repository (${e.message.trim().split('\n')[0]})`);
  };
  const bare = (await git.raw(['rev-parse', '--is-bare-repository']).catch(notRepo)).trim();
  const real = await realpath(path);
  let top = real;
  if (bare !== 'true') {
    top = (await git.raw(['rev-parse', '--show-toplevel']).catch(notRepo)).trim();
    if (top !== real) {
      throw new Error(`tree ${wanted}: is inside the git repository ${top}, not the top of one`);
    }
  }
  const head = await git.raw(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']).catch(() => '');
  if (!head.trim()) throw new Error(`tree ${wanted}: the repository has no commit at HEAD`);
  return top;
}

/**
 * The kernel version a tree declares in its top-level Makefile at `rev` (e.g.
 * "6.12.118"), read from git objects; null when the Makefile has no version.
 * Debian's linux-source-6.12 follows the stable point releases, so this is how
 * tests and reports say which one a tree (and a kernel built from it) is.
 */
export async function treeKernelVersion(tree: string, rev = 'HEAD'): Promise<string | null> {
  const makefile = await simpleGit({ baseDir: tree })
    .raw(['cat-file', 'blob', `${rev}:Makefile`])
    .catch(() => '');
  const field = (name: string) =>
    new RegExp(`^${name}\\s*=\\s*(\\d+)\\s*$`, 'm').exec(makefile)?.[1];
  const [v, p, s] = [field('VERSION'), field('PATCHLEVEL'), field('SUBLEVEL')];
  if (v === undefined || p === undefined) return null;
  return s === undefined || s === '0' ? `${v}.${p}` : `${v}.${p}.${s}`;
}
