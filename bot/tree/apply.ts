// Apply a patch series to a kernel tree without touching the user's checkout:
// no work tree, no index, no refs. Each series gets a temporary index holding
// only the paths the series touches (an `ls-tree` of those paths fed to
// `update-index --index-info`; a full `read-tree` of the 86k-file kernel costs
// ~0.14 s and every `git apply` would then read and rewrite a 9 MB index), and
// each patch is applied to it with `git apply --cached`. The blobs git writes
// land in the repository's object store (loose, unreferenced objects: the only
// thing this writes to the repository), so the result is an overlay of blob ids
// that openTreeReader can read.
//
// Per patch, on the state after the earlier patches that applied:
//   applied        git apply --cached
//   already-applied the reverse applies cleanly (checked before 3-way: a 3-way
//                  merge of a change that is already there "succeeds" without
//                  changing anything, which would hide the real answer)
//   applied-3way   git apply --3way, only when the preimage blobs named in the
//                  patch's index lines exist in the repository
//   conflict       with file, hunk, line and what did not match
//   malformed      no diff, refused paths (never shown to git), unparsable diff
import { mkdtemp, readdir, rm, readFile, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import type {
  Applied,
  ApplyConflict,
  PatchApplyResult,
  PatchApplyStatus,
  TreeOverlay,
  Series,
} from '../types.js';
import { patchIndex } from '../types.js';
import { touchedPaths } from '../mail/diffpaths.js';
import { gitRepo, type GitRepo } from './git.js';

export interface SeriesPatchInput {
  index: number;
  messageId: string;
  diff: string | null;
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

/** Test hooks (not part of the JSON input): called at named points, may throw to force a failure. */
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
  }));
}

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

interface Hunk {
  header: string;
  oldStart: number;
  oldLines: number;
  lines: string[];
}

interface Section {
  oldPath: string | null;
  newPath: string | null;
  /** Preimage blob id from the `index` line (abbreviated), null for new files or no index line. */
  oldOid: string | null;
  hasIndexLine: boolean;
  hunks: Hunk[];
}

