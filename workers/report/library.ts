// The scenario library as pictures: each scenario's address map at each page
// size under one kernel policy (the /scenarios page of `pcibot serve`, and
// `pcibot scenario run --svg DIR`), and a before/after pair when two policies
// are compared.
import { ModelInputError, QemuArgError } from '../../bot/kernel/model/errors.js';
import type { KernelPolicy } from '../../bot/kernel/model/policy.js';
import { evaluate, type PageResult } from '../../bot/kernel/model/run.js';
import { pageLabel } from '../../bot/kernel/model/safety.js';
import type { Scenario } from '../../bot/kernel/model/scenario.js';
import type { Firmware } from '../../bot/kernel/vocabulary.js';
import type { Finding } from '../../bot/types.js';
import { buildAddressMap, type MapFinding } from './addrmap.js';
import type { LibraryEntry } from './html.js';
import { beforeAfterSvg, mapSvg } from './svg.js';

export const mapFileName = (scenario: string, pageSize: number) =>
  `${scenario}-${pageLabel(pageSize)}.svg`;

export const toMapFinding = (f: Finding, status?: MapFinding['status']): MapFinding => ({
  rule: f.rule,
  severity: f.severity,
  title: f.title,
  key: String(f.evidence['key']),
  ...(status ? { status } : {}),
});

export interface LibraryMaps {
  entries: LibraryEntry[];
  /** File name -> SVG document. */
  files: Map<string, string>;
}

/**
 * Every scenario at each of its page sizes (or `pageSizes`) under `policy`:
 * the library page's entries (hrefs are `hrefBase + file name`) and the maps.
 * A scenario the model refuses is listed with its error.
 */
export function libraryMaps(
  scenarios: Scenario[],
  policy: KernelPolicy,
  opts: { pageSizes?: number[]; firmware?: Firmware; hrefBase?: string } = {},
): LibraryMaps {
  const files = new Map<string, string>();
  const entries: LibraryEntry[] = [];
  for (const s of scenarios) {
    const entry: LibraryEntry = {
      name: s.name,
      description: s.description,
      arch: s.arch,
      firmware: opts.firmware ?? s.firmware,
      maps: [],
    };
    try {
      for (const ps of opts.pageSizes ?? s.pageSizes) {
        const e = evaluate(s, policy, ps, opts.firmware ? { firmware: opts.firmware } : {});
        const map = buildAddressMap(
          e.layout,
          ps,
          e.findings.map((f) => toMapFinding(f)),
        );
        const file = mapFileName(s.name, ps);
        files.set(
          file,
          mapSvg(map, {
            title: `${s.name} at ${pageLabel(ps)} pages`,
            subtitle: `${s.arch}, firmware ${entry.firmware}, kernel policy ${policy.name}`,
          }),
        );
        entry.maps.push({
          pageSize: ps,
          href: `${opts.hrefBase ?? ''}${encodeURIComponent(file)}`,
          shared: map.shared.length,
          findings: e.findings.length,
        });
      }
    } catch (err) {
      if (!(err instanceof QemuArgError || err instanceof ModelInputError)) throw err;
      entry.error = err.message;
    }
    entries.push(entry);
  }
  return { entries, files };
}

/** One compared run (`pcibot scenario run --before --after`) as a before/after SVG. */
export function comparedRunSvg(r: PageResult): string {
  const before = buildAddressMap(r.before.layout, r.pageSize, [
    ...r.fixed.map((f) => toMapFinding(f, 'fixed')),
    ...r.unchanged.map((f) => toMapFinding(f, 'remaining')),
  ]);
  const after = buildAddressMap(r.after.layout, r.pageSize, [
    ...r.introduced.map((f) => toMapFinding(f, 'introduced')),
    ...r.unchanged.map((f) => toMapFinding(f, 'remaining')),
  ]);
  const sub = `${r.scenario} at ${pageLabel(r.pageSize)} pages`;
  return beforeAfterSvg(before, after, {
    before: { title: `before: ${r.before.policy}`, subtitle: sub },
    after: { title: `after: ${r.after.policy}`, subtitle: sub },
    label: `${sub}: before and after`,
  });
}
