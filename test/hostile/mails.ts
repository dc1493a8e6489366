// Hostile mails for the hostile-input suite, written here (no list mail is
// stored): each with the name it is reported under and what the report must
// say about it. Bytes are latin1 strings (one char per byte).

export interface MailSpec {
  from?: string;
  subject: string;
  messageId: string;
  date?: string;
  inReplyTo?: string;
  references?: string[];
  /** Extra header lines (after the standard ones). */
  headers?: string[];
  /** Replaces the default Content-Type / transfer-encoding lines. */
  contentHeaders?: string[];
  body: string;
}

export function mail(m: MailSpec): string {
  const h = [
    `From: ${m.from ?? 'Hos Tile <hostile@example.org>'}`,
    'To: linux-pci@vger.kernel.org',
    `Subject: ${m.subject}`,
    `Date: ${m.date ?? 'Tue, 7 Jan 2025 10:00:00 +0000'}`,
    `Message-ID: <${m.messageId}>`,
    ...(m.inReplyTo ? [`In-Reply-To: <${m.inReplyTo}>`] : []),
    ...(m.references?.length ? [`References: ${m.references.map((r) => `<${r}>`).join(' ')}`] : []),
    'MIME-Version: 1.0',
    ...(m.contentHeaders ?? ['Content-Type: text/plain; charset=UTF-8']),
    ...(m.headers ?? []),
  ];
  return `${h.join('\n')}\n\n${m.body}`;
}

/** A patch mail: commit message, `---`, the diff. */
export function patchMail(m: Omit<MailSpec, 'body'> & { text?: string; diff: string }): string {
  return mail({
    ...m,
    body: `${m.text ?? 'A change.\n\nSigned-off-by: Hos Tile <hostile@example.org>\n'}---\n${m.diff}`,
  });
}

/** What the report must say about one hostile mail. */
export interface Expect {
  /** The disposition kind of the message in the report. */
  disposition: 'failed' | 'not-a-patch' | 'patch' | 'reply' | 'id-conflict' | 'duplicate';
  /** Matches the failure reason, or one of the message's warnings, or a series error. */
  reason: RegExp;
  where: 'reason' | 'warning' | 'series-error' | 'apply';
}

export interface HostileMail {
  name: string;
  raw: string;
  messageId: string;
  expect: Expect;
}

/** A multipart nested `depth` deep around a text part. */
function nested(depth: number): string {
  let body = 'Content-Type: text/plain\n\nthe bottom\n';
  for (let d = 0; d < depth; d++)
    body = `Content-Type: multipart/mixed; boundary="b${d}"\n\n--b${d}\n${body}--b${d}--\n`;
  return body;
}

/** Many small files in one diff (new files: nothing to apply against). */
function manyFilesDiff(files: number): string {
  let d = '';
  for (let i = 0; i < files; i++)
    d += `diff --git a/drivers/pci/gen/f${i}.c b/drivers/pci/gen/f${i}.c\nnew file mode 100644\n--- /dev/null\n+++ b/drivers/pci/gen/f${i}.c\n@@ -0,0 +1 @@\n+int x${i};\n`;
  return d;
}

function manyLinesDiff(lines: number): string {
  return (
    `diff --git a/drivers/pci/big.c b/drivers/pci/big.c\nnew file mode 100644\n--- /dev/null\n+++ b/drivers/pci/big.c\n@@ -0,0 +1,${lines} @@\n` +
    '+x\n'.repeat(lines)
  );
}

/**
 * One of each hostile mail for the ingest/parse/assemble side, at the
 * default limits (the size bombs are sized for them). Each is in its own
 * file in a batch; every one must be reported with its reason.
 */
