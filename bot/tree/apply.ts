// Apply a patch series to a kernel tree without writing anything to it: no work
// tree, no index, no refs, and no objects. Each series gets a temporary
// directory holding a scratch git repository (bot/tree/scratch.ts) and a
// temporary index with only the paths the series touches (their entries read
// from the base commit's tree objects, their blobs copied into the scratch
// repository; a full `read-tree` of the 86k-file kernel costs ~0.14 s and every
// `git apply` would then read and rewrite a 9 MB index). Each patch is applied
// to it with `git apply --cached -p<N>` in the scratch repository. The result
// is an overlay of blob ids over the base commit; the blobs applying made
// travel with the result (bot/tree/objects.ts), and the temporary directory is
// removed before applySeries returns (or swept by the next process when this
// one was killed).
//
// Per patch, on the state after the earlier patches that applied:
//   applied        git apply --cached
//   already-applied the reverse applies cleanly (checked before 3-way: a 3-way
//                  merge of a change that is already there "succeeds" without
//                  changing anything, which would hide the real answer)
//   applied-3way   git apply --3way, only when the preimage blobs named in the
//                  patch's index lines exist (in the tree or made by an earlier patch)
//   conflict       with file, hunk, line and what did not match
//   malformed      no diff, refused paths (never shown to git), unparsable diff,
//                  and what git made that pcibot does not accept (paths the diff
//                  does not name, submodules, symlinks leaving the tree, files
//                  over the size limits): the patch is undone and says why
//
// Nothing a patch holds makes applySeries throw: only a tree that is not a
// repository (or git failing on it) does.
import { mkdtemp, readdir, rm, readFile, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix, resolve as resolvePath } from 'node:path';
import type {
  Applied,
  HunkLanding,
  PatchApplyResult,
  PatchApplyStatus,
  TreeOverlay,
  Series,
} from '../types.js';
import { patchIndex } from '../types.js';
import { conflictsFrom, errorLines, malformedReason, withoutSearchBlocks } from './conflicts.js';
import type { DiffSection } from '../util/diff/sections.js';
import { gitRepo, type GitRepo } from './git.js';
import { landingsFromBlobDiff, landingsFromVerbose, parseUnifiedZero } from './landing.js';
import { bindOverlays, encodeObjects, type BlobStore } from './objects.js';
import { APPLY_LIMITS, preparePatch, type PreparedPatch } from './prepare.js';
import { createScratchRepo, type ScratchRepo } from './scratch.js';
import { findUpstream } from './upstream.js';

export { APPLY_LIMITS } from './prepare.js';

export interface SeriesPatchInput {
  index: number;
  messageId: string;
  diff: string | null;
  /** N of `[PATCH M/N]`, when the subject says it (patches 1..N not given are not in the input). */
  total?: number | null;
  /** The commit title (the subject without its tags): how a patch is found upstream by subject. */
  subject?: string | null;
}

export interface ApplySeriesInput {
  /** Path of the kernel git repository. */
  tree: string;
  patches: SeriesPatchInput[];
  /** `base-commit:` from the series, when it had one. */
  baseCommit?: string | null;
  /** Branches to try, in order, when there is no usable base-commit. */
  branches?: string[];
}

/** Whether a patch's change is in the patched state (applied directly or by a 3-way merge). */
export function isApplied(status: PatchApplyStatus): boolean {
  return status === 'applied' || status === 'applied-3way';
}

/** Whether any patch of an applied series changed the tree. */
export function anyApplied(applied: Applied | null): applied is Applied {
  return applied !== null && applied.patches.some((p) => isApplied(p.status));
}

/** The patches of an assembled series as applySeries takes them (index from the subject, else position). */
export function seriesPatches(series: Series): SeriesPatchInput[] {
  return series.patches.map((p, pos) => ({
    index: patchIndex(p, pos),
    messageId: p.messageId,
    diff: p.diff,
    total: p.tags.total,
    subject: p.tags.title,
  }));
}

/** Patch numbers as a series names them: "4/8", "1-3/8, 5/8". */
export function patchNumbers(ns: readonly number[], total: number): string {
  const sorted = [...new Set(ns)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(`${sorted[i]}${j > i ? `-${sorted[j]}` : ''}/${total}`);
    i = j;
  }
  return out.join(', ');
}

