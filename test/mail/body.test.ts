import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readB4Info } from '../../bot/mail/body.js';
import { decodeFlowed } from '../../bot/mail/flowed.js';
import { decodeQuotedPrintable } from '../../bot/mail/mime.js';
import { extractDiff, parseTrailers } from '../../bot/mail/parse.js';

const DIFF = `diff --git a/drivers/pci/x.c b/drivers/pci/x.c
index 1111111..2222222 100644
--- a/drivers/pci/x.c
+++ b/drivers/pci/x.c
@@ -1,3 +1,3 @@
 a
-b
+c
 d
`;

describe('extractDiff', () => {
  it('splits at ---, skips the diffstat, stops before base-commit and the signature', () => {
    const body = `Message line.\n\nSigned-off-by: A <a@x>\n---\n drivers/pci/x.c | 2 +-\n 1 file changed\n\n${DIFF}\nbase-commit: 0123456789abcdef\n-- \n2.39.5\n\n`;
    const r = extractDiff(body);
    assert.equal(r.commitMessage, 'Message line.\n\nSigned-off-by: A <a@x>\n');
    assert.equal(r.diff, DIFF);
    assert.equal(r.diffLine, 8);
  });

  it('without --- the message ends where the diff starts', () => {
    const r = extractDiff(`Fix it.\n\n${DIFF}`);
    assert.equal(r.commitMessage, 'Fix it.\n');
    assert.equal(r.diff, DIFF);
    assert.equal(r.diffLine, 3);
  });

  it('a "-- " line inside a hunk is a removed line, not the signature', () => {
    const d = `diff --git a/t.rst b/t.rst\n--- a/t.rst\n+++ b/t.rst\n@@ -1,3 +1,3 @@\n x\n-- \n+- item\n y\n`;
    const r = extractDiff(`msg\n---\n${d}-- \n2.39.5\n`);
    assert.equal(r.diff, d);
  });

  it('no diff: null, and the whole body is the message', () => {
    const r = extractDiff('Just words.\n\nMore words.\n\n\n');
    assert.deepEqual(r, {
      commitMessage: 'Just words.\n\nMore words.\n',
      diff: null,
      diffLine: null,
    });
  });

  it('a quoted diff is no diff', () => {
    const r = extractDiff(
      `On Monday A wrote:\n> diff --git a/x b/x\n> --- a/x\n> +++ b/x\n> @@ -1 +1 @@\n> -a\n> +b\n\nLooks fine.\n`,
    );
    assert.equal(r.diff, null);
  });

  it('keeps several files, mode changes, renames, no-newline markers and binary patches', () => {
    const d = [
      'diff --git a/a.c b/a.c',
      'old mode 100644',
      'new mode 100755',
      'diff --git a/old.c b/new.c',
      'similarity index 90%',
      'rename from old.c',
      'rename to new.c',
      '--- a/old.c',
      '+++ b/new.c',
      '@@ -1 +1 @@',
      '-x',
      '\\ No newline at end of file',
      '+y',
      '\\ No newline at end of file',
      'diff --git a/img.bin b/img.bin',
      'new file mode 100644',
      'index 0000000..1111111',
      'GIT binary patch',
      'literal 5',
      'McmZQzWMXCD000310{{R3',
      '',
      'literal 0',
      'HcmV?d00001',
      '',
      '',
    ].join('\n');
    const r = extractDiff(`Msg\n---\n${d}\n-- \n2.39.5\n`);
    // the empty line after each base85 block is part of the binary patch
    assert.equal(r.diff, d);
  });

  it('a truncated hunk ends the diff where it breaks', () => {
    const r = extractDiff(
      `m\n---\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n a\n-b\nGarbage here\n`,
    );
    assert.equal(r.diff, 'diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n a\n-b\n');
  });

  it('drops in-body From:/Date: headers from the commit message (git am does)', () => {
    const r = extractDiff(
      `From: Other Author <o@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nReal message.\n---\n${DIFF}`,
    );
    assert.equal(r.commitMessage, 'Real message.\n');
  });
});

