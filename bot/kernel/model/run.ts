// Running the model: a scenario at one page size under one kernel policy gives
// a Layout and findings; runModel() compares two policies (before and after a
// patch) and says per scenario and page size which findings the change fixes,
// introduces or leaves. Findings are matched by a stable key (check, devices,
// BARs, page size), never by address, since fixing a layout moves addresses.
import type { Finding } from '../../types.js';
import type { Firmware } from '../vocabulary.js';
import type { Layout } from './layout.js';
import { kernelPageSizeFor, placeScenario, type Placement } from './place.js';
import type { KernelPolicy } from './policy.js';
import { explainGroups, fmtSize, hex, pageLabel, runSafetyChecks } from './safety.js';
import type { Scenario } from './scenario.js';

export interface Evaluation {
  scenario: string;
  pageSize: number;
  policy: string;
  /** The placement's layout, with the host groups the findings use (`hostGroups`). */
  layout: Layout;
  findings: Finding[];
  notes: string[];
  /** The kernel-style log of the placement (assignments, claim failures, lost BARs). */
  log: string[];
}

export interface EvaluateOptions {
  firmware?: Firmware;
}

/** Mappable BAR size per architecture (kernel ioremap/vmalloc space, roughly). */
const MAPPABLE: Record<Scenario['arch'], number> = {
  x86_64: 2 ** 45,
  arm64: 2 ** 46,
  ppc64: 2 ** 45,
  s390x: 2 ** 44,
};

export function lostBarFindings(s: Scenario, p: Placement, pageSize: number): Finding[] {
  const byBdf = new Map(p.layout.devices.map((d) => [d.bdf, d]));
  return p.layout.lost
    .filter((l) => l.index < 7)
    .map((l) => {
      const d = byBdf.get(l.bdf);
      const bar = d?.bars.find((b) => b.index === l.index);
      const name = l.index === 6 ? 'ROM' : `BAR${l.index}`;
      return {
        rule: 'model/lost-bar',
        severity: l.index === 6 ? ('info' as const) : ('error' as const),
        title: `${l.bdf.slice(5)} ${name} gets no address`,
        detail: `${d?.name ?? l.bdf} ${l.bdf.slice(5)} ${name}${bar ? ` (${fmtSize(bar.size)})` : ''} is left without an address by the kernel: ${l.reason}. The driver cannot use it.`,
        evidence: {
          key: `lost-bar|${l.bdf}/${l.index}|${pageSize}`,
          source: s.name,
          pageSize,
          device: l.bdf,
          bar: l.index,
          reason: l.reason,
        },
        references: [
          'arch/x86/pci/i386.c pcibios_allocate_dev_resources(); drivers/pci/setup-bus.c pbus_size_mem()',
        ],
      };
    });
}

export function evaluate(
  s: Scenario,
  policy: KernelPolicy,
  pageSize: number,
  opts: EvaluateOptions = {},
  cache?: Map<string, Placement>,
): Evaluation {
  const fw = opts.firmware ?? s.firmware;
  // x86 guests run 4K kernels whatever page size is checked: one placement serves all sizes.
  const ck = `${s.file}|${s.name}|${policy.name}|${fw}|${kernelPageSizeFor(s.arch, pageSize)}`;
  let p = cache?.get(ck);
  if (!p) {
    p = placeScenario(s, policy, pageSize, fw);
    cache?.set(ck, p);
  }
  const builtin = new Set(p.kernel.devs.filter((d) => d.f.builtin).map((d) => d.bdf));
  const hostGroups = explainGroups(p.layout, p.hostGroups.groups).map((g) => ({
    ...g,
    bdfs: g.bdfs.filter((b) => !builtin.has(b)),
  }));
  const findings = [
    ...runSafetyChecks({
      layout: p.layout,
      pageSize,
      policy,
      groupOf: p.hostGroups.groupOf,
      groupReasons: hostGroups,
      rejected: p.guestRejected,
      rootWindows: p.kernel.rootWindows.map((w) => ({
        kind: w.flags & 0x100 ? ('io' as const) : ('mem' as const),
        start: w.start,
        end: w.end,
      })),
      mappableLimit: MAPPABLE[s.arch],
      source: s.name,
    }),
    ...lostBarFindings(s, p, pageSize),
  ];
  return {
    scenario: s.name,
    pageSize,
    policy: policy.name,
    // The map is drawn from the layout: it carries the groups the findings name.
    layout: { ...p.layout, hostGroups: hostGroups.filter((g) => g.bdfs.length) },
    findings,
    notes: [
      ...p.machine.notes,
      ...p.firmware.notes,
      ...(p.machine.ignored.length
        ? [`ignored by design (no effect on PCI placement): ${p.machine.ignored.join(', ')}`]
        : []),
    ],
    log: p.kernel.log,
  };
}

