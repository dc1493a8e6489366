// The analyse stage: the patch checks (review rules over each patch, with read
// access to the tree before and after it), then the series checks (the model's
// before/after). Input and output are plain data so the stage runs the same
// in-process and in a worker; the tree is opened from its path here.
import { filePath } from '../../rules/lib/diff.js';
import { allRules } from '../../rules/index.js';
import { runRules, type RuleError } from '../../rules/run.js';
import type { Rule } from '../../rules/types.js';
import {
  policyBeforeAfter,
  type ModelBeforeAfter,
} from '../../rules/series/model-before-after/check.js';
import { parseAppliedDiff, type DiffFile } from '../../bot/mail/diffparse.js';
import { anyApplied, isApplied } from '../../bot/tree/apply.js';
import { landedDiffText, mailLine } from '../../bot/tree/landing.js';
import { adoptApplied } from '../../bot/tree/objects.js';
import { mapLimit } from '../../bot/util/concurrency.js';
import { openTreeReader, type TreeReader } from '../../bot/tree/reader.js';
import { patchIndex, type Applied, type Finding, type Series } from '../../bot/types.js';

export interface AnalyseInput {
  series: Series;
  /** null when the series could not be applied anywhere (rules still read the mails). */
  applied: Applied | null;
  rules?: readonly Rule[];
  /**
   * The model's before/after on the scenario library (policy read from the base
   * and the patched tree): on by default; `false` skips it, `scenariosDir`
   * points it at another library.
   */
  model?: false | { scenariosDir?: string; only?: string[] };
}

export interface AnalyseOutput {
  /** Findings per patch index (1-based), in rule order. */
  perPatch: Record<number, Finding[]>;
  /** Findings about the series as a whole. */
  series: Finding[];
  errors: RuleError[];
  /** The model's before/after as data; null when it did not run or the policy did not change. */
  model: ModelBeforeAfter | null;
  /**
   * Patches whose diff the rules could not read (the rules then saw the
   * commit message only): the input's problem, not pcibot's.
   */
  diffErrors?: { patch: number; reason: string }[];
}

/** A tree with nothing in it, for reviews without a kernel tree. */
const emptyTree: TreeReader = {
  commit: '',
  read: async () => null,
  exists: async () => false,
  list: async () => [],
};

/** Patches whose rules run at once (see patchChecks). */
const PATCHES_IN_FLIGHT = 4;

