// Turning `git apply`'s complaints into per-file conflicts with the hunk, the
// line and what did not match. Linear in the size of git's output and of the
// diff: sections are indexed by file once, hunks by (file, start line), and each
// file's lines are split once however many of its hunks fail (a hostile patch
// can carry tens of thousands of failing sections for one file).
import type { ApplyConflict } from '../types.js';
import type { DiffHunk } from '../util/diff/hunks.js';
import { unquoteC } from '../util/diff/names.js';
import type { DiffSection } from '../util/diff/sections.js';
import { evalInteger, tidyExpr } from '../kernel/c/expr.js';

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

/** A file's lines, and where each text occurs (indexed once per file, on first use). */
export class FileLines {
  private index: Map<string, number[]> | null = null;
  constructor(readonly lines: string[]) {}

  /** 0-based positions of `text`; null when more than `cap` (too common to say where a hunk is). */
  positions(text: string, cap: number): number[] | null {
    if (!this.index) {
      const index = new Map<string, number[]>();
      this.lines.forEach((l, i) => {
        const at = index.get(l);
        if (at) at.push(i);
        else index.set(l, [i]);
      });
      this.index = index;
    }
    const at = this.index.get(text) ?? [];
    return at.length > cap ? null : at;
  }
}

const SEARCH = {
  /** A preimage line found more often than this proposes no positions. */
  seedCap: 64,
  /** Positions tried per hunk. */
  candidates: 512,
};

const quote = (s: string): string => JSON.stringify(s.length > 160 ? `${s.slice(0, 157)}...` : s);

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** A line that can tell where a hunk is: more than blank space, braces and punctuation. */
const telling = (l: string): boolean => /[A-Za-z0-9_]{3}/.test(l);

/**
 * The longest run of preimage lines that match the file at alignment `s`:
 * [from, from+len), `telling` of them more than blank space and braces. Runs
 * are compared by their telling lines, then by length.
 */
function longestRun(
  pre: string[],
  file: string[],
  s: number,
): { from: number; len: number; telling: number } {
  let best = { from: 0, len: 0, telling: 0 };
  let cur = { from: 0, len: 0, telling: 0 };
  for (let i = 0; i < pre.length; i++) {
    if (s + i >= 0 && s + i < file.length && file[s + i] === pre[i]) {
      if (cur.len === 0) cur = { from: i, len: 0, telling: 0 };
      cur.len++;
      if (telling(pre[i]!)) cur.telling++;
      if (cur.telling > best.telling || (cur.telling === best.telling && cur.len > best.len))
        best = { ...cur };
    } else cur = { from: 0, len: 0, telling: 0 };
  }
  return best;
}

/**
 * Where the hunk's preimage matches the file best: the alignment with the
 * longest run of matching lines (counting those that are more than blank space
 * and braces first), the one nearest the header on a tie. Tried:
 * the header's position and every position a preimage line that is not too
 * common proposes. null when no two lines of the preimage (one of them more
 * than blank space and braces) are in the file in a row.
 */
function bestAlignment(
  pre: string[],
  file: FileLines,
  header: number,
): { s: number; run: { from: number; len: number; telling: number } } | null {
  const tried = new Set<number>([header]);
  for (const [i, text] of pre.entries()) {
    if (tried.size >= SEARCH.candidates) break;
    if (text.trim() === '') continue;
    for (const at of file.positions(text, SEARCH.seedCap) ?? []) {
      tried.add(at - i);
      if (tried.size >= SEARCH.candidates) break;
    }
  }
  let best: { s: number; run: { from: number; len: number; telling: number } } | null = null;
  for (const s of tried) {
    const run = longestRun(pre, file.lines, s);
    // One line, or only blank lines and braces, in a row says nothing about where the hunk is.
    if (run.len < 2 || run.telling === 0) continue;
    const nearer = best !== null && Math.abs(s - header) < Math.abs(best.s - header);
    if (
      !best ||
      run.telling > best.run.telling ||
      (run.telling === best.run.telling && run.len > best.run.len) ||
      (run.telling === best.run.telling && run.len === best.run.len && nearer)
    )
      best = { s, run };
  }
  return best;
}

const signed = (n: number): string => (n > 0 ? `+${n}` : `${n}`);

