// What a changelog says about the titles of earlier versions. A cover letter's
// changelog, or a patch's notes below the `---`, often records a rename:
//   v2->v3:
//   * rename ("x86/PCI: Move some logic to new function") to
//     ("x86/PCI: Improve code readability")
//   * new subject (was: "PCI: Align small (<4k) BARs")
//   Changes in v2:
//    - renamed patch from 'ASoC: add DT bindings' to
//      'ASoC: dt-bindings: Document the PDMC';
//   v1 -> v2:
//    - Renamed patch from "ax25: use GFP_KERNEL over GFP_ATOMIC"
// The old title is what ties the version to its predecessor when the title
// changed. Only quoted text shaped like a commit title ("prefix: words") is
// taken, and only in an item that says it renames something: "renamed yaml
// file from 'a.yaml' to 'b.yaml'" or "fixed 'title' to represent HW" give
// nothing, and neither does prose that merely quotes a title.
import { lineFrom, nextLineStart } from '../util/text.js';

export interface TitleAlias {
  /** The earlier title, as written (bracketed tags and surrounding punctuation removed). */
  old: string;
  /** The title it became, when the changelog says. */
  now: string | null;
  /**
   * The newest version that may have carried the old title, from the heading
   * of the changelog block (`v2->v3:` gives 2, `Changes in v3:` gives 2);
   * null when no heading says.
   */
  upTo: number | null;
  /** The changelog item, whitespace collapsed (at most 200 characters). */
  text: string;
}

/** Headings of a changelog block, and the newest version that had what the block changes. */
const HEADINGS: { re: RegExp; upTo: (m: RegExpExecArray) => number | null }[] = [
  // v2->v3:  v2 -> v3  Changes v1 -> v2:  Changes from v1 to v2:  v2..v3
  {
    re: /^(?:changes\s+)?(?:from\s+|since\s+)?v(\d+)\s*(?:->|→|=>|-|\.\.|to)\s*v(\d+)\b\s*:?/i,
    upTo: (m) => Number(m[1]),
  },
  // Changes in v3:  Changes for v3:  Changes in version 3:
  { re: /^changes\s+(?:in|for)\s+(?:v|version\s*)(\d+)\b\s*:?/i, upTo: (m) => Number(m[1]) - 1 },
  // Changes since v1:  Since v1:  Changes from v1:
  { re: /^(?:changes\s+)?(?:since|from)\s+(?:v|version\s*)(\d+)\b\s*:?/i, upTo: () => null },
  // v3:  V3:  [v3]
  { re: /^\[?v(\d+)\]?\s*:/i, upTo: (m) => Number(m[1]) - 1 },
  // Changelog:  Changes:
  { re: /^(?:changelog|changes|change\s+log|revision\s+history)\s*:?\s*$/i, upTo: () => null },
];

const BULLET = /^(?:[*\-+•o]|\d+[.)])\s+/;

/** An item that says it renames or retitles something. */
const RENAME_WORDS =
  /\b(?:renam(?:e|ed|es|ing)|retitl(?:e|ed|es)|re-?word(?:ed)?\s+(?:the\s+)?(?:subject|title)|new\s+(?:subject|title|summary|name)|(?:subject|title|shortlog|summary)\s+(?:changed|updated|was)|chang(?:e|ed)\s+(?:the\s+)?(?:patch\s+)?(?:subject|title|shortlog|summary)|was\s*:|\(was\b|previously\b|formerly\b)/i;

/** Quoted text: "..." or “...” or '...' (an apostrophe inside a word does not close it). */
const QUOTED = /"([^"\n]{3,240}?)"|“([^”\n]{3,240}?)”|(?<![\w'])'([^\n]{3,240}?)'(?![\w])/g;

/** A commit title: a subsystem prefix, a colon, and at least two words. */
const TITLE_SHAPE = /^[A-Za-z0-9_][\w./+,-]*(?: [\w./+,-]+)?:(?:\s*[\w./+,-]+:)*\s+\S+\s+\S/;

const count = (s: string, c: string) => s.split(c).length - 1;

function cleanTitle(q: string): string {
  let t = q
    .replace(/^\s*(?:\[[^\]]*\]\s*)+/, '') // [PATCH v2 08/10]
    .replace(/\s+/g, ' ')
    .replace(/[\s.;,]+$/, '')
    .trim();
  // Parentheses of `rename ("A")` that the quotes did not hold, never a title's own.
  while (t.startsWith('(') && count(t, '(') > count(t, ')')) t = t.slice(1).trim();
  while (t.endsWith(')') && count(t, ')') > count(t, '(')) t = t.slice(0, -1).trim();
  return t;
}

