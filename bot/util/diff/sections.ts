// The file names of a diff exactly as `git apply -p<N>` reads them, so that the
// paths pcibot checks before git runs are the paths git will write. The rules
// follow git's apply.c (2.39): `diff --git` headers and their extended lines,
// traditional `---`/`+++` pairs with the date/time git strips after a name,
// GNU C-style quoting, strip levels, `//` squashed to `/`, epoch timestamps
// meaning creation or deletion. The tests compare this parser with
// `git apply --numstat` on every header form they use.
//
// What git reads differently from a person is reported, not guessed at: a
// `---`/`+++` line of a git diff with a date after the name (git takes the date
// as part of the name) makes the section `problem`.
//
// Also parsed, for conflict reports and limits: hunks (with their lines,
// numbered; hunks.ts), `index` lines, modes and binary patches (the sizes they
// declare). The names themselves are read in names.ts.
import { parseBinaryHunks, type BinaryHunk } from './binary.js';
import { HunkReader, readHunkHeader, type DiffHunk } from './hunks.js';
import {
  TERM_TAB,
  findName,
  findNameTraditional,
  gitHeaderName,
  hasEpochTimestamp,
  isDevNull,
  rawGitNames,
} from './names.js';

/** What a file section does to its file: both views of a diff (this one and files.ts) say it alike. */
export interface FileChange {
  /** Path before (null: the file is created, or no name was found). */
  oldPath: string | null;
  /** Path after (null: the file is deleted, or no name was found). */
  newPath: string | null;
  isNew: boolean;
  isDelete: boolean;
  isRename: boolean;
  isCopy: boolean;
  oldMode: string | null;
  newMode: string | null;
  hunks: DiffHunk[];
}

export function noFileChange(): FileChange {
  return {
    oldPath: null,
    newPath: null,
    isNew: false,
    isDelete: false,
    isRename: false,
    isCopy: false,
    oldMode: null,
    newMode: null,
    hunks: [],
  };
}

export interface DiffSection extends FileChange {
  kind: 'git' | 'traditional';
  /** 1-based line of the section's first header line in the diff. */
  line: number;
  /** The names as written (`diff --git`, `---`/`+++`; no /dev/null), before any stripping. */
  rawNames: string[];
  /** Traditional sections: the text after `--- ` and `+++ ` (git guesses the strip level from it). */
  nameLines: string[];
  /** Preimage blob id from the `index` line (abbreviated), null for new files or no index line. */
  oldOid: string | null;
  /** Postimage blob id from the `index` line (abbreviated), null for deletions or no index line. */
  newOid: string | null;
  hasIndexLine: boolean;
  /** `GIT binary patch` hunks (forward, then reverse), or `Binary files ... differ` (no data). */
  binary: { hunks: BinaryHunk[]; noData: boolean; error: string | null } | null;
  /** Something git would read in a way the author cannot have meant (see the header comment). */
  problem: string | null;
}

export interface ParsedDiff {
  sections: DiffSection[];
  /** Why git will refuse the headers at this strip level (lacks filename information, ...). */
  error: string | null;
}

function newSection(kind: DiffSection['kind'], line: number): DiffSection {
  return {
    ...noFileChange(),
    kind,
    line,
    rawNames: [],
    nameLines: [],
    oldOid: null,
    newOid: null,
    hasIndexLine: false,
    binary: null,
    problem: null,
  };
}

interface GitHeaderResult {
  section: DiffSection;
  /** Index of the first line after the extended header lines. */
  next: number;
  error: string | null;
}

function parseGitHeader(lines: string[], at: number, p: number): GitHeaderResult {
  const s = newSection('git', at + 1);
  const rest = lines[at]!.slice('diff --git '.length);
  s.rawNames = rawGitNames(rest);
  const def = gitHeaderName(p, rest);
  let oldName: string | null = null;
  let newName: string | null = null;
  let extensions = 0;
  let i = at + 1;
  const fail = (msg: string): GitHeaderResult => ({ section: s, next: i + 1, error: msg });
  const verify = (line: string, isNull: boolean, side: 'old' | 'new'): string | null => {
    const cur = side === 'old' ? oldName : newName;
    if (cur === null && !isNull) {
      const name = findName(line, null, p, TERM_TAB);
      s.rawNames.push(findName(line, null, 0, TERM_TAB) ?? line);
      const traditional = findNameTraditional(line, null, p);
      if (name !== null && traditional !== null && traditional !== name && !isDevNull(line)) {
        s.problem =
          `the ${side === 'old' ? '---' : '+++'} line of a git diff has a date after the name ` +
          `(${JSON.stringify(line)}): git would take the date as part of the file name`;
      }
      if (side === 'old') oldName = name;
      else newName = name;
      return null;
    }
    if (cur !== null) {
      if (isNull) return `expected /dev/null, got ${cur} (line ${i + 1})`;
      const another = findName(line, null, p, TERM_TAB);
      if (another !== cur) return `inconsistent ${side} filename (line ${i + 1})`;
      return null;
    }
    if (!isDevNull(line)) return `expected /dev/null (line ${i + 1})`;
    return null;
  };
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('@@ -')) break;
    let m: RegExpExecArray | null;
    if (line.startsWith('--- ')) {
      const e = verify(line.slice(4), s.isNew, 'old');
      if (e) return fail(e);
    } else if (line.startsWith('+++ ')) {
      const e = verify(line.slice(4), s.isDelete, 'new');
      if (e) return fail(e);
    } else if ((m = /^old mode (.*)$/.exec(line))) {
      s.oldMode = m[1]!.trim();
    } else if ((m = /^new mode (.*)$/.exec(line))) {
      s.newMode = m[1]!.trim();
    } else if ((m = /^deleted file mode (.*)$/.exec(line))) {
      s.isDelete = true;
      extensions++;
      oldName = def;
      s.oldMode = m[1]!.trim();
    } else if ((m = /^new file mode (.*)$/.exec(line))) {
      s.isNew = true;
      extensions++;
      newName = def;
      s.newMode = m[1]!.trim();
    } else if ((m = /^(copy|rename) (from|old|to|new) (.*)$/.exec(line))) {
      const name = findName(m[3]!, null, p > 0 ? p - 1 : 0, 0);
      if (m[1] === 'copy') {
        if (!s.isCopy) extensions++;
        s.isCopy = true;
      } else {
        if (!s.isRename) extensions++;
        s.isRename = true;
      }
      if (m[2] === 'from' || m[2] === 'old') oldName = name;
      else newName = name;
    } else if (/^(?:dis)?similarity index /.test(line)) {
      // nothing to keep
    } else if ((m = /^index ([0-9a-fA-F]*)\.\.([0-9a-fA-F]*)(?: (\S+))?$/.exec(line))) {
      s.hasIndexLine = true;
      s.oldOid = /^0*$/.test(m[1]!) ? null : m[1]!.toLowerCase();
      s.newOid = /^0*$/.test(m[2]!) ? null : m[2]!.toLowerCase();
      if (m[3]) s.oldMode ??= m[3];
    } else {
      break; // git stops the header at the first line it does not know
    }
    if (extensions > 1) return fail(`inconsistent header lines (line ${i + 1})`);
  }
  if (oldName === null && newName === null) {
    if (def === null) {
      return {
        section: s,
        next: i,
        error:
          `git diff header lacks filename information when removing ${p} leading pathname ` +
          `component${p === 1 ? '' : 's'} (line ${at + 1})`,
      };
    }
    oldName = def;
    newName = def;
  }
  if ((newName === null && !s.isDelete) || (oldName === null && !s.isNew)) {
    return {
      section: s,
      next: i,
      error: `git diff header lacks filename information (line ${at + 1})`,
    };
  }
  s.oldPath = s.isNew ? null : oldName;
  s.newPath = s.isDelete ? null : newName;
  return { section: s, next: i, error: null };
}