/** The patch checks: every rule over each patch, with the tree before and after it. */
export async function patchChecks(
  input: Pick<AnalyseInput, 'series' | 'applied' | 'rules'>,
  /** Only these patches (by index); default all. */
  only?: readonly number[],
): Promise<Pick<AnalyseOutput, 'perPatch' | 'errors' | 'diffErrors'>> {
  const rules = input.rules ?? allRules;
  const perPatch: Record<number, Finding[]> = {};
  const errors: RuleError[] = [];
  const diffErrors: { patch: number; reason: string }[] = [];
  const { applied } = input;
  // The blobs applying made travel in the Applied state (a worker got it as JSON).
  if (applied) adoptApplied(applied);
  const readers = new Map<number, TreeReader>();
  const stateAfter = (i: number): TreeReader => {
    // State after the first i patches (i = 0: the base).
    if (!applied) return emptyTree;
    let r = readers.get(i);
    if (!r) {
      r =
        i === 0
          ? openTreeReader(applied.tree, applied.base.commit)
          : openTreeReader(applied.tree, applied.base.commit, applied.overlays[i - 1]);
      readers.set(i, r);
    }
    return r;
  };
  input.series.patches.forEach((p, pos) => {
    if (!only || only.includes(patchIndex(p, pos))) perPatch[patchIndex(p, pos)] = [];
  });
  // A few patches at once (each reads its own two states, shared with its
  // neighbours through `readers`): one patch's wait for git is another's time
  // to parse; bounded, so a long series does not hold every state's parsed
  // sources at once. Results are gathered in patch order.
  const checked = await mapLimit(input.series.patches, PATCHES_IN_FLIGHT, async (patch, pos) => {
    const index = patchIndex(patch, pos);
    if (only && !only.includes(index)) return null;
    const result = applied?.patches.find((r) => r.messageId === patch.messageId);
    const ok = result !== undefined && isApplied(result.status);
    const before = stateAfter(pos);
    const after = ok ? stateAfter(pos + 1) : null;
    const subject = patch.tags.title;
    const commitMessage = `${subject}\n\n${patch.commitMessage}`;
    // The diff as it landed: its hunk headers say where git put the hunks, so every
    // rule numbers lines as the trees before and after the patch do.
    const landed = ok ? result.landed : undefined;
    let diff: DiffFile[] = [];
    let diffError: string | null = null;
    try {
      // Names as git read them at the strip level that applied the patch.
      const text = patch.diff === null ? null : landedDiffText(patch.diff, landed);
      diff = parseAppliedDiff(text, ok ? result.files : undefined);
    } catch (err) {
      // parseAppliedDiff does not throw; should it ever, this patch's rules go on without the diff.
      diffError = `the diff could not be read (${err instanceof Error ? err.message : String(err)}); the rules saw the commit message only`;
    }
    const { findings, errors: e } = await runRules(rules, {
      series: input.series,
      patch,
      index,
      commitMessage,
      diff,
      before,
      after,
    });
    if (landed?.length && patch.diff)
      withMailLines(findings, parseAppliedDiff(patch.diff, result?.files), diff);
    return { index, findings, errors: e, diffError };
  });
  for (const c of checked) {
    if (!c) continue;
    if (c.diffError) diffErrors.push({ patch: c.index, reason: c.diffError });
    perPatch[c.index] = c.findings;
    errors.push(...c.errors);
  }
  return { perPatch, errors, ...(diffErrors.length ? { diffErrors } : {}) };
}

/**
 * For findings on lines of hunks that landed away from their header: the line
 * as the mail numbers it (`mailLine`), so a reply quotes the right hunk.
 * `original` and `landed` are the same diff parsed before and after its
 * headers were moved.
 */
function withMailLines(findings: Finding[], original: DiffFile[], landed: DiffFile[]): void {
  for (const f of findings) {
    if (f.file === undefined || f.line === undefined) continue;
    const hunks: { header: number; landed: number }[] = [];
    landed.forEach((file, i) => {
      if (filePath(file) !== f.file) return;
      file.chunks.forEach((c, j) => {
        const o = original[i]?.chunks[j];
        if (o) hunks.push({ header: o.newStart, landed: c.newStart });
      });
    });
    const line = mailLine(f.line, hunks);
    if (line !== f.line) f.mailLine = line;
  }
}

/**
 * The series checks, after the patch checks: the model's before/after
 * (series-level findings; silent when the policy does not change).
 */
export async function seriesChecks(
  input: Pick<AnalyseInput, 'series' | 'applied' | 'model'>,
): Promise<Pick<AnalyseOutput, 'series' | 'errors' | 'model'>> {
  const { applied } = input;
  if (applied) adoptApplied(applied);
  const series: Finding[] = [];
  const errors: RuleError[] = [];
  let model: ModelBeforeAfter | null = null;
  if (anyApplied(applied) && input.model !== false) {
    try {
      const ba = await policyBeforeAfter(input.series, applied, input.model || {});
      series.push(...ba.findings);
      model = ba.model;
      for (const e of ba.errors) errors.push({ rule: 'model/before-after', patch: 0, error: e });
    } catch (err) {
      errors.push({
        rule: 'model/before-after',
        patch: 0,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return { series, errors, model };
}

/** The analyse stage: the patch checks, then the series checks. */
export async function analyseSeries(input: AnalyseInput): Promise<AnalyseOutput> {
  const patches = await patchChecks(input);
  const checks = await seriesChecks(input);
  return {
    perPatch: patches.perPatch,
    series: checks.series,
    errors: [...patches.errors, ...checks.errors],
    model: checks.model,
    ...(patches.diffErrors ? { diffErrors: patches.diffErrors } : {}),
  };
}
