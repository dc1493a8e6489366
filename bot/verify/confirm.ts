// The model's findings held to a boot of the patched kernel. Every model
// finding about what the series introduces or fixes says what its evidence is:
// "confirmed by a boot of the patched kernel" (the scenario booted and the
// real layout shows the same), or "model only" (not booted, and why). A boot
// that contradicts the model wins: the item is taken out of the model's
// finding (which drops to info when nothing of it is left) and the
// disagreement is said. A finding the series check capped at info because it
// depends on policy the reader did not understand is split: what a boot
// confirmed gets the model's severity back, the rest stays unverified. Only the
// checks a boot can answer are held to it (where BARs are, and whether they are
// there: BOOT_CHECKED); the others stay model only.
import type { Finding } from '../types.js';
import { BOOT_CHECKED, type VerifyOutcome } from './series.js';
import type { VerifyDecision } from './when.js';

interface Item {
  scenario: string;
  arch: string;
  pageSizes: number[];
  rule: string;
  title: string;
  key: unknown;
}

type Run = { scenario: string; pageSize: number };

const pageLabel = (p: number) => `${p / 1024}K`;

/** What a boot says about one model item at one page size. */
function verdict(
  outcome: VerifyOutcome | null,
  change: 'introduced' | 'fixed',
  item: Item,
  pageSize: number,
): 'confirmed' | 'contradicted' | 'model-only' {
  if (!outcome || !BOOT_CHECKED.includes(item.rule)) return 'model-only';
  const run = outcome.scenarios.find(
    (s) => s.name === item.scenario && s.pageSize === pageSize && s.status === 'measured',
  );
  if (!run?.checks || !run.checks.rules.includes(item.rule)) return 'model-only';
  const key = String(item.key).replace(/\|\d+$/, `|${pageSize}`);
  const there = run.checks.keys.includes(key);
  return (change === 'introduced') === there ? 'confirmed' : 'contradicted';
}

/** `seed-001-reproducer-qboot at 4K, ...`: the first few, and how many more. */
function where(runs: Run[], max = 4): string {
  const all = [...new Set(runs.map((r) => `${r.scenario} at ${pageLabel(r.pageSize)}`))];
  return all.length > max
    ? `${all.slice(0, max).join(', ')} and ${all.length - max} more`
    : all.join(', ');
}

/** The model's introduced and fixed findings, each saying whether a boot confirmed it. */
export function holdModelToBoot(
  findings: readonly Finding[],
  verify: { decision: VerifyDecision; outcome: VerifyOutcome | null } | null,
): Finding[] {
  const outcome = verify?.outcome ?? null;
  const why = !verify
    ? 'not booted'
    : outcome
      ? 'not booted'
      : `not booted: ${verify.decision.reason}`;
  return findings.flatMap((f): Finding[] => {
    const change = f.evidence['change'];
    const items = f.evidence['items'] as Item[] | undefined;
    if (!/^model\//.test(f.rule) || (change !== 'introduced' && change !== 'fixed') || !items)
      return [f];
    const runs = { confirmed: [] as Run[], contradicted: [] as Run[], modelOnly: [] as Run[] };
    const confirmedItems: Item[] = [];
    const openItems: Item[] = [];
    for (const item of items) {
      const v = item.pageSizes.map((p) => ({ p, v: verdict(outcome, change, item, p) }));
      for (const { p, v: x } of v)
        (x === 'confirmed'
          ? runs.confirmed
          : x === 'contradicted'
            ? runs.contradicted
            : runs.modelOnly
        ).push({ scenario: item.scenario, pageSize: p });
      if (v.some((x) => x.v === 'contradicted')) continue;
      (v.some((x) => x.v === 'confirmed') ? confirmedItems : openItems).push(item);
    }
    for (const k of ['confirmed', 'contradicted', 'modelOnly'] as const)
      runs[k] = [...new Map(runs[k].map((r) => [`${r.scenario}@${r.pageSize}`, r])).values()];
    const boot = runs.contradicted.length
      ? 'contradicted'
      : !runs.confirmed.length
        ? 'model-only'
        : runs.modelOnly.length
          ? 'partly-confirmed'
          : 'confirmed';
    const sentences: string[] = [];
    if (runs.confirmed.length)
      sentences.push(`Confirmed by a boot of the patched kernel: ${where(runs.confirmed)}.`);
    if (runs.contradicted.length)
      sentences.push(
        `A boot of the patched kernel contradicts the model, and the boot's answer stands (see verify/model-mismatch): ${where(runs.contradicted)}.`,
      );
    if (runs.modelOnly.length)
      sentences.push(
        `Model only (${why})${runs.confirmed.length || runs.contradicted.length ? `: ${where(runs.modelOnly)}` : ''}.`,
      );
    const kept = [...confirmedItems, ...openItems];
    const annotated: Finding = {
      ...f,
      // Nothing of what the model said is left: the boot's answer is that it is not there.
      ...(change === 'introduced' && runs.contradicted.length && !kept.length
        ? {
            severity: 'info' as const,
            title: `Contradicted by a boot: ${f.title[0]!.toLowerCase()}${f.title.slice(1)}`,
          }
        : {}),
      detail: `${f.detail} ${sentences.join(' ')}`,
      evidence: {
        ...f.evidence,
        boot,
        ...(runs.confirmed.length ? { confirmedBy: runs.confirmed } : {}),
        ...(runs.contradicted.length ? { contradictedBy: runs.contradicted } : {}),
        ...(change === 'introduced' && runs.contradicted.length
          ? { items: kept, modelItems: items }
          : {}),
      },
    };
    const modelSeverity = f.evidence['modelSeverity'] as Finding['severity'] | undefined;
    // Capped because the model did not understand the change: what a boot showed is real.
    if (
      change !== 'introduced' ||
      f.evidence['unverified'] !== true ||
      !modelSeverity ||
      !confirmedItems.length
    )
      return [annotated];
    const listed = confirmedItems.map((i) => `${i.scenario}: ${i.title}`).join('; ');
    const confirmed: Finding = {
      ...f,
      severity: modelSeverity,
      title: f.title.replace(/^Unverified: /, 'Confirmed by a boot: '),
      detail:
        `A boot of the patched kernel shows what the model predicted, although the model did not understand the change it depends on: ${listed}. ` +
        `Confirmed by a boot of the patched kernel: ${where(runs.confirmed)}.`,
      evidence: {
        ...f.evidence,
        items: confirmedItems,
        boot: 'confirmed',
        confirmedBy: runs.confirmed,
      },
    };
    return openItems.length
      ? [confirmed, { ...annotated, evidence: { ...annotated.evidence, items: openItems } }]
      : [confirmed];
  });
}
