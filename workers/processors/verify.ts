// verify (one job per review, when bot/verify/when.ts says so): build the
// patched kernel and boot the scenarios; the outcome (findings, and what
// became of each scenario) is stored for the report.
import { UnrecoverableError, type Job } from 'bullmq';
import { verifyOutcome, verifySeries } from '../../bot/verify/series.js';
import type { JobContext } from '../context.js';
import type { VerifyJob } from '../jobs.js';

export async function verify(job: Job<VerifyJob>, ctx: JobContext) {
  const { state, config, log } = ctx;
  const { reviewKey } = job.data;
  if (await state.isDropped(reviewKey)) return { dropped: true };
  const applied = await state.getApplied(reviewKey);
  if (!applied?.applied)
    throw new UnrecoverableError(`review ${reviewKey} has no applied state to verify`);
  const only = job.data.scenarios ?? config.verify.scenarios;
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
