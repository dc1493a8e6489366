// Just enough of C to reason about policy code in a kernel file: which
// top-level function or table a line belongs to, and the `if` guards in it
// (their conditions split into clauses and literals, and whether the guarded
// statement refuses, allows or does something else). Kernel style is assumed
// (top-level definitions start in column 0); anything odd degrades to "no
// guard found", which keeps the rules that use this quiet.

import { lineAt, lineStarts } from '../../bot/util/text.js';

const LEXEMES = /\/\*[\s\S]*?(?:\*\/|$)|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/g;

/** Comments, string and character literals blanked (same length, newlines kept). */
export function blankComments(text: string): string {
  return text.replace(LEXEMES, (m) => {
    if (m[0] === '"' || m[0] === "'") {
      const q = m[0];
      const closed = m.length > 1 && m.endsWith(q);
      return q + ' '.repeat(m.length - (closed ? 2 : 1)) + (closed ? q : '');
    }
    return m.replace(/[^\n]/g, ' ');
  });
}

/** Preprocessor lines (with their continuations) blanked, so macros do not unbalance braces. */
function blankPreprocessor(text: string): string {
  const lines = text.split('\n');
  let cont = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (cont || /^\s*#/.test(l)) {
      cont = /\\\s*$/.test(l);
      lines[i] = ' '.repeat(l.length);
    }
  }
  return lines.join('\n');
}

/**
 * Results per file text. A rule reads the same few files (before and after,
 * several times) for one patch; a handful of entries is enough.
 */
const memo = new Map<
  string,
  { code?: string; scopes?: Scope[]; guards?: Guard[]; statements?: string[] }
>();
function memoFor(text: string) {
  let m = memo.get(text);
  if (!m) {
    if (memo.size >= 8) memo.delete(memo.keys().next().value!);
    m = {};
    memo.set(text, m);
  }
  return m;
}

/** Comments, strings and preprocessor lines blanked: the text the scanners below read. */
export function codeText(text: string): string {
  const m = memoFor(text);
  return (m.code ??= blankPreprocessor(blankComments(text)));
}

export interface Scope {
  /** Function, array or variable name; struct/union/enum tag. */
  name: string;
  kind: 'function' | 'table' | 'struct' | 'initializer';
  /** 1-based lines: first line of the header, and the closing brace. */
  start: number;
  end: number;
}

const NOT_A_NAME = new Set([
  'if',
  'for',
  'while',
  'switch',
  'return',
  'sizeof',
  '__attribute__',
  '__section',
  '__printf',
  '__must_check',
  'alignof',
  '__aligned',
]);

function scopeOfHeader(header: string): { name: string; kind: Scope['kind'] } | null {
  const h = header.replace(/\s+/g, ' ').trim();
  let m = /\b([A-Za-z_]\w*)\s*\[[^\]]*\]\s*=\s*$/.exec(h);
  if (m) return { name: m[1]!, kind: 'table' };
  m = /\b([A-Za-z_]\w*)\s*=\s*$/.exec(h);
  if (m) return { name: m[1]!, kind: 'initializer' };
  for (const call of h.matchAll(/\b([A-Za-z_]\w*)\s*\(/g))
    if (!NOT_A_NAME.has(call[1]!)) return { name: call[1]!, kind: 'function' };
  m = /\b(?:struct|union|enum)\s+([A-Za-z_]\w*)?\s*$/.exec(h);
  if (m) return { name: m[1] ?? '', kind: 'struct' };
  return null;
}

/** The top-level brace blocks of a C file: functions, tables, struct definitions. */
export function topLevelScopes(text: string): Scope[] {
  const m = memoFor(text);
  return (m.scopes ??= scanScopes(text));
}

function scanScopes(text: string): Scope[] {
  const code = codeText(text);
  const starts = lineStarts(code);
  const scopes: Scope[] = [];
  let depth = 0;
  let headerStart = 0;
  let open: { name: string; kind: Scope['kind']; start: number } | null = null;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '{') {
      if (depth === 0) {
        const header = code.slice(headerStart, i);
        const s = scopeOfHeader(header);
        const first = headerStart + (header.length - header.trimStart().length);
        open = s ? { ...s, start: lineAt(starts, first) } : null;
      }
      depth++;
    } else if (c === '}') {
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        if (open) scopes.push({ ...open, end: lineAt(starts, i) });
        open = null;
        headerStart = i + 1;
      }
    } else if (c === ';' && depth === 0) {
      headerStart = i + 1;
    }
  }
  return scopes;
}

/** The innermost top-level scope containing a 1-based line, or null. */
export function scopeAt(scopes: Scope[], line: number): Scope | null {
  return scopes.find((s) => s.start <= line && line <= s.end) ?? null;
}

// --- conditions -------------------------------------------------------------

