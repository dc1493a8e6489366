// Human-readable renderings of a ReviewReport: the terminal report and Markdown.
// Both list every series (reviewed, then skipped), every patch with how it
// applied and its findings, and every message that failed, so nothing given to
// pcibot goes unmentioned.
import {
  bySeverity,
  type ApplyConflict,
  type Finding,
  type Origin,
  type PatchApplyStatus,
} from '../../bot/types.js';
import { wrapLines } from '../../bot/util/text.js';
import { patchNumbers } from '../../bot/tree/apply.js';
import { modelSectionMarkdown, modelSectionText } from './model-text.js';
import type { ReviewReport, SeriesError, SeriesReport } from './types.js';

export interface TextOptions {
  color?: boolean;
  /** Wrap finding details at this width (default 100). */
  width?: number;
  /** The model's before/after in full (every run, the findings' details); default: the table. */
  verbose?: boolean;
}

/** Series findings the model section stands for: the summary (its table), and the lists' details. */
const modelSummary = (f: Finding) => f.rule === 'model/before-after';
/** Model findings shown by title alone in the brief report: the lists, and what is capped as unverified. */
const modelList = (f: Finding) =>
  f.rule === 'model/fixed' ||
  f.rule === 'model/remaining' ||
  (f.severity === 'info' && f.evidence['unverified'] === true);

export function originLabel(o: Origin): string {
  let s = o.file;
  if (o.index !== undefined) s += ` #${o.index}`;
  if (o.line !== undefined) s += ` (line ${o.line})`;
  return s;
}

const STATUS_TEXT: Record<PatchApplyStatus, string> = {
  applied: 'applied',
  'applied-3way': 'applied (3-way merge)',
  'already-applied': 'already applied upstream',
  conflict: 'CONFLICT',
  malformed: 'MALFORMED',
  'not-attempted': 'not attempted',
};

/**
 * A status and its detail: "applied without 4/8, ..." reads on, a detail that
 * says it is upstream says it alone ("likely already upstream: ..."), anything
 * else follows a colon.
 */
const withDetail = (status: string, detail: string | undefined): string =>
  !detail
    ? status
    : /^without /.test(detail)
      ? `${status} ${detail}`
      : /^(?:likely )?already upstream\b/.test(detail)
        ? detail
        : `${status}: ${detail}`;

/** What the findings about the series were computed without (ReviewResult.without). */
function withoutText(s: SeriesReport): string {
  const total = s.expected ?? Math.max(...s.patches.map((p) => p.index));
  const of = (why: string) => (s.without ?? []).filter((w) => w.why === why).map((w) => w.index);
  const parts = [
    ...(of('did not apply').length
      ? [`${patchNumbers(of('did not apply'), total)}, which did not apply`]
      : []),
    ...(of('not in the input').length
      ? [`${patchNumbers(of('not in the input'), total)} (not in the input)`]
      : []),
  ];
  return `the findings about the series are computed without ${parts.join(', and without ')}`;
}

function conflictText(c: ApplyConflict): string {
  const where = [c.file, c.line !== undefined ? `line ${c.line}` : null, c.hunk ?? null]
    .filter(Boolean)
    .join(', ');
  return `${where}: ${c.reason}`;
}

function location(f: Finding): string {
  if (!f.file) return '';
  return f.line !== undefined ? `${f.file}:${f.line}` : f.file;
}

function sortFindings(fs: Finding[]): Finding[] {
  return [...fs].sort(bySeverity);
}

function seriesHeading(s: SeriesReport): string {
  const tag = [s.rfc ? 'RFC ' : '', 'PATCH', s.version > 1 ? ` v${s.version}` : ''].join('');
  const count =
    s.expected !== null
      ? `${s.received}/${s.expected} patches`
      : `${s.received} patch${s.received === 1 ? '' : 'es'}`;
  const who = s.author.name ? `${s.author.name} <${s.author.address}>` : s.author.address;
  return `[${tag}] ${s.title}  (${count}, ${who})`;
}

