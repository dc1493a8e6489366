// The reader's view of a diff: the file sections a person sees in a patch
// mail, with the names its author meant. Scope, the diff paths every stage
// checks, and the hunks quoted in replies read diffs through this; the apply
// stage reads them as git apply does (sections.ts), which refuses what git
// refuses and strips exactly -p<N>.
//
// Where the two views differ, on purpose:
// - a section starts at any `diff ` line (git's, or `diff -u old new`), or at a
//   `---`/`+++` pair that does not follow one, hunk or no hunk;
// - names are read as written: C-quoting undone, a date after the name
//   dropped (in a git diff too: the author meant the name), `a/`/`b/` removed
//   when present and nothing else (a -p0 name stays whole), `//` kept (so the
//   path check sees it);
// - nothing stops the reading: a `diff --git` line whose names cannot be
//   split is recorded in `unreadable`, and a truncated hunk ends where a line
//   that is no hunk line stands.
// Hunks are the same HunkReader's as git apply's view, so both number the
// lines alike.
import { HunkReader, readHunkHeader } from './hunks.js';
import { nameOnFileLine, splitGitNames, stripSidePrefix, unquoteName } from './names.js';
import { noFileChange, type FileChange } from './sections.js';

/** Where a name was read. */
export type NameSource =
  'diff --git' | '---' | '+++' | 'rename from' | 'rename to' | 'copy from' | 'copy to';

export interface WrittenName {
  source: NameSource;
  /** The name, unquoted and without a date; null for /dev/null. */
  name: string | null;
  /** The name without the `a/`/`b/` of its side (rename and copy lines have none). */
  path: string | null;
}

/**
 * A file section. Its FileChange: oldPath is the `---` name, else the
 * `rename/copy from` or `diff --git` one; newPath the `+++` name, else the
 * `rename/copy to` or `diff --git` one.
 */
export interface FileSection extends FileChange {
  /** 1-based line of the section's first line in the diff. */
  line: number;
  /**
   * False only for the lines before the first file header (a `+++` or a hunk
   * with no `diff`/`---` before it): read the same way, but no file starts there.
   */
  started: boolean;
  /** The section's lines as written (the headers, the hunks, anything between). */
  lines: string[];
  /** Every name the headers give, in the order they stand. */
  names: WrittenName[];
  /** `diff --git` lines (after the `diff --git `) whose two names could not be read. */
  unreadable: string[];
  /** `GIT binary patch` or `Binary files ... differ`: the change is not in hunks. */
  binary: boolean;
}

function newFileSection(line: number, started: boolean): FileSection {
  // noFileChange() and the fields added to it, not a spread of it: one of
  // these is made for every file of every mail, and spreading was the slow part.
  const s = noFileChange() as FileSection;
  s.line = line;
  s.started = started;
  s.lines = [];
  s.names = [];
  s.unreadable = [];
  s.binary = false;
  return s;
}

/** Read one header line of a section into it (anything unknown is left as text). */
function readHeaderLine(s: FileSection, line: string): void {
  const note = (source: NameSource, name: string | null, prefixed: boolean) =>
    s.names.push({ source, name, path: name === null || !prefixed ? name : stripSidePrefix(name) });
  let m: RegExpExecArray | null;
  if (line.startsWith('diff --git ')) {
    const rest = line.slice('diff --git '.length);
    const pair = splitGitNames(rest);
    if (!pair) {
      s.unreadable.push(rest);
      return;
    }
    note('diff --git', pair[0], true);
    note('diff --git', pair[1], true);
  } else if ((m = /^(---|\+\+\+) (.*)$/.exec(line))) {
    note(m[1] as '---' | '+++', nameOnFileLine(m[2]!), true);
  } else if ((m = /^(rename|copy) (from|to) (.*)$/.exec(line))) {
    // Rename and copy lines carry the name without a side prefix.
    const name = unquoteName(m[3]!.trim()) ?? m[3]!.trim();
    note(`${m[1]} ${m[2]}` as NameSource, name, false);
    if (m[1] === 'rename') s.isRename = true;
    else s.isCopy = true;
  } else if ((m = /^new file mode (\S+)/.exec(line))) {
    s.isNew = true;
    s.newMode = m[1]!;
  } else if ((m = /^deleted file mode (\S+)/.exec(line))) {
    s.isDelete = true;
    s.oldMode = m[1]!;
  } else if ((m = /^(old|new) mode (\S+)/.exec(line))) {
    if (m[1] === 'old') s.oldMode = m[2]!;
    else s.newMode = m[2]!;
  } else if (line === 'GIT binary patch' || /^Binary files .* differ$/.test(line)) {
    s.binary = true;
  }
}

/** Settle the section's old and new paths from the names its headers gave. */
function settlePaths(s: FileSection): void {
  const first = (...sources: NameSource[]) => {
    for (const source of sources) {
      const n = s.names.find((x) => x.source === source);
      if (n) return n;
    }
    return null;
  };
  const git = s.names.filter((n) => n.source === 'diff --git');
  const old = first('---', 'rename from', 'copy from') ?? git[0] ?? null;
  const neu = first('+++', 'rename to', 'copy to') ?? git[1] ?? null;
  s.oldPath = s.isNew ? null : (old?.path ?? null);
  s.newPath = s.isDelete ? null : (neu?.path ?? null);
  if (old && old.source === '---' && old.name === null) s.isNew = true;
  if (neu && neu.source === '+++' && neu.name === null) s.isDelete = true;
}

/**
 * The file sections of `diff` as a reader sees them (see the header comment).
 * Lines are split on LF; a trailing empty line is kept, as in the text.
 * `keepBody: false` is for callers that want names only (every mail's paths
 * are read at parse time): hunks are counted, their lines not kept, so the
 * sections' `lines` hold the headers and hunk headers alone.
 */
export function readFileSections(diff: string, opts: { keepBody?: boolean } = {}): FileSection[] {
  const keepBody = opts.keepBody ?? true;
  const lines = diff.split('\n');
  const sections: FileSection[] = [];
  let cur: FileSection | null = null;
  let hunk: HunkReader | null = null;
  // A `---`/`+++` pair right after a `diff` line belongs to it, not a new file.
  let afterDiffLine = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (hunk && cur) {
      if (hunk.open || hunk.isMarker(line)) {
        if (hunk.read(line) !== null) {
          if (keepBody) cur.lines.push(line);
          continue;
        }
      }
      hunk.close(); // done, or truncated: the line is read as a header
      hunk = null;
    }
    const startsFile =
      line.startsWith('diff ') ||
      (!afterDiffLine && line.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ '));
    if (startsFile || !cur) {
      cur = newFileSection(i + 1, startsFile);
      sections.push(cur);
    }
    if (line.startsWith('diff ')) afterDiffLine = true;
    else if (line.startsWith('+++ ')) afterDiffLine = false;
    cur.lines.push(line);
    const h = readHunkHeader(line);
    if (h) {
      hunk = new HunkReader(line, h, i + 1, 'git', keepBody);
      cur.hunks.push(hunk.hunk);
    } else readHeaderLine(cur, line);
  }
  for (const s of sections) settlePaths(s);
  return sections;
}
