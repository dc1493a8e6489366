// Series check (see rules/series/README.md; what it checks, why and its
// references are in ./README.md): the model's before/after for a series. Read
// the kernel policy of the base and of the patched state (per architecture the
// scenario library covers); if it differs, run the model over the library with
// both and turn the differences into series-level findings: what the series
// introduces (with the model's own severity), what it fixes and what it leaves
// (info), and one summary with the table. When the policy does not change,
// nothing is said except the reader's "not understood" notes, which are info.
import { join } from 'node:path';
import {
  bySeverity,
  patchIndex,
  type Applied,
  type Finding,
  type Message,
  type Series,
} from '../../../bot/types.js';
import { fixturesDir } from '../../../bot/util/paths.js';
import { isApplied } from '../../../bot/tree/apply.js';
import {
  evaluate,
  runModel,
  type ModelRun,
  type PageResult,
} from '../../../bot/kernel/model/run.js';
import type { Placement } from '../../../bot/kernel/model/place.js';
import type { KernelPolicy } from '../../../bot/kernel/model/policy.js';
import { loadScenariosLenient, type Scenario } from '../../../bot/kernel/model/scenario.js';
import { pageLabel } from '../../../bot/kernel/model/safety.js';
import { openTreeReader } from '../../../bot/tree/reader.js';
import {
  describePolicyChange,
  functionChanges,
  readPolicyChange,
  touchesPolicy,
} from '../../../bot/kernel/policy/read.js';
import {
  fieldAlternatives,
  isPolicyField,
  type PolicyField,
} from '../../../bot/kernel/policy/paths.js';
import type { PolicyChange, PolicyNote } from '../../../bot/kernel/policy/types.js';
import type { Arch } from '../../../bot/kernel/vocabulary.js';
import type { Layout } from '../../../bot/kernel/model/layout.js';

export interface BeforeAfterOptions {
  /** Scenario library (a directory of .scenario files); default fixtures/scenarios. */
  scenariosDir?: string;
  /** Only these scenarios, by name (a maintainer's `pcibot: scenarios a,b`). */
  only?: string[];
}

export interface BeforeAfterResult {
  findings: Finding[];
  /** pcibot's own problems (a scenario the model could not load or run). */
  errors: string[];
  /** The before/after as data, for sinks that draw it; null when the policy did not change. */
  model: ModelBeforeAfter | null;
}

/** A model finding, named (its key matches it across policies). */
export interface ModelFindingRef {
  rule: string;
  severity: Finding['severity'];
  title: string;
  key: string;
}

/**
 * The model's before/after as structured data: what the summary finding's
 * table says in words, plus every scenario run with the layouts it predicts
 * before and after the series (the report page draws these as address maps).
 * Layouts are stored once each under an id (`l<n>`): an x86 placement serves
 * every page size, and a policy change leaves many layouts as they were.
 */
export interface ModelBeforeAfter {
  /** What changed in the policy the model reads, in words (describePolicyChange). */
  policyChange: string[];
  /** Per architecture: the policies compared (by name) and the fields that changed. */
  arches: { arch: Arch; before: string; after: string; changedFields: string[] }[];
  /** Per page size and check, over the library: the summary table. */
  table: {
    pageSize: number;
    check: string;
    fixed: number;
    introduced: number;
    /**
     * Of `introduced`, how many rest on policy the reader did not understand
     * (capped at info, marked unverified): model only until a boot confirms them.
     */
    unverified: number;
    remaining: number;
  }[];
  /** Every scenario run: per scenario and page size, the layouts and what changed. */
  runs: {
    arch: Arch;
    scenario: string;
    pageSize: number;
    /** Layout ids in `layouts`. */
    before: string;
    after: string;
    fixed: ModelFindingRef[];
    introduced: ModelFindingRef[];
    remaining: ModelFindingRef[];
    /** Shared pages the series narrowed to fewer devices. */
    narrowed: number;
  }[];
  layouts: Record<string, Layout>;
}

const scenarioCache = new Map<string, Promise<{ scenarios: Scenario[]; errors: string[] }>>();

function libraryAt(dir: string) {
  let p = scenarioCache.get(dir);
  if (!p) {
    p = loadScenariosLenient(dir).then((r) => ({
      scenarios: r.scenarios,
      errors: r.errors.map((e) => e.message),
    }));
    // A failed load is not cached: the next review tries again.
    p.catch(() => scenarioCache.delete(dir));
    scenarioCache.set(dir, p);
  }
  return p;
}

const REFERENCES = [
  'pcibot model: bot/kernel/model (placement per drivers/pci/setup-bus.c and arch/x86/pci/i386.c, vfio_pci_probe_mmaps(), pci_device_group())',
  'XSA-461 / CVE-2024-31146: devices sharing a page cannot be passed through safely',
  'Bjorn Helgaas, Re: [PATCH v3 8/8] PCI: Align small BARs, linux-pci, 2024-08',
];

