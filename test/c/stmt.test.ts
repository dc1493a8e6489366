// Statements of a normalised body as a tree (bot/kernel/c/stmt.ts): what the
// policy reader asks of a function's code by meaning, "under which conditions
// does this statement run?", through else-if chains and guard clauses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normaliseBody } from '../../bot/kernel/c/body.js';
import { clauses, exits, parseBody, walk, type PathCond } from '../../bot/kernel/c/stmt.js';

/** Every simple statement of a C body with the conditions it runs under, as `!c` / `c`. */
function conditions(code: string): [string, string[]][] {
  const body = parseBody(normaliseBody(code));
  assert.ok(body, 'the body splits into statements');
  const out: [string, string[]][] = [];
  walk(body, (st, _i, _s, path: PathCond[]) => {
    if (st.kind === 'simple')
      out.push([st.text, path.map((p) => (p.then ? p.cond : `!${p.cond}`))]);
  });
  return out;
}

describe('statements of a normalised body', () => {
  test('if / else if / else: each branch runs under the earlier conditions negated', () => {
    const got = conditions(`{
      if (a) {
        x();
      } else if (!(r->flags & F)) {
        /* a comment is not a statement */
        y(r);
        r->start = 0;
      } else
        z();
      w();
    }`);
    assert.deepEqual(got, [
      ['x();', ['a']],
      ['y(r);', ['!a', '!(r->flags&F)']],
      ['r->start=0;', ['!a', '!(r->flags&F)']],
      ['z();', ['!a', '!!(r->flags&F)']],
      ['w();', []],
    ]);
  });

  test('a guard clause: what follows `if (c) return;` runs under !c, in loops with continue too', () => {
    const got = conditions(`{
      for (i = 0; i < n; i++) {
        if (r->parent)
          continue;
        if (claim(r) >= 0) {
          note(r);
          continue;
        }
        rebase(r);
      }
      if (bad)
        goto out;
      done();
    out:
      return;
    }`);
    assert.deepEqual(got, [
      ['continue;', ['r->parent']],
      ['note(r);', ['!r->parent', 'claim(r)>=0']],
      ['continue;', ['!r->parent', 'claim(r)>=0']],
      ['rebase(r);', ['!r->parent', '!claim(r)>=0']],
      ['goto out;', ['bad']],
      ['done();', ['!bad']],
      ['out:return;', ['!bad']],
    ]);
  });

  test('exits(): a statement control never falls out of', () => {
    const one = (code: string) => parseBody(normaliseBody(`{${code}}`))![0]!;
    assert.equal(exits(one('return false;')), true);
    assert.equal(exits(one('{ a(); break; }')), true);
    assert.equal(exits(one('if (a) return; else continue;')), true);
    assert.equal(exits(one('if (a) return;')), false);
    assert.equal(exits(one('a();')), false);
  });

  test('preprocessor lines, initialisers and do/while split; an unbalanced body does not', () => {
    const body = parseBody(
      normaliseBody(`{
        struct x v[] = {
          { 1, 2 },
      #ifdef CONFIG_X
          { 3, 4 },
      #endif
        };
        do { a(); } while (b);
        switch (c) { case 1: d(); break; }
      }`),
    );
    assert.deepEqual(
      body?.map((s) => s.kind),
      ['simple', 'loop', 'loop'],
    );
    assert.equal(parseBody('{if(a){b();}'), null);
    assert.equal(parseBody('not a body'), null);
  });

  test('clauses(): || of && literals, outer parentheses gone', () => {
    assert.deepEqual(clauses('(!resize&&(r->start>align)&&!(r->start&(align-1)))'), [
      ['!resize', 'r->start>align', '!(r->start&(align-1))'],
    ]);
    assert.deepEqual(clauses('a||b&&c'), [['a'], ['b', 'c']]);
  });
});
