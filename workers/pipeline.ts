// The in-process runner behind `pcibot review`: the stages one after another in
// one process, no Redis. The service mode (workers/processors) calls the same
// stage functions as jobs, and the same reviewResult() makes each series'
// result; nothing here knows about the CLI or output formats.
import { analyseSeries } from '../bot/analyse/analyse.js';
import { readInputs } from '../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../bot/mail/parse.js';
import { reviewResult, type ResultOptions } from '../bot/report/result.js';
import { REVIEW_SCHEMA, type ReviewReport, type ReviewResult } from '../bot/report/types.js';
import { assembleSeries } from '../bot/series/assemble.js';
import { scopeSeries } from '../bot/series/scope.js';
import { applySeries, seriesPatches } from '../bot/tree/apply.js';
import type { Applied, Message, ParseFailure, RawMail, Series } from '../bot/types.js';
import type { Rule } from '../rules/types.js';
import type { BootArch } from '../bot/kernel/vocabulary.js';
import { toolVersion } from '../bot/util/version.js';
import { gitRepo } from '../bot/tree/git.js';
import { verifyOutcome, verifySeries, type VerifyOutcome } from '../bot/verify/series.js';
import { whenToVerify } from '../bot/verify/when.js';

export interface Progress {
  stage: 'read' | 'parse' | 'assemble' | 'apply' | 'analyse' | 'verify' | 'done';
  done: number;
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
    only?: string[];
    arch?: BootArch;
    scenariosDir?: string;
    log?: (line: string) => void;
  };
  onProgress?: (p: Progress) => void;
  /** What the results report: the severity threshold, quieted rules (default: everything). */
  result?: ResultOptions;
  /** Called with each reviewed series and its result (e.g. for the HTML sink, which shows the diffs). */
  onResult?: (series: Series, result: ReviewResult) => void | Promise<void>;
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

  // ingest + parse
  progress({ stage: 'read', done: 0, total: opts.inputs.length });
  const read = await timed('read', () => readInputs(opts.inputs, { stdin: opts.stdin }));
  read.mails.push(...(opts.mails ?? []));
  const messages: Message[] = [];
  const failures: ParseFailure[] = [...read.failures];
  await timed('parse', async () => {
    for (const [i, raw] of read.mails.entries()) {
      const parsed = await parseMail(raw);
      if (isParseFailure(parsed)) failures.push(parsed);
      else messages.push(parsed);
      if (i % 50 === 0) progress({ stage: 'parse', done: i, total: read.mails.length });
    }
  });

  // assemble + scope
  progress({ stage: 'assemble', done: 0, total: 1 });
  const assembly = await timed('assemble', () => assembleSeries(messages, failures));
  const scopes = new Map(assembly.series.map((s) => [s.id, scopeSeries(s)]));

  const head = opts.tree ? await gitRepo(opts.tree).revParse('HEAD') : null;
  const internalErrors: ReviewReport['internalErrors'] = [];
  const results: ReviewResult[] = [];
  const inScope = assembly.series.filter((s) => scopes.get(s.id)!.inScope);
  let reviewedCount = 0;

  for (const series of assembly.series) {
    const scope = scopes.get(series.id)!;
    if (!scope.inScope) {
      results.push(
        reviewResult({ series, scope, applied: null, analysis: null, verify: null }, opts.result),
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
    let applied: Applied | null = null;
    if (opts.tree) {
      const tree = opts.tree;
      applied = await timed('apply', () =>
        applySeries({
          tree,
          patches: seriesPatches(series),
          baseCommit: series.baseCommit,
          branches: opts.branches,
        }),
      );
    }
    progress({
      stage: 'analyse',
      done: reviewedCount - 1,
      total: inScope.length,
      what: series.title,
    });
    const analysis = await timed('analyse', () =>
      analyseSeries({ series, applied, rules: opts.rules, model: opts.model }),
    );
    const decision = whenToVerify(opts.verify !== undefined, applied);
    let outcome: VerifyOutcome | null = null;
    if (decision.verify && applied) {
      const done = reviewedCount - 1;
      progress({ stage: 'verify', done, total: inScope.length, what: series.title });
      const state = applied;
      outcome = verifyOutcome(
        await timed('verify', () => verifySeries({ applied: state, ...opts.verify })),
      );
    }
    const result = reviewResult(
      { series, scope, applied, analysis, verify: { decision, outcome } },
      opts.result,
    );
    for (const detail of result.internalErrors)
      internalErrors.push({ stage: 'analyse', series: series.id, detail });
    results.push(result);
    await opts.onResult?.(series, result);
  }
  progress({ stage: 'done', done: inScope.length, total: inScope.length });

  const sum = (k: 'error' | 'warning' | 'info') => results.reduce((n, r) => n + r.counts[k], 0);
  return {
    schema: REVIEW_SCHEMA,
    tool: { name: 'pcibot', version: toolVersion() },
    tree: opts.tree && head ? { path: opts.tree, head } : null,
    inputs: opts.inputs,
    summary: {
      messages: assembly.accounting.length,
      series: assembly.series.length,
      reviewed: reviewedCount,
      skipped: assembly.series.length - reviewedCount,
      failed: failures.length,
      findings: { error: sum('error'), warning: sum('warning'), info: sum('info') },
    },
    series: results,
    messages: assembly.accounting.map((a) => ({
      messageId: a.messageId,
      subject: a.subject,
      origin: a.origin,
      disposition: a.disposition,
    })),
    failures,
    internalErrors,
    timing,
  };
}
