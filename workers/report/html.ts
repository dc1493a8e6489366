// The HTML sink: a ReviewResult as a static page (the series page), the
// scenario library's page, and the list of reviews. Pages are one file each:
// inline CSS, the address maps as inline SVG (svg.ts) or same-origin .svg
// files, no JavaScript and nothing loaded from elsewhere (a Content Security
// Policy in the page says so, and the server sends it too). Every string from
// a mail (subjects, names, finding text, diffs) is escaped (markup.ts).
// `pcibot review --html DIR` writes these files; `pcibot serve` serves them
// (workers/serve/pages.ts) from the results it stores.
import { pageLabel } from '../../bot/kernel/model/safety.js';
import {
  bySeverity,
  type ApplyConflict,
  type Finding,
  type PatchApplyStatus,
} from '../../bot/types.js';
import { readFileSections } from '../../bot/util/diff/files.js';
import type { HunkLine } from '../../bot/util/diff/hunks.js';
import type { ModelBeforeAfter } from '../../rules/series/model-before-after/check.js';
import { attr, esc, safeHref } from './markup.js';
import { changedRuns, pageSizeTotals, runMaps, unverifiedNote } from './model-text.js';
import { beforeAfterSvg } from './svg.js';
import { verifySummary } from './text.js';
import type { ReportedFinding, ReviewResult } from './types.js';

