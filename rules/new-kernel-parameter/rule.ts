// A patch that adds a boot-time or module parameter. PCI maintainers push back
// on these: users get them wrong, distributions rarely test the non-default
// path, and the option becomes ABI that has to be kept. The question to ask the
// submitter is why the behaviour cannot be automatic, or opt-in per device.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { findNewParameters } from '../lib/params.js';

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  return (await findNewParameters(ctx)).map((p) => ({
    title:
      p.kind === 'module' ? `New module parameter "${p.name}"` : `New kernel parameter "${p.name}"`,
    detail:
      (p.kind === 'module'
        ? 'This adds a module parameter. '
        : 'This adds a boot-time parameter. ') +
      'PCI maintainers resist new parameters: users find them hard to use correctly and the code ' +
      'paths they enable are rarely tested. The changelog should say why this cannot work ' +
      'automatically, and why a per-device opt-in (a quirk or sysfs attribute) would not do.',
    severity: p.kind === 'module' ? 'info' : undefined,
    file: p.at.file,
    line: p.at.line,
    evidence: {
      parameter: p.name,
      kind: p.kind,
      code: p.at.text.trim(),
      ...(p.documented && p.documented !== p.at
        ? { documented: `${p.documented.file}:${p.documented.line}` }
        : {}),
    },
  }));
}

const rule: Rule = {
  id: 'new-kernel-parameter',
  title: 'New kernel or module parameter',
  severity: 'warning',
  rationale:
    'Kernel parameters are hard for users to get right and lead to code paths that are rarely ' +
    'tested and hard to maintain; maintainers ask for the reason and an automatic or opt-in ' +
    'alternative first.',
  references: [
    'Bjorn Helgaas, Re: [RFC PATCH v4 0/7] vfio-pci: Allow to mmap sub-page MMIO BARs and MSI-X table, linux-pci, 2016-03-16',
    'Bjorn Helgaas, Re: [PATCH v3 8/8] PCI: Align small BARs, linux-pci, 2024-08',
  ],
  check,
};

export default rule;
