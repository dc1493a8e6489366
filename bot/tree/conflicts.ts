// Turning `git apply`'s complaints into per-file conflicts with the hunk, the
// line and what did not match. Linear in the size of git's output and of the
// diff: sections are indexed by file once, hunks by (file, start line), and each
// file's lines are split once however many of its hunks fail (a hostile patch
// can carry tens of thousands of failing sections for one file).
import type { ApplyConflict } from '../types.js';
import type { DiffHunk, DiffSection } from './diffnames.js';
import { unquoteC } from './diffnames.js';

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
  /new mode \(\d+\) of .* does not match old mode/,
];

function gitLineNumber(msg: string): number | null {
  const m = /(?:at|on) line (\d+)|\(line (\d+)\)|at [^:\s]*:(\d+)/.exec(msg);
  const n = m?.[1] ?? m?.[2] ?? m?.[3];
  return n === undefined ? null : Number(n);
}

/** The `error:`/`fatal:` lines of git's stderr, without the prefix. */
export function errorLines(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stderr.split('\n')) {
    const l = raw.trim();
    const m = /^(?:error|fatal):\s*/.exec(l);
    if (m) out.push(l.slice(m[0].length));
  }
  return out;
}

/** If git refused the patch as unparsable, say why (with the offending diff line). */
export function malformedReason(stderr: string, diff: string): string | null {
  for (const msg of errorLines(stderr)) {
    if (!MALFORMED.some((re) => re.test(msg))) continue;
    const n = gitLineNumber(msg);
    let text: string | undefined;
    if (n !== null && n >= 1) {
      // Find line n without splitting the whole diff.
      let at = 0;
      for (let k = 1; k < n && at >= 0; k++) {
        at = diff.indexOf('\n', at);
        if (at >= 0) at++;
      }
      if (at >= 0 && at <= diff.length) {
        const end = diff.indexOf('\n', at);
        text = diff.slice(at, end < 0 ? diff.length : end);
      }
    }
    return text !== undefined ? `${msg} (diff line ${n}: ${JSON.stringify(text)})` : msg;
  }
  return null;
}

const preimage = (h: DiffHunk): string[] =>
  h.lines.filter((l) => l[0] !== '+').map((l) => l.slice(1));

/**
 * stderr of `git apply --verbose` without the "while searching for:" blocks:
 * git prints a failed hunk's preimage there, the patch's own text, which may
 * hold lines that read like git's errors. A block is the preimage of a hunk of
 * the section being checked, followed by git's "patch failed" for that hunk;
 * when no hunk fits, everything up to the next "patch failed" goes.
 */
export function withoutSearchBlocks(stderr: string, sections: DiffSection[]): string {
  if (!stderr.includes('error: while searching for:')) return stderr;
  const lines = stderr.split('\n');
  const out: string[] = [];
  let cur = -1;
  let next = 0; // hunks of the current section before this one cannot be the failing one
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^Checking patch .*\.\.\.$/.test(l)) {
      cur++;
      next = 0;
    }
    const m = /^Hunk #(\d+) succeeded at /.exec(l);
    if (m) next = Math.max(next, Number(m[1]));
    if (l !== 'error: while searching for:') {
      out.push(l);
      continue;
    }
    const hunks = sections[cur]?.hunks ?? [];
    let skip: number | null = null;
    for (let k = next; k < hunks.length && skip === null; k++) {
      const h = hunks[k]!;
      const pre = preimage(h);
      // The preimage ends with a newline, and git's error() adds another: an empty line.
      const gap = lines[i + 1 + pre.length] === '' ? 1 : 0;
      const after = lines[i + 1 + pre.length + gap];
      if (after === undefined || !after.startsWith('error: patch failed: ')) continue;
      if (!after.endsWith(`:${h.oldStart}`)) continue;
      if (pre.every((p, j) => lines[i + 1 + j] === p)) {
        skip = pre.length + gap;
        next = k + 1;
      }
    }
    if (skip === null) {
      skip = 0;
      while (
        i + 1 + skip < lines.length &&
        !lines[i + 1 + skip]!.startsWith('error: patch failed: ')
      )
        skip++;
    }
    i += skip;
  }
  return out.join('\n');
}

/** A file name as git prints it in a message: C-quoted when unusual. */
function gitName(s: string): string {
  return s.startsWith('"') ? (unquoteC(s)?.name ?? s) : s;
}

/** Where a hunk stops matching the file: the first preimage line that differs at the expected place. */
function firstMismatch(hunk: DiffHunk, fileLines: string[] | null): string {
  if (fileLines === null) return 'the file is not in the tree';
  const start = Math.max(hunk.oldStart - 1, 0);
  let i = 0;
  for (const l of hunk.lines) {
    if (l[0] === '+') continue;
    const want = l.slice(1);
    const at = start + i++;
    if (at >= fileLines.length) {
      return `expected ${JSON.stringify(want)} at line ${at + 1}, but the file has only ${fileLines.length} lines`;
    }
    const have = fileLines[at]!;
    if (have !== want) {
      const loose = have.replace(/\s+/g, ' ').trim() === want.replace(/\s+/g, ' ').trim();
      return (
        `expected ${JSON.stringify(want)} at line ${at + 1}, found ${JSON.stringify(have)}` +
        (loose ? ' (differs only in whitespace)' : '') +
        '; no other position in the file matches either'
      );
    }
  }
  return 'the context matches here only with surrounding changes git could not place';
}