/** Two abbreviated blob ids that can name the same blob (the shorter one at least 7 digits). */
const sameBlob = (a: string, b: string): boolean =>
  Math.min(a.length, b.length) >= 7 && (a.startsWith(b) || b.startsWith(a));

/** Test hooks (not part of the JSON input): called at named points, may throw to force a failure. */
export interface ApplySeriesHooks {
  stage?: (
    name: 'index-ready' | 'patch-applied',
    detail: { tempDir: string },
  ) => void | Promise<void>;
}

interface IndexEntry {
  mode: string;
  oid: string;
}

type IndexState = { entries: Map<string, IndexEntry>; unmerged: string[] };

/**
 * Read the temporary index file directly (format versions 2 and 3, which is
 * what GIT_SAFE_CONFIG's index.version=2 makes git write): saves one git
 * process per patch. Returns null for anything unexpected; the caller then
 * asks `git ls-files`.
 */
export function parseIndexFile(data: Buffer, hashLen: number): IndexState | null {
  if (data.length < 12 || data.toString('latin1', 0, 4) !== 'DIRC') return null;
  const version = data.readUInt32BE(4);
  if (version !== 2 && version !== 3) return null;
  const count = data.readUInt32BE(8);
  const entries = new Map<string, IndexEntry>();
  const unmerged: string[] = [];
  let off = 12;
  for (let n = 0; n < count; n++) {
    const flagsAt = off + 40 + hashLen;
    if (flagsAt + 2 > data.length) return null;
    const mode = data.readUInt32BE(off + 24);
    const oid = data.toString('hex', off + 40, off + 40 + hashLen);
    const flags = data.readUInt16BE(flagsAt);
    const extended = (flags & 0x4000) !== 0;
    if (extended && version < 3) return null;
    const nameAt = flagsAt + 2 + (extended ? 2 : 0);
    const nul = data.indexOf(0, nameAt);
    if (nul < 0) return null;
    const path = data.toString('utf8', nameAt, nul);
    const stage = (flags >> 12) & 3;
    if (stage !== 0) unmerged.push(path);
    else entries.set(path, { mode: mode.toString(8), oid });
    // Entries are NUL-padded to a multiple of 8 bytes (at least one NUL).
    const fixed = nameAt - off;
    off += (fixed + (nul - nameAt) + 8) & ~7;
  }
  return { entries, unmerged };
}

async function readIndex(
  repo: GitRepo,
  env: Record<string, string>,
  hashLen: number,
): Promise<IndexState> {
  const file = env.GIT_INDEX_FILE;
  if (file) {
    const data = await readFile(file).catch(() => null);
    if (data === null) return { entries: new Map(), unmerged: [] };
    const parsed = parseIndexFile(data, hashLen);
    if (parsed) return parsed;
  }
  const r = await repo.run(['ls-files', '-s', '-z'], { env });
  if (r.code !== 0)
    throw new Error(`git ls-files on the temporary index failed: ${r.stderr.trim()}`);
  const entries = new Map<string, IndexEntry>();
  const unmerged: string[] = [];
  for (const rec of r.stdout.toString('utf8').split('\0')) {
    if (!rec) continue;
    const m = /^(\d+) ([0-9a-f]+) (\d)\t(.*)$/s.exec(rec);
    if (!m) continue;
    if (m[3] !== '0') {
      unmerged.push(m[4]!);
      continue;
    }
    entries.set(m[4]!, { mode: m[1]!, oid: m[2]! });
  }
  return { entries, unmerged };
}

