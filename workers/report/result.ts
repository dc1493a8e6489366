// The report stage: one reviewed series -> a ReviewResult, the same function in
// `pcibot review` and in the service. Everything a sink needs is decided here,
// once: which findings are reported (the severity threshold and quiet rules),
// where each one is (file, line after its patch and at the series head) and
// what identifies it across versions (its fingerprint), each patch's apply
// status, the model's before/after as data, the verify outcome, what the
// previous version had that this one fixed. Nothing here is volatile (no
// timings, no paths of this machine): the same series gives the same result.
import { createHash } from 'node:crypto';
import type { AnalyseOutput } from '../analyse/analyse.js';
import { ruleErrorText } from '../../rules/run.js';
import { parseAppliedDiff, type DiffFile } from '../../bot/mail/diffparse.js';
import { isApplied } from '../../bot/tree/apply.js';
import { landedDiffText } from '../../bot/tree/landing.js';
import {
  atLeast,
  patchIndex,
  type Applied,
  type Finding,
  type Message,
  type ScopeDecision,
  type Series,
  type Severity,
} from '../../bot/types.js';
import { holdModelToBoot } from '../../bot/verify/confirm.js';
import type { VerifyOutcome } from '../../bot/verify/series.js';
import type { VerifyDecision } from '../../bot/verify/when.js';
import type { FindingIdentity, PatchReport, ReportedFinding, ReviewResult } from './types.js';

export interface ReviewInput {
  series: Series;
  scope: ScopeDecision;
  /** null when not applied (no tree, or out of scope). */
  applied: Applied | null;
  /** null when not analysed (out of scope). */
  analysis: AnalyseOutput | null;
  /** null when out of scope. */
  verify: {
    decision: VerifyDecision;
    /** What verifySeries() measured (its findings are series-level findings); null when not run. */
    outcome: VerifyOutcome | null;
  } | null;
  /** The previous reviewed version's findings (the service's lineage); absent when none. */
  previous?: { version: number; findings: FindingIdentity[] } | null;
}

export interface ResultOptions {
  /** Default info: everything is reported (`pcibot review`); list replies use the list's. */
  minSeverity?: Severity;
  /** Rules silenced on the thread. */
  quiet?: Iterable<string>;
}

/** Model and verify findings about the series: context that rides along once anything is reported. */
const isContext = (f: Finding) => /^(model|verify)\//.test(f.rule);

export const findingIdentity = (f: FindingIdentity): string =>
  `${f.rule}\0${f.file ?? ''}\0${f.title}`;

/** Model findings that describe the series (its table and lists), not a problem that can be fixed. */
const DESCRIBES_SERIES = new Set(['model/before-after', 'model/fixed', 'model/remaining']);

/**
 * The previous version's findings this one no longer has. A finding is still
 * there when one with the same rule, file and title is (matched first), else
 * when one of the same rule and file is left unmatched: a reworded title
 * ("Realigns every memory BAR" in v2, "every small memory BAR not already
 * aligned" in v3) or other counts ("introduces 27 lost BARs", "3 lost BARs")
 * is the same problem. So "gone" is never claimed while the rule still fires
 * on that file; the model's table and lists are not problems at all.
 */
function goneSince(previous: FindingIdentity[], now: FindingIdentity[]): FindingIdentity[] {
  const left = (
    key: (f: FindingIdentity) => string,
    olds: FindingIdentity[],
    news: FindingIdentity[],
  ) => {
    const pool = new Map<string, number>();
    for (const f of news) pool.set(key(f), (pool.get(key(f)) ?? 0) + 1);
    const kept: FindingIdentity[] = [];
    const unmatched = olds.filter((f) => {
      const n = pool.get(key(f)) ?? 0;
      if (n === 0) return true;
      pool.set(key(f), n - 1);
      kept.push(f);
      return false;
    });
    return { unmatched, kept };
  };
  const problems = previous.filter((f) => !DESCRIBES_SERIES.has(f.rule));
  const exact = left(findingIdentity, problems, now);
  // The current findings not taken by an exact match, for the second round.
  const taken = new Map<string, number>();
  for (const f of exact.kept)
    taken.set(findingIdentity(f), (taken.get(findingIdentity(f)) ?? 0) + 1);
  const rest = now.filter((f) => {
    const n = taken.get(findingIdentity(f)) ?? 0;
    if (n === 0) return true;
    taken.set(findingIdentity(f), n - 1);
    return false;
  });
  return left((f) => `${f.rule}\0${f.file ?? ''}`, exact.unmatched, rest).unmatched;
}

