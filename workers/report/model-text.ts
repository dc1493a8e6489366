// The model's before/after in words, for the terminal and Markdown sinks: a
// short table (per page size: fixed / introduced / remain), and compact text
// maps of the pages that changed (one line per page: address, what is in it),
// before and after, for the scenario runs where the series fixed or
// introduced a shared page. The details (every scenario, the findings in
// full) are for --verbose.
import { pageLabel } from '../../bot/kernel/model/safety.js';
import type { ModelBeforeAfter } from '../../rules/series/model-before-after/check.js';
import {
  buildAddressMap,
  sharedBars,
  textMap,
  type AddressMap,
  type MapFinding,
} from './addrmap.js';

type Run = ModelBeforeAfter['runs'][number];

/** Per page size, over all checks: fixed / introduced / remain. */
export function pageSizeTotals(model: ModelBeforeAfter): {
  pageSize: number;
  fixed: number;
  introduced: number;
  unverified: number;
  remaining: number;
  runs: number;
}[] {
  const sizes = [...new Set(model.runs.map((r) => r.pageSize))].sort((a, b) => a - b);
  return sizes.map((pageSize) => {
    const rows = model.table.filter((t) => t.pageSize === pageSize);
    const sum = (k: 'fixed' | 'introduced' | 'unverified' | 'remaining') =>
      rows.reduce((n, r) => n + (r[k] ?? 0), 0);
    return {
      pageSize,
      fixed: sum('fixed'),
      introduced: sum('introduced'),
      unverified: sum('unverified'),
      remaining: sum('remaining'),
      runs: model.runs.filter((r) => r.pageSize === pageSize).length,
    };
  });
}

/**
 * Under the table: how many of the introduced items are unverified (they rest
 * on policy the reader did not understand), so "introduced" is not read as the
 * model's verdict. Empty when none are.
 */
export function unverifiedNote(model: ModelBeforeAfter): string | null {
  const parts = pageSizeTotals(model)
    .filter((t) => t.unverified > 0)
    .map((t) => `${t.unverified} of ${t.introduced} at ${pageLabel(t.pageSize)}`);
  if (!parts.length) return null;
  return `introduced but unverified (the model's answer rests on policy it did not understand; model only until a boot confirms it, pcibot review --verify auto): ${parts.join(', ')}`;
}

/** The before and after maps of one run, with its findings placed. */
export function runMaps(
  model: ModelBeforeAfter,
  run: Run,
): { before: AddressMap; after: AddressMap } {
  const refs = (list: Run['fixed'], status: MapFinding['status']): MapFinding[] =>
    list.map((f) => ({ ...f, status }));
  return {
    before: buildAddressMap(model.layouts[run.before]!, run.pageSize, [
      ...refs(run.fixed, 'fixed'),
      ...refs(run.remaining, 'remaining'),
    ]),
    after: buildAddressMap(model.layouts[run.after]!, run.pageSize, [
      ...refs(run.introduced, 'introduced'),
      ...refs(run.remaining, 'remaining'),
    ]),
  };
}

const sharedChange = (r: Run) =>
  [...r.fixed, ...r.introduced].some((f) => f.rule === 'model/shared-page');

/**
 * The runs whose shared pages the series changed: those where it introduces
 * one first (one the model stands by: not one capped at info because it
 * depends on a change the model did not understand), then by page size (4K,
 * the common host page, first), then the x86 runs (most hosts), then the
 * library's order.
 */
export function changedRuns(model: ModelBeforeAfter): Run[] {
  const shared = (l: Run['fixed']) =>
    l.filter((f) => f.rule === 'model/shared-page' && f.severity !== 'info').length;
  return model.runs
    .filter(sharedChange)
    .sort(
      (a, b) =>
        shared(b.introduced) - shared(a.introduced) ||
        a.pageSize - b.pageSize ||
        Number(b.arch === 'x86_64') - Number(a.arch === 'x86_64'),
    );
}

/** Before/after text maps of one run's pages that matter, indented. */
export function runTextMaps(model: ModelBeforeAfter, run: Run, indent: string): string[] {
  const { before, after } = runMaps(model, run);
  const focus = sharedBars(before, after);
  const out: string[] = [];
  const side = (label: string, lines: string[]) => {
    if (!lines.length) lines = ['(no page with these BARs)'];
    lines.forEach((l, i) => out.push(`${indent}${i === 0 ? label : ' '.repeat(label.length)}${l}`));
  };
  side('before  ', textMap(before, focus));
  side('after   ', textMap(after, focus));
  return out;
}