async function resolveBase(
  repo: GitRepo,
  baseCommit: string | null | undefined,
  branches: string[],
): Promise<Applied['base']> {
  const notes: string[] = [];
  if (baseCommit) {
    const wanted = baseCommit.trim();
    if (!/^[0-9a-f]{7,64}$/i.test(wanted)) {
      notes.push(`base-commit ${JSON.stringify(wanted.slice(0, 80))} is not a commit id`);
    } else {
      const oid = await repo.revParse(`${wanted}^{commit}`);
      if (oid) return { commit: oid, how: 'base-commit' };
      notes.push(`base-commit ${wanted.slice(0, 12)} is not in the tree`);
    }
  }
  const missing: string[] = [];
  for (const ref of branches) {
    if (!ref || /[\s\0]/.test(ref) || ref.startsWith('-')) {
      missing.push(JSON.stringify(ref));
      continue;
    }
    const oid = await repo.revParse(`${ref}^{commit}`);
    if (oid) {
      if (missing.length) notes.push(`branch ${missing.join(', ')} not in the tree`);
      const note = notes.length ? `${notes.join('; ')}; used ${ref}` : undefined;
      return note ? { commit: oid, how: 'branch', ref, note } : { commit: oid, how: 'branch', ref };
    }
    missing.push(ref);
  }
  if (missing.length) notes.push(`branch ${missing.join(', ')} not in the tree`);
  const head = await repo.revParse('HEAD^{commit}');
  if (!head) throw new Error(`${repo.path}: HEAD does not name a commit (empty repository?)`);
  return notes.length
    ? { commit: head, how: 'head', note: `${notes.join('; ')}; used HEAD` }
    : { commit: head, how: 'head' };
}

