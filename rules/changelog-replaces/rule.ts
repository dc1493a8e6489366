// "The changelog for 2/7 says it 'replaces IORESOURCE_STARTALIGN with
// IORESOURCE_WINDOW.' But even a glance at the patch itself shows that
// IORESOURCE_WINDOW is *added* to some places, and it doesn't *replace*
// IORESOURCE_STARTALIGN." A changelog must describe the diff. This rule reads
// "replace X with Y" style claims about identifiers and checks them: Y added,
// X removed nowhere while the touched files used it.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { addedLines, removedLines, touchedFiles } from '../lib/diff.js';
import { prose } from '../lib/message.js';

const ID = String.raw`([A-Za-z_][A-Za-z0-9_]*(?:\(\))?)`;
const CLAIMS: { re: RegExp; old: number; new: number }[] = [
  {
    re: new RegExp(
      String.raw`\breplac(?:e|es|ed|ing)\s+(?:the\s+)?${ID}\s+(?:with|by)\s+(?:the\s+)?${ID}`,
      'gi',
    ),
    old: 1,
    new: 2,
  },
  {
    re: new RegExp(
      String.raw`\b${ID}\s+(?:is|are|gets|get)\s+replaced\s+(?:with|by)\s+${ID}`,
      'gi',
    ),
    old: 1,
    new: 2,
  },
  {
    re: new RegExp(String.raw`\b(?:use|uses|using)\s+${ID}\s+instead\s+of\s+${ID}`, 'gi'),
    old: 2,
    new: 1,
  },
  {
    re: new RegExp(String.raw`\bconvert(?:s|ed|ing)?\s+(?:from\s+)?${ID}\s+to\s+${ID}`, 'gi'),
    old: 1,
    new: 2,
  },
  {
    re: new RegExp(String.raw`\bswitch(?:es|ed|ing)?\s+from\s+${ID}\s+to\s+${ID}`, 'gi'),
    old: 1,
    new: 2,
  },
];

/** Only identifiers: FOO_BAR, foo_bar, foo(), IORESOURCE_X; not English words. */
function isIdentifier(word: string): boolean {
  return /_|\(\)$/.test(word) || /^[A-Z][A-Z0-9]{2,}$/.test(word);
}

const bare = (id: string) => id.replace(/\(\)$/, '');
const mentions = (text: string, id: string) =>
  new RegExp(String.raw`(?<![\w])${bare(id)}(?![\w])`).test(text);

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const text = prose(ctx).replace(/\s+/g, ' ');
  const added = addedLines(ctx.diff);
  const removed = removedLines(ctx.diff);
  const hits: RuleHit[] = [];
  const seen = new Set<string>();
  for (const claim of CLAIMS) {
    for (const m of text.matchAll(claim.re)) {
      const oldId = m[claim.old]!;
      const newId = m[claim.new]!;
      if (!isIdentifier(oldId) || !isIdentifier(newId) || bare(oldId) === bare(newId)) continue;
      const key = `${bare(oldId)}>${bare(newId)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const addsNew = added.filter((l) => mentions(l.text, newId));
      const removesOld = removed.filter((l) => mentions(l.text, oldId));
      if (addsNew.length === 0 || removesOld.length > 0) continue;
      // The old identifier must really be used by the files the patch touches.
      let usedIn: string | null = null;
      for (const f of touchedFiles(ctx.diff)) {
        const content = await ctx.before.read(f);
        if (content && mentions(content, oldId)) {
          usedIn = f;
          break;
        }
      }
      if (!usedIn) continue;
      hits.push({
        title: `Changelog says ${bare(oldId)} is replaced, but the diff keeps it`,
        detail:
          `The changelog says "${m[0]}", but the patch adds ${bare(newId)} in ${addsNew.length} ` +
          `place${addsNew.length === 1 ? '' : 's'} and removes ${bare(oldId)} nowhere (it is still used in ${usedIn}). ` +
          'Describe what the patch does: it adds, it does not replace.',
        file: addsNew[0]!.file,
        line: addsNew[0]!.line,
        evidence: {
          claim: m[0],
          added: addsNew.slice(0, 5).map((l) => `${l.file}:${l.line}`),
          stillUsedIn: usedIn,
        },
      });
    }
  }
  return hits;
}

const rule: Rule = {
  id: 'changelog-replaces',
  title: 'Changelog claims a replacement the diff does not make',
  severity: 'warning',
  rationale:
    'A changelog that says X is replaced by Y while the diff only adds Y misleads reviewers and bisectors.',
  references: [
    'Bjorn Helgaas, Re: [RFC PATCH v4 0/7] vfio-pci: Allow to mmap sub-page MMIO BARs and MSI-X table, linux-pci, 2016-03-16',
  ],
  check,
};

export default rule;
