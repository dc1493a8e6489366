// Comparing the literals of guard conditions (bot/kernel/c/guards.ts) across
// the two states of a file: which identifiers say what a condition is about
// (fields, calls, constants; not locals), and whether a clause is still
// implied, or still stated, after a patch.
import { normalise } from '../../bot/kernel/c/guards.js';

/** Names that look like calls in a condition but say nothing about what it tests. */
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
