// verify (one job per review, when bot/verify/when.ts says so): build the
// patched kernel and boot the scenarios; the outcome (findings, and what
// became of each scenario) is stored for the report.
import { UnrecoverableError, type Job } from 'bullmq';
import { seriesChecks } from '../analyse/analyse.js';
import { verifyOutcome, verifySeries } from '../../bot/verify/series.js';
import { whenToVerify } from '../../bot/verify/when.js';
import type { JobContext } from '../context.js';
import type { VerifyJob } from '../jobs.js';

export async function verify(job: Job<VerifyJob>, ctx: JobContext) {
  const { state, config, log } = ctx;
  const { reviewKey } = job.data;
  const orphan = await state.orphan(job.data.generation);
  if (orphan) {
    log(`verify job ${job.id} ${orphan}`);
    return { orphan };
  }
  if (await state.isDropped(reviewKey)) return { dropped: true };
  const applied = await state.getApplied(reviewKey);
  if (!applied?.applied)
    throw new UnrecoverableError(`review ${reviewKey} has no applied state to verify`);
  const only = job.data.scenarios ?? config.verify.scenarios;
  if (config.verify.enabled === 'auto') {
    // The same decision the report takes, on the same series checks (the analyse
    // job runs beside this one: its stored output, or the checks run here).
    const series = await state.getSeries(reviewKey);
    if (!series) throw new UnrecoverableError(`series of review ${reviewKey} is gone from Redis`);
    const findings =
      (await state.getAnalysis(reviewKey))?.series ??
      (
        await seriesChecks({
          series,
          applied: applied.applied,
          model: job.data.scenarios?.length ? { only: job.data.scenarios } : {},
        })
      ).series;
    const decision = whenToVerify('auto', applied.applied, findings);
    if (!decision.verify) {
      log(`verify ${reviewKey}: skipped (${decision.reason})`);
      return { skipped: decision.reason };
    }
  }
  const v = verifyOutcome(
    await verifySeries({
      applied: applied.applied,
      ...(only ? { only } : {}),
      log: (line) => {
        if (/^(build|boot)/.test(line)) log(`verify ${reviewKey}: ${line}`);
      },
    }),
  );
  await state.putVerify(reviewKey, v);
  const measured = v.scenarios.filter((x) => x.status === 'measured').length;
  log(`verified ${reviewKey}: ${measured} runs measured in ${v.seconds.toFixed(0)} s`);
  return { measured, seconds: v.seconds, findings: v.findings.length };
}