function parseTraditional(first: string, second: string, at: number, p: number): DiffSection {
  const s = newSection('traditional', at + 1);
  const a = first.slice(4);
  const b = second.slice(4);
  s.nameLines = [a, b];
  s.rawNames = [a, b].filter((x) => !isDevNull(x)).map((x) => findNameTraditional(x, null, 0) ?? x);
  if (isDevNull(a)) {
    s.isNew = true;
    s.newPath = findNameTraditional(b, null, p);
  } else if (isDevNull(b)) {
    s.isDelete = true;
    s.oldPath = findNameTraditional(a, null, p);
  } else {
    const firstName = findNameTraditional(a, null, p);
    const name = findNameTraditional(b, firstName, p);
    if (hasEpochTimestamp(a)) {
      s.isNew = true;
      s.newPath = name;
    } else if (hasEpochTimestamp(b)) {
      s.isDelete = true;
      s.oldPath = name;
    } else {
      s.oldPath = name;
      s.newPath = name;
    }
  }
  return s;
}

export interface ParseOptions {
  /** Largest delta to inflate when reading the size a binary delta produces (default 64 MiB). */
  maxInflate?: number;
}

/**
 * The sections of `diff` as `git apply -p<p>` splits them, with their names.
 * Lines are split on LF only (git's view; a CR stays part of the line).
 */
export function parseDiffSections(diff: string, p: number, opts: ParseOptions = {}): ParsedDiff {
  const maxInflate = opts.maxInflate ?? 64 << 20;
  const lines = diff.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const sections: DiffSection[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    let section: DiffSection | null = null;
    if (line.startsWith('diff --git ')) {
      const h = parseGitHeader(lines, i, p);
      if (h.error) return { sections, error: h.error };
      section = h.section;
      i = h.next;
    } else if (
      line.startsWith('--- ') &&
      lines[i + 1]?.startsWith('+++ ') &&
      lines[i + 2]?.startsWith('@@ -')
    ) {
      section = parseTraditional(line, lines[i + 1]!, i, p);
      if (section.oldPath === null && section.newPath === null) {
        return { sections, error: `unable to find filename in patch at line ${i + 1}` };
      }
      i += 2;
    } else {
      i++;
      continue;
    }
    sections.push(section);
    // Hunks, counted by their headers: a "--- x" inside a hunk is a removed line.
    while (i < lines.length) {
      const h = readHunkHeader(lines[i]!);
      if (!h) break;
      const reader = new HunkReader(lines[i]!, h, i + 1);
      section.hunks.push(reader.hunk);
      i++;
      while (i < lines.length && reader.open && reader.read(lines[i]!) !== null) i++;
      // git takes one marker after the last line (`\ No newline at end of file`).
      if (lines[i]?.startsWith('\\ ')) {
        reader.read(lines[i]!);
        i++;
      }
    }
    if (section.hunks.length === 0 && section.kind === 'git') {
      if (lines[i] === 'GIT binary patch') {
        const b = parseBinaryHunks(lines, i + 1, maxInflate);
        section.binary = { hunks: b.hunks, noData: false, error: b.error };
        i = b.next;
      } else if (/^(?:Binary files|Files) .* differ$/.test(lines[i] ?? '')) {
        section.binary = { hunks: [], noData: true, error: null };
        i++;
      }
    }
  }
  return { sections, error: null };
}

/** The paths a section names (old and new), without duplicates. */
export function sectionPaths(s: FileChange): string[] {
  const out: string[] = [];
  if (s.oldPath !== null) out.push(s.oldPath);
  if (s.newPath !== null && s.newPath !== s.oldPath) out.push(s.newPath);
  return out;
}
