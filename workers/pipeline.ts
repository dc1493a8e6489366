// The in-process runner behind `pcibot review`: the stages one after another in
// one process, no Redis. The service mode (workers/processors) calls the same
// stage functions as jobs, and the same reviewResult() makes each series'
// result; nothing here knows about the CLI or output formats.
import { analyseSeries } from './analyse/analyse.js';
import { iterateInputs } from '../bot/ingest/read.js';
import type { InputLimits } from '../bot/limits.js';
import { isParseFailure, parseMail } from '../bot/mail/parse.js';
import {
  reportedFindings,
  reviewResult,
  type ResultOptions,
  type ReviewInput,
} from './report/result.js';
import {
  REVIEW_SCHEMA,
  type ReviewReport,
  type ReviewResult,
  type SeriesError,
} from './report/types.js';
import { accountReasons, noSeriesReason } from './report/accounting.js';
import { assembleSeries } from '../bot/series/assemble.js';
import { scopeSeries } from '../bot/series/scope.js';
import { applySeries, seriesPatches } from '../bot/tree/apply.js';
import type {
  Applied,
  Assembly,
  Message,
  ParseFailure,
  RawMail,
  ScopeDecision,
  Series,
} from '../bot/types.js';
import type { Rule } from '../rules/types.js';
import type { BootArch } from '../bot/kernel/vocabulary.js';
import { toolVersion } from '../bot/util/version.js';
import { gitRepo } from '../bot/tree/git.js';
import { verifyOutcome, verifySeries, type VerifyOutcome } from '../bot/verify/series.js';
import { whenToVerify } from '../bot/verify/when.js';

export interface Progress {
  stage: 'read' | 'parse' | 'assemble' | 'apply' | 'analyse' | 'verify' | 'done';
  done: number;
  /** 0 when not known (messages are parsed as the inputs are read). */
  total: number;
  /** What is being worked on, e.g. the series title. */
  what?: string;
}

export interface ReviewOptions {
  inputs: string[];
  /** Messages already read (e.g. a thread found in a lore mirror), reviewed with the inputs. */
  mails?: RawMail[];
  /** Kernel git repository to apply to; null reviews the mails without applying. */
  tree: string | null;
  /** Branches to try, in order, when a series has no usable base-commit. */
  branches?: string[];
  stdin?: NodeJS.ReadableStream;
  rules?: readonly Rule[];
  /** The model's before/after on the scenario library (default on); false skips it. */
  model?: false | { scenariosDir?: string; only?: string[] };
  /**
   * Build each applied series' kernel and boot the bootable scenarios in QEMU
   * (slow: minutes). Off by default.
   */
  verify?: {
    /** `on` (default): every series that changes policy files; `auto`: only when the model needs a boot (bot/verify/when.ts). */
    mode?: 'on' | 'auto';
    only?: string[];
    arch?: BootArch;
    scenariosDir?: string;
    log?: (line: string) => void;
  };
  onProgress?: (p: Progress) => void;
  /** What the results report: the severity threshold, quieted rules (default: everything). */
  result?: ResultOptions;
  /** Input limits (bot/limits.ts); the defaults for any not given. */
  limits?: Partial<InputLimits>;
  /**
   * Test hooks: called before each stage for one message (parse: its file;
   * assemble: the batch, then each message alone if the batch failed) or one
   * series (apply, analyse); may throw to force a failure there.
   */
  hooks?: {
    stage?: (
      name: 'parse' | 'assemble' | 'apply' | 'analyse',
      detail: { file?: string; messageId?: string; seriesId?: string },
    ) => void | Promise<void>;
  };
  /** Called with each reviewed series and its result (e.g. for the HTML sink, which shows the diffs). */
  onResult?: (series: Series, result: ReviewResult) => void | Promise<void>;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Assembly of the batch failed (a pcibot bug): assemble each message alone,
 * so lone patches are still reviewed and only a message that fails alone is
 * lost (reported as failed, with why).
 */
async function assembleEachAlone(
  messages: Message[],
  failures: ParseFailure[],
  opts: ReviewOptions,
): Promise<Assembly> {
  const out: Assembly = { series: [], accounting: [] };
  const earlier = failures.length; // failures from reading and parsing, accounted at the end
  for (const m of messages) {
    try {
      await opts.hooks?.stage?.('assemble', { messageId: m.messageId });
      const a = assembleSeries([m], [], { limits: opts.limits });
      out.series.push(...a.series);
      out.accounting.push(...a.accounting);
    } catch (err) {
      const reason = `assembly failed for this message (pcibot error: ${errorText(err)})`;
      failures.push({ origin: m.origin, reason, messageId: m.messageId, subject: m.subject });
      out.accounting.push({
        messageId: m.messageId,
        origin: m.origin,
        subject: m.subject,
        disposition: { kind: 'failed', reason },
      });
    }
  }
  for (const f of failures.slice(0, earlier))
    out.accounting.push({
      messageId: f.messageId ?? null,
      origin: f.origin,
      subject: f.subject ?? null,
      disposition: { kind: 'failed', reason: f.reason },
    });
  return out;
}

/** What the stages' errors change in a series' result: its errors, its notes, its patches' status. */
function withErrors(result: ReviewResult, series: Series, errors: SeriesError[]): ReviewResult {
  if (series.warnings?.length) result.warnings = series.warnings;
  if (series.refused) result.status = 'skipped';
  if (!errors.length) return result;
  result.errors = errors;
  const applyFailed = errors.find((e) => e.stage === 'apply');
  if (applyFailed)
    for (const p of result.patches)
      p.apply ??= { status: 'not-attempted', detail: applyFailed.reason };
  return result;
}

export async function runReview(opts: ReviewOptions): Promise<ReviewReport> {
  const progress = opts.onProgress ?? (() => {});
  const timing: Record<string, number> = {};
  const timed = async <T>(stage: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timing[stage] = Math.round((timing[stage] ?? 0) + performance.now() - t0);
    }
  };

