// The shared C integer-expression evaluator (bot/kernel/c/expr.ts): what the
// policy reader needs (SZ_*, casts, macros of a file, * / %, shifts, a JS
// number) and what the UAPI rule needs (| and _BITUL, names resolved through a
// header's defines, exact 64-bit values), with C's precedence.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  balancedParens,
  evalInt,
  evalInteger,
  expandMacros,
  splitArgs,
  tidyExpr,
} from '../../bot/kernel/c/expr.js';

describe('evalInteger', () => {
  test('literals, suffixes and casts', () => {
    assert.equal(evalInteger('42'), 42n);
    assert.equal(evalInteger('0x1F'), 31n);
    assert.equal(evalInteger('0X1f'), 31n);
    assert.equal(evalInteger('4096UL'), 4096n);
    assert.equal(evalInteger('0x1000ul'), 4096n, 'suffixes in either case');
    assert.equal(evalInteger('(resource_size_t)SZ_4K'), 4096n);
    assert.equal(evalInteger('(u64)1 << 40'), 1n << 40n);
  });

  test('kernel idioms', () => {
    assert.equal(evalInteger('SZ_2M'), 2n * 2n ** 20n);
    assert.equal(evalInteger('SZ_256'), 256n);
    assert.equal(evalInteger('BIT(3)'), 8n);
    assert.equal(evalInteger('BIT_ULL(40)'), 1n << 40n);
    assert.equal(evalInteger('_BITUL(2) | _BITULL(0)'), 5n);
    assert.equal(evalInteger('_AC(1,UL) << 12'), 4096n);
    assert.equal(evalInteger('SZ_4KB'), null, 'not a size macro');
  });

  test("operators with C's precedence", () => {
    assert.equal(evalInteger('1 << 2 + 1'), 8n, 'shift binds looser than +');
    assert.equal(evalInteger('1 | 2 << 1'), 5n, '| binds loosest');
    assert.equal(evalInteger('2 * 3 + 4 % 3 - 8 / 2'), 3n);
    assert.equal(evalInteger('-2 * 3'), -6n);
    assert.equal(evalInteger('(0x100 >> 4) | (1 << 0)'), 17n);
    assert.equal(evalInteger('7 / 2'), 3n);
  });

  test('exact beyond 2^53', () => {
    assert.equal(evalInteger('1ULL << 63'), 2n ** 63n);
    assert.equal(evalInteger('(1ULL << 60) + 1'), 2n ** 60n + 1n);
    assert.equal(evalInteger(Array(1000).fill('(1)').join('|')), 1n, 'many groups, none deep');
  });

  test('not constant: null, never a throw', () => {
    for (const e of [
      'PAGE_SIZE',
      'foo(1)',
      '1 +',
      '(1',
      '1 / 0',
      '1 % 0',
      '1 << -1',
      '1 << 99999999999',
      '1 & 2',
      '',
      '"x"',
      '('.repeat(100000) + '1' + ')'.repeat(100000),
      '-'.repeat(100000) + '1',
    ])
      assert.equal(evalInteger(e), null, e.slice(0, 40));
  });

  test('names: macros expanded as text, or resolved by the caller', () => {
    const macros = [new Map([['DEFAULT_IO', '(256)']]), new Map([['SHIFT', '12']])];
    assert.equal(evalInteger('DEFAULT_IO << 1', { macros }), 512n);
    assert.equal(evalInteger('BIT(SHIFT)', { macros }), 4096n);
    const values: Record<string, bigint> = { VFIO_BASE: 100n };
    assert.equal(evalInteger('VFIO_BASE + 21', { ident: (n) => values[n] ?? null }), 121n);
    assert.equal(evalInteger('OTHER + 1', { ident: (n) => values[n] ?? null }), null);
    // A macro that expands to itself stops; so does a cycle (a few levels deep).
    assert.equal(evalInteger('A', { macros: [new Map([['A', 'A']])] }), null);
    assert.equal(
      evalInteger('A', {
        macros: [
          new Map([
            ['A', 'B'],
            ['B', 'A'],
          ]),
        ],
      }),
      null,
    );
  });
});

describe('evalInt (a JS number, for the policy reader)', () => {
  test('numbers, and null beyond what a number holds', () => {
    assert.equal(evalInt('2*1024*1024'), 2 * 2 ** 20);
    assert.equal(evalInt('(1ULL << 40)'), 2 ** 40);
    assert.equal(evalInt('PAGE_SIZE'), null);
    assert.equal(evalInt('1 << 1023'), 2 ** 1023);
    assert.equal(evalInt('(1 << 1023) * 4'), null);
  });
});

describe('helpers', () => {
  test('tidyExpr, expandMacros, splitArgs', () => {
    assert.equal(tidyExpr(' (unsigned long) 1UL << BIT(2) '), '1<<(1<<2)');
    assert.equal(expandMacros('A+B', [new Map([['A', '1 + 1']])]), '(1+1)+B');
    assert.deepEqual(splitArgs('a,f(b,c),d'), ['a', 'f(b,c)', 'd']);
  });
  test('balancedParens: every ( closed, no ) before its (', () => {
    assert.equal(balancedParens('a & (b | c)'), true);
    assert.equal(balancedParens(''), true);
    // `(a) & (b)` has outer parentheses that are not one pair: its inside is not balanced.
    assert.equal(balancedParens('a) & (b'), false);
    assert.equal(balancedParens('f(a'), false);
  });
});
