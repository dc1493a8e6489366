// RFC 3676 format=flowed decoding, careful about patches.
//
// Per the RFC a line ending in a space is "flowed" (soft break: joined with
// the next), and one leading space is "stuffing" to be removed. mailparser
// applies this to the text it returns, which joins every blank context line of
// a diff (" ", space-stuffed to "  ") with the line after it. We decode
// ourselves with one deliberate exception: a line that is a single space after
// unstuffing is a hard line. Senders only soft-break after words, so a line
// holding nothing but the break space is never a real soft break, while in a
// diff it is the (very common) empty context line.

import { lineEnd, TextJoiner } from '../util/text.js';

/** Decode format=flowed text (LF line ends). `delSp`: DelSp=yes, soft breaks drop their space. */
export function decodeFlowed(text: string, delSp: boolean): string {
  // Lines walked in place and the output joined in chunks: a body can be
  // millions of lines, and arrays of them in and out cost 16 bytes a line.
  const joined = new TextJoiner();
  let first = true;
  /** One line of output (what `out.join('\n')` made of an array of them). */
  const emit = (line: string) => {
    if (!first) joined.push('\n');
    first = false;
    joined.push(line);
  };
  let pending: string | null = null; // the flowed paragraph being joined
  let pendingDepth = 0;
  for (let at = 0, end = 0; at <= text.length; at = end + 1) {
    end = lineEnd(text, at);
    const line = text.slice(at, end);
    const depth = /^>*/.exec(line)![0].length;
    // The signature separator is never flowed (RFC 3676 4.3).
    if (line === '-- ' || (depth > 0 && line.slice(depth).replace(/^ /, '') === '-- ')) {
      if (pending !== null) emit(pending);
      pending = null;
      emit(line);
      continue;
    }
    let content = line.slice(depth);
    const stuffed = content.startsWith(' ');
    if (stuffed) content = content.slice(1); // unstuff
    // Quoted text keeps its quote marks (and the space after them) as written.
    const quote = depth > 0 ? line.slice(0, depth) + (stuffed ? ' ' : '') : '';
    // A soft break continues only a paragraph of the same quote depth.
    if (pending !== null && depth !== pendingDepth) {
      emit(pending);
      pending = null;
    }
    const soft = content.endsWith(' ') && content !== ' ';
    const piece = soft && delSp ? content.slice(0, -1) : content;
    if (pending === null) pending = quote + piece;
    else pending += piece;
    pendingDepth = depth;
    if (!soft) {
      emit(pending);
      pending = null;
    }
  }
  if (pending !== null) emit(pending);
  return joined.text();
}
