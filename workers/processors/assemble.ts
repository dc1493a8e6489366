// assemble (per thread bucket, on each arrival and at the completeness
// deadline): the bucket's messages -> series; out-of-scope series are recorded
// as skipped, superseded ones left alone, incomplete ones wait until the
// deadline, the rest are scheduled for review.
import { Job } from 'bullmq';
import { assembleSeries } from '../../bot/series/assemble.js';
import { lineageKeys, strongLineageKeys } from '../../bot/series/identity.js';
import { scopeSeries } from '../../bot/series/scope.js';
import type { JobContext } from '../context.js';
import { jobIds, messageKey, reviewKeyOf, type AssembleJob } from '../jobs.js';
import { scheduleReview } from '../reviews.js';

export async function assemble(job: Job<AssembleJob>, ctx: JobContext) {
  const { state, queues, config, log } = ctx;
  const { bucket, generation } = job.data;
  const orphan = await state.orphan(generation);
  if (orphan) {
    log(`assemble job ${job.id} ${orphan}`);
    return { orphan };
  }
  const gen = generation ? { generation } : {};
  const messages = await state.bucketMessages(bucket);
  if (messages.length === 0) return { empty: true };
  const assembly = assembleSeries(messages);
  const first = (await state.bucketFirstSeen(bucket)) ?? Date.now();
  const deadline = first + config.completenessTimeoutSec * 1000;
  const now = Date.now();
  const out: string[] = [];
  let waiting = false;
  for (const s of assembly.series) {
    const scope = scopeSeries(s);
    if (!scope.inScope) {
      if (await state.markSkipped(s.id, s.version, scope.reason)) {
        await state.count('series_skipped');
        log(`skipped "${s.title}" v${s.version}: ${scope.reason}`);
      }
      continue;
    }
    const rk = reviewKeyOf(s.id, s.version, 'a');
    if (await state.isScheduled(rk, generation)) continue;
    const { versions } = await state.versions(lineageKeys(s), strongLineageKeys(s), {
      seriesId: s.id,
      version: s.version,
    });
    const newer = [...versions.entries()].find(([v, e]) => v > s.version && e.status !== 'dropped');
    if (newer) {
      out.push(`v${s.version} superseded by v${newer[0]}`);
      continue;
    }
    // Patches that answer a message we do not have (the cover letter, sent
    // first but not arrived yet) are not complete either: reviewing now
    // would review the series again under the cover's id when it comes.
    const known = new Set(messages.map((m) => m.messageId));
    const coverMissing =
      s.cover === null &&
      (s.expected ?? 1) > 1 &&
      s.patches.some(
        (p) => (p.tags.index ?? 1) >= 2 && p.inReplyTo !== null && !known.has(p.inReplyTo),
      );
    if ((!s.complete || coverMissing) && now < deadline) {
      await queues.queues.assemble.add(
        'assemble',
        { bucket, reason: 'deadline', ...gen } satisfies AssembleJob,
        { jobId: jobIds.assemble(bucket, 'deadline', generation), delay: deadline - now },
      );
      out.push(
        `waiting for ${s.missing.join(',') || 'patches'} of "${s.title}" until ${new Date(deadline).toISOString()}`,
      );
      waiting = true;
      continue;
    }
    const metas = await Promise.all(
      [...(s.cover ? [s.cover] : []), ...s.patches].map((m) =>
        state.getMeta(messageKey(m.messageId)),
      ),
    );
    const list = metas[0]?.list ?? config.lists[0]?.name ?? 'default';
    // A series all of whose messages were in the archive when following began: a backfill.
    const backfill = metas.every((m) => m?.backfill === true);
    out.push(
      await scheduleReview(ctx, s, {
        bucket,
        round: 'a',
        list,
        partial: !s.complete,
        ...(backfill ? { backfill: true } : {}),
        ...gen,
      }),
    );
  }
  if (!waiting && job.data.reason !== 'deadline') {
    // Nothing in this thread waits for missing parts any more: the deadline job is moot.
    const pending = await Job.fromId(
      queues.queues.assemble,
      jobIds.assemble(bucket, 'deadline', generation),
    );
    if (pending && (await pending.isDelayed())) await pending.remove().catch(() => {});
  }
  return out;
}