const runTitle = (r: Run) =>
  `${r.scenario}${r.arch === 'x86_64' ? '' : ` (${r.arch})`} at ${pageLabel(r.pageSize)}: ` +
  `${r.fixed.length} fixed, ${r.introduced.length} introduced, ${r.remaining.length} remain`;

/** Terminal lines of the model section. */
export function modelSectionText(
  model: ModelBeforeAfter,
  opts: { verbose: boolean; indent: string; maxRuns?: number },
): string[] {
  const ind = opts.indent;
  const out: string[] = [];
  // "6.12 -> 6.12+x (arm64, x86_64)": one entry per pair of policies.
  const pairs = new Map<string, string[]>();
  for (const a of model.arches) {
    const k = `${a.before} -> ${a.after}`;
    pairs.set(k, [...(pairs.get(k) ?? []), a.arch]);
  }
  const arches = [...pairs].map(([k, as]) => `${k} (${as.join(', ')})`);
  out.push(`${ind}model: ${model.policyChange.join('; ')}`);
  out.push(`${ind}  ${arches.join(', ')}; ${model.runs.length} scenario runs`);
  out.push(
    `${ind}  ${'page size'.padEnd(10)}${'fixed'.padStart(7)}${'introduced'.padStart(12)}${'remain'.padStart(8)}`,
  );
  for (const t of pageSizeTotals(model))
    out.push(
      `${ind}  ${pageLabel(t.pageSize).padEnd(10)}${String(t.fixed).padStart(7)}${String(t.introduced).padStart(12)}${String(t.remaining).padStart(8)}`,
    );
  const note = unverifiedNote(model);
  if (note) out.push(`${ind}  ${note}`);
  if (opts.verbose) {
    out.push(`${ind}  per check:`);
    for (const t of model.table)
      out.push(
        `${ind}    ${pageLabel(t.pageSize).padEnd(5)} ${t.check.padEnd(22)} ${t.fixed} fixed, ${t.introduced} introduced, ${t.remaining} remain`,
      );
  }
  const runs = changedRuns(model);
  if (runs.length) {
    const max = opts.verbose ? runs.length : (opts.maxRuns ?? 2);
    out.push(`${ind}  pages whose sharing changed (before -> after):`);
    for (const r of runs.slice(0, max)) {
      out.push(`${ind}    ${runTitle(r)}`);
      out.push(...runTextMaps(model, r, `${ind}      `));
    }
    if (runs.length > max)
      out.push(
        `${ind}    ... and ${runs.length - max} more scenario run${runs.length - max === 1 ? '' : 's'} (--verbose)`,
      );
  }
  if (opts.verbose) {
    out.push(`${ind}  every scenario run:`);
    for (const r of model.runs) out.push(`${ind}    ${runTitle(r)}`);
  }
  return out;
}

/** Markdown of the model's table: its heading, the policy change, the architectures, the totals per page size. */
export function modelTableMarkdown(model: ModelBeforeAfter, esc: (t: string) => string): string[] {
  const out: string[] = ['', '### Model before/after', ''];
  for (const l of model.policyChange) out.push(`- ${esc(l)}`);
  for (const a of model.arches) out.push(`- ${a.arch}: \`${a.before}\` against \`${a.after}\``);
  out.push(
    '',
    '| page size | fixed | introduced | remain | scenario runs |',
    '|---|---:|---:|---:|---:|',
  );
  for (const t of pageSizeTotals(model))
    out.push(
      `| ${pageLabel(t.pageSize)} | ${t.fixed} | ${t.introduced} | ${t.remaining} | ${t.runs} |`,
    );
  const note = unverifiedNote(model);
  if (note) out.push('', `*${esc(note)}*`);
  return out;
}

/** Markdown of the model section: the table, and the text maps of the pages that changed. */
export function modelSectionMarkdown(
  model: ModelBeforeAfter,
  esc: (t: string) => string,
): string[] {
  const out = modelTableMarkdown(model, esc);
  const runs = changedRuns(model);
  if (runs.length) {
    out.push('', 'Pages whose sharing changed:', '');
    for (const r of runs) {
      out.push(`- ${esc(runTitle(r))}`, '', '  ```');
      out.push(...runTextMaps(model, r, '  '));
      out.push('  ```', '');
    }
  }
  return out;
}
