// Text helpers: line numbers for character offsets (shared by the C scanners,
// the policy reader's and the rules'), and the one text wrapper every report
// sink uses.

/** Offsets where each line of `text` starts (line 1 at offset 0). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line of character offset `pos`, by binary search over lineStarts(). */
export function lineAt(starts: number[], pos: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/**
 * The one text wrapper (terminal report, Markdown, mail replies): the words of
 * `text` (any whitespace, line breaks included, separates them) on lines of at
 * most `width` columns, the first line starting with `first` and the others
 * with `rest`. A word longer than a line stands alone on it, never split.
 */
export function wrapWords(text: string, width: number, first = '', rest = first): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    if (word === '') continue;
    if (cur === '') cur = (lines.length ? rest : first) + word;
    else if (cur.length + 1 + word.length <= width) cur += ' ' + word;
    else {
      lines.push(cur);
      cur = rest + word;
    }
  }
  if (cur) lines.push(cur);
  return lines;
}

/**
 * Each line of `text` wrapped on its own with wrapWords(): explicit line
 * breaks are kept (empty lines dropped), and a line's own leading spaces,
 * after `indent`, indent its continuation too.
 */
export function wrapLines(text: string, width: number, indent = ''): string[] {
  return text.split('\n').flatMap((line) => {
    const lead = indent + (/^ */.exec(line)?.[0] ?? '');
    return wrapWords(line, width, lead, lead);
  });
}