/**
 * The line a finding has after its own patch, carried through the later
 * patches of the series to the head: shifted by the hunks above it, null when
 * a later patch deletes or rewrites it (or deletes or renames the file).
 */
function lineAtHead(file: string, line: number, later: DiffFile[][]): number | null {
  let at = line;
  for (const files of later) {
    for (const f of files) {
      if (f.from !== file && f.to !== file) continue;
      if (f.deleted || f.to !== file) return null;
      let shift = 0;
      let moved: number | null = null;
      for (const c of f.chunks) {
        // A pure insertion (-N,0) goes after old line N.
        const start = c.oldLines === 0 ? c.oldStart + 1 : c.oldStart;
        if (at < start) break;
        if (at >= start + c.oldLines) {
          shift += c.newLines - c.oldLines;
          continue;
        }
        for (const ch of c.changes) {
          if (ch.type === 'normal' && ch.ln1 === at) moved = ch.ln2;
          else if (ch.type === 'del' && ch.ln === at) return null;
        }
        if (moved === null) return null;
        break;
      }
      at = moved ?? at + shift;
    }
  }
  return at;
}

export function reviewResult(input: ReviewInput, options: ResultOptions = {}): ReviewResult {
  const { series, scope, applied, analysis } = input;
  const minSeverity = options.minSeverity ?? 'info';
  const quiet = [...new Set(options.quiet ?? [])].sort();
  const quieted = (f: Finding) => quiet.includes(f.rule);
  const worth = (f: Finding) => atLeast(f.severity, minSeverity);

  const byMessage = new Map(applied?.patches.map((a) => [a.messageId, a]) ?? []);
  const patches = series.patches.map((p, pos) => ({
    p,
    index: patchIndex(p, pos),
    apply: byMessage.get(p.messageId) ?? null,
  }));
  // The model's findings say whether a boot of the patched kernel confirmed them.
  const seriesFindings = [
    ...holdModelToBoot(analysis?.series ?? [], input.verify),
    ...(input.verify?.outcome?.findings ?? []),
  ];
  const patchFindings = patches.map((x) => analysis?.perPatch[x.index] ?? []);

  // Fingerprints over every finding, reported or not, so the filter never changes them.
  const seen = new Map<string, number>();
  const fingerprint = (f: Finding) => {
    const id = findingIdentity(f);
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    return createHash('sha256').update(`${id}\0${n}`).digest('hex').slice(0, 16);
  };
  // The diffs of the applied patches, parsed once (only when a finding needs them).
  const diffs = new Map<number, DiffFile[]>();
  const diffOf = (pos: number): DiffFile[] => {
    let d = diffs.get(pos);
    if (!d) {
      const x = patches[pos]!;
      const ok = x.apply !== null && isApplied(x.apply.status) && x.p.diff !== null;
      // As the patch landed: a later patch's hunks move the finding's line where git put them.
      diffs.set(
        pos,
        (d = ok
          ? parseAppliedDiff(landedDiffText(x.p.diff!, x.apply!.landed), x.apply!.files)
          : []),
      );
    }
    return d;
  };
  const later = (pos: number) => patches.slice(pos + 1).map((_, i) => diffOf(pos + 1 + i));
  const report = (f: Finding, pos: number | null): ReportedFinding => {
    const out: ReportedFinding = { ...f, fingerprint: fingerprint(f) };
    if (pos !== null && applied && f.file !== undefined && f.line !== undefined) {
      const own = patches[pos]!.apply;
      out.headLine = own && isApplied(own.status) ? lineAtHead(f.file, f.line, later(pos)) : null;
    }
    return out;
  };
  const seriesAll = seriesFindings.map((f) => report(f, null));
  const patchAll = patchFindings.map((fs, pos) => fs.map((f) => report(f, pos)));

  // Quiet by default: nothing is reported unless something reaches the threshold.
  const all = [...seriesAll, ...patchAll.flat()];
  const unquiet = all.filter((f) => !quieted(f));
  const anyWorth = unquiet.some(worth);
  const seriesShown = anyWorth
    ? seriesAll.filter((f) => !quieted(f) && (worth(f) || isContext(f)))
    : [];
  const patchShown = patchAll.map((fs) =>
    anyWorth ? fs.filter((f) => !quieted(f) && worth(f)) : [],
  );
  const shown = [...seriesShown, ...patchShown.flat()];

  const previous = input.previous ?? null;
  const count = (s: Severity) => shown.filter((f) => f.severity === s).length;

  // What the series-level findings were computed without.
  const without: NonNullable<ReviewResult['without']> = [];
  // (Only when some patch is in it: a series that did not apply has no such findings.)
  if (applied && patches.some((x) => x.apply && isApplied(x.apply.status))) {
    for (const x of patches)
      if (!x.apply || !['applied', 'applied-3way', 'already-applied'].includes(x.apply.status))
        without.push({ index: x.index, why: 'did not apply' });
    for (const n of series.missing) without.push({ index: n, why: 'not in the input' });
    without.sort((a, b) => a.index - b.index);
  }

  const patchReports: PatchReport[] = patches.map((x, pos) => ({
    index: x.index,
    messageId: x.p.messageId,
    subject: x.p.subject,
    title: x.p.tags.title,
    apply: x.apply
      ? {
          status: x.apply.status,
          ...(x.apply.detail !== undefined ? { detail: x.apply.detail } : {}),
          ...(x.apply.conflicts?.length ? { conflicts: x.apply.conflicts } : {}),
          ...(x.apply.landed?.length ? { landed: x.apply.landed } : {}),
          ...(x.apply.without?.length ? { without: x.apply.without } : {}),
          ...(x.apply.builtOn?.length ? { builtOn: x.apply.builtOn } : {}),
        }
      : null,
    findings: patchShown[pos]!,
  }));
  return {
    id: series.id,
    title: series.title,
    version: series.version,
    rfc: series.rfc,
    author: series.author,
    cover: series.cover
      ? { messageId: series.cover.messageId, subject: series.cover.subject }
      : null,
    expected: series.expected,
    received: series.patches.length,
    missing: series.missing,
    complete: series.complete,
    supersedes: series.supersedes,
    baseCommit: series.baseCommit,
    scope,
    status: scope.inScope ? 'reviewed' : 'skipped',
    base: applied?.base ?? null,
    ...(without.length ? { without } : {}),
    patches: patchReports,
    findings: seriesShown,
    verify: input.verify?.outcome
      ? { seconds: input.verify.outcome.seconds, scenarios: input.verify.outcome.scenarios }
      : null,
    verifyDecision: input.verify?.decision ?? null,
    counts: { error: count('error'), warning: count('warning'), info: count('info') },
    filter: {
      minSeverity,
      quiet,
      dropped: {
        quiet: all.filter(quieted).length,
        belowMinSeverity: unquiet.length - shown.length,
      },
    },
    model: analysis?.model ?? null,
    messages: seriesMessages(series),
    fixed: previous
      ? {
          version: previous.version,
          findings: goneSince(previous.findings, shown),
        }
      : null,
    internalErrors: (analysis?.errors ?? []).map(ruleErrorText),
  };
}

function seriesMessages(series: Series): ReviewResult['messages'] {
  const role = (m: Message, pos: number) => ({
    messageId: m.messageId,
    role: 'patch' as const,
    version: series.version,
    index: patchIndex(m, pos),
  });
  return [
    ...(series.cover
      ? [{ messageId: series.cover.messageId, role: 'cover' as const, version: series.version }]
      : []),
    ...series.patches.map(role),
    ...series.supersedes.flatMap((old) =>
      old.messageIds.map((messageId) => ({
        messageId,
        role: 'superseded' as const,
        version: old.version,
      })),
    ),
  ];
}

/** A result's findings by patch index, 0 for the series (what the service records per review). */
export function findingsByPatch(r: ReviewResult): Record<number, ReportedFinding[]> {
  const out: Record<number, ReportedFinding[]> = { 0: r.findings };
  for (const p of r.patches) out[p.index] = p.findings;
  return out;
}

/** Every reported finding of a result: the series', then each patch's. */
export const reportedFindings = (r: ReviewResult): ReportedFinding[] => [
  ...r.findings,
  ...r.patches.flatMap((p) => p.findings),
];
