// File names in diff headers, as git writes and reads them: C-style quoting
// (`"a/x\tb"`, octal escapes for bytes), the date/time a traditional `---`/`+++`
// line may carry after the name, `/dev/null`, strip levels (-p0, -p1), the name a
// `diff --git` line gives. The rules follow git's apply.c (2.39) so the paths
// pcibot checks are the paths git will write; the tests compare them with
// `git apply --numstat`. Both views of a diff (git apply's in sections.ts, the
// reader's in files.ts) read names here.

export const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** git's `/dev/null` test: the name followed by whitespace (or the end of the line). */
export function isDevNull(s: string): boolean {
  return s.startsWith('/dev/null') && (s.length === 9 || isSpace(s[9]));
}

function squashSlash(name: string): string {
  return name.replace(/\/{2,}/g, '/');
}

/**
 * git's C-style unquoting of `"..."` at the start of `s`: the name and the
 * index just past the closing quote, or null when it is not a valid quoted name.
 * Works on bytes (octal escapes), decoded as UTF-8 at the end.
 */
export function unquoteC(s: string): { name: string; end: number } | null {
  if (s[0] !== '"') return null;
  const bytes: number[] = [];
  const simple: Record<string, number> = {
    a: 7,
    b: 8,
    f: 12,
    n: 10,
    r: 13,
    t: 9,
    v: 11,
    '\\': 92,
    '"': 34,
  };
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return { name: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (c !== '\\') {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
      continue;
    }
    const n = s[++i];
    if (n === undefined) return null;
    if (n in simple) {
      bytes.push(simple[n]!);
      continue;
    }
    if (n >= '0' && n <= '3') {
      const oct = s.slice(i, i + 3);
      if (!/^[0-3][0-7][0-7]$/.test(oct)) return null;
      bytes.push(parseInt(oct, 8));
      i += 2;
      continue;
    }
    return null;
  }
  return null;
}

function findNameGnu(line: string, p: number): string | null {
  const q = unquoteC(line);
  if (!q) return null;
  let name = q.name;
  for (; p > 0; p--) {
    const slash = name.indexOf('/');
    if (slash < 0) return null;
    name = name.slice(slash + 1);
  }
  return squashSlash(name);
}

const TERM_SPACE = 1;
export const TERM_TAB = 2;

function nameTerminates(c: string, terminate: number): boolean {
  if (c === ' ' && !(terminate & TERM_SPACE)) return false;
  if (c === '\t' && !(terminate & TERM_TAB)) return false;
  return true;
}

/**
 * The name at the start of `line` with `p` leading components removed: up to
 * `end` when given, else up to whitespace that terminates (per `terminate`).
 * With `def`, a longer name that merely extends `def` ("x.c.orig") gives `def`.
 */
function findNameCommon(
  line: string,
  def: string | null,
  p: number,
  end: number | null,
  terminate: number,
): string | null {
  let start: number | null = p === 0 ? 0 : null;
  let i = 0;
  const stop = end ?? line.length;
  while (i < stop) {
    const c = line[i]!;
    if (end === null && isSpace(c) && (c === '\n' || nameTerminates(c, terminate))) break;
    i++;
    if (c === '/' && --p === 0) start = i;
  }
  if (start === null) return def === null ? null : squashSlash(def);
  const len = i - start;
  if (len === 0) return def === null ? null : squashSlash(def);
  if (def !== null && def.length < len && line.startsWith(def, start)) return squashSlash(def);
  return squashSlash(line.slice(start, i));
}

export function findName(
  line: string,
  def: string | null,
  p: number,
  terminate: number,
): string | null {
  if (line[0] === '"') {
    const name = findNameGnu(line, p);
    if (name !== null) return name;
  }
  return findNameCommon(line, def, p, null, terminate);
}

// ---------------------------------------------------------------- timestamps

function saneTzLen(line: string, len: number): number {
  if (len < 6 || line[len - 6] !== ' ') return 0;
  const tz = len - 6;
  if (line[tz + 1] !== '+' && line[tz + 1] !== '-') return 0;
  for (let i = tz + 2; i < len; i++) if (!isDigit(line[i])) return 0;
  return len - tz;
}

function tzWithColonLen(line: string, len: number): number {
  if (len < 7 || line[len - 3] !== ':') return 0;
  const tz = len - 7;
  if (line[tz] !== ' ' || (line[tz + 1] !== '+' && line[tz + 1] !== '-')) return 0;
  if (
    !isDigit(line[tz + 2]) ||
    !isDigit(line[tz + 3]) ||
    line[tz + 4] !== ':' ||
    !isDigit(line[tz + 5]) ||
    !isDigit(line[tz + 6])
  )
    return 0;
  return len - tz;
}

