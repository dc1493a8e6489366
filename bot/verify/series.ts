// The verify stage for a series: build the patched kernel, boot the bootable
// scenarios of the library in QEMU, and turn what was measured into findings.
//
//   verify/lost-bar        the patched kernel really left a BAR without an
//                          address where the base kernel (the model's base
//                          prediction, held to real boots) gives it one: error.
//   verify/model-mismatch  the measured layout differs from the model's
//                          prediction under the patched policy: a model bug to
//                          fix, reported as info with every difference.
//   verify/not-measured    a build or boot failed (info, with why).
//
// Scenarios that cannot boot here are model-only; the summary says so. Input and
// output are plain data like every stage.
import { join } from 'node:path';
import type { Layout } from '../kernel/model/layout.js';
import { placeScenario } from '../kernel/model/place.js';
import { runSafetyChecks } from '../kernel/model/safety.js';
import type { KernelPolicy } from '../kernel/model/policy.js';
import { loadScenariosLenient, type Scenario } from '../kernel/model/scenario.js';
import { readPolicy } from '../kernel/policy/read.js';
import type { BootArch } from '../kernel/vocabulary.js';
import { adoptApplied } from '../tree/objects.js';
import { openTreeReader } from '../tree/reader.js';
import type { Applied, Finding } from '../types.js';
import { fixturesDir } from '../util/paths.js';
import { formatDifferences, shortBdf } from './compare.js';
import {
  planScenario,
  verifyScenarios,
  type ScenarioVerification,
  type VerifyReport,
} from './verify.js';

export interface VerifySeriesInput {
  applied: Applied;
  /** Scenario library (default fixtures/scenarios). */
  scenariosDir?: string;
  /** Only these scenarios, by name (default: every bootable one). */
  only?: string[];
  /** Only this architecture. */
  arch?: BootArch;
  log?: (line: string) => void;
}

/**
 * What a measured boot says about the model's checks that depend only on
 * addresses: the checks run on the measured layout, and the keys they found
 * (model finding keys: `shared-page|0000:01:00.0/2,...|4096`).
 */
export interface BootChecks {
  rules: string[];
  keys: string[];
}

/** The checks a boot can answer: where BARs are (shared pages, sub-page mmap) and whether they are there. */
export const BOOT_CHECKED = ['model/shared-page', 'model/subpage-mmap', 'model/lost-bar'];

export function bootChecks(
  measured: Layout,
  pageSize: number,
  policy: KernelPolicy,
  source: string,
): BootChecks {
  const keys = runSafetyChecks({ layout: measured, pageSize, policy, groupOf: null, source })
    .filter((f) => BOOT_CHECKED.includes(f.rule))
    .map((f) => String(f.evidence['key']));
  for (const l of measured.lost)
    if (l.index < 7) keys.push(`lost-bar|${l.bdf}/${l.index}|${pageSize}`);
  return { rules: BOOT_CHECKED, keys: keys.sort() };
}

export interface VerifySeriesOutput {
  findings: Finding[];
  /** Per scenario and page size: measured, model-only (why), failed (why). */
  scenarios: (Omit<ScenarioVerification, 'measured' | 'boot'> & { checks?: BootChecks })[];
  builds: VerifyReport['builds'];
  seconds: number;
}

const REFERENCES = [
  'pcibot verify: the patched kernel built (tiny config) and booted in QEMU under TCG',
  'arch/x86/pci/i386.c pcibios_allocate_dev_resources(): claim failures rebase the resource',
];

function lostIn(layout: Layout): Map<string, string> {
  return new Map(layout.lost.map((l) => [`${l.bdf}/${l.index}`, l.reason]));
}

