// Where a review comment may sit: GitHub takes a line comment only on a line
// of the PR's diff (a line of one of its hunks: added or context on the
// RIGHT side, the new file; removed or context on the LEFT). A comment on any
// other line fails the whole review with 422. This reads the PR's diff (merge
// base to head) and answers, for a file and a line of the head, whether and
// how a comment can be placed there.
import { parseUnifiedDiff } from '../mail/diffparse.js';

export interface DiffPlace {
  path: string;
  line: number;
  side: 'RIGHT' | 'LEFT';
}

export class PrDiffMap {
  /** Per file (new path): the head lines inside a hunk. */
  private readonly right = new Map<string, Set<number>>();

  constructor(diff: string) {
    for (const f of parseUnifiedDiff(diff)) {
      const path = f.to && f.to !== '/dev/null' ? f.to : null;
      if (!path) continue;
      const lines = this.right.get(path) ?? new Set<number>();
      for (const chunk of f.chunks)
        for (const c of chunk.changes) {
          if (c.type === 'add') lines.add(c.ln);
          else if (c.type === 'normal') lines.add(c.ln2);
        }
      this.right.set(path, lines);
    }
  }

  /** The files the PR changes (new paths). */
  files(): string[] {
    return [...this.right.keys()];
  }

  /** Where a comment on `line` of `path` at the head goes, or null when it is not on the diff. */
  place(path: string, line: number | null | undefined): DiffPlace | null {
    if (line === null || line === undefined) return null;
    return this.right.get(path)?.has(line) ? { path, line, side: 'RIGHT' } : null;
  }
}
