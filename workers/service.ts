// `pcibot worker`: the stage functions of `pcibot review` run as BullMQ jobs.
//
//   follow (job scheduler, per list/spool) -> ingest (per message)
//     -> assemble (per thread, on each arrival and at the completeness deadline)
//       -> apply (per series version and round)
//         -> flow: report (parent, per review) <- analyse (child, the series)
//                                               <- verify (child, when it runs)
//           -> send (per reply, exactly once)
//
// One processor per queue in workers/processors/, each a function of its job
// and the JobContext (context.ts); trigger handling is processors/trigger.ts.
// Every job id is derived from what the job is about (jobs.ts), so re-delivery
// and retries never duplicate work. Processors never know whether the rest of
// the pipeline runs in this process or on another machine: everything they
// hand on goes through Redis, by the queues and ServiceState.
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Transport } from '../bot/outbound/transport.js';
import type { QueueName, ServiceConfig } from './config.js';
import { makeContext, type JobContext, type WorkerHooks } from './context.js';
import { jobIds, type FollowJob } from './jobs.js';
import { processors } from './processors/index.js';
import type { ServiceQueues } from './queues.js';
import type { ServiceState } from './state.js';

export type { WorkerHooks };
/** Re-exported for callers that knew them here; defined in bot/series/identity.ts. */
export { bucketPlan, lineageOf } from '../bot/series/identity.js';

export interface StartOptions {
  config: ServiceConfig;
  connection: Redis;
  log?: (line: string) => void;
  /** Queues to work on (default: all). */
  only?: QueueName[];
  /** Lock duration / stalled check interval (ms); shorter in tests so killed jobs come back fast. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
  /** Register the follow job schedulers for the configured lists and spools (default true). */
  schedule?: boolean;
  hooks?: WorkerHooks;
  transport?: Transport;
}

export interface ServiceHandle {
  queues: ServiceQueues;
  state: ServiceState;
  workers: Worker[];
  /** Stop taking jobs, let running ones finish for up to `timeoutMs`, then stop. */
  close(timeoutMs?: number): Promise<{ drained: boolean }>;
}

export async function startWorkers(opts: StartOptions): Promise<ServiceHandle> {
  const { config, connection } = opts;
  const log = opts.log ?? ((l: string) => process.stderr.write(`[pcibot worker] ${l}\n`));
  const prefix = config.redis.prefix;
  const ctx = makeContext({
    config,
    connection,
    log,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.transport ? { transport: opts.transport } : {}),
  });
  const { queues, state } = ctx;
  const transport = ctx.outbound.transport;

  // ---- workers
  const names = opts.only ?? (Object.keys(processors) as QueueName[]);
  // Each queue's jobs carry that queue's data (JobData); the Worker's Job is untyped.
  const run = (name: QueueName) =>
    processors[name] as (job: Job, ctx: JobContext, token?: string) => Promise<unknown>;
  const workers = names.map(
    (name) =>
      new Worker(name, (job, token) => run(name)(job, ctx, token), {
        connection,
        prefix,
        concurrency: config.concurrency[name],
        lockDuration: opts.lockDurationMs ?? config.jobLockSec * 1000,
        stalledInterval: opts.stalledIntervalMs ?? Math.min(30_000, (config.jobLockSec * 1000) / 2),
        maxStalledCount: opts.maxStalledCount ?? 5,
      }),
  );
  for (const w of workers) {
    w.on('failed', (job, err) => {
      if (job)
        log(
          `${w.name} job ${job.id} failed (attempt ${job.attemptsMade}/${job.opts.attempts ?? 1}): ${err.message}`,
        );
    });
    w.on('error', (err) => log(`${w.name}: ${err.message}`));
  }

  // The follow schedules live in Redis: a Redis restarted empty (or restored
  // from a snapshot taken before them) has none, and nothing would be
  // followed again. So they are upserted at start, on every reconnect, and
  // checked every three poll intervals (an upsert of an existing one changes
  // nothing).
  const schedules: { id: string; data: FollowJob }[] = [];
  if (opts.schedule !== false && names.includes('follow')) {
    for (const l of config.lists)
      if (l.mirror)
        schedules.push({ id: jobIds.follow('lore', l.name), data: { kind: 'lore', list: l.name } });
    for (const s of config.spools)
      schedules.push({
        id: jobIds.follow(s.kind, s.list, s.path),
        data: { kind: s.kind, list: s.list, path: s.path },
      });
  }
  let closing = false;
  const ensureSchedules = async (why: string) => {
    for (const sc of schedules) {
      const have = await queues.queues.follow.getJobScheduler(sc.id);
      if (have && why !== 'start') continue;
      await queues.queues.follow.upsertJobScheduler(
        sc.id,
        { every: config.pollIntervalSec * 1000 },
        { name: 'follow', data: sc.data, opts: { attempts: 1 } },
      );
      if (why !== 'start')
        log(`follow schedule ${sc.data.list} (${sc.data.kind}) re-created (${why})`);
    }
  };
  await ensureSchedules('start');
  // Timers of an earlier Redis generation (a completeness deadline, a retry's
  // back-off) that the client's offline queue replayed onto a Redis restarted
  // empty: they complete at once as orphans (state.orphan), but only when
  // their delay runs out, up to completenessTimeoutSec later, holding their
  // queue busy for nothing meanwhile. They are run now instead.
  const runOrphanTimers = async () => {
    const now = await state.generation();
    if (!now) return;
    let n = 0;
    for (const name of names) {
      if (name === 'follow') continue;
      for (const j of await queues.queues[name].getDelayed(0, 999)) {
        const g = (j.data as { generation?: unknown } | undefined)?.generation;
        if (
          typeof g === 'string' &&
          g !== now &&
          (await j.promote().then(
            () => true,
            () => false,
          ))
        )
          n++;
      }
    }
    if (n)
      log(
        `ran ${n} delayed jobs of an earlier Redis generation at once (Redis is at ${now}: orphans)`,
      );
  };
  const onReady = () => {
    if (closing) return;
    ensureSchedules('Redis reconnected').catch((e: Error) =>
      log(`re-creating the follow schedules: ${e.message}`),
    );
    runOrphanTimers().catch((e: Error) => log(`running orphan timers: ${e.message}`));
  };
  connection.on('ready', onReady);
  const watch = setInterval(onReady, 3 * config.pollIntervalSec * 1000);
  watch.unref();

  return {
    queues,
    state,
    workers,
    async close(timeoutMs = config.drainTimeoutSec * 1000) {
      closing = true;
      clearInterval(watch);
      connection.off('ready', onReady);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        Promise.all(workers.map((w) => w.close())).then(() => true),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        log(
          `drain timeout (${timeoutMs} ms): stopping with jobs still running; they will be retried`,
        );
        await Promise.all(workers.map((w) => w.close(true)));
      }
      await queues.close();
      transport.close();
      return { drained };
    },
  };
}
