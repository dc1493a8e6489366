// The statements of a normalised body (bot/kernel/c/body.ts) as a tree: blocks,
// `if` with its `else` (an `else if` chain is an `if` in the else branch),
// loops and switches with their bodies, preprocessor markers and simple
// statements. Enough to ask what a policy reader asks: "under which
// conditions does this statement run?" and "which statements come before
// which?". It does not parse expressions; anything it cannot split returns
// null, which the reader reports as a shape it does not know.
import { skipBraces, skipParens } from './lex.js';
import { skipStatement } from './body.js';
import { normalise, splitTop } from './guards.js';

export type Stmt =
  | { kind: 'block'; body: Stmt[]; text: string }
  | { kind: 'if'; cond: string; then: Stmt; else: Stmt | null; text: string }
  /** for(...), while(...), switch(...), do ... while(...): the head and the body. */
  | { kind: 'loop'; head: string; body: Stmt; text: string }
  | { kind: 'pp'; text: string }
  | { kind: 'simple'; text: string };

const word = (s: string, at: number, w: string) =>
  s.startsWith(w, at) && !/\w/.test(s[at + w.length] ?? '') && !/\w/.test(s[at - 1] ?? '');

function one(s: string, at: number): { stmt: Stmt; end: number } | null {
  while (s[at] === ' ') at++;
  if (at >= s.length) return null;
  if (s[at] === '«') {
    const end = s.indexOf('»', at);
    if (end < 0) return null;
    return { stmt: { kind: 'pp', text: s.slice(at, end + 1) }, end: end + 1 };
  }
  if (s[at] === '{') {
    const end = skipBraces(s, at);
    if (end < 0) return null;
    const body = list(s, at + 1, end - 1);
    if (!body) return null;
    return { stmt: { kind: 'block', body, text: s.slice(at, end) }, end };
  }
  if (word(s, at, 'if') && s[at + 2] === '(') {
    const afterCond = skipParens(s, at + 2);
    if (afterCond < 0) return null;
    const then = one(s, afterCond);
    if (!then) return null;
    let end = then.end;
    let other: Stmt | null = null;
    let e = end;
    while (s[e] === ' ') e++;
    if (word(s, e, 'else')) {
      const r = one(s, e + 4);
      if (!r) return null;
      other = r.stmt;
      end = r.end;
    }
    return {
      stmt: {
        kind: 'if',
        cond: s.slice(at + 3, afterCond - 1),
        then: then.stmt,
        else: other,
        text: s.slice(at, end),
      },
      end,
    };
  }
  for (const kw of ['for', 'while', 'switch']) {
    if (word(s, at, kw) && s[at + kw.length] === '(') {
      const afterHead = skipParens(s, at + kw.length);
      if (afterHead < 0) return null;
      const body = one(s, afterHead);
      if (!body) return null;
      return {
        stmt: {
          kind: 'loop',
          head: s.slice(at, afterHead),
          body: body.stmt,
          text: s.slice(at, body.end),
        },
        end: body.end,
      };
    }
  }
  if (word(s, at, 'do')) {
    const body = one(s, at + 2);
    if (!body) return null;
    let w = body.end;
    while (s[w] === ' ') w++;
    if (!word(s, w, 'while') || s[w + 5] !== '(') return null;
    const afterHead = skipParens(s, w + 5);
    if (afterHead < 0 || s[afterHead] !== ';') return null;
    return {
      stmt: {
        kind: 'loop',
        head: s.slice(w, afterHead),
        body: body.stmt,
        text: s.slice(at, afterHead + 1),
      },
      end: afterHead + 1,
    };
  }
  const end = skipStatement(s, at);
  if (end < 0) return null;
  return { stmt: { kind: 'simple', text: s.slice(at, end) }, end };
}

function list(s: string, from: number, to: number): Stmt[] | null {
  const inner = s.slice(from, to);
  const out: Stmt[] = [];
  let i = 0;
  while (i < inner.length) {
    while (inner[i] === ' ') i++;
    if (i >= inner.length) break;
    const r = one(inner, i);
    if (!r) return null;
    out.push(r.stmt);
    i = r.end;
  }
  return out;
}

/** The statements of a normalised function body (`{...}`), or null when it does not split. */
export function parseBody(norm: string): Stmt[] | null {
  const s = norm.trim();
  if (!s.startsWith('{') || skipBraces(s, 0) !== s.length) return null;
  return list(s, 1, s.length - 1);
}

/** The statements a statement holds directly (a block's, a body's), or the statement itself. */
export function statementsOf(st: Stmt): Stmt[] {
  return st.kind === 'block' ? st.body : [st];
}

/** A condition on a path: the `if` condition, and whether the path is in its then branch. */
export interface PathCond {
  cond: string;
  then: boolean;
}

/** Whether control never falls out of a statement: it ends in return, continue, break or goto. */
export function exits(st: Stmt): boolean {
  if (st.kind === 'simple') return /^(?:return\b|continue;|break;|goto )/.test(st.text);
  if (st.kind === 'block') return st.body.length > 0 && exits(st.body[st.body.length - 1]!);
  if (st.kind === 'if') return st.else !== null && exits(st.then) && exits(st.else);
  return false;
}

/**
 * Walk statements depth first, in order, calling `visit` with each statement
 * (an `if` or a loop before what it holds), its position among its siblings,
 * the siblings, and the conditions it runs under (outermost first). A guard
 * clause counts: after `if (c) return;` (or continue, break, goto) the
 * statements that follow run under !c.
 */
export function walk(
  stmts: Stmt[],
  visit: (st: Stmt, index: number, siblings: Stmt[], path: PathCond[]) => void,
  path: PathCond[] = [],
): void {
  let here = path;
  stmts.forEach((st, i) => {
    if (st.kind === 'block') walk(st.body, visit, here);
    else if (st.kind === 'if') {
      visit(st, i, stmts, here);
      walk(statementsOf(st.then), visit, [...here, { cond: st.cond, then: true }]);
      if (st.else) walk(statementsOf(st.else), visit, [...here, { cond: st.cond, then: false }]);
      // What follows a branch that always leaves runs under the other branch's condition.
      if (exits(st.then) && !(st.else && exits(st.else)))
        here = [...here, { cond: st.cond, then: false }];
      else if (st.else && exits(st.else) && !exits(st.then))
        here = [...here, { cond: st.cond, then: true }];
    } else if (st.kind === 'loop') {
      visit(st, i, stmts, here);
      walk(statementsOf(st.body), visit, here);
    } else visit(st, i, stmts, here);
  });
}

/** A condition as its top-level `||` clauses of `&&` literals, normalised. */
export function clauses(cond: string): string[][] {
  return splitTop(normalise(cond), '||').map((c) => splitTop(c, '&&'));
}
