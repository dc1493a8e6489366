// Reading a decoded patch mail body the way git mailinfo/am and b4 do: the
// commit message up to `---`, the diff (exactly the lines git apply needs, found
// by following hunk line counts so a `-- ` removed line is not taken for the
// signature), the trailers, and b4's `base-commit:` / `change-id:` /
// `prerequisite-*:` lines.
import type { Prerequisite, Trailer } from '../types.js';
import { HunkReader, readHunkHeader } from '../util/diff/hunks.js';
import { lineEnd, lineFrom, nextLineStart, prevLineStart } from '../util/text.js';

/** git's patch break: a line `---` (trailing whitespace tolerated). */
const SEPARATOR = /^---[ \t]*$/;
const EXT_HEADER =
  /^(?:old mode|new mode|deleted file mode|new file mode|copy from|copy to|rename from|rename to|similarity index|dissimilarity index|index) /;
const BASE85 = /^[A-Za-z][0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]*$/;

// The body is read line by line in place (offsets into it, bot/util/text.ts),
// never split into an array of lines: a mail of 30 MB of newlines made
// 30-million-slot arrays here, one per reader, and cost over 1 GB. A line is
// named by its start offset; END (body.length + 1) is "past the last line".

/** Does a diff start at the line starting at `at` (whose text is `line`)? (quoted `>` lines never do) */
function diffStartsAt(body: string, at: number, line: string): boolean {
  if (line.length < 4) return false; // (every start below is longer; most lines are blank)
  if (line.startsWith('diff --git ') || /^diff -[a-zA-Z]/.test(line)) return true;
  if (line.startsWith('Index: ')) {
    const next = lineFrom(body, nextLineStart(body, at));
    return /^={20,}$/.test(next) || next.startsWith('--- ');
  }
  if (line.startsWith('--- ') && !SEPARATOR.test(line)) {
    const second = nextLineStart(body, at);
    return (
      lineFrom(body, second).startsWith('+++ ') &&
      readHunkHeader(lineFrom(body, nextLineStart(body, second))) !== null
    );
  }
  return false;
}

/** Start of the last line that belongs to the diff starting at `start` (line number `lineNo`), or -1. */
function diffEnd(body: string, start: number, lineNo: number): number {
  const END = body.length + 1;
  let last = -1;
  // The open hunk: it takes the lines its header counts (an empty line is a
  // context line whose space a mailer stripped; git apply accepts it).
  let hunk: HunkReader | null = null;
  let at = start;
  let n = lineNo;
  while (at < END) {
    const line = lineFrom(body, at);
    const next = nextLineStart(body, at);
    if (hunk?.open) {
      if (hunk.read(line) === null) break; // a truncated hunk ends the diff here
      last = at;
      at = next;
      n++;
      continue;
    }
    const header = readHunkHeader(line);
    if (header) {
      hunk = new HunkReader(line, header, n, 'git', false);
      last = at;
      at = next;
      n++;
      continue;
    }
    if (
      line.startsWith('diff ') ||
      EXT_HEADER.test(line) ||
      line.startsWith('\\ ') ||
      /^Binary files .* differ$/.test(line) ||
      (line.startsWith('Index: ') && diffStartsAt(body, at, line)) ||
      /^={20,}$/.test(line)
    ) {
      last = at;
      at = next;
      n++;
      continue;
    }
    if (
      line.startsWith('--- ') &&
      !SEPARATOR.test(line) &&
      lineFrom(body, next).startsWith('+++ ')
    ) {
      last = next;
      at = nextLineStart(body, next);
      n += 2;
      continue;
    }
    if (line === 'GIT binary patch') {
      // literal/delta blocks of base85 lines, each block ended by an empty line
      let prev = at;
      let j = next;
      const step = () => {
        prev = j;
        j = nextLineStart(body, j);
        n++;
      };
      n++;
      while (j < END && /^(?:literal|delta) \d+$/.test(lineFrom(body, j))) {
        step();
        let l: string;
        while (j < END && (l = lineFrom(body, j)) !== '' && BASE85.test(l)) step();
        if (j < END && lineFrom(body, j) === '') step();
      }
      last = prev;
      at = j;
      continue;
    }
    break;
  }
  return last;
}

export interface ExtractedDiff {
  commitMessage: string;
  diff: string | null;
  /** 1-based line in the body where the diff starts. */
  diffLine: number | null;
}

/** Where the parts of the body are, as line start offsets. */
interface BodyLayout {
  /** First line after the commit message (the `---` or the diff start, or END). */
  messageEnd: number;
  diffStart: number | null;
  /** 1-based line number of diffStart. */
  diffLine: number | null;
  /** Last diff line, inclusive. */
  diffLast: number | null;
}

