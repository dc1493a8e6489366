// Where a message came from, in words, for error messages and reports.
// (Takes the fields it reads, so that it needs no import: an Origin fits.)

/** "file: message 3 (line 120, byte 4711)". */
export function describeOrigin(o: {
  kind?: string;
  commit?: string;
  file: string;
  index?: number;
  line?: number;
  offset?: number;
}): string {
  const where: string[] = [];
  if (o.index !== undefined) where.push(`message ${o.index}`);
  const at: string[] = [];
  if (o.line !== undefined) at.push(`line ${o.line}`);
  if (o.offset !== undefined) at.push(`byte ${o.offset}`);
  const file = o.file === '-' ? '<stdin>' : o.file;
  return `${file}${where.length ? ': ' + where.join(' ') : ''}${at.length ? ` (${at.join(', ')})` : ''}`;
}
