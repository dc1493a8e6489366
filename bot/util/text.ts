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

// Lines read in place, for texts too big to split: `text.split('\n')` on a
// mail of 30 MB of newlines is an array of 30 million slots (240 MB), and a
// reader that splits once per pass holds several. These walk the same lines
// (one more than there are newlines; the last is empty when the text ends in
// one) by their start offsets, found with indexOf. Line starts run from 0 to
// text.length; text.length + 1 stands for "past the last line", so offsets
// compare as line indexes would.

/** Where the line after the one starting at `start` starts (text.length + 1: there is none). */
export function nextLineStart(text: string, start: number): number {
  const nl = text.indexOf('\n', start);
  return nl < 0 ? text.length + 1 : nl + 1;
}

/** Where the line before the one starting at `start` (> 0; text.length + 1 allowed) starts. */
export function prevLineStart(text: string, start: number): number {
  // A loop, not lastIndexOf: backward walks take mostly short lines, where a
  // runtime call per line cost more than the scan.
  let i = start - 2;
  while (i >= 0 && text.charCodeAt(i) !== 0x0a) i--;
  return i + 1;
}

/** Where the line starting at `start` ends: its '\n', or text.length. */
export function lineEnd(text: string, start: number): number {
  const nl = text.indexOf('\n', start);
  return nl < 0 ? text.length : nl;
}

/** The line starting at `start`, without its newline; '' past the last line (as `lines[i] ?? ''`). */
export function lineFrom(text: string, start: number): string {
  return start > text.length ? '' : text.slice(start, lineEnd(text, start));
}

/**
 * A big string built from many small pieces (a line each, say) without an
 * array of all of them: every 4096 pieces are joined into one flat chunk, so
 * the cost is the text itself and one chunk's worth of pieces, not 8 bytes
 * and a string header per line of a 30-million-line mail.
 */
export class TextJoiner {
  private pieces: string[] = [];
  private chunks: string[] = [];

  push(piece: string): void {
    this.pieces.push(piece);
    if (this.pieces.length === 4096) {
      this.chunks.push(this.pieces.join(''));
      this.pieces = [];
    }
  }

  text(): string {
    this.chunks.push(this.pieces.join(''));
    this.pieces = [];
    const text = this.chunks.join('');
    this.chunks = [text];
    return text;
  }
}

/** `text` with every CRLF made LF (as .replace(/\r\n/g, '\n'), which holds a part per match). */
export function crlfToLf(text: string): string {
  let at = text.indexOf('\r\n');
  if (at < 0) return text;
  const out = new TextJoiner();
  let from = 0;
  for (; at >= 0; at = text.indexOf('\r\n', from)) {
    out.push(text.slice(from, at));
    from = at + 1; // the LF starts the next piece
  }
  out.push(text.slice(from));
  return out.text();
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
