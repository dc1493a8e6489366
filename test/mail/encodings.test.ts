// The same patch sent fourteen ways (8bit, quoted-printable, base64, Latin-1,
// format=flowed with and without DelSp, CRLF, three kinds of attachment,
// multipart/alternative, folded headers, unknown charset, no Message-ID) must
// give the same diff, byte for byte, and that diff must apply to the tree it
// was made against.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../bot/types.js';
import { gitApply, mailPath, parseFixture } from './helpers.js';
import { makeToyRepo, TOY_BASE_COMMIT } from './toytree.js';

const VARIANTS = [
  'single-8bit-utf8.eml',
  'single-qp-utf8.eml',
  'single-base64-utf8.eml',
  'single-qp-latin1.eml',
  'single-8bit-latin1.eml',
  'single-flowed.eml',
  'single-flowed-delsp-qp.eml',
  'single-crlf.eml',
  'single-attach-xpatch-base64.eml',
  'single-attach-textplain-qp.eml',
  'single-attach-octet-stream.eml',
  'single-alternative-html.eml',
  'folded-encoded-headers.eml',
  'unknown-charset.eml',
  'missing-message-id.eml',
  '0001-PCI-toy-Give-sub-page-memory-BARs-a-page-of-their-own.patch',
];
/** Variants where the commit message is the inline text (not an attachment with a note around it). */
const INLINE = VARIANTS.filter((v) => !v.includes('attach'));

/**
 * The reference diff, cut from git format-patch's own output with plain string
 * operations: from `diff --git` to the end of the last hunk, which format-patch
 * follows with an empty line and `base-commit:`.
 */
function referenceDiff(): string {
  const text = readFileSync(
    mailPath('0001-PCI-toy-Give-sub-page-memory-BARs-a-page-of-their-own.patch'),
    'utf8',
  );
  const start = text.indexOf('diff --git');
  const end = text.indexOf('\n\nbase-commit: ');
  assert.ok(start > 0 && end > start);
  return text.slice(start, end + 1);
}

describe('one patch, every encoding', () => {
  const parsed = new Map<string, Message>();
  let repo: Awaited<ReturnType<typeof makeToyRepo>>;
  before(async () => {
    repo = await makeToyRepo();
    for (const v of VARIANTS) parsed.set(v, await parseFixture(v));
  });
  after(async () => repo.cleanup());

  it('the toy repository is the base the fixtures name', () => {
    assert.equal(repo.head, TOY_BASE_COMMIT);
  });

  it('extracts the identical diff from every variant', () => {
    const ref = referenceDiff();
    assert.ok(ref.includes('\n-- \n') === false, 'the reference has no signature');
    for (const v of VARIANTS) assert.equal(parsed.get(v)!.diff, ref, v);
  });

  it('the diff keeps what mailers like to mangle', () => {
    const diff = parsed.get('single-flowed.eml')!.diff!;
    // the empty context line (" "), tabs, a line longer than 78 columns, non-ASCII
    assert.match(diff, /\n \n/);
    assert.match(diff, /\n \t\treturn size;\n/);
    assert.ok(diff.split('\n').some((l) => l.length > 90));
    assert.ok(diff.includes('Jörg Rödel and Stéphane Lefèvre'));
    assert.ok(!diff.includes('\r'));
  });

  it('every variant applies with git apply --check', async () => {
    for (const v of VARIANTS) assert.equal(await gitApply(repo.dir, parsed.get(v)!.diff!), null, v);
  });

  it('the commit message is the same in every inline variant, decoded to UTF-8', () => {
    const ref = parsed.get('single-8bit-utf8.eml')!.commitMessage;
    assert.ok(ref.startsWith('A memory BAR smaller than a page'));
    assert.ok(ref.endsWith('Signed-off-by: Zoë Ångström <zoe@example.se>\n'));
    assert.ok(ref.includes('\nFrom the PCI spec'), 'space-stuffed "From " is unstuffed');
    for (const v of INLINE) assert.equal(parsed.get(v)!.commitMessage, ref, v);
  });

  it('attachment variants still find the trailers and the base', () => {
    for (const v of VARIANTS.filter((x) => x.includes('attach'))) {
      const m = parsed.get(v)!;
      assert.equal(m.baseCommit, TOY_BASE_COMMIT, v);
      assert.deepEqual(
        m.trailers.map((t) => t.key),
        ['Reported-by', 'Closes', 'Fixes', 'Cc', 'Signed-off-by'],
        v,
      );
    }
  });

  it('subject, author and base are the same everywhere', () => {
    for (const v of VARIANTS) {
      const m = parsed.get(v)!;
      assert.equal(m.subject, '[PATCH] PCI: toy: Give sub-page memory BARs a page of their own', v);
      assert.equal(m.baseCommit, TOY_BASE_COMMIT, v);
      if (!v.endsWith('.patch'))
        assert.deepEqual(m.from, { name: 'Zoë Ångström', address: 'zoe@example.se' }, v);
    }
  });

  it('records the diff position in the body', () => {
    for (const v of VARIANTS) {
      const m = parsed.get(v)!;
      assert.ok(m.diffLine !== null);
      assert.ok(
        m.body.split('\n')[m.diffLine! - 1]!.startsWith('diff --git a/drivers/pci/toy-align.c'),
        v,
      );
    }
  });

  it('warns only where something was odd', () => {
    assert.deepEqual(parsed.get('single-8bit-utf8.eml')!.warnings, []);
    assert.deepEqual(parsed.get('single-qp-latin1.eml')!.warnings, []);
    assert.match(
      parsed.get('unknown-charset.eml')!.warnings.join('\n'),
      /unknown charset "x-toy-unknown"/,
    );
    assert.match(parsed.get('missing-message-id.eml')!.warnings.join('\n'), /no Message-ID/);
  });
});
