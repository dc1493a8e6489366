// report (per review, the parent of the analyse and verify jobs): the
// ReviewResult, made by the same reviewResult() as `pcibot review` with the
// list's severity threshold and the thread's quiet rules, stored; the replies
// the mail sink plans, queued for sending (one send job per reply key); the
// review recorded, and its findings in the lineage for the next version.
// Automatic replies are held (not queued) for a backfill, unless the list
// asks for them, and for a patch older than the list's reply.maxAgeDays: a
// replayed archive is reviewed, never answered. A review a maintainer asked
// for is answered (its trigger has its own age limit).
import { UnrecoverableError, type Job } from 'bullmq';
import { mailSink } from '../report/mail.js';
import { findingsByPatch, reportedFindings, reviewResult } from '../report/result.js';
import { scopeSeries } from '../../bot/series/scope.js';
import { whenToVerify } from '../../bot/verify/when.js';
import type { JobContext } from '../context.js';
import { jobIds, type ReportJob, type SendJob } from '../jobs.js';
import type { ReviewRecord } from '../state.js';

export async function report(job: Job<ReportJob>, ctx: JobContext) {
  const { state, queues, config, log } = ctx;
  const req = job.data;
  const orphan = await state.orphan(req.generation);
  if (orphan) {
    log(`report job ${job.id} ${orphan}`);
    return { orphan };
  }
  if (await state.isDropped(req.reviewKey)) return { dropped: true };
  const series = await state.getSeries(req.reviewKey);
  if (!series) throw new UnrecoverableError(`series of review ${req.reviewKey} is gone from Redis`);
  const applied = (await state.getApplied(req.reviewKey))?.applied ?? null;
  const analysis = await state.getAnalysis(req.reviewKey);
  if (!analysis) throw new Error(`review ${req.reviewKey}: the analysis is not stored (yet)`);
  const decision = whenToVerify(config.verify.enabled, applied, analysis.series);
  const outcome = decision.verify ? await state.getVerify(req.reviewKey) : null;

  // The previous reviewed version: what it had that this one no longer has.
  const { versions } = await state.versions(req.lineage, req.lineageStrong ?? req.lineage, {
    seriesId: req.seriesId,
    version: req.version,
  });
  const prev = [...versions.entries()]
    .filter(([v, e]) => v < req.version && e.status === 'reviewed')
    .sort((a, b) => b[0] - a[0])[0];
  const list = ctx.list(req.list);
  const result = reviewResult(
    {
      series,
      scope: scopeSeries(series),
      applied,
      analysis,
      verify: { decision, outcome },
      previous: prev ? { version: prev[0], findings: prev[1].findings ?? [] } : null,
    },
    { minSeverity: list.reply.minSeverity, quiet: await state.quietRules(req.bucket) },
  );
  for (const e of result.internalErrors) log(`internal error in ${req.reviewKey}: ${e}`);
  await state.putResult(req.reviewKey, result);

  const replies = await mailSink(result, {
    series,
    list,
    from: config.mail.from,
    replyKeyPrefix: req.reviewKey,
    infoUrl: config.mail.infoUrl,
    pageUrl: config.http.publicUrl ? `${config.http.publicUrl}/series/${req.reviewKey}` : null,
    waitedMinutes:
      req.partial && req.round === 'a' ? Math.round(config.completenessTimeoutSec / 60) : null,
    askedOn: req.trigger?.target ?? null,
    ...(req.scenarios?.length ? { scenarios: req.scenarios } : {}),
  });
  const messages = [...(series.cover ? [series.cover] : []), ...series.patches];
  const dateOf = (id: string) => messages.find((m) => m.messageId === id)?.date ?? null;
  const target = series.cover ?? series.patches[0]!;
  const held = req.trigger
    ? null
    : req.backfill && !list.reply.sendBackfill
      ? 'a backfill (in the archive when following began): reviewed, not answered (lists[].reply.sendBackfill)'
      : olderThanDays(target.date, list.reply.maxAgeDays)
        ? `the series is older than reply.maxAgeDays (${list.reply.maxAgeDays} days)`
        : null;
  if (held && replies.length) {
    await state.count('replies_held', replies.length);
    log(`${req.reviewKey}: ${replies.length} replies not sent: ${held}`);
  }
  for (const c of held ? [] : replies)
    await queues.queues.send.add(
      'send',
      {
        replyKey: c.replyKey,
        reviewKey: req.reviewKey,
        list: req.list,
        bucket: req.bucket,
        automatic: req.round === 'a',
        messageId: c.messageId,
        inReplyTo: c.inReplyTo,
        subject: c.subject,
        envelope: c.envelope,
        eml: c.eml,
        replyToDate: dateOf(c.inReplyTo),
      } satisfies SendJob,
      {
        jobId: jobIds.send(c.replyKey),
        attempts: 8,
        backoff: { type: 'exponential', delay: 5000 },
      },
    );
  const replyKeys = held ? [] : replies.map((c) => c.replyKey);
  const all = reportedFindings(result);
  const record: ReviewRecord = {
    reviewKey: req.reviewKey,
    seriesId: series.id,
    title: series.title,
    version: series.version,
    round: req.round,
    list: req.list,
    status: 'reviewed',
    partial: req.partial,
    missing: series.missing,
    findings: findingsByPatch(result),
    fixed: result.fixed,
    replies: replyKeys,
    ...(held && replies.length ? { held } : {}),
    at: new Date().toISOString(),
  };
  await state.putReview(record);
  if (req.round === 'a')
    await state.setLineage(
      req.lineage,
      req.version,
      {
        reviewKey: req.reviewKey,
        seriesId: series.id,
        status: 'reviewed',
        findings: all.map((f) => ({ rule: f.rule, file: f.file, title: f.title })),
      },
      req.lineageStrong,
    );
  await state.count('series_reviewed');
  log(
    `reviewed ${req.reviewKey} "${series.title}" v${series.version}: ${all.length} findings, ${replyKeys.length} replies`,
  );
  return { findings: all.length, replies: replyKeys };
}

/** Whether an ISO date is more than `days` days ago (an unreadable date is not). */
export function olderThanDays(
  iso: string | null | undefined,
  days: number,
  now = Date.now(),
): boolean {
  if (!iso) return false;
  const t = Date.parse(iso);
  return !Number.isNaN(t) && now - t > days * 86400_000;
}
