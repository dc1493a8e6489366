// BAR alignments as pcibios_default_alignment() returns them: 0, PAGE_SIZE,
// max(SZ_4K, PAGE_SIZE), a byte count, evaluated for every PAGE_SIZE at once.
// The integer part is the shared C evaluator (bot/kernel/c/expr.ts).
import type { DefaultAlignment } from '../model/policy.js';
import { balancedParens, evalInt, expandMacros, splitArgs, tidyExpr } from '../c/expr.js';

const isPageSize = (e: string) => /^\(*(PAGE_SIZE|1<<PAGE_SHIFT)\)*$/.test(e);

/**
 * What an alignment expression evaluates to, for every PAGE_SIZE: `zero`,
 * `page`, `max-4k-page`, a fixed byte count, or null when it is none of
 * those (it depends on something the model has no field for).
 */
export function evalAlignment(
  expr: string,
  macros: Map<string, string>[] = [],
): DefaultAlignment | null {
  let e = tidyExpr(expandMacros(tidyExpr(expr), macros));
  while (
    /^\(.*\)$/.test(e) &&
    splitArgs(e.slice(1, -1)).length === 1 &&
    balancedParens(e.slice(1, -1))
  )
    e = e.slice(1, -1);
  if (isPageSize(e)) return 'page';
  const n = evalInt(e);
  if (n !== null) return n === 0 ? 'zero' : { bytes: n };
  const m = /^(max_t|max|max3)\((.*)\)$/.exec(e);
  if (m && balancedParens(m[2]!)) {
    let args = splitArgs(m[2]!);
    if (m[1] === 'max_t') args = args.slice(1);
    let page = false;
    let fixed = 0;
    for (const a of args) {
      const v = evalAlignment(a);
      if (v === 'page') page = true;
      else if (v === 'zero') continue;
      else if (v && typeof v === 'object') fixed = Math.max(fixed, v.bytes);
      else return null;
    }
    if (!page) return fixed === 0 ? 'zero' : { bytes: fixed };
    // PAGE_SIZE is at least 4 KiB on every architecture.
    if (fixed <= 4096) return fixed === 4096 ? 'max-4k-page' : 'page';
    return null;
  }
  return null;
}

export function describeAlignment(d: DefaultAlignment): string {
  if (d === 'zero') return '0';
  if (d === 'page') return 'PAGE_SIZE';
  if (d === 'max-4k-page') return 'max(4K, PAGE_SIZE)';
  return `${d.bytes} bytes`;
}
