// Reading a decoded patch mail body the way git mailinfo/am and b4 do: the
// commit message up to `---`, the diff (exactly the lines git apply needs, found
// by following hunk line counts so a `-- ` removed line is not taken for the
// signature), the trailers, and b4's `base-commit:` / `change-id:` /
// `prerequisite-*:` lines.
import type { Prerequisite, Trailer } from '../types.js';
import { HunkReader, readHunkHeader } from '../util/diff/hunks.js';

/** git's patch break: a line `---` (trailing whitespace tolerated). */
const SEPARATOR = /^---[ \t]*$/;
const EXT_HEADER =
  /^(?:old mode|new mode|deleted file mode|new file mode|copy from|copy to|rename from|rename to|similarity index|dissimilarity index|index) /;
const BASE85 = /^[A-Za-z][0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]*$/;

/** Does a diff start at lines[i]? (quoted `>` lines never do) */
function diffStartsAt(lines: string[], i: number): boolean {
  const line = lines[i]!;
  if (line.startsWith('diff --git ') || /^diff -[a-zA-Z]/.test(line)) return true;
  if (line.startsWith('Index: ')) {
    const next = lines[i + 1] ?? '';
    return /^={20,}$/.test(next) || next.startsWith('--- ');
  }
  if (line.startsWith('--- ') && !SEPARATOR.test(line)) {
    return (lines[i + 1] ?? '').startsWith('+++ ') && readHunkHeader(lines[i + 2] ?? '') !== null;
  }
  return false;
}

