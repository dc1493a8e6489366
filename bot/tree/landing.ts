// Where a patch's hunks landed. Real patches are written on another tree than
// the one they are applied to, so git finds their context some lines away from
// where the hunk headers say ("Hunk #2 succeeded at 6547 (offset 62 lines)").
// Findings name lines of the patched tree, so the positions come from the
// application, not from the headers:
//   - a straight `git apply --verbose` says, per section, which hunks moved and
//     where they landed (and, with reduced context, where the rest of it went);
//   - a 3-way merge says nothing: the patch's added and removed lines are found,
//     in order, in the diff of the file before and after the merge.
// The result is a list of HunkLanding (only hunks away from their header); the
// analyse stage rewrites the diff's hunk headers with it once, before any rule
// sees the diff, and the report carries findings to the series head through
// the later patches' landed diffs the same way.
import type { HunkLanding } from '../types.js';
import { readFileSections } from '../util/diff/files.js';
import type { DiffHunk } from '../util/diff/hunks.js';
import type { DiffSection } from '../util/diff/sections.js';

const sectionFile = (s: DiffSection): string => s.newPath ?? s.oldPath ?? '';

/** Leading context lines of a hunk (before its first change). */
function leadingContext(h: DiffHunk): number {
  let n = 0;
  for (const l of h.body) {
    if (l.kind !== 'context') break;
    n++;
  }
  return n;
}

/**
 * The landings of one section's hunks, given where each one that moved
 * starts in the image git applied it to (1-based; that image holds the
 * section's earlier hunks already, so it is the new-side line in the result
 * as long as the hunks stay in order). Hunks not in `at` landed at their header.
 */
function sectionLandings(s: DiffSection, at: Map<number, number>): HunkLanding[] {
  const out: HunkLanding[] = [];
  let delta = 0; // lines the section's earlier hunks added (negative: removed)
  let last = 0;
  for (const [k, h] of s.hunks.entries()) {
    const start = at.get(k + 1);
    if (start !== undefined && start >= last) {
      const newStart = h.newLines === 0 ? start - 1 : start;
      const oldStart = h.oldLines === 0 ? start - delta - 1 : start - delta;
      if (newStart !== h.newStart || oldStart !== h.oldStart)
        out.push({
          file: sectionFile(s),
          diffLine: h.line,
          oldStart,
          newStart,
          offset: newStart - h.newStart,
        });
      last = start;
    } else {
      last = Math.max(last, h.newStart);
    }
    delta += countNew(h) - countOld(h);
  }
  return out;
}

const countOld = (h: DiffHunk): number => h.body.filter((l) => l.kind !== 'add').length;
const countNew = (h: DiffHunk): number => h.body.filter((l) => l.kind !== 'del').length;

/**
 * Landings from the stderr of `git apply --verbose`: "Checking patch X..."
 * opens each section, in the diff's order; "Hunk #N succeeded at L (offset D
 * lines)." says where hunk N of it went; "Context reduced to (l/t) to apply
 * fragment at L" (fuzz, only with -C) says where its reduced preimage went.
 * null when git's sections are not the diff's (a different count).
 */
export function landingsFromVerbose(stderr: string, sections: DiffSection[]): HunkLanding[] | null {
  const out: HunkLanding[] = [];
  let cur = -1;
  let at = new Map<number, number>();
  // The last "succeeded" line (hunk, line), and the last hunk placed: "Context
  // reduced" follows the hunk's own "succeeded" line when it moved, else it is
  // about a later hunk, the one whose reduced start is where it says.
  let prev: { hunk: number; line: number } | null = null;
  let placed = 0;
  const flush = () => {
    const s = sections[cur];
    if (s && at.size) out.push(...sectionLandings(s, at));
    at = new Map();
  };
  for (const line of stderr.split('\n')) {
    if (/^Checking patch .*\.\.\.$/.test(line)) {
      flush();
      cur++;
      prev = null;
      placed = 0;
      continue;
    }
    let m = /^Hunk #(\d+) succeeded at (\d+)(?: \(offset -?\d+ lines?\))?\.$/.exec(line);
    if (m) {
      prev = { hunk: Number(m[1]), line: Number(m[2]) };
      at.set(prev.hunk, prev.line);
      placed = Math.max(placed, prev.hunk);
      continue;
    }
    m = /^Context reduced to \((\d+)\/(\d+)\) to apply fragment at (\d+)$/.exec(line);
    const hunks = sections[cur]?.hunks;
    if (m && hunks) {
      const kept = Number(m[1]);
      const where = Number(m[3]);
      let k: number | null = prev && prev.line === where ? prev.hunk : null;
      for (let j = placed + 1; k === null && j <= hunks.length; j++) {
        const h = hunks[j - 1]!;
        if (h.newStart - (leadingContext(h) - kept) === where) k = j;
      }
      k ??= placed + 1;
      const h = hunks[k - 1];
      // The hunk's first line is as many lines above as leading context was dropped.
      if (h) at.set(k, where - (leadingContext(h) - kept));
      placed = Math.max(placed, k);
      prev = null;
    }
  }
  flush();
  // git names one section per "Checking patch": another count means the sections
  // are not git's (the caller then maps through the blobs).
  return cur + 1 === sections.length ? out : null;
}