const CHECK_NAMES: Record<string, [string, string]> = {
  'model/shared-page': ['shared page', 'shared pages'],
  'model/lost-bar': ['lost BAR', 'lost BARs'],
  'model/subpage-mmap': ['sub-page BAR vfio will not mmap', 'sub-page BARs vfio will not mmap'],
  'model/msix-page': ['MSI-X page problem', 'MSI-X page problems'],
  'model/oversized-bar': ['oversized BAR offered for mmap', 'oversized BARs offered for mmap'],
  'model/group': ['shared IOMMU group', 'shared IOMMU groups'],
  'model/viommu-attach': ['vIOMMU refusal', 'vIOMMU refusals'],
};

const ORDER = Object.keys(CHECK_NAMES);
const plural = (rule: string, n: number) => {
  const names = CHECK_NAMES[rule] ?? [rule, rule];
  return `${n} ${n === 1 ? names[0] : names[1]}`;
};

const short = (bdf: string) => (bdf.startsWith('0000:') ? bdf.slice(5) : bdf);

function countBy(fs: Finding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fs) out[f.rule] = (out[f.rule] ?? 0) + 1;
  return out;
}

/**
 * Where a model finding is, the same at every page size (so one problem seen at
 * 4K and 64K reads as one): "devices 01:00.0, 01:01.0, page 0x20000000" for a
 * shared page, "01:00.0 BAR2" for one BAR, the title otherwise.
 */
function where(f: Finding): string {
  const e = f.evidence;
  if (f.rule === 'model/shared-page' && Array.isArray(e['devices']) && Array.isArray(e['pages']))
    return `devices ${(e['devices'] as string[]).map(short).join(', ')}, page ${(e['pages'] as string[]).join('/')}`;
  if (typeof e['device'] === 'string' && e['bar'] !== undefined)
    return `${short(e['device'])} BAR${String(e['bar'])}`;
  if (Array.isArray(e['devices']))
    return `devices ${(e['devices'] as string[]).map(short).join(', ')}`;
  return f.title;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'series'
  );
}

/**
 * A PageResult with findings paired up where the model's keys split one
 * problem in two: a shared page whose devices are a subset of a page the base
 * shared (the series narrowed it: still there, not new) or a superset (it
 * widened: new, and the old one is not fixed).
 */
interface Classified {
  r: PageResult;
  fixed: Finding[];
  introduced: Finding[];
  remaining: Finding[];
  narrowed: { before: Finding; after: Finding }[];
}

function devicesOf(f: Finding): string[] | null {
  const d = f.evidence['devices'];
  return f.rule === 'model/shared-page' && Array.isArray(d) ? (d as string[]) : null;
}

function classify(r: PageResult): Classified {
  const fixed = [...r.fixed];
  const introduced = [...r.introduced];
  const narrowed: Classified['narrowed'] = [];
  for (const f of [...introduced]) {
    const after = devicesOf(f);
    if (!after) continue;
    const wider = fixed.find((g) => {
      const before = devicesOf(g);
      return before !== null && after.every((d) => before.includes(d));
    });
    if (wider) {
      narrowed.push({ before: wider, after: f });
      fixed.splice(fixed.indexOf(wider), 1);
      introduced.splice(introduced.indexOf(f), 1);
      continue;
    }
    const narrower = fixed.find((g) => {
      const before = devicesOf(g);
      return before !== null && before.every((d) => after.includes(d));
    });
    if (narrower) fixed.splice(fixed.indexOf(narrower), 1);
  }
  return {
    r,
    fixed,
    introduced,
    remaining: [...r.unchanged, ...narrowed.map((n) => n.after)],
    narrowed,
  };
}

interface Row {
  arch: Arch;
  scenario: string;
  pageSize: number;
  fixed: Record<string, number>;
  introduced: Record<string, number>;
  remaining: Record<string, number>;
  narrowed: number;
}

