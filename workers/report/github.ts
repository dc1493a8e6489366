// The GitHub sink over a ReviewResult: a check run and a PR review.
//
// The check run `pcibot`: the conclusion (failure for an error finding,
// neutral for a warning, success otherwise; neutral for a skipped PR), a
// title with the counts, the Markdown sink's report as the summary (cut at a
// line to GitHub's 65,535 characters, with a link to the report page when
// longer, and the model's table kept after the cut), and one annotation per finding with a file, at its line at the
// series head (the check run is on the head commit).
//
// The PR review: one line comment per finding worth a comment that sits on a
// line of the PR's diff (the others are annotations only: a comment off the
// diff fails the whole review with 422). Each comment carries its finding's
// fingerprint in a hidden marker, so on a new push a finding pcibot already
// commented on is updated in place (or left alone), a new one is commented
// on, and a comment whose finding is gone is marked resolved: never a second
// comment for one finding.
//
// Everything from the patch (titles, details quoting code, file names) is
// escaped for Markdown, and `@` never mentions anyone.
import type { DiffPlace } from '../../bot/github/diffmap.js';
import type { CheckAnnotation } from '../../bot/github/post.js';
import { atLeast, bySeverity, type Severity } from '../../bot/types.js';
import { toolVersion } from '../../bot/util/version.js';
import { modelTableMarkdown } from './model-text.js';
import { mdEscape, renderMarkdown } from './text.js';
import {
  REVIEW_SCHEMA,
  type ReportedFinding,
  type ReviewReport,
  type ReviewResult,
} from './types.js';

/** GitHub's limit on a check run's summary (and text), in characters. */
export const MAX_SUMMARY = 65_535;
/** Annotations per request (GitHub's limit; more are sent in later updates). */
export const ANNOTATIONS_PER_REQUEST = 50;
export const CHECK_NAME = 'pcibot';

export type Conclusion = 'success' | 'neutral' | 'failure';

export type Annotation = CheckAnnotation;

export interface CheckOutput {
  conclusion: Conclusion;
  title: string;
  summary: string;
  annotations: Annotation[];
}

/** Markdown-safe text: the characters Markdown acts on escaped, `@` no mention, no raw HTML. */
export const mdText = (t: string): string =>
  t.replace(/([\\`*_[\]<>|#~!])/g, '\\$1').replace(/@/g, '@\u200b');

export function conclusionOf(r: ReviewResult): Conclusion {
  if (r.status === 'skipped') return 'neutral';
  if (r.counts.error > 0) return 'failure';
  if (r.counts.warning > 0) return 'neutral';
  return 'success';
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function checkTitle(r: ReviewResult): string {
  if (r.status === 'skipped') return `skipped: ${r.scope.reason}`.slice(0, 255);
  const { error, warning, info } = r.counts;
  if (!error && !warning && !info) return 'No findings';
  return [
    error ? plural(error, 'error') : '',
    warning ? plural(warning, 'warning') : '',
    info ? plural(info, 'note') : '',
  ]
    .filter(Boolean)
    .join(', ');
}

/** The report of one result in the Markdown sink's form. */
export function resultMarkdown(r: ReviewResult): string {
  const report: ReviewReport = {
    schema: REVIEW_SCHEMA,
    tool: { name: 'pcibot', version: toolVersion() },
    tree: null,
    inputs: [],
    summary: {
      messages: r.messages.length,
      series: 1,
      reviewed: r.status === 'reviewed' ? 1 : 0,
      skipped: r.status === 'skipped' ? 1 : 0,
      failed: 0,
      findings: r.counts,
    },
    series: [r],
    messages: [],
    failures: [],
    internalErrors: [],
    timing: {},
  };
  return renderMarkdown(report);
}

/** `text` cut at a line so that it and the note fit in `max` characters. */
export function truncateSummary(text: string, max: number, link: string | null): string {
  if (text.length <= max) return text;
  const note = `\n\n---\n**The report is longer than GitHub shows (${text.length} characters); cut here.** ${
    link ? `The whole report: ${link}` : 'Run `pcibot review --github` for the whole report.'
  }\n`;
  const room = Math.max(0, max - note.length);
  let cut = text.lastIndexOf('\n', room);
  if (cut <= 0) cut = room;
  return text.slice(0, cut) + note;
}

const LEVEL: Record<Severity, Annotation['annotation_level']> = {
  error: 'failure',
  warning: 'warning',
  info: 'notice',
};

/** Every finding with a file, as an annotation at its line at the head. */
export function annotations(r: ReviewResult): Annotation[] {
  const out: Annotation[] = [];
  const all = [
    ...r.findings.map((f) => ({ f, patch: null as number | null })),
    ...r.patches.flatMap((p) => p.findings.map((f) => ({ f, patch: p.index }))),
  ].sort((a, b) => bySeverity(a.f, b.f));
  for (const { f, patch } of all) {
    if (!f.file) continue;
    const at = typeof f.headLine === 'number' ? f.headLine : null;
    const moved =
      at === null && f.line !== undefined
        ? `\n(line ${f.line} after patch ${patch ?? '?'}; a later commit changed that line)`
        : '';
    out.push({
      path: f.file,
      start_line: at ?? 1,
      end_line: at ?? 1,
      annotation_level: LEVEL[f.severity],
      title: `${f.rule}: ${f.title}`.slice(0, 255),
      message: `${f.title}\n\n${f.detail}${moved}`.slice(0, 60_000),
    });
  }
  return out;
}

export function checkOutput(r: ReviewResult, opts: { pageUrl: string | null }): CheckOutput {
  const md = resultMarkdown(r);
  const link = opts.pageUrl ? `[${opts.pageUrl}](${opts.pageUrl})` : null;
  const withLink = link ? `${md}\nReport page: ${link}\n` : md;
  let summary = truncateSummary(withLink, MAX_SUMMARY, link);
  if (summary !== withLink && r.model) {
    // The model's table comes late in the report: a report cut short keeps it, after the cut.
    const table = modelTableMarkdown(r.model, mdEscape).join('\n').trim();
    if (!summary.includes(table))
      summary = `${truncateSummary(withLink, MAX_SUMMARY - table.length - 2, link)}\n${table}\n`;
  }
  return {
    conclusion: conclusionOf(r),
    title: checkTitle(r),
    summary,
    annotations: r.status === 'reviewed' ? annotations(r) : [],
  };
}

/** The check run of a PR pcibot does not review (nothing in scope, a draft, too large). */
export function skippedOutput(why: string): CheckOutput {
  return {
    conclusion: 'neutral',
    title: `skipped: ${why}`.slice(0, 255),
    summary: `pcibot reviews changes to PCI and VFIO code and did not review this pull request: ${mdText(why)}.\n`,
    annotations: [],
  };
}

// ---- the PR review

const MARK = /<!-- pcibot:finding ([0-9a-f]{8,64})( resolved)? -->/;
export const marker = (fp: string, resolved = false) =>
  `<!-- pcibot:finding ${fp}${resolved ? ' resolved' : ''} -->`;

/** A finding's fingerprint in one of pcibot's comments, and whether it is marked resolved. */
export function readMarker(body: string): { fingerprint: string; resolved: boolean } | null {
  const m = MARK.exec(body);
  return m ? { fingerprint: m[1]!, resolved: m[2] !== undefined } : null;
}

export function commentBody(f: ReportedFinding, opts: { pageUrl: string | null }): string {
  const detail = f.detail
    .split('\n')
    .map((l) => mdText(l))
    .join('  \n');
  return [
    `**${f.severity}** \`${f.rule.replace(/`/g, "'")}\`: ${mdText(f.title)}`,
    '',
    detail,
    '',
    `<sub>pcibot${opts.pageUrl ? ` · [report](${opts.pageUrl})` : ''}</sub>`,
    marker(f.fingerprint),
  ].join('\n');
}

