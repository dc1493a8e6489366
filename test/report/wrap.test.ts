// The one text wrapper (bot/util/text.ts) that the terminal report, Markdown
// and mail replies share.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wrapLines, wrapWords } from '../../bot/util/text.js';

describe('wrapWords', () => {
  it('fills lines up to the width exactly, never over it', () => {
    // 'aaaa bbbb' is 9 columns: fits a width of 9, not of 8.
    assert.deepEqual(wrapWords('aaaa bbbb cc', 9), ['aaaa bbbb', 'cc']);
    assert.deepEqual(wrapWords('aaaa bbbb cc', 8), ['aaaa', 'bbbb cc']);
  });
  it('prefixes the first line and the others separately, counting the prefix', () => {
    assert.deepEqual(wrapWords('one two three four', 10, '- ', '  '), [
      '- one two',
      '  three',
      '  four',
    ]);
  });
  it('keeps a word longer than the line whole, on a line of its own', () => {
    const url = 'https://lore.kernel.org/r/' + 'x'.repeat(80);
    assert.deepEqual(wrapWords(`see ${url} here`, 20), ['see', url, 'here']);
  });
  it('treats line breaks as spaces and gives nothing for blank text', () => {
    assert.deepEqual(wrapWords('a\nb\n\n c', 72), ['a b c']);
    assert.deepEqual(wrapWords(' \n ', 72), []);
  });
});

describe('wrapLines', () => {
  it('keeps explicit line breaks, drops empty lines, and continues indented lines indented', () => {
    const text = 'Summary line\n\n  At 4K: one two three four five\nlast';
    assert.deepEqual(wrapLines(text, 20, '> '), [
      '> Summary line',
      '>   At 4K: one two',
      '>   three four five',
      '> last',
    ]);
  });
});
