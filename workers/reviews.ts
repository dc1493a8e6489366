// Scheduling and dropping reviews: what the assemble processor does when a
// series is ready and the trigger handling when a maintainer asks, so both
// schedule a review the same way (one apply job per review key; the first to
// claim the key records the lineage and drops older versions still waiting).
import { Job } from 'bullmq';
import { lineageKeys, strongLineageKeys } from '../bot/series/identity.js';
import type { Series } from '../bot/types.js';
import type { JobContext } from './context.js';
import { jobIds, reviewKeyOf, type ApplyJob, type ReviewRequest } from './jobs.js';

/** Drop a review that is not to happen any more: remembered, and its pending jobs removed. */
export async function dropReview(
  ctx: JobContext,
  reviewKey: string,
  why: string,
  generation?: string,
): Promise<void> {
  await ctx.state.markDropped(reviewKey, why);
  for (const [queue, id] of [
    ['apply', jobIds.apply(reviewKey, generation)],
    ['report', jobIds.report(reviewKey, generation)],
  ] as const) {
    const job = await Job.fromId(ctx.queues.queues[queue], id);
    if (!job) continue;
    const st = await job.getState();
    if (st === 'waiting' || st === 'delayed' || st === 'waiting-children' || st === 'prioritized') {
      try {
        await job.remove({ removeChildren: true });
      } catch (err) {
        ctx.log(`could not drop ${id}: ${(err as Error).message}`);
      }
    }
  }
}

export async function scheduleReview(
  ctx: JobContext,
  series: Series,
  req: Omit<ReviewRequest, 'reviewKey' | 'seriesId' | 'version' | 'lineage' | 'lineageStrong'>,
): Promise<string> {
  const { state, queues, log } = ctx;
  const reviewKey = reviewKeyOf(series.id, series.version, req.round);
  const lineage = lineageKeys(series);
  const lineageStrong = strongLineageKeys(series);
  const full: ReviewRequest = {
    ...req,
    reviewKey,
    seriesId: series.id,
    version: series.version,
    lineage,
    lineageStrong,
  };
  await state.putSeries(reviewKey, series);
  await queues.queues.apply.add('apply', full satisfies ApplyJob, {
    jobId: jobIds.apply(reviewKey, req.generation),
  });
  // Concurrent assemble jobs of one thread may all get here; the claim picks
  // one to record the lineage and drop older versions (the apply job above
  // is deduplicated by its id anyway).
  const first = await state.claimReview(reviewKey, req.generation);
  if (!first) return reviewKey;
  if (req.round === 'a') {
    await state.setLineage(
      lineage,
      series.version,
      { reviewKey, seriesId: series.id, status: 'scheduled' },
      lineageStrong,
    );
    // A newer version supersedes older ones still waiting: one per version,
    // never two different series of one version (ServiceState.versions).
    const { versions, ambiguous } = await state.versions(lineage, lineageStrong, {
      seriesId: series.id,
      version: series.version,
    });
    for (const [v, ids] of ambiguous)
      if (v < series.version)
        log(
          `${reviewKey}: not superseding any v${v}: more than one series could be the earlier version (${ids.join(', ')})`,
        );
    for (const [v, e] of versions) {
      if (v < series.version && e.status === 'scheduled') {
        await dropReview(ctx, e.reviewKey, `superseded by v${series.version}`, req.generation);
        // Recorded where that version's own lineage is, not under this one's keys.
        const old = await state.getSeries(e.reviewKey);
        await state.setLineage(
          old ? lineageKeys(old) : lineage,
          v,
          { ...e, status: 'dropped' },
          old ? strongLineageKeys(old) : lineageStrong,
        );
        await state.count('series_superseded');
        log(
          `dropped the pending review of v${v} (${e.reviewKey}): superseded by v${series.version}`,
        );
      }
    }
  }
  log(
    `scheduled review ${reviewKey}: "${series.title}" v${series.version} (${series.patches.length}/${series.expected ?? series.patches.length} patches${req.partial ? ', partial' : ''})`,
  );
  return reviewKey;
}
