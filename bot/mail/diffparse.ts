// The unified-diff reader the review rules see (parse-diff's File/Chunk/Change
// shapes), in linear time and without throwing. It follows parse-diff 0.12
// line for line, with three differences that only hostile input notices:
// - parse-diff reads file names from a `diff` line with a regex that is
//   quadratic in the line length (a 20 KB `diff --git a/a/a/...` line takes
//   1.5 s, and a diff may hold thousands), and hunk headers with another
//   (`@@ -1111...`); both are matched here by hand with the same result;
// - a `\ No newline at end of file` line that follows no change line (a hunk
//   `@@ -0,0 +1 @@` followed only by the marker) made parse-diff throw a
//   TypeError; here it is ignored;
// - nothing else changes: test/fuzz compares the two on generated diffs.
// Hunks are read with the one hunk model (bot/util/diff/hunks.ts) in its
// parse-diff forms: the loose header, and a body where every line that is not
// '-' or '+' counts as context until both counts reach exactly zero.
import type parseDiff from 'parse-diff';
import { HunkReader, NO_NEWLINE_MARKER, readHunkHeader } from '../util/diff/hunks.js';
import { parseDiffSections, sectionPaths } from '../util/diff/sections.js';

export type DiffFile = parseDiff.File;
export type DiffChunk = parseDiff.Chunk;
export type DiffChange = parseDiff.Change;

/** `.` in a JS regex stops at these. */
const isTerminator = (c: string) => c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029';

const PREFIX_A = new Set(['a', 'i', 'w', 'c', 'o', '1', '2']);
const PREFIX_B = new Set(['b', 'i', 'w', 'c', 'o', '1', '2']);

/**
 * What parse-diff's
 * /(a|i|w|c|o|1|2)\/.*(?=["']? ["']?(b|i|w|c|o|1|2)\/)|(b|i|w|c|o|1|2)\/.*$/g
 * matches in a line, found in one pass.
 */
function fileNameMatches(line: string): string[] {
  const n = line.length;
  // look[q]: the lookahead ["']? ["']?[biwco12]/ holds at q.
  const holds = (q: number) => {
    let k = q;
    if (line[k] === '"' || line[k] === "'") k++;
    if (line[k] !== ' ') return false;
    k++;
    if (line[k] === '"' || line[k] === "'") k++;
    return PREFIX_B.has(line[k]!) && line[k + 1] === '/';
  };
  // noTermFrom[q]: no terminator in line[q..] (`.*$` can reach the end from q).
  const noTermFrom = new Uint8Array(n + 1);
  noTermFrom[n] = 1;
  for (let q = n - 1; q >= 0; q--) noTermFrom[q] = isTerminator(line[q]!) ? 0 : noTermFrom[q + 1]!;
  // lastLook[q]: the largest q' >= q where the lookahead holds with no terminator
  // in line[q..q') (so `.*` from q reaches it), or -1.
  const lastLook = new Int32Array(n + 1).fill(-1);
  let best = -1;
  for (let q = n - 1; q >= 0; q--) {
    if (isTerminator(line[q]!)) best = -1;
    else if (best === -1 && holds(q)) best = q;
    lastLook[q] = best;
  }
  const out: string[] = [];
  let s = 0;
  while (s < n) {
    if (PREFIX_A.has(line[s]!) && line[s + 1] === '/') {
      const q = s + 2 <= n ? lastLook[s + 2]! : -1;
      if (q >= 0) {
        out.push(line.slice(s, q));
        s = q > s ? q : s + 1;
        continue;
      }
    }
    if (PREFIX_B.has(line[s]!) && line[s + 1] === '/' && noTermFrom[s + 2]) {
      out.push(line.slice(s));
      break;
    }
    s++;
  }
  return out;
}

