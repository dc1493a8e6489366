// Test helpers: build a fixture tree in a private temp dir, and produce real
// git diffs (in a scratch repository, never the tree under test) from before
// and after contents.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FileChange {
  path: string;
  /** Content before the change (null/absent: the file is new). */
  before?: string | Buffer | null;
  /** Content after the change (null: the file is deleted). */
  after?: string | Buffer | null;
  /** Make the file executable after the change. */
  executableAfter?: boolean;
}

function git(cwd: string, args: string[]): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return execFileSync('git', args, { cwd, env: { ...env, LC_ALL: 'C' }, encoding: 'utf8' });
}

function writeTree(
  root: string,
  files: { path: string; content: string | Buffer; exec?: boolean }[],
): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const f of files) {
    const p = join(root, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
    chmodSync(p, f.exec ? 0o755 : 0o644);
  }
}

/**
 * The `git diff` (as git format-patch writes it: a/ b/ prefixes, index lines
 * with real blob ids, renames detected, binary patches) from the before state
 * to the after state of the given files.
 */
export function makeDiff(changes: FileChange[]): string {
  const scratch = mkdtempSync(join(tmpdir(), 'pcibot-test-diff-'));
  try {
    const work = join(scratch, 'w');
    mkdirSync(work);
    git(work, ['init', '-q']);
    const before = changes
      .filter((c) => c.before != null)
      .map((c) => ({ path: c.path, content: c.before! }));
    writeTree(join(work, 'files'), before);
    git(work, ['add', '-A']);
    const baseTree = git(work, ['write-tree']).trim();
    const after = changes
      .filter((c) => c.after != null)
      .map((c) => ({ path: c.path, content: c.after!, exec: c.executableAfter }));
    writeTree(join(work, 'files'), after);
    git(work, ['add', '-A']);
    const diff = git(work, [
      'diff-index',
      '--cached',
      '-p',
      '-M',
      '--binary',
      '--relative=files/',
      baseTree,
    ]);
    return diff;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A private temp directory removed by the returned cleanup. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Replace the first occurrence of `from` in `text`, failing loudly when it is not there. */
export function edit(text: string, from: string, to: string): string {
  const i = text.indexOf(from);
  if (i < 0) throw new Error(`edit: ${JSON.stringify(from.slice(0, 60))} not found`);
  return text.slice(0, i) + to + text.slice(i + from.length);
}

export { git as runGitSync };

const IDENTITY = {
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@localhost',
  GIT_AUTHOR_DATE: '2001-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@localhost',
  GIT_COMMITTER_DATE: '2001-01-01T00:00:00Z',
};

/**
 * Make a commit on top of `parent` in a scratch repository (a fixture tree
 * the test owns) without touching its work tree or index, and point
 * refs/heads/<branch> at it. `files` maps paths to new content (null = delete).
 */
export function commitOnBranch(
  repo: string,
  parent: string,
  branch: string,
  files: Record<string, string | null>,
  message = 'test commit',
): string {
  const scratch = mkdtempSync(join(tmpdir(), 'pcibot-test-commit-'));
  try {
    const env: NodeJS.ProcessEnv = { LC_ALL: 'C', PATH: process.env.PATH, HOME: process.env.HOME };
    Object.assign(env, IDENTITY, { GIT_INDEX_FILE: join(scratch, 'index') });
    const run = (args: string[], input?: string) =>
      execFileSync('git', args, { cwd: repo, env, encoding: 'utf8', input }).trim();
    run(['read-tree', parent]);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) {
        run(['update-index', '--force-remove', '--', path]);
        continue;
      }
      const oid = run(['hash-object', '-w', '--stdin'], content);
      run(['update-index', '--add', '--cacheinfo', `100644,${oid},${path}`]);
    }
    const tree = run(['write-tree']);
    const commit = run(['commit-tree', '--no-gpg-sign', '-p', parent, '-m', message, tree]);
    run(['update-ref', `refs/heads/${branch}`, commit]);
    return commit;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The lines of a parsed diff that are not where it numbers them: added and
 * context lines in `after` (new side), removed and context lines in `before`
 * (old side). Empty when the diff numbers lines as the trees do (a landed diff).
 */
export function misplacedLines(
  file: {
    chunks: {
      changes: (
        | { type: 'add' | 'del'; ln: number; content: string }
        | { type: 'normal'; ln1: number; ln2: number; content: string }
      )[];
    }[];
  },
  before: string | null,
  after: string | null,
): string[] {
  const b = before?.split('\n') ?? [];
  const a = after?.split('\n') ?? [];
  const out: string[] = [];
  for (const c of file.chunks)
    for (const ch of c.changes) {
      const text = ch.content.slice(1);
      if (ch.type === 'add' && a[ch.ln - 1] !== text) out.push(`+${ch.ln} ${JSON.stringify(text)}`);
      if (ch.type === 'del' && b[ch.ln - 1] !== text) out.push(`-${ch.ln} ${JSON.stringify(text)}`);
      if (ch.type === 'normal' && (b[ch.ln1 - 1] !== text || a[ch.ln2 - 1] !== text))
        out.push(` ${ch.ln1}/${ch.ln2} ${JSON.stringify(text)}`);
    }
  return out;
}
