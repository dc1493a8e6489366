// For scripts/bench.ts (`npm run bench -- input`): synthetic mboxes in the
// shapes that used to be quadratic (a deep reply chain, a flood of
// unthreaded numbered patches) and in the shape of list traffic, written
// straight to disk in chunks. Not used by the pipeline itself.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export type MboxShape = 'list' | 'chain' | 'flood';

const DAY0 = Date.parse('2025-01-06T10:00:00Z');

function header(
  i: number,
  from: string,
  subject: string,
  id: string,
  parent: string | null,
  root: string | null,
): string {
  const date = new Date(DAY0 + i * 1000).toUTCString().replace('GMT', '+0000');
  const refs = [root, parent].filter((x, k, a): x is string => x !== null && a.indexOf(x) === k);
  return (
    `From bench@example.org Mon Jan  6 10:00:00 2025\n` +
    `From: ${from}\nTo: linux-pci@vger.kernel.org\nSubject: ${subject}\nDate: ${date}\n` +
    `Message-ID: <${id}>\n` +
    (parent ? `In-Reply-To: <${parent}>\n` : '') +
    (refs.length ? `References: ${refs.map((r) => `<${r}>`).join(' ')}\n` : '') +
    `MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n`
  );
}

/** A plausible diff of about `lines` changed lines in one file (mboxrd-safe: no line starts with "From "). */
function diff(path: string, seed: number, lines: number): string {
  let body = '';
  for (let k = 0; k < lines; k++)
    body += `-\tval = readl(base + 0x${(seed + k).toString(16)});\n+\tval = readl_relaxed(base + 0x${(seed + k).toString(16)});\n`;
  return (
    `diff --git a/${path} b/${path}\nindex 1111111..2222222 100644\n--- a/${path}\n+++ b/${path}\n` +
    `@@ -${(seed % 900) + 10},${lines} +${(seed % 900) + 10},${lines} @@ static int probe(struct pci_dev *pdev)\n` +
    body
  );
}

const PROSE =
  'The BAR of the device is smaller than a page, so it shares the page with\n' +
  'its neighbour and vfio cannot map it on its own. Align it to a page.\n';

/** Messages number `start`.. of a shape, as mbox text. `scale` grows the bodies (list shape). */
function* messages(shape: MboxShape, total: number, scale: number): Generator<string> {
  if (shape === 'chain') {
    // one patch, then every message replies to the one before it
    yield (
      header(0, 'Ann <ann@example.com>', '[PATCH] PCI: Align small BARs', 'c0@bench', null, null) +
      `${PROSE}\nSigned-off-by: Ann <ann@example.com>\n---\n${diff('drivers/pci/setup-res.c', 0, 3)}`
    );
    for (let i = 1; i < total; i++)
      yield (
        header(
          i,
          `R${i % 50} <r${i % 50}@example.net>`,
          'Re: [PATCH] PCI: Align small BARs',
          `c${i}@bench`,
          `c${i - 1}@bench`,
          'c0@bench',
        ) + `On Monday, someone wrote:\n> ${PROSE.split('\n')[0]}\n\nReply ${i}.\n`
      );
    return;
  }
  if (shape === 'flood') {
    // unthreaded numbered patches from one sender, a second apart
    for (let i = 0; i < total; i++)
      yield (
        header(
          i,
          'Flo <flo@example.com>',
          `[PATCH ${i + 1}/${total}] PCI: Part ${i + 1}`,
          `f${i}@bench`,
          null,
          null,
        ) +
        `Part ${i + 1}.\n\nSigned-off-by: Flo <flo@example.com>\n---\n${diff(`drivers/pci/f${i % 97}.c`, i, 2)}`
      );
    return;
  }
  // list traffic, in blocks of 20: a cover and 5 patches, 8 replies, 3 lone
  // out-of-scope patches, 3 questions
  let i = 0;
  for (let block = 0; i < total; block++) {
    const cover = `s${block}-0@bench`;
    const author = `A${block % 300} <a${block % 300}@example.com>`;
    const title = `PCI: Series ${block}`;
    const plan: (() => string)[] = [
      () =>
        header(i, author, `[PATCH 0/5] ${title}`, cover, null, null) +
        `${PROSE.repeat(2 * scale)}\n`,
      ...[1, 2, 3, 4, 5].map(
        (k) => () =>
          header(
            i,
            author,
            `[PATCH ${k}/5] ${title} part ${k}`,
            `s${block}-${k}@bench`,
            cover,
            cover,
          ) +
          `${PROSE.repeat(scale)}\nSigned-off-by: ${author}\n---\n${diff(`drivers/pci/s${block % 40}.c`, block * 10 + k, 4 * scale)}`,
      ),
      ...[1, 2, 3, 4, 5, 6, 7, 8].map(
        (k) => () =>
          header(
            i,
            `R${k} <r${k}@example.net>`,
            `Re: [PATCH ${(k % 5) + 1}/5] ${title} part ${(k % 5) + 1}`,
            `s${block}-r${k}@bench`,
            `s${block}-${(k % 5) + 1}@bench`,
            cover,
          ) +
          `On Monday, ${author} wrote:\n> ${PROSE.repeat(scale).split('\n').join('\n> ')}\nLooks good.\n`,
      ),
      ...[1, 2, 3].map(
        (k) => () =>
          header(
            i,
            `N${k} <n${k}@example.org>`,
            `[PATCH net-next] net: Fix ${block}.${k}`,
            `n${block}-${k}@bench`,
            null,
            null,
          ) +
          `Fix.\n\nSigned-off-by: N${k} <n${k}@example.org>\n---\n${diff('net/core/dev.c', block + k, 2 * scale)}`,
      ),
      ...[1, 2, 3].map(
        (k) => () =>
          header(
            i,
            `Q${k} <q${k}@example.org>`,
            `ASPM question ${block}.${k}`,
            `q${block}-${k}@bench`,
            null,
            null,
          ) + `Hi,\n\nwhy is ASPM off on my laptop?\n\nThanks\n`,
      ),
    ];
    for (const make of plan) {
      if (i >= total) return;
      yield make();
      i++;
    }
  }
}

/**
 * Write an mbox of `count` messages in `shape` (or, with `bytes`, list
 * traffic until the file holds that many bytes). Returns messages and bytes written.
 */
export async function writeSyntheticMbox(
  path: string,
  opts: { shape: MboxShape; count?: number; bytes?: number; scale?: number },
): Promise<{ messages: number; bytes: number }> {
  const out = createWriteStream(path);
  const limit = opts.bytes ?? Infinity;
  const total = opts.count ?? Number.MAX_SAFE_INTEGER;
  let bytes = 0;
  let n = 0;
  let buf = '';
  for (const m of messages(opts.shape, total, opts.scale ?? 1)) {
    const text = (n ? '\n' : '') + m;
    buf += text;
    bytes += Buffer.byteLength(text);
    n++;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
    if (bytes >= limit) break;
  }
  out.end(buf);
  await once(out, 'close');
  return { messages: n, bytes };
}
