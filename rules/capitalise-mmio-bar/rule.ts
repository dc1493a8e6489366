// "s/mmio/MMIO/, s/bar/BAR/" is a correction Bjorn Helgaas makes by hand on
// changelogs and comments. Acronyms are capitalised in PCI prose. Identifiers
// (mmio_base, bar_idx) and ordinary English "bar" (a progress bar) are left
// alone: "bar" only counts where it is clearly a PCI BAR.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { addedLines, isC } from '../lib/diff.js';
import { prose } from '../lib/message.js';

// Not part of an identifier, path or longer word on either side.
const MMIO = /(?<![\w/.-])mmio(?![\w/.-])/;
// "bar" as a PCI BAR: with a number, or after a word that makes it one.
const BAR =
  /(?<![\w/.-])(?:(?:pci|mmio|memory|i\/o|io|prefetchable|non-prefetchable|64-bit|32-bit|sub-page|small|large|msi-x|device|vf|pf)\s+bars?|bars?\s*#?\d\b|bar's)(?![\w/.-])/i;

interface Hit {
  word: string;
  where: string;
  file?: string;
  line?: number;
}

function scan(text: string): string[] {
  const out: string[] = [];
  const m = MMIO.exec(text);
  if (m) out.push('mmio');
  const b = BAR.exec(text);
  // The match must contain a lower-case "bar" (BARs / BAR0 are fine).
  if (b && /(?<![A-Za-z])bars?(?![A-Za-z])|bar's/.test(b[0])) out.push(b[0]);
  return out;
}

/** The comment text of an added C line, tracking block comments across lines. */
function* commentTexts(lines: { file: string; line: number; text: string }[]) {
  let inBlock = false;
  let lastFile = '';
  for (const l of lines) {
    if (l.file !== lastFile) {
      inBlock = false;
      lastFile = l.file;
    }
    let t = l.text;
    let comment = '';
    if (inBlock) {
      const end = t.indexOf('*/');
      if (end < 0) {
        yield { ...l, text: t };
        continue;
      }
      comment += t.slice(0, end);
      t = t.slice(end + 2);
      inBlock = false;
    }
    t = t.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    for (const m of t.matchAll(/\/\*(.*?)(\*\/|$)|\/\/(.*)$/g)) {
      comment += ' ' + (m[1] ?? m[3] ?? '');
      if (m[1] !== undefined && m[2] === '') inBlock = true;
    }
    if (comment.trim()) yield { ...l, text: comment };
  }
}

function check(ctx: RuleContext): RuleHit[] {
  const hits: Hit[] = [];
  // Prose lines only: indented lines are quoted code or logs.
  for (const line of prose(ctx).split('\n')) {
    if (/^(\t| {4})/.test(line)) continue;
    for (const word of scan(line)) hits.push({ word, where: 'commit message' });
  }
  const cLines = addedLines(ctx.diff, isC);
  for (const c of commentTexts(cLines))
    for (const word of scan(c.text))
      hits.push({ word, where: 'comment', file: c.file, line: c.line });
  if (hits.length === 0) return [];
  const words = [...new Set(hits.map((h) => h.word))];
  const first = hits.find((h) => h.file) ?? hits[0]!;
  const acronyms = [
    ...(words.includes('mmio') ? ['MMIO'] : []),
    ...(words.some((w) => w !== 'mmio') ? ['BAR'] : []),
  ];
  return [
    {
      title: `Capitalise ${acronyms.join(' and ')}`,
      detail:
        `"${words.join('", "')}" appears in the ${[...new Set(hits.map((h) => h.where))].join(' and ')}; ` +
        'PCI prose spells these acronyms in capitals (MMIO, BAR).',
      file: first.file,
      line: first.line,
      evidence: { occurrences: hits.slice(0, 10) },
    },
  ];
}

const rule: Rule = {
  id: 'capitalise-mmio-bar',
  title: 'MMIO and BAR in capitals',
  severity: 'info',
  rationale: 'Maintainers correct lower-case "mmio" and "bar" in changelogs and comments by hand.',
  references: [
    'Bjorn Helgaas, Re: [PATCH 04/11] PCI: portdrv: Suppress kernel DMA ownership auto-claiming, linux-pci, 2021-11 ("s/mmio/MMIO/, s/bar/BAR/")',
  ],
  check,
};

export default rule;