function layout(body: string): BodyLayout {
  const END = body.length + 1;
  let messageEnd = END;
  let searchFrom = END;
  let searchLine = 0;
  // (each line's end is its '\n', so the next line starts one past it)
  for (let at = 0, end = 0, n = 1; at < END; at = end + 1, n++) {
    end = lineEnd(body, at);
    const line = body.slice(at, end);
    if (line.startsWith('---') && SEPARATOR.test(line)) {
      messageEnd = at;
      searchFrom = end + 1;
      searchLine = n + 1;
      break;
    }
    if (diffStartsAt(body, at, line)) {
      messageEnd = searchFrom = at;
      searchLine = n;
      break;
    }
  }
  let diffStart: number | null = null;
  let diffLine: number | null = null;
  for (let at = searchFrom, end = 0, n = searchLine; at < END; at = end + 1, n++) {
    end = lineEnd(body, at);
    if (diffStartsAt(body, at, body.slice(at, end))) {
      diffStart = at;
      diffLine = n;
      break;
    }
  }
  let diffLast: number | null = null;
  if (diffStart !== null) {
    diffLast = diffEnd(body, diffStart, diffLine!);
    // A bare header with nothing after it (e.g. `diff -u` quoted in prose) is no diff.
    if (diffLast < diffStart) diffStart = diffLine = diffLast = null;
  }
  return { messageEnd, diffStart, diffLine, diffLast };
}

/** In-body `From:`/`Date:`/`Subject:` lines at the top (git send-email for another author); git am drops them. */
function inBodyHeaderEnd(body: string, end: number): number {
  let at = 0;
  while (at < end && /^(?:From|Date|Subject): /.test(lineFrom(body, at)))
    at = nextLineStart(body, at);
  if (at > 0 && at < end && lineFrom(body, at) === '') return nextLineStart(body, at);
  return 0;
}

export function extractDiff(body: string): ExtractedDiff {
  const l = layout(body);
  const from = inBodyHeaderEnd(body, l.messageEnd);
  // The message ends before the blank lines in front of messageEnd.
  let end = l.messageEnd;
  while (end > from && lineFrom(body, prevLineStart(body, end)).trim() === '')
    end = prevLineStart(body, end);
  // Slices of the body, not joined copies of its lines: a message costs its
  // body once in memory, however it is cut up.
  /** The lines from the one starting at `first` to the one starting at `last`, with a newline after each. */
  const span = (first: number, last: number) => {
    const stop = lineEnd(body, last);
    return stop < body.length ? body.slice(first, stop + 1) : body.slice(first, stop) + '\n';
  };
  const commitMessage = end > from ? span(from, prevLineStart(body, end)) : '';
  if (l.diffStart === null || l.diffLast === null)
    return { commitMessage, diff: null, diffLine: null };
  return { commitMessage, diff: span(l.diffStart, l.diffLast), diffLine: l.diffLine };
}

export interface B4Info {
  baseCommit: string | null;
  changeId: string | null;
  prerequisites: Prerequisite[];
  warnings: string[];
}

// No lazy `(\S.*?)[ \t]*$`: on a line with a long run of blanks inside it, every
// extension of the lazy group rescans the run (quadratic). Match greedily, trim after.
const B4_LINE = /^(base-commit|change-id|prerequisite-[a-z-]+):[ \t]*(\S.*)$/;

