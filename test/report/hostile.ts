// A hostile patch mail for the page tests: the bundled example's first patch,
// sent alone, with a subject, a sender name and a commit message made to break
// out of HTML (a <script>, an attribute break-out with an onerror handler). It
// is in scope and applies to the real tree, so it gets a full review and page.
import { readFile } from 'node:fs/promises';

export const HOSTILE_SUBJECT =
  '[PATCH] PCI: <script>window.__pwned=1</script> "><img src=x onerror="window.__pwned=2"> it';
export const HOSTILE_NAME = '</title><script>window.__pwned=3</script>';
export const HOSTILE_BODY_LINE = "'><svg onload=window.__pwned=4><a href=javascript:alert(1)>x</a>";

/** The mbox text of one hostile mail made from the example mbox at `exampleMbox`. */
export async function hostileMbox(exampleMbox: string): Promise<string> {
  const text = await readFile(exampleMbox, 'latin1');
  const parts = text.split(/^(?=From [0-9a-f]{40} )/m);
  const first = parts.find((p) => /^Subject: \[PATCH v3 1\/8\]/m.test(p));
  if (!first) throw new Error(`${exampleMbox}: no patch 1/8`);
  return first
    .replace(/^Subject: .*$/m, `Subject: ${HOSTILE_SUBJECT}`)
    .replace(/^From: .*$/m, `From: "${HOSTILE_NAME}" <evil@example.org>`)
    .replace(/^Message-ID: .*$/m, 'Message-ID: <hostile-1@example.org>')
    .replace(/^(In-Reply-To|References): .*\n/gm, '')
    .replace(/\n\n/, `\n\n${HOSTILE_BODY_LINE}\n\n`);
}

/** Whether a page's HTML carries any active content a mail could have smuggled in. */
export function activeContent(html: string): string[] {
  const found: string[] = [];
  // Raw markup only: escaped text (&lt;script&gt;) cannot open a tag.
  for (const re of [
    /<script/i,
    // The pages' own images: same-origin map files only.
    /<img\b(?![^>]*\ssrc="[\w./-]+\.svg")/i,
    /<iframe/i,
    /<[^>]*\son\w+\s*=/i,
    /<[^>]*\bhref\s*=\s*["']?\s*javascript:/i,
  ])
    if (re.test(html)) found.push(re.source);
  return found;
}
