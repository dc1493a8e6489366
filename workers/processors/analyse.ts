// analyse (one job per review): the patch checks, then the series checks (the
// model's before/after), on the applied series; the output is stored for the
// report. One job, not one per patch: a patch's checks take a few
// milliseconds and the series checks cannot be split by patch, so per-patch
// jobs only multiplied the fetches and cold caches (DESIGN.md, "Analyse in
// the service", has the measurements).
import { UnrecoverableError, type Job } from 'bullmq';
import { analyseSeries } from '../analyse/analyse.js';
import type { JobContext } from '../context.js';
import type { AnalyseJob } from '../jobs.js';

export async function analyse(job: Job<AnalyseJob>, ctx: JobContext) {
  const { state } = ctx;
  const { reviewKey, scenarios } = job.data;
  const orphan = await state.orphan(job.data.generation);
  if (orphan) {
    ctx.log(`analyse job ${job.id} ${orphan}`);
    return { orphan };
  }
  if (await state.isDropped(reviewKey)) return { dropped: true };
  const series = await state.getSeries(reviewKey);
  const applied = await state.getApplied(reviewKey);
  if (!series || !applied)
    throw new UnrecoverableError(`review ${reviewKey} has no series/applied state`);
  const out = await analyseSeries({
    series,
    applied: applied.applied,
    ...(scenarios?.length ? { model: { only: scenarios } } : {}),
  });
  await state.putAnalysis(reviewKey, out);
  const findings = Object.values(out.perPatch).flat().length + out.series.length;
  return { findings, errors: out.errors.length };
}
