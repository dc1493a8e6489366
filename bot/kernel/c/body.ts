// Function bodies reduced to what their behaviour depends on, for comparing
// two versions of a policy-carrying function, and stepping over statements of
// such a normalised body.
import { blankComments, scanNested, skipBraces, skipParens } from './lex.js';

const LOG_CALL =
  /\b(?:pr_(?:info|warn|warning|err|debug|notice|crit|alert|emerg|cont)|(?:dev|pci|pci_bus|pcie|pci_dev)_(?:info|warn|err|dbg|notice|crit|alert|emerg)|printk)(?:_once|_ratelimited)?\(/g;

/** Past the statement starting at `at`: a `{...}` block, or up to and including the next `;`. */
export function skipStatement(s: string, at: number): number {
  if (s[at] === '{') return skipBraces(s, at);
  if (s.startsWith('if(', at)) {
    const afterCond = skipParens(s, at + 2);
    if (afterCond < 0) return -1;
    let end = skipStatement(s, afterCond);
    if (end > 0 && s.startsWith('else', end) && !/\w/.test(s[end + 4] ?? '')) {
      const e = s[end + 4] === ' ' ? end + 5 : end + 4;
      end = skipStatement(s, e);
    }
    return end;
  }
  return scanNested(s, at, '(', ')', (ch, depth) => ch === ';' && depth === 0);
}

/**
 * A function body reduced to what its behaviour depends on: comments gone,
 * whitespace collapsed (and removed around punctuation), preprocessor lines
 * kept as «...» markers, and logging statements (pr_*, pci_*, dev_* message
 * calls) dropped together with `if`s that only guarded them, so that a reworded
 * message is not a policy change.
 */
export function normaliseBody(code: string): string {
  const lines = blankComments(code)
    .split('\n')
    .map((l) => {
      const t = l.trim();
      return t.startsWith('#') ? `«${t.replace(/\s+/g, ' ')}»` : t;
    });
  let s = lines
    .join(' ')
    .replace(/\s+/g, ' ')
    .replace(/ ?([{}()[\];,=<>!&|+\-*/?:~^%.]) ?/g, '$1')
    .trim();
  s = dropLogging(s);
  return s;
}

function dropLogging(input: string): string {
  // One pass: each message statement is dropped (or left as `;` after an if/else).
  let s = '';
  let last = 0;
  for (const m of input.matchAll(LOG_CALL)) {
    const at = m.index;
    if (at < last) continue;
    const end = skipParens(input, at + m[0].length - 1);
    if (end < 0 || input[end] !== ';') continue;
    s += input.slice(last, at);
    const prev = s.trimEnd();
    const ch = prev[prev.length - 1];
    if (ch === undefined || ch === ';' || ch === '{' || ch === '}' || ch === '»') last = end + 1;
    else if (ch === ')' || (prev.endsWith('else') && !/\w/.test(prev[prev.length - 5] ?? ''))) {
      s += ';';
      last = end + 1;
    } else {
      s += input.slice(at, end + 1);
      last = end + 1;
    }
  }
  s += input.slice(last);
  // Statements left empty by that: `if(x);`, `if(x){}`, `else;`, `else{}` (a few passes: nesting).
  for (let pass = 0; pass < 8; pass++) {
    const before = s;
    s = s.replace(/\belse ?(?:;|\{\})/g, '');
    let idx = 0;
    let out = '';
    for (const hit of s.matchAll(/\bif\(/g)) {
      if (hit.index < idx) continue;
      const afterCond = skipParens(s, hit.index + 2);
      if (afterCond < 0) continue;
      const empty = s.startsWith(';', afterCond) ? 1 : s.startsWith('{}', afterCond) ? 2 : 0;
      if (!empty || s.startsWith('else', afterCond + empty)) continue;
      out += s.slice(idx, hit.index);
      idx = afterCond + empty;
    }
    s = out + s.slice(idx);
    if (s === before) break;
  }
  return s;
}
