// "Your justification must be much stronger than solving a performance issue"
// (Bjorn Helgaas on the 2016 sub-page/MSI-X mmap series). vfio refuses to map
// sub-page BARs and used to refuse the MSI-X table, ACS decides IOMMU groups,
// driver_managed_dma and allow_unsafe_interrupts decide who may hold a group:
// all of these exist for isolation. A patch that relaxes one of them and whose
// changelog argues only speed (faster, overhead, emulation, traps) without a
// word on why isolation still holds gets this warning. The relaxation is read
// from the diff (relaxations.ts); the changelog test is deliberately simple.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { prose } from '../lib/message.js';
import { findRelaxations, type Relaxation } from './relaxations.js';

/** Words that argue speed. */
const PERFORMANCE =
  /\b(performance|perf|faster|speed(?:s|ed)?[- ]?ups?|sped up|overheads?|emulat(?:e|ed|es|ing|ion)|trap(?:s|ped|ping)?|slow(?:er|ly|s|ness|down|path)?|latenc(?:y|ies)|throughput|bandwidth|IOPS|fast[- ]?path)\b/gi;

/** Words that show the author considered isolation or security. */
const SECURITY =
  /isolat|secur|\b(?:un)?safe|safety|attack|malicious|\bCVE\b|\bCVE-|\bXSA\b|\bXSA-|untrust|\btrust|protect|exploit|vulnerab|hostile|peer[- ]to[- ]peer|\bp2p\b|group contract|interrupt remapping|\bthreat/i;

/** A patch that says it changes no behaviour is a refactor; trust it here (quiet by default). */
const NO_CHANGE = /\bno (?:functional|behaviou?ral) changes?\b|\bNFC\b/i;

const KIND_WHY: Record<Relaxation['kind'], string> = {
  'vfio-mmap':
    'vfio-pci refuses these mappings so that userspace cannot reach registers outside its BAR page or the MSI-X table the host programs',
  acs: 'ACS and the grouping rules decide which devices can reach each other peer-to-peer; smaller groups are only safe when the hardware really isolates them',
  'acs-quirk':
    'an ACS quirk overrides what the hardware advertises; it must come with evidence that the device isolates its functions',
  'dma-alias':
    'devices that share a requester ID cannot be told apart by the IOMMU and must stay in one group',
  'dma-ownership':
    'a driver_managed_dma driver stays bound while userspace owns its group, which is only safe if it never touches the device',
  'unsafe-switch':
    'a switch like allow_unsafe_interrupts trades isolation for convenience and is rarely understood by the users who set it',
  'msi-isolation':
    'vfio lets a device be assigned only when its interrupts are isolated (remapped); the claim must be backed by the hardware',
};

function changelogWords(ctx: RuleContext): { text: string; perf: string[] } {
  const text = `${ctx.patch.tags.title}\n${prose(ctx)}`;
  const perf = [...new Set([...text.matchAll(PERFORMANCE)].map((m) => m[0].toLowerCase()))];
  return { text, perf };
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const { text, perf } = changelogWords(ctx);
  // Cheap tests first: the rule only speaks about speed-only changelogs.
  if (perf.length === 0 || SECURITY.test(text) || NO_CHANGE.test(text)) return [];
  const relaxations = await findRelaxations(ctx);
  if (relaxations.length === 0) return [];
  const first = relaxations[0]!;
  const coverMentions = ctx.series.cover ? SECURITY.test(ctx.series.cover.body) : false;
  const more =
    relaxations.length > 1
      ? ` (and ${relaxations.length - 1} more change${relaxations.length > 2 ? 's' : ''} like it)`
      : '';
  return [
    {
      title: 'Isolation relaxed with only a performance justification',
      detail:
        `This patch relaxes isolation: ${first.what}${more}. The changelog argues performance ` +
        `(${perf
          .slice(0, 3)
          .map((w) => `"${w}"`)
          .join(', ')}) but never says why isolation still holds; ` +
        `${KIND_WHY[first.kind]}. ` +
        (coverMentions
          ? 'The cover letter discusses it, but the commit message is what gets merged: say it there.'
          : 'Explain what keeps devices and guests apart after this change.'),
      file: first.file,
      line: first.line,
      evidence: {
        relaxations: relaxations.slice(0, 8).map((r) => ({
          kind: r.kind,
          what: r.what,
          at: `${r.file}:${r.line}`,
          code: r.code,
        })),
        performanceWords: perf,
        coverLetterMentionsIsolation: coverMentions,
      },
    },
  ];
}

const rule: Rule = {
  id: 'isolation-for-performance',
  title: 'Isolation relaxed for performance only',
  severity: 'warning',
  rationale:
    'The mmap, ACS, DMA-ownership and interrupt-isolation restrictions exist for security; a patch ' +
    'that relaxes one must say why isolation still holds, not only that it is faster.',
  references: [
    'Bjorn Helgaas, Re: [RFC PATCH v4 0/7] vfio-pci: Allow to mmap sub-page MMIO BARs and MSI-X table, linux-pci, 2016-03-16 ("your justification must be much stronger than solving a performance issue")',
    'commit a32295c612c5 ("vfio-pci: Allow mapping MSIX BAR"), v4.16: relies on isolated MSI',
    "Lu Baolu, [PATCH 04/11] PCI: portdrv: Suppress kernel DMA ownership auto-claiming, 2021-11 (and Bjorn Helgaas's review)",
  ],
  check,
};

export default rule;
