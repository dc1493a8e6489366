// What the kernel does with a UAPI macro: tests it (flags & X, case X:, X ==),
// sets or passes it (info.flags |= X, .id = X), or only accepts it (it is in
// the mask of allowed flags, `flags & ~mask`, and nothing else). A flag that is
// only accepted is a flag the kernel silently ignores.
import type { TreeReader } from '../types.js';
import { findGuards, normalise, splitTop } from '../../bot/kernel/c/guards.js';
import { blankCommentsAndLiterals, openParenBefore, skipParens } from '../../bot/kernel/c/lex.js';
import { Lines } from '../../bot/kernel/c/lines.js';
import { topLevelScopes } from '../../bot/kernel/c/source.js';

export type Use = 'tested' | 'used' | 'accepted';

export interface Occurrence {
  file: string;
  line: number;
  use: Use;
  statement: string;
  /** For a test: the expression tested (`unmap.flags`), when it could be read. */
  tested?: string;
}

/** Where VFIO UAPI is implemented in the kernel (directories walked recursively). */
export const IMPLEMENTATION_DIRS = [
  'drivers/vfio',
  'drivers/iommu/iommufd',
  'drivers/s390/cio',
  'drivers/s390/crypto',
  'drivers/gpu/drm/i915/gvt',
  'samples/vfio-mdev',
];
const KERNEL_HEADERS = 'include/linux';

type Dirs = { dirs?: (dir: string) => Promise<string[]> };

/** C files under `dir`, recursively (through `dirs` when the reader has it). */
async function walk(tree: TreeReader, dir: string, depth = 0): Promise<string[]> {
  const files = (await tree.list(dir)).filter((f) => /\.[ch]$/.test(f));
  const reader = tree as TreeReader & Dirs;
  if (depth > 4 || typeof reader.dirs !== 'function') return files;
  const subs = await reader.dirs(dir);
  for (const s of subs) files.push(...(await walk(tree, s, depth + 1)));
  return files;
}

/** The kernel sources that implement VFIO UAPI in a tree state, with their text. */
export async function implementationSources(
  tree: TreeReader,
): Promise<{ file: string; text: string }[]> {
  const files: string[] = [];
  for (const d of IMPLEMENTATION_DIRS) files.push(...(await walk(tree, d)));
  files.push(...(await tree.list(KERNEL_HEADERS)).filter((f) => /\/vfio[^/]*\.h$/.test(f)));
  const out: { file: string; text: string }[] = [];
  for (const file of files) {
    const text = await tree.read(file);
    if (text !== null) out.push({ file, text });
  }
  return out;
}