/** Diff text split into per-file sections and hunks, enough to locate git's complaints. */
function parseSections(diff: string): Section[] {
  const sections: Section[] = [];
  const state: { cur: Section | null; hunk: Hunk | null } = { cur: null, hunk: null };
  let oldLeft = 0;
  let newLeft = 0;
  const strip = (p: string): string | null => {
    const name = p.replace(/\t.*$/, '').replace(/^"(.*)"$/, '$1');
    if (name === '/dev/null') return null;
    return name.replace(/^[ab]\//, '');
  };
  const open = (): Section => {
    const s: Section = {
      oldPath: null,
      newPath: null,
      oldOid: null,
      hasIndexLine: false,
      hunks: [],
    };
    sections.push(s);
    state.cur = s;
    state.hunk = null;
    return s;
  };
  for (const line of diff.split('\n')) {
    const hunk = state.hunk;
    if (hunk && (oldLeft > 0 || newLeft > 0)) {
      const c = line[0];
      if (line.startsWith('\\')) continue;
      if (c === ' ' || c === '-' || c === '+' || line === '') {
        hunk.lines.push(line);
        if (c !== '+') oldLeft--;
        if (c !== '-') newLeft--;
        continue;
      }
      oldLeft = newLeft = 0;
    }
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (h) {
      const s = state.cur ?? open();
      const next: Hunk = {
        header: line,
        oldStart: Number(h[1]),
        oldLines: h[2] === undefined ? 1 : Number(h[2]),
        lines: [],
      };
      s.hunks.push(next);
      state.hunk = next;
      oldLeft = next.oldLines;
      newLeft = h[4] === undefined ? 1 : Number(h[4]);
      continue;
    }
    if (line.startsWith('diff --git ')) {
      const s = open();
      const m = /^diff --git "?a\/(.*?)"? "?b\/(.*?)"?$/.exec(line);
      if (m) {
        s.oldPath = m[1]!;
        s.newPath = m[2]!;
      }
      continue;
    }
    const cur = state.cur;
    if (line.startsWith('--- ')) {
      // A "---" header outside a git section (or after its hunks) starts a plain unified diff.
      const s = cur && cur.hunks.length === 0 ? cur : open();
      s.oldPath = strip(line.slice(4));
      state.hunk = null;
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('+++ ')) {
      cur.newPath = strip(line.slice(4));
      continue;
    }
    const idx = /^index ([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (idx) {
      cur.hasIndexLine = true;
      cur.oldOid = /^0+$/.test(idx[1]!) ? null : idx[1]!;
      continue;
    }
    const rn = /^(rename|copy) (from|to) (.*)$/.exec(line);
    if (rn) {
      if (rn[2] === 'from') cur.oldPath = rn[3]!;
      else cur.newPath = rn[3]!;
    }
  }
  return sections;
}

/** git's complaints that mean the patch itself is broken, not that the tree differs. */
const MALFORMED = [
  /corrupt patch at/,
  /patch fragment without header/,
  /lacks filename information/,
  /bad git-diff/,
  /inconsistent (?:header lines|new filename|old filename)/,
  /invalid mode on line/,
  /recount: unexpected line/,
  /depends on old contents/,
  /still has contents/,
  /corrupt binary patch/,
  /unrecognized binary patch/,
  /only garbage at/,
  /No valid patches in input/,
  /invalid path '/,
  /beyond a symbolic link/,
  /without full index line/,
  /unable to find filename in patch/,
  /unsupported.*patch/i,
];

function gitLineNumber(msg: string): number | null {
  const m = /(?:at|on) line (\d+)|\(line (\d+)\)|at [^:\s]*:(\d+)/.exec(msg);
  const n = m?.[1] ?? m?.[2] ?? m?.[3];
  return n === undefined ? null : Number(n);
}

function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(?:error|fatal):/.test(l))
    .map((l) => l.replace(/^(?:error|fatal):\s*/, ''));
}

/** If git refused the patch as unparsable, say why (with the offending diff line). */
function malformedReason(stderr: string, diff: string): string | null {
  for (const msg of errorLines(stderr)) {
    if (!MALFORMED.some((re) => re.test(msg))) continue;
    const n = gitLineNumber(msg);
    const text = n !== null ? diff.split('\n')[n - 1] : undefined;
    return text !== undefined ? `${msg} (diff line ${n}: ${JSON.stringify(text)})` : msg;
  }
  return null;
}

function sectionFor(sections: Section[], file: string): Section[] {
  return sections.filter((s) => s.oldPath === file || s.newPath === file);
}

/** Where a hunk stops matching the file: the first preimage line that differs at the expected place. */
function firstMismatch(hunk: Hunk, content: string | null): string {
  if (content === null) return 'the file is not in the tree';
  const fileLines = content.split('\n');
  if (content.endsWith('\n')) fileLines.pop();
  const pre = hunk.lines.filter((l) => l[0] !== '+').map((l) => l.slice(1));
  const start = Math.max(hunk.oldStart - 1, 0);
  for (let i = 0; i < pre.length; i++) {
    const at = start + i;
    if (at >= fileLines.length) {
      return `expected ${JSON.stringify(pre[i])} at line ${at + 1}, but the file has only ${fileLines.length} lines`;
    }
    if (fileLines[at] !== pre[i]) {
      const loose =
        fileLines[at]!.replace(/\s+/g, ' ').trim() === pre[i]!.replace(/\s+/g, ' ').trim();
      return (
        `expected ${JSON.stringify(pre[i])} at line ${at + 1}, found ${JSON.stringify(fileLines[at])}` +
        (loose ? ' (differs only in whitespace)' : '') +
        '; no other position in the file matches either'
      );
    }
  }
  return 'the context matches here only with surrounding changes git could not place';
}

interface ApplyState {
  repo: GitRepo;
  env: Record<string, string>;
  indexFile: string;
  current: Map<string, IndexEntry>;
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

async function conflictsFrom(
  stderr: string,
  sections: Section[],
  state: ApplyState,
  files: string[],
): Promise<ApplyConflict[]> {
  const out: ApplyConflict[] = [];
  const failedAt = new Map<string, number>();
  const content = async (file: string): Promise<string | null> => {
    const e = state.current.get(file);
    if (!e) return null;
    const data = await state.repo.readBlob(e.oid);
    return data ? data.toString('utf8') : null;
  };
  for (const msg of errorLines(stderr)) {
    let m: RegExpExecArray | null;
    if ((m = /^patch failed: (.*):(\d+)$/.exec(msg))) {
      failedAt.set(m[1]!, Number(m[2]));
      continue;
    }
    if ((m = /^(.*): patch does not apply$/.exec(msg))) {
      const file = m[1]!;
      const line = failedAt.get(file);
      if (line === undefined) {
        out.push({ file, reason: 'patch does not apply' });
        continue;
      }
      const candidates = sectionFor(sections, file).flatMap((s) => s.hunks);
      const hunk = candidates.find((h) => h.oldStart === line);
      if (!hunk) {
        out.push({ file, line, reason: `hunk at line ${line} does not apply` });
        continue;
      }
      const n = candidates.indexOf(hunk) + 1;
      out.push({
        file,
        hunk: hunk.header,
        line,
        reason: `hunk #${n} does not apply: ${firstMismatch(hunk, await content(file))}`,
      });
      continue;
    }
    if ((m = /^(.*): does not exist in index$/.exec(msg))) {
      out.push({ file: m[1]!, reason: 'the patch changes a file that is not in the tree' });
      continue;
    }
    if ((m = /^(.*): already exists in index$/.exec(msg))) {
      out.push({ file: m[1]!, reason: 'the patch creates a file that already exists in the tree' });
      continue;
    }
    if ((m = /^(.*): wrong type$/.exec(msg))) {
      out.push({
        file: m[1]!,
        reason: 'the file has a different type in the tree (file, symlink or submodule)',
      });
      continue;
    }
    if ((m = /^(.*) has type (\d+), expected (\d+)$/.exec(msg))) {
      out.push({
        file: m[1]!,
        reason: `the file has mode ${m[2]} in the tree, the patch expects ${m[3]}`,
      });
      continue;
    }
    if (
      (m = /'([^']+)'/.exec(msg)) &&
      /binary patch|does not match the current contents|is not empty/.test(msg)
    ) {
      out.push({ file: m[1]!, reason: msg });
      continue;
    }
    // Anything else git says, attributed to the one file when there is only one.
    out.push({ file: files.length === 1 ? files[0]! : files.join(', '), reason: msg });
  }
  if (out.length === 0) {
    out.push({
      file: files.join(', '),
      reason: stderr.trim().split('\n').pop() || 'git apply failed',
    });
  }
  return out;
}

/** `index` lines name the preimage blobs; 3-way needs every one of them in the repository. */
async function threeWayBlocker(repo: GitRepo, sections: Section[]): Promise<string | null> {
  for (const s of sections) {
    const file = s.oldPath ?? s.newPath ?? '?';
    if (s.hunks.length === 0) continue;
    if (!s.hasIndexLine) return `${file} has no index line`;
    if (s.oldOid === null) continue;
    const info = await repo.info(s.oldOid);
    if (!info || info.type !== 'blob')
      return `blob ${s.oldOid} (${file} before the patch) is not in the tree`;
  }
  return null;
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

/** The diff git should see: CRLF-mangled mails (headers ending in \r) are turned back into LF. */
function normaliseDiff(diff: string): { text: string; note: string | null } {
  const header = /^(?:diff --git |--- |\+\+\+ |@@ ).*\r$/m;
  if (header.test(diff))
    return { text: diff.replace(/\r\n/g, '\n'), note: 'CRLF line endings converted to LF' };
  return { text: diff, note: null };
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

/** Every proper parent directory of each path (a file there would clash with the new path). */
function withParents(paths: Iterable<string>): string[] {
  const all = new Set<string>();
  for (const p of paths) {
    all.add(p);
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) all.add(parts.slice(0, i).join('/'));
  }
  return [...all].sort();
}

/** Fill a temporary index with the base entries of `paths` (files only); return them. */
export async function seedIndex(
  repo: GitRepo,
  commit: string,
  paths: string[],
  env: Record<string, string>,
): Promise<{ entries: Map<string, IndexEntry>; dirs: Set<string> }> {
  const entries = new Map<string, IndexEntry>();
  const dirs = new Set<string>();
  if (paths.length === 0) return { entries, dirs };
  const ls = await repo.run(['ls-tree', '-z', '--full-tree', commit, '--', ...withParents(paths)], {
    env: { ...env, GIT_LITERAL_PATHSPECS: '1' },
  });
  if (ls.code !== 0) throw new Error(`git ls-tree ${commit} failed: ${ls.stderr.trim()}`);
  const keep: string[] = [];
  for (const rec of ls.stdout.toString('utf8').split('\0')) {
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t(.*)$/s.exec(rec);
    if (!m) continue;
    if (m[2] === 'tree') {
      dirs.add(m[4]!);
      continue;
    }
    entries.set(m[4]!, { mode: m[1]!, oid: m[3]! });
    keep.push(`${rec}\0`);
  }
  if (keep.length) {
    const up = await repo.run(['update-index', '-z', '--index-info'], {
      env,
      input: keep.join(''),
    });
    if (up.code !== 0)
      throw new Error(`git update-index on the temporary index failed: ${up.stderr.trim()}`);
  }
  return { entries, dirs };
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

let swept = false;

/**
 * A process killed mid-apply (a worker SIGKILLed, OOM) cannot run its finally:
 * its temporary index stays behind. Temp dirs carry the owner's pid; once per
 * process, remove those whose owner is gone.
 */
export async function sweepStaleTempDirs(opts: { again?: boolean } = {}): Promise<void> {
  if (swept && !opts.again) return;
  swept = true;
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^pcibot-apply-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH')
        await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

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
  const prepared = patches.map((p) => {
    if (p.diff === null || p.diff.trim() === '') {
      return {
        p,
        text: '',
        files: [] as string[],
        malformed: 'the message carries no diff',
        note: null,
      };
    }
    const { text, note } = normaliseDiff(p.diff);
    const touched = touchedPaths(text);
    if (touched.invalid.length) {
      const bad = touched.invalid.map((i) => `${JSON.stringify(i.path)} (${i.reason})`).join(', ');
      return { p, text, files: touched.paths, malformed: `refused path ${bad}`, note };
    }
    if (touched.paths.length === 0) {
      return {
        p,
        text,
        files: [],
        malformed: 'no file headers (diff --git, ---/+++) in the diff',
        note,
      };
    }
    return { p, text, files: touched.paths, malformed: null as string | null, note };
  });

  const results: PatchApplyResult[] = [];
  const overlays: TreeOverlay[] = [];
  let overlay: TreeOverlay = {};
  await sweepStaleTempDirs();
  const tempDir = await mkdtemp(join(tmpdir(), `pcibot-apply-${process.pid}-`));
  try {
    const indexFile = join(tempDir, 'index');
    const env = { GIT_INDEX_FILE: indexFile };
    const allPaths = new Set(prepared.filter((x) => !x.malformed).flatMap((x) => x.files));
    const seeded = await seedIndex(repo, base.commit, [...allPaths], env);
    const state: ApplyState = { repo, env, indexFile, current: new Map(seeded.entries) };
    await hooks.stage?.('index-ready', { tempDir });
    // Files of patches that did not apply, for "may depend on patch N".
    const failedFiles = new Map<string, number>();

    for (const x of prepared) {
      const { p, text, files } = x;
      const result: PatchApplyResult = {
        index: p.index,
        messageId: p.messageId,
        status: 'malformed',
        files,
      };
      const notes: string[] = x.note ? [x.note] : [];
      const finish = (r: PatchApplyResult) => {
        if (notes.length) r.detail = [r.detail, ...notes].filter(Boolean).join('; ');
        results.push(r);
        overlays.push(overlay);
        if (r.status === 'conflict' || r.status === 'malformed') {
          for (const f of files) if (!failedFiles.has(f)) failedFiles.set(f, p.index);
        }
      };
      if (x.malformed) {
        finish({ ...result, detail: x.malformed });
        continue;
      }
      const sections = parseSections(text);
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

      const accept = async (status: 'applied' | 'applied-3way'): Promise<boolean> => {
        const { entries, unmerged } = await readIndex(repo, env, base.commit.length / 2);
        if (unmerged.length) return false;
        // Defence in depth: git must not have changed anything the diff headers did not name.
        const next = overlayOf(state.current, entries);
        const stray = Object.keys(next).filter((f) => !files.includes(f));
        if (stray.length)
          throw new Error(`git apply changed paths the diff did not name: ${stray.join(', ')}`);
        if (status === 'applied-3way' && Object.keys(next).length === 0) {
          finish({
            ...result,
            status: 'already-applied',
            detail: 'a 3-way merge found the change already in the tree',
          });
        } else {
          finish({ ...result, status });
        }
        state.current = entries;
        overlay = overlayOf(seeded.entries, entries);
        overlays[overlays.length - 1] = overlay;
        await hooks.stage?.('patch-applied', { tempDir });
        return true;
      };

      const straight = await repo.run(APPLY, { env, input: text });
      if (straight.code === 0) {
        await accept('applied');
        continue;
      }
      const broken = malformedReason(straight.stderr, text);
      if (broken) {
        finish({ ...result, detail: `git apply cannot parse the patch: ${broken}` });
        continue;
      }
      const reverse = await repo.run([...APPLY, '--check', '--reverse'], { env, input: text });
      if (reverse.code === 0) {
        finish({
          ...result,
          status: 'already-applied',
          detail: 'the reverse of the patch applies cleanly: the change is already in the tree',
        });
        continue;
      }
      const blocker = await threeWayBlocker(repo, sections);
      let threeWayNote: string;
      if (blocker === null) {
        const saved = await snapshot(indexFile);
        const three = await repo.run([...APPLY, '--3way'], { env, input: text });
        if (three.code === 0 && (await accept('applied-3way'))) continue;
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
      const conflicts = await conflictsFrom(straight.stderr, sections, state, files);
      const deps = [
        ...new Set(
          files.map((f) => failedFiles.get(f)).filter((n): n is number => n !== undefined),
        ),
      ];
      const detailParts = [
        conflicts.map((c) => `${c.file}${c.line ? `:${c.line}` : ''}: ${c.reason}`).join('; '),
        threeWayNote,
      ];
      if (deps.length) {
        detailParts.push(
          deps.map((n) => `may depend on patch ${n}, which did not apply`).join('; '),
        );
      }
      finish({ ...result, status: 'conflict', detail: detailParts.join('; '), conflicts });
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
  return { tree, base, patches: results, overlay, overlays };
}
