// Readers over a commit message: its subject, its prose (without trailers and
// quoted text) and its trailers.
import type { RuleContext } from '../types.js';

const TRAILER = /^[A-Za-z][A-Za-z0-9-]*: \S/;

/** The commit message without the subject line, trailers and quoted lines. */
export function prose(ctx: RuleContext): string {
  const lines = ctx.commitMessage.split('\n');
  const body = lines.slice(1);
  // Trailers are the last paragraph in Key: value form.
  let end = body.length;
  while (end > 0 && body[end - 1]!.trim() === '') end--;
  let start = end;
  while (start > 0 && TRAILER.test(body[start - 1]!)) start--;
  if (start < end && (start === 0 || body[start - 1]!.trim() === '')) end = start;
  return body
    .slice(0, end)
    .filter((l) => !l.startsWith('>'))
    .join('\n');
}

export function hasTrailer(ctx: RuleContext, key: string): boolean {
  const k = key.toLowerCase();
  return ctx.patch.trailers.some((t) => t.key.toLowerCase() === k);
}

export function trailerValues(ctx: RuleContext, key: string): string[] {
  const k = key.toLowerCase();
  return ctx.patch.trailers.filter((t) => t.key.toLowerCase() === k).map((t) => t.value);
}

/** Line number (1-based) in the commit message of the first line matching re, or undefined. */
export function messageLine(ctx: RuleContext, re: RegExp): number | undefined {
  const i = ctx.commitMessage.split('\n').findIndex((l) => re.test(l));
  return i >= 0 ? i + 1 : undefined;
}
