// Markdown is read on GitHub (the check run's summary) and pasted elsewhere:
// names that come from a mail (file names, hunk headers, input paths) sit in
// code spans that a backtick in the name cannot end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mdCode } from '../../workers/report/text.js';

/** The text a CommonMark code span shows: strip the fence and one space each side. */
function spanText(span: string): string | null {
  const m = /^(`+)(.*?)\1$/s.exec(span);
  if (!m) return null;
  const inner = m[2]!;
  // The fence may not occur inside (a shorter or longer run is fine).
  if (new RegExp(`(^|[^\`])${m[1]}([^\`]|$)`).test(inner)) return null;
  return /^ .* $/.test(inner) && !/^ +$/.test(inner) ? inner.slice(1, -1) : inner;
}

test('mdCode keeps plain names as they are', () => {
  assert.equal(mdCode('drivers/pci/pci.c:6550'), '`drivers/pci/pci.c:6550`');
});

test('mdCode: a backtick, a run of them or a line break in a name cannot end the span', () => {
  for (const name of [
    'drivers/pci/a`b.c',
    'x``y```z',
    '`leading',
    'trailing`',
    '@@ -1,2 +1,3 @@ static int `evil`(void) [link](javascript:alert(1))',
  ]) {
    const span = mdCode(name);
    assert.equal(spanText(span), name, `${name} -> ${span}`);
  }
  assert.equal(spanText(mdCode('two\nlines')), 'two lines');
});
