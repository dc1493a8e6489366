// C integer constant expressions, as kernel code and UAPI headers write them:
// decimal and hex literals with U/L suffixes, casts to the usual integer types,
// the kernel's SZ_*, BIT(), _BITUL() and _AC() idioms, unary minus, * / % + -
// << >> and |, with C's precedence. Identifiers are macros: expanded from the
// text of #define maps (expandMacros) or resolved to a value by the caller
// (`ident`, e.g. a header's defines evaluated recursively). Anything else
// (PAGE_SIZE, a call, an unknown name) makes the expression non-constant: null.
// Arithmetic is exact (bigint); evalInt gives a JS number for the policy reader.

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

/** Drop whitespace, casts to integer types and integer suffixes; spell BIT()/_AC() as shifts. */
export function tidyExpr(expr: string): string {
  return expr
    .replace(/\s+/g, '')
    .replace(
      /\((?:resource_size_t|unsigned(?:long)*|unsignedint|unsignedlong(?:long)?|u64|u32|size_t|int|long|phys_addr_t|dma_addr_t)\)/g,
      '',
    )
    .replace(/\b(0[xX][0-9a-fA-F]+|\d+)(?:ULL|UL|LL|U|L)\b/gi, '$1')
    .replace(/_AC\((\w+),\w+\)/g, '$1')
    .replace(/\b(?:BIT|BIT_ULL|_BITUL|_BITULL)\((\w+)\)/g, '(1<<$1)');
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

/** Whether every `(` in `s` is closed by a later `)` and no `)` closes nothing. */
export function balancedParens(s: string): boolean {
  let d = 0;
  for (const ch of s) {
    if (ch === '(') d++;
    else if (ch === ')' && --d < 0) return false;
  }
  return d === 0;
}

export interface IntOptions {
  /** Object-like macros, expanded as text before evaluating (first map that has a name wins). */
  macros?: Map<string, string>[];
  /** The value of an identifier left after expansion (null: unknown, the expression is not constant). */
  ident?: (name: string) => bigint | null;
}

const UNIT: Record<string, bigint> = {
  '': 1n,
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
};
/** Shift counts from here on make a value no JS number holds (and a bigint too big to build). */
const MAX_SHIFT = 1024n;
const shiftOk = (r: bigint) => r >= 0n && r < MAX_SHIFT;
const MAX_DEPTH = 256;

type BinaryOp = (l: bigint, r: bigint) => bigint | null;
/** The binary operators, loosest first (C's precedence); null: no value (division by zero, a bad shift). */
const LEVELS: Map<string, BinaryOp>[] = [
  new Map([['|', (l, r) => l | r]]),
  new Map<string, BinaryOp>([
    ['<<', (l, r) => (shiftOk(r) ? l << r : null)],
    ['>>', (l, r) => (shiftOk(r) ? l >> r : null)],
  ]),
  new Map<string, BinaryOp>([
    ['+', (l, r) => l + r],
    ['-', (l, r) => l - r],
  ]),
  new Map<string, BinaryOp>([
    ['*', (l, r) => l * r],
    ['/', (l, r) => (r === 0n ? null : l / r)],
    ['%', (l, r) => (r === 0n ? null : l % r)],
  ]),
];

/** An integer constant expression's value, or null when it is not one. */
export function evalInteger(expr: string, opts: IntOptions = {}): bigint | null {
  const e = tidyExpr(expandMacros(tidyExpr(expr), opts.macros ?? []));
  const tokens = e.match(/0[xX][0-9a-fA-F]+|\d+|[A-Za-z_]\w*|<<|>>|[-+*/%|()]|\S/g);
  if (!tokens) return null;
  let pos = 0;
  let depth = 0;
  const primary = (): bigint | null => {
    const t = tokens[pos++];
    if (t === undefined) return null;
    if (t === '(' || t === '-') {
      // Nesting deeper than any real expression: not worth the stack.
      if (depth >= MAX_DEPTH) return null;
      depth++;
      const v = t === '(' ? level(0) : primary();
      depth--;
      if (t === '-') return v === null ? null : -v;
      return tokens[pos++] === ')' ? v : null;
    }
    if (/^\d/.test(t)) return BigInt(t);
    if (!/^[A-Za-z_]/.test(t)) return null;
    const sz = /^SZ_(\d+)([KMGT]?)$/.exec(t);
    if (sz) return BigInt(sz[1]!) * UNIT[sz[2]!]!;
    return opts.ident ? opts.ident(t) : null;
  };
  /** One precedence level: operands of the next level joined by its operators, left to right. */
  const level = (i: number): bigint | null => {
    const ops = LEVELS[i];
    if (!ops) return primary();
    let v = level(i + 1);
    for (let op = ops.get(tokens[pos] ?? ''); v !== null && op; op = ops.get(tokens[pos] ?? '')) {
      pos++;
      const r = level(i + 1);
      v = r === null ? null : op(v, r);
    }
    return v;
  };
  const v = level(0);
  return pos === tokens.length ? v : null;
}

/** evalInteger as a JS number (null when not constant or beyond what a number holds). */
export function evalInt(expr: string, macros: Map<string, string>[] = []): number | null {
  const v = evalInteger(expr, { macros });
  if (v === null) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}
