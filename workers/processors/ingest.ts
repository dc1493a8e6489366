// ingest (per message): parse; patches and cover letters are filed in their
// thread's bucket (bot/series/identity.ts bucketPlan, decided atomically in
// Redis by ServiceState.fileInBucket) and the bucket is (re)assembled;
// replies from others may carry a maintainer's command (trigger.ts).
import { UnrecoverableError, type Job } from 'bullmq';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { bucketPlan, messageKind } from '../../bot/series/identity.js';
import type { JobContext } from '../context.js';
import { jobIds, messageKey, type AssembleJob, type IngestJob } from '../jobs.js';
import { handleTrigger } from './trigger.js';

export async function ingest(job: Job<IngestJob>, ctx: JobContext) {
  const { state, queues, config } = ctx;
  const { raw, list, backfill, generation } = job.data;
  const orphan = await state.orphan(generation);
  if (orphan) {
    ctx.log(`ingest job ${job.id} ${orphan}`);
    return { orphan };
  }
  const parsed = await parseMail(raw);
  if (isParseFailure(parsed)) {
    await state.recordFailure({ ...parsed, list });
    await state.count('messages_failed');
    throw new UnrecoverableError(
      `not a readable mail (${parsed.origin.file}${parsed.origin.commit ? ` ${parsed.origin.commit}` : ''}): ${parsed.reason}`,
    );
  }
  const mk = messageKey(parsed.messageId);
  if (await state.isIngested(mk, generation)) {
    await state.count('messages_duplicate');
    return { duplicate: parsed.messageId };
  }
  const kind = messageKind(parsed);
  const own = parsed.from.address.toLowerCase() === config.mail.from.address;
  const meta = {
    messageId: parsed.messageId,
    subject: parsed.subject,
    from: parsed.from.address,
    list,
    inReplyTo: parsed.inReplyTo,
    references: parsed.references,
    ...(backfill ? { backfill: true } : {}),
  };
  if (kind === 'patch' || kind === 'cover') {
    const bucket = await state.fileInBucket(bucketPlan(parsed));
    await state.putMessage(mk, parsed, { ...meta, bucket, kind });
    await state.addToBucket(bucket, mk);
    await queues.queues.assemble.add(
      'assemble',
      { bucket, reason: 'arrival', ...(generation ? { generation } : {}) } satisfies AssembleJob,
      { jobId: jobIds.assemble(bucket, mk, generation) },
    );
  } else {
    await state.putMessage(mk, parsed, { ...meta, bucket: null, kind });
    if (kind === 'reply' && !own)
      await handleTrigger(parsed, ctx, {
        raw: raw.raw,
        backfill: backfill === true,
        list,
        ...(generation ? { generation } : {}),
      });
  }
  await state.markIngested(mk, generation);
  await state.count('messages_ingested');
  return { kind, messageId: parsed.messageId };
}
