// Is a series linux-pci / VFIO traffic? Decided from the paths its diffs touch
// (through touchedPaths, which refuses hostile paths), plus two content checks:
// drivers/iommu/ counts only where the change is about IOMMU groups, ACS or
// PCI, and kernel-parameters.txt only where a hunk is about pci= or VFIO
// options. A diff with a hostile path is refused outright, whatever else it touches.
import { sectionsTouchedPaths, type InvalidPath } from '../mail/diffpaths.js';
import { readFileSections, type FileSection } from '../util/diff/files.js';
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

/** What a file section changes, for the content checks. */
interface SectionText {
  /** Changed (+/-) lines, without their marker, and hunk header function names. */
  changed: string[];
  /** Context lines of the hunks. */
  context: string[];
}

function sectionText(section: FileSection): SectionText {
  const changed: string[] = [];
  const context: string[] = [];
  for (const h of section.hunks) {
    if (h.section.trim()) changed.push(h.section.trim());
    for (const l of h.body) (l.kind === 'context' ? context : changed).push(l.raw.slice(1));
  }
  return { changed, context };
}

function listPaths(paths: string[]): string {
  const shown = paths.slice(0, SHOW).join(', ');
  return paths.length > SHOW ? `${shown} and ${paths.length - SHOW} more` : shown;
}

/**
 * The path a name written without git's a/ b/ prefix has at -p1 (its first
 * component removed), or null: a name with the prefix is read at -p1 already.
 */
function atStripOne(section: FileSection, path: string): string | null {
  const unprefixed = section.names.some(
    (n) =>
      n.path === path &&
      n.name === path &&
      (n.source === '---' || n.source === '+++' || n.source === 'diff --git'),
  );
  const slash = path.indexOf('/');
  return unprefixed && slash > 0 ? path.slice(slash + 1) : null;
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
    // Lines before the first file header name no file of their own.
    for (const section of readFileSections(diff).filter((s) => s.started)) {
      const { paths, invalid: bad } = sectionsTouchedPaths([section]);
      const { changed, context } = sectionText(section);
      invalid.push(...bad);
      for (const written of paths) {
        if (!all.includes(written)) all.push(written);
        if (matching.includes(written)) continue;
        // A name written without a/ b/ is applied at -p0 or -p1, whichever the
        // tree confirms (bot/tree/prepare.ts): `diff -u linux.orig/ linux/` and
        // quilt name the kernel's path after their first component.
        const stripped = atStripOne(section, written);
        const known = (x: string) =>
          PCI_PATHS.some((re) => re.test(x)) || IOMMU_PATH.test(x) || KERNEL_PARAMETERS.test(x);
        const path = stripped !== null && !known(written) && known(stripped) ? stripped : written;
        if (PCI_PATHS.some((re) => re.test(path))) matching.push(written);
        else if (IOMMU_PATH.test(path)) {
          if (changed.some((l) => IOMMU_PCI_WORDS.test(l))) matching.push(written);
          else notes.push(`${written}: no IOMMU group, ACS or PCI change`);
        } else if (KERNEL_PARAMETERS.test(path)) {
          const pciOption = changed.some(
            (l) => /\bpci=|\bpcie?_\w+=|\bPCI(?:e|E)?\b/.test(l) || /vfio/i.test(l),
          );
          const inPciBlock = context.some((l) => /^\s*pci=/.test(l));
          if (pciOption || inPciBlock) matching.push(written);
          else notes.push(`${written}: no pci= or VFIO option changed`);
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
