// github-report (per GitHub review, the parent of its analyse and verify
// jobs, as report is for a mail series): the ReviewResult, by the same
// reviewResult() with github.minSeverity, stored (the report page shows it);
// then, unless a newer push made this head stale (its check run is then
// cancelled, nothing else posted), the GitHub sink: the check run completed
// with the summary and its annotations (batches of 50; a retried job goes on
// after the last batch GitHub took), and the review: pcibot's earlier
// comments updated or marked resolved by fingerprint, new ones in one review.
import { UnrecoverableError, type Job } from 'bullmq';
import { PrDiffMap } from '../../bot/github/diffmap.js';
import {
  completeCheckRun,
  createCheckRun,
  listReviewComments,
  postReview,
  updateReviewComment,
} from '../../bot/github/post.js';
import { getPr, prDiff, prLabel } from '../../bot/github/pr.js';
import { checkOutput, planReview, readMarker, reviewBody } from '../report/github.js';
import { findingsByPatch, reportedFindings, reviewResult } from '../report/result.js';
import { scopeSeries } from '../../bot/series/scope.js';
import { whenToVerify } from '../../bot/verify/when.js';
import type { JobContext } from '../context.js';
import { prKeyOf } from '../github.js';
import type { ReportJob } from '../jobs.js';

export async function githubReport(job: Job<ReportJob>, ctx: JobContext) {
  const { state, config, log } = ctx;
  const gh = ctx.github;
  const req = job.data;
  const t = req.github;
  if (!t) throw new UnrecoverableError(`review ${req.reviewKey} is not of a pull request`);
  const ref = { owner: t.owner, repo: t.repo, number: t.number };
  const rk = req.reviewKey;
  if (await gh.state.isPosted(rk)) return { already: 'posted' };
  const o = await gh.installation(t.installationId);
  let checkId = await gh.state.checkRun(rk);
  if (checkId === null) {
    checkId = await createCheckRun(o, ref, t.headSha, { externalId: rk, status: 'in_progress' });
    await gh.state.setCheckRun(rk, checkId);
  }

  // A newer head (the API's word; or this review was dropped for one): nothing of this one is posted.
  const apiHead = (await state.isDropped(rk)) ? null : (await getPr(o, ref)).headSha;
  if (apiHead !== t.headSha) {
    const by = apiHead ?? (await gh.state.head(prKeyOf(ref))) ?? 'a newer push';
    await completeCheckRun(o, ref, checkId, {
      conclusion: 'cancelled',
      title: `superseded by ${by.slice(0, 12)}`,
      summary: `A newer push (${by.slice(0, 12)}) came while this head was reviewed; pcibot reports on the newest head only.\n`,
      annotations: [],
    });
    await gh.state.markPosted(rk);
    await state.count('github_stale_heads');
    log(
      `${prLabel(ref)} at ${t.headSha.slice(0, 12)}: superseded by ${by.slice(0, 12)}, not reported`,
    );
    return { stale: t.headSha, newest: by };
  }

  const series = await state.getSeries(rk);
  if (!series) throw new UnrecoverableError(`series of review ${rk} is gone from Redis`);
  const applied = (await state.getApplied(rk))?.applied ?? null;
  const analysis = await state.getAnalysis(rk);
  if (!analysis) throw new Error(`review ${rk}: the analysis is not stored (yet)`);
  const decision = whenToVerify(config.verify.enabled, applied, analysis.series);
  const outcome = decision.verify ? await state.getVerify(rk) : null;
  const result = reviewResult(
    { series, scope: scopeSeries(series), applied, analysis, verify: { decision, outcome } },
    { minSeverity: config.github.minSeverity },
  );
  await state.putResult(rk, result);
  const pageUrl = config.http.publicUrl ? `${config.http.publicUrl}/series/${rk}` : null;

  await completeCheckRun(o, ref, checkId, checkOutput(result, { pageUrl }), {
    done: await gh.state.batches(rk),
    onBatch: (n) => gh.state.setBatches(rk, n),
  });

  const map = new PrDiffMap(await prDiff(o, ref));
  // pcibot's own earlier comments: by its login, not by any bot (another App
  // could copy a marker, and pcibot would then try to edit its comment).
  const login = await gh.botLogin();
  const existing = (await listReviewComments(o, ref)).filter(
    (c) => c.user?.login === login && readMarker(c.body) !== null,
  );
  const plan = planReview(result, {
    place: (p, l) => map.place(p, l),
    existing,
    minSeverity: config.github.commentMinSeverity,
    headSha: t.headSha,
    pageUrl,
  });
  for (const u of [...plan.update, ...plan.resolve])
    await updateReviewComment(o, ref, u.id, u.body);
  const posted = plan.create.length
    ? await postReview(o, ref, t.headSha, reviewBody(result, plan, pageUrl), plan.create)
    : null;
  if (posted?.refused) log(`${prLabel(ref)}: GitHub refused the line comments: ${posted.refused}`);
  await gh.state.markPosted(rk);

  const all = reportedFindings(result);
  await state.putReview({
    reviewKey: rk,
    seriesId: series.id,
    title: series.title,
    version: series.version,
    round: req.round,
    list: req.list,
    status: 'reviewed',
    partial: false,
    missing: series.missing,
    findings: findingsByPatch(result),
    fixed: result.fixed,
    replies: [],
    at: new Date().toISOString(),
  });
  await state.count('github_reviews_posted');
  log(
    `reviewed ${rk} ${prLabel(ref)} at ${t.headSha.slice(0, 12)}: ${all.length} findings, ${posted?.comments ?? 0} new comments, ${plan.update.length} updated, ${plan.resolve.length} resolved`,
  );
  return {
    findings: all.length,
    created: posted?.comments ?? 0,
    updated: plan.update.length,
    resolved: plan.resolve.length,
  };
}
