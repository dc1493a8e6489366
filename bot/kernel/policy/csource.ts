// A small, robust reader of C source for the policy reader: it does not parse
// C, it finds things in it. Comments and string contents are blanked (offsets
// kept) so that braces and keywords in prose never count; top-level blocks are
// indexed by brace matching, which is enough to find a function by name, its
// body, a table initialiser or a top-level variable's initialiser. Everything
// here is linear in the file size and cached per blob id by the caller.

import { lineAt, lineStarts } from '../../util/text.js';

export interface CDef {
  kind: 'function' | 'variable' | 'type';
  name: string;
  /** Offset where the declaration's header starts (after the previous top-level item). */
  start: number;
  /** Offset of the opening brace. */
  open: number;
  /** Offset of the matching closing brace. */
  close: number;
  /** Declared `__weak`. */
  weak: boolean;
  /** 1-based line of the name. */
  line: number;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Spaces for every character but newlines. */
const spaces = (t: string) => t.replace(/[^\n]/g, ' ');

/** Comments and literals, leftmost first (so a quote in a comment or a slash in a string never counts). */
const TOKENS = /\/\*[\s\S]*?(?:\*\/|$)|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/g;
const DIRECTIVE = /^[ \t]*#(?:.*\\\n)*.*$/gm;

/**
 * Blank comments (everything but newlines becomes a space) and, for `bare`,
 * the contents of string and character literals and whole preprocessor
 * directives too. Offsets and line numbers stay those of the source.
 */
function blank(src: string): { code: string; bare: string } {
  const code = src.replace(TOKENS, (m) => (m[0] === '/' ? spaces(m) : m));
  const bare = src
    .replace(TOKENS, (m) => {
      if (m[0] === '/') return spaces(m);
      const q = m[0]!;
      const closed = m.length > 1 && m.endsWith(q);
      return q + spaces(m.slice(1, closed ? -1 : undefined)) + (closed ? q : '');
    })
    .replace(DIRECTIVE, spaces);
  return { code, bare };
}

/** Index of the parenthesis matching the one at `close` (scanning backwards), or -1. */
function openParenBefore(s: string, close: number): number {
  let depth = 0;
  for (let i = close; i >= 0; i--) {
    const ch = s[i];
    if (ch === ')') depth++;
    else if (ch === '(') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function classify(header: string): { kind: CDef['kind']; name: string } | null {
  const h = header.trimEnd();
  if (h.endsWith('=')) {
    const m = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=$/.exec(h);
    return m ? { kind: 'variable', name: m[1]! } : null;
  }
  if (/^\s*(?:typedef\s+)?(?:struct|union|enum)\b[^()]*$/.test(h)) {
    const m = /(?:struct|union|enum)\s+([A-Za-z_]\w*)\s*$/.exec(h);
    return { kind: 'type', name: m ? m[1]! : '' };
  }
  // A function: the header ends with its parameter list, maybe followed by attributes.
  const lastClose = h.lastIndexOf(')');
  if (lastClose < 0) return null;
  const tail = h.slice(lastClose + 1);
  if (!/^[\sA-Za-z0-9_]*$/.test(tail)) return null;
  // __attribute__((...)) after the parameters: step over it to the parameter list.
  let close = lastClose;
  let open = openParenBefore(h, close);
  while (open > 0) {
    const before = h.slice(0, open).trimEnd();
    if (/__attribute__\s*\(?$/.test(before) || /__attribute__$/.test(before)) {
      const c2 = before.lastIndexOf(')');
      if (c2 < 0) return null;
      close = c2;
      open = openParenBefore(h, close);
      continue;
    }
    break;
  }
  if (open <= 0) return null;
  const m = /([A-Za-z_]\w*)\s*$/.exec(h.slice(0, open));
  if (!m) return null;
  const name = m[1]!;
  if (['if', 'for', 'while', 'switch', 'return', 'sizeof'].includes(name)) return null;
  return { kind: 'function', name };
}

export class CSource {
  readonly path: string;
  readonly text: string;
  private full: { code: string; bare: string; defs: CDef[] } | null = null;
  /** Bodies (comments blanked) of definitions found without indexing the whole file. */
  private localCode = new Map<number, string>();
  private lineStarts: number[] | null = null;
  private macroMap: Map<string, string> | null = null;
  private topLevelMap: Map<string, string> | null = null;
  private memoMap = new Map<string, unknown>();

  constructor(path: string, text: string) {
    this.path = path;
    this.text = text;
  }

  private ensure(): { code: string; bare: string; defs: CDef[] } {
    if (!this.full) {
      const { code, bare } = blank(this.text);
      this.full = { code, bare, defs: [] };
      this.full.defs = this.index();
    }
    return this.full;
  }

  /** Comments blanked (the whole file is scanned on first use). */
  get code(): string {
    return this.ensure().code;
  }

  /** Comments, literal contents and preprocessor directives blanked. */
  get bare(): string {
    return this.ensure().bare;
  }

  /** Every top-level definition, in file order. */
  get defs(): CDef[] {
    return this.ensure().defs;
  }

  /**
   * Start offsets of the lines on which `name` occurs as a whole word, in
   * order: a cheap pre-filter (indexOf) before any line-anchored regex.
   */
  private linesWith(name: string): number[] {
    return this.memo(`lines:${name}`, () => {
      const t = this.text;
      const out: number[] = [];
      const word = (c: number) =>
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
      for (let at = t.indexOf(name); at >= 0; at = t.indexOf(name, at + name.length)) {
        if (word(t.charCodeAt(at - 1)) || word(t.charCodeAt(at + name.length))) continue;
        const ls = t.lastIndexOf('\n', at - 1) + 1;
        if (out[out.length - 1] !== ls) out.push(ls);
      }
      return out;
    });
  }

  /** Matches of a line-anchored sticky regex at the lines where `name` occurs. */
  private matchLines(name: string, re: RegExp): RegExpExecArray[] {
    const out: RegExpExecArray[] = [];
    for (const ls of this.linesWith(name)) {
      // Kernel lines are short; a huge line (hostile input) is not worth a regex.
      const le = this.text.indexOf('\n', ls);
      if ((le < 0 ? this.text.length : le) - ls > 4000) continue;
      re.lastIndex = ls;
      const m = re.exec(this.text);
      if (m) out.push(m);
    }
    return out;
  }

  /**
   * Find definitions the way kernel style writes them, without scanning the
   * whole file: the declaration starts a line, the body ends at the next `}`
   * in column 0, and the body checks out (braces balance once comments and
   * literals are blanked). null when that does not hold: the caller indexes
   * the whole file instead.
   */
  private quickDefs(name: string, kind: 'function' | 'variable'): CDef[] | null {
    const t = this.text;
    const re =
      kind === 'function'
        ? new RegExp(`(?:[A-Za-z_][\\w \\t*]*[ \\t*])?${name}\\s*\\(`, 'y')
        : new RegExp(
            `(?:\\}\\s*)?(?:[A-Za-z_][\\w \\t*]*[ \\t*])?${name}\\s*(?:\\[[^\\]\\n]*\\]\\s*)*=\\s*\\{`,
            'y',
          );
    const out: CDef[] = [];
    for (const m of this.matchLines(name, re)) {
      const nameAt = m.index + m[0].lastIndexOf(name);
      let open: number;
      if (kind === 'function') {
        const po = m.index + m[0].length - 1;
        let depth = 0;
        let pc = -1;
        for (let i = po; i < t.length && i < po + 4000; i++) {
          if (t[i] === '(') depth++;
          else if (t[i] === ')' && --depth === 0) {
            pc = i;
            break;
          }
        }
        if (pc < 0) return null;
        const rest = t.slice(pc + 1, pc + 400);
        const def = /^\s*(?:[A-Za-z_]\w*\s*)*\{/.exec(rest);
        if (!def) {
          if (/^\s*(?:[A-Za-z_]\w*\s*)*(?:\([^)]*\)\s*)?[;,=)]/.test(rest)) continue; // a prototype
          return null;
        }
        open = pc + 1 + def[0].length - 1;
      } else open = m.index + m[0].length - 1;
      const end = t.indexOf('\n}', open);
      if (end < 0) return null;
      const close = end + 1;
      const local = blank(t.slice(open, close + 1));
      let depth = 0;
      for (let i = 0; i < local.bare.length; i++) {
        const ch = local.bare.charCodeAt(i);
        if (ch === 123) depth++;
        else if (ch === 125) {
          depth--;
          if (depth === 0 && i !== local.bare.length - 1) return null;
        }
      }
      if (depth !== 0) return null;
      const lineStart = t.lastIndexOf('\n', m.index - 1) + 1;
      // `type\nname(` : the header starts on the line before.
      const start =
        t.startsWith(name, lineStart) && lineStart > 0
          ? t.lastIndexOf('\n', lineStart - 2) + 1
          : lineStart;
      this.localCode.set(open, local.code);
      out.push({
        kind,
        name,
        start,
        open,
        close,
        weak: /\b__weak\b/.test(t.slice(start, open)),
        line: this.lineOf(nameAt),
      });
    }
    return out;
  }

  private index(): CDef[] {
    const s = this.bare;
    const out: CDef[] = [];
    let depth = 0;
    let itemStart = 0;
    let open = -1;
    let pendingHeader: { kind: CDef['kind']; name: string; start: number; weak: boolean } | null =
      null;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      if (ch === 123 /* { */) {
        if (depth === 0) {
          open = i;
          const header = s.slice(itemStart, i);
          const cls = classify(header);
          pendingHeader = cls
            ? { ...cls, start: itemStart, weak: /\b__weak\b/.test(header) }
            : null;
        }
        depth++;
      } else if (ch === 125 /* } */) {
        if (depth > 0) depth--;
        if (depth === 0 && open >= 0) {
          if (pendingHeader && pendingHeader.name) {
            const nameAt = s.lastIndexOf(pendingHeader.name, open);
            out.push({
              kind: pendingHeader.kind,
              name: pendingHeader.name,
              start: pendingHeader.start,
              open,
              close: i,
              weak: pendingHeader.weak,
              line: this.lineOf(nameAt >= 0 ? nameAt : open),
            });
          }
          open = -1;
          pendingHeader = null;
          itemStart = i + 1;
        }
      } else if (ch === 59 /* ; */ && depth === 0) {
        itemStart = i + 1;
      }
    }
    return out;
  }

  /** 1-based line of an offset. */
  lineOf(offset: number): number {
    this.lineStarts ??= lineStarts(this.text);
    return lineAt(this.lineStarts, offset);
  }

  /** Every definition of a function with this name (several under #ifdef), in file order. */
  functions(name: string): CDef[] {
    return this.memo(`fn:${name}`, () => {
      if (!this.full) {
        const quick = this.quickDefs(name, 'function');
        if (quick) return quick;
      }
      return this.defs.filter((d) => d.kind === 'function' && d.name === name);
    });
  }

  /** The first definition of a function, or null. */
  fn(name: string): CDef | null {
    return this.functions(name)[0] ?? null;
  }

  /** A top-level variable with a braced initialiser (a table, a driver struct), or null. */
  variable(name: string): CDef | null {
    return this.memo(`var:${name}`, () => {
      if (!this.full) {
        const quick = this.quickDefs(name, 'variable');
        if (quick) return quick[0] ?? null;
      }
      return this.defs.find((d) => d.kind === 'variable' && d.name === name) ?? null;
    });
  }

  /** The body of a definition (braces included), comments blanked. */
  body(def: CDef): string {
    return this.localCode.get(def.open) ?? this.code.slice(def.open, def.close + 1);
  }

  /** The header of a definition (return type, name, parameters), as written. */
  header(def: CDef): string {
    return this.text.slice(def.start, def.open);
  }

  /** Remember a value derived from this (immutable) source. */
  memo<T>(key: string, fn: () => T): T {
    if (this.memoMap.has(key)) return this.memoMap.get(key) as T;
    const v = fn();
    this.memoMap.set(key, v);
    return v;
  }

  /** A definition's body, normalised (see normaliseBody). */
  norm(def: CDef): string {
    return this.memo(`norm:${def.open}`, () => normaliseBody(this.body(def)));
  }

  /**
   * The initialiser of a top-level variable (`static int x = EXPR;`), '0' for a
   * declaration without one (static storage is zeroed), or null when there is
   * no top-level declaration of that name. Kernel style puts top-level
   * declarations in column 0 (locals are indented), which is what is matched.
   */
  initializer(name: string): string | null {
    return this.memo(`init:${name}`, () => {
      const re = new RegExp(
        `((?:[A-Za-z_][\\w \\t*]*[ \\t*])?)${name}[ \\t]*(?:\\[[^\\]\\n]*\\][ \\t]*)*(?:=[ \\t]*([^;]*))?;`,
        'y',
      );
      for (const m of this.matchLines(name, re)) {
        if (/\bextern\b|^(?:return|else|case|goto)\b/.test(m[1]!) || !m[1]) continue;
        if (m[2] === undefined) return '0';
        return m[2]
          .replace(/\/\*[\s\S]*?\*\//g, ' ')
          .replace(/\/\/[^\n]*/g, ' ')
          .replace(/\s+/g, ' ')
          .trim();
      }
      return null;
    });
  }

  /** Object-like #define macros of this file: name -> replacement text (comments dropped). */
  macros(): Map<string, string> {
    if (this.macroMap) return this.macroMap;
    const map = new Map<string, string>();
    const re = /^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)([ \t(]?)(.*(?:\\\n.*)*)$/gm;
    for (const m of this.text.matchAll(re)) {
      if (m[2] === '(') continue; // function-like
      const value = m[3]!
        .replace(/\\\n/g, ' ')
        .replace(/\/\*.*?(?:\*\/|$)/g, ' ')
        .replace(/\/\/.*$/, '')
        .trim();
      map.set(m[1]!, value);
    }
    this.macroMap = map;
    return map;
  }

  /**
   * Functions (by name) whose body mentions an identifier. Found the kernel-style
   * way (a body opens with `{` and closes with `}` in column 0), without indexing
   * the whole file.
   */
  functionsUsing(ident: string, except: string[] = []): string[] {
    const all = this.memo(`uses:${ident}`, () => {
      const t = this.text;
      const { opens, closes } = this.memo('braces0', () => {
        const find = (needle: string) => {
          const at: number[] = [];
          for (let i = t.indexOf(needle); i >= 0; i = t.indexOf(needle, i + 1)) at.push(i);
          return at;
        };
        return { opens: find('\n{'), closes: find('\n}') };
      });
      /** The last position in `list` before `pos`, or -1. */
      const lastBefore = (list: number[], pos: number) => {
        let lo = 0;
        let hi = list.length - 1;
        let best = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (list[mid]! < pos) {
            best = list[mid]!;
            lo = mid + 1;
          } else hi = mid - 1;
        }
        return best;
      };
      const out = new Set<string>();
      for (const m of t.matchAll(new RegExp(`\\b${ident}\\b`, 'g'))) {
        const open = lastBefore(opens, m.index);
        if (open < 0 || lastBefore(closes, m.index) > open) continue;
        const name = this.memo(`fnAt:${open}`, () => {
          const from = Math.max(t.lastIndexOf('\n}', open - 1), t.lastIndexOf(';\n', open - 1), 0);
          const cls = classify(blank(t.slice(from + 2, open + 1)).bare);
          return cls?.kind === 'function' ? cls.name : null;
        });
        if (name) out.add(name);
      }
      return [...out];
    });
    return all.filter((n) => !except.includes(n));
  }

  /** The top-level definition containing an offset, or null. */
  defAt(offset: number): CDef | null {
    let lo = 0;
    let hi = this.defs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const d = this.defs[mid]!;
      if (offset < d.open) hi = mid - 1;
      else if (offset > d.close) lo = mid + 1;
      else return d;
    }
    return null;
  }
}

/** Read one identifier at `pos`, or null. */
export function identAt(s: string, pos: number): string | null {
  IDENT.lastIndex = pos;
  const m = IDENT.exec(s);
  return m ? m[0] : null;
}

// ---------------------------------------------------------------------------
// Normalised bodies: what a change to a function is compared on.

const LOG_CALL =
  /\b(?:pr_(?:info|warn|warning|err|debug|notice|crit|alert|emerg|cont)|(?:dev|pci|pci_bus|pcie|pci_dev)_(?:info|warn|err|dbg|notice|crit|alert|emerg)|printk)(?:_once|_ratelimited)?\(/g;

/** Index just past the parenthesis group that starts at `open` ('('), or -1. */
export function skipParens(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i];
    if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (ch === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) return -1;
      i = end;
    }
  }
  return -1;
}

/** Index just past the brace group that starts at `open` ('{'), or -1. */
export function skipBraces(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i];
    if (ch === '{') depth++;
    else if (ch === '}') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (ch === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) return -1;
      i = end;
    }
  }
  return -1;
}

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
  let depth = 0;
  for (let i = at; i < s.length; i++) {
    const ch = s[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ';' && depth === 0) return i + 1;
    else if (ch === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) return -1;
      i = end;
    }
  }
  return -1;
}

/**
 * A function body reduced to what its behaviour depends on: comments gone,
 * whitespace collapsed (and removed around punctuation), preprocessor lines
 * kept as «...» markers, and logging statements (pr_*, pci_*, dev_* message
 * calls) dropped together with `if`s that only guarded them, so that a reworded
 * message is not a policy change.
 */
export function normaliseBody(code: string): string {
  const lines = blank(code)
    .code.split('\n')
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