/** Remove trailing spaces and tabs (what a `[ \t]*$` tail in a regex would, in linear time). */
function trimBlanksEnd(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** base-commit / change-id / prerequisite-* lines outside the diff and outside quoted text. */
export function readB4Info(body: string): B4Info {
  const l = layout(body);
  const info: B4Info = { baseCommit: null, changeId: null, prerequisites: [], warnings: [] };
  const END = body.length + 1;
  for (let at = 0, end = 0; at < END; at = end + 1) {
    if (l.diffStart !== null && l.diffLast !== null && at === l.diffStart) {
      end = lineEnd(body, l.diffLast);
      continue;
    }
    end = lineEnd(body, at);
    readB4Line(info, body.slice(at, end));
  }
  return info;
}

/** One line's base-commit / change-id / prerequisite-*, into `info`. */
function readB4Line(info: B4Info, line: string): void {
  const m = B4_LINE.exec(line);
  if (!m) return;
  const key = m[1]!;
  const value = trimBlanksEnd(m[2]!);
  if (key === 'base-commit') {
    if (!/^[0-9a-f]{7,64}$/i.test(value)) {
      info.warnings.push(`base-commit "${value}" is not a commit id; ignored`);
      return;
    }
    if (info.baseCommit === null) info.baseCommit = value.toLowerCase();
    info.prerequisites.push({ kind: 'base-commit', value: value.toLowerCase() });
  } else if (key === 'change-id') {
    if (info.changeId === null) info.changeId = value;
  } else if (key === 'prerequisite-patch-id') {
    info.prerequisites.push({ kind: 'patch-id', value });
  } else if (key === 'prerequisite-change-id') {
    info.prerequisites.push({ kind: 'change-id', value });
  } else if (key === 'prerequisite-message-id') {
    info.prerequisites.push({ kind: 'message-id', value: value.replace(/^<|>$/g, '') });
  } else {
    info.prerequisites.push({ kind: 'other', value: `${key}: ${value}` });
  }
}

/** Trailer keys seen on kernel patches; a paragraph made only of these is a trailer block. */
const KNOWN_KEYS = new Set(
  [
    'signed-off-by',
    'reviewed-by',
    'acked-by',
    'tested-by',
    'reported-by',
    'suggested-by',
    'fixes',
    'link',
    'closes',
    'cc',
    'co-developed-by',
    'reported-and-tested-by',
    'requested-by',
    'debugged-by',
    'originally-by',
    'based-on-patch-by',
    'bisected-by',
    'analyzed-by',
    'helped-by',
    'message-id',
    'nacked-by',
    'stable-dep-of',
    'upstream',
  ].map((k) => k.toLowerCase()),
);

const TRAILER_LINE = /^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(\S.*)$/;
/** Maintainer notes between trailers: `[bhelgaas: reword commit log]`. */
const NOTE_LINE = /^\[.*\]$/;

interface TrailerRules {
  /** Keys outside KNOWN_KEYS are accepted. */
  anyKey: boolean;
  /** Non-trailer lines tolerated per trailer line (git interpret-trailers tolerates a few). */
  otherRatio: number;
}

/** A paragraph: the lines from `start` up to (not including) `end`, line starts; `line` is the first's index. */
interface Paragraph {
  start: number;
  end: number;
  line: number;
}

/** Is the line starting at `at` blank (what separates paragraphs)? */
function blankLine(text: string, at: number): boolean {
  return lineFrom(text, at).trim() === '';
}

/**
 * The nearest paragraph above the line starting at `before` (whose index is
 * `lineNo`), or null. Walked backwards in place: only the last paragraphs are
 * read, and a run of a million blank lines is not an array of them.
 */
function paragraphAbove(text: string, before: number, lineNo: number): Paragraph | null {
  let at = before;
  let line = lineNo;
  while (at > 0 && blankLine(text, prevLineStart(text, at))) {
    at = prevLineStart(text, at);
    line--;
  }
  if (at === 0) return null;
  const end = at;
  do {
    at = prevLineStart(text, at);
    line--;
  } while (at > 0 && !blankLine(text, prevLineStart(text, at)));
  return { start: at, end, line };
}

function paragraphTrailers(text: string, p: Paragraph, rules: TrailerRules): Trailer[] | null {
  const out: Trailer[] = [];
  let known = 0;
  let other = 0;
  for (let at = p.start, i = p.line; at < p.end; at = nextLineStart(text, at), i++) {
    const line = lineFrom(text, at);
    const m = TRAILER_LINE.exec(line);
    if (m) {
      out.push({ key: m[1]!, value: trimBlanksEnd(m[2]!), line: i + 1 });
      if (KNOWN_KEYS.has(m[1]!.toLowerCase())) known++;
      else if (!rules.anyKey) return null;
      continue;
    }
    if (/^[ \t]+\S/.test(line) && out.length > 0) {
      out[out.length - 1]!.value += ' ' + line.trim(); // continuation of a folded trailer
      continue;
    }
    if (NOTE_LINE.test(line.trim())) continue;
    other++;
  }
  if (out.length === 0 || known === 0) return null;
  if (other > out.length * rules.otherRatio) return null;
  return out;
}

/** Trailers: the last paragraph in `Key: value` form, plus trailer-only paragraphs right above it (a lone `Fixes:`). */
export function parseTrailers(commitMessage: string): Trailer[] {
  // (not .replace(/\n+$/, ''): that regex is quadratic in a run of newlines not at the end)
  let end = commitMessage.length;
  while (end > 0 && commitMessage.charCodeAt(end - 1) === 0x0a) end--;
  const text = commitMessage.slice(0, end);
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  const last = paragraphAbove(text, text.length + 1, lines);
  if (!last) return [];
  const above = paragraphAbove(text, last.start, last.line);
  // A body that is one paragraph (a short patch: only trailers) must be trailers throughout.
  const trailers = paragraphTrailers(text, last, {
    anyKey: true,
    otherRatio: above === null ? 0 : 1 / 3,
  });
  if (!trailers) return [];
  // Paragraphs above, nearest first (no unshift(...spread): a paragraph may hold 100,000 lines).
  const before: Trailer[][] = [];
  for (let p = above; p !== null; p = paragraphAbove(text, p.start, p.line)) {
    const t = paragraphTrailers(text, p, { anyKey: false, otherRatio: 0 });
    if (!t) break;
    before.push(t);
  }
  return [...before.reverse().flat(), ...trailers];
}