export function renderTerminal(report: ReviewReport, opts: TextOptions = {}): string {
  const width = opts.width ?? 100;
  const c = (code: string, t: string) => (opts.color ? `\x1b[${code}m${t}\x1b[0m` : t);
  const sev = (f: Finding) =>
    f.severity === 'error'
      ? c('1;31', 'error')
      : f.severity === 'warning'
        ? c('33', 'warning')
        : c('36', 'info');
  const out: string[] = [];
  const sum = report.summary;
  out.push(
    c('1', 'pcibot review') +
      `: ${sum.messages} message${sum.messages === 1 ? '' : 's'}, ${sum.series} series ` +
      `(${sum.reviewed} reviewed, ${sum.skipped} skipped), ${sum.failed} unreadable; ` +
      `findings: ${sum.findings.error} error, ${sum.findings.warning} warning, ${sum.findings.info} info`,
  );
  if (sum.noSeries) out.push(`no series: ${sum.noSeries}`);
  if (report.tree) out.push(`tree: ${report.tree.path} (HEAD ${report.tree.head.slice(0, 12)})`);
  else out.push('tree: none (patches were not applied)');

  for (const s of report.series.filter((x) => x.status === 'reviewed')) {
    out.push('', c('1', seriesHeading(s)));
    if (s.base)
      out.push(
        `  base: ${s.base.commit.slice(0, 12)} (${s.base.how}${s.base.ref ? ` ${s.base.ref}` : ''})${s.base.note ? ` - ${s.base.note}` : ''}`,
      );
    if (s.missing.length)
      out.push(
        `  ${c('33', 'incomplete')}: missing patch${s.missing.length > 1 ? 'es' : ''} ${s.missing.join(', ')} of ${s.expected}`,
      );
    if (s.without) out.push(`  ${withoutText(s)}`);
    for (const old of s.supersedes)
      out.push(
        ...wrapLines(
          `supersedes v${old.version} (${old.messageIds.length} message${old.messageIds.length === 1 ? '' : 's'}): ${old.reason}`,
          width,
          '  ',
        ),
      );
    for (const line of fixedLines(s)) out.push(...wrapLines(line, width, '  '));
    out.push(`  scope: ${s.scope.reason}`);
    for (const e of s.errors ?? []) out.push(`  ${c('1;31', 'ERROR')} ${seriesErrorText(e)}`);
    for (const w of s.warnings ?? []) out.push(`  note: ${w}`);
    if (s.verify) out.push(`  verify: ${verifySummary(s.verify)}`);
    else if (s.verifyDecision?.asked) out.push(`  verify: not run: ${s.verifyDecision.reason}`);
    const brief = s.model !== null && !opts.verbose;
    if (s.model)
      out.push(...modelSectionText(s.model, { verbose: opts.verbose ?? false, indent: '  ' }));
    for (const f of sortFindings(s.findings))
      if (!(brief && modelSummary(f))) pushFinding(f, '  ', brief && modelList(f));
    for (const p of s.patches) {
      const total = s.expected ?? s.patches.length;
      const status = p.apply ? STATUS_TEXT[p.apply.status] : 'not applied';
      const bad = p.apply && (p.apply.status === 'conflict' || p.apply.status === 'malformed');
      out.push(`  ${p.index}/${total} ${p.title}`);
      const detail = p.apply?.detail;
      out.push(`      ${withDetail(bad ? c('1;31', status) : status, detail)}`);
      // Each conflict on its own line, unless the detail already says it.
      for (const cf of p.apply?.conflicts ?? [])
        if (!detail?.includes(cf.reason)) out.push(`        ${conflictText(cf)}`);
      for (const f of sortFindings(p.findings)) pushFinding(f, '      ');
    }
  }

  const refused = report.series.filter((x) => x.status === 'skipped' && x.errors?.length);
  if (refused.length) {
    out.push('', c('1;31', 'not reviewed (refused):'));
    for (const s of refused) {
      out.push(`  ${seriesHeading(s)}`);
      for (const e of s.errors ?? []) out.push(`      ${seriesErrorText(e)}`);
    }
  }
  const skipped = report.series.filter((x) => x.status === 'skipped' && !x.errors?.length);
  if (skipped.length) {
    out.push('', c('1', 'skipped (not PCI/VFIO):'));
    for (const s of skipped) out.push(`  ${seriesHeading(s)}`, `      ${s.scope.reason}`);
  }
  const listed = report.messages.filter((m) => m.disposition.kind !== 'failed');
  if (listed.length) {
    out.push('', c('1', 'messages:'));
    for (const m of listed)
      out.push(`  ${m.subject ?? '(no subject)'}  [${originLabel(m.origin)}]: ${m.reason}`);
  }
  const warned = report.messages.filter((m) => m.warnings?.length);
  if (warned.length) {
    out.push('', c('33', 'mail warnings:'));
    for (const m of warned)
      out.push(
        `  ${m.subject ?? '(no subject)'}  [${originLabel(m.origin)}]: ${m.warnings!.join('; ')}`,
      );
  }
  if (report.failures.length) {
    out.push('', c('1;31', 'unreadable:'));
    for (const f of report.failures) out.push(`  ${originLabel(f.origin)}: ${f.reason}`);
  }
  if (report.internalErrors.length) {
    out.push('', c('1;31', 'pcibot internal errors (please report):'));
    for (const e of report.internalErrors) out.push(`  ${e.stage}: ${e.detail}`);
  }
  return out.join('\n') + '\n';

  function pushFinding(f: Finding, indent: string, titleOnly = false) {
    const loc = location(f);
    out.push(`${indent}${sev(f)} ${c('2', f.rule)}${loc ? `  ${loc}` : ''}`);
    out.push(`${indent}  ${f.title}`);
    if (!titleOnly) out.push(...wrapLines(f.detail, width, `${indent}  `));
  }
}