export interface BlobChange {
  added: { line: number; text: string }[];
  removed: { line: number; text: string }[];
}

/**
 * The added and removed lines of a `git diff -U0` of two blobs, with their
 * lines, as the diff model numbers them (a side with a count of 0 has no
 * lines, so its start, the line before, numbers nothing).
 */
export function parseUnifiedZero(diff: string): BlobChange {
  const out: BlobChange = { added: [], removed: [] };
  for (const s of readFileSections(diff))
    for (const h of s.hunks)
      for (const l of h.body) {
        if (l.kind === 'add') out.added.push({ line: l.newLine!, text: l.raw.slice(1) });
        else if (l.kind === 'del') out.removed.push({ line: l.oldLine!, text: l.raw.slice(1) });
      }
  return out;
}

/**
 * Landings of one section from the diff of its file before and after a 3-way
 * merge: each hunk's added lines are found in order among the lines the merge
 * added (else its removed lines among those it removed), and the first one
 * found says where the hunk went.
 */
export function landingsFromBlobDiff(s: DiffSection, change: BlobChange): HunkLanding[] {
  const at = new Map<number, number>();
  let ai = 0;
  let ri = 0;
  let delta = 0;
  for (const [k, h] of s.hunks.entries()) {
    let oldIdx = 0;
    let newIdx = 0;
    // Each line found votes for a start; the most common wins (a diff may pair a
    // blank line or a brace with its twin a few lines away).
    const votes = new Map<number, number>();
    const vote = (start: number) => votes.set(start, (votes.get(start) ?? 0) + 1);
    for (const l of h.body) {
      const text = l.raw.slice(1);
      if (l.kind === 'add') {
        let j = ai;
        while (j < change.added.length && change.added[j]!.text !== text) j++;
        if (j < change.added.length) {
          vote(change.added[j]!.line - newIdx);
          ai = j + 1;
        }
        newIdx++;
      } else if (l.kind === 'del') {
        let j = ri;
        while (j < change.removed.length && change.removed[j]!.text !== text) j++;
        if (j < change.removed.length) {
          vote(change.removed[j]!.line - oldIdx + delta);
          ri = j + 1;
        }
        oldIdx++;
      } else {
        oldIdx++;
        newIdx++;
      }
    }
    let start: number | null = null;
    let most = 0;
    for (const [st, n] of votes) if (n > most) [start, most] = [st, n];
    if (start !== null) at.set(k + 1, start);
    delta += countNew(h) - countOld(h);
  }
  return sectionLandings(s, at);
}

const HEADER = /^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@/;

/**
 * The diff with the hunk headers of `landed` rewritten to where the hunks
 * landed: parsed, it numbers every line as the trees before and after the patch
 * do. Lines are split on LF, as the landings' diffLine counts them.
 */
export function landedDiffText(diff: string, landed: readonly HunkLanding[] | undefined): string {
  if (!landed?.length) return diff;
  const lines = diff.split('\n');
  for (const l of landed) {
    const i = l.diffLine - 1;
    const m = HEADER.exec(lines[i] ?? '');
    if (!m) continue;
    lines[i] = `@@ -${l.oldStart}${m[2]} +${l.newStart}${m[4]} @@${lines[i]!.slice(m[0].length)}`;
  }
  return lines.join('\n');
}

/**
 * A line of the tree after the patch as the patch's own hunk headers number it
 * (the mail's numbering): shifted back as the hunk that starts nearest above it
 * was moved. `hunks` are the file's hunks, each with its header's new start and
 * where it landed.
 */
export function mailLine(
  line: number,
  hunks: readonly { header: number; landed: number }[],
): number {
  let best: { header: number; landed: number } | null = null;
  for (const h of hunks) if (h.landed <= line && (!best || h.landed >= best.landed)) best = h;
  return best ? line - (best.landed - best.header) : line;
}
