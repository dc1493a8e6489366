// Generated postings for the version-linking tests: series by one author at
// several versions, renamed between them, with changelogs in the shapes real
// cover letters and patch notes use, and diffs that drift (the same change at
// other line numbers, with other context and blob ids). No list mail is stored.
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import type { Message } from '../../bot/types.js';

export interface PatchSpec {
  title: string;
  /** The change: removed and added lines (without the -/+). */
  minus: string[];
  plus: string[];
  file?: string;
  /** The hunk's old start line (drift: the same change elsewhere in the file). */
  at?: number;
  /** Notes below the `---` (a patch's changelog). */
  notes?: string;
}

export interface PostingSpec {
  /** Message-ID prefix, unique per posting. */
  id: string;
  version: number;
  /** ISO date of the first message. */
  date: string;
  author?: string;
  cover?: { title: string; body: string } | null;
  patches: PatchSpec[];
  /** Only these patch indexes are in the input (e.g. [3]: a v2 3/3 alone). */
  only?: number[];
  /** Number the patches M/N even without a cover letter (default: when there are 2 or more). */
  numbered?: boolean;
}

export const ANN = 'Ann Dev <ann.dev@example.org>';

function diff(p: PatchSpec, n: number): string {
  const file = p.file ?? 'drivers/pci/pci.c';
  const at = p.at ?? 100;
  const before = [`\tstruct resource *r${n} = &dev->resource[bar];`, ''];
  const after = ['', '\treturn 0;'];
  const oldLines = before.length + p.minus.length + after.length;
  const newLines = before.length + p.plus.length + after.length;
  return [
    `diff --git a/${file} b/${file}`,
    `index ${(at * 7919 + n).toString(16).padStart(12, '0')}..${(at * 104729 + n).toString(16).padStart(12, '0')} 100644`,
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -${at},${oldLines} +${at},${newLines} @@ static int pci_helper_${n}(struct pci_dev *dev, int bar)`,
    ...before.map((l) => ` ${l}`),
    ...p.minus.map((l) => `-${l}`),
    ...p.plus.map((l) => `+${l}`),
    ...after.map((l) => ` ${l}`),
    '',
  ].join('\n');
}

function raw(headers: string[], body: string): string {
  return `${headers.join('\n')}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n${body}`;
}

/** The raw mails of a posting: cover letter (when it has one) and patches. */
export function postingMails(s: PostingSpec): { messageId: string; raw: string }[] {
  const author = s.author ?? ANN;
  const total = s.patches.length;
  const numbered = s.numbered ?? (total > 1 || !!s.cover);
  const v = s.version > 1 ? ` v${s.version}` : '';
  const tag = (i: number) => (numbered ? `[PATCH${v} ${i}/${total}]` : `[PATCH${v}]`);
  const id = (i: number) => `${s.id}-v${s.version}-${i}@example.org`;
  const root = s.cover ? id(0) : id(1);
  const start = Date.parse(s.date);
  const header = (i: number, title: string) => [
    `From: ${author}`,
    'To: linux-pci@vger.kernel.org',
    `Subject: ${tag(i)} ${title}`,
    `Date: ${new Date(start + i * 1000).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${id(i)}>`,
    ...(id(i) !== root ? [`In-Reply-To: <${root}>`, `References: <${root}>`] : []),
  ];
  const out: { messageId: string; raw: string }[] = [];
  if (s.cover)
    out.push({
      messageId: id(0),
      raw: raw(
        header(0, s.cover.title),
        `${s.cover.body}\n\n${s.patches.map((p) => `  ${p.title}`).join('\n')}\n\n-- \n2.45.0\n`,
      ),
    });
  s.patches.forEach((p, k) => {
    const i = k + 1;
    if (s.only && !s.only.includes(i)) return;
    const body =
      `Change ${i} of ${total}: ${p.title.toLowerCase()}.\n\nSigned-off-by: ${author}\n---\n` +
      (p.notes ? `${p.notes}\n---\n` : '') +
      ` ${p.file ?? 'drivers/pci/pci.c'} | ${p.minus.length + p.plus.length} ++--\n 1 file changed\n\n` +
      diff(p, i) +
      '-- \n2.45.0\n';
    out.push({ messageId: id(i), raw: raw(header(i, p.title), body) });
  });
  return out;
}

/** Parsed messages of some postings, in the order given. */
export async function postings(...specs: PostingSpec[]): Promise<Message[]> {
  const out: Message[] = [];
  for (const s of specs)
    for (const m of postingMails(s)) {
      const parsed = await parseMail({
        origin: { kind: 'eml', file: `${m.messageId}.eml` },
        raw: m.raw,
      });
      if (isParseFailure(parsed)) throw new Error(`${m.messageId}: ${parsed.reason}`);
      out.push(parsed);
    }
  return out;
}

/** An mbox of some postings (for the CLI). */
export function mbox(...specs: PostingSpec[]): string {
  return specs
    .flatMap(postingMails)
    .map((m) => `From mboxrd@z Thu Jan  1 00:00:00 1970\n${m.raw.replace(/^(>*From )/gm, '>$1')}`)
    .join('\n');
}

/** A few changes of believable size, each different. */
export const CHANGES = {
  align: {
    minus: ['\treturn 0;'],
    plus: [
      '\t/* Keep small BARs of different devices apart */',
      '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
    ],
  },
  alignV3: {
    minus: ['\treturn 0;'],
    plus: [
      '\t/* A page for every BAR, so no two devices share one */',
      '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
    ],
  },
  decode: {
    minus: ['\tpci_write_config_word(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);'],
    plus: [
      '\tif (cmd & PCI_COMMAND_MEMORY)',
      '\t\tpci_write_config_word(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);',
    ],
  },
  restore: {
    minus: ['\tpci_bus_release_bridge_resources(bus, type, whole_subtree);'],
    plus: [
      '\tpci_bus_release_bridge_resources(bus, type, whole_subtree);',
      '\trestore_child_resource_alignment(bus);',
    ],
  },
  acs: {
    minus: ['\t\treturn -ENOTTY;'],
    plus: [
      '\t\treturn pci_quirk_multifunction_acs(dev, acs_flags);',
      '\t/* The functions cannot reach each other */',
    ],
  },
  tiny: { minus: ['\tint ret;'], plus: ['\tint ret = 0;'] },
} satisfies Record<string, Pick<PatchSpec, 'minus' | 'plus'>>;
