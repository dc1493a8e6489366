// Checks of what the service depends on, run at start (so a worker fails at
// once with a clear error instead of failing every job) and by /healthz: the
// kernel tree (a git repository with a HEAD commit and the configured
// branches) and each followed mirror (answers over HTTP, or is an inbox
// directory).
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

async function git(tree: string, args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['-C', tree, ...args], {
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
    timeout: 30_000,
  });
  return stdout.trim();
}

/** null when the tree is usable, else what is wrong with it. */
export async function treeProblem(tree: {
  path: string | null;
  branches: string[];
}): Promise<string | null> {
  if (!tree.path)
    return 'no kernel tree configured (tree.path or PCIBOT_TREE): series cannot be applied';
  if (!existsSync(tree.path)) return `the kernel tree ${tree.path} does not exist`;
  if (!statSync(tree.path).isDirectory()) return `the kernel tree ${tree.path} is not a directory`;
  try {
    await git(tree.path, ['rev-parse', '--git-dir']);
  } catch {
    return `the kernel tree ${tree.path} is not a git repository`;
  }
  try {
    await git(tree.path, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']);
  } catch {
    return `the kernel tree ${tree.path} has no commit at HEAD`;
  }
  const missing: string[] = [];
  for (const b of tree.branches) {
    try {
      await git(tree.path, ['rev-parse', '--verify', '--quiet', `${b}^{commit}`]);
    } catch {
      missing.push(b);
    }
  }
  if (missing.length)
    return `the kernel tree ${tree.path} has no branch ${missing.join(', ')} (tree.branches)`;
  try {
    // The files the policy reader and the rules read must be there as objects.
    await git(tree.path, ['cat-file', '-e', 'HEAD:drivers/pci']);
  } catch {
    return `the kernel tree ${tree.path} has no drivers/pci at HEAD: not a kernel tree`;
  }
  return null;
}

/** null when the mirror answers (or is an inbox directory), else what is wrong. */
export async function mirrorProblem(mirror: string, timeoutMs = 10_000): Promise<string | null> {
  if (/^https?:\/\//.test(mirror)) {
    const url = `${mirror.replace(/\/+$/, '')}/manifest.js.gz`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.ok ? null : `${url} answered HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return `${url} is unreachable: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
    }
  }
  if (!existsSync(join(mirror, 'git')))
    return `${mirror} is not a public-inbox v2 inbox (no git/ directory)`;
  return null;
}

/** treeProblem, remembered for a minute per tree (for /healthz, which may be polled often). */
export function cachedTreeCheck(ttlMs = 60_000) {
  const cache = new Map<string, { at: number; result: Promise<string | null> }>();
  return (tree: { path: string | null; branches: string[] }): Promise<string | null> => {
    const key = JSON.stringify([tree.path, tree.branches]);
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at <= ttlMs) return hit.result;
    const result = treeProblem(tree);
    cache.set(key, { at: Date.now(), result });
    return result;
  };
}