/** The statement around position `pos`: from the previous ; { } (or line start for #define) to the next ; { or line end. */
function statementAround(code: string, pos: number): { text: string; start: number } {
  const lineStart = code.lastIndexOf('\n', pos - 1) + 1;
  if (/^\s*#/.test(code.slice(lineStart, pos + 1))) {
    let end = code.indexOf('\n', pos);
    while (end > 0 && code[end - 1] === '\\') end = code.indexOf('\n', end + 1);
    return { text: code.slice(lineStart, end < 0 ? code.length : end), start: lineStart };
  }
  let s = pos;
  while (s > 0 && !';{}'.includes(code[s - 1]!)) {
    // A preprocessor line ends the statement backwards too.
    if (code[s - 1] === '\n' && /^\s*#/.test(code.slice(s, code.indexOf('\n', s)))) break;
    s--;
  }
  let e = pos;
  while (e < code.length && !';{'.includes(code[e]!)) e++;
  return { text: code.slice(s, e), start: s };
}

const prevChar = (text: string, i: number): { c: string; at: number } => {
  let j = i - 1;
  while (j >= 0 && /\s/.test(text[j]!)) j--;
  return { c: j >= 0 ? text[j]! : '', at: j };
};
const nextChar = (text: string, i: number): { c: string; at: number } => {
  let j = i;
  while (j < text.length && /\s/.test(text[j]!)) j++;
  return { c: j < text.length ? text[j]! : '', at: j };
};

const isBinaryAnd = (text: string, at: number) =>
  text[at] === '&' && text[at - 1] !== '&' && text[at + 1] !== '&' && text[at + 1] !== '=';

/** Start of the operand that ends just before `end` (an identifier, number or parenthesised group). */
function operandLeft(s: string, end: number): number {
  let j = end;
  while (j > 0 && /\s/.test(s[j - 1]!)) j--;
  if (s[j - 1] === ')') {
    const open = openParenBefore(s, j - 1);
    if (open >= 0) j = open;
  }
  while (j > 0 && /\w/.test(s[j - 1]!)) j--;
  return j;
}

/** End of the operand that starts at `start`. */
function operandRight(s: string, start: number): number {
  let j = start;
  while (j < s.length && /\s/.test(s[j]!)) j++;
  while (j < s.length && /\w/.test(s[j]!)) j++;
  if (s[j] === '(') {
    const end = skipParens(s, j);
    j = end < 0 ? s.length : end;
  }
  return j;
}

/** Grow [from, to) over a `|` chain and the parentheses that only wrap it. */
function chainAround(s: string, from: number, to: number): { from: number; to: number } {
  for (;;) {
    const l = prevChar(s, from);
    const r = nextChar(s, to);
    if (l.c === '|' && s[l.at - 1] !== '|') {
      from = operandLeft(s, l.at);
      continue;
    }
    if (r.c === '|' && s[r.at + 1] !== '|' && s[r.at + 1] !== '=') {
      to = operandRight(s, r.at + 1);
      continue;
    }
    // Parentheses that wrap the chain (not a call's argument list).
    if (l.c === '(' && r.c === ')' && !/\w\s*$/.test(s.slice(0, l.at))) {
      from = l.at;
      to = r.at + 1;
      continue;
    }
    return { from, to };
  }
}

/** How one occurrence of `name` at `idx` in statement `s` is used. */
function classify(
  s: string,
  idx: number,
  name: string,
  fileCode: string,
): { use: Use; tested?: string } {
  if (/\bcase\s*\(?\s*$/.test(s.slice(0, idx))) return { use: 'tested' };
  const { from, to } = chainAround(s, idx, idx + name.length);
  const l = prevChar(s, from);
  const r = nextChar(s, to);
  if (l.c === '~') return { use: 'accepted' };
  if ((l.c === '&' && isBinaryAnd(s, l.at)) || (r.c === '&' && isBinaryAnd(s, r.at))) {
    const lhs = /([\w.\->[\]]+)\s*&\s*$/.exec(s.slice(0, from));
    return { use: 'tested', ...(lhs ? { tested: lhs[1]!.replace(/\s+/g, '') } : {}) };
  }
  if (
    (l.c === '=' && '=!'.includes(s[l.at - 1] ?? '')) ||
    (r.c === '=' && s[r.at + 1] === '=') ||
    (r.c === '!' && s[r.at + 1] === '=')
  )
    return { use: 'tested' };
  // The chain is assigned (or #defined): a mask of accepted flags when the target is used as ~target.
  let target: string | null = null;
  const macro = /^\s*#\s*define\s+(\w+)\s*$/.exec(s.slice(0, from));
  if (macro) target = macro[1]!;
  else if (l.c === '=' && !'=!<>'.includes(s[l.at - 1] ?? '')) {
    const lv = /([\w.\->[\]]+?)\s*\|?$/.exec(s.slice(0, l.at).trimEnd());
    target = lv ? lv[1]!.replace(/.*(?:\.|->)/, '').replace(/\[.*$/, '') : null;
  }
  if (target && /^\w+$/.test(target) && new RegExp(`~\\s*\\(?\\s*${target}\\b`).test(fileCode))
    return { use: 'accepted' };
  return { use: 'used' };
}

/** Every occurrence of `name` in the given sources, classified. */
export function occurrences(name: string, sources: { file: string; text: string }[]): Occurrence[] {
  const out: Occurrence[] = [];
  const re = new RegExp(`\\b${name}\\b`, 'g');
  for (const { file, text } of sources) {
    if (!text.includes(name)) continue;
    const code = blankCommentsAndLiterals(text);
    const lines = new Lines(code);
    for (const m of code.matchAll(re)) {
      const { text: s, start } = statementAround(code, m.index!);
      if (/^\s*#\s*define\s+/.test(s) && new RegExp(`^\\s*#\\s*define\\s+${name}\\b`).test(s))
        continue;
      const c = classify(s, m.index! - start, name, code);
      out.push({
        file,
        line: lines.lineOf(m.index!),
        use: c.use,
        statement: s.replace(/\s+/g, ' ').trim(),
        ...(c.tested ? { tested: c.tested } : {}),
      });
    }
  }
  return out;
}

/**
 * A test of `expr & FLAG` that can never see the flag set: earlier in the same
 * function a guard refuses the call whenever `expr` is non-zero
 * (`if (unmap.argsz < minsz || unmap.flags) return -EINVAL;`).
 */
export function rejectedBefore(
  occ: Occurrence,
  sources: { file: string; text: string }[],
): { line: number; cond: string } | null {
  if (!occ.tested) return null;
  const src = sources.find((s) => s.file === occ.file);
  if (!src) return null;
  const scopes = topLevelScopes(src.text);
  const scope = scopes.find((s) => s.start <= occ.line && occ.line <= s.end);
  if (!scope) return null;
  const target = normalise(occ.tested).replace(/\s+/g, '');
  for (const g of findGuards(src.text)) {
    if (g.line < scope.start || g.line >= occ.line || g.kind !== 'deny') continue;
    // The guard's own condition (not the enclosing ones): is `expr` one of its `||` parts?
    const bare = splitTop(g.cond, '||').some((part) => part.replace(/\s+/g, '') === target);
    if (bare) return { line: g.line, cond: g.cond };
  }
  return null;
}