/** The table: per page size and check, fixed / introduced / remaining, over the whole library. */
function summaryTable(results: { arch: Arch; c: Classified }[]): {
  text: string[];
  byPage: ModelBeforeAfter['table'];
} {
  const pages = [...new Set(results.map((x) => x.c.r.pageSize))].sort((a, b) => a - b);
  const byPage: ModelBeforeAfter['table'] = [];
  const text: string[] = [];
  for (const P of pages) {
    const at = results.filter((x) => x.c.r.pageSize === P);
    const fixed = countBy(at.flatMap((x) => x.c.fixed));
    const introduced = countBy(at.flatMap((x) => x.c.introduced));
    const remaining = countBy(at.flatMap((x) => x.c.remaining));
    const unverifiedOf = countBy(
      at.flatMap((x) => x.c.introduced).filter((f) => f.evidence['unverified'] === true),
    );
    const narrowed = at.reduce((n, x) => n + x.c.narrowed.length, 0);
    const checks = ORDER.filter((c) => fixed[c] || introduced[c] || remaining[c]);
    for (const c of checks)
      byPage.push({
        pageSize: P,
        check: c,
        fixed: fixed[c] ?? 0,
        introduced: introduced[c] ?? 0,
        unverified: unverifiedOf[c] ?? 0,
        remaining: remaining[c] ?? 0,
      });
    const parts = checks
      .filter(
        (c) => c === 'model/shared-page' || c === 'model/lost-bar' || fixed[c] || introduced[c],
      )
      .map((c) => {
        const u = unverifiedOf[c] ?? 0;
        return `${plural(c, fixed[c] ?? 0)} fixed, ${introduced[c] ?? 0} introduced${u ? ` (${u} unverified)` : ''}, ${remaining[c] ?? 0} remain`;
      });
    if (narrowed)
      parts.push(`${narrowed} shared page${narrowed === 1 ? '' : 's'} narrowed to fewer devices`);
    if (!parts.length) parts.push('no change');
    text.push(`  At ${pageLabel(P)} (${at.length} scenario runs): ${parts.join('; ')}.`);
    // Name what is left or new among the errors (shared pages, lost BARs).
    const errs = (fs: Finding[]) => fs.filter((f) => f.severity === 'error');
    const left = at.flatMap((x) =>
      errs(x.c.remaining).map((f) => `${x.c.r.scenario}: ${where(f)}`),
    );
    const added = at.flatMap((x) =>
      errs(x.c.introduced).map((f) => `${x.c.r.scenario}: ${where(f)}`),
    );
    const list = (l: string[]) =>
      l.length > 4 ? [...l.slice(0, 4), `... ${l.length - 4} more`] : l;
    const unverified = at.flatMap((x) =>
      x.c.introduced
        .filter((f) => f.evidence['unverified'] === true && f.evidence['modelSeverity'] === 'error')
        .map((f) => `${x.c.r.scenario}: ${where(f)}`),
    );
    if (added.length) text.push(`    New at ${pageLabel(P)}: ${list(added).join('; ')}.`);
    if (unverified.length)
      text.push(
        `    Unverified at ${pageLabel(P)} (the model's answer depends on a change it did not understand): ${list(unverified).join('; ')}.`,
      );
    if (left.length) text.push(`    Still there at ${pageLabel(P)}: ${list(left).join('; ')}.`);
  }
  return { text, byPage };
}

/** A patch of the series, as findings name it: `5/8 (x86/PCI: Preserve ...)`. */
interface PatchRef {
  index: number;
  title: string;
}

const patchLabel = (p: PatchRef, total: number | null) =>
  `${p.index}${total ? `/${total}` : ''} ("${p.title}")`;

/** `1-7/8`, `4/8`, `1, 3/8`: patch numbers, runs joined. */
function patchRange(indexes: number[], total: number | null): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(
      j > i + 1
        ? `${sorted[i]}-${sorted[j]}`
        : j === i + 1
          ? `${sorted[i]}, ${sorted[j]}`
          : `${sorted[i]}`,
    );
    i = j;
  }
  return `${runs.join(', ')}${total ? `/${total}` : ''}`;
}

/**
 * Which patches the model's "after" holds: the series' patches that are not
 * in the input, and those that did not apply, with what the present patches
 * say about needing the others ("Preparatory patches in this series are
 * prerequisites to this patch"). The model reads the tree with only the
 * patches that applied; a finding computed without some of them says so.
 */
export interface SeriesPresence {
  total: number | null;
  /** Not in the input. */
  missing: number[];
  /** In the input but not applied (conflict, malformed), with their titles. */
  failed: PatchRef[];
  /** A present patch that says it needs the others: its number and the sentence. */
  stated: { index: number; sentence: string }[];
  /** "computed without 1-7/8 (not in the input)", or null when everything applied. */
  text: string | null;
}

const NEEDS_OTHERS =
  /[^.\n]*(?:\bprerequisites?\b|\bdepends on (?:the )?(?:previous|earlier|preceding|other|preparatory)\b|\brequires? (?:the )?(?:previous|earlier|preceding|other|preparatory)\b|\bbuilds? on (?:the )?(?:previous|earlier|preceding)\b)[^.\n]*\.?/i;

/** A sentence of the patch's own text (commit message and notes, not the diff) saying it needs the rest of the series. */
function statedPrerequisite(m: Message): string | null {
  const prose = m.diffLine
    ? m.body
        .split('\n')
        .slice(0, m.diffLine - 1)
        .join('\n')
    : m.body;
  const hit = NEEDS_OTHERS.exec(prose);
  return hit ? hit[0].trim().replace(/\s+/g, ' ') : null;
}