/** The hunks of each file, numbered per file, found by start line in order of use. */
class HunkIndex {
  private byFile: Map<string, DiffHunk[]> | null = null;
  private byStart = new Map<string, Map<number, { hunks: DiffHunk[]; next: number }>>();
  private ordinal = new Map<DiffHunk, number>();

  constructor(private readonly sections: DiffSection[]) {}

  private build(): Map<string, DiffHunk[]> {
    const byFile = new Map<string, DiffHunk[]>();
    for (const s of this.sections) {
      const names = new Set([s.oldPath, s.newPath].filter((n): n is string => n !== null));
      for (const name of names) {
        let list = byFile.get(name);
        if (!list) byFile.set(name, (list = []));
        for (const h of s.hunks) list.push(h);
      }
    }
    for (const [file, hunks] of byFile) {
      const starts = new Map<number, { hunks: DiffHunk[]; next: number }>();
      hunks.forEach((h, i) => {
        if (!this.ordinal.has(h)) this.ordinal.set(h, i + 1);
        let e = starts.get(h.oldStart);
        if (!e) starts.set(h.oldStart, (e = { hunks: [], next: 0 }));
        e.hunks.push(h);
      });
      this.byStart.set(file, starts);
    }
    return byFile;
  }

  /** The next not yet reported hunk of `file` starting at `line` (git reports them in order). */
  take(file: string, line: number): { hunk: DiffHunk; n: number } | null {
    this.byFile ??= this.build();
    const e = this.byStart.get(file)?.get(line);
    if (!e) return null;
    const hunk = e.hunks[Math.min(e.next, e.hunks.length - 1)]!;
    e.next++;
    return { hunk, n: this.ordinal.get(hunk)! };
  }
}

/**
 * Conflicts from the stderr of a failed `git apply`. `content` gives a file's
 * text in the state the patch was applied to (null: not in the tree); it is
 * called at most once per file.
 */
export async function conflictsFrom(
  stderr: string,
  sections: DiffSection[],
  files: string[],
  content: (file: string) => Promise<string | null>,
): Promise<ApplyConflict[]> {
  const out: ApplyConflict[] = [];
  const failedAt = new Map<string, number>();
  const index = new HunkIndex(sections);
  const allFiles =
    files.length === 1
      ? files[0]!
      : files.length <= 10
        ? files.join(', ')
        : `${files.slice(0, 10).join(', ')} and ${files.length - 10} more`;
  const linesOf = new Map<string, Promise<string[] | null>>();
  const fileLines = (file: string): Promise<string[] | null> => {
    let p = linesOf.get(file);
    if (!p) {
      p = content(file).then((text) => {
        if (text === null) return null;
        const lines = text.split('\n');
        if (text.endsWith('\n')) lines.pop();
        return lines;
      });
      linesOf.set(file, p);
    }
    return p;
  };
  for (const msg of errorLines(stderr)) {
    let m: RegExpExecArray | null;
    if ((m = /^patch failed: (.*):(\d+)$/.exec(msg))) {
      failedAt.set(gitName(m[1]!), Number(m[2]));
      continue;
    }
    if ((m = /^(.*): patch does not apply$/.exec(msg))) {
      const file = gitName(m[1]!);
      const line = failedAt.get(file);
      failedAt.delete(file);
      if (line === undefined) {
        out.push({ file, reason: 'patch does not apply' });
        continue;
      }
      const found = index.take(file, line);
      if (!found) {
        out.push({ file, line, reason: `hunk at line ${line} does not apply` });
        continue;
      }
      out.push({
        file,
        hunk: found.hunk.header,
        line,
        reason: `hunk #${found.n} does not apply: ${firstMismatch(found.hunk, await fileLines(file))}`,
      });
      continue;
    }
    if ((m = /^(.*): does not exist in index$/.exec(msg))) {
      out.push({
        file: gitName(m[1]!),
        reason: 'the patch changes a file that is not in the tree',
      });
      continue;
    }
    if ((m = /^(.*): already exists in index$/.exec(msg))) {
      out.push({
        file: gitName(m[1]!),
        reason: 'the patch creates a file that already exists in the tree',
      });
      continue;
    }
    if ((m = /^(.*): wrong type$/.exec(msg))) {
      out.push({
        file: gitName(m[1]!),
        reason: 'the file has a different type in the tree (file, symlink or submodule)',
      });
      continue;
    }
    if ((m = /^(.*) has type (\d+), expected (\d+)$/.exec(msg))) {
      out.push({
        file: gitName(m[1]!),
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
    out.push({ file: allFiles, reason: msg });
  }
  if (out.length === 0) {
    out.push({
      file: allFiles,
      reason: stderr.trim().split('\n').pop() || 'git apply failed',
    });
  }
  return out;
}