function seriesErrorText(e: SeriesError): string {
  return `${e.stage}${e.patch !== undefined ? `, patch ${e.patch}` : ''}: ${e.reason}`;
}

/** What the previous version had that this one no longer has (the service's lineage, or the input's older version). */
function fixedLines(s: SeriesReport): string[] {
  if (!s.fixed) return [];
  const fs = s.fixed.findings;
  if (!fs.length) return [`since v${s.fixed.version}: none of its findings is gone`];
  return [
    `since v${s.fixed.version}: ${fs.length} of its findings ${fs.length === 1 ? 'is' : 'are'} gone:`,
    ...fs.map((f) => `  - ${f.rule}${f.file ? ` ${f.file}` : ''}: ${f.title}`),
  ];
}

/** "9 scenario runs booted, 6 model-only, 1 failed (build-failed: ...), 312 s". */
export function verifySummary(v: NonNullable<SeriesReport['verify']>): string {
  const n = (st: string) => v.scenarios.filter((x) => x.status === st).length;
  const failed = v.scenarios.filter(
    (x) => x.status === 'boot-failed' || x.status === 'build-failed',
  );
  return (
    `${n('measured')} scenario run${n('measured') === 1 ? '' : 's'} built and booted, ${n('model-only')} model-only` +
    (failed.length ? `, ${failed.length} failed (${failed[0]!.name}: ${failed[0]!.status})` : '') +
    `, ${v.seconds.toFixed(0)} s`
  );
}