export function seriesPresence(series: Series, applied: Applied): SeriesPresence {
  const total = series.expected;
  const missing = [...series.missing].sort((a, b) => a - b);
  const byMessage = new Map(applied.patches.map((p) => [p.messageId, p]));
  const failed: PatchRef[] = [];
  series.patches.forEach((m, pos) => {
    const a = byMessage.get(m.messageId);
    if (!a || (!isApplied(a.status) && a.status !== 'already-applied'))
      failed.push({ index: patchIndex(m, pos), title: m.tags.title });
  });
  const partial = missing.length > 0 || failed.length > 0;
  const stated = partial
    ? series.patches.flatMap((m, pos) => {
        const index = patchIndex(m, pos);
        const sentence = failed.some((f) => f.index === index) ? null : statedPrerequisite(m);
        return sentence ? [{ index, sentence }] : [];
      })
    : [];
  const parts: string[] = [];
  if (missing.length) parts.push(`${patchRange(missing, total)} (not in the input)`);
  if (failed.length)
    parts.push(
      `${patchRange(
        failed.map((f) => f.index),
        total,
      )} (did not apply)`,
    );
  return {
    total,
    missing,
    failed,
    stated,
    text: parts.length ? `computed without ${parts.join(' and without ')}` : null,
  };
}

/** What findings computed without some patches carry as evidence. */
const withoutEvidence = (p: SeriesPresence) => ({
  text: p.text,
  missing: p.missing,
  failed: p.failed.map((f) => f.index),
  stated: p.stated,
});

/** The sentence findings carry when the model's "after" lacks patches of the series. */
function presenceSentence(p: SeriesPresence): string {
  if (!p.text) return '';
  const said = p.stated.length
    ? ` ${p.stated.map((s) => `${patchRange([s.index], p.total)} says: "${s.sentence.replace(/\.$/, '')}"`).join('; ')}.`
    : '';
  return ` The model's "after" is ${p.text}: it reads the tree with only the patches that applied.${said}`;
}

/** A policy-carrying function the model did not understand, and the patches that changed it. */
interface NotUnderstood {
  note: PolicyNote;
  arches: Arch[];
  changedBy: PatchRef[];
}

function noteFinding(n: NotUnderstood, total: number | null): Finding {
  const { note, arches } = n;
  const fn = note.function
    ? note.function.startsWith('pci_dev_acs_enabled')
      ? note.function
      : `${note.function}()`
    : null;
  const by = n.changedBy.length
    ? n.changedBy.map((p) => patchRange([p.index], total)).join(', ')
    : '';
  const restructured = note.kind === 'restructured';
  const title = restructured
    ? `${fn ?? 'A policy function'} restructured${by ? ` by ${by}` : ''}; the model reads it the same`
    : fn
      ? `The model does not understand the change${by ? ` ${by} makes` : ''} to ${fn}`
      : `The model does not understand a policy change`;
  const changed = n.changedBy.length
    ? ` Changed by ${n.changedBy.map((p) => patchLabel(p, total)).join(', ')}.`
    : '';
  return {
    rule: restructured ? 'policy/restructured' : 'policy/not-understood',
    severity: 'info',
    title,
    detail:
      `${note.message[0]!.toUpperCase()}${note.message.slice(1)}.${changed}` +
      (restructured
        ? ' Nothing the model takes from it changes.'
        : ' The before/after on the scenario library does not account for this change, and no model finding that depends on it is raised above info; it needs a human look, or a boot of the patched kernel (pcibot review --verify auto).'),
    ...(note.file ? { file: note.file } : {}),
    ...(note.file && note.line !== undefined ? { line: note.line } : {}),
    evidence: {
      message: note.message,
      ...(note.function ? { function: note.function } : {}),
      ...(note.file ? { file: note.file } : {}),
      ...(note.line !== undefined ? { lineInPatchedTree: note.line } : {}),
      ...(note.fields ? { fields: note.fields } : {}),
      ...(n.changedBy.length ? { changedBy: n.changedBy.map((p) => p.index) } : {}),
      arches,
    },
    references: ['pcibot policy reader: bot/kernel/policy/read.ts'],
  };
}

/** What a capped model finding depends on: a field kept at its base value, and where it is read. */
interface Dependency {
  field: PolicyField;
  function?: string;
  file?: string;
  line?: number;
  changedBy: number[];
}