/** Calls and macros that wrap a condition without being what it tests. */
const WRAPPERS = new Set([
  'likely',
  'unlikely',
  'WARN_ON',
  'WARN_ON_ONCE',
  'WARN',
  'WARN_ONCE',
  'IS_ERR',
  'IS_ERR_OR_NULL',
  'PTR_ERR',
  'ERR_PTR',
  'IS_ENABLED',
  'NULL',
]);

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

/**
 * The identifiers that say what a condition is about, stable under renaming of
 * locals: struct fields, called functions and macros, and UPPER_CASE constants.
 */
export function significant(expr: string): Set<string> {
  const out = new Set<string>();
  for (const m of expr.matchAll(/(?:->|\.)\s*([A-Za-z_]\w*)/g)) out.add(m[1]!);
  for (const m of expr.matchAll(/\b([A-Za-z_]\w*)\s*\(/g))
    if (!WRAPPERS.has(m[1]!) && !NOT_A_NAME.has(m[1]!)) out.add(m[1]!);
  for (const m of expr.matchAll(/\b([A-Z][A-Z0-9_]+)\b/g)) if (!WRAPPERS.has(m[1]!)) out.add(m[1]!);
  return out;
}

/** The expression with every non-significant identifier (a local) replaced by `_`. */
export function skeleton(expr: string): string {
  const sig = significant(expr);
  return normalise(expr)
    .replace(/\b[A-Za-z_]\w*\b/g, (id) => (sig.has(id) ? id : '_'))
    .replace(/\s+/g, '');
}

/** Two literals test the same thing: same text, or the same skeleton with something significant in it. */
export function sameLiteral(a: string, b: string): boolean {
  const ka = literalKey(a);
  const kb = literalKey(b);
  return ka.flat === kb.flat || (ka.skel !== null && ka.skel === kb.skel);
}

// --- guards -----------------------------------------------------------------

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
export function findGuards(text: string, scopes: Scope[] = topLevelScopes(text)): Guard[] {
  const m = memoFor(text);
  return (m.guards ??= scanGuards(text, scopes));
}

function scanGuards(text: string, scopes: Scope[]): Guard[] {
  const code = codeText(text);
  const starts = lineStarts(code);
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
    const line = lineAt(starts, m.index!);
    const statements = directStatements(body);
    guards.push({
      scope: scopeAt(scopes, line)?.name ?? '',
      line,
      condEnd: lineAt(starts, close),
      bodyEnd: lineAt(starts, bodyStop),
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
  const m = memoFor(text);
  return (m.statements ??= splitStatements(text));
}

function splitStatements(text: string): string[] {
  return codeText(text)
    .split(/[;{}]/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s !== '');
}

/** `clause` is implied by `other` when every literal of `other` is among clause's literals. */
export function clauseCovers(other: string[], clause: string[]): boolean {
  return other.every((lo) => clause.some((l) => sameLiteral(l, lo)));
}

/** A literal's comparison keys, computed once (sameLiteral over many clauses is the hot path). */
export interface LiteralKey {
  flat: string;
  skel: string | null;
}

const keyMemo = new Map<string, LiteralKey>();
export function literalKey(l: string): LiteralKey {
  let k = keyMemo.get(l);
  if (!k) {
    k = {
      flat: normalise(l).replace(/\s+/g, ''),
      skel: significant(l).size > 0 ? skeleton(l) : null,
    };
    if (keyMemo.size > 20000) keyMemo.clear();
    keyMemo.set(l, k);
  }
  return k;
}

/** clauseCovers over precomputed keys: every literal of `other` is in `clause`. */
export function keysCover(other: LiteralKey[], clause: LiteralKey[]): boolean {
  return other.every((o) =>
    clause.some(
      (c) => c.flat === o.flat || (o.skel !== null && c.skel !== null && c.skel === o.skel),
    ),
  );
}

/**
 * Some statement contains every literal of the clause: the test moved into an
 * expression (`return !(res->start & ~PAGE_MASK);`). Conditions of `if`s are
 * left out: there, a clause with an extra `&& ...` is a narrower guard.
 */
export function statedIn(clause: string[], statements: string[]): boolean {
  statements = statements.filter((s) => !/^(?:else\s+)?(?:if|while)\s*\(/.test(s));
  const needles = clause.map((l) => ({
    text: normalise(l).replace(/\s+/g, ''),
    skel: significant(l).size > 0 ? skeleton(l) : null,
  }));
  return statements.some((s) => {
    const flat = s.replace(/\s+/g, '');
    const skel = significant(s).size > 0 ? skeleton(s) : null;
    return needles.every(
      (n) =>
        flat.includes(n.text.replace(/^\((.*)\)$/, '$1')) ||
        (n.skel !== null && skel !== null && skel.includes(n.skel)),
    );
  });
}
