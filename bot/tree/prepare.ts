// Everything decided about a patch before git sees it: the strip level, the
// paths git will use at that level (checked), and the refusals that need no git.
//
// Strip level. git applies with -p1 unless told otherwise; for traditional
// diffs without `diff --git` it guesses -p0 when a name has no slash. Diffs
// whose names all carry `a/` and `b/` get -p1, as always. Any other diff
// (`git diff --no-prefix`, `diff -u old/x new/x`, mnemonic `i/` `w/` prefixes,
// traditional headers) is parsed at -p1 and at -p0 and the level whose paths the
// base tree knows wins: a file that exists counts 2, the directory of a new file
// 1 (the top level counts nothing). On a tie, git's own choice. The detail of
// the patch says which level was used when it was not the usual -p1.
import { checkDiffPath } from '../mail/diffpaths.js';
import { guessStripLevel } from '../util/diff/names.js';
import { parseDiffSections, sectionPaths, type DiffSection } from '../util/diff/sections.js';
import type { GitRepo } from './git.js';

export const APPLY_LIMITS = {
  /** The largest file a patch may make (declared by binary patches, measured after applying). */
  blobBytes: 64 << 20,
  /** New file content per series, all patched states together (carried in Applied.objects). */
  seriesBytes: 256 << 20,
  /** Sections looked up in the tree to choose a strip level. */
  stripSample: 200,
};

export interface PreparedPatch {
  /** The diff as git gets it. */
  text: string;
  strip: 0 | 1;
  sections: DiffSection[];
  /** Every path the sections name, in order, without duplicates. */
  files: string[];
  /** Why the patch is refused before git runs (or null). */
  malformed: string | null;
  notes: string[];
}

/** The diff git should see: CRLF-mangled mails (headers ending in \r) are turned back into LF. */
function normaliseDiff(diff: string): { text: string; note: string | null } {
  const header = /^(?:diff --git |--- |\+\+\+ |@@ ).*\r$/m;
  if (header.test(diff))
    return { text: diff.replace(/\r\n/g, '\n'), note: 'CRLF line endings converted to LF' };
  return { text: diff, note: null };
}

const dirname = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};

/** Names carry git's default prefixes: old side a/, new side b/ (so -p1, no question). */
function standardPrefixes(s: DiffSection): boolean {
  return s.rawNames.length > 0 && s.rawNames.every((n) => n.startsWith('a/') || n.startsWith('b/'));
}

async function treeScore(repo: GitRepo, commit: string, sections: DiffSection[]): Promise<number> {
  const is = async (path: string, type: 'blob' | 'tree'): Promise<boolean> => {
    if (checkDiffPath(path) !== null) return false;
    const info = await repo.info(`${commit}:${path}`);
    return info?.type === type;
  };
  const scores: Promise<number>[] = [];
  for (const s of sections.slice(0, APPLY_LIMITS.stripSample)) {
    if (s.oldPath !== null && !s.isNew) scores.push(is(s.oldPath, 'blob').then((b) => (b ? 2 : 0)));
    if (s.newPath !== null && s.newPath !== s.oldPath) {
      const d = dirname(s.newPath);
      if (d) scores.push(is(d, 'tree').then((t) => (t ? 1 : 0)));
    }
  }
  return (await Promise.all(scores)).reduce((a, b) => a + b, 0);
}

/** git's default when nothing else decides: its guess for a traditional diff, else -p1. */
function gitDefaultStrip(sections: DiffSection[]): 0 | 1 {
  const t = sections.find((s) => s.kind === 'traditional');
  if (!t || sections[0] !== t) return 1;
  let p = guessStripLevel(t.nameLines[0] ?? '');
  const q = guessStripLevel(t.nameLines[1] ?? '');
  if (p < 0) p = q;
  return p === 0 && q === 0 ? 0 : 1;
}