function dependencyText(deps: Dependency[], total: number | null): string {
  const fns = [
    ...new Map(
      deps.map((d) => [
        `${d.file}:${d.function}`,
        `${d.function ? `${d.function}()` : 'a policy function'}${d.file ? ` (${d.file}${d.line !== undefined ? `:${d.line}` : ''})` : ''}${d.changedBy.length ? `, changed by ${patchRange(d.changedBy, total)}` : ''}`,
      ]),
    ).values(),
  ];
  const fields = [...new Set(deps.map((d) => d.field))];
  return `${fns.join('; ')}, which the model does not understand (it keeps the base value of ${fields.join(', ')}, and the answer changes with it)`;
}

/** One problem, merged over the page sizes it shows at. */
interface Item {
  arch: Arch;
  scenario: string;
  finding: Finding;
  pageSizes: number[];
  narrowedFrom?: string[];
  /** Not understood policy the model's answer depends on (the finding is unverified). */
  deps?: Dependency[];
}

function mergeItems(
  entries: {
    arch: Arch;
    scenario: string;
    pageSize: number;
    finding: Finding;
    narrowedFrom?: string[];
    deps?: Dependency[];
  }[],
): Item[] {
  const byKey = new Map<string, Item>();
  for (const e of entries) {
    const k = `${e.arch}|${e.scenario}|${e.finding.rule}|${where(e.finding)}|${e.deps ? 'unverified' : ''}`;
    const seen = byKey.get(k);
    if (seen) seen.pageSizes.push(e.pageSize);
    else
      byKey.set(k, {
        arch: e.arch,
        scenario: e.scenario,
        finding: e.finding,
        pageSizes: [e.pageSize],
        ...(e.narrowedFrom ? { narrowedFrom: e.narrowedFrom } : {}),
        ...(e.deps ? { deps: e.deps } : {}),
      });
  }
  return [...byKey.values()];
}

const itemText = (i: Item) =>
  `${i.scenario}${i.arch === 'x86_64' ? '' : ` (${i.arch})`}: ${where(i.finding)} at ${i.pageSizes.map(pageLabel).join('/')}` +
  (i.narrowedFrom?.length
    ? ` (narrowed: ${i.narrowedFrom.map(short).join(', ')} no longer on it)`
    : '');

const listed = (items: Item[], max = 6) =>
  items.length > max
    ? `${items.slice(0, max).map(itemText).join('; ')}; and ${items.length - max} more`
    : items.map(itemText).join('; ');

const itemEvidence = (items: Item[]) =>
  items.map((i) => ({
    scenario: i.scenario,
    arch: i.arch,
    pageSizes: i.pageSizes,
    rule: i.finding.rule,
    title: i.finding.title,
    key: i.finding.evidence['key'],
    ...(i.finding.evidence['device'] !== undefined
      ? { device: i.finding.evidence['device'], bar: i.finding.evidence['bar'] }
      : {}),
    ...(i.narrowedFrom ? { narrowedFrom: i.narrowedFrom } : {}),
  }));

/**
 * Problems the series introduces: one finding per model check, with the worst
 * severity among them; those whose answer depends on policy the model did not
 * understand in another, capped at info and marked unverified (a boot of the
 * patched kernel may confirm them: the report stage then gives them back
 * their severity).
 */
function introducedFindings(
  results: { arch: Arch; c: Classified }[],
  deps: Map<string, Dependency[]>,
  presence: SeriesPresence | null,
): Finding[] {
  const items = mergeItems(
    results.flatMap(({ arch, c }) =>
      c.introduced.map((finding) => {
        const d = deps.get(depKey(arch, c.r.scenario, c.r.pageSize, finding));
        return {
          arch,
          scenario: c.r.scenario,
          pageSize: c.r.pageSize,
          finding,
          ...(d ? { deps: d } : {}),
        };
      }),
    ),
  );
  const without = presence ? presenceSentence(presence) : '';
  const out: Finding[] = [];
  const groups = [...new Set(items.map((i) => `${i.finding.rule}|${i.deps ? 'u' : ''}`))];
  for (const g of groups) {
    const [rule, u] = g.split('|') as [string, string];
    const severityOf = (f: Finding) =>
      (f.evidence['modelSeverity'] as Finding['severity'] | undefined) ?? f.severity;
    const group = items
      .filter((i) => i.finding.rule === rule && (i.deps ? 'u' : '') === u)
      .sort((a, b) =>
        bySeverity({ severity: severityOf(a.finding) }, { severity: severityOf(b.finding) }),
      );
    const first = group[0]!.finding;
    const scenarios = [...new Set(group.map((i) => i.scenario))];
    const unverified = u === 'u';
    const allDeps = unverified
      ? [
          ...new Map(
            group.flatMap((i) => i.deps ?? []).map((d) => [`${d.field}|${d.function}`, d]),
          ).values(),
        ]
      : [];
    const what = `${plural(rule, group.length)} in ${scenarios.length} scenario${scenarios.length === 1 ? '' : 's'}`;
    out.push({
      rule,
      severity: unverified ? 'info' : first.severity,
      title: unverified
        ? `Unverified: the model predicts ${what}, on policy it did not understand`
        : `The series introduces ${what}${presence?.text ? ` (${presence.text})` : ''}`,
      detail:
        (unverified
          ? `Model only, and unverified: with the series applied the model finds ${plural(rule, group.length)} that the base tree does not have, but the answer depends on ${dependencyText(allDeps, presence?.total ?? null)}. It is not raised above info unless a boot of the patched kernel confirms it (pcibot review --verify auto): ${listed(group)}.`
          : `With the series applied the model finds ${plural(rule, group.length)} that the base tree does not have: ${listed(group)}.`) +
        without +
        ` For example: ${first.detail}`,
      evidence: {
        change: 'introduced',
        items: itemEvidence(group),
        example: first.evidence,
        ...(unverified
          ? { unverified: true, modelSeverity: severityOf(first), dependsOn: allDeps }
          : {}),
        ...(presence?.text ? { without: withoutEvidence(presence) } : {}),
      },
      references: [...new Set([...first.references, ...REFERENCES.slice(0, 1)])],
    });
  }
  return out;
}

