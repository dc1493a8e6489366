// apply (per review): the series onto the kernel tree (a temporary index, no
// checkout), then the review's flow: the report job, waiting for its children,
// one analyse job for the series and, when bot/verify/when.ts says so, a
// verify job.
import { UnrecoverableError, type Job } from 'bullmq';
import { applySeries, seriesPatches } from '../../bot/tree/apply.js';
import { whenToVerify } from '../../bot/verify/when.js';
import type { JobContext } from '../context.js';
import { jobIds, type AnalyseJob, type ApplyJob, type ReportJob, type VerifyJob } from '../jobs.js';

export async function apply(job: Job<ApplyJob>, ctx: JobContext) {
  const { state, queues, config } = ctx;
  const req = job.data;
  const prefix = config.redis.prefix;
  const orphan = await state.orphan(req.generation);
  if (orphan) {
    ctx.log(`apply job ${job.id} ${orphan}`);
    return { orphan };
  }
  if (await state.isDropped(req.reviewKey)) return { dropped: true };
  const series = await state.getSeries(req.reviewKey);
  if (!series) throw new UnrecoverableError(`series of review ${req.reviewKey} is gone from Redis`);
  let applied = null;
  if (config.tree.path) {
    try {
      applied = await applySeries({
        tree: config.tree.path,
        patches: seriesPatches(series),
        baseCommit: req.baseCommit ?? series.baseCommit,
        branches: config.tree.branches,
      });
    } catch (err) {
      // The tree itself failed (not a patch): /healthz counts these in a row.
      const streak = await state.applyOutcome(false);
      await state.count('apply_failed');
      ctx.log(`apply of ${req.reviewKey} failed (${streak} in a row): ${(err as Error).message}`);
      throw err;
    }
    const anyApplied = applied.patches.some((p) =>
      ['applied', 'applied-3way', 'already-applied'].includes(p.status),
    );
    const streak = await state.applyOutcome(anyApplied);
    if (!anyApplied) {
      await state.count('apply_failed');
      ctx.log(`no patch of ${req.reviewKey} applied (${streak} reviews in a row)`);
    }
  }
  await state.putApplied(req.reviewKey, applied);
  const scenarios = req.scenarios?.length ? { scenarios: req.scenarios } : {};
  const gen = req.generation;
  const generation = gen ? { generation: gen } : {};
  const verify = whenToVerify(config.verify.enabled, applied).verify;
  // A pull request's review reports through the GitHub sink (github-report.ts), a series from a list by mail.
  await queues.flow.add({
    name: req.github ? 'github-report' : 'report',
    queueName: req.github ? 'github-report' : 'report',
    prefix,
    data: req satisfies ReportJob,
    opts: {
      jobId: req.github ? jobIds.githubReport(req.reviewKey) : jobIds.report(req.reviewKey, gen),
    },
    children: [
      ...(verify
        ? [
            {
              name: 'verify',
              queueName: 'verify',
              prefix,
              data: { reviewKey: req.reviewKey, ...scenarios, ...generation } satisfies VerifyJob,
              opts: {
                jobId: jobIds.verify(req.reviewKey, gen),
                attempts: 2,
                backoff: { type: 'fixed' as const, delay: 30_000 },
              },
            },
          ]
        : []),
      {
        name: 'analyse',
        queueName: 'analyse',
        prefix,
        data: { reviewKey: req.reviewKey, ...scenarios, ...generation } satisfies AnalyseJob,
        opts: {
          jobId: jobIds.analyse(req.reviewKey, gen),
          attempts: 4,
          backoff: { type: 'exponential' as const, delay: 2000 },
        },
      },
    ],
  });
  return { base: applied?.base ?? null, patches: applied?.patches.map((p) => p.status) ?? [] };
}