/** Index of the last line that belongs to the diff starting at `start`. */
function diffEnd(lines: string[], start: number): number {
  let last = start - 1;
  // The open hunk: it takes the lines its header counts (an empty line is a
  // context line whose space a mailer stripped; git apply accepts it).
  let hunk: HunkReader | null = null;
  let i = start;
  while (i < lines.length) {
    const line = lines[i]!;
    if (hunk?.open) {
      if (hunk.read(line) === null) break; // a truncated hunk ends the diff here
      last = i++;
      continue;
    }
    const header = readHunkHeader(line);
    if (header) {
      hunk = new HunkReader(line, header, i + 1, 'git', false);
      last = i++;
      continue;
    }
    if (
      line.startsWith('diff ') ||
      EXT_HEADER.test(line) ||
      line.startsWith('\\ ') ||
      /^Binary files .* differ$/.test(line) ||
      (line.startsWith('Index: ') && diffStartsAt(lines, i)) ||
      /^={20,}$/.test(line)
    ) {
      last = i++;
      continue;
    }
    if (
      line.startsWith('--- ') &&
      !SEPARATOR.test(line) &&
      (lines[i + 1] ?? '').startsWith('+++ ')
    ) {
      last = i + 1;
      i += 2;
      continue;
    }
    if (line === 'GIT binary patch') {
      // literal/delta blocks of base85 lines, each block ended by an empty line
      let j = i + 1;
      while (j < lines.length && /^(?:literal|delta) \d+$/.test(lines[j]!)) {
        j++;
        while (j < lines.length && lines[j] !== '' && BASE85.test(lines[j]!)) j++;
        if (lines[j] === '') j++;
      }
      last = j - 1;
      i = j;
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

/** Line ranges of the body, for callers that need more than the strings. */
interface BodyLayout {
  lines: string[];
  /** First line after the commit message (the `---` or the diff start, or lines.length). */
  messageEnd: number;
  diffStart: number | null;
  /** Last diff line, inclusive. */
  diffLast: number | null;
}

function layout(body: string): BodyLayout {
  const lines = body.split('\n');
  let messageEnd = lines.length;
  let searchFrom = 0;
  for (let i = 0; i < lines.length; i++) {
    if (SEPARATOR.test(lines[i]!)) {
      messageEnd = i;
      searchFrom = i + 1;
      break;
    }
    if (diffStartsAt(lines, i)) {
      messageEnd = i;
      searchFrom = i;
      break;
    }
  }
  let diffStart: number | null = null;
  for (let i = searchFrom; i < lines.length; i++) {
    if (diffStartsAt(lines, i)) {
      diffStart = i;
      break;
    }
  }
  let diffLast: number | null = null;
  if (diffStart !== null) {
    diffLast = diffEnd(lines, diffStart);
    // A bare header with nothing after it (e.g. `diff -u` quoted in prose) is no diff.
    if (diffLast < diffStart) diffStart = diffLast = null;
  }
  return { lines, messageEnd, diffStart, diffLast };
}

/** In-body `From:`/`Date:`/`Subject:` lines at the top (git send-email for another author); git am drops them. */
function inBodyHeaderEnd(lines: string[], end: number): number {
  let i = 0;
  while (i < end && /^(?:From|Date|Subject): /.test(lines[i]!)) i++;
  if (i > 0 && i < end && lines[i] === '') return i + 1;
  return 0;
}

export function extractDiff(body: string): ExtractedDiff {
  const l = layout(body);
  const from = inBodyHeaderEnd(l.lines, l.messageEnd);
  let last = l.messageEnd - 1;
  while (last >= from && l.lines[last]!.trim() === '') last--;
  // Slices of the body, not joined copies of its lines: a message costs its
  // body once in memory, however it is cut up.
  const starts = lineStarts(body, l.lines.length);
  /** lines[first..last] with a newline after each. */
  const span = (first: number, lastLine: number) => {
    const end = starts[lastLine]! + l.lines[lastLine]!.length;
    const text = body.slice(starts[first]!, end);
    return body[end] === '\n' ? body.slice(starts[first]!, end + 1) : text + '\n';
  };
  const commitMessage = last >= from ? span(from, last) : '';
  if (l.diffStart === null || l.diffLast === null)
    return { commitMessage, diff: null, diffLine: null };
  return { commitMessage, diff: span(l.diffStart, l.diffLast), diffLine: l.diffStart + 1 };
}

/** Offsets of the first `n` line starts of `text`. */
function lineStarts(text: string, n: number): number[] {
  const out = new Array<number>(n);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    out[i] = pos;
    const nl = text.indexOf('\n', pos);
    pos = nl < 0 ? text.length : nl + 1;
  }
  return out;
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
  l.lines.forEach((line, i) => {
    if (l.diffStart !== null && l.diffLast !== null && i >= l.diffStart && i <= l.diffLast) return;
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
  });
  return info;
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

function paragraphTrailers(
  lines: string[],
  start: number,
  end: number,
  rules: TrailerRules,
): Trailer[] | null {
  const out: Trailer[] = [];
  let known = 0;
  let other = 0;
  for (let i = start; i < end; i++) {
    const line = lines[i]!;
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
  const lines = commitMessage.slice(0, end).split('\n');
  const paragraphs: [number, number][] = [];
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    if (i === lines.length || lines[i]!.trim() === '') {
      if (i > start) paragraphs.push([start, i]);
      start = i + 1;
    }
  }
  const last = paragraphs[paragraphs.length - 1];
  if (!last) return [];
  // A body that is one paragraph (a short patch: only trailers) must be trailers throughout.
  const only = paragraphs.length === 1;
  const trailers = paragraphTrailers(lines, last[0], last[1], {
    anyKey: true,
    otherRatio: only ? 0 : 1 / 3,
  });
  if (!trailers) return [];
  // Paragraphs above, nearest first (no unshift(...spread): a paragraph may hold 100,000 lines).
  const before: Trailer[][] = [];
  for (let p = paragraphs.length - 2; p >= 0; p--) {
    const t = paragraphTrailers(lines, paragraphs[p]![0], paragraphs[p]![1], {
      anyKey: false,
      otherRatio: 0,
    });
    if (!t) break;
    before.push(t);
  }
  return [...before.reverse().flat(), ...trailers];
}