async function chooseStrip(
  text: string,
  repo: GitRepo,
  commit: string,
): Promise<{ strip: 0 | 1; sections: DiffSection[]; error: string | null; note: string | null }> {
  const p1 = parseDiffSections(text, 1, { maxInflate: APPLY_LIMITS.blobBytes });
  if (p1.error === null && p1.sections.length > 0 && p1.sections.every(standardPrefixes))
    return { strip: 1, sections: p1.sections, error: null, note: null };
  const p0 = parseDiffSections(text, 0, { maxInflate: APPLY_LIMITS.blobBytes });
  const ok1 = p1.error === null && p1.sections.length > 0;
  const ok0 = p0.error === null && p0.sections.length > 0;
  const why = 'the diff has no a/ b/ prefixes on its file names';
  const at0 = {
    strip: 0 as const,
    sections: p0.sections,
    error: null,
    note: `${why}: applied with -p0 (paths as written)`,
  };
  const at1 = {
    strip: 1 as const,
    sections: p1.sections,
    error: null,
    note: `${why}: applied with -p1 (first path component removed)`,
  };
  if (!ok1 && !ok0) return { strip: 1, sections: p1.sections, error: p1.error, note: null };
  if (!ok1) return at0;
  if (!ok0) return at1;
  const [s1, s0] = await Promise.all([
    treeScore(repo, commit, p1.sections),
    treeScore(repo, commit, p0.sections),
  ]);
  if (s1 !== s0) return s1 > s0 ? at1 : at0;
  return gitDefaultStrip(p1.sections) === 0 ? at0 : at1;
}

/** Paths (and names as written) that must never reach git. */
function refusedPaths(sections: DiffSection[]): string | null {
  const bad: string[] = [];
  const seen = new Set<string>();
  const refuse = (path: string, why: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    bad.push(`${JSON.stringify(path)} (${why})`);
  };
  for (const s of sections) {
    let found = false;
    for (const path of sectionPaths(s)) {
      const why = checkDiffPath(path);
      if (why) {
        refuse(path, why);
        found = true;
      }
    }
    if (found) continue;
    // The names as written: a/../x strips to ../x (refused above), but /etc/x strips to etc/x.
    for (const raw of s.rawNames) {
      if (raw.startsWith('/')) refuse(raw, 'absolute path');
      else if (raw.split('/').includes('..')) refuse(raw, '".." component');
    }
  }
  return bad.length ? `refused path ${bad.join(', ')}` : null;
}

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MiB`;

/** Refusals a section carries by itself: date in a git name, submodules, binary bombs. */
function sectionProblems(sections: DiffSection[]): string | null {
  for (const s of sections) {
    const name = s.newPath ?? s.oldPath ?? '?';
    if (s.problem) return s.problem;
    if (s.oldMode === '160000' || s.newMode === '160000')
      return `${name}: submodule entries (mode 160000) are not supported`;
    for (const h of s.binary?.hunks ?? []) {
      const size = Math.max(h.declared, h.resultSize ?? 0);
      if (size > APPLY_LIMITS.blobBytes)
        return (
          `${name}: the binary patch declares ${MiB(size)} ` +
          `(${h.method}), more than the ${MiB(APPLY_LIMITS.blobBytes)} pcibot accepts per file`
        );
    }
    if (s.binary?.error) return `${name}: ${s.binary.error}`;
  }
  return null;
}

/** Decide the strip level, parse, and check a patch; see the header comment. */
export async function preparePatch(
  diff: string | null,
  repo: GitRepo,
  commit: string,
): Promise<PreparedPatch> {
  if (diff === null || diff.trim() === '') {
    return {
      text: '',
      strip: 1,
      sections: [],
      files: [],
      malformed: 'the message carries no diff',
      notes: [],
    };
  }
  const { text, note } = normaliseDiff(diff);
  const notes = note ? [note] : [];
  const chosen = await chooseStrip(text, repo, commit);
  if (chosen.note) notes.push(chosen.note);
  const files: string[] = [];
  const seen = new Set<string>();
  for (const s of chosen.sections) {
    for (const p of sectionPaths(s)) {
      if (seen.has(p)) continue;
      seen.add(p);
      files.push(p);
    }
  }
  const base = { text, strip: chosen.strip, sections: chosen.sections, notes };
  const refused = refusedPaths(chosen.sections);
  if (refused)
    return { ...base, files: files.filter((f) => !checkDiffPath(f)), malformed: refused };
  if (chosen.error)
    return { ...base, files, malformed: `git apply cannot parse the patch: ${chosen.error}` };
  if (chosen.sections.length === 0)
    return { ...base, files, malformed: 'no file headers (diff --git, ---/+++) in the diff' };
  return { ...base, files, malformed: sectionProblems(chosen.sections) };
}