/** What the pages allow: inline styles and same-origin images; no script, no other origin. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The same in the page itself (the static files have no header): a meta CSP cannot say frame-ancestors. */
const META_CSP = PAGE_CSP.replace("; frame-ancestors 'none'", '');

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1480px;padding:12px 20px;color:#1d1d1f}
h1{font-size:22px;margin:6px 0}h2{font-size:18px;margin:22px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:14px 0 6px}
a{color:#0b57d0}code,pre,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td,tr.total th{background:#f4f4f6;font-weight:600}
.meta{color:#555}.meta span{margin-right:14px}
.sev{display:inline-block;min-width:58px;text-align:center;border-radius:3px;padding:0 4px;font-size:12px;font-weight:600}
.sev-error .sev{background:#d40000;color:#fff}.sev-warning .sev{background:#f2b100;color:#222}.sev-info .sev{background:#d7e6f7;color:#123}
ul.findings{list-style:none;padding:0}ul.findings li{border-left:4px solid #ccc;margin:8px 0;padding:4px 10px;background:#fafafa}
ul.findings li.sev-error{border-color:#d40000}ul.findings li.sev-warning{border-color:#f2b100}
.detail{white-space:pre-wrap;margin-top:3px}
.status-conflict,.status-malformed{color:#b00000;font-weight:600}
details.run{margin:8px 0;border:1px solid #e2e2e2;border-radius:4px;padding:4px 8px}
details.run>summary{cursor:pointer;font-weight:600}
details.run.changed>summary{color:#0a5d2a}details.run.introduced>summary{color:#b00000}
figure{margin:6px 0;overflow-x:auto}figure svg{max-width:100%;height:auto}
.maps-legend{color:#444}
.scenario img,details.run img{max-width:100%;height:auto;border:1px solid #eee;margin:4px 0}
pre.diff{background:#fbfbfb;border:1px solid #e5e5e5;padding:6px;overflow-x:auto;line-height:1.35}
pre.diff .add{background:#e6ffec;display:block}pre.diff .del{background:#ffebe9;display:block}
pre.diff .hunk{color:#6639ba;display:block}pre.diff .file{font-weight:700;display:block;background:#f0f0f0}
pre.diff :target{outline:2px solid #f2b100;background:#fff5cc}
.empty{color:#777}
`;

/** A whole page: doctype, CSP, inline style. `title` and `body` are escaped/built by the caller. */
export function htmlPage(title: string, body: string): string {
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy"${attr('content', META_CSP)}>` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="referrer" content="no-referrer">' +
    `<title>${esc(title)}</title><style>${CSS}</style></head>\n<body>\n${body}\n</body></html>\n`
  );
}

/** A link to one message in a public-inbox archive (lore): `<base>/<message-id>/`. */
export function archiveUrl(base: string, messageId: string): string {
  return `${base.replace(/\/+$/, '')}/${encodeURIComponent(messageId.replace(/^<|>$/g, ''))}/`;
}

/** Anchor ids in the diff section. */
const slug = (t: string) => t.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
export const patchAnchor = (patch: number) => `patch-${patch}`;
export const fileAnchor = (patch: number, file: string) => `p${patch}-${slug(file)}`;
export const lineAnchor = (patch: number, file: string, line: number) =>
  `${fileAnchor(patch, file)}-L${line}`;

/**
 * A patch's diff with an anchor on each file and on each line of the new side.
 * The lines are read by the diff model (readFileSections), as every other
 * stage reads them: a hunk takes the lines its header counts (a `--- x` in it
 * is a removed line, and what follows its last line is no line of the file),
 * and a file is named as findings name it (C-quoting undone, no `a/`/`b/`), so
 * a finding's link finds its anchor.
 */
export function diffHtml(patch: number, diff: string): { html: string; anchors: Set<string> } {
  const anchors = new Set<string>();
  const out: string[] = [];
  // Every line of the diff is in exactly one section, in order.
  for (const s of readFileSections(diff.replace(/\r\n/g, '\n'))) {
    const file = s.newPath ?? s.oldPath;
    const hunkLines = new Map<number, HunkLine>();
    for (const h of s.hunks) for (const l of h.body) hunkLines.set(l.diffLine, l);
    // The file's anchor stands on its `diff --git` line, else (traditional
    // headers) on its `+++` line, where the page has always put it.
    const anchorAt = s.lines[0]?.startsWith('diff --git ')
      ? 0
      : s.lines.findIndex((l, k) => l.startsWith('+++ ') && !hunkLines.has(s.line + k));
    for (const [k, line] of s.lines.entries()) {
      const hunkLine = hunkLines.get(s.line + k);
      let cls = '';
      let id: string | null = null;
      if (hunkLine) {
        cls = hunkLine.kind === 'add' ? 'add' : hunkLine.kind === 'del' ? 'del' : '';
        if (file !== null && hunkLine.newLine !== null)
          id = lineAnchor(patch, file, hunkLine.newLine);
      } else if (line.startsWith('@@')) {
        cls = 'hunk';
      } else if (line.startsWith('diff ') || line.startsWith('--- ') || line.startsWith('+++ ')) {
        cls = 'file';
      }
      if (k === anchorAt && file !== null) id = fileAnchor(patch, file);
      if (id) {
        if (anchors.has(id)) id = null;
        else anchors.add(id);
      }
      // The newline inside the span: spans are blocks (full-width colour) and
      // a newline between them would be a blank line of its own.
      const text = `${esc(line)}\n`;
      out.push(
        cls || id
          ? `<span${cls ? attr('class', cls) : ''}${id ? attr('id', id) : ''}>${text}</span>`
          : text,
      );
    }
  }
  return { html: out.join('').replace(/\n$/, ''), anchors };
}

const STATUS_TEXT: Record<PatchApplyStatus, string> = {
  applied: 'applied',
  'applied-3way': 'applied (3-way merge)',
  'already-applied': 'already applied upstream',
  conflict: 'conflict',
  malformed: 'malformed',
  'not-attempted': 'not attempted',
};

const conflictText = (c: ApplyConflict) =>
  `${c.file}${c.line !== undefined ? ` line ${c.line}` : ''}${c.hunk ? ` ${c.hunk}` : ''}: ${c.reason}`;

export interface SeriesPageInput {
  result: ReviewResult;
  /** Patch index -> the patch's diff, for the diff section and the file:line links. */
  diffs?: Record<number, string | null>;
  /** The thread: an archive URL of the cover letter or first patch, or a PR; null: no link. */
  threadUrl?: string | null;
  /** What threadUrl is: a list thread (the default) or a GitHub pull request. */
  threadKind?: 'thread' | 'pull request';
  /** The result's JSON (same origin), linked from the page; null: none. */
  jsonHref?: string | null;
  /** The list of reviews, linked from the page; null: none. */
  indexHref?: string | null;
  /** Archive base for links to each message; null: none. */
  archiveBase?: string | null;
  /**
   * Where the map of run `i` (of result.model.runs) is, as an SVG document:
   * the maps of runs the series left as they were are linked, not inlined
   * (the page stays light). Absent: every map inline.
   */
  mapHref?: (run: number) => string;
}

function findingItem(
  f: ReportedFinding | Finding,
  patch: number | null,
  anchors: Set<string>,
): string {
  let loc = '';
  if (f.file) {
    const text = f.line !== undefined ? `${f.file}:${f.line}` : f.file;
    const target =
      patch !== null
        ? [
            // The page shows the mail's diff: its numbering, where the patch landed elsewhere.
            f.line !== undefined ? lineAnchor(patch, f.file, f.mailLine ?? f.line) : null,
            fileAnchor(patch, f.file),
          ].find((a): a is string => a !== null && anchors.has(a))
        : undefined;
    loc = target
      ? ` <a class="loc mono"${attr('href', `#${target}`)}>${esc(text)}</a>`
      : ` <span class="loc mono">${esc(text)}</span>`;
    const head = (f as ReportedFinding).headLine;
    if (typeof head === 'number' && head !== f.line)
      loc += ` <span class="meta">(line ${head} with the whole series)</span>`;
  }
  return (
    `<li${attr('class', `finding sev-${f.severity}`)}${attr('data-rule', f.rule)}${'fingerprint' in f ? attr('data-fingerprint', f.fingerprint) : ''}>` +
    `<span class="sev">${esc(f.severity)}</span> <code>${esc(f.rule)}</code>${patch !== null ? ` <span class="meta">patch ${patch}</span>` : ''}${loc}` +
    `<div><strong>${esc(f.title)}</strong></div>` +
    // Long info details (the model's lists) fold away; the title says what they are.
    (f.severity === 'info' && f.detail.length > 600
      ? `<details><summary>details</summary><div class="detail">${esc(f.detail)}</div></details>`
      : `<div class="detail">${esc(f.detail)}</div>`) +
    '</li>'
  );
}

function modelTableHtml(model: ModelBeforeAfter): string {
  const rows: string[] = [];
  for (const t of pageSizeTotals(model)) {
    rows.push(
      `<tr class="total"${attr('data-page-size', t.pageSize)}><th>${esc(pageLabel(t.pageSize))}</th><td>all checks (${t.runs} scenario runs)</td>` +
        `<td class="n fixed">${t.fixed}</td><td class="n introduced">${t.introduced}</td><td class="n remaining">${t.remaining}</td></tr>`,
    );
    for (const r of model.table.filter((x) => x.pageSize === t.pageSize))
      rows.push(
        `<tr class="check"${attr('data-page-size', r.pageSize)}${attr('data-check', r.check)}><td></td><td><code>${esc(r.check)}</code></td>` +
          `<td class="n fixed">${r.fixed}</td><td class="n introduced">${r.introduced}</td><td class="n remaining">${r.remaining}</td></tr>`,
      );
  }
  const note = unverifiedNote(model);
  return (
    '<table class="model-table"><thead><tr><th>page size</th><th>check</th><th>fixed</th><th>introduced</th><th>remain</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>` +
    (note ? `<p class="unverified">${esc(note)}</p>` : '')
  );
}

/** The id of a run's map on the series page. */
export const runAnchor = (r: { arch: string; scenario: string; pageSize: number }) =>
  `map-${slug(r.scenario)}-${r.arch}-${pageLabel(r.pageSize)}`;

/** One scenario run's maps, before and after side by side, as an SVG document. */
export function runSvg(model: ModelBeforeAfter, r: ModelBeforeAfter['runs'][number]): string {
  const { before, after } = runMaps(model, r);
  const arch = model.arches.find((a) => a.arch === r.arch);
  const id = runAnchor(r);
  const sub = `${r.scenario} (${r.arch}) at ${pageLabel(r.pageSize)} pages`;
  return beforeAfterSvg(before, after, {
    before: { title: `before: ${arch?.before ?? 'base'}`, subtitle: sub, id: `${id}-before` },
    after: { title: `after: ${arch?.after ?? 'patched'}`, subtitle: sub, id: `${id}-after` },
    label: `${r.scenario} at ${pageLabel(r.pageSize)}: address map before and after the series`,
  });
}

/**
 * The maps section: a <details> per run, the runs whose shared pages changed
 * first. Runs where the series fixed or introduced something are open, their
 * maps inline; the others are closed, their maps same-origin images loaded
 * only when opened (`mapHref(index in model.runs)`), or inline without it.
 */
function mapsHtml(model: ModelBeforeAfter, mapHref?: (run: number) => string): string {
  const changed = changedRuns(model);
  const rest = model.runs.filter((r) => !changed.includes(r));
  const out: string[] = [];
  for (const r of [...changed, ...rest]) {
    const kind = r.introduced.length ? ' introduced' : r.fixed.length ? ' changed' : '';
    const id = runAnchor(r);
    const title = `${r.scenario}${r.arch === 'x86_64' ? '' : ` (${r.arch})`} at ${pageLabel(r.pageSize)}`;
    const figure =
      kind || !mapHref
        ? runSvg(model, r)
        : `<img loading="lazy"${attr('src', safeHref(mapHref(model.runs.indexOf(r))))}${attr('alt', `${title}: address map before and after the series`)}>`;
    const list = (what: string, fs: typeof r.fixed) =>
      fs.length
        ? `<li><strong>${esc(what)}:</strong> ${fs.map((f) => esc(f.title)).join('; ')}</li>`
        : '';
    out.push(
      `<details${attr('class', `run${kind}`)}${attr('id', id)}${attr('data-scenario', r.scenario)}${attr('data-arch', r.arch)}${attr('data-page-size', r.pageSize)}${kind ? ' open' : ''}>` +
        `<summary>${esc(`${title}: ${r.fixed.length} fixed, ${r.introduced.length} introduced, ${r.remaining.length} remain`)}</summary>` +
        `<ul class="run-findings">${list('fixed', r.fixed)}${list('introduced', r.introduced)}${list('remain', r.remaining)}</ul>` +
        `<figure>${figure}</figure></details>`,
    );
  }
  return out.join('\n');
}

/** The page of one reviewed series. */
export function seriesPage(input: SeriesPageInput): string {
  const r = input.result;
  const tag = [r.rfc ? 'RFC ' : '', 'PATCH', r.version > 1 ? ` v${r.version}` : ''].join('');
  const who = r.author.name ? `${r.author.name} <${r.author.address}>` : r.author.address;
  const b: string[] = [];
  if (input.indexHref)
    b.push(`<p class="meta"><a${attr('href', safeHref(input.indexHref))}>all reviews</a></p>`);
  b.push(`<h1><span class="meta">[${esc(tag)}]</span> ${esc(r.title)}</h1>`);
  const count =
    r.expected !== null
      ? `${r.received}/${r.expected} patches`
      : `${r.received} patch${r.received === 1 ? '' : 'es'}`;
  b.push(
    `<p class="meta"><span>${esc(who)}</span><span>${esc(count)}</span>` +
      `<span class="counts" data-error="${r.counts.error}" data-warning="${r.counts.warning}" data-info="${r.counts.info}">` +
      `${r.counts.error} error, ${r.counts.warning} warning, ${r.counts.info} info</span>` +
      (input.threadUrl
        ? `<span><a class="thread"${attr('href', safeHref(input.threadUrl))}>the ${input.threadKind ?? 'thread'}</a></span>`
        : '') +
      (input.jsonHref ? `<span><a${attr('href', safeHref(input.jsonHref))}>JSON</a></span>` : '') +
      '</p>',
  );
  const facts: string[] = [];
  facts.push(`<li>Scope: ${esc(r.scope.reason)}</li>`);
  if (r.base)
    facts.push(
      `<li>Base: <code>${esc(r.base.commit.slice(0, 12))}</code> (${esc(r.base.how)}${r.base.ref ? ` ${esc(r.base.ref)}` : ''})${r.base.note ? `: ${esc(r.base.note)}` : ''}</li>`,
    );
  else if (r.status === 'reviewed') facts.push('<li>Not applied (no kernel tree).</li>');
  if (r.missing.length)
    facts.push(`<li>Incomplete: missing patch ${esc(r.missing.join(', '))} of ${r.expected}</li>`);
  // (a result stored before supersedes[].reason existed has none)
  for (const old of r.supersedes)
    facts.push(
      `<li>Supersedes v${old.version} (${old.messageIds.length} message${old.messageIds.length === 1 ? '' : 's'})${old.reason ? `: ${esc(old.reason)}` : ''}</li>`,
    );
  if (r.fixed?.findings.length)
    facts.push(
      `<li>Fixed since v${r.fixed.version}: ${r.fixed.findings.map((f) => esc(`${f.title}${f.file ? ` (${f.file})` : ''}`)).join('; ')}</li>`,
    );
  b.push(`<ul class="facts">${facts.join('')}</ul>`);

  // Patches and how they applied.
  const anchors = new Set<string>();
  const diffParts: string[] = [];
  for (const p of r.patches) {
    const d = input.diffs?.[p.index];
    if (!d) continue;
    const h = diffHtml(p.index, d);
    for (const a of h.anchors) anchors.add(a);
    diffParts.push(
      `<h3${attr('id', patchAnchor(p.index))}>${p.index}/${r.expected ?? r.patches.length} ${esc(p.title)}</h3><pre class="diff">${h.html}</pre>`,
    );
  }
  // Findings, most severe first: the series' and each patch's. The model's
  // summary is the table below, not repeated here.
  b.push('<h2 id="findings">Findings</h2>');
  const all = [
    ...r.findings
      .filter((f) => !(r.model && f.rule === 'model/before-after'))
      .map((f) => ({ f, patch: null as number | null })),
    ...r.patches.flatMap((p) => p.findings.map((f) => ({ f, patch: p.index as number | null }))),
  ].sort((a, b) => bySeverity(a.f, b.f));
  b.push(
    all.length
      ? `<ul class="findings">${all.map(({ f, patch }) => findingItem(f, patch, anchors)).join('\n')}</ul>`
      : '<p class="empty">No findings.</p>',
  );

  b.push('<h2 id="patches">Patches</h2>');
  b.push(
    '<table class="patches"><thead><tr><th>#</th><th>patch</th><th>applies</th><th>findings</th></tr></thead><tbody>' +
      r.patches
        .map((p) => {
          const st = p.apply ? STATUS_TEXT[p.apply.status] : 'not applied';
          const title = diffParts.length
            ? `<a${attr('href', `#${patchAnchor(p.index)}`)}>${esc(p.title)}</a>`
            : esc(p.title);
          const msg = input.archiveBase
            ? ` <a class="meta"${attr('href', safeHref(archiveUrl(input.archiveBase, p.messageId)))}>mail</a>`
            : '';
          const conflicts = (p.apply?.conflicts ?? [])
            .map((c) => `<div class="mono">${esc(conflictText(c))}</div>`)
            .join('');
          return (
            `<tr${attr('data-patch', p.index)}><td class="n">${p.index}</td><td>${title}${msg}</td>` +
            `<td${attr('class', `status-${p.apply?.status ?? 'none'}`)}>${esc(st)}${p.apply?.detail ? `: ${esc(p.apply.detail)}` : ''}${conflicts}</td>` +
            `<td class="n">${p.findings.length}</td></tr>`
          );
        })
        .join('') +
      '</tbody></table>',
  );

  // The model.
  b.push('<h2 id="model">Model before/after</h2>');
  if (r.model) {
    b.push(
      `<ul>${r.model.policyChange.map((l) => `<li>${esc(l)}</li>`).join('')}${r.model.arches
        .map((a) => `<li>${esc(`${a.arch}: ${a.before} against ${a.after}`)}</li>`)
        .join('')}</ul>`,
    );
    b.push(modelTableHtml(r.model));
    b.push('<h2 id="maps">Address maps</h2>');
    b.push(
      '<p class="maps-legend">Each scenario run at one page size, before the series (left) and after (right). ' +
        'Rows follow the address axis: a page with small or several BARs at its own scale, ' +
        'runs of whole pages as one row (slanted ticks), empty stretches as one dotted row with their size. ' +
        'A box is a BAR, coloured per device; T and P mark the MSI-X table and PBA; dashed blue outlines are IOMMU groups; ' +
        'a red page holds BARs of different functions. Runs where the series changed something are open.</p>',
    );
    b.push(mapsHtml(r.model, input.mapHref));
  } else
    b.push('<p class="empty">The series does not change the kernel policy the model reads.</p>');

  // Verify.
  b.push('<h2 id="verify">Verify</h2>');
  if (r.verify) {
    b.push(`<p>${esc(verifySummary(r.verify))}</p>`);
    b.push(
      '<table class="verify"><thead><tr><th>scenario</th><th>arch</th><th>page size</th><th>outcome</th></tr></thead><tbody>' +
        r.verify.scenarios
          .map(
            (s) =>
              `<tr><td>${esc(s.name)}</td><td>${esc(s.arch)}</td><td>${esc(pageLabel(s.pageSize))}</td><td>${esc(s.status)}${s.reason ? `: ${esc(s.reason)}` : ''}</td></tr>`,
          )
          .join('') +
        '</tbody></table>',
    );
  } else
    b.push(
      `<p class="empty">Not verified${r.verifyDecision ? `: ${esc(r.verifyDecision.reason)}` : ''}.</p>`,
    );

  if (diffParts.length) b.push('<h2 id="diffs">Diffs</h2>', ...diffParts);
  if (r.internalErrors.length)
    b.push(
      '<h2>pcibot internal errors</h2>',
      `<ul>${r.internalErrors.map((e) => `<li class="mono">${esc(e)}</li>`).join('')}</ul>`,
    );
  return htmlPage(`pcibot: ${r.title} v${r.version}`, b.join('\n'));
}

export interface ReviewListItem {
  href: string;
  title: string;
  version: number;
  counts?: { error: number; warning: number; info: number };
  status?: string;
  at?: string;
}

/** The list of reviews (the service's, or one `pcibot review --html` run's). */
export function reviewListPage(
  items: ReviewListItem[],
  opts: { heading?: string; links?: { href: string; text: string }[] } = {},
): string {
  const b: string[] = [`<h1>${esc(opts.heading ?? 'pcibot reviews')}</h1>`];
  if (opts.links?.length)
    b.push(
      `<p class="meta">${opts.links.map((l) => `<a${attr('href', safeHref(l.href))}>${esc(l.text)}</a>`).join(' · ')}</p>`,
    );
  if (!items.length) b.push('<p class="empty">No reviews yet.</p>');
  else
    b.push(
      '<table class="reviews"><thead><tr><th>series</th><th>version</th><th>findings</th><th>status</th><th>when</th></tr></thead><tbody>' +
        items
          .map(
            (i) =>
              `<tr><td><a${attr('href', safeHref(i.href))}>${esc(i.title)}</a></td><td class="n">v${i.version}</td>` +
              `<td>${i.counts ? esc(`${i.counts.error} error, ${i.counts.warning} warning, ${i.counts.info} info`) : ''}</td>` +
              `<td>${esc(i.status ?? '')}</td><td>${esc(i.at ?? '')}</td></tr>`,
          )
          .join('') +
        '</tbody></table>',
    );
  return htmlPage(opts.heading ?? 'pcibot reviews', b.join('\n'));
}

export interface LibraryEntry {
  name: string;
  description: string;
  arch: string;
  firmware: string;
  /** Per page size: the map's href (same origin) and what the checks found. */
  maps: { pageSize: number; href: string; shared: number; findings: number }[];
  error?: string;
}

/** The scenario library: each scenario's map at each page size (images, loaded lazily). */
export function libraryPage(
  entries: LibraryEntry[],
  opts: { policy: string; links?: { href: string; text: string }[] },
): string {
  const b: string[] = ['<h1>Scenario library</h1>'];
  if (opts.links?.length)
    b.push(
      `<p class="meta">${opts.links.map((l) => `<a${attr('href', safeHref(l.href))}>${esc(l.text)}</a>`).join(' · ')}</p>`,
    );
  b.push(
    `<p class="meta">The model's layout of each scenario under kernel policy <code>${esc(opts.policy)}</code>, at each page size it is checked at. ` +
      'A red page holds BARs of different functions.</p>',
  );
  b.push(
    '<ul>' +
      entries
        .map((e) => `<li><a${attr('href', `#${slug(e.name)}`)}>${esc(e.name)}</a></li>`)
        .join('') +
      '</ul>',
  );
  for (const e of entries) {
    b.push(
      `<section class="scenario"${attr('id', slug(e.name))}${attr('data-scenario', e.name)}><h2>${esc(e.name)}</h2>` +
        `<p>${esc(e.description)}</p><p class="meta">${esc(`${e.arch}, firmware ${e.firmware}`)}</p>` +
        (e.error ? `<p class="status-conflict">${esc(e.error)}</p>` : '') +
        e.maps
          .map(
            (m) =>
              `<h3>${esc(pageLabel(m.pageSize))} pages: ${m.shared} shared page${m.shared === 1 ? '' : 's'}, ${m.findings} finding${m.findings === 1 ? '' : 's'}</h3>` +
              `<img loading="lazy"${attr('src', safeHref(m.href))}${attr('alt', `${e.name} address map at ${pageLabel(m.pageSize)}`)}>`,
          )
          .join('') +
        '</section>',
    );
  }
  return htmlPage('pcibot scenario library', b.join('\n'));
}

/** A series' diffs by patch index, from its messages (PatchReport.messageId). */
export function diffsOf(
  result: ReviewResult,
  messages: { messageId: string; diff: string | null }[],
): Record<number, string | null> {
  const byId = new Map(messages.map((m) => [m.messageId, m.diff]));
  return Object.fromEntries(result.patches.map((p) => [p.index, byId.get(p.messageId) ?? null]));
}

/** The page's link to where the series was posted: its pull request, or its thread in the archive. */
function threadOf(
  first: string | undefined,
  opts: { archiveBase?: string | null; pullRequests?: ReadonlyMap<string, string> },
): Pick<SeriesPageInput, 'threadUrl' | 'threadKind' | 'archiveBase'> {
  const pr = first === undefined ? undefined : opts.pullRequests?.get(first);
  if (pr) return { threadUrl: pr, threadKind: 'pull request', archiveBase: null };
  return {
    threadUrl: opts.archiveBase && first ? archiveUrl(opts.archiveBase, first) : null,
    archiveBase: opts.archiveBase ?? null,
  };
}

/**
 * The static site of one `pcibot review` run: index.html listing the series,
 * `<series id>.html` per series and `<series id>.json` (its ReviewResult).
 */
export function reviewSite(
  results: { result: ReviewResult; diffs?: Record<number, string | null>; json: string }[],
  opts: {
    archiveBase?: string | null;
    /** First message id (a PR's cover letter) -> the pull request's page: linked instead of a thread. */
    pullRequests?: ReadonlyMap<string, string>;
  } = {},
): Map<string, string> {
  const files = new Map<string, string>();
  const safeName = (id: string) => id.replace(/[^A-Za-z0-9_.-]/g, '_');
  for (const { result, diffs, json } of results) {
    const name = safeName(result.id);
    const first = result.cover?.messageId ?? result.patches[0]?.messageId;
    const model = result.model;
    if (model)
      model.runs.forEach((run, i) => {
        if (!run.fixed.length && !run.introduced.length)
          files.set(`${name}-maps/${i}.svg`, runSvg(model, run));
      });
    files.set(
      `${name}.html`,
      seriesPage({
        result,
        mapHref: (i) => `${name}-maps/${i}.svg`,
        ...(diffs ? { diffs } : {}),
        ...threadOf(first, opts),
        jsonHref: `${name}.json`,
        indexHref: 'index.html',
      }),
    );
    files.set(`${name}.json`, json);
  }
  files.set(
    'index.html',
    reviewListPage(
      results.map(({ result }) => ({
        href: `${safeName(result.id)}.html`,
        title: result.title,
        version: result.version,
        counts: result.counts,
        status: result.status === 'skipped' ? `skipped: ${result.scope.reason}` : 'reviewed',
      })),
      { heading: 'pcibot review' },
    ),
  );
  return files;
}