function overlayOf(base: Map<string, IndexEntry>, current: Map<string, IndexEntry>): TreeOverlay {
  const overlay: TreeOverlay = {};
  for (const [path, e] of current) {
    const b = base.get(path);
    if (!b || b.oid !== e.oid || b.mode !== e.mode) overlay[path] = e.oid;
  }
  for (const path of base.keys()) if (!current.has(path)) overlay[path] = null;
  return Object.fromEntries(
    Object.entries(overlay).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

const dirnameOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};

/**
 * The base entries of `paths` and of their parent directories (a file or a
 * symlink there matters to git: "beyond a symbolic link", D/F clashes), read
 * from the commit's tree objects through the tree's cat-file child (no paths on
 * any command line). Returns the entries and the paths that are directories.
 */
export async function baseEntries(
  repo: GitRepo,
  commit: string,
  paths: Iterable<string>,
): Promise<{ entries: Map<string, IndexEntry>; dirs: Set<string> }> {
  const entries = new Map<string, IndexEntry>();
  const dirs = new Set<string>();
  const wanted = new Set<string>();
  const listDirs = new Set<string>();
  for (const p of paths) {
    let cur = p;
    while (cur && !wanted.has(cur)) {
      wanted.add(cur);
      cur = dirnameOf(cur);
      listDirs.add(cur);
    }
  }
  if (wanted.size === 0) return { entries, dirs };
  // Top-down, one depth at a time: list a directory only when it exists.
  const byDepth = new Map<number, string[]>();
  for (const d of listDirs) {
    const depth = d === '' ? 0 : d.split('/').length;
    if (!byDepth.has(depth)) byDepth.set(depth, []);
    byDepth.get(depth)!.push(d);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    const level = byDepth.get(depth)!.filter((d) => d === '' || dirs.has(d));
    const listings = await Promise.all(level.map((d) => repo.readTreeEntries(commit, d)));
    for (const listing of listings) {
      for (const e of listing ?? []) {
        if (!wanted.has(e.path)) continue;
        if (e.type === 'tree') dirs.add(e.path);
        else entries.set(e.path, { mode: e.mode, oid: e.oid });
      }
    }
  }
  return { entries, dirs };
}

/** Copy the blobs of `entries` from the tree into the scratch repository. */
export async function copyBlobs(
  repo: GitRepo,
  scratch: ScratchRepo,
  entries: Map<string, IndexEntry>,
): Promise<void> {
  const copies: Promise<void>[] = [];
  for (const [path, e] of entries) {
    if (e.mode === '160000') continue; // a submodule commit: no object to copy
    copies.push(
      repo.readBlob(e.oid).then((data) => {
        if (data === null) throw new Error(`blob ${e.oid} of ${path} is missing from ${repo.path}`);
        return scratch.copyBlob(e.oid, data);
      }),
    );
  }
  await Promise.all(copies);
}

/** Fill the temporary index with the base entries of `paths` (see baseEntries), blobs copied. */
export async function seedIndex(
  repo: GitRepo,
  scratch: ScratchRepo,
  commit: string,
  paths: Iterable<string>,
  env: Record<string, string>,
): Promise<{ entries: Map<string, IndexEntry>; dirs: Set<string> }> {
  const base = await baseEntries(repo, commit, paths);
  await copyBlobs(repo, scratch, base.entries);
  const records: string[] = [];
  for (const [path, e] of base.entries) records.push(`${e.mode} ${e.oid}\t${path}\0`);
  if (records.length) {
    const up = await scratch.repo.run(['update-index', '-z', '--index-info'], {
      env,
      input: records.join(''),
    });
    if (up.code !== 0)
      throw new Error(`git update-index on the temporary index failed: ${up.stderr.trim()}`);
  }
  return base;
}

async function snapshot(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}

async function restore(file: string, saved: Buffer | null): Promise<void> {
  if (saved) await writeFile(file, saved);
  else await unlink(file).catch(() => {});
}

/** How every patch is applied into the temporary index (and the bench's floor). */
export const APPLY = ['apply', '--cached', '--whitespace=nowarn'];

/**
 * `index` lines name the preimage blobs; 3-way needs every one of them. They
 * may be in the scratch repository (made by an earlier patch of the series) or
 * in the tree (then they are copied over).
 */
async function threeWayBlocker(
  repo: GitRepo,
  scratch: ScratchRepo,
  sections: DiffSection[],
): Promise<string | null> {
  const wanted = new Map<string, string>(); // abbreviated preimage id -> a file it is for
  for (const s of sections) {
    const file = s.oldPath ?? s.newPath ?? '?';
    if (s.hunks.length === 0) continue;
    if (!s.hasIndexLine) return `${file} has no index line`;
    if (s.oldOid === null) continue;
    if (!/^[0-9a-f]{4,64}$/.test(s.oldOid))
      return `${file}: ${JSON.stringify(s.oldOid)} is not a blob id`;
    if (!wanted.has(s.oldOid)) wanted.set(s.oldOid, file);
  }
  // All requests at once (pipelined through the cat-file children), not one round trip each.
  const ids = [...wanted.keys()];
  const here = await Promise.all(ids.map((id) => scratch.repo.info(id)));
  const missing = ids.filter((_, i) => here[i]?.type !== 'blob');
  const there = await Promise.all(missing.map((id) => repo.info(id)));
  for (const [i, id] of missing.entries()) {
    const info = there[i];
    const data = info?.type === 'blob' ? await repo.readBlob(info.oid) : null;
    if (!info || data === null)
      return `blob ${id} (${wanted.get(id)} before the patch) is not in the tree`;
    await scratch.copyBlob(info.oid, data);
  }
  return null;
}

/**
 * Where the hunks landed, from the diff of each file before and after the patch
 * (a 3-way merge says nothing about where it put them).
 */
async function landingsFromBlobs(
  repo: GitRepo,
  sections: DiffSection[],
  before: Map<string, IndexEntry>,
  after: Map<string, IndexEntry>,
): Promise<HunkLanding[]> {
  const out: HunkLanding[] = [];
  for (const s of sections) {
    if (!s.hunks.length || s.oldPath === null || s.newPath === null) continue;
    const a = before.get(s.oldPath)?.oid;
    const b = after.get(s.newPath)?.oid;
    if (!a || !b || a === b) continue;
    const r = await repo.run(['diff', '--no-color', '--no-ext-diff', '--no-textconv', '-U0', a, b]);
    if (r.code !== 0) continue;
    out.push(...landingsFromBlobDiff(s, parseUnifiedZero(r.stdout.toString('utf8'))));
  }
  return out;
}

/** A symlink target that leaves the tree (absolute, or climbing above the top), or null. */
function escapingTarget(path: string, target: string): string | null {
  if (target === '' || /[\0-\x1f\x7f]/.test(target)) return 'an empty or control-character target';
  if (target.startsWith('/')) return `the absolute target ${JSON.stringify(target)}`;
  const resolved = posix.normalize(posix.join(dirnameOf(path) || '.', target));
  if (resolved === '..' || resolved.startsWith('../'))
    return `the target ${JSON.stringify(target)}, outside the tree`;
  if (resolved.split('/').some((c) => c.toLowerCase() === '.git'))
    return `the target ${JSON.stringify(target)}, inside .git`;
  return null;
}

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

let swept = false;

/**
 * A process killed mid-apply (a worker SIGKILLed, OOM) cannot run its finally:
 * its temporary directory (index and scratch object store) stays behind. Temp
 * dirs carry the owner's pid; once per process, remove those whose owner is gone.
 */
export async function sweepStaleTempDirs(opts: { again?: boolean } = {}): Promise<void> {
  if (swept && !opts.again) return;
  swept = true;
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^pcibot-(?:apply|floor)-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH')
        await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

/** The object format of a repository, from the length of a commit id. */
export const objectFormat = (commit: string) => (commit.length === 64 ? 'sha256' : 'sha1');

/** Apply a series patch by patch on a temporary index; see the header comment for the statuses. */
export async function applySeries(
  input: ApplySeriesInput,
  hooks: ApplySeriesHooks = {},
): Promise<Applied> {
  const tree = resolvePath(input.tree);
  const repo = gitRepo(tree);
  await repo.gitDir();
  const base = await resolveBase(repo, input.baseCommit, input.branches ?? []);
  const patches = [...input.patches].sort((a, b) => a.index - b.index);

  // Check every patch before git sees any of it.
  const prepared: { p: SeriesPatchInput; x: PreparedPatch }[] = [];
  for (const p of patches) prepared.push({ p, x: await preparePatch(p.diff, repo, base.commit) });

  const results: PatchApplyResult[] = [];
  const overlays: TreeOverlay[] = [];
  let overlay: TreeOverlay = {};
  let finalEntries = new Map<string, IndexEntry>();
  const store: BlobStore = new Map();
  await sweepStaleTempDirs();
  const tempDir = await mkdtemp(join(tmpdir(), `pcibot-apply-${process.pid}-`));
  let scratch: ScratchRepo | null = null;
  try {
    scratch = await createScratchRepo(tempDir, objectFormat(base.commit));
    const sr = scratch;
    const indexFile = join(tempDir, 'index');
    const env = { GIT_INDEX_FILE: indexFile };
    const hashLen = base.commit.length / 2;
    const allPaths = new Set(prepared.filter(({ x }) => !x.malformed).flatMap(({ x }) => x.files));
    const seeded = await seedIndex(repo, sr, base.commit, allPaths, env);
    let current = new Map(seeded.entries);
    await hooks.stage?.('index-ready', { tempDir });
    // The configured branches that exist, for finding a patch upstream by its history.
    let refs: string[] | null = null;
    const upstreamRefs = async (): Promise<string[]> => {
      if (refs) return refs;
      const found: string[] = [];
      for (const b of input.branches ?? []) {
        if (!b || /[\s\0]/.test(b) || b.startsWith('-')) continue;
        const oid = await repo.revParse(`${b}^{commit}`);
        if (oid) found.push(oid);
      }
      return (refs = found);
    };
    // Patches that did not apply, with what each would have made of its files
    // (path -> postimage blob of its index lines), and the numbers 1..N the input lacks.
    const failed: { index: number; made: Map<string, string>; files: Set<string> }[] = [];
    const total = Math.max(0, ...patches.map((p) => Math.max(p.total ?? 0, p.index)));
    const present = new Set(patches.map((p) => p.index));
    const absent = patches.some((p) => p.total)
      ? Array.from({ length: total }, (_, i) => i + 1).filter((n) => !present.has(n))
      : [];
    // Blobs applying made (not copied from the tree), with their sizes.
    const made = new Map<string, number>();
    let madeBytes = 0;

    for (const { p, x } of prepared) {
      const { text, files } = x;
      const fileSet = new Set(files);
      const result: PatchApplyResult = {
        index: p.index,
        messageId: p.messageId,
        status: 'malformed',
        files,
      };
      const finish = (r: PatchApplyResult) => {
        const context = withoutNote(r);
        const parts = r.status === 'conflict' ? [r.detail, context] : [context, r.detail];
        const detail = [...parts, ...x.notes].filter(Boolean).join('; ');
        if (detail) r.detail = detail;
        results.push(r);
        overlays.push(overlay);
        if (r.status === 'conflict' || r.status === 'malformed') {
          const madeOf = new Map<string, string>();
          for (const s of x.sections)
            if (s.newPath !== null && s.newOid !== null) madeOf.set(s.newPath, s.newOid);
          failed.push({ index: p.index, made: madeOf, files: fileSet });
        }
      };
      /**
       * What this patch was applied (or tried) without: the earlier patches that
       * did not apply and those the input lacks; and the failed ones it was likely
       * written on (its preimage blob is what that patch makes of the file).
       */
      const withoutNote = (r: PatchApplyResult): string | null => {
        if (r.status !== 'applied' && r.status !== 'applied-3way' && r.status !== 'conflict')
          return null;
        const lacking = absent.filter((n) => n < p.index);
        if (!failed.length && !lacking.length) return null;
        r.without = [...failed.map((f) => f.index), ...lacking].sort((a, b) => a - b);
        const which: string[] = [];
        if (failed.length)
          which.push(
            `${patchNumbers(
              failed.map((f) => f.index),
              total,
            )}, which did not apply`,
          );
        if (lacking.length) which.push(`${patchNumbers(lacking, total)} (not in the input)`);
        const notes = [
          `${r.status === 'conflict' ? 'tried without' : 'without'} ${which.join(', and without ')}`,
        ];
        const builtOn: string[] = [];
        const shared: string[] = [];
        for (const f of failed) {
          const on = x.sections.find(
            (s) =>
              s.oldPath !== null &&
              s.oldOid !== null &&
              f.made.has(s.oldPath) &&
              sameBlob(s.oldOid, f.made.get(s.oldPath)!),
          );
          if (on) {
            builtOn.push(
              `likely built on ${patchNumbers([f.index], total)}: its ${on.oldPath} (index ${on.oldOid}) is what ${patchNumbers([f.index], total)} makes of that file`,
            );
            (r.builtOn ??= []).push(f.index);
          } else if (r.status === 'conflict') {
            const both = files.filter((file) => f.files.has(file));
            if (both.length)
              shared.push(
                `${patchNumbers([f.index], total)} changes ${both.slice(0, 3).join(', ')} too`,
              );
          }
        }
        return [...notes, ...builtOn, ...shared].join('; ');
      };
      if (x.malformed) {
        finish({ ...result, detail: x.malformed });
        continue;
      }
      // The temporary index holds only the series' paths, so git cannot see that a
      // path the patch writes as a file is a directory in the tree: check here.
      const clash = files.filter((f) => seeded.dirs.has(f));
      if (clash.length) {
        const conflicts = clash.map((file) => ({
          file,
          reason: 'the patch writes a file where the tree has a directory',
        }));
        finish({
          ...result,
          status: 'conflict',
          detail: conflicts.map((c) => `${c.file}: ${c.reason}`).join('; '),
          conflicts,
        });
        continue;
      }
      const apply = [...APPLY, `-p${x.strip}`];

      /** What git made that pcibot does not take (stray paths, modes, sizes, symlinks), or the new blob sizes. */
      const refusal = async (
        changed: TreeOverlay,
        entries: Map<string, IndexEntry>,
      ): Promise<{ why: string } | { sizes: Map<string, number> }> => {
        const stray = Object.keys(changed).filter((f) => !fileSet.has(f));
        if (stray.length) {
          const list = stray.slice(0, 5).map((f) => JSON.stringify(f));
          const more = stray.length > 5 ? ` and ${stray.length - 5} more` : '';
          return {
            why: `git changed paths the diff headers do not name (${list.join(', ')}${more})`,
          };
        }
        const sizes = new Map<string, number>();
        const fresh: { path: string; oid: string; mode: string }[] = [];
        for (const [path, oid] of Object.entries(changed)) {
          if (oid === null) continue;
          const mode = entries.get(path)!.mode;
          if (mode !== '100644' && mode !== '100755' && mode !== '120000')
            return {
              why: `${path}: mode ${mode} (pcibot accepts files, executables and symlinks)`,
            };
          if (sr.copied.has(oid) || made.has(oid)) continue;
          fresh.push({ path, oid, mode });
        }
        // One cat-file for all of them, not one request per file.
        const infos = await sr.repo.readMany(fresh.map((f) => f.oid));
        let total = madeBytes;
        for (const f of fresh) {
          const info = infos.get(f.oid)?.info;
          if (!info || info.type !== 'blob') return { why: `${f.path}: git made no blob ${f.oid}` };
          if (sizes.has(f.oid)) continue;
          if (info.size > APPLY_LIMITS.blobBytes)
            return {
              why: `${f.path}: the patched file has ${MiB(info.size)}, more than the ${MiB(APPLY_LIMITS.blobBytes)} pcibot accepts per file`,
            };
          total += info.size;
          if (total > APPLY_LIMITS.seriesBytes)
            return {
              why: `the series' patched files would hold more than the ${MiB(APPLY_LIMITS.seriesBytes)} of new content pcibot keeps per series`,
            };
          sizes.set(f.oid, info.size);
        }
        const links = fresh.filter((f) => f.mode === '120000');
        const targets = await Promise.all(links.map((f) => sr.repo.readBlob(f.oid)));
        for (const [i, f] of links.entries()) {
          const bad = escapingTarget(f.path, targets[i]?.toString('utf8') ?? '');
          if (bad) return { why: `${f.path}: a symlink with ${bad}` };
        }
        return { sizes };
      };

      /**
       * Take the index git left as this patch's state, or refuse it (undo, malformed).
       * False when a 3-way merge left conflicts (the caller undoes).
       */
      const accept = async (
        status: 'applied' | 'applied-3way',
        saved: Buffer | null,
        verbose: string | null,
      ): Promise<boolean> => {
        const { entries, unmerged } = await readIndex(sr.repo, env, hashLen);
        if (unmerged.length) return false;
        const changed = overlayOf(current, entries);
        const verdict = await refusal(changed, entries);
        if ('why' in verdict) {
          await restore(indexFile, saved);
          finish({ ...result, detail: `${verdict.why}; the patch was not kept` });
          return true;
        }
        for (const [oid, size] of verdict.sizes) {
          made.set(oid, size);
          madeBytes += size;
        }
        if (status === 'applied-3way' && Object.keys(changed).length === 0) {
          finish({
            ...result,
            status: 'already-applied',
            detail: 'a 3-way merge found the change already in the tree',
          });
        } else {
          // Where the hunks landed: git's verbose report, else the blobs before and after.
          const fromGit = verbose === null ? null : landingsFromVerbose(verbose, x.sections);
          const landed =
            fromGit ?? (await landingsFromBlobs(sr.repo, x.sections, current, entries));
          finish({ ...result, status, ...(landed.length ? { landed } : {}) });
        }
        current = entries;
        overlay = overlayOf(seeded.entries, entries);
        overlays[overlays.length - 1] = overlay;
        await hooks.stage?.('patch-applied', { tempDir });
        return true;
      };

      const saved = await snapshot(indexFile);
      const verbose = await sr.repo.run([...apply, '--verbose'], { env, input: text });
      if (verbose.code === 0) {
        if (await accept('applied', saved, verbose.stderr)) continue;
        await restore(indexFile, saved);
      }
      // What git said, without the preimages --verbose adds for failed hunks
      // ("while searching for:", the patch's own text among the error lines).
      const straight = { ...verbose, stderr: withoutSearchBlocks(verbose.stderr, x.sections) };
      const broken = malformedReason(straight.stderr, text);
      if (broken) {
        finish({ ...result, detail: `git apply cannot parse the patch: ${broken}` });
        continue;
      }
      const reverse = await sr.repo.run([...apply, '--check', '--reverse'], { env, input: text });
      if (reverse.code === 0) {
        finish({
          ...result,
          status: 'already-applied',
          detail: 'the reverse of the patch applies cleanly: the change is already in the tree',
        });
        continue;
      }
      const content = async (file: string): Promise<string | null> => {
        const e = current.get(file);
        if (!e) return null;
        const data = await sr.repo.readBlob(e.oid);
        return data ? data.toString('utf8') : null;
      };
      const conflicts = await conflictsFrom(straight.stderr, x.sections, files, content);
      // A 3-way merge needs the preimage blobs of the files that failed, not of the others.
      const failing = new Set(conflicts.map((c) => c.file));
      const failedSections = x.sections.filter(
        (s) => failing.has(s.oldPath ?? '') || failing.has(s.newPath ?? ''),
      );
      const blocker = await threeWayBlocker(
        repo,
        sr,
        failedSections.length ? failedSections : x.sections,
      );
      let threeWayNote: string;
      if (blocker === null) {
        const three = await sr.repo.run([...apply, '--3way'], { env, input: text });
        if (three.code === 0 && (await accept('applied-3way', saved, null))) continue;
        await restore(indexFile, saved);
        const unmerged = [...three.stderr.matchAll(/^U (.*)$/gm)].map((m) => m[1]);
        const why = errorLines(three.stderr).find(
          (l) => !/^patch failed|patch does not apply$/.test(l),
        );
        if (unmerged.length) threeWayNote = `3-way merge left conflicts in ${unmerged.join(', ')}`;
        else if (/Falling back to direct application/.test(three.stderr)) {
          threeWayNote =
            'no 3-way merge: git fell back to applying directly (the patch does not fit the blobs its index lines name)';
        } else threeWayNote = `3-way merge failed too${why ? ` (${why})` : ''}`;
      } else {
        threeWayNote = `no 3-way merge: ${blocker}`;
      }
      const shown = conflicts.slice(0, 20);
      const detailParts = [
        shown.map((c) => `${c.file}${c.line ? `:${c.line}` : ''}: ${c.reason}`).join('; ') +
          (conflicts.length > shown.length ? `; and ${conflicts.length - shown.length} more` : ''),
        threeWayNote,
      ];
      // Before calling it a conflict: is the change already upstream, as it was or reworked?
      const upstream = await findUpstream(
        {
          repo,
          base: base.commit,
          refs: await upstreamRefs(),
          read: async (path) => {
            if (seeded.entries.has(path) || allPaths.has(path) || seeded.dirs.has(path))
              return content(path);
            const oid = await repo.pathOid(base.commit, path);
            const data = oid ? await repo.readBlob(oid) : null;
            return data ? data.toString('utf8') : null;
          },
          changed: new Set(Object.keys(overlay)),
        },
        { text, sections: x.sections, subject: p.subject ?? null },
      ).catch(() => null);
      if (upstream && upstream.how !== 'partial') {
        const conflictText = detailParts.join('; ');
        finish({
          ...result,
          status: 'already-applied',
          detail: `${upstream.text}; the patch itself does not apply here (${conflictText})`,
          conflicts,
          upstream,
        });
        continue;
      }
      if (upstream) {
        detailParts.unshift(upstream.text);
        result.upstream = upstream;
      }
      finish({ ...result, status: 'conflict', detail: detailParts.join('; '), conflicts });
    }
    finalEntries = current;

    // The blobs the overlays name that the tree does not have: read them out of
    // the scratch repository before it goes.
    const named = new Set<string>();
    for (const o of [overlay, ...overlays])
      for (const oid of Object.values(o)) if (oid !== null && !sr.copied.has(oid)) named.add(oid);
    const inTree = await repo.readMany([...named]);
    const wanted = [...named].filter((oid) => inTree.get(oid)?.info.type !== 'blob');
    const blobs = await sr.repo.readMany(wanted, { contents: true });
    for (const oid of wanted) {
      const r = blobs.get(oid);
      if (!r || r.info.type !== 'blob' || r.data === null)
        throw new Error(`blob ${oid} vanished from the scratch repository`);
      store.set(oid, r.data);
    }
  } finally {
    scratch?.repo.close();
    await rm(tempDir, { recursive: true, force: true });
  }
  const modes: Record<string, string> = {};
  for (const [path, oid] of Object.entries(overlay))
    if (oid !== null) modes[path] = finalEntries.get(path)?.mode ?? '100644';
  const applied: Applied = { tree, base, patches: results, overlay, overlays, modes };
  if (store.size) {
    bindOverlays([overlay, ...overlays], store);
    // Encoded when first read (JSON for Redis, a copy): compressing is a
    // tenth of a one-process review, which never reads it.
    let encoded: Applied['objects'];
    Object.defineProperty(applied, 'objects', {
      enumerable: true,
      configurable: true,
      get: () => (encoded ??= encodeObjects(store)),
      set: (value: Applied['objects']) => {
        encoded = value;
      },
    });
  }
  return applied;
}