/** Markdown-safe text, as the Markdown sink writes it. */
export const mdEscape = (t: string) => t.replace(/([\\`*_[\]<>|])/g, '\\$1');

/**
 * A Markdown code span around text that may come from a mail (a file name, a
 * hunk header, an input path): fenced with one more backtick than the longest
 * run inside, so a backtick in a hostile file name cannot end the span early;
 * line breaks become spaces (a span is one line here).
 */
export function mdCode(text: string): string {
  const t = text.replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...(t.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 || /^ .* $/.test(t) ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** The model's lists (fixed, remaining, introduced): one sub-item per problem, from the evidence. */
function modelItems(f: Finding, max = 25): string[] | null {
  const items = f.evidence['items'];
  if (!f.rule.startsWith('model/') || !Array.isArray(items)) return null;
  const line = (i: Record<string, unknown>) => {
    const sizes = Array.isArray(i['pageSizes'])
      ? ` (${(i['pageSizes'] as number[]).map((p) => `${p / 1024}K`).join('/')})`
      : '';
    const arch = i['arch'] && i['arch'] !== 'x86_64' ? ` (${String(i['arch'])})` : '';
    return `  - ${mdEscape(`${String(i['scenario'])}${arch}: ${String(i['title'])}${sizes}`)}`;
  };
  const all = items as Record<string, unknown>[];
  return [
    ...all.slice(0, max).map(line),
    ...(all.length > max ? [`  - and ${all.length - max} more`] : []),
  ];
}

/** A finding's detail under its list item: each line its own, indented ones as sub-items. */
function mdLines(detail: string): string[] {
  const lines = detail.split('\n').filter((l) => l.trim());
  return lines.map((l, i) => {
    const text = mdEscape(l.trim());
    const depth = l.length - l.trimStart().length;
    if (depth === 0) return `  ${text}${i < lines.length - 1 ? '  ' : ''}`;
    return `${' '.repeat(2 + Math.min(depth, 4))}- ${text}`;
  });
}

export function renderMarkdown(report: ReviewReport): string {
  const sum = report.summary;
  const out: string[] = ['# pcibot review', ''];
  out.push(
    `${sum.messages} message${sum.messages === 1 ? '' : 's'}, ${sum.series} series (${sum.reviewed} reviewed, ${sum.skipped} skipped), ` +
      `${sum.failed} unreadable. Findings: **${sum.findings.error} error**, ${sum.findings.warning} warning, ${sum.findings.info} info.`,
  );
  if (sum.noSeries) out.push('', `No series: ${mdEscape(sum.noSeries)}.`);
  if (report.tree)
    out.push('', `Tree: ${mdCode(report.tree.path)} at \`${report.tree.head.slice(0, 12)}\``);
  for (const s of report.series.filter((x) => x.status === 'reviewed')) {
    out.push('', `## ${mdEscape(seriesHeading(s))}`, '');
    if (s.base)
      out.push(
        `- Base: \`${s.base.commit.slice(0, 12)}\` (${s.base.how}${s.base.ref ? ` ${mdCode(s.base.ref)}` : ''})${s.base.note ? `: ${mdEscape(s.base.note)}` : ''}`,
      );
    if (s.missing.length)
      out.push(`- Incomplete: missing ${s.missing.join(', ')} of ${s.expected}`);
    if (s.without) out.push(`- ${mdEscape(withoutText(s))}`);
    for (const old of s.supersedes)
      out.push(`- Supersedes v${old.version}: ${mdEscape(old.reason)}`);
    const fixed = fixedLines(s);
    if (fixed.length) {
      out.push(`- ${mdEscape(fixed[0]!)}`);
      for (const l of fixed.slice(1)) out.push(`  ${mdEscape(l.trim())}`);
    }
    out.push(`- Scope: ${mdEscape(s.scope.reason)}`);
    for (const e of s.errors ?? []) out.push(`- **Error** ${mdEscape(seriesErrorText(e))}`);
    for (const w of s.warnings ?? []) out.push(`- Note: ${mdEscape(w)}`);
    if (s.verify) out.push(`- Verify: ${mdEscape(verifySummary(s.verify))}`);
    else if (s.verifyDecision?.asked)
      out.push(`- Verify: not run: ${mdEscape(s.verifyDecision.reason)}`);
    out.push('');
    out.push('| # | patch | applies |', '|---|---|---|');
    for (const p of s.patches) {
      const st = p.apply ? STATUS_TEXT[p.apply.status] : 'not applied';
      out.push(
        `| ${p.index} | ${mdEscape(p.title)} | ${withDetail(st, p.apply?.detail && mdEscape(p.apply.detail))} |`,
      );
    }
    const findings = [
      ...s.findings
        .filter((f) => !(s.model && modelSummary(f)))
        .map((f) => ({ f, p: null as number | null })),
      ...s.patches.flatMap((p) => sortFindings(p.findings).map((f) => ({ f, p: p.index }))),
    ];
    if (findings.length) {
      out.push('', '### Findings', '');
      for (const { f, p } of findings) {
        const loc = location(f);
        out.push(
          `- **${f.severity}** \`${f.rule}\`${p !== null ? ` (patch ${p})` : ''}${loc ? ` ${mdCode(loc)}` : ''}: ${mdEscape(f.title)}  `,
        );
        // One line per line of the detail (a hard break each), not one paragraph.
        out.push(...(modelItems(f) ?? mdLines(f.detail)));
      }
    }
    if (s.model) out.push(...modelSectionMarkdown(s.model, mdEscape));
    const conflicts = s.patches.flatMap((p) =>
      (p.apply?.conflicts ?? []).map((c) => ({ p: p.index, c })),
    );
    if (conflicts.length) {
      out.push('', '### Conflicts', '');
      for (const { p, c } of conflicts)
        out.push(
          `- patch ${p}: ${mdCode(c.file)}${c.line !== undefined ? ` line ${c.line}` : ''}${c.hunk ? ` ${mdCode(c.hunk)}` : ''}: ${mdEscape(c.reason)}`,
        );
    }
  }
  const refused = report.series.filter((x) => x.status === 'skipped' && x.errors?.length);
  if (refused.length) {
    out.push('', '## Not reviewed (refused)', '');
    for (const s of refused)
      out.push(
        `- ${mdEscape(seriesHeading(s))}: ${mdEscape((s.errors ?? []).map(seriesErrorText).join('; '))}`,
      );
  }
  const skipped = report.series.filter((x) => x.status === 'skipped' && !x.errors?.length);
  if (skipped.length) {
    out.push('', '## Skipped', '');
    for (const s of skipped)
      out.push(`- ${mdEscape(seriesHeading(s))}: ${mdEscape(s.scope.reason)}`);
  }
  const listed = report.messages.filter((m) => m.disposition.kind !== 'failed');
  if (listed.length) {
    out.push('', '## Messages', '');
    for (const m of listed)
      out.push(
        `- ${mdEscape(m.subject ?? '(no subject)')} (${mdCode(originLabel(m.origin))}): ${mdEscape(m.reason)}`,
      );
  }
  if (report.failures.length) {
    out.push('', '## Unreadable', '');
    for (const f of report.failures)
      out.push(`- ${mdCode(originLabel(f.origin))}: ${mdEscape(f.reason)}`);
  }
  const warned = report.messages.filter((m) => m.warnings?.length);
  if (warned.length) {
    out.push('', '## Mail warnings', '');
    for (const m of warned)
      out.push(
        `- ${mdEscape(m.subject ?? '(no subject)')} (${mdCode(originLabel(m.origin))}): ${mdEscape(m.warnings!.join('; '))}`,
      );
  }
  if (report.internalErrors.length) {
    out.push('', '## pcibot internal errors (please report)', '');
    for (const e of report.internalErrors) out.push(`- ${e.stage}: ${mdEscape(e.detail)}`);
  }
  return out.join('\n') + '\n';
}
