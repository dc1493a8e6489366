// Read one state of the kernel tree straight from git objects: a commit, plus
// an overlay of changed paths (blob ids, null = deleted). No checkout, no index:
// rules and the policy reader see the patched tree without anything being
// written to disk. The blobs applying made are not in the tree's repository:
// they come from the Applied state they belong to (bot/tree/objects.ts; a
// process that got the Applied state as JSON calls adoptApplied() first).
import type { TreeOverlay } from '../types.js';
import { checkDiffPath } from '../mail/diffpaths.js';
import { gitRepo, type GitRepo } from './git.js';
import { overlayBlob } from './objects.js';

/**
 * Read-only access to one state of the kernel tree, straight from git objects.
 * What rules are given (rules/types.ts) and what the policy reader reads.
 */
export interface TreeReader {
  /** The commit the state is based on (the patched state overlays changes on it). */
  readonly commit: string;
  /** File contents, or null when the path does not exist in this state. */
  read(path: string): Promise<string | null>;
  /** Whether the path exists (file) in this state. */
  exists(path: string): Promise<boolean>;
  /** Paths of the files directly inside a directory (no recursion), sorted. */
  list(dir: string): Promise<string[]>;
}

/** TreeReader plus the directory listing the policy reader needs (e.g. the arches under arch/). */
export interface GitTreeReader extends TreeReader {
  /** Names of the subdirectories directly inside `dir`, sorted (as paths from the top). */
  dirs(dir: string): Promise<string[]>;
  /** The blob id at `path` in this state, or null. */
  oid(path: string): Promise<string | null>;
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** '' for the top; otherwise a checked path without trailing slashes. */
function normaliseDir(dir: string): string {
  const d = dir.replace(/^\.\/?/, '').replace(/\/+$/, '');
  if (d === '') return '';
  const why = checkDiffPath(d);
  if (why) throw new Error(`tree: bad directory ${JSON.stringify(dir)}: ${why}`);
  return d;
}

/** Paths from callers may come from diffs: check them like diff paths. Bad ones name nothing. */
function cleanPath(path: string): string | null {
  return checkDiffPath(path) ? null : path;
}

/**
 * A reader over `commit` (any name git resolves, but pass a full id for a
 * stable `commit` property) with `overlay` on top.
 */
/**
 * Blob text by oid, decoded once: every rule and the policy reader read the same
 * few big files (drivers/pci/pci.c is 180 KB) in every state of a series.
 * Bounded by total size; the oldest entries go first.
 */
const decoded = new Map<string, string>();
let decodedBytes = 0;
const DECODED_LIMIT = 32 << 20;

async function decodedBlob(
  repo: GitRepo,
  oid: string,
  overlay: TreeOverlay | undefined,
): Promise<string | null> {
  const hit = decoded.get(oid);
  if (hit !== undefined) return hit;
  const data = (overlay && overlayBlob(overlay, oid)) ?? (await repo.readBlob(oid));
  if (data === null) return null;
  const text = data.toString('utf8');
  decoded.set(oid, text);
  decodedBytes += text.length;
  for (const [k, v] of decoded) {
    if (decodedBytes <= DECODED_LIMIT) break;
    decoded.delete(k);
    decodedBytes -= v.length;
  }
  return text;
}

export function openTreeReader(
  repoPath: string,
  commit: string,
  overlay: TreeOverlay = {},
): GitTreeReader {
  const repo: GitRepo = gitRepo(repoPath);
  // path -> blob id (null: not a file) in the base commit, cached per reader.
  const baseOids = new Map<string, Promise<string | null>>();

  const baseOid = (path: string): Promise<string | null> => {
    let p = baseOids.get(path);
    if (!p) {
      p = repo.info(`${commit}:${path}`).then((i) => (i && i.type === 'blob' ? i.oid : null));
      baseOids.set(path, p);
    }
    return p;
  };

  const oid = async (path: string): Promise<string | null> => {
    const clean = cleanPath(path);
    if (clean === null) return null;
    if (Object.prototype.hasOwnProperty.call(overlay, clean)) return overlay[clean] ?? null;
    return baseOid(clean);
  };

  // Overlay paths grouped by directory, and the directories they create.
  const addedIn = new Map<string, Set<string>>();
  const deleted = new Set<string>();
  for (const [path, blob] of Object.entries(overlay)) {
    if (blob === null) {
      deleted.add(path);
      continue;
    }
    const d = dirname(path);
    if (!addedIn.has(d)) addedIn.set(d, new Set());
    addedIn.get(d)!.add(path);
  }

  const hasLiveFileUnder = async (dir: string): Promise<boolean> => {
    for (const [path, blob] of Object.entries(overlay)) {
      if (blob !== null && path.startsWith(`${dir}/`)) return true;
    }
    const r = await repo.run(['ls-tree', '-r', '-z', '--name-only', commit, '--', dir], {
      env: { GIT_LITERAL_PATHSPECS: '1' },
    });
    if (r.code !== 0) throw new Error(`tree: ls-tree ${dir}: ${r.stderr.trim()}`);
    return r.stdout
      .toString('utf8')
      .split('\0')
      .some((p) => p !== '' && !deleted.has(p));
  };

  return {
    commit,
    async read(path: string): Promise<string | null> {
      const id = await oid(path);
      if (id === null) return null;
      const text = await decodedBlob(repo, id, overlay);
      if (text === null && overlay[path] === id) {
        // A patched file whose blob this process does not hold: never read it as deleted.
        throw new Error(
          `tree: the patched ${path} (blob ${id}) is neither in ${repo.path} nor held by ` +
            'this process (adoptApplied() the Applied state before reading it)',
        );
      }
      return text;
    },
    async exists(path: string): Promise<boolean> {
      return (await oid(path)) !== null;
    },
    oid,
    async list(dir: string): Promise<string[]> {
      const d = normaliseDir(dir);
      const entries = (await repo.readTreeEntries(commit, d)) ?? [];
      const files = new Set<string>();
      for (const e of entries) if (e.type === 'blob' && !deleted.has(e.path)) files.add(e.path);
      for (const p of addedIn.get(d) ?? []) files.add(p);
      return [...files].sort();
    },
    async dirs(dir: string): Promise<string[]> {
      const d = normaliseDir(dir);
      const entries = (await repo.readTreeEntries(commit, d)) ?? [];
      const out = new Set<string>();
      for (const e of entries) if (e.type === 'tree') out.add(e.path);
      // Directories the overlay creates below `d`.
      const prefix = d ? `${d}/` : '';
      for (const [path, blob] of Object.entries(overlay)) {
        if (blob === null || !path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length);
        const slash = rest.indexOf('/');
        if (slash > 0) out.add(prefix + rest.slice(0, slash));
      }
      // Directories whose every file the overlay deletes are gone.
      if (deleted.size > 0) {
        for (const sub of [...out]) {
          const touched = [...deleted].some((p) => p.startsWith(`${sub}/`));
          if (touched && !(await hasLiveFileUnder(sub))) out.delete(sub);
        }
      }
      return [...out].sort();
    },
  };
}
