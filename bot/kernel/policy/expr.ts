// Evaluating the few kinds of C expression policy code returns: integer
// constants (with the kernel's SZ_* and shift idioms, macros of the same
// file) and BAR alignments (0, PAGE_SIZE, max(SZ_4K, PAGE_SIZE), a byte count).
import type { DefaultAlignment } from '../model/policy.js';

const SZ: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Expand object-like macros (a few levels deep) in a whitespace-free expression. */
export function expandMacros(expr: string, macros: Map<string, string>[], depth = 0): string {
  if (depth > 6) return expr;
  let changed = false;
  const out = expr.replace(/[A-Za-z_]\w*/g, (id) => {
    for (const m of macros) {
      const v = m.get(id);
      if (v !== undefined && v !== id) {
        changed = true;
        return `(${v.replace(/\s+/g, '')})`;
      }
    }
    return id;
  });
  return changed ? expandMacros(out, macros, depth + 1) : out;
}

/** Drop casts, integer suffixes and redundant whitespace. */
export function tidyExpr(expr: string): string {
  return expr
    .replace(/\s+/g, '')
    .replace(
      /\((?:resource_size_t|unsigned(?:long)*|unsignedint|unsignedlong(?:long)?|u64|u32|size_t|int|long|phys_addr_t|dma_addr_t)\)/g,
      '',
    )
    .replace(/\b(0x[0-9a-fA-F]+|\d+)(?:ULL|UL|LL|U|L)\b/g, '$1')
    .replace(/_AC\((\w+),\w+\)/g, '$1')
    .replace(/\bBIT(?:_ULL)?\((\d+)\)/g, '(1<<$1)');
}

/** An integer constant expression, or null. PAGE_SIZE and unknown names make it non-constant. */
export function evalInt(expr: string, macros: Map<string, string>[] = []): number | null {
  const e = tidyExpr(expandMacros(tidyExpr(expr), macros)).replace(
    /\bSZ_(\d+)([KMGT]?)\b/g,
    (_m, n: string, u: string) => String(Number(n) * (u ? SZ[u]! : 1)),
  );
  const tokens = e.match(/0x[0-9a-fA-F]+|\d+|<<|>>|[-+*/()%]|\S/g);
  if (!tokens) return null;
  let pos = 0;
  const primary = (): number | null => {
    const t = tokens[pos++];
    if (t === undefined) return null;
    if (t === '(') {
      const v = shift();
      if (tokens[pos++] !== ')') return null;
      return v;
    }
    if (t === '-') {
      const v = primary();
      return v === null ? null : -v;
    }
    if (/^0x/i.test(t)) return parseInt(t, 16);
    if (/^\d+$/.test(t)) return Number(t);
    return null;
  };
  const product = (): number | null => {
    let v = primary();
    while (v !== null && (tokens[pos] === '*' || tokens[pos] === '/' || tokens[pos] === '%')) {
      const op = tokens[pos++];
      const r = primary();
      if (r === null) return null;
      v = op === '*' ? v * r : op === '/' ? (r === 0 ? null : Math.floor(v / r)) : v % r;
    }
    return v;
  };
  const sum = (): number | null => {
    let v = product();
    while (v !== null && (tokens[pos] === '+' || tokens[pos] === '-')) {
      const op = tokens[pos++];
      const r = product();
      if (r === null) return null;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const shift = (): number | null => {
    let v = sum();
    while (v !== null && (tokens[pos] === '<<' || tokens[pos] === '>>')) {
      const op = tokens[pos++];
      const r = sum();
      if (r === null) return null;
      v = op === '<<' ? v * 2 ** r : Math.floor(v / 2 ** r);
    }
    return v;
  };
  const v = shift();
  return pos === tokens.length && v !== null && Number.isFinite(v) ? v : null;
}

/** Split a call's argument list at top-level commas. */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of args) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

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
  while (/^\(.*\)$/.test(e) && splitArgs(e.slice(1, -1)).length === 1 && balanced(e.slice(1, -1)))
    e = e.slice(1, -1);
  if (isPageSize(e)) return 'page';
  const n = evalInt(e);
  if (n !== null) return n === 0 ? 'zero' : { bytes: n };
  const m = /^(max_t|max|max3)\((.*)\)$/.exec(e);
  if (m && balanced(m[2]!)) {
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

function balanced(s: string): boolean {
  let d = 0;
  for (const ch of s) {
    if (ch === '(') d++;
    else if (ch === ')' && --d < 0) return false;
  }
  return d === 0;
}

export function describeAlignment(d: DefaultAlignment): string {
  if (d === 'zero') return '0';
  if (d === 'page') return 'PAGE_SIZE';
  if (d === 'max-4k-page') return 'max(4K, PAGE_SIZE)';
  return `${d.bytes} bytes`;
}