function parseFiles(line: string | undefined): [string | undefined, string | undefined] {
  if (!line) return [undefined, undefined];
  const m = fileNameMatches(line).map((a) =>
    a.replace(/^(a|b|i|w|c|o|1|2)\//, '').replace(/("|')$/, ''),
  );
  return [m[0], m[1]];
}

const TIMESTAMP = /\t.*|\d{4}-\d\d-\d\d\s\d\d:\d\d:\d\d(.\d+)?\s(\+|-)\d\d\d\d/;

function parseOldOrNewFile(line: string): string {
  let s = line.replace(/^[-+]+/, '').trim();
  const ts = TIMESTAMP.exec(s);
  if (ts) s = s.substring(0, ts.index).trim();
  return s.replace(/^\\?['"]|\\?['"]$/g, '').replace(/^(a|b|i|w|c|o|1|2)\//, '');
}

/** A diff as parse-diff would read it (see the header comment). Never throws. */
export function parseUnifiedDiff(input: string | null | undefined): DiffFile[] {
  if (!input) return [];
  if (typeof input !== 'string' || /^\s+$/.test(input)) return [];
  const lines = input.split('\n');
  const files: DiffFile[] = [];
  let file: DiffFile | null = null;
  let chunk: DiffChunk | null = null;
  // (typed by assertion: it is set inside the closures, which the narrowing does not follow)
  let hunk = null as HunkReader | null;

  const startFile = (line?: string) => {
    const [from, to] = parseFiles(line);
    file = { chunks: [], deletions: 0, additions: 0, from, to } as DiffFile;
    files.push(file);
  };
  const restart = () => {
    if (!file || file.chunks.length) startFile();
  };
  const noNewline = (line: string) => {
    if (!chunk) return;
    const last = chunk.changes[chunk.changes.length - 1];
    if (!last) return; // parse-diff throws here
    const c = last as { ln1?: number; ln2?: number; ln?: number };
    const copy: Record<string, unknown> = { type: last.type, [last.type]: true };
    copy.ln1 = c.ln1;
    copy.ln2 = c.ln2;
    copy.ln = c.ln;
    copy.content = line;
    chunk.changes.push(copy as unknown as DiffChange);
  };

  const header = (line: string) => {
    let m: RegExpExecArray | null;
    if (/^diff\s/.test(line)) startFile(line);
    else if ((m = /^new file mode (\d+)$/.exec(line))) {
      restart();
      file!.new = true;
      file!.newMode = m[1];
      file!.from = '/dev/null';
    } else if ((m = /^deleted file mode (\d+)$/.exec(line))) {
      restart();
      file!.deleted = true;
      file!.oldMode = m[1];
      file!.to = '/dev/null';
    } else if ((m = /^old mode (\d+)$/.exec(line))) {
      restart();
      file!.oldMode = m[1];
    } else if ((m = /^new mode (\d+)$/.exec(line))) {
      restart();
      file!.newMode = m[1];
    } else if ((m = /^index\s[\da-zA-Z]+\.\.[\da-zA-Z]+(\s(\d+))?$/.exec(line))) {
      restart();
      file!.index = line.split(' ').slice(1);
      if (m[1]) file!.oldMode = file!.newMode = m[1].trim();
    } else if (/^---\s/.test(line)) {
      restart();
      file!.from = parseOldOrNewFile(line);
    } else if (/^\+\+\+\s/.test(line)) {
      restart();
      file!.to = parseOldOrNewFile(line);
    } else {
      const h = readHunkHeader(line, 'loose');
      if (h) {
        if (!file) startFile(line);
        chunk = {
          content: line,
          changes: [],
          oldStart: h.oldStart,
          oldLines: h.oldLines,
          newStart: h.newStart,
          newLines: h.newLines,
        };
        hunk = new HunkReader(line, h, 0, 'parse-diff');
        file!.chunks.push(chunk);
      } else if (line === NO_NEWLINE_MARKER) noNewline(line);
    }
  };

  /** A line of the open hunk, numbered by the shared HunkReader. */
  const inHunk = (line: string) => {
    const taken = hunk!.read(line);
    if (taken === 'marker') noNewline(line);
    else if (taken?.kind === 'del') {
      chunk!.changes.push({ type: 'del', del: true, ln: taken.oldLine!, content: line });
      file!.deletions++;
    } else if (taken?.kind === 'add') {
      chunk!.changes.push({ type: 'add', add: true, ln: taken.newLine!, content: line });
      file!.additions++;
    } else if (taken) {
      const [ln1, ln2] = [taken.oldLine!, taken.newLine!];
      chunk!.changes.push({ type: 'normal', normal: true, ln1, ln2, content: line });
    }
  };

  for (const line of lines) {
    if (hunk?.open) inHunk(line);
    else header(line);
  }
  return files;
}

/**
 * A diff that git applied, read as parseUnifiedDiff does but with each file's
 * names as git read them at the strip level that applied it (`applied`: the
 * paths git was given, PatchApplyResult.files). parse-diff's own reading keeps
 * a date that has no time zone after a traditional name (`+++ b/x.c
 * 2025-01-10 12:00:00`) and the first component of prefixless names that
 * applied at -p1 (`--- linux.orig/x.c`), so rules and reports would see paths
 * the tree does not have. The names are left as they are when they already
 * are among `applied`, or when the diff's sections at neither level pair one
 * to one with parse-diff's files and name only applied paths.
 */
export function parseAppliedDiff(
  input: string | null | undefined,
  applied: readonly string[] | undefined,
): DiffFile[] {
  const files = parseUnifiedDiff(input);
  if (!input || !applied?.length || files.length === 0) return files;
  const known = new Set(applied);
  const isKnown = (name: string | undefined) =>
    name === undefined || name === '/dev/null' || known.has(name);
  if (files.every((f) => isKnown(f.from) && isKnown(f.to))) return files;
  for (const p of [1, 0]) {
    const { sections, error } = parseDiffSections(input, p);
    if (error !== null || sections.length !== files.length) continue;
    if (!sections.every((s) => sectionPaths(s).every((x) => known.has(x)))) continue;
    sections.forEach((s, i) => {
      const f = files[i]!;
      f.from = s.oldPath ?? (s.isNew ? '/dev/null' : f.from);
      f.to = s.newPath ?? (s.isDelete ? '/dev/null' : f.to);
    });
    break;
  }
  return files;
}
