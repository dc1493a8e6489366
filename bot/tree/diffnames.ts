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
// Also parsed, for conflict reports and limits: hunks (with their lines),
// `index` lines, modes and binary patches (the sizes they declare).
import { inflateSync } from 'node:zlib';

export interface DiffHunk {
  /** The `@@ ... @@` line as written. */
  header: string;
  /** 1-based line of the header in the diff. */
  line: number;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Body lines (` `, `-`, `+`, empty), without the `\ No newline` markers. */
  lines: string[];
}

export interface BinaryHunk {
  method: 'literal' | 'delta';
  /** The inflated size the header declares (`literal N` / `delta N`). */
  declared: number;
  /** Size of the file the hunk produces, when it could be read (literal: declared; delta: from the delta header). */
  resultSize: number | null;
}

export interface DiffSection {
  kind: 'git' | 'traditional';
  /** 1-based line of the section's first header line in the diff. */
  line: number;
  /** Path before (null: the file is created). */
  oldPath: string | null;
  /** Path after (null: the file is deleted). */
  newPath: string | null;
  /** The names as written (`diff --git`, `---`/`+++`; no /dev/null), before any stripping. */
  rawNames: string[];
  /** Traditional sections: the text after `--- ` and `+++ ` (git guesses the strip level from it). */
  nameLines: string[];
  isNew: boolean;
  isDelete: boolean;
  isRename: boolean;
  isCopy: boolean;
  oldMode: string | null;
  newMode: string | null;
  /** Preimage blob id from the `index` line (abbreviated), null for new files or no index line. */
  oldOid: string | null;
  /** Postimage blob id from the `index` line (abbreviated), null for deletions or no index line. */
  newOid: string | null;
  hasIndexLine: boolean;
  hunks: DiffHunk[];
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

const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** git's `/dev/null` test: the name followed by whitespace (or the end of the line). */
function isDevNull(s: string): boolean {
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
const TERM_TAB = 2;

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

function findName(line: string, def: string | null, p: number, terminate: number): string | null {
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

function findNameTraditional(line: string, def: string | null, p: number): string | null {
  if (line[0] === '"') {
    const name = findNameGnu(line, p);
    if (name !== null) return name;
  }
  const dl = diffTimestampLen(line);
  if (!dl) return findNameCommon(line, def, p, null, TERM_TAB);
  return findNameCommon(line, def, p, line.length - dl, 0);
}

/** GNU diff's way of saying "created" or "deleted": an epoch timestamp after the last tab. */
function hasEpochTimestamp(line: string): boolean {
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
function gitHeaderName(p: number, rest: string): string | null {
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

// ---------------------------------------------------------------- binary

const B85 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~';
const B85_VALUE = new Map([...B85].map((c, i) => [c, i]));

/** Decode git's base85 binary-patch lines (length letter + groups of five); null when invalid. */
export function decodeBase85Lines(lines: string[]): Buffer | null {
  const out: number[] = [];
  for (const line of lines) {
    const l = line[0];
    if (l === undefined) return null;
    let count: number;
    if (l >= 'A' && l <= 'Z') count = l.charCodeAt(0) - 64;
    else if (l >= 'a' && l <= 'z') count = l.charCodeAt(0) - 96 + 26;
    else return null;
    const body = line.slice(1);
    if (body.length !== Math.ceil(count / 4) * 5) return null;
    const bytes: number[] = [];
    for (let g = 0; g < body.length; g += 5) {
      let acc = 0;
      for (let k = 0; k < 5; k++) {
        const v = B85_VALUE.get(body[g + k]!);
        if (v === undefined) return null;
        acc = acc * 85 + v;
      }
      if (acc > 0xffffffff) return null;
      bytes.push((acc >>> 24) & 255, (acc >>> 16) & 255, (acc >>> 8) & 255, acc & 255);
    }
    for (let k = 0; k < count; k++) out.push(bytes[k]!);
  }
  return Buffer.from(out);
}

/** The size a git delta produces (its second header varint), or null. */
function deltaResultSize(delta: Buffer): number | null {
  let i = 0;
  const varint = (): number | null => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= delta.length || shift > 49) return null;
      const b = delta[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return v;
    }
  };
  if (varint() === null) return null;
  return varint();
}

/**
 * Parse the hunks of a `GIT binary patch` starting at `lines[at]` (the
 * `literal N`/`delta N` line). Delta data is inflated (at most `maxInflate`
 * bytes, never more than declared) only to read the size it produces.
 */
function parseBinaryHunks(
  lines: string[],
  at: number,
  maxInflate: number,
): { hunks: BinaryHunk[]; next: number; error: string | null } {
  const hunks: BinaryHunk[] = [];
  let i = at;
  while (hunks.length < 2) {
    const m = /^(literal|delta) (\d+)$/.exec(lines[i] ?? '');
    if (!m) break;
    const method = m[1] as 'literal' | 'delta';
    const declared = Number(m[2]);
    i++;
    const data: string[] = [];
    while (i < lines.length && lines[i] !== '') data.push(lines[i++]!);
    i++; // the blank line that ends the hunk
    let resultSize: number | null = method === 'literal' ? declared : null;
    if (method === 'delta' && declared <= maxInflate) {
      const raw = decodeBase85Lines(data);
      if (raw) {
        try {
          resultSize = deltaResultSize(
            inflateSync(raw, { maxOutputLength: Math.max(declared, 1) }),
          );
        } catch {
          resultSize = null;
        }
      }
    }
    hunks.push({ method, declared, resultSize });
  }
  if (hunks.length === 0)
    return { hunks, next: i, error: 'GIT binary patch without a literal or delta hunk' };
  return { hunks, next: i, error: null };
}

// ---------------------------------------------------------------- sections

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

function newSection(kind: DiffSection['kind'], line: number): DiffSection {
  return {
    kind,
    line,
    oldPath: null,
    newPath: null,
    rawNames: [],
    nameLines: [],
    isNew: false,
    isDelete: false,
    isRename: false,
    isCopy: false,
    oldMode: null,
    newMode: null,
    oldOid: null,
    newOid: null,
    hasIndexLine: false,
    hunks: [],
    binary: null,
    problem: null,
  };
}

/** Split the `a/x b/y` of a `diff --git` line into the two names as written (for prefix checks). */
function rawGitNames(rest: string): string[] {
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
      const h = HUNK.exec(lines[i]!);
      if (!h) break;
      const hunk: DiffHunk = {
        header: lines[i]!,
        line: i + 1,
        oldStart: Number(h[1]),
        oldLines: h[2] === undefined ? 1 : Number(h[2]),
        newStart: Number(h[3]),
        newLines: h[4] === undefined ? 1 : Number(h[4]),
        lines: [],
      };
      section.hunks.push(hunk);
      let oldLeft = hunk.oldLines;
      let newLeft = h[4] === undefined ? 1 : Number(h[4]);
      i++;
      while (i < lines.length && (oldLeft > 0 || newLeft > 0)) {
        const l = lines[i]!;
        const c = l[0];
        if (c === '\\') {
          i++;
          continue;
        }
        if (c !== ' ' && c !== '-' && c !== '+' && l !== '') break;
        hunk.lines.push(l);
        if (c !== '+') oldLeft--;
        if (c !== '-') newLeft--;
        i++;
      }
      if (lines[i]?.startsWith('\\ ')) i++;
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
export function sectionPaths(s: DiffSection): string[] {
  const out: string[] = [];
  if (s.oldPath !== null) out.push(s.oldPath);
  if (s.newPath !== null && s.newPath !== s.oldPath) out.push(s.newPath);
  return out;
}