  // ingest + parse, one message at a time: the raw bytes of a message are
  // dropped as soon as it is parsed, so memory holds messages, not inputs.
  // A failure of one message (a limit, a bug) is that message's failure only.
  progress({ stage: 'read', done: 0, total: opts.inputs.length });
  const messages: Message[] = [];
  const failures: ParseFailure[] = [];
  let parsedCount = 0;
  const parseOne = async (raw: RawMail) => {
    const t0 = performance.now();
    try {
      await opts.hooks?.stage?.('parse', { file: raw.origin.file });
      const parsed = await parseMail(raw, opts.limits);
      if (isParseFailure(parsed)) failures.push(parsed);
      else messages.push(parsed);
    } catch (err) {
      failures.push({
        origin: raw.origin,
        reason: `unparsable mail (pcibot error: ${errorText(err)})`,
      });
    }
    timing.parse = (timing.parse ?? 0) + performance.now() - t0;
    if (++parsedCount % 50 === 0) progress({ stage: 'parse', done: parsedCount, total: 0 });
  };
  const t0 = performance.now();
  for await (const item of iterateInputs(opts.inputs, { stdin: opts.stdin, limits: opts.limits })) {
    if ('failure' in item) failures.push(item.failure);
    else await parseOne(item.mail);
  }
  for (const raw of opts.mails ?? []) await parseOne(raw);
  timing.parse = Math.round(timing.parse ?? 0);
  timing.read = Math.max(0, Math.round(performance.now() - t0) - timing.parse);

  // assemble + scope
  progress({ stage: 'assemble', done: 0, total: 1 });
  const internalErrors: ReviewReport['internalErrors'] = [];
  const assembly = await timed('assemble', async () => {
    try {
      await opts.hooks?.stage?.('assemble', {});
      return assembleSeries(messages, failures, { limits: opts.limits });
    } catch (err) {
      internalErrors.push({
        stage: 'assemble',
        detail: `assembling the batch failed (${errorText(err)}); each message was assembled on its own`,
      });
      return assembleEachAlone(messages, failures, opts);
    }
  });
  const scopes = new Map<string, ScopeDecision>();
  const scopeErrors = new Map<string, string>();
  for (const s of assembly.series) {
    try {
      scopes.set(s.id, scopeSeries(s));
    } catch (err) {
      scopeErrors.set(s.id, `scope could not be decided (pcibot error: ${errorText(err)})`);
      scopes.set(s.id, { seriesId: s.id, inScope: false, reason: 'not decided', paths: [] });
    }
  }

  const head = opts.tree ? await gitRepo(opts.tree).revParse('HEAD') : null;
  const results: ReviewResult[] = [];
  const reviewable = (s: Series) => scopes.get(s.id)!.inScope && !s.refused;
  const inScope = assembly.series.filter(reviewable);
  let reviewedCount = 0;

  // What the previous version in the input had, for `fixed`: the newest older
  // version a series supersedes, applied and analysed like it (not verified,
  // not reported), its reported findings under the same filter. The service
  // takes the same from the lineage's last reviewed version.
  const older = new Map((assembly.superseded ?? []).map((s) => [s.id, s]));
  const previousOf = async (series: Series): Promise<ReviewInput['previous']> => {
    const prev = series.supersedes.find((o) => o.version < series.version);
    const old = prev ? older.get(prev.id) : undefined;
    const scope = old ? scopeSeries(old) : null;
    if (!old || !scope?.inScope || old.refused) return null;
    try {
      const applied = opts.tree
        ? await timed('apply', () =>
            applySeries({
              tree: opts.tree!,
              patches: seriesPatches(old),
              baseCommit: old.baseCommit,
              branches: opts.branches,
            }),
          )
        : null;
      const analysis = await timed('analyse', () =>
        analyseSeries({ series: old, applied, rules: opts.rules, model: opts.model }),
      );
      const r = reviewResult({ series: old, scope, applied, analysis, verify: null }, opts.result);
      return {
        version: old.version,
        findings: reportedFindings(r).map(({ rule, file, title }) =>
          file === undefined ? { rule, title } : { rule, file, title },
        ),
      };
    } catch (err) {
      internalErrors.push({
        stage: 'analyse',
        series: old.id,
        detail: `reviewing v${old.version} to compare with v${series.version} failed: ${errorText(err)}`,
      });
      return null;
    }
  };

