// One C file as the policy reader and the rules read it: not parsed, but
// indexed. Comments and literal contents are blanked (lex.ts) so that braces
// and keywords in prose never count; the top-level blocks (functions, tables
// and other braced initialisers, struct/union/enum definitions) are found by
// brace matching and named from their header. That is enough to find a
// function by name, its body, a table, a top-level variable's initialiser, or
// the function a line belongs to. Kernel style is assumed where it makes
// things cheap (a body closes with `}` in column 0) and checked; anything odd
// falls back to the whole-file index, or to "not found".

import { bareCode, blankComments, openParenBefore } from './lex.js';
import { normaliseBody } from './body.js';
import { Lines } from './lines.js';

export type CDefKind = 'function' | 'variable' | 'type';

export interface CDef {
  /** A function, a variable with a braced initialiser (a table, a driver struct), a struct/union/enum tag. */
  kind: CDefKind;
  name: string;
  /** A variable declared as an array (`name[] = {`): a table. */
  array: boolean;
  /** Offset where the declaration's header starts (after the previous top-level item). */
  start: number;
  /** Offset of the header's first character (its first line is the definition's first line). */
  headerStart: number;
  /** Offset of the opening brace. */
  open: number;
  /** Offset of the matching closing brace. */
  close: number;
  /** Declared `__weak`. */
  weak: boolean;
  /** 1-based line of the name. */
  line: number;
}

/** A top-level definition by lines, for "which function does line N belong to". */
export interface Scope {
  name: string;
  kind: CDefKind;
  array: boolean;
  /** 1-based lines: first line of the header, and the closing brace. */
  start: number;
  end: number;
}

/**
 * Calls that annotate a function after its parameter list
 * (`f(void) __must_hold(&lock)`, `__attribute__((...))`): not its name.
 */
