// Line numbers for character offsets: the one helper every C scanner (the
// policy reader's CSource, the rules' guards and UAPI header reader) uses,
// over the line-start search of bot/util/text.ts.
import { lineAt, lineStarts } from '../../util/text.js';

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