  for (const series of assembly.series) {
    const scope = scopes.get(series.id)!;
    const errors: SeriesError[] = [];
    const scopeError = scopeErrors.get(series.id);
    if (scopeError) errors.push({ stage: 'scope', reason: scopeError });
    if (series.refused) errors.push({ stage: 'assemble', reason: series.refused });
    if (!reviewable(series)) {
      results.push(
        withErrors(
          reviewResult({ series, scope, applied: null, analysis: null, verify: null }, opts.result),
          series,
          errors,
        ),
      );
      continue;
    }
    reviewedCount++;
    progress({
      stage: 'apply',
      done: reviewedCount - 1,
      total: inScope.length,
      what: series.title,
    });
    // Each stage of one series is isolated: its failure is this series' error, the batch goes on.
    let applied: Applied | null = null;
    if (opts.tree) {
      const tree = opts.tree;
      try {
        applied = await timed('apply', async () => {
          await opts.hooks?.stage?.('apply', { seriesId: series.id });
          return applySeries({
            tree,
            patches: seriesPatches(series),
            baseCommit: series.baseCommit,
            branches: opts.branches,
          });
        });
      } catch (err) {
        errors.push({ stage: 'apply', reason: `applying the series failed: ${errorText(err)}` });
        internalErrors.push({ stage: 'apply', series: series.id, detail: errorText(err) });
      }
    }
    progress({
      stage: 'analyse',
      done: reviewedCount - 1,
      total: inScope.length,
      what: series.title,
    });
    let analysis: Awaited<ReturnType<typeof analyseSeries>> | null = null;
    try {
      analysis = await timed('analyse', async () => {
        await opts.hooks?.stage?.('analyse', { seriesId: series.id });
        return analyseSeries({ series, applied, rules: opts.rules, model: opts.model });
      });
      for (const d of analysis.diffErrors ?? [])
        errors.push({ stage: 'analyse', patch: d.patch, reason: d.reason });
    } catch (err) {
      errors.push({ stage: 'analyse', reason: `reviewing the series failed: ${errorText(err)}` });
      internalErrors.push({ stage: 'analyse', series: series.id, detail: errorText(err) });
    }
    // null: the series checks failed, so auto has nothing to decide on.
    const decision = whenToVerify(
      opts.verify ? (opts.verify.mode ?? 'on') : 'off',
      applied,
      analysis ? analysis.series : null,
    );
    let outcome: VerifyOutcome | null = null;
    if (decision.verify && applied && analysis && opts.verify) {
      const done = reviewedCount - 1;
      progress({ stage: 'verify', done, total: inScope.length, what: series.title });
      const state = applied;
      const { mode: _mode, ...how } = opts.verify;
      try {
        outcome = verifyOutcome(
          await timed('verify', () => verifySeries({ applied: state, ...how })),
        );
      } catch (err) {
        errors.push({ stage: 'verify', reason: `verify failed: ${errorText(err)}` });
        internalErrors.push({ stage: 'verify', series: series.id, detail: errorText(err) });
      }
    }
    const previous = await previousOf(series);
    const result = withErrors(
      reviewResult(
        { series, scope, applied, analysis, verify: { decision, outcome }, previous },
        opts.result,
      ),
      series,
      errors,
    );
    for (const detail of result.internalErrors)
      internalErrors.push({ stage: 'analyse', series: series.id, detail });
    results.push(result);
    await opts.onResult?.(series, result);
  }
  progress({ stage: 'done', done: inScope.length, total: inScope.length });

  const sum = (k: 'error' | 'warning' | 'info') => results.reduce((n, r) => n + r.counts[k], 0);
  const reasons = accountReasons(assembly.accounting, results);
  const noSeries = noSeriesReason(assembly.accounting, assembly.series.length);
  return {
    schema: REVIEW_SCHEMA,
    tool: { name: 'pcibot', version: toolVersion() },
    tree: opts.tree && head ? { path: opts.tree, head } : null,
    inputs: opts.inputs,
    summary: {
      messages: assembly.accounting.length,
      series: assembly.series.length,
      ...(noSeries !== null ? { noSeries } : {}),
      reviewed: reviewedCount,
      skipped: assembly.series.length - reviewedCount,
      failed: failures.length,
      findings: { error: sum('error'), warning: sum('warning'), info: sum('info') },
    },
    series: results,
    messages: assembly.accounting.map((a, i) => ({
      messageId: a.messageId,
      subject: a.subject,
      origin: a.origin,
      disposition: a.disposition,
      reason: reasons[i]!,
      ...(a.warnings?.length ? { warnings: a.warnings } : {}),
    })),
    failures,
    internalErrors,
    timing,
  };
}