const depKey = (arch: Arch, scenario: string, pageSize: number, f: Finding) =>
  `${arch}|${scenario}|${pageSize}|${String(f.evidence['key'])}`;

/**
 * Which introduced model findings depend on a field the reader kept at its
 * base value (its function changed in a way it did not understand): those
 * that go away when the model runs with the field at any other value it can
 * take. A field with too many values (sizes, lists) is taken to touch every
 * finding on its architecture.
 */
function dependencies(
  runs: { arch: Arch; change: PolicyChange; run: ModelRun }[],
  notUnderstood: NotUnderstood[],
  scenarios: Scenario[],
): Map<string, Dependency[]> {
  const out = new Map<string, Dependency[]>();
  const byName = new Map(scenarios.map((s) => [`${s.arch}|${s.name}`, s]));
  for (const { arch, change, run } of runs) {
    const kept: Dependency[] = notUnderstood
      .filter((n) => n.arches.includes(arch) && n.note.kind === undefined)
      .flatMap((n) =>
        (n.note.fields ?? []).filter(isPolicyField).map((field) => ({
          field,
          ...(n.note.function ? { function: n.note.function } : {}),
          ...(n.note.file ? { file: n.note.file } : {}),
          ...(n.note.line !== undefined ? { line: n.note.line } : {}),
          changedBy: n.changedBy.map((p) => p.index),
        })),
      );
    if (!kept.length) continue;
    const after = change.after.policy;
    const alternatives = kept.map((d, i) => ({
      d,
      policies: fieldAlternatives(after, d.field)?.map((p, j): KernelPolicy => ({
        ...p,
        name: `${after.name}~${i}.${j}`,
      })),
    }));
    const cache = new Map<string, Placement>();
    for (const r of run.results) {
      const raised = r.introduced.filter((f) => f.severity !== 'info');
      if (!raised.length) continue;
      const s = byName.get(`${arch}|${r.scenario}`);
      for (const f of raised) {
        const key = String(f.evidence['key']);
        const on = alternatives.filter(
          (a) =>
            !a.policies ||
            !s ||
            a.policies.some(
              (p) =>
                !evaluate(s, p, r.pageSize, {}, cache).findings.some(
                  (g) => String(g.evidence['key']) === key,
                ),
            ),
        );
        if (on.length)
          out.set(
            depKey(arch, r.scenario, r.pageSize, f),
            on.map((a) => a.d),
          );
      }
    }
  }
  return out;
}

/** What the series fixes, or leaves in place (errors only), over the whole library: one info finding. */
function outcomeFindings(
  results: { arch: Arch; c: Classified }[],
  what: 'fixed' | 'remaining',
): Finding[] {
  const entries = results.flatMap(({ arch, c }) =>
    (what === 'fixed' ? c.fixed : c.remaining.filter((f) => f.severity === 'error')).map(
      (finding) => {
        const n = c.narrowed.find((x) => x.after === finding);
        const narrowedFrom = n
          ? devicesOf(n.before)!.filter((d) => !devicesOf(finding)!.includes(d))
          : undefined;
        return {
          arch,
          scenario: c.r.scenario,
          pageSize: c.r.pageSize,
          finding,
          ...(narrowedFrom ? { narrowedFrom } : {}),
        };
      },
    ),
  );
  if (!entries.length) return [];
  // Errors first (shared pages, lost BARs): those are what the list is read for.
  const items = mergeItems(entries).sort(
    (a, b) =>
      bySeverity(a.finding, b.finding) ||
      ORDER.indexOf(a.finding.rule) - ORDER.indexOf(b.finding.rule),
  );
  const counts = ORDER.filter((k) => items.some((i) => i.finding.rule === k)).map((k) =>
    plural(k, items.filter((i) => i.finding.rule === k).length),
  );
  const scenarios = new Set(items.map((i) => i.scenario)).size;
  return [
    {
      rule: what === 'fixed' ? 'model/fixed' : 'model/remaining',
      severity: 'info',
      title:
        what === 'fixed'
          ? `The series fixes ${counts.join(', ')} in ${scenarios} scenario${scenarios === 1 ? '' : 's'}`
          : `The series leaves ${counts.join(', ')} in ${scenarios} scenario${scenarios === 1 ? '' : 's'}`,
      detail:
        what === 'fixed'
          ? `With the series applied the model no longer finds: ${listed(items)}.`
          : `These errors are in the base tree and stay with the series applied: ${listed(items)}.`,
      evidence: { change: what, items: itemEvidence(items) },
      references: REFERENCES.slice(0, 2),
    },
  ];
}

