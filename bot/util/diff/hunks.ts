// The one model of a unified-diff hunk: its `@@` header, its body lines with
// their kind and their line numbers on both sides, and the `\ No newline at end
// of file` marker. Every reader of diffs in pcibot (git apply's view in
// sections.ts, the reader's view in files.ts and what reads through it, the
// rules' parse-diff port in bot/mail/diffparse.ts, the end of a mail's diff in
// bot/mail/body.ts) walks hunks with HunkReader, so they agree on where a
// hunk ends and which line is which: a `--- x` inside a hunk is a removed line,
// never a file header, because the header's counts say the hunk is not over.

/** The numbers of a `@@ -oldStart,oldLines +newStart,newLines @@` line (a missing count is 1). */
export interface HunkHeader {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** What follows the closing `@@` (git puts the enclosing function there). */
  section: string;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
/** `\s` of a JS regex, for the loose header form. */
const isRegexSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);

/**
 * Read a hunk header by hand (linear, no backtracking on a hostile line).
 * `git`: exactly `@@ -a[,b] +c[,d] @@`, as git writes and reads it.
 * `loose`: parse-diff's form, `@@\s+-a,?b?\s+\+c,?d?\s@@` (any run of blanks,
 * the comma optional), which the rules have always read.
 */
export function readHunkHeader(line: string, form: 'git' | 'loose' = 'git'): HunkHeader | null {
  if (!line.startsWith('@@')) return null;
  let i = 2;
  const blanks = (): boolean => {
    if (form === 'git') return line[i] === ' ' ? (i++, true) : false;
    if (!isRegexSpace(line[i])) return false;
    while (isRegexSpace(line[i])) i++;
    return true;
  };
  const num = (): string => {
    const start = i;
    while (isDigit(line[i])) i++;
    return line.slice(start, i);
  };
  /** `N[,M]`: the start and the count (1 when absent or, in the loose form, empty). */
  const range = (): [number, number] | null => {
    const start = num();
    if (start === '') return null;
    if (line[i] !== ',') return [Number(start), 1];
    i++;
    const count = num();
    if (count === '' && form === 'git') return null;
    return [Number(start), count === '' ? 1 : Number(count)];
  };
  if (!blanks() || line[i] !== '-') return null;
  i++;
  const old = range();
  if (!old || !blanks() || line[i] !== '+') return null;
  i++;
  const neu = range();
  if (!neu) return null;
  // The loose form wants exactly one blank before the closing `@@`.
  if (form === 'git' ? line[i] !== ' ' : !isRegexSpace(line[i])) return null;
  i++;
  if (!line.startsWith('@@', i)) return null;
  return {
    oldStart: old[0],
    oldLines: old[1],
    newStart: neu[0],
    newLines: neu[1],
    section: line.slice(i + 2),
  };
}

export type HunkLineKind = 'context' | 'add' | 'del';

/** One body line of a hunk. */
export interface HunkLine {
  kind: HunkLineKind;
  /** The line as written, marker included (an empty line is a context line whose text is ''). */
  raw: string;
  /** Line number in the file before the patch (context and removed lines), else null. */
  oldLine: number | null;
  /** Line number in the file after the patch (context and added lines), else null. */
  newLine: number | null;
  /** A `\ No newline at end of file` marker follows: this line has no newline in its file. */
  noNewline: boolean;
  /**
   * 1-based line in the text the hunk was read from: the header's line plus the
   * lines read since, markers included (so a renderer can find each line's kind
   * and numbers without walking the hunk again).
   */
  diffLine: number;
}

export interface DiffHunk extends HunkHeader {
  /** The `@@ ... @@` line as written. */
  header: string;
  /** 1-based line of the header in the text it was read from. */
  line: number;
  /** The body lines, numbered, without the `\ No newline` markers. */
  body: HunkLine[];
  /** The same lines as written (` `, `-`, `+`, empty): what most callers match text against. */
  lines: string[];
}

/** The exact marker git writes; parse-diff accepts only this one. */
export const NO_NEWLINE_MARKER = '\\ No newline at end of file';