const ANNOTATION =
  /\b(?:__attribute__|__must_hold|__acquires|__releases|__cond_acquires|__cond_releases)\s*\(?$/;
const NOT_A_FUNCTION = new Set(['if', 'for', 'while', 'switch', 'return', 'sizeof']);

/** What a top-level block's header declares, or null when it is none of the kinds indexed. */
function classify(header: string): { kind: CDefKind; name: string; array: boolean } | null {
  const h = header.trimEnd();
  if (h.endsWith('=')) {
    const m = /([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)=$/.exec(h);
    return m ? { kind: 'variable', name: m[1]!, array: m[2] !== '' } : null;
  }
  // A struct/union/enum definition: the header ends with its tag (anonymous ones are not indexed).
  const t = /\b(?:struct|union|enum)\s+([A-Za-z_]\w*)$/.exec(h);
  if (t) return { kind: 'type', name: t[1]!, array: false };
  // A function: the header ends with its parameter list, maybe followed by annotations.
  const lastClose = h.lastIndexOf(')');
  if (lastClose < 0) return null;
  if (!/^[\sA-Za-z0-9_]*$/.test(h.slice(lastClose + 1))) return null;
  let open = openParenBefore(h, lastClose);
  while (open > 0) {
    const before = h.slice(0, open).trimEnd();
    if (!ANNOTATION.test(before)) break;
    const close = before.lastIndexOf(')');
    if (close < 0) return null;
    open = openParenBefore(h, close);
  }
  if (open <= 0) return null;
  const m = /([A-Za-z_]\w*)\s*$/.exec(h.slice(0, open));
  if (!m || NOT_A_FUNCTION.has(m[1]!)) return null;
  return { kind: 'function', name: m[1]!, array: false };
}

/** The first non-blank offset in [from, to), or `to`. */
function firstNonBlank(s: string, from: number, to: number): number {
  let i = from;
  while (i < to && /\s/.test(s[i]!)) i++;
  return i;
}

export class CSource {
  readonly path: string;
  readonly text: string;
  private codeText: string | null = null;
  private bareText: string | null = null;
  private index: CDef[] | null = null;
  /** Bodies (comments blanked) of definitions found without indexing the whole file. */
  private localCode = new Map<number, string>();
  private readonly lines: Lines;
  private macroMap: Map<string, string> | null = null;
  private memoMap = new Map<string, unknown>();

  constructor(path: string, text: string) {
    this.path = path;
    this.text = text;
    this.lines = new Lines(text);
  }

  /** Comments blanked. */
  get code(): string {
    return (this.codeText ??= blankComments(this.text));
  }

  /** Comments, literal contents and preprocessor directives blanked. */
  get bare(): string {
    return (this.bareText ??= bareCode(this.text));
  }

  /** Every top-level definition, in file order (the whole file is indexed on first use). */
  get defs(): CDef[] {
    return (this.index ??= this.indexAll());
  }

  /** The top-level definitions by lines. */
  scopes(): Scope[] {
    return this.memo('scopes', () =>
      this.defs.map((d) => ({
        name: d.name,
        kind: d.kind,
        array: d.array,
        start: this.lineOf(d.headerStart),
        end: this.lineOf(d.close),
      })),
    );
  }

  /** 1-based line of an offset. */
  lineOf(offset: number): number {
    return this.lines.lineOf(offset);
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
            `(?:\\}\\s*)?(?:[A-Za-z_][\\w \\t*]*[ \\t*])?${name}\\s*((?:\\[[^\\]\\n]*\\]\\s*)*)=\\s*\\{`,
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
      const body = t.slice(open, close + 1);
      const bare = bareCode(body);
      let depth = 0;
      for (let i = 0; i < bare.length; i++) {
        const ch = bare.charCodeAt(i);
        if (ch === 123) depth++;
        else if (ch === 125) {
          depth--;
          if (depth === 0 && i !== bare.length - 1) return null;
        }
      }
      if (depth !== 0) return null;
      const lineStart = t.lastIndexOf('\n', m.index - 1) + 1;
      // `type\nname(` : the header starts on the line before.
      const start =
        t.startsWith(name, lineStart) && lineStart > 0
          ? t.lastIndexOf('\n', lineStart - 2) + 1
          : lineStart;
      this.localCode.set(open, blankComments(body));
      out.push({
        kind,
        name,
        array: kind === 'variable' && m[1] !== '',
        start,
        headerStart: firstNonBlank(t, start, open),
        open,
        close,
        weak: /\b__weak\b/.test(t.slice(start, open)),
        line: this.lineOf(nameAt),
      });
    }
    return out;
  }

  /** Index every top-level brace block of the file. */
  private indexAll(): CDef[] {
    const s = this.bare;
    const out: CDef[] = [];
    let depth = 0;
    let itemStart = 0;
    let open = -1;
    let pending: { kind: CDefKind; name: string; array: boolean; weak: boolean } | null = null;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      if (ch === 123 /* { */) {
        if (depth === 0) {
          open = i;
          const header = s.slice(itemStart, i);
          const cls = classify(header);
          pending = cls ? { ...cls, weak: /\b__weak\b/.test(header) } : null;
        }
        depth++;
      } else if (ch === 125 /* } */) {
        if (depth > 0) depth--;
        if (depth === 0) {
          if (pending && open >= 0) {
            const nameAt = pending.name ? s.lastIndexOf(pending.name, open) : -1;
            out.push({
              ...pending,
              start: itemStart,
              headerStart: firstNonBlank(s, itemStart, open),
              open,
              close: i,
              line: this.lineOf(nameAt >= 0 ? nameAt : open),
            });
          }
          open = -1;
          pending = null;
          itemStart = i + 1;
        }
      } else if (ch === 59 /* ; */ && depth === 0) {
        itemStart = i + 1;
      }
    }
    return out;
  }

  /** Every definition of a function with this name (several under #ifdef), in file order. */
  functions(name: string): CDef[] {
    return this.memo(`fn:${name}`, () => {
      if (!this.index) {
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
      if (!this.index) {
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
      // indexOf, then the word boundaries by hand: a \\b-anchored regex walks
      // every position of a 200 KB file, a literal search skips ahead.
      const word = (c: string | undefined) => c !== undefined && /\w/.test(c);
      for (let at = t.indexOf(ident); at >= 0; at = t.indexOf(ident, at + 1)) {
        if (word(t[at - 1]) || word(t[at + ident.length])) continue;
        const m = { index: at };
        const open = lastBefore(opens, m.index);
        if (open < 0 || lastBefore(closes, m.index) > open) continue;
        const name = this.memo(`fnAt:${open}`, () => {
          const from = Math.max(t.lastIndexOf('\n}', open - 1), t.lastIndexOf(';\n', open - 1), 0);
          const cls = classify(bareCode(t.slice(from + 2, open + 1)));
          return cls?.kind === 'function' ? cls.name : null;
        });
        if (name) out.add(name);
      }
      return [...out];
    });
    return all.filter((n) => !except.includes(n));
  }
}

/** The innermost top-level scope containing a 1-based line, or null. */
export function scopeAt(scopes: Scope[], line: number): Scope | null {
  return scopes.find((s) => s.start <= line && line <= s.end) ?? null;
}

/**
 * CSources by text, for callers that hold texts rather than files (a rule
 * reads the same few files, before and after, several times for one patch):
 * a handful of entries is enough.
 */
const byText = new Map<string, CSource>();

/** The CSource of a text, shared with other callers holding the same text. */
export function cSourceOf(text: string, path = ''): CSource {
  let c = byText.get(text);
  if (!c) {
    if (byText.size >= 8) byText.delete(byText.keys().next().value!);
    c = new CSource(path, text);
    byText.set(text, c);
  }
  return c;
}

/** The top-level definitions of a C text, by lines. */
export function topLevelScopes(text: string): Scope[] {
  return cSourceOf(text).scopes();
}