export function resolvedBody(oldBody: string, fingerprint: string, headSha: string): string {
  const first = oldBody.split('\n')[0] ?? '';
  return [
    `**Resolved** at \`${headSha.slice(0, 12)}\`: pcibot no longer finds this.`,
    '',
    `~~${first.replace(/~/g, '\\~')}~~`,
    '',
    marker(fingerprint, true),
  ].join('\n');
}

export interface ExistingComment {
  id: number;
  body: string;
}

export interface ReviewPlan {
  /** New line comments, for one review. */
  create: (DiffPlace & { body: string; fingerprint: string })[];
  /** pcibot comments whose finding is still there, with the new text (only when it changed). */
  update: { id: number; body: string; fingerprint: string }[];
  /** pcibot comments whose finding is gone: marked resolved. */
  resolve: { id: number; body: string; fingerprint: string }[];
  /** Findings worth a comment that are not on the diff: in the annotations only. */
  offDiff: number;
}

/**
 * What to post for a result, given pcibot's earlier comments on the PR (by
 * their markers) and where the diff allows comments.
 */
export function planReview(
  r: ReviewResult,
  opts: {
    place: (path: string, line: number | null | undefined) => DiffPlace | null;
    existing: ExistingComment[];
    minSeverity: Severity;
    headSha: string;
    pageUrl: string | null;
  },
): ReviewPlan {
  const plan: ReviewPlan = { create: [], update: [], resolve: [], offDiff: 0 };
  const byFp = new Map<string, ExistingComment & { resolved: boolean }>();
  for (const c of opts.existing) {
    const m = readMarker(c.body);
    if (m && !byFp.has(m.fingerprint)) byFp.set(m.fingerprint, { ...c, resolved: m.resolved });
  }
  const current = new Set<string>();
  const findings = r.status === 'reviewed' ? r.patches.flatMap((p) => p.findings) : [];
  for (const f of findings) {
    current.add(f.fingerprint);
    if (!f.file || !atLeast(f.severity, opts.minSeverity)) continue;
    const body = commentBody(f, opts);
    const had = byFp.get(f.fingerprint);
    if (had) {
      if (had.body !== body) plan.update.push({ id: had.id, body, fingerprint: f.fingerprint });
      continue;
    }
    const place = opts.place(f.file, f.headLine);
    if (!place) {
      plan.offDiff++;
      continue;
    }
    plan.create.push({ ...place, body, fingerprint: f.fingerprint });
  }
  for (const [fp, c] of byFp)
    if (!current.has(fp) && !c.resolved)
      plan.resolve.push({
        id: c.id,
        body: resolvedBody(c.body, fp, opts.headSha),
        fingerprint: fp,
      });
  return plan;
}

export function reviewBody(r: ReviewResult, plan: ReviewPlan, pageUrl: string | null): string {
  return [
    `pcibot: ${checkTitle(r)} (${plural(plan.create.length, 'new comment')}${plan.offDiff ? `, ${plan.offDiff} off the diff in the check run's annotations` : ''}).`,
    pageUrl ? `\nThe whole report: ${pageUrl}` : '',
    '\nComment `/pcibot review` to run the review again.',
  ].join('\n');
}
