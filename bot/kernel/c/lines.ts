// Line numbers for character offsets: the one helper every C scanner (the
// policy reader's CSource, the rules' guards and UAPI header reader) uses.

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
 * The line index of one text, built on first use. Blanked copies of a text
 * (comments or directives replaced by spaces) keep every newline, so one
 * index serves the text and all its blanked forms.
 */
export class Lines {
  private starts: number[] | null = null;
  constructor(private readonly text: string) {}

  /** 1-based line of an offset. */
  lineOf(offset: number): number {
    this.starts ??= lineStarts(this.text);
    return lineAt(this.starts, offset);
  }
}
