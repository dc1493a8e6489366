// Paths named in a diff are attacker-controlled. Everything that uses them
// (scope, apply, rules, reports) goes through touchedPaths(), which extracts the
// paths from the diff headers and refuses anything that could escape the tree or
// confuse git: absolute paths, `..` or `.git` components, control characters,
// backslashes, over-long names. The names are read by the one diff model
// (bot/util/diff/files.ts): quoting undone, dates after a name dropped.
import { readFileSections, type FileSection } from '../util/diff/files.js';

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

/**
 * The paths of file sections (read by readFileSections), checked: every name
 * their headers give (`diff --git`, `---`/`+++`, rename/copy), `a/`/`b/`
 * removed, /dev/null left out, de-duplicated in order of appearance.
 */
export function sectionsTouchedPaths(sections: readonly FileSection[]): TouchedPaths {
  const seen = new Set<string>();
  const paths: string[] = [];
  const invalid: InvalidPath[] = [];
  for (const s of sections) {
    for (const rest of s.unreadable)
      invalid.push({ path: rest, reason: 'unreadable diff --git header' });
    for (const { path } of s.names) {
      if (path === null || seen.has(path)) continue;
      seen.add(path);
      const why = checkDiffPath(path);
      if (why) invalid.push({ path, reason: why });
      else paths.push(path);
    }
  }
  return { paths, invalid };
}

/** The paths a diff touches, checked (see sectionsTouchedPaths). */
export function touchedPaths(diff: string): TouchedPaths {
  return sectionsTouchedPaths(readFileSections(diff, { keepBody: false }));
}