export async function verifySeries(input: VerifySeriesInput): Promise<VerifySeriesOutput> {
  const { applied } = input;
  // The blobs applying made travel in the Applied state (a worker got it as JSON).
  adoptApplied(applied);
  const lib = await loadScenariosLenient(input.scenariosDir ?? join(fixturesDir, 'scenarios'));
  const scenarios = lib.scenarios.filter(
    (s) =>
      (!input.only || input.only.includes(s.name)) &&
      (!input.arch || s.arch === input.arch) &&
      planScenario(s).some((p) => p.bootable),
  );
  // The model's policies for both states, per architecture the scenarios need.
  const base = openTreeReader(applied.tree, applied.base.commit);
  const patched = openTreeReader(applied.tree, applied.base.commit, applied.overlay);
  const policies = new Map<string, { before: KernelPolicy; after: KernelPolicy }>();
  for (const arch of new Set(scenarios.map((s) => s.arch))) {
    policies.set(arch, {
      before: (await readPolicy(base, arch, { facts: false })).policy,
      after: (await readPolicy(patched, arch, { facts: false })).policy,
    });
  }
  const predicted = new Map<string, { before: Layout; after: Layout }>();
  const predict = (s: Scenario, pageSize: number): Layout => {
    const p = policies.get(s.arch)!;
    const after = placeScenario(s, p.after, pageSize).layout;
    predicted.set(`${s.name}@${pageSize}`, {
      before: placeScenario(s, p.before, pageSize).layout,
      after,
    });
    return after;
  };

  const report = await verifyScenarios({
    tree: applied.tree,
    commit: applied.base.commit,
    overlay: applied.overlay,
    ...(applied.modes ? { modes: applied.modes } : {}),
    scenarios,
    predict,
    ...(input.arch ? { arch: input.arch } : {}),
    ...(input.log ? { log: input.log } : {}),
  });

  const findings: Finding[] = [];
  const lost: { scenario: string; pageSize: number; bdf: string; bar: number; reason: string }[] =
    [];
  const mismatches: { scenario: string; pageSize: number; differences: string[] }[] = [];
  const failures: { scenario: string; pageSize: number; status: string; reason: string }[] = [];
  for (const r of report.scenarios) {
    if (r.status === 'boot-failed' || r.status === 'build-failed')
      failures.push({
        scenario: r.name,
        pageSize: r.pageSize,
        status: r.status,
        reason: r.reason ?? '',
      });
    if (r.status !== 'measured' || !r.measured) continue;
    const model = predicted.get(`${r.name}@${r.pageSize}`);
    const before = model ? lostIn(model.before) : new Map<string, string>();
    for (const l of r.measured.lost)
      if (!before.has(`${l.bdf}/${l.index}`))
        lost.push({
          scenario: r.name,
          pageSize: r.pageSize,
          bdf: l.bdf,
          bar: l.index,
          reason: l.reason,
        });
    if (r.differences?.length)
      mismatches.push({
        scenario: r.name,
        pageSize: r.pageSize,
        differences: formatDifferences(r.differences).split('\n'),
      });
  }
  const measured = report.scenarios.filter((r) => r.status === 'measured').length;
  const kb = (p: number) => `${p / 1024}K`;
  if (lost.length) {
    const list = lost
      .slice(0, 6)
      .map(
        (l) => `${l.scenario} (${kb(l.pageSize)}): ${shortBdf(l.bdf)} BAR${l.bar} (${l.reason})`,
      );
    findings.push({
      rule: 'verify/lost-bar',
      severity: 'error',
      title: `Booted: the patched kernel leaves ${lost.length} BAR${lost.length === 1 ? '' : 's'} without an address`,
      detail:
        `The patched kernel, built and booted in QEMU, leaves BARs unassigned that the base kernel assigns: ` +
        `${list.join('; ')}${lost.length > 6 ? `; and ${lost.length - 6} more` : ''}. A driver cannot use such a BAR.`,
      evidence: { lost, measuredScenarios: measured },
      references: REFERENCES,
    });
  }
  if (mismatches.length)
    findings.push({
      rule: 'verify/model-mismatch',
      severity: 'info',
      title: `The model and the real boot disagree in ${mismatches.length} scenario run${mismatches.length === 1 ? '' : 's'}`,
      detail:
        `pcibot's model predicted a different layout than the patched kernel made (a gap in the model, ` +
        `not a finding about the patch): ${mismatches
          .slice(0, 3)
          .map((m) => `${m.scenario} (${kb(m.pageSize)}): ${m.differences.slice(0, 3).join('; ')}`)
          .join(' | ')}`,
      evidence: { mismatches },
      references: REFERENCES.slice(0, 1),
    });
  if (failures.length)
    findings.push({
      rule: 'verify/not-measured',
      severity: 'info',
      title: `${failures.length} scenario run${failures.length === 1 ? '' : 's'} could not be measured`,
      detail: failures
        .slice(0, 4)
        .map((f) => `${f.scenario} (${kb(f.pageSize)}): ${f.status}: ${f.reason.split('\n')[0]}`)
        .join('; '),
      evidence: { failures },
      references: REFERENCES.slice(0, 1),
    });
  return {
    findings,
    scenarios: report.scenarios.map(({ measured, boot: _b, ...rest }) => {
      const after = policies.get(rest.arch)?.after;
      return measured && after
        ? { ...rest, checks: bootChecks(measured, rest.pageSize, after, rest.name) }
        : rest;
    }),
    builds: report.builds,
    seconds: report.seconds,
  };
}

/**
 * What a series' verify stage hands on: the findings and, per scenario and
 * page size, what became of it; small plain data (no layouts, no builds), the
 * service's verify job result and what the review result shows.
 */
export interface VerifyOutcome {
  seconds: number;
  scenarios: {
    name: string;
    arch: string;
    pageSize: number;
    status: ScenarioVerification['status'];
    reason?: string;
    /** Measured runs: the model's address checks on the real layout. */
    checks?: BootChecks;
  }[];
  findings: Finding[];
}

export function verifyOutcome(v: VerifySeriesOutput): VerifyOutcome {
  return {
    seconds: v.seconds,
    scenarios: v.scenarios.map(({ name, arch, pageSize, status, reason, checks }) => ({
      name,
      arch,
      pageSize,
      status,
      ...(reason ? { reason } : {}),
      ...(checks ? { checks } : {}),
    })),
    findings: v.findings,
  };
}
