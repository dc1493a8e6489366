// Paths named in a diff are attacker-controlled. Everything that uses them
// (scope, apply, rules, reports) goes through touchedPaths(), which extracts the
// paths from the diff headers and refuses anything that could escape the tree or
// confuse git: absolute paths, `..` or `.git` components, control characters,
// backslashes, over-long names.

export interface InvalidPath {
  path: string;
  reason: string;
}

export interface TouchedPaths {
  /** Valid paths (old and new names), de-duplicated, in order of appearance. */
  paths: string[];
  invalid: InvalidPath[];
}

const MAX_PATH = 4096;
const MAX_COMPONENT = 255;

/** Why a path from a diff is unacceptable, or null when it is fine. */
export function checkDiffPath(path: string): string | null {
  if (path.length === 0) return 'empty path';
  if (path.length > MAX_PATH) return `path longer than ${MAX_PATH} bytes`;
  if (/[\x00-\x1f\x7f]/.test(path)) return 'control character in path';
  if (path.includes('\\')) return 'backslash in path';
  if (path.startsWith('/')) return 'absolute path';
  if (path.startsWith('~')) return 'path starts with ~';
  for (const part of path.split('/')) {
    if (part === '') return 'empty path component (// or trailing /)';
    if (part === '.' || part === '..') return `"${part}" component`;
    if (part.toLowerCase() === '.git') return '.git component';
    if (part.length > MAX_COMPONENT) return `path component longer than ${MAX_COMPONENT} bytes`;
  }
  return null;
}

/** Strip the a/ b/ prefix git puts on diff header paths; /dev/null stays as is. */
function stripPrefix(raw: string): string {
  if (raw === '/dev/null') return raw;
  return raw.replace(/^[ab]\//, '');
}

/** Undo git's C-style quoting of unusual path names ("a/t\303\251st"). */
function unquote(raw: string): string {
  if (!(raw.startsWith('"') && raw.endsWith('"'))) return raw;
  const body = raw.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
      continue;
    }
    const n = body[++i] ?? '';
    if (/[0-7]/.test(n)) {
      const oct = body.slice(i, i + 3);
      bytes.push(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else {
      const map: Record<string, number> = {
        n: 10,
        t: 9,
        '"': 34,
        '\\': 92,
        a: 7,
        b: 8,
        f: 12,
        r: 13,
        v: 11,
      };
      bytes.push(map[n] ?? n.charCodeAt(0));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Split the `a/x b/y` part of a `diff --git` line, honouring quoting. */
function splitGitHeader(rest: string): [string, string] | null {
  const quoted = /^("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(rest);
  if (quoted) return [quoted[1]!, quoted[2]!];
  // Unquoted names with spaces: "a/foo bar b/foo bar" splits in the middle.
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === ' ')
    return [rest.slice(0, half), rest.slice(half + 1)];
  return null;
}

/** The paths a diff touches, checked. Reads `diff --git`, `---`/`+++` and rename/copy headers. */
export function touchedPaths(diff: string): TouchedPaths {
  const seen = new Set<string>();
  const paths: string[] = [];
  const invalid: InvalidPath[] = [];
  const add = (raw: string, prefixed = true) => {
    const name = unquote(raw.trim());
    const path = prefixed ? stripPrefix(name) : name;
    if (path === '/dev/null') return;
    if (seen.has(path)) return;
    seen.add(path);
    const why = checkDiffPath(path);
    if (why) invalid.push({ path, reason: why });
    else paths.push(path);
  };
  // Lines left in the current hunk, from its @@ header: inside a hunk, "--- x"
  // is a removed "-- x" line, not a file header.
  let oldLeft = 0;
  let newLeft = 0;
  for (const line of diff.split('\n')) {
    if (oldLeft > 0 || newLeft > 0) {
      if (line.startsWith('\\')) continue; // "\ No newline at end of file"
      const c = line[0];
      if (c === ' ' || line === '') {
        oldLeft--;
        newLeft--;
        continue;
      }
      if (c === '-') {
        oldLeft--;
        continue;
      }
      if (c === '+') {
        newLeft--;
        continue;
      }
      oldLeft = newLeft = 0; // truncated hunk: fall through to header parsing
    }
    const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
    if (hunk) {
      oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      newLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      continue;
    }
    if (line.startsWith('diff --git ')) {
      const pair = splitGitHeader(line.slice('diff --git '.length));
      if (pair) {
        add(pair[0]);
        add(pair[1]);
      } else {
        invalid.push({ path: line.slice(11), reason: 'unreadable diff --git header' });
      }
      continue;
    }
    const header = /^(?:---|\+\+\+) (.*?)(?:\t.*)?$/.exec(line);
    if (header) {
      add(header[1]!);
      continue;
    }
    const rename = /^(?:rename|copy) (?:from|to) (.*)$/.exec(line);
    if (rename) add(rename[1]!, false);
  }
  return { paths, invalid };
}