export async function policyBeforeAfter(
  series: Series,
  applied: Applied,
  opts: BeforeAfterOptions = {},
): Promise<BeforeAfterResult> {
  const changedPaths = Object.keys(applied.overlay);
  if (!changedPaths.some(touchesPolicy)) return { findings: [], errors: [], model: null };
  const all = await libraryAt(opts.scenariosDir ?? join(fixturesDir, 'scenarios'));
  const errors = [...all.errors];
  const unknown = (opts.only ?? []).filter((n) => !all.scenarios.some((s) => s.name === n));
  if (unknown.length) errors.push(`no scenario named ${unknown.join(', ')} in the library`);
  const lib = opts.only
    ? { ...all, scenarios: all.scenarios.filter((s) => opts.only!.includes(s.name)) }
    : all;
  const arches = [...new Set(lib.scenarios.map((s) => s.arch))].sort();
  const base = openTreeReader(applied.tree, applied.base.commit);
  const patched = openTreeReader(applied.tree, applied.base.commit, applied.overlay);

  const presence = seriesPresence(series, applied);
  const without = [
    ...(presence.missing.length ? [patchRange(presence.missing, presence.total)] : []),
    ...presence.failed.map((f) => patchRange([f.index], presence.total)),
  ];
  const changes: PolicyChange[] = [];
  for (const arch of arches) {
    const c = await readPolicyChange(base, patched, arch, { changedPaths });
    // Name the patched policy after the series (runModel tells policies apart by
    // name), and the patches it lacks: `6.12+pci-align-small-bars-v3 without 1-7/8`.
    c.after.policy.name = `${c.before.policy.name}+${slug(series.title)}-v${series.version}${without.length ? ` without ${without.join(', ')}` : ''}`;
    changes.push(c);
  }

  const findings: Finding[] = [];
  let model: ModelBeforeAfter | null = null;
  // Notes, once each, with the architectures they were seen for, and the patches
  // that changed the function they are about.
  const notes = new Map<string, { note: PolicyNote; arches: Arch[] }>();
  for (const c of changes)
    for (const n of c.notes) {
      const seen = notes.get(n.message);
      if (seen) seen.arches.push(c.arch);
      else notes.set(n.message, { note: n, arches: [c.arch] });
    }
  const notUnderstood = await attribute([...notes.values()], series, applied);

  const runs: { arch: Arch; change: PolicyChange; run: ModelRun }[] = [];
  for (const c of changes) {
    if (!c.changed) continue;
    const scenarios = lib.scenarios.filter((s) => s.arch === c.arch);
    const run = runModel(scenarios, c.before.policy, c.after.policy);
    for (const e of run.errors)
      errors.push(`model: scenario ${e.scenario} (${e.file}): ${e.message}`);
    runs.push({ arch: c.arch, change: c, run });
  }

  if (runs.length) {
    // Never an error that depends on what the reader did not understand: such
    // findings are capped at info and marked unverified before anything counts them.
    const deps = dependencies(runs, notUnderstood, lib.scenarios);
    for (const x of runs)
      for (const r of x.run.results)
        r.introduced = r.introduced.map((f) =>
          deps.has(depKey(x.arch, r.scenario, r.pageSize, f)) ? capped(f) : f,
        );
    const results = runs.flatMap((x) =>
      x.run.results.map((r) => ({ arch: x.arch, c: classify(r) })),
    );
    const policyLines = [
      ...new Set(runs.flatMap((x) => describePolicyChange(x.change).map((l) => `${l}`))),
    ];
    const table = summaryTable(results);
    const rows: Row[] = results.map(({ arch, c }) => ({
      arch,
      scenario: c.r.scenario,
      pageSize: c.r.pageSize,
      fixed: countBy(c.fixed),
      introduced: countBy(c.introduced),
      remaining: countBy(c.remaining),
      narrowed: c.narrowed.length,
    }));
    model = modelData(runs, results, policyLines, table.byPage);
    const introducedCount = results.reduce((n, x) => n + x.c.introduced.length, 0);
    const fixedCount = results.reduce((n, x) => n + x.c.fixed.length, 0);
    const afterName = runs[0]!.change.after.policy.name;
    findings.push({
      rule: 'model/before-after',
      severity: 'info',
      title: `Kernel policy: ${policyLines.join('; ')}; on the scenario library ${fixedCount} model findings fixed, ${introducedCount} introduced`,
      detail: [
        `The series changes what the model reads from the kernel: ${policyLines.join('; ')}.`,
        `Over the scenario library (${runs.map((x) => `${x.run.results.length} ${x.arch} runs`).join(', ')}), base ${runs[0]!.change.before.policy.name} against ${afterName}:`,
        ...table.text,
        ...(presence.text ? [presenceSentence(presence).trim()] : []),
      ].join('\n'),
      evidence: {
        policies: Object.fromEntries(
          runs.map((x) => [
            x.arch,
            { before: x.change.before.policy, after: x.change.after.policy },
          ]),
        ),
        changedFields: Object.fromEntries(runs.map((x) => [x.arch, x.change.changedFields])),
        table: table.byPage,
        rows,
        ...(presence.text ? { without: withoutEvidence(presence) } : {}),
      },
      references: REFERENCES,
    });

    // The rest is aggregated so a maintainer reads a few findings, not one per
    // scenario and page size: introduced problems one finding per check (with
    // the model's severity, or capped and unverified), then one info finding
    // each for what the series fixes and what it leaves. Every item stays in
    // the evidence.
    findings.push(
      ...introducedFindings(results, deps, presence),
      ...outcomeFindings(results, 'fixed'),
      ...outcomeFindings(results, 'remaining'),
    );
  }
  for (const n of notUnderstood) findings.push(noteFinding(n, series.expected));
  return { findings, errors, model };
}

