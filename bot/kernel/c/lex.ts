// The C lexer every scanner in pcibot shares: one token pattern for comments
// and string/character literals, and the blanked forms of a file built from
// it. Blanking replaces characters by spaces and keeps every newline, so
// offsets and line numbers in a blanked copy are those of the source. Also the
// bracket matching the scanners use on blanked or normalised text.

/** Comments and literals, leftmost first (so a quote in a comment or a slash in a string never counts). */
const TOKENS = /\/\*[\s\S]*?(?:\*\/|$)|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/g;

/** Spaces for every character but newlines. */
const spaces = (t: string) => t.replace(/[^\n]/g, ' ');

/** A literal with its contents blanked (quotes kept), or a comment blanked whole. */
function blankToken(m: string): string {
  if (m[0] === '/') return spaces(m);
  const q = m[0]!;
  const closed = m.length > 1 && m.endsWith(q);
  return q + spaces(m.slice(1, closed ? -1 : undefined)) + (closed ? q : '');
}

/** Comments blanked; literals and preprocessor lines kept. */
export function blankComments(src: string): string {
  return src.replace(TOKENS, (m) => (m[0] === '/' ? spaces(m) : m));
}

/** Comments and the contents of string and character literals blanked. */
export function blankCommentsAndLiterals(src: string): string {
  return src.replace(TOKENS, blankToken);
}

/**
 * Preprocessor lines (with their backslash continuations) blanked, so macros
 * do not unbalance braces. Run on text whose comments are already blanked.
 */
export function blankDirectives(text: string): string {
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

/** Comments, literal contents and preprocessor directives blanked: the code the scanners index. */
export function bareCode(src: string): string {
  return blankDirectives(blankCommentsAndLiterals(src));
}

// ---------------------------------------------------------------------------
// Brackets

/** Index of the parenthesis matching the `)` at `close` (scanning backwards), or -1. */
export function openParenBefore(s: string, close: number): number {
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

/**
 * Scan `s` from `from`, counting `opener`/`closer` nesting and stepping over
 * "..." strings: the index just past the first character at which `done`
 * holds (given the depth after that character), or -1.
 */
export function scanNested(
  s: string,
  from: number,
  opener: string,
  closer: string,
  done: (ch: string, depth: number) => boolean,
): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') {
      const end = s.indexOf('"', i + 1);
      if (end < 0) return -1;
      i = end;
      continue;
    }
    if (ch === opener) depth++;
    else if (ch === closer) depth--;
    if (done(ch, depth)) return i + 1;
  }
  return -1;
}

/** Index just past the group opened by `s[open]` (`(` or `{`), stepping over "..." strings; -1 when unclosed. */
function skipGroup(s: string, open: number, opener: string, closer: string): number {
  return scanNested(s, open, opener, closer, (ch, depth) => ch === closer && depth === 0);
}

/** Index just past the parenthesis group that starts at `open` ('('), or -1. */
export function skipParens(s: string, open: number): number {
  return skipGroup(s, open, '(', ')');
}

/** Index just past the brace group that starts at `open` ('{'), or -1. */
export function skipBraces(s: string, open: number): number {
  return skipGroup(s, open, '{', '}');
}
