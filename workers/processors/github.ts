// github (per webhook request, bot/github/events.ts): a PR's head to review,
// or a `/pcibot review` comment. A push waits github.debounceSec (the job's
// delay) and then does nothing unless it is still the PR's head when the API
// is asked (webhooks may arrive out of order, so the API decides, not the
// order of arrival): a burst of pushes reviews the last one only. A comment counts only from a user the API says has write access.
// Then the PR's commits become a series (bot/github/pr.ts), the check run is
// created (queued), and the series goes the way of every series: the apply
// job, whose flow ends in the github-report job instead of the mail report.
// A PR with nothing in scope gets a neutral check saying why.
import type { Job } from 'bullmq';
import {
  PrTooLargeError,
  coverMessageId,
  fetchPr,
  getPr,
  prLabel,
  prMails,
  type PrInfo,
} from '../../bot/github/pr.js';
import {
  completeCheckRun,
  createCheckRun,
  startCheckRun,
  userCanWrite,
} from '../../bot/github/post.js';
import type { Octokit } from '../../bot/github/client.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { skippedOutput } from '../report/github.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import { scopeSeries } from '../../bot/series/scope.js';
import type { Message, ParseFailure } from '../../bot/types.js';
import type { JobContext } from '../context.js';
import { githubReviewKey, prKeyOf } from '../github.js';
import { jobIds, type ApplyJob, type GithubJob, type GithubTarget } from '../jobs.js';

export async function github(job: Job<GithubJob>, ctx: JobContext) {
  const d = job.data;
  const ref = { owner: d.owner, repo: d.repo, number: d.number };
  const pk = prKeyOf(ref);
  const gh = ctx.github;
  const o = await gh.installation(d.installationId);
  if (d.kind === 'command' && !(await userCanWrite(o, ref, d.user))) {
    await ctx.state.count('github_commands_refused');
    ctx.log(
      `${prLabel(ref)}: "/pcibot ${d.command}" from ${d.user}, who has no write access: ignored`,
    );
    return { refused: d.user };
  }
  const pr = await getPr(o, ref);
  if (pr.state !== 'open') return { ignored: `${prLabel(ref)} is ${pr.state}` };
  if (d.kind === 'pr' && pr.headSha !== d.headSha) {
    await ctx.state.count('github_stale_heads');
    return { stale: d.headSha, newest: pr.headSha };
  }
  await gh.state.setHead(pk, pr.headSha);
  if (d.kind === 'pr' && pr.draft && ctx.config.github.ignoreDrafts)
    return { ignored: `${prLabel(ref)} is a draft` };
  const round = d.kind === 'pr' ? 'a' : `c${d.commentId}`;
  return reviewPr(ctx, o, pr, d.installationId, round);
}

async function reviewPr(
  ctx: JobContext,
  o: Octokit,
  pr: PrInfo,
  installationId: number,
  round: string,
) {
  const { state, config, log } = ctx;
  const gh = ctx.github;
  const pk = prKeyOf(pr);
  const reviewKey = githubReviewKey(pr, pr.headSha, round);
  if (await gh.state.isPosted(reviewKey)) return { reviewKey, already: 'posted' };
  // A review of an older head of this PR still under way is dropped (its check run is cancelled when it reports).
  const current = await gh.state.currentReview(pk);
  if (current && current !== reviewKey && !current.includes(pr.headSha.slice(0, 12)))
    await state.markDropped(current, `superseded by ${pr.headSha.slice(0, 12)}`);
  await gh.state.setCurrentReview(pk, reviewKey);

  const pageUrl = config.http.publicUrl ? `${config.http.publicUrl}/series/${reviewKey}` : null;
  let checkId = await gh.state.checkRun(reviewKey);
  if (checkId === null) {
    checkId = await createCheckRun(o, pr, pr.headSha, {
      externalId: reviewKey,
      detailsUrl: pageUrl,
    });
    await gh.state.setCheckRun(reviewKey, checkId);
  }
  const skip = async (why: string) => {
    await completeCheckRun(o, pr, checkId, skippedOutput(why));
    await gh.state.markPosted(reviewKey);
    await state.count('github_skipped');
    log(`${prLabel(pr)} at ${pr.headSha.slice(0, 12)}: skipped: ${why}`);
    return { reviewKey, skipped: why };
  };
  let fetched;
  try {
    fetched = await fetchPr(o, pr, { pr, maxCommits: config.github.maxCommits });
  } catch (err) {
    if (err instanceof PrTooLargeError) return skip(err.message);
    throw err;
  }
  const messages: Message[] = [];
  const failures: ParseFailure[] = [];
  for (const raw of prMails(fetched)) {
    const m = await parseMail(raw);
    if (isParseFailure(m)) failures.push(m);
    else messages.push(m);
  }
  const cover = coverMessageId(pr, pr.headSha);
  const series = assembleSeries(messages, failures).series.find(
    (s) => s.cover?.messageId === cover,
  );
  if (!series || series.patches.length === 0) return skip('no commit with a diff');
  if (series.refused) return skip(series.refused);
  const scope = scopeSeries(series);
  if (!scope.inScope) return skip(scope.reason);

  const target: GithubTarget = {
    owner: pr.owner,
    repo: pr.repo,
    number: pr.number,
    headSha: pr.headSha,
    installationId,
  };
  await gh.state.putTarget(reviewKey, target);
  await gh.state.putPrUrl(reviewKey, pr.htmlUrl);
  await state.putSeries(reviewKey, series);
  await startCheckRun(o, pr, checkId);
  await ctx.queues.queues.apply.add(
    'apply',
    {
      reviewKey,
      bucket: `gh-${pk}`,
      seriesId: series.id,
      version: series.version,
      round,
      list: 'github',
      lineage: [`gh-${pk}`],
      partial: false,
      baseCommit: series.baseCommit,
      github: target,
    } satisfies ApplyJob,
    { jobId: jobIds.apply(reviewKey) },
  );
  log(
    `scheduled review ${reviewKey}: ${prLabel(pr)} at ${pr.headSha.slice(0, 12)} (${series.patches.length} commits)`,
  );
  return { reviewKey, commits: series.patches.length };
}
