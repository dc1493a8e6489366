// The in-process runner behind `pcibot review`: the stages one after another in
// one process, no Redis. The service mode (workers/queues) calls the same stage
// functions as jobs; nothing here knows about the CLI or output formats.
import { analyseSeries } from '../bot/analyse/analyse.js';
import { readInputs } from '../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../bot/mail/parse.js';
import {
  REVIEW_SCHEMA,
  type PatchReport,
  type ReviewReport,
  type SeriesReport,
} from '../bot/report/types.js';
import { assembleSeries } from '../bot/series/assemble.js';
import { scopeSeries } from '../bot/series/scope.js';
import { applySeries, seriesPatches } from '../bot/tree/apply.js';
import {
  patchIndex,
  type Applied,
  type Finding,
  type Message,
  type ParseFailure,
  type RawMail,
  type Series,
} from '../bot/types.js';
import type { Rule } from '../rules/types.js';
import type { BootArch } from '../bot/kernel/vocabulary.js';
import { toolVersion } from '../bot/util/version.js';
import { gitRepo } from '../bot/tree/git.js';
import { verifySeries } from '../bot/verify/series.js';
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
}

const countSeverities = (findings: Finding[]) => ({
  error: findings.filter((f) => f.severity === 'error').length,
  warning: findings.filter((f) => f.severity === 'warning').length,
  info: findings.filter((f) => f.severity === 'info').length,
});

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
  const seriesReports: SeriesReport[] = [];
  const inScope = assembly.series.filter((s) => scopes.get(s.id)!.inScope);
  let reviewedCount = 0;

  for (const series of assembly.series) {
    const scope = scopes.get(series.id)!;
    if (!scope.inScope) {
      seriesReports.push({ ...seriesReport(series, scope, null, null), verify: null });
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
    for (const e of analysis.errors)
      internalErrors.push({
        stage: 'analyse',
        series: series.id,
        detail: `rule ${e.rule} on patch ${e.patch}: ${e.error}`,
      });
    let verified: SeriesReport['verify'] = null;
    if (whenToVerify(opts.verify !== undefined, applied).verify && applied) {
      const done = reviewedCount - 1;
      progress({ stage: 'verify', done, total: inScope.length, what: series.title });
      const state = applied;
      const v = await timed('verify', () => verifySeries({ applied: state, ...opts.verify }));
      analysis.series.push(...v.findings);
      verified = {
        seconds: v.seconds,
        scenarios: v.scenarios.map(({ name, arch, pageSize, status, reason }) => ({
          name,
          arch,
          pageSize,
          status,
          ...(reason ? { reason } : {}),
        })),
      };
    }
    seriesReports.push({ ...seriesReport(series, scope, applied, analysis), verify: verified });
  }
  progress({ stage: 'done', done: inScope.length, total: inScope.length });

  const allFindings = seriesReports.flatMap((s) => [
    ...s.findings,
    ...s.patches.flatMap((p) => p.findings),
  ]);
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
      findings: countSeverities(allFindings),
    },
    series: seriesReports,
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

function seriesReport(
  series: Series,
  scope: SeriesReport['scope'],
  applied: Applied | null,
  analysis: Awaited<ReturnType<typeof analyseSeries>> | null,
): Omit<SeriesReport, 'verify'> {
  const patches: PatchReport[] = series.patches.map((p, pos) => {
    const index = patchIndex(p, pos);
    const r = applied?.patches.find((a) => a.messageId === p.messageId);
    return {
      index,
      messageId: p.messageId,
      subject: p.subject,
      title: p.tags.title,
      apply: r
        ? {
            status: r.status,
            ...(r.detail !== undefined ? { detail: r.detail } : {}),
            ...(r.conflicts?.length ? { conflicts: r.conflicts } : {}),
          }
        : null,
      findings: analysis?.perPatch[index] ?? [],
    };
  });
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
    patches,
    findings: analysis?.series ?? [],
  };
}