function dateLen(line: string, len: number): number {
  if (len < 8 || line[len - 3] !== '-') return 0;
  let date = len - 8;
  const d = (k: number) => isDigit(line[date + k]);
  if (!d(0) || !d(1) || line[date + 2] !== '-' || !d(3) || !d(4) || line[date + 5] !== '-')
    return 0;
  if (!d(6) || !d(7)) return 0;
  if (date >= 2 && isDigit(line[date - 1]) && isDigit(line[date - 2])) date -= 2;
  return len - date;
}

function shortTimeLen(line: string, len: number): number {
  if (len < 9 || line[len - 3] !== ':') return 0;
  const t = len - 9;
  const d = (k: number) => isDigit(line[t + k]);
  if (line[t] !== ' ' || !d(1) || !d(2) || line[t + 3] !== ':' || !d(4) || !d(5)) return 0;
  if (line[t + 6] !== ':' || !d(7) || !d(8)) return 0;
  return len - t;
}

function fractionalTimeLen(line: string, len: number): number {
  if (len === 0 || !isDigit(line[len - 1])) return 0;
  let p = len - 1;
  while (p > 0 && isDigit(line[p])) p--;
  if (line[p] !== '.') return 0;
  const n = shortTimeLen(line, p);
  if (!n) return 0;
  return len - p + n;
}

function trailingSpacesLen(line: string, len: number): number {
  if (len === 0 || line[len - 1] !== ' ') return 0;
  let p = len;
  while (p > 0) {
    p--;
    if (line[p] !== ' ') return len - (p + 1);
  }
  return len;
}

/** Length of the date/time (and the whitespace before it) git strips from the end of a name line. */
export function diffTimestampLen(line: string): number {
  const len = line.length;
  if (len === 0 || !isDigit(line[len - 1])) return 0;
  let end = len;
  let n = saneTzLen(line, end) || tzWithColonLen(line, end);
  end -= n;
  n = shortTimeLen(line, end) || fractionalTimeLen(line, end);
  end -= n;
  n = dateLen(line, end);
  if (!n) return 0;
  end -= n;
  if (end === 0) return 0;
  if (line[end - 1] === '\t') return len - (end - 1);
  if (line[end - 1] !== ' ') return 0;
  end -= trailingSpacesLen(line, end);
  return len - end;
}

export function findNameTraditional(line: string, def: string | null, p: number): string | null {
  if (line[0] === '"') {
    const name = findNameGnu(line, p);
    if (name !== null) return name;
  }
  const dl = diffTimestampLen(line);
  if (!dl) return findNameCommon(line, def, p, null, TERM_TAB);
  return findNameCommon(line, def, p, line.length - dl, 0);
}

/** GNU diff's way of saying "created" or "deleted": an epoch timestamp after the last tab. */
export function hasEpochTimestamp(line: string): boolean {
  const tab = line.lastIndexOf('\t');
  if (tab < 0) return false;
  let ts = line.slice(tab + 1);
  let epochHour: number;
  if (ts.startsWith('1969-12-31 ')) epochHour = 24;
  else if (ts.startsWith('1970-01-01 ')) epochHour = 0;
  else return false;
  ts = ts.slice(11);
  const m = /^([0-2][0-9]):([0-5][0-9]):00(?:\.0+)? ([-+])([0-2][0-9]):?([0-5][0-9])$/.exec(ts);
  if (!m) return false;
  let zone = Number(m[4]) * 60 + Number(m[5]);
  if (m[3] === '-') zone = -zone;
  return Number(m[1]) * 60 + Number(m[2]) - zone === epochHour * 60;
}

/** git's guess of the strip level for a traditional name line: 0 when the name has no slash. */
export function guessStripLevel(nameLine: string): number {
  if (isDevNull(nameLine)) return -1;
  const name = findNameTraditional(nameLine, null, 0);
  if (name === null) return -1;
  return name.includes('/') ? -1 : 0;
}

// ---------------------------------------------------------------- git headers

/** Remove `p` leading components; null when that leaves nothing or the name is absolute. */
function skipTreePrefix(p: number, s: string): string | null {
  if (p === 0) return s.startsWith('/') ? null : s;
  let n = p;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '/' && --n <= 0) return i === 0 ? null : s.slice(i + 1);
  }
  return null;
}

