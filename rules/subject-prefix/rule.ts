// Subjects follow the subsystem's prefix convention ("PCI: ", "PCI/AER: ",
// "PCI: dwc: ", "vfio/pci: ", "x86/PCI: ") and start the summary with a
// capital letter ("PCI: Add", not "PCI: add"). Maintainers fix these by hand
// when applying; saying so early saves a round trip. Information only.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { touchedFiles } from '../lib/diff.js';

interface Area {
  /** Files of the area. */
  files: RegExp;
  /** Prefixes the area's history accepts. */
  accepts: RegExp;
  suggest: string;
}

// Most specific first. Documentation and headers are judged by the code they come with.
const AREAS: Area[] = [
  {
    files: /^Documentation\/devicetree\/bindings\/pci\//,
    accepts: /^dt-bindings: (PCI|pci)\b/,
    suggest: 'dt-bindings: PCI: <driver>: ',
  },
  { files: /^drivers\/pci\//, accepts: /^PCI(\/[\w-]+)?: /, suggest: 'PCI: ' },
  // "vfio/pci: ", and the hyphenated driver names of the tree's history ("vfio-pci/zdev: ").
  {
    files: /^drivers\/vfio\//,
    accepts: /^vfio(-[a-z]+)?(\/[\w-]+)*: /,
    suggest: 'vfio/<area>: ',
  },
  { files: /^drivers\/iommu\//, accepts: /^iommu(\/[\w-]+)*: /, suggest: 'iommu/<driver>: ' },
  { files: /^arch\/x86\//, accepts: /^x86(\/[\w-]+)*: /i, suggest: 'x86/PCI: ' },
  { files: /^arch\/powerpc\//, accepts: /^powerpc(\/[\w-]+)*: /, suggest: 'powerpc/<area>: ' },
  { files: /^arch\/s390\//, accepts: /^s390(\/[\w-]+)*: /, suggest: 's390/pci: ' },
  { files: /^arch\/arm64\//, accepts: /^arm64(\/[\w-]+)*: /, suggest: 'arm64: ' },
];
const ALWAYS_OK = /^(treewide|Revert|Merge|MAINTAINERS|Documentation|docs)\b/;

/** The summary after all "prefix: " parts, e.g. "Add foo" of "PCI: dwc: Add foo". */
function summaryOf(title: string): string {
  return title.replace(/^(?:[\w/.,+-]+: +)+/, '');
}

function check(ctx: RuleContext): RuleHit[] {
  const title = ctx.patch.tags.title;
  if (ALWAYS_OK.test(title)) return [];
  const codeFiles = touchedFiles(ctx.diff).filter(
    (f) => !/^(include|Documentation)\//.test(f) || /^Documentation\/devicetree\//.test(f),
  );
  const areas = [...new Set(codeFiles.map((f) => AREAS.find((a) => a.files.test(f))))];
  const hits: RuleHit[] = [];
  // Only judge patches that stay inside known areas (a mixed patch is another rule's business).
  if (
    areas.length > 0 &&
    areas.every((a) => a !== undefined) &&
    !areas.some((a) => a!.accepts.test(title))
  ) {
    hits.push({
      title: `Subject prefix does not match the files touched`,
      detail:
        `"${title}" touches ${codeFiles.slice(0, 3).join(', ')}${codeFiles.length > 3 ? ', ...' : ''}; ` +
        `subjects there start with "${areas.map((a) => a!.suggest).join('" or "')}".`,
      evidence: {
        subject: title,
        files: codeFiles.slice(0, 10),
        expected: areas.map((a) => a!.suggest),
      },
    });
  }
  const summary = summaryOf(title);
  const firstWord = /^([a-z]+)\b(?![_(./-])/.exec(summary);
  if (firstWord && summary !== title) {
    hits.push({
      title: 'Capitalise the first word after the subject prefix',
      detail: `"${title}": the summary after the prefix starts with a capital letter ("${firstWord[1]!.charAt(0).toUpperCase()}${firstWord[1]!.slice(1)} ...").`,
      evidence: { subject: title },
    });
  }
  return hits;
}

const rule: Rule = {
  id: 'subject-prefix',
  title: 'Subject prefix and capitalisation',
  severity: 'info',
  rationale:
    'PCI and VFIO subjects follow the subsystem prefix convention and capitalise the summary; maintainers fix these by hand when applying.',
  references: [
    'Bjorn Helgaas, Re: [PATCH v3 8/8] PCI: Align small BARs, 2024-08 (subject should name the motivation)',
    'Documentation/process/submitting-patches.rst ("The canonical patch format")',
  ],
  check,
};

export default rule;
