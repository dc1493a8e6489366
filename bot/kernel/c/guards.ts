// The `if` guards of a C file: for each, the top-level scope it sits in, its
// condition split into clauses (`||` parts) of literals (`&&` parts), with the
// conditions of enclosing guards added, and whether the guarded statement
// refuses (continue, return -E..., goto), allows (`= true`, `return true`) or
// does something else. Kernel style is assumed; anything odd degrades to "no
// guard found", which keeps the rules that use this quiet.
import { cSourceOf, scopeAt, type CSource } from './source.js';

export type GuardKind = 'deny' | 'allow' | 'other';

export interface Guard {
  /** Enclosing top-level scope name ('' at top level). */
  scope: string;
  /** 1-based line of the `if`, and of the closing parenthesis of its condition. */
  line: number;
  condEnd: number;
  /** Last line of the guarded statement or block. */
  bodyEnd: number;
  cond: string;
  /** The direct statements of the guarded body (nested blocks and ifs left out). */
  statements: string[];
  kind: GuardKind;
  /**
   * The condition under which the body runs, as clauses (the top-level `||`
   * parts) of literals (their top-level `&&` parts), with the conditions of
   * the enclosing guards added to every clause.
   */
  clauses: string[][];
}

/** Whitespace collapsed, redundant outer parentheses removed. */
export function normalise(expr: string): string {
  let e = expr.replace(/\s+/g, ' ').trim();
  for (;;) {
    if (!(e.startsWith('(') && e.endsWith(')'))) return e;
    // Only strip when the first parenthesis closes at the very end.
    let depth = 0;
    let closesAtEnd = true;
    for (let i = 0; i < e.length; i++) {
      if (e[i] === '(') depth++;
      else if (e[i] === ')') depth--;
      if (depth === 0 && i < e.length - 1) {
        closesAtEnd = false;
        break;
      }
    }
    if (!closesAtEnd) return e;
    e = e.slice(1, -1).trim();
  }
}

/** Split at a top-level binary operator (`&&` or `||`), outside parentheses and brackets. */
export function splitTop(expr: string, op: '&&' | '||'): string[] {
  const parts: string[] = [];
  let depth = 0;
  let last = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && expr.startsWith(op, i)) {
      parts.push(expr.slice(last, i));
      last = i + 2;
      i++;
    }
  }
  parts.push(expr.slice(last));
  return parts.map(normalise).filter((p) => p !== '');
}

const DENY = [
  /^continue$/,
  /^return\s+-\s*\(?\s*E[A-Z0-9]+\)?$/,
  /^return\s+-\s*[A-Za-z_]\w*$/,
  /^return\s+(false|NULL|-1)$/,
  /^return\s+ERR_PTR\s*\(/,
  /^goto\s+\w+$/,
  /^[\w.\->[\]\s]+=\s*false$/,
  /^(ret|rc|err|error|status)\s*=\s*-\s*E[A-Z0-9]+$/,
];
const ALLOW = [/^[\w.\->[\]\s]+=\s*true$/, /^return\s+(true|1)$/];

/** For every '(' and '{' in the code, the index of its partner (-1 when unbalanced), in one pass. */
function partners(code: string): Int32Array {
  const match = new Int32Array(code.length).fill(-1);
  const parens: number[] = [];
  const braces: number[] = [];
  for (let i = 0; i < code.length; i++) {
    const c = code.charCodeAt(i);
    if (c === 40 /* ( */) parens.push(i);
    else if (c === 123 /* { */) braces.push(i);
    else if (c === 41 /* ) */) {
      const o = parens.pop();
      if (o !== undefined) match[o] = i;
    } else if (c === 125 /* } */) {
      const o = braces.pop();
      if (o !== undefined) match[o] = i;
      // A brace closes any parenthesis left open inside it (broken macro code).
      while (parens.length && o !== undefined && parens[parens.length - 1]! > o) parens.pop();
    }
  }
  return match;
}

/** The statements directly in a body: nested blocks removed, nested if/for/while dropped. */
function directStatements(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let last = 0;
  for (const m of body.matchAll(/[{}]/g)) {
    if (m[0] === '{') {
      if (depth === 0) parts.push(body.slice(last, m.index), ';');
      depth++;
    } else if (depth > 0) {
      depth--;
      if (depth === 0) last = m.index! + 1;
    }
  }
  if (depth === 0) parts.push(body.slice(last));
  return parts
    .join('')
    .split(';')
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s !== '' && !/^(if|else|for|while|switch|do)\b/.test(s));
}

export function kindOf(statements: string[]): GuardKind {
  if (statements.some((s) => ALLOW.some((re) => re.test(s)))) return 'allow';
  if (statements.some((s) => DENY.some((re) => re.test(s)))) return 'deny';
  return 'other';
}

function clausesOf(cond: string): string[][] {
  return splitTop(normalise(cond), '||').map((c) => splitTop(c, '&&'));
}

/** Every `if` guard in a C file, with its scope, kind and effective clauses. */
export function findGuards(text: string): Guard[] {
  const src = cSourceOf(text);
  return src.memo('guards', () => scanGuards(src));
}

function scanGuards(src: CSource): Guard[] {
  const code = src.bare;
  const scopes = src.scopes();
  const match = partners(code);
  const guards: (Guard & { start: number; stop: number })[] = [];
  for (const m of code.matchAll(/\bif\s*\(/g)) {
    const open = m.index! + m[0].length - 1;
    const close = match[open]!;
    if (close < 0) continue;
    const cond = code.slice(open + 1, close);
    let j = close + 1;
    while (j < code.length && /\s/.test(code[j]!)) j++;
    let bodyStop: number;
    let body: string;
    if (code[j] === '{') {
      bodyStop = match[j]!;
      if (bodyStop < 0) continue;
      body = code.slice(j + 1, bodyStop);
    } else {
      // One statement; for a nested if, up to the end of its own statement.
      let k = j;
      while (k < code.length && code[k] !== ';' && code[k] !== '}') {
        const c = code[k];
        k = (c === '(' || c === '{') && match[k]! > k ? match[k]! + 1 : k + 1;
      }
      bodyStop = k;
      body = code.slice(j, k + 1);
    }
    const line = src.lineOf(m.index!);
    const statements = directStatements(body);
    guards.push({
      scope: scopeAt(scopes, line)?.name ?? '',
      line,
      condEnd: src.lineOf(close),
      bodyEnd: src.lineOf(bodyStop),
      cond: normalise(cond),
      statements,
      kind: kindOf(statements),
      clauses: clausesOf(cond),
      start: m.index!,
      stop: bodyStop,
    });
  }
  // Add the conditions of enclosing guards (a guard inside another's body).
  for (const g of guards) {
    const outer = guards.filter((o) => o !== g && o.start < g.start && g.stop <= o.stop);
    for (const o of outer) {
      const extra = o.clauses.length === 1 ? o.clauses[0]! : [o.cond];
      g.clauses = g.clauses.map((c) => [...extra, ...c]);
    }
  }
  return guards.map(({ start: _s, stop: _t, ...g }) => g);
}

/** The file split into statements (at `;`, `{` and `}`), normalised, for "is this still said somewhere". */
export function statementsOf(text: string): string[] {
  const src = cSourceOf(text);
  return src.memo('statements', () =>
    src.bare
      .split(/[;{}]/)
      .map((s) => s.replace(/\s+/g, ' ').trim())
      .filter((s) => s !== ''),
  );
}
