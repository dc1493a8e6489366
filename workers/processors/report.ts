// report (per review, the parent of the analyse and verify jobs): the
// ReviewResult, made by the same reviewResult() as `pcibot review` with the
// list's severity threshold and the thread's quiet rules, stored; the replies
// the mail sink plans, queued for sending (one send job per reply key); the
// review recorded, and its findings in the lineage for the next version.
import { UnrecoverableError, type Job } from 'bullmq';
import { mailSink } from '../../bot/report/mail.js';
import { findingsByPatch, reportedFindings, reviewResult } from '../../bot/report/result.js';
import { scopeSeries } from '../../bot/series/scope.js';
import { whenToVerify } from '../../bot/verify/when.js';
import type { JobContext } from '../context.js';
import { jobIds, type ReportJob, type SendJob } from '../jobs.js';
import type { ReviewRecord } from '../state.js';

export async function report(job: Job<ReportJob>, ctx: JobContext) {
  const { state, queues, config, log } = ctx;
  const req = job.data;
  if (await state.isDropped(req.reviewKey)) return { dropped: true };
  const series = await state.getSeries(req.reviewKey);
  if (!series) throw new UnrecoverableError(`series of review ${req.reviewKey} is gone from Redis`);
  const applied = (await state.getApplied(req.reviewKey))?.applied ?? null;
  const analysis = await state.getAnalysis(req.reviewKey);
  if (!analysis) throw new Error(`review ${req.reviewKey}: the analysis is not stored (yet)`);
  const decision = whenToVerify(config.verify.enabled, applied);
  const outcome = decision.verify ? await state.getVerify(req.reviewKey) : null;

  // The previous reviewed version: what it had that this one no longer has.
  const prev = [...(await state.lineage(req.lineage)).entries()]
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
  for (const c of replies)
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
      } satisfies SendJob,
      {
        jobId: jobIds.send(c.replyKey),
        attempts: 8,
        backoff: { type: 'exponential', delay: 5000 },
      },
    );
  const replyKeys = replies.map((c) => c.replyKey);
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
    at: new Date().toISOString(),
  };
  await state.putReview(record);
  if (req.round === 'a')
    await state.setLineage(req.lineage, req.version, {
      reviewKey: req.reviewKey,
      seriesId: series.id,
      status: 'reviewed',
      findings: all.map((f) => ({ rule: f.rule, file: f.file, title: f.title })),
    });
  await state.count('series_reviewed');
  log(
    `reviewed ${req.reviewKey} "${series.title}" v${series.version}: ${all.length} findings, ${replyKeys.length} replies`,
  );
  return { findings: all.length, replies: replyKeys };
}