/**
 * Walks the body of one hunk line by line, counting down the header's counts.
 * `git`: a body line starts with ' ', '-', '+' or is empty (a context line whose
 * blank was lost in transit); `\` lines are markers; anything else ends the hunk
 * early (a truncated hunk). `parse-diff`: only the exact marker is a marker, and
 * any line that is not '-' or '+' is context, as the rules have always read it.
 */
export class HunkReader {
  readonly hunk: DiffHunk;
  private oldLeft: number;
  private newLeft: number;
  private oldNext: number;
  private newNext: number;
  /** parse-diff's end of a hunk: both counts reached exactly zero after a line. */
  private done = false;
  /** The text's line number of the next line taken (body line or marker). */
  private nextDiffLine: number;

  /** The last body line taken (the one a marker marks), kept or not. */
  private lastTaken: HunkLine | null = null;

  /**
   * `keepBody: false`: only count, leaving `hunk.body` and `hunk.lines` empty,
   * for a caller that wants to know where the hunk ends (a mail's diff can be a
   * million lines; keeping an object a line would cost hundreds of MB).
   */
  constructor(
    header: string,
    h: HunkHeader,
    line: number,
    private readonly form: 'git' | 'parse-diff' = 'git',
    private readonly keepBody = true,
  ) {
    // Fields spelled out, not spread: one of these is made for every hunk of every mail.
    this.hunk = {
      oldStart: h.oldStart,
      oldLines: h.oldLines,
      newStart: h.newStart,
      newLines: h.newLines,
      section: h.section,
      header,
      line,
      body: [],
      lines: [],
    };
    this.oldLeft = h.oldLines;
    this.newLeft = h.newLines;
    this.oldNext = h.oldStart;
    this.newNext = h.newStart;
    this.nextDiffLine = line + 1;
  }

  /**
   * Lines are still due. git: on either side. parse-diff: until a line leaves
   * both counts at exactly zero (so a hunk that overruns a count never ends,
   * and one announced as `-1,0 +1,0` still takes the next line).
   */
  get open(): boolean {
    if (this.form === 'parse-diff') return !this.done;
    return this.oldLeft > 0 || this.newLeft > 0;
  }

  /** A no-newline marker line (in the form's sense). */
  isMarker(line: string): boolean {
    return this.form === 'git' ? line[0] === '\\' : line === NO_NEWLINE_MARKER;
  }

  /**
   * Take `line` as the hunk's next line: the line taken, 'marker' for a
   * no-newline marker (which marks the last line taken, and is taken even once
   * the counts are done), or null when the line does not belong to the hunk.
   */
  read(line: string): HunkLine | 'marker' | null {
    if (this.isMarker(line)) {
      if (this.lastTaken) this.lastTaken.noNewline = true;
      this.nextDiffLine++;
      // parse-diff checks its counts after a marker too (a `-1,0 +1,0` hunk ends here).
      if (this.oldLeft === 0 && this.newLeft === 0) this.done = true;
      return 'marker';
    }
    if (!this.open) return null;
    const c = line[0];
    let kind: HunkLineKind;
    if (c === '-') kind = 'del';
    else if (c === '+') kind = 'add';
    else if (this.form === 'parse-diff' || c === ' ' || line === '') kind = 'context';
    else return null;
    const taken: HunkLine = {
      kind,
      raw: line,
      oldLine: kind === 'add' ? null : this.oldNext++,
      newLine: kind === 'del' ? null : this.newNext++,
      noNewline: false,
      diffLine: this.nextDiffLine++,
    };
    if (kind !== 'add') this.oldLeft--;
    if (kind !== 'del') this.newLeft--;
    this.lastTaken = taken;
    if (this.keepBody) {
      this.hunk.body.push(taken);
      this.hunk.lines.push(line);
    }
    if (this.oldLeft === 0 && this.newLeft === 0) this.done = true;
    return taken;
  }

  /** Drop what is still due: the caller reads on as headers (a truncated hunk). */
  close(): void {
    this.oldLeft = this.newLeft = 0;
    this.done = true;
  }
}