/** The name a `diff --git` line gives when both sides name the same file (else null). */
export function gitHeaderName(p: number, rest: string): string | null {
  if (rest[0] === '"') {
    const first = unquoteC(rest);
    if (!first) return null;
    const a = skipTreePrefix(p, first.name);
    if (a === null) return null;
    let i = first.end;
    while (i < rest.length && isSpace(rest[i])) i++;
    if (i >= rest.length) return null;
    if (rest[i] === '"') {
      const second = unquoteC(rest.slice(i));
      if (!second) return null;
      const b = skipTreePrefix(p, second.name);
      return b !== null && b === a ? a : null;
    }
    const b = skipTreePrefix(p, rest.slice(i));
    return b !== null && b === a ? a : null;
  }
  const name = skipTreePrefix(p, rest);
  if (name === null) return null;
  const dq = name.indexOf('"');
  if (dq >= 0) {
    const second = unquoteC(name.slice(dq));
    if (!second) return null;
    const np = skipTreePrefix(p, second.name);
    if (np === null) return null;
    if (np.length < dq && name.startsWith(np) && isSpace(name[np.length])) return np;
    return null;
  }
  // Unquoted on both sides: accept a name only if it shows up twice, the same:
  // "<x> <prefix><x>". For a separator at `len`, the second name starts after
  // the p-th slash following it; found with one pointer into the slash positions
  // (linear: a hostile header can be a megabyte of spaces).
  const slashes: number[] = [];
  for (let i = 0; i < name.length; i++) if (name[i] === '/') slashes.push(i);
  let k = 0;
  for (let len = 0; len < name.length; len++) {
    const c = name[len];
    if (c !== ' ' && c !== '\t') continue;
    if (len + 1 >= name.length) return null;
    let start: number;
    if (p === 0) {
      if (name[len + 1] === '/') continue;
      start = len + 1;
    } else {
      while (k < slashes.length && slashes[k]! <= len) k++;
      const at = slashes[k + p - 1];
      if (at === undefined || at === len + 1) continue;
      start = at + 1;
    }
    if (name.length - start === len && name.startsWith(name.slice(start), 0)) {
      return name.slice(0, len);
    }
  }
  return null;
}

/** Split the `a/x b/y` of a `diff --git` line into the two names as written (for prefix checks). */
export function rawGitNames(rest: string): string[] {
  const names: string[] = [];
  let s = rest;
  for (let k = 0; k < 2 && s.length; k++) {
    if (s[0] === '"') {
      const q = unquoteC(s);
      if (!q) break;
      names.push(q.name);
      s = s.slice(q.end).replace(/^\s+/, '');
      continue;
    }
    if (k === 1) {
      names.push(s);
      break;
    }
    // Unquoted first name: split where the second name starts with the same tail.
    const half = (s.length - 1) / 2;
    const sp = Number.isInteger(half) && s[half] === ' ' ? half : s.indexOf(' ');
    if (sp < 0) break;
    names.push(s.slice(0, sp));
    s = s.slice(sp + 1);
  }
  return names;
}

// ------------------------------------------------------ names as written

/**
 * Split the `a/x b/y` of a `diff --git` line into its two names, unquoted;
 * null when the line cannot be read as two names (a quoted name that is not
 * valid C quoting, three unquoted words). Unquoted names with spaces are split
 * in the middle ("a/foo bar b/foo bar"), the only split where both names can be
 * the same file.
 */
export function splitGitNames(rest: string): [string, string] | null {
  const token = /^("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(rest);
  if (token) {
    const a = unquoteName(token[1]!);
    const b = unquoteName(token[2]!);
    return a === null || b === null ? null : [a, b];
  }
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === ' ')
    return [rest.slice(0, half), rest.slice(half + 1)];
  return null;
}

/** A name that may be C-quoted as a whole: unquoted, or null when the quoting is invalid. */
export function unquoteName(written: string): string | null {
  if (written[0] !== '"') return written;
  const q = unquoteC(written);
  return q && q.end === written.length ? q.name : null;
}

/**
 * The name on a `---`/`+++` line (the text after the marker), as its author
 * meant it: unquoted when C-quoted; otherwise without a date/time after it
 * (`x.c 2025-01-10 12:00:00`, `x.c\t2025-01-10 12:00:00.000 +0100`) and
 * anything after a tab; trimmed. No prefix is removed. null for `/dev/null`.
 */
export function nameOnFileLine(text: string): string | null {
  const s = text.trim();
  if (isDevNull(s)) return null;
  if (s[0] === '"') {
    const q = unquoteC(s);
    if (q) return q.name;
  }
  const dated = diffTimestampLen(s);
  const end = dated ? s.length - dated : s.indexOf('\t');
  return (end < 0 ? s : s.slice(0, end)).trim();
}

/** The reader's strip level: the `a/` or `b/` that git puts before a name, when it is there (-p1), else nothing (-p0). */
export function stripSidePrefix(name: string): string {
  return name.startsWith('a/') || name.startsWith('b/') ? name.slice(2) : name;
}
