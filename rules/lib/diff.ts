// Small readers over a parsed diff, shared by the rules. Line numbers are on the
// new side for added/context lines and on the old side for removed lines.
import type { DiffFile } from '../types.js';

export interface DiffLine {
  file: string;
  /** New-side line for added lines; old-side line for removed lines. */
  line: number;
  /** The line without its leading +/-/space. */
  text: string;
}

/** The path a diff file is about (its new name, or the old one for deletions). */
export function filePath(f: DiffFile): string {
  const to = f.to && f.to !== '/dev/null' ? f.to : undefined;
  return to ?? f.from ?? '';
}

export function addedLines(diff: DiffFile[], filter?: (path: string) => boolean): DiffLine[] {
  const out: DiffLine[] = [];
  for (const f of diff) {
    const file = filePath(f);
    if (filter && !filter(file)) continue;
    for (const chunk of f.chunks)
      for (const c of chunk.changes)
        if (c.type === 'add') out.push({ file, line: c.ln, text: c.content.slice(1) });
  }
  return out;
}

export function removedLines(diff: DiffFile[], filter?: (path: string) => boolean): DiffLine[] {
  const out: DiffLine[] = [];
  for (const f of diff) {
    const file = f.from && f.from !== '/dev/null' ? f.from : filePath(f);
    if (filter && !filter(file)) continue;
    for (const chunk of f.chunks)
      for (const c of chunk.changes)
        if (c.type === 'del') out.push({ file, line: c.ln, text: c.content.slice(1) });
  }
  return out;
}

export function touchedFiles(diff: DiffFile[]): string[] {
  return diff.map(filePath).filter((p) => p !== '');
}

/** C source or header. */
export const isC = (path: string): boolean => /\.[ch]$/.test(path);

/**
 * Strip C comments and string contents from one line, so that keyword matches
 * do not fire on prose. Good enough for single lines; block comments spanning
 * lines are handled by the caller tracking `inComment`.
 */
export function codeOnly(text: string): string {
  return text
    .replace(/\/\*.*?\*\//g, ' ')
    .replace(/\/\/.*$/, ' ')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""');
}
