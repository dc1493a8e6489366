// Is a series linux-pci / VFIO traffic? Decided from the paths its diffs touch
// (through touchedPaths, which refuses hostile paths), plus two content checks:
// drivers/iommu/ counts only where the change is about IOMMU groups, ACS or
// PCI, and kernel-parameters.txt only where a hunk is about pci= or VFIO
// options. A diff with a hostile path is refused outright, whatever else it touches.
import { touchedPaths, type InvalidPath } from '../mail/diffpaths.js';
import type { ScopeDecision, Series } from '../types.js';

/** Paths that are PCI/VFIO by location alone. */
const PCI_PATHS: RegExp[] = [
  /^drivers\/pci\//,
  /^drivers\/vfio\//,
  /^include\/linux\/pci[^/]*\.h$/,
  /^include\/linux\/vfio[^/]*\.h$/,
  /^include\/uapi\/linux\/vfio[^/]*\.h$/,
  /^include\/uapi\/linux\/pci[^/]*\.h$/,
  /^arch\/[^/]+\/pci\//,
  /^arch\/[^/]+\/kernel\/pci[^/]*/,
  /^Documentation\/PCI\//,
  /^Documentation\/devicetree\/bindings\/pci\//,
];
const IOMMU_PATH = /^drivers\/iommu\//;
const KERNEL_PARAMETERS = /^Documentation\/(?:admin-guide\/)?kernel-parameters\.txt$/;

/** What makes an IOMMU change PCI business. */
const IOMMU_PCI_WORDS = /iommu_group|\bacs\b|_acs|acs_|pci/i;

const SHOW = 3;

interface FileSection {
  text: string;
  /** Changed (+/-) lines, without their marker, and hunk header function names. */
  changed: string[];
  /** Context lines of the hunks. */
  context: string[];
}

/** Split a diff into per-file sections, following hunk counts (a `--- x` inside a hunk is a removed line). */
function fileSections(diff: string): FileSection[] {
  const sections: FileSection[] = [];
  let cur: FileSection | null = null;
  let oldLeft = 0;
  let newLeft = 0;
  let lastWasDiffHeader = false;
  const lines = diff.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if ((oldLeft > 0 || newLeft > 0) && cur) {
      const c = line[0];
      if (c === '+' || c === '-' || c === ' ' || c === '\\' || line === '') {
        if (c === '+') newLeft--;
        else if (c === '-') oldLeft--;
        else if (c !== '\\') {
          oldLeft--;
          newLeft--;
        }
        if (c === '+' || c === '-') cur.changed.push(line.slice(1));
        else if (c !== '\\') cur.context.push(line.slice(1));
        cur.text += line + '\n';
        continue;
      }
      oldLeft = newLeft = 0; // a truncated hunk: read the line as a header
    }
    const startsFile =
      line.startsWith('diff ') ||
      (!lastWasDiffHeader && line.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ '));
    if (startsFile) {
      cur = { text: '', changed: [], context: [] };
      sections.push(cur);
    }
    if (line.startsWith('diff ')) lastWasDiffHeader = true;
    else if (line.startsWith('+++ ')) lastWasDiffHeader = false;
    const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@(.*)$/.exec(line);
    if (hunk && cur) {
      oldLeft = hunk[1] === undefined ? 1 : Number(hunk[1]);
      newLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      if (hunk[3]!.trim()) cur.changed.push(hunk[3]!.trim());
    }
    if (cur) cur.text += line + '\n';
  }
  return sections;
}

function listPaths(paths: string[]): string {
  const shown = paths.slice(0, SHOW).join(', ');
  return paths.length > SHOW ? `${shown} and ${paths.length - SHOW} more` : shown;
}

export function scopeSeries(series: Series): ScopeDecision {
  const diffs = series.patches.map((p) => p.diff).filter((d): d is string => d !== null);
  const decision = (inScope: boolean, reason: string, paths: string[]): ScopeDecision => ({
    seriesId: series.id,
    inScope,
    reason,
    paths,
  });
  if (diffs.length === 0) return decision(false, 'no diff in any patch', []);

  const invalid: InvalidPath[] = [];
  const all: string[] = [];
  const matching: string[] = [];
  const notes: string[] = [];
  for (const diff of diffs) {
    for (const section of fileSections(diff)) {
      const { paths, invalid: bad } = touchedPaths(section.text);
      invalid.push(...bad);
      for (const path of paths) {
        if (!all.includes(path)) all.push(path);
        if (matching.includes(path)) continue;
        if (PCI_PATHS.some((re) => re.test(path))) matching.push(path);
        else if (IOMMU_PATH.test(path)) {
          if (section.changed.some((l) => IOMMU_PCI_WORDS.test(l))) matching.push(path);
          else notes.push(`${path}: no IOMMU group, ACS or PCI change`);
        } else if (KERNEL_PARAMETERS.test(path)) {
          const pciOption = section.changed.some(
            (l) => /\bpci=|\bpcie?_\w+=|\bPCI(?:e|E)?\b/.test(l) || /vfio/i.test(l),
          );
          const inPciBlock = section.context.some((l) => /^\s*pci=/.test(l));
          if (pciOption || inPciBlock) matching.push(path);
          else notes.push(`${path}: no pci= or VFIO option changed`);
        }
      }
    }
  }
  if (invalid.length > 0) {
    const shown = invalid
      .slice(0, SHOW)
      .map((p) => `${JSON.stringify(p.path)} (${p.reason})`)
      .join(', ');
    const more = invalid.length > SHOW ? ` and ${invalid.length - SHOW} more` : '';
    return decision(
      false,
      `refused: invalid paths in the diff: ${shown}${more}`,
      invalid.map((p) => p.path),
    );
  }
  if (all.length === 0) return decision(false, 'no file paths found in the diffs', []);
  if (matching.length > 0) return decision(true, `touches ${listPaths(matching)}`, matching);
  const why = notes.length ? ` (${[...new Set(notes)].join('; ')})` : '';
  return decision(false, `touches only ${listPaths(all)}${why}`, all);
}
