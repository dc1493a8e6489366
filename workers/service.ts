// `pcibot worker`: the stage functions of `pcibot review` run as BullMQ jobs.
//
//   follow (job scheduler, per list/spool) -> ingest (per message)
//     -> assemble (per thread, on each arrival and at the completeness deadline)
//       -> apply (per series version and round)
//         -> flow: report (parent, per series version) <- analyse (child per patch)
//           -> send (per reply, exactly once)
//
// Every job id is derived from what the job is about (jobs.ts), so re-delivery
// and retries never duplicate work. Processors never know whether the rest of
// the pipeline runs in this process or on another machine: everything they
// hand on goes through Redis.
import { Job, UnrecoverableError, Worker, DelayedError, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { analyseSeries, type AnalyseOutput } from '../bot/analyse/analyse.js';
import { followOnce, FollowState } from '../bot/lore/follow.js';
import { followSpool } from '../bot/lore/spool.js';
import { isParseFailure, parseMail } from '../bot/mail/parse.js';
import { composeReply } from '../bot/outbound/compose.js';
import { deliverReply } from '../bot/outbound/deliver.js';
import { ReplyLedger } from '../bot/outbound/ledger.js';
import { RateLimiter, type Limit } from '../bot/outbound/ratelimit.js';
import { outboxTransport, smtpTransport, type Transport } from '../bot/outbound/transport.js';
import { assembleSeries } from '../bot/series/assemble.js';
import { bucketOf, lineageKeys, lineageOf, messageKind } from '../bot/series/identity.js';
import { scopeSeries } from '../bot/series/scope.js';
import type { ListConfig, QueueName, ServiceConfig } from './config.js';
import { applySeries, seriesPatches } from '../bot/tree/apply.js';
import { verifySeries } from '../bot/verify/series.js';
import { whenToVerify } from '../bot/verify/when.js';
import { AllowList } from '../bot/triggers/allowlist.js';
import { parseTrigger, type TriggerCommand } from '../bot/triggers/parse.js';
import { atLeast, patchIndex, type Finding, type Message, type Series } from '../bot/types.js';
import { join } from 'node:path';
import {
  jobIds,
  messageKey,
  reviewKeyOf,
  type AnalyseJob,
  type ApplyJob,
  type AssembleJob,
  type FollowJob,
  type IngestJob,
  type ReportJob,
  type ReviewRequest,
  type SendJob,
  type VerifyJob,
} from './jobs.js';
import { ServiceQueues } from './queues.js';
import { ServiceState, type ReviewRecord } from './state.js';

export interface WorkerHooks {
  /** Called between the ledger's intent and the actual send (crash test). */
  beforeSend?: () => Promise<void> | void;
  /** Called after each batch of follow enqueues, before the cursor moves (crash test). */
  afterEnqueue?: () => Promise<void> | void;
}

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

/** Re-exported for callers that knew them here; defined in bot/series/identity.ts. */
export { bucketOf, lineageOf };

const findingKey = (f: Pick<Finding, 'rule' | 'file' | 'title'>) =>
  `${f.rule}\0${f.file ?? ''}\0${f.title}`;

/** Per process: analyse a series once even though each patch is its own job. */
const analyseMemo = new Map<string, Promise<AnalyseOutput>>();

export async function startWorkers(opts: StartOptions): Promise<ServiceHandle> {
  const { config, connection } = opts;
  const log = opts.log ?? ((l: string) => process.stderr.write(`[pcibot worker] ${l}\n`));
  const prefix = config.redis.prefix;
  const queues = new ServiceQueues(connection, prefix);
  const state = new ServiceState(connection, prefix, config.retentionDays);
  const follow = new FollowState(connection, prefix);
  const ledger = new ReplyLedger(connection, prefix);
  const limiter = new RateLimiter(connection, prefix);
  const transport =
    opts.transport ??
    (config.mail.send && config.mail.smtp
      ? smtpTransport(config.mail.smtp)
      : outboxTransport(config.mail.outbox));
  const allow = new AllowList(config.allowList, config.tree.path, config.maintainersFromTree);
  const listOf = (name: string): ListConfig => {
    const l = config.lists.find((x) => x.name === name);
    if (!l) throw new UnrecoverableError(`no list "${name}" in the config`);
    return l;
  };

  // ---- scheduling a review (from assemble, or from a trigger)
  async function dropReview(reviewKey: string, why: string): Promise<void> {
    await connection.set(state.key('dropped', reviewKey), why, 'EX', state.ttl);
    for (const [queue, id] of [
      ['apply', jobIds.apply(reviewKey)],
      ['report', jobIds.report(reviewKey)],
    ] as const) {
      const job = await Job.fromId(queues.queues[queue], id);
      if (!job) continue;
      const st = await job.getState();
      if (
        st === 'waiting' ||
        st === 'delayed' ||
        st === 'waiting-children' ||
        st === 'prioritized'
      ) {
        try {
          await job.remove({ removeChildren: true });
        } catch (err) {
          log(`could not drop ${id}: ${(err as Error).message}`);
        }
      }
    }
  }
  const isDropped = async (reviewKey: string) =>
    (await connection.exists(state.key('dropped', reviewKey))) === 1;

  async function scheduleReview(
    series: Series,
    req: Omit<ReviewRequest, 'reviewKey' | 'seriesId' | 'version' | 'lineage'>,
  ): Promise<string> {
    const reviewKey = reviewKeyOf(series.id, series.version, req.round);
    const lineage = lineageKeys(series);
    const full: ReviewRequest = {
      ...req,
      reviewKey,
      seriesId: series.id,
      version: series.version,
      lineage,
    };
    await state.putSeries(reviewKey, series);
    await queues.queues.apply.add('apply', full satisfies ApplyJob, {
      jobId: jobIds.apply(reviewKey),
    });
    // Concurrent assemble jobs of one thread may all get here; the claim picks
    // one to record the lineage and drop older versions (the apply job above
    // is deduplicated by its id anyway).
    const first = await state.claimReview(reviewKey);
    if (!first) return reviewKey;
    if (req.round === 'a') {
      await state.setLineage(lineage, series.version, {
        reviewKey,
        seriesId: series.id,
        status: 'scheduled',
      });
      // A newer version supersedes older ones still waiting.
      for (const [v, e] of await state.lineage(lineage)) {
        if (v < series.version && e.status === 'scheduled') {
          await dropReview(e.reviewKey, `superseded by v${series.version}`);
          await state.setLineage(lineage, v, { ...e, status: 'dropped' });
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

  // ---- processors
  const processors: Record<QueueName, Processor> = {
    follow: async (job: Job<FollowJob>) => {
      const { kind, list } = job.data;
      const l = listOf(list);
      const enqueue = async (mails: import('../bot/types.js').RawMail[]) => {
        await queues.enqueueMails(mails, list);
        await opts.hooks?.afterEnqueue?.();
      };
      if (kind === 'lore') {
        if (!l.mirror) return { skipped: 'no mirror configured' };
        const release = await follow.lock(list, config.jobLockSec * 1000);
        if (!release) return { skipped: 'another worker is following this list' };
        try {
          const r = await followOnce({
            list,
            source: l.mirror,
            mirrorDir: join(config.mirrorsDir, list),
            startFrom: l.startFrom,
            state: follow,
            enqueue,
          });
          if (r.enqueued)
            log(`${list}: ${r.enqueued} new messages queued (epochs ${r.epochs.join(',')})`);
          return r;
        } finally {
          await release();
        }
      }
      const r = await followSpool({
        list,
        path: job.data.path!,
        kind,
        redis: connection,
        prefix,
        enqueue,
      });
      for (const f of r.failures) log(`spool: ${f}`);
      return r;
    },

    ingest: async (job: Job<IngestJob>) => {
      const { raw, list } = job.data;
      const parsed = await parseMail(raw);
      if (isParseFailure(parsed)) {
        await state.recordFailure({ ...parsed, list });
        await state.count('messages_failed');
        throw new UnrecoverableError(
          `not a readable mail (${parsed.origin.file}${parsed.origin.commit ? ` ${parsed.origin.commit}` : ''}): ${parsed.reason}`,
        );
      }
      const mk = messageKey(parsed.messageId);
      if (await state.isIngested(mk)) {
        await state.count('messages_duplicate');
        return { duplicate: parsed.messageId };
      }
      const kind = messageKind(parsed);
      const own = parsed.from.address.toLowerCase() === config.mail.from.address;
      if (kind === 'patch' || kind === 'cover') {
        const bucket = bucketOf(parsed);
        await state.putMessage(mk, parsed, {
          messageId: parsed.messageId,
          subject: parsed.subject,
          from: parsed.from.address,
          list,
          bucket,
          kind,
        });
        await state.addToBucket(bucket, mk);
        await queues.queues.assemble.add(
          'assemble',
          { bucket, reason: 'arrival' } satisfies AssembleJob,
          { jobId: jobIds.assemble(bucket, mk) },
        );
      } else {
        await state.putMessage(mk, parsed, {
          messageId: parsed.messageId,
          subject: parsed.subject,
          from: parsed.from.address,
          list,
          bucket: null,
          kind,
        });
        if (kind === 'reply' && !own) await handleTrigger(parsed);
      }
      await state.markIngested(mk);
      await state.count('messages_ingested');
      return { kind, messageId: parsed.messageId };
    },

    assemble: async (job: Job<AssembleJob>) => {
      const { bucket } = job.data;
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
          if (
            (await connection.set(
              state.key('skipped', s.id, String(s.version)),
              scope.reason,
              'EX',
              state.ttl,
              'NX',
            )) === 'OK'
          ) {
            await state.count('series_skipped');
            log(`skipped "${s.title}" v${s.version}: ${scope.reason}`);
          }
          continue;
        }
        const rk = reviewKeyOf(s.id, s.version, 'a');
        if (await state.isScheduled(rk)) continue;
        const newer = [...(await state.lineage(lineageKeys(s))).entries()].find(
          ([v, e]) => v > s.version && e.status !== 'dropped',
        );
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
            { bucket, reason: 'deadline' } satisfies AssembleJob,
            {
              jobId: jobIds.assemble(bucket, 'deadline'),
              delay: deadline - now,
            },
          );
          out.push(
            `waiting for ${s.missing.join(',') || 'patches'} of "${s.title}" until ${new Date(deadline).toISOString()}`,
          );
          waiting = true;
          continue;
        }
        const list =
          (await state.getMeta(messageKey((s.cover ?? s.patches[0]!).messageId)))?.list ??
          config.lists[0]?.name ??
          'default';
        out.push(await scheduleReview(s, { bucket, round: 'a', list, partial: !s.complete }));
      }
      if (!waiting && job.data.reason !== 'deadline') {
        // Nothing in this thread waits for missing parts any more: the deadline job is moot.
        const pending = await Job.fromId(
          queues.queues.assemble,
          jobIds.assemble(bucket, 'deadline'),
        );
        if (pending && (await pending.isDelayed())) await pending.remove().catch(() => {});
      }
      return out;
    },

    apply: async (job: Job<ApplyJob>) => {
      const req = job.data;
      if (await isDropped(req.reviewKey)) return { dropped: true };
      const series = await state.getSeries(req.reviewKey);
      if (!series)
        throw new UnrecoverableError(`series of review ${req.reviewKey} is gone from Redis`);
      let applied = null;
      if (config.tree.path) {
        applied = await applySeries({
          tree: config.tree.path,
          patches: seriesPatches(series),
          baseCommit: req.baseCommit ?? series.baseCommit,
          branches: config.tree.branches,
        });
      }
      await state.putApplied(req.reviewKey, applied);
      // Verify when the deployment runs it, for the series bot/verify/when.ts says.
      const verify = whenToVerify(config.verify.enabled, applied).verify;
      await queues.flow.add({
        name: 'report',
        queueName: 'report',
        prefix,
        data: req satisfies ReportJob,
        opts: { jobId: jobIds.report(req.reviewKey) },
        children: [
          ...(verify
            ? [
                {
                  name: 'verify',
                  queueName: 'verify',
                  prefix,
                  data: {
                    reviewKey: req.reviewKey,
                    ...(req.scenarios?.length ? { scenarios: req.scenarios } : {}),
                  } satisfies VerifyJob,
                  opts: {
                    jobId: jobIds.verify(req.reviewKey),
                    attempts: 2,
                    backoff: { type: 'fixed', delay: 30_000 },
                  },
                },
              ]
            : []),
          ...series.patches.map((p, pos) => {
            const index = patchIndex(p, pos);
            return {
              name: 'analyse',
              queueName: 'analyse',
              prefix,
              data: {
                reviewKey: req.reviewKey,
                index,
                first: pos === 0,
                ...(req.scenarios?.length ? { scenarios: req.scenarios } : {}),
              } satisfies AnalyseJob,
              opts: {
                jobId: jobIds.analyse(req.reviewKey, index),
                attempts: 4,
                backoff: { type: 'exponential', delay: 2000 },
              },
            };
          }),
        ],
      });
      return { base: applied?.base ?? null, patches: applied?.patches.map((p) => p.status) ?? [] };
    },

    analyse: async (job: Job<AnalyseJob>) => {
      const { reviewKey, index, first, scenarios } = job.data;
      if (await isDropped(reviewKey))
        return { index, findings: [], series: [], errors: [], dropped: true };
      let p = analyseMemo.get(reviewKey);
      if (!p) {
        p = (async () => {
          const series = await state.getSeries(reviewKey);
          const applied = await state.getApplied(reviewKey);
          if (!series || !applied)
            throw new UnrecoverableError(`review ${reviewKey} has no series/applied state`);
          return analyseSeries({
            series,
            applied: applied.applied,
            ...(scenarios?.length ? { model: { only: scenarios } } : {}),
          });
        })();
        analyseMemo.set(reviewKey, p);
        p.catch(() => analyseMemo.delete(reviewKey));
        while (analyseMemo.size > 16) analyseMemo.delete(analyseMemo.keys().next().value!);
      }
      const out = await p;
      return {
        index,
        findings: out.perPatch[index] ?? [],
        series: first ? out.series : [],
        errors: first
          ? out.errors.map((e) => `rule ${e.rule} on patch ${e.patch}: ${e.error}`)
          : [],
      };
    },

    verify: async (job: Job<VerifyJob>) => {
      const { reviewKey } = job.data;
      if (await isDropped(reviewKey))
        return { index: -1, findings: [], series: [], errors: [], dropped: true };
      const applied = await state.getApplied(reviewKey);
      if (!applied?.applied)
        throw new UnrecoverableError(`review ${reviewKey} has no applied state to verify`);
      const v = await verifySeries({
        applied: applied.applied,
        ...((job.data.scenarios ?? config.verify.scenarios)
          ? { only: job.data.scenarios ?? config.verify.scenarios! }
          : {}),
        log: (line) => {
          if (/^(build|boot)/.test(line)) log(`verify ${reviewKey}: ${line}`);
        },
      });
      log(
        `verified ${reviewKey}: ${v.scenarios.filter((x) => x.status === 'measured').length} runs measured in ${v.seconds.toFixed(0)} s`,
      );
      // Shaped like an analyse child: series-level findings only (index -1: no patch).
      return { index: -1, findings: [], series: v.findings, errors: [] };
    },

    report: async (job: Job<ReportJob>) => {
      const req = job.data;
      if (await isDropped(req.reviewKey)) return { dropped: true };
      const series = await state.getSeries(req.reviewKey);
      if (!series)
        throw new UnrecoverableError(`series of review ${req.reviewKey} is gone from Redis`);
      const children = Object.values(await job.getChildrenValues()) as {
        index: number;
        findings: Finding[];
        series: Finding[];
        errors: string[];
      }[];
      for (const c of children)
        for (const e of c.errors) log(`internal error in ${req.reviewKey}: ${e}`);
      const quiet = await state.quietRules(req.bucket);
      const list = listOf(req.list);
      // Quiet by default: findings below the list's threshold never cause a mail
      // by themselves; the model's series-level context rides along when one is sent.
      const worthMail = (f: Finding) => atLeast(f.severity, list.reply.minSeverity);
      const unquiet = (f: Finding) => !quiet.has(f.rule);
      const seriesLevel = children.flatMap((c) => c.series).filter(unquiet);
      const patchLevel = children.map((c) => ({
        index: c.index,
        findings: c.findings.filter(unquiet),
      }));
      const mailWorthy =
        seriesLevel.some(worthMail) || patchLevel.some((c) => c.findings.some(worthMail));
      const context = (f: Finding) => /^(model|verify)\//.test(f.rule);
      const perPatch: Record<number, Finding[]> = {
        0: mailWorthy ? seriesLevel.filter((f) => worthMail(f) || context(f)) : [],
      };
      for (const c of patchLevel)
        perPatch[c.index] = mailWorthy ? c.findings.filter(worthMail) : [];
      const all = Object.values(perPatch).flat();

      // What the previous reviewed version had and this one does not.
      let fixed: ReviewRecord['fixed'] = null;
      const lineage = await state.lineage(req.lineage);
      const prev = [...lineage.entries()]
        .filter(([v, e]) => v < req.version && e.status === 'reviewed')
        .sort((a, b) => b[0] - a[0])[0];
      if (prev) {
        const now = new Set(all.map(findingKey));
        fixed = {
          version: prev[0],
          findings: (prev[1].findings ?? []).filter((f) => !now.has(findingKey(f))),
        };
      }

      const notes: string[] = [];
      if (series.missing.length)
        notes.push(
          `Reviewed without patch${series.missing.length > 1 ? 'es' : ''} ${series.missing.join(', ')} of ${series.expected}, which did not arrive${req.partial && req.round === 'a' ? ` within ${Math.round(config.completenessTimeoutSec / 60)} minutes` : ''}.`,
        );
      if (fixed && fixed.findings.length)
        notes.push(
          `Fixed since v${fixed.version}:\n${fixed.findings.map((f) => `- ${f.title}${f.file ? ` (${f.file})` : ''}`).join('\n')}`,
        );
      if (req.scenarios?.length) notes.push(`Scenarios asked for: ${req.scenarios.join(', ')}.`);

      const target = series.cover ?? series.patches[0]!;
      const replies: { index: number; original: Message; findings: Finding[]; notes: string[] }[] =
        [];
      // Without a cover letter the series-level findings answer the first patch:
      // in the same mail as that patch's own findings (one reply per message).
      const first = series.patches[0]!;
      const seriesOnFirst = !series.cover;
      if (perPatch[0]!.length && !seriesOnFirst)
        replies.push({ index: 0, original: target, findings: perPatch[0]!, notes: [] });
      series.patches.forEach((p, pos) => {
        const index = patchIndex(p, pos);
        const own = perPatch[index] ?? [];
        const findings = seriesOnFirst && p === first ? [...perPatch[0]!, ...own] : own;
        if (findings.length) replies.push({ index, original: p, findings, notes: [] });
      });
      if (replies.length) replies[0]!.notes.push(...notes);
      else if (list.reply.allClear || req.trigger) {
        const asked = req.trigger
          ? [...series.patches, ...(series.cover ? [series.cover] : [])].find(
              (m) => m.messageId === req.trigger!.target,
            )
          : undefined;
        replies.push({
          index: 0,
          original: asked ?? target,
          findings: [],
          notes: [
            `pcibot found nothing to report on this series${series.version > 1 ? ` (v${series.version})` : ''}.`,
            ...notes,
          ],
        });
      }

      const replyKeys: string[] = [];
      for (const r of replies) {
        const replyKey = `${req.reviewKey}-p${r.index}`;
        const c = await composeReply({
          original: r.original,
          findings: r.findings,
          notes: r.notes,
          list,
          from: config.mail.from,
          replyKey,
          infoUrl: config.mail.infoUrl,
        });
        await queues.queues.send.add(
          'send',
          {
            replyKey,
            reviewKey: req.reviewKey,
            list: req.list,
            bucket: req.bucket,
            automatic: req.round === 'a',
            messageId: c.messageId,
            inReplyTo: c.inReplyTo,
            subject: c.subject,
            envelope: c.envelope,
            eml: c.eml,
          } satisfies SendJob,
          {
            jobId: jobIds.send(replyKey),
            attempts: 8,
            backoff: { type: 'exponential', delay: 5000 },
          },
        );
        replyKeys.push(replyKey);
      }
      const record: ReviewRecord = {
        reviewKey: req.reviewKey,
        seriesId: series.id,
        title: series.title,
        version: series.version,
        round: req.round,
        list: req.list,
        status: 'reviewed',
        partial: req.partial,
        missing: series.missing,
        findings: perPatch,
        fixed,
        replies: replyKeys,
        at: new Date().toISOString(),
      };
      await state.putReview(record);
      if (req.round === 'a')
        await state.setLineage(req.lineage, req.version, {
          reviewKey: req.reviewKey,
          seriesId: series.id,
          status: 'reviewed',
          findings: all.map((f) => ({ rule: f.rule, file: f.file, title: f.title })),
        });
      await state.count('series_reviewed');
      log(
        `reviewed ${req.reviewKey} "${series.title}" v${series.version}: ${all.length} findings, ${replyKeys.length} replies`,
      );
      return { findings: all.length, replies: replyKeys };
    },

    send: async (job: Job<SendJob>, token?: string) => {
      const d = job.data;
      const list = listOf(d.list);
      const quiet = await state.quietRules(d.bucket);
      const limits: Limit[] = [
        {
          key: limiter.limitKey('list', d.list),
          max: list.rateLimit.max,
          windowMs: list.rateLimit.perSeconds * 1000,
        },
        ...d.envelope.to.map((a) => ({
          key: limiter.limitKey('rcpt', a),
          max: config.mail.perRecipient.max,
          windowMs: config.mail.perRecipient.perSeconds * 1000,
        })),
      ];
      const outcome = await deliverReply(
        {
          replyKey: d.replyKey,
          messageId: d.messageId,
          eml: d.eml,
          envelope: d.envelope,
          suppressedBecause:
            d.automatic && quiet.has('*') ? 'the thread was silenced with "pcibot: quiet"' : null,
          limits,
        },
        { ledger, limiter, transport, log, beforeSend: opts.hooks?.beforeSend },
      );
      switch (outcome.kind) {
        case 'sent':
          await state.count(transport.kind === 'smtp' ? 'replies_sent' : 'replies_outbox');
          log(`reply ${d.replyKey} <${d.messageId}> ${outcome.detail}`);
          break;
        case 'unknown':
          await state.count('replies_unknown');
          break;
        case 'suppressed':
          await state.count('replies_suppressed');
          break;
        case 'rate-limited':
          await state.count('replies_rate_limited');
          await job.moveToDelayed(Date.now() + outcome.waitMs, token);
          throw new DelayedError();
        case 'failed':
          if (!outcome.retry) throw new UnrecoverableError(outcome.detail);
          throw new Error(outcome.detail);
      }
      return outcome;
    },
  };

  // ---- triggers
  async function handleTrigger(msg: Message): Promise<void> {
    const t = parseTrigger(msg.body);
    if (!t) return;
    const from = msg.from.address.toLowerCase();
    const base = { messageId: msg.messageId, from, line: t.line };
    const why = await allow.allows(from);
    if (!why) {
      await state.count('triggers_ignored');
      await state.recordTrigger({
        ...base,
        outcome: 'ignored',
        reason: 'sender not on the allow-list',
      });
      log(`ignored "${t.line}" from ${from} <${msg.messageId}>: not on the allow-list`);
      return;
    }
    if ('error' in t) {
      await state.recordTrigger({ ...base, outcome: 'ignored', reason: t.error });
      log(`ignored "${t.line}" from ${from}: ${t.error}`);
      return;
    }
    const targetId = msg.inReplyTo!;
    const meta = await state.getMeta(messageKey(targetId));
    if (!meta || !meta.bucket) {
      await state.recordTrigger({
        ...base,
        outcome: 'ignored',
        reason: `the replied-to message <${targetId}> is not a patch pcibot has seen`,
      });
      log(`ignored "${t.line}" from ${from}: <${targetId}> is not a known patch`);
      return;
    }
    const cmd: TriggerCommand = t.command;
    if (cmd.kind === 'quiet') {
      await state.setQuiet(meta.bucket, cmd.rule);
      await state.count('triggers_honoured');
      await state.recordTrigger({ ...base, outcome: 'honoured', allowedBy: why, command: cmd });
      log(`${from} (${why}): quiet${cmd.rule ? ` ${cmd.rule}` : ''} on thread ${meta.bucket}`);
      return;
    }
    const assembly = assembleSeries(await state.bucketMessages(meta.bucket));
    const series = assembly.series.find(
      (s) =>
        s.cover?.messageId === targetId ||
        s.patches.some((p) => p.messageId === targetId) ||
        s.supersedes.some((o) => o.messageIds.includes(targetId)),
    );
    if (!series) {
      await state.recordTrigger({
        ...base,
        outcome: 'ignored',
        reason: `no series found for <${targetId}>`,
      });
      return;
    }
    const round = `t${messageKey(msg.messageId).slice(0, 12)}`;
    const reviewKey = await scheduleReview(series, {
      bucket: meta.bucket,
      round,
      list: meta.list,
      partial: !series.complete,
      baseCommit: cmd.kind === 'review' ? cmd.base : null,
      ...(cmd.kind === 'scenarios' ? { scenarios: cmd.names } : {}),
      trigger: { messageId: msg.messageId, from, command: t.line, target: targetId },
    });
    await state.count('triggers_honoured');
    await state.recordTrigger({
      ...base,
      outcome: 'honoured',
      allowedBy: why,
      command: cmd,
      reviewKey,
    });
    log(`${from} (${why}): "${t.line}" -> review ${reviewKey}`);
  }

  // ---- workers
  const names = opts.only ?? (Object.keys(processors) as QueueName[]);
  const workers = names.map(
    (name) =>
      new Worker(name, processors[name], {
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

  if (opts.schedule !== false && names.includes('follow')) {
    for (const l of config.lists) {
      if (!l.mirror) continue;
      const data: FollowJob = { kind: 'lore', list: l.name };
      await queues.queues.follow.upsertJobScheduler(
        jobIds.follow('lore', l.name),
        { every: config.pollIntervalSec * 1000 },
        { name: 'follow', data, opts: { attempts: 1 } },
      );
    }
    for (const s of config.spools) {
      const data: FollowJob = { kind: s.kind, list: s.list, path: s.path };
      await queues.queues.follow.upsertJobScheduler(
        jobIds.follow(s.kind, s.list, s.path),
        { every: config.pollIntervalSec * 1000 },
        { name: 'follow', data, opts: { attempts: 1 } },
      );
    }
  }

  return {
    queues,
    state,
    workers,
    async close(timeoutMs = config.drainTimeoutSec * 1000) {
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