describe('parseTrailers', () => {
  it('reads the last paragraph with line numbers', () => {
    const msg =
      'Para one.\n\nPara two.\n\nFixes: 0123456789ab ("PCI: x")\nReviewed-by: R <r@x>\nSigned-off-by: A <a@x>\n';
    const t = parseTrailers(msg);
    assert.deepEqual(t, [
      { key: 'Fixes', value: '0123456789ab ("PCI: x")', line: 5 },
      { key: 'Reviewed-by', value: 'R <r@x>', line: 6 },
      { key: 'Signed-off-by', value: 'A <a@x>', line: 7 },
    ]);
    for (const x of t) assert.ok(msg.split('\n')[x.line - 1]!.startsWith(x.key + ':'));
  });

  it('takes a Fixes: block in its own paragraph above the trailers', () => {
    const t = parseTrailers(
      'Text.\n\nFixes: 0123456789ab ("PCI: x")\nCc: stable@vger.kernel.org # 6.1+\n\nSigned-off-by: A <a@x>\n',
    );
    assert.deepEqual(
      t.map((x) => [x.key, x.value, x.line]),
      [
        ['Fixes', '0123456789ab ("PCI: x")', 3],
        ['Cc', 'stable@vger.kernel.org # 6.1+', 4],
        ['Signed-off-by', 'A <a@x>', 6],
      ],
    );
  });

  it('tolerates maintainer notes and folded values', () => {
    const t = parseTrailers(
      'Text.\n\nSigned-off-by: A <a@x>\n[bhelgaas: reword commit log]\nLink: https://lore.example.org/r/\n  continued\nSigned-off-by: B <b@x>\n',
    );
    assert.deepEqual(
      t.map((x) => `${x.key}=${x.value}`),
      [
        'Signed-off-by=A <a@x>',
        'Link=https://lore.example.org/r/ continued',
        'Signed-off-by=B <b@x>',
      ],
    );
  });

  it('a body of trailers only', () => {
    assert.deepEqual(
      parseTrailers('Signed-off-by: A <a@x>\n').map((t) => t.key),
      ['Signed-off-by'],
    );
  });

  it('prose that happens to have a colon is not a trailer block', () => {
    assert.deepEqual(
      parseTrailers('Text.\n\nNote: this is prose.\nAnother line of prose here.\n'),
      [],
    );
    assert.deepEqual(parseTrailers('Text.\n\nImportant: read this.\n'), []);
  });
});

describe('readB4Info', () => {
  it('reads base-commit, change-id and prerequisites outside the diff', () => {
    const body = `Cover.\n\n---\nbase-commit: 30E89F7475725C32783644AA82B1DA096C36A249\nchange-id: 20250107-x-1a2b\nprerequisite-change-id: 20241220-prep-1a2b3c:v3\nprerequisite-patch-id: 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nprerequisite-message-id: <20241220-prep-v3-0@x.org>\n`;
    const b = readB4Info(body);
    assert.equal(b.baseCommit, '30e89f7475725c32783644aa82b1da096c36a249');
    assert.equal(b.changeId, '20250107-x-1a2b');
    assert.deepEqual(b.prerequisites, [
      { kind: 'base-commit', value: '30e89f7475725c32783644aa82b1da096c36a249' },
      { kind: 'change-id', value: '20241220-prep-1a2b3c:v3' },
      { kind: 'patch-id', value: '4b825dc642cb6eb9a060e54bf8d69288fbee4904' },
      { kind: 'message-id', value: '20241220-prep-v3-0@x.org' },
    ]);
  });

  it('ignores lines inside the diff and warns about a bogus base', () => {
    const d = `diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-base-commit: 1111111\n+base-commit: 2222222\n`;
    const b = readB4Info(`m\n---\n${d}\nbase-commit: not-a-sha\n`);
    assert.equal(b.baseCommit, null);
    assert.match(b.warnings.join(), /not a commit id/);
  });
});

describe('decodeFlowed (RFC 3676)', () => {
  it('joins soft breaks and unstuffs', () => {
    assert.equal(
      decodeFlowed('one two \nthree\n From here\n', false),
      'one two three\nFrom here\n',
    );
  });
  it('DelSp=yes drops the break space', () => {
    assert.equal(decodeFlowed('abcdef \nghi\n', true), 'abcdefghi\n');
    assert.equal(decodeFlowed('abcdef \nghi\n', false), 'abcdef ghi\n');
  });
  it('keeps the signature separator and the empty diff context line', () => {
    assert.equal(decodeFlowed('text \nmore\n-- \nsig\n', false), 'text more\n-- \nsig\n');
    // "  " is a stuffed " ": an empty context line, not a soft break
    assert.equal(decodeFlowed(' -a\n  \n +b\n', false), '-a\n \n+b\n');
  });
  it('does not join across quote depths', () => {
    assert.equal(decodeFlowed('> quoted \nnot quoted\n', false), '> quoted \nnot quoted\n');
    assert.equal(decodeFlowed('> a \n> b\n', false), '> a b\n');
  });
});

describe('decodeQuotedPrintable', () => {
  it('decodes escapes and soft breaks, keeps invalid escapes', () => {
    assert.equal(
      decodeQuotedPrintable('a=3Db=\nc =20\nJ=C3=B6rg =ZZ').toString('utf8'),
      'a=bc  \nJörg =ZZ',
    );
  });
});