export function hostileMails(): HostileMail[] {
  const out: HostileMail[] = [];
  const add = (name: string, messageId: string, raw: string, expect: Expect) =>
    out.push({ name, raw, messageId, expect });

  add(
    'deep-mime',
    'deep-mime@hostile',
    mail({
      subject: 'hostile: MIME nested 40 deep',
      messageId: 'deep-mime@hostile',
      contentHeaders: [],
      body: '',
    }).replace(/\n\n$/, '\n') + nested(40),
    { disposition: 'not-a-patch', reason: /MIME nesting deeper than 12/, where: 'warning' },
  );
  add(
    'truncated-base64',
    'b64@hostile',
    mail({
      subject: 'hostile: truncated base64',
      messageId: 'b64@hostile',
      contentHeaders: [
        'Content-Type: text/plain; charset=UTF-8',
        'Content-Transfer-Encoding: base64',
      ],
      body: 'SGVsbG8sIHdvcmxkIQ\n',
    }),
    { disposition: 'not-a-patch', reason: /base64 body is truncated/, where: 'warning' },
  );
  add(
    'unknown-charset',
    'charset@hostile',
    mail({
      subject: 'hostile: unknown charset',
      messageId: 'charset@hostile',
      contentHeaders: ['Content-Type: text/plain; charset=x-klingon-8'],
      body: 'qapla\xe9\n',
    }),
    { disposition: 'not-a-patch', reason: /unknown charset "x-klingon-8"/, where: 'warning' },
  );
  add(
    'bad-bytes',
    'bytes@hostile',
    mail({
      subject: 'hostile: bytes invalid in the declared charset',
      messageId: 'bytes@hostile',
      body: 'caf\xe9 \xff\xfe\n',
    }),
    { disposition: 'not-a-patch', reason: /bytes invalid in charset "UTF-8"/, where: 'warning' },
  );
  add(
    'mime-flood',
    'flood@hostile',
    mail({
      subject: 'hostile: 2,000 MIME parts',
      messageId: 'flood@hostile',
      contentHeaders: ['Content-Type: multipart/mixed; boundary="p"'],
      body: '--p\nContent-Type: text/plain\n\npart\n'.repeat(2000) + '--p--\n',
    }),
    { disposition: 'not-a-patch', reason: /more than maxMimeParts \(500\)/, where: 'warning' },
  );
  add(
    'huge-header',
    'header@hostile',
    mail({
      subject: 'hostile: a 300 KB header',
      messageId: 'header@hostile',
      headers: [`X-Padding: ${'x'.repeat(300 * 1024)}`],
      body: 'body\n',
    }),
    {
      disposition: 'failed',
      reason: /header block larger than maxHeaderBytes \(256 KiB\)/,
      where: 'reason',
    },
  );
  add(
    'too-many-files',
    'files@hostile',
    patchMail({
      subject: '[PATCH] PCI: Add 10,001 files',
      messageId: 'files@hostile',
      diff: manyFilesDiff(10_001),
    }),
    {
      disposition: 'failed',
      reason: /touches 10001 files, more than maxDiffFiles \(10000\)/,
      where: 'reason',
    },
  );
  add(
    'too-many-lines',
    'lines@hostile',
    patchMail({
      subject: '[PATCH] PCI: Add a file of 1,000,001 lines',
      messageId: 'lines@hostile',
      diff: manyLinesDiff(1_000_001),
    }),
    { disposition: 'failed', reason: /more than maxDiffLines \(1000000\)/, where: 'reason' },
  );
  add(
    'parse-diff-crash',
    'nonewline@hostile',
    patchMail({
      subject: '[PATCH] PCI: Add an empty-looking file',
      messageId: 'nonewline@hostile',
      diff: 'diff --git a/drivers/pci/nl.c b/drivers/pci/nl.c\nnew file mode 100644\n--- /dev/null\n+++ b/drivers/pci/nl.c\n@@ -0,0 +1 @@\n\\ No newline at end of file\n',
    }),
    // git apply refuses the truncated hunk; the review goes on
    { disposition: 'patch', reason: /^(?:malformed|conflict)$/, where: 'apply' },
  );
  add(
    'no-prefix',
    'noprefix@hostile',
    patchMail({
      subject: '[PATCH] PCI: Add a file (git diff --no-prefix)',
      messageId: 'noprefix@hostile',
      diff: 'diff --git drivers/pci/np.c drivers/pci/np.c\nnew file mode 100644\n--- /dev/null\n+++ drivers/pci/np.c\n@@ -0,0 +1 @@\n+int np;\n',
    }),
    // read at -p0, as git apply -p0 would: the new file is made where it says
    { disposition: 'patch', reason: /^applied$/, where: 'apply' },
  );
  add(
    'traditional-header',
    'trad@hostile',
    patchMail({
      subject: '[PATCH] PCI: Add a file (traditional diff header)',
      messageId: 'trad@hostile',
      diff: '--- /dev/null\n+++ b/drivers/pci/trad.c 2025-01-10 12:00:00\n@@ -0,0 +1 @@\n+int trad;\n',
    }),
    // the date after the name is not part of it
    { disposition: 'patch', reason: /^applied$/, where: 'apply' },
  );
  return out;
}

/** A clean copy of a mail with its Message-ID reused by a different mail. */
export function idConflict(messageId: string): string {
  return mail({
    subject: 'hostile: I reuse a Message-ID',
    messageId,
    body: 'Not the mail you were looking for.\n',
  });
}
