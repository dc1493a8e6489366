// Core PCI/VFIO changes and architecture-specific changes go in separate
// patches (Bjorn Helgaas on the s390 series: core changes apart from the s390
// ones), so each can be reviewed, applied and reverted by the tree that owns
// it. A patch that changes a core interface and mechanically updates its arch
// callers in the same patch is fine (and keeps bisection working): the rule only
// speaks when the arch part adds logic of its own.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { addedLines, removedLines, touchedFiles } from '../lib/diff.js';

const isCore = (p: string) =>
  /^drivers\/(pci|vfio)\//.test(p) && !/^drivers\/pci\/controller\//.test(p);
const archOf = (p: string) => /^arch\/([^/]+)\//.exec(p)?.[1] ?? null;

const identifiers = (text: string) => new Set(text.match(/\b[A-Za-z_][A-Za-z0-9_]{3,}\b/g) ?? []);

function check(ctx: RuleContext): RuleHit[] {
  const files = touchedFiles(ctx.diff);
  const core = files.filter(isCore);
  const arch = files.filter((f) => archOf(f) !== null);
  if (core.length === 0 || arch.length === 0) return [];

  // Identifiers the core part introduces or removes: its interface changes.
  const coreAdded = identifiers(
    addedLines(ctx.diff, isCore)
      .map((l) => l.text)
      .join('\n'),
  );
  const coreRemoved = identifiers(
    removedLines(ctx.diff, isCore)
      .map((l) => l.text)
      .join('\n'),
  );
  const changedInterface = new Set([...coreAdded].filter((id) => !coreRemoved.has(id)));
  for (const id of coreRemoved) if (!coreAdded.has(id)) changedInterface.add(id);

  // Arch lines that do not follow a core interface change are arch logic of their own.
  const archAdded = addedLines(ctx.diff, (p) => archOf(p) !== null).filter(
    (l) => l.text.trim() && !/^\s*(\/\*|\*|\/\/)/.test(l.text),
  );
  // Lines without identifiers (braces, blank) are neutral.
  const ownLogic = archAdded.filter((l) => {
    const ids = [...identifiers(l.text)];
    return ids.length > 0 && !ids.some((id) => changedInterface.has(id));
  });
  if (ownLogic.length < 3) return [];
  const arches = [...new Set(arch.map(archOf))].join(', ');
  return [
    {
      title: `Core ${core.some((f) => f.startsWith('drivers/vfio/')) ? 'VFIO' : 'PCI'} and ${arches} changes in one patch`,
      detail:
        `This patch changes ${core.slice(0, 2).join(', ')} and adds ${ownLogic.length} lines of ${arches} ` +
        'logic. Maintainers ask for the arch-specific part in its own patch, so each tree can review and ' +
        'apply its part and a revert does not take the other with it.',
      file: ownLogic[0]!.file,
      line: ownLogic[0]!.line,
      evidence: { core, arch, archLines: ownLogic.length },
    },
  ];
}

const rule: Rule = {
  id: 'core-and-arch-mixed',
  title: 'Core and arch changes mixed in one patch',
  severity: 'info',
  rationale:
    'Core PCI/VFIO changes and arch-specific changes are reviewed and merged by different trees; keep them in separate patches.',
  references: [
    'Bjorn Helgaas on [v3,0/3] vfio/pci: s390: Fix issues preventing VFIO_PCI_MMAP=y, 2024 (core changes separate from s390 ones)',
  ],
  check,
};

export default rule;