export interface PageResult {
  scenario: string;
  file: string;
  pageSize: number;
  before: Evaluation;
  after: Evaluation;
  fixed: Finding[];
  introduced: Finding[];
  unchanged: Finding[];
  summary: string;
}

export interface ModelRun {
  before: string;
  after: string;
  results: PageResult[];
  /** Scenarios the model could not evaluate, with why; the rest of the batch went on. */
  errors: { scenario: string; file: string; message: string }[];
}

const keyOf = (f: Finding) => String(f.evidence['key']);

function describeRemaining(fs: Finding[]): string {
  return fs
    .map((f) => {
      const e = f.evidence;
      if (f.rule === 'model/shared-page')
        return `shared page ${(e['pages'] as string[]).join('/')} (${(e['devices'] as string[]).map((d) => d.slice(5)).join(', ')})`;
      if (f.rule === 'model/lost-bar')
        return `lost ${String(e['device']).slice(5)} BAR${String(e['bar'])}`;
      return f.title;
    })
    .join('; ');
}

function summarise(
  name: string,
  pageSize: number,
  fixed: Finding[],
  introduced: Finding[],
  unchanged: Finding[],
): string {
  const err = (l: Finding[]) => l.filter((f) => f.severity === 'error');
  const P = pageLabel(pageSize);
  let s = `${name} at ${P}: ${fixed.length} fixed, ${introduced.length} introduced, ${unchanged.length} unchanged`;
  if (err(introduced).length) s += `; introduced: ${describeRemaining(err(introduced))}`;
  if (err(unchanged).length) s += `; remaining errors: ${describeRemaining(err(unchanged))}`;
  return s;
}

export function runModel(
  scenarios: Scenario[],
  policyBefore: KernelPolicy,
  policyAfter: KernelPolicy,
  opts: EvaluateOptions & { pageSizes?: number[] } = {},
): ModelRun {
  const out: ModelRun = {
    before: policyBefore.name,
    after: policyAfter.name,
    results: [],
    errors: [],
  };
  const cache = new Map<string, Placement>();
  for (const s of scenarios) {
    for (const pageSize of opts.pageSizes ?? s.pageSizes) {
      try {
        const before = evaluate(s, policyBefore, pageSize, opts, cache);
        const after = evaluate(s, policyAfter, pageSize, opts, cache);
        const bk = new Map(before.findings.map((f) => [keyOf(f), f]));
        const ak = new Map(after.findings.map((f) => [keyOf(f), f]));
        const fixed = before.findings.filter((f) => !ak.has(keyOf(f)));
        const introduced = after.findings.filter((f) => !bk.has(keyOf(f)));
        const unchanged = after.findings.filter((f) => bk.has(keyOf(f)));
        out.results.push({
          scenario: s.name,
          file: s.file,
          pageSize,
          before,
          after,
          fixed,
          introduced,
          unchanged,
          summary: summarise(s.name, pageSize, fixed, introduced, unchanged),
        });
      } catch (e) {
        out.errors.push({
          scenario: s.name,
          file: s.file,
          message: e instanceof Error ? e.message : String(e),
        });
        break;
      }
    }
  }
  return out;
}

export { hex };