/** An enumerator's value as an integer: casts dropped, BIT() and shifts evaluated; null if not constant. */
function enumValue(expr: string): bigint | null {
  const bare = expr
    .replace(/\/\*.*?\*\//g, '')
    .replace(
      /\(\s*(?:__force\s+)?(?:const\s+)?[A-Za-z_]\w*(?:\s+[A-Za-z_]\w*)*\s*\)\s*(?=[(\w])/g,
      '',
    );
  return evalInteger(tidyExpr(bare));
}

const ENUMERATOR = /^\s*([A-Za-z_]\w*)\s*=\s*(.+?)\s*,?\s*(?:\/\*.*)?$/;

/**
 * For a hunk that adds enumerators: an added value the enum around line
 * `near` (0-based) already has in the tree, said as "bit 13 of enum
 * pci_dev_flags is taken: ... has it".
 */
function takenEnumValue(hunk: DiffHunk, file: string[], near: number): string | null {
  const added = hunk.lines
    .filter((l) => l[0] === '+')
    .map((l) => ENUMERATOR.exec(l.slice(1)))
    .filter((m): m is RegExpExecArray => m !== null);
  if (!added.length || file.length === 0) return null;
  // The enum's header above `near` (no top-level closing brace in between), its body below.
  let top = -1;
  for (let i = Math.min(near, file.length - 1); i >= 0 && i > near - 400; i--) {
    if (/^\s*(?:typedef\s+)?enum\b[^;()]*\{\s*$/.test(file[i]!)) {
      top = i;
      break;
    }
    if (/^\}/.test(file[i]!)) return null;
  }
  if (top < 0) return null;
  const name = /enum\s+([A-Za-z_]\w*)/.exec(file[top]!)?.[1];
  const values = new Map<bigint, { name: string; line: number }>();
  for (let i = top + 1; i < file.length && !/^\s*\}/.test(file[i]!); i++) {
    const m = ENUMERATOR.exec(file[i]!);
    const v = m ? enumValue(m[2]!) : null;
    if (m && v !== null && !values.has(v)) values.set(v, { name: m[1]!, line: i + 1 });
  }
  for (const m of added) {
    const v = enumValue(m[2]!);
    const taken = v === null ? undefined : values.get(v);
    if (v === null || !taken || taken.name === m[1]) continue;
    const bit = v > 0n && (v & (v - 1n)) === 0n ? v.toString(2).length - 1 : null;
    const what = bit !== null ? `bit ${bit}` : `the value ${m[2]!.trim()}`;
    return `${what} of enum ${name ?? '(anonymous)'} is taken: ${taken.name} (line ${taken.line}) has it, so ${m[1]} needs another`;
  }
  return null;
}

/** A preimage line the file has at least this often places nothing (`\tint ret;`). */
const COMMON_LINE = 3;

/**
 * The function the hunk's header names, where the file defines it (the
 * definition nearest the header): its definition line and closing brace,
 * 0-based; null when the header names none or the file has no such function.
 */
function headerFunction(
  hunk: DiffHunk,
  lines: string[],
  header: number,
): { name: string; from: number; to: number } | null {
  const context = /^@@ [^@]*@@(.*)$/.exec(hunk.header)?.[1] ?? '';
  const name = /([A-Za-z_]\w*)\s*\(/.exec(context)?.[1];
  if (!name || /^(?:if|for|while|switch|return|sizeof)$/.test(name)) return null;
  const def = new RegExp(`^(?:[A-Za-z_][\\w \\t*]*?[\\s*])?${name}\\s*\\((?!.*;\\s*$)`);
  let from = -1;
  lines.forEach((l, i) => {
    if (def.test(l) && (from < 0 || Math.abs(i - header) < Math.abs(from - header))) from = i;
  });
  if (from < 0) return null;
  const close = lines.findIndex((l, i) => i > from && /^\}/.test(l));
  return { name, from, to: close < 0 ? from : close };
}

/**
 * Why a hunk does not apply, and the line of the tree that did not match:
 * where its preimage matches best (bestAlignment), the first line there that
 * differs, quoted with the line after it. `full` false compares at the
 * header's position only (for a patch with thousands of failing hunks).
 */
export function describeMismatch(
  hunk: DiffHunk,
  file: FileLines | null,
  full = true,
): { line?: number; reason: string } {
  if (file === null) return { reason: 'the file is not in the tree' };
  const lines = file.lines;
  const pre = hunk.lines.filter((l) => l[0] !== '+').map((l) => l.slice(1));
  const header = Math.max(hunk.oldStart - 1, 0);
  const best = full && pre.length ? bestAlignment(pre, file, header) : null;
  // A best place held only by lines the file is full of ("\tint ret;" and a
  // blank line) says nothing; when the function the header names is in the
  // file, away from there, and has none of the hunk's context, say so at it.
  const fn = full && pre.some(telling) ? headerFunction(hunk, lines, header) : null;
  if (fn) {
    const weak =
      !best ||
      pre
        .slice(best.run.from, best.run.from + best.run.len)
        .filter(telling)
        .every((l) => file.positions(l, COMMON_LINE - 1) === null);
    const body = new Set(lines.slice(fn.from, fn.to + 1));
    const outside = !best || best.s + best.run.from > fn.to || best.s + best.run.len < fn.from;
    if (weak && outside && !pre.some((l) => telling(l) && body.has(l))) {
      const want = pre.find(telling)!;
      return {
        line: fn.from + 1,
        reason:
          `none of its context is in ${fn.name}() at ${fn.from + 1}-${fn.to + 1}, the function ` +
          `its header names: expected ${quote(want)} there`,
      };
    }
  }
  const s = best?.s ?? header;
  const from = (n: number) => (n === 0 ? 'where the header says' : `${signed(n)} from the header`);
  if (best && best.run.len === pre.length) {
    return {
      line: s + 1,
      reason:
        `its context matches at ${s + 1}-${s + pre.length} (${from(s - header)}), ` +
        'but git could not place it there (another hunk of the patch changes those lines)',
    };
  }
  let at = -1;
  for (let i = 0; i < pre.length && at < 0; i++)
    if (s + i < 0 || s + i >= lines.length || lines[s + i] !== pre[i]) at = i;
  const parts: string[] = [];
  if (best) {
    const a = s + best.run.from + 1;
    const b = a + best.run.len - 1;
    const part = `${best.run.len} of ${pre.length} lines`;
    parts.push(
      `its context matches best at ${a === b ? a : `${a}-${b}`} (${part}, ${from(s - header)})`,
    );
  } else if (full && pre.some((l) => l.trim() !== '')) {
    parts.push('no two lines of its context are anywhere in the file in a row');
  }
  if (at < 0) return { reason: parts.join('; ') || 'git could not place it' };
  // The context above the best run differs: say it from the run upwards, as a
  // line the tree gained or lost there, not as a mismatch at the top of the
  // hunk, which the run's offset would report one line off (a label the tree
  // added between two context lines read as "expected X, found }").
  const above = best && best.run.from > 0 ? differenceAbove(pre, lines, s, best.run.from) : null;
  if (above) {
    parts.push(above.reason);
    return { line: above.line, reason: parts.join('; ') };
  }
  const want = pre[at]!;
  const n = s + at;
  let found: string;
  if (n < 0) found = 'before the start of the file';
  else if (n >= lines.length) found = `but the file has only ${lines.length} lines`;
  else {
    const have = lines[n]!;
    found = `found ${quote(have)}`;
    if (squash(have) === squash(want)) found += ' (differs only in whitespace)';
    else if (n + 1 < lines.length && lines[n + 1] !== pre[at + 1])
      found += `, then ${quote(lines[n + 1]!)}`;
  }
  parts.push(`expected ${quote(want)} at ${n + 1}, ${found}`);
  const taken = takenEnumValue(hunk, lines, Math.max(0, Math.min(n, lines.length - 1)));
  if (taken) parts.push(taken);
  return n >= 0 && n < lines.length
    ? { line: n + 1, reason: parts.join('; ') }
    : { reason: parts.join('; ') };
}

/** How far a gained or lost run of lines is looked for. */
const SHIFT_MAX = 3;

/**
 * Walking up from the best run (preimage index `from` at file line `s +
 * from`), the first difference: lines the tree has that the context lacks,
 * lines of the context the tree lacks, or one line changed. A shift counts
 * only when the context goes on matching above it (two lines, or the top of
 * the preimage). null when the walk reaches the top matching.
 */
function differenceAbove(
  pre: string[],
  lines: string[],
  s: number,
  from: number,
): { line: number; reason: string } | null {
  let i = from - 1;
  let f = s + from - 1;
  while (i >= 0 && f >= 0 && pre[i] === lines[f]) {
    i--;
    f--;
  }
  if (i < 0) return null;
  if (f < 0) return null;
  const resumes = (pi: number, fi: number): boolean =>
    fi >= 0 && pre[pi] === lines[fi] && (pi === 0 || (fi > 0 && pre[pi - 1] === lines[fi - 1]));
  const many = (n: number, what: string) => (n === 1 ? `a ${what}` : `${n} ${what}s`);
  for (let k = 1; k <= SHIFT_MAX; k++) {
    if (resumes(i, f - k)) {
      const gained = lines.slice(f - k + 1, f + 1);
      const where = k === 1 ? `${f + 1}` : `${f - k + 2}-${f + 1}`;
      return {
        line: f - k + 2,
        reason:
          `the tree has ${many(k, 'line')} there that its context lacks: ` +
          `${gained.map(quote).join(', ')} at ${where}`,
      };
    }
    if (i - k >= 0 && resumes(i - k, f)) {
      const lost = pre.slice(i - k + 1, i + 1);
      return {
        line: f + 2,
        reason:
          `its context has ${many(k, 'line')} the tree lacks above ${f + 2}: ` +
          lost.map(quote).join(', '),
      };
    }
  }
  let changed = `expected ${quote(pre[i]!)} at ${f + 1}, found ${quote(lines[f]!)}`;
  if (squash(lines[f]!) === squash(pre[i]!)) changed += ' (differs only in whitespace)';
  return { line: f + 1, reason: changed };
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
  const linesOf = new Map<string, Promise<FileLines | null>>();
  const fileLines = (file: string): Promise<FileLines | null> => {
    let p = linesOf.get(file);
    if (!p) {
      p = content(file).then((text) => {
        if (text === null) return null;
        const lines = text.split('\n');
        if (text.endsWith('\n')) lines.pop();
        return new FileLines(lines);
      });
      linesOf.set(file, p);
    }
    return p;
  };
  // The best-position search for the first hunks (the ones a report shows); the rest
  // are compared where their header says, so thousands of failing hunks stay linear.
  let searches = 0;
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
      const why = describeMismatch(found.hunk, await fileLines(file), searches++ < 20);
      out.push({
        file,
        hunk: found.hunk.header,
        line: why.line ?? line,
        reason: `hunk #${found.n} does not apply: ${why.reason}`,
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
