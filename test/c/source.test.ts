// The shared C lexer and scope index (bot/kernel/c): blanking keeps offsets
// and lines, top-level definitions are named from their header the way both the
// policy reader and the rules need, and one line helper serves them all.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bareCode,
  blankComments,
  blankCommentsAndLiterals,
  openParenBefore,
  skipBraces,
  skipParens,
} from '../../bot/kernel/c/lex.js';
import { Lines } from '../../bot/kernel/c/lines.js';
import { lineAt, lineStarts } from '../../bot/util/text.js';
import {
  CSource,
  cSourceOf,
  scopeAt,
  topLevelScopes,
  type CDef,
} from '../../bot/kernel/c/source.js';
import { findGuards } from '../../bot/kernel/c/guards.js';

describe('lexer', () => {
  const src = [
    '#define BRACE { \\',
    '\t}',
    'int a = 1; /* { */ char *s = "}{"; char c = \'{\';',
    '// }',
    '',
  ].join('\n');

  test('blanked forms keep every offset and newline', () => {
    for (const f of [blankComments, blankCommentsAndLiterals, bareCode]) {
      const out = f(src);
      assert.equal(out.length, src.length);
      assert.deepEqual(lineStarts(out), lineStarts(src));
    }
  });

  test('comments only, then literal contents, then directives with their continuations', () => {
    assert.equal(blankComments(src).includes('/*'), false);
    assert.ok(blankComments(src).includes('"}{"'), 'literals kept');
    assert.ok(blankCommentsAndLiterals(src).includes('"  "'), 'literal contents blanked');
    assert.ok(blankCommentsAndLiterals(src).includes("'{'") === false);
    assert.ok(blankCommentsAndLiterals(src).startsWith('#define BRACE {'), 'directives kept');
    const bare = bareCode(src);
    assert.equal(bare.split('\n')[0]!.trim(), '');
    assert.equal(bare.split('\n')[1]!.trim(), '', 'the continuation line goes too');
    assert.equal((bare.match(/[{}]/g) ?? []).length, 0);
    // A backslash followed by blanks still continues the directive.
    assert.equal(bareCode('#define X \\  \n\t{\nint y;').split('\n')[1]!.trim(), '');
  });

  test('brackets', () => {
    const s = 'f(a, (b), "(")+g{x{y}"}"}';
    assert.equal(skipParens(s, 1), 14, 'a parenthesis in a string does not count');
    assert.equal(skipBraces(s, 16), s.length);
    assert.equal(openParenBefore('f(a, (b))', 8), 1);
  });

  test('one line helper', () => {
    const text = 'a\nbb\n\nc';
    const lines = new Lines(text);
    assert.deepEqual(
      [0, 1, 2, 4, 5, 6].map((o) => lines.lineOf(o)),
      [1, 1, 2, 2, 3, 4],
    );
    assert.equal(lineAt(lineStarts(text), 6), 4);
  });
});

describe('scope index', () => {
  const file = [
    'DEFINE_ACCESSOR(a)', // 1: macro invocations without semicolons before a function
    'DEFINE_ACCESSOR(b)',
    '',
    'static void wait_cfg(struct pci_dev *dev) __must_hold(&lock)', // 4
    '{',
    '\tif (dev->blocked)',
    '\t\treturn;',
    '}', // 8
    '',
    'MAKE_ITER(x)',
    'struct iter {', // 11
    '\tint pos;',
    '};', // 13
    '',
    'static const u32 masks[2][3] = {', // 15
    '\t{ 1, 2, 3 }, { 4, 5, 6 },',
    '};',
    '',
    'enum {', // 19: anonymous, not indexed
    '\tA,',
    '};',
    '',
    'static struct ops my_ops = {', // 23
    '\t.fn = wait_cfg,',
    '};',
    '',
    'int __weak',
    'hook(void)', // 28
    '{',
    '\treturn 0;',
    '}',
    '',
  ].join('\n');

  test('definitions are named from their header, whatever precedes it', () => {
    const c = new CSource('x.c', file);
    assert.deepEqual(
      c.defs.map((d) => [d.kind, d.name, d.array, d.weak, d.line]),
      [
        ['function', 'wait_cfg', false, false, 4],
        ['type', 'iter', false, false, 11],
        ['variable', 'masks', true, false, 15],
        ['variable', 'my_ops', false, false, 23],
        ['function', 'hook', false, true, 28],
      ],
    );
    assert.deepEqual(
      topLevelScopes(file).map((s) => [s.name, s.start, s.end]),
      [
        ['wait_cfg', 1, 8],
        ['iter', 10, 13],
        ['masks', 15, 17],
        ['my_ops', 23, 25],
        ['hook', 27, 31],
      ],
    );
    assert.equal(scopeAt(topLevelScopes(file), 7)?.name, 'wait_cfg');
    assert.equal(scopeAt(topLevelScopes(file), 20), null);
  });

  test('the kernel-style lookup and the whole-file index agree', () => {
    const quick = new CSource('x.c', file);
    const full = new CSource('x.c', file);
    void full.defs;
    for (const name of ['hook', 'wait_cfg']) {
      const q = quick.functions(name);
      const f = full.functions(name);
      assert.deepEqual(
        q.map((d) => [d.open, d.close, d.weak, d.line]),
        f.map((d) => [d.open, d.close, d.weak, d.line]),
        name,
      );
    }
    const vars = new CSource('x.c', file);
    assert.equal(vars.variable('masks')?.array, true);
    assert.equal(vars.variable('my_ops')?.array, false);
    const key = (d: CDef | null) => d && [d.headerStart, d.open, d.close, d.line, d.array];
    assert.deepEqual(key(vars.variable('masks')), key(full.variable('masks')));
  });

  test('texts share one CSource, and its guards and scopes', () => {
    assert.equal(cSourceOf(file), cSourceOf(file));
    const g = findGuards(file);
    assert.equal(g.length, 1);
    assert.equal(g[0]!.scope, 'wait_cfg');
    assert.equal(g[0]!.kind, 'other');
    assert.equal(findGuards(file), g, 'memoised per text');
  });
});