const looksLikeTitle = (t: string) => t.length <= 200 && TITLE_SHAPE.test(t);

interface Quote {
  text: string;
  start: number;
  end: number;
}

function quotes(item: string): Quote[] {
  const out: Quote[] = [];
  for (const m of item.matchAll(QUOTED)) {
    const text = cleanTitle(m[1] ?? m[2] ?? m[3] ?? '');
    out.push({ text, start: m.index, end: m.index + m[0].length });
  }
  return out;
}

/** Between two quotes: `to`, `->`, `=>`, `→` (with the parentheses of `rename ("A") to ("B")`). */
const BETWEEN_TO = /^[\s)]*(?:to|->|-->|=>|→|into)[\s(]*:?[\s(]*$/i;
/** Between two quotes of `Renamed patch from/to: - "A" - "B"`. */
const BETWEEN_LIST = /^[\s)]*[-*]?[\s(]*$/;
/** Just before a quote naming the old title. */
const BEFORE_OLD =
  /(?:\bwas\s*:?|\bfrom(?:\/to)?\s*:?|\bpreviously\s*:?|\bformerly\s*:?|\bold\s+(?:subject|title)\s*:?)[\s(]*$/i;

function aliasesOf(item: string): { old: string; now: string | null }[] {
  if (!RENAME_WORDS.test(item)) return [];
  const qs = quotes(item);
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    const next = qs[i + 1];
    const before = item.slice(Math.max(0, q.start - 40), q.start);
    const between = next ? item.slice(q.end, next.start) : null;
    // "A" to "B", rename ("A") to ("B"), from "A" to "B", from/to: "A" "B"
    if (
      next &&
      between !== null &&
      (BETWEEN_TO.test(between) ||
        (/from\/to\s*:?[\s(-]*$/i.test(before) && BETWEEN_LIST.test(between)))
    ) {
      if (!looksLikeTitle(q.text)) return [];
      return [{ old: q.text, now: looksLikeTitle(next.text) ? next.text : null }];
    }
    // (was: "A"), renamed from "A", previously "A"
    if (BEFORE_OLD.test(before)) return looksLikeTitle(q.text) ? [{ old: q.text, now: null }] : [];
  }
  return [];
}

/**
 * The earlier titles a changelog names: `text` is a cover letter's body or a
 * patch's text up to its diff; `version` is the version of the mail (so that
 * `v3:` in a v3 mail means "since v2"). Quoted replies (`> `) are skipped.
 */
export function titleAliases(text: string, version: number): TitleAlias[] {
  const out: TitleAlias[] = [];
  let upTo: number | null = null;
  let item: string[] = [];
  let itemUpTo: number | null = null;
  const flush = () => {
    if (item.length) {
      const joined = item.join(' ').replace(/\s+/g, ' ').trim();
      for (const a of aliasesOf(joined)) {
        const bound = itemUpTo !== null ? Math.min(itemUpTo, version - 1) : null;
        out.push({ ...a, upTo: bound, text: joined.slice(0, 200) });
      }
    }
    item = [];
  };
  // Lines walked in place, not split: `text` can be a whole mail body of millions of lines.
  for (let at = 0; at <= text.length; at = nextLineStart(text, at)) {
    const raw = lineFrom(text, at);
    if (/^\s*>/.test(raw)) continue;
    let line = raw.trim();
    if (!line || line === '---') {
      flush();
      continue;
    }
    const heading = HEADINGS.map((h) => ({ h, m: h.re.exec(line) })).find((x) => x.m !== null);
    if (heading) {
      flush();
      upTo = heading.h.upTo(heading.m!);
      line = line.slice(heading.m![0].length).trim();
      if (!line) continue;
    }
    if (BULLET.test(line)) {
      // `Renamed patch from/to:` followed by the two titles as sub-items: one item.
      const opens = item.length > 0 && item[item.length - 1]!.endsWith(':');
      if (!opens) flush();
      line = line.replace(BULLET, '');
    }
    if (!item.length) itemUpTo = upTo;
    item.push(line);
    // One item never spans more than a few lines: a paragraph of prose is not an item.
    if (item.length >= 6) flush();
  }
  flush();
  const seen = new Set<string>();
  return out.filter((a) => {
    const k = `${a.old.toLowerCase()}\0${a.upTo}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