/** A model finding whose answer depends on policy the reader did not understand: info, unverified. */
function capped(f: Finding): Finding {
  return {
    ...f,
    severity: 'info',
    evidence: { ...f.evidence, unverified: true, modelSeverity: f.severity },
  };
}

/** The patches that changed each note's function (state by state through the series). */
async function attribute(
  notes: { note: PolicyNote; arches: Arch[] }[],
  series: Series,
  applied: Applied,
): Promise<NotUnderstood[]> {
  const states = [
    openTreeReader(applied.tree, applied.base.commit),
    ...applied.overlays.map((o) => openTreeReader(applied.tree, applied.base.commit, o)),
  ];
  const titles = new Map(series.patches.map((m) => [m.messageId, m.tags.title]));
  const out: NotUnderstood[] = [];
  for (const { note, arches } of notes) {
    let changedBy: PatchRef[] = [];
    if (note.file && note.function && /^\w+$/.test(note.function))
      changedBy = (await functionChanges(states, note.file, note.function)).flatMap((pos) => {
        const p = applied.patches[pos - 1];
        return p ? [{ index: p.index, title: titles.get(p.messageId) ?? '' }] : [];
      });
    out.push({ note, arches, changedBy });
  }
  return out;
}

const findingRef = (f: Finding): ModelFindingRef => ({
  rule: f.rule,
  severity: f.severity,
  title: f.title,
  key: String(f.evidence['key']),
});

function modelData(
  runs: { arch: Arch; change: PolicyChange; run: ModelRun }[],
  results: { arch: Arch; c: Classified }[],
  policyChange: string[],
  table: ModelBeforeAfter['table'],
): ModelBeforeAfter {
  const layouts: Record<string, Layout> = {};
  const ids = new Map<string, string>();
  const idOf = (layout: Layout): string => {
    const json = JSON.stringify(layout);
    let id = ids.get(json);
    if (!id) {
      id = `l${ids.size + 1}`;
      ids.set(json, id);
      layouts[id] = layout;
    }
    return id;
  };
  return {
    policyChange,
    arches: runs.map((x) => ({
      arch: x.arch,
      before: x.change.before.policy.name,
      after: x.change.after.policy.name,
      changedFields: x.change.changedFields,
    })),
    table,
    runs: results.map(({ arch, c }) => ({
      arch,
      scenario: c.r.scenario,
      pageSize: c.r.pageSize,
      before: idOf(c.r.before.layout),
      after: idOf(c.r.after.layout),
      fixed: c.fixed.map(findingRef),
      introduced: c.introduced.map(findingRef),
      remaining: c.remaining.map(findingRef),
      narrowed: c.narrowed.length,
    })),
    layouts,
  };
}
