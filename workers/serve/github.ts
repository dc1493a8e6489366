// POST /github/webhook: GitHub's deliveries. Not behind the dashboard's auth:
// GitHub authenticates by signature. In order, each refusal changing nothing:
// GitHub configured (else 404), JSON content type (415), a body within
// github.maxWebhookBytes (413), X-Hub-Signature-256 valid over the raw bytes
// (401; checked by @octokit/webhooks, timing-safe), the delivery and event
// headers (400), a delivery not acted on before (200, from the durable
// journal: <stateDir>/<prefix>/github/deliveries.jsonl), a JSON object (400).
// Then the event is classified (bot/github/events.ts) and the job queued
// (202): a PR head, delayed by github.debounceSec (one job per head; the job
// does nothing unless its head is still the PR's), or a comment command (one
// job per comment, so a replay under a fresh delivery id runs nothing). The
// delivery is recorded once Redis holds the job, so a delivery that could
// not be queued (503) is taken again when GitHub redelivers it.
import { join } from 'node:path';
import { Webhooks } from '@octokit/webhooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { DeliveryJournal } from '../../bot/github/deliveries.js';
import { classifyEvent } from '../../bot/github/events.js';
import { prLabel } from '../../bot/github/pr.js';
import { stateRoot, type ServiceConfig } from '../config.js';
import { GithubState, prKeyOf } from '../github.js';
import { jobIds, type GithubJob } from '../jobs.js';
import type { ServiceQueues } from '../queues.js';
import { ServiceState } from '../state.js';

export const WEBHOOK_PATH = '/github/webhook';

export function githubWebhookRouter(opts: {
  config: ServiceConfig;
  redis: Redis;
  queues: ServiceQueues;
  log?: (line: string) => void;
}): express.Router {
  const { config, redis, queues } = opts;
  const g = config.github;
  const log = opts.log ?? (() => {});
  const router = express.Router();
  if (!g.enabled || !g.webhookSecret) {
    router.post(WEBHOOK_PATH, (_req, res) => {
      res.status(404).type('text/plain').send('pcibot: GitHub is not configured here\n');
    });
    return router;
  }
  const webhooks = new Webhooks({ secret: g.webhookSecret });
  const journal = new DeliveryJournal(
    join(stateRoot(config), 'github', 'deliveries'),
    Math.max(7, config.retentionDays),
  );
  const state = new ServiceState(redis, config.redis.prefix, config.retentionDays);
  const ghState = new GithubState(redis, config.redis.prefix, config.retentionDays * 86400);
  const say = (res: Response, status: number, text: string) =>
    res.status(status).type('text/plain').send(`${text}\n`);

  router.post(
    WEBHOOK_PATH,
    (req, res, next) => {
      if (!req.is('application/json'))
        return say(
          res,
          415,
          "pcibot: the webhook must send application/json (the App's content type)",
        );
      next();
    },
    express.raw({ type: () => true, limit: g.maxWebhookBytes }),
    async (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? (req.body as Buffer) : Buffer.alloc(0);
      const signature = req.get('x-hub-signature-256') ?? '';
      const text = body.toString('utf8');
      let valid = false;
      try {
        valid = /^sha256=[0-9a-f]{64}$/.test(signature) && (await webhooks.verify(text, signature));
      } catch {
        valid = false;
      }
      if (!valid) {
        await state.count('github_signature_rejected').catch(() => {});
        return say(res, 401, 'pcibot: X-Hub-Signature-256 does not match the body');
      }
      const delivery = req.get('x-github-delivery') ?? '';
      const event = req.get('x-github-event') ?? '';
      if (!/^[A-Za-z0-9-]{1,100}$/.test(delivery) || !/^[a-z_]{1,64}$/.test(event))
        return say(res, 400, 'pcibot: X-GitHub-Delivery and X-GitHub-Event are required');
      if (journal.has(delivery)) {
        await state.count('github_deliveries_duplicate').catch(() => {});
        return say(res, 200, `pcibot: delivery ${delivery} was handled before`);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        return say(res, 400, 'pcibot: the body is not JSON');
      }
      const action = classifyEvent(event, payload, g);
      try {
        let outcome: string;
        if (action.kind === 'ignore') {
          outcome = `ignored: ${action.why}`;
          await state.count('github_events_ignored');
        } else if (action.kind === 'pr') {
          const pk = prKeyOf(action.ref);
          await ghState.setHead(pk, action.headSha);
          const data: GithubJob = {
            kind: 'pr',
            deliveryId: delivery,
            action: action.action,
            ...action.ref,
            headSha: action.headSha,
            installationId: action.installationId,
          };
          const id = jobIds.githubPr(pk, action.headSha);
          await queues.queues.github.add('github', data, {
            jobId: id,
            delay: g.debounceSec * 1000,
          });
          outcome = `queued ${id}: ${prLabel(action.ref)} ${action.action} at ${action.headSha.slice(0, 12)}`;
        } else {
          const data: GithubJob = {
            kind: 'command',
            deliveryId: delivery,
            ...action.ref,
            installationId: action.installationId,
            command: action.command,
            commentId: action.commentId,
            user: action.user,
          };
          const id = jobIds.githubCommand(prKeyOf(action.ref), action.commentId);
          await queues.queues.github.add('github', data, { jobId: id });
          outcome = `queued ${id}: /pcibot ${action.command} on ${prLabel(action.ref)} by ${action.user}`;
        }
        await state.count('github_deliveries');
        await journal.record({ id: delivery, event, outcome });
        log(`github delivery ${delivery} (${event}): ${outcome}`);
        return say(res, 202, `pcibot: ${outcome}`);
      } catch (err) {
        log(`github delivery ${delivery}: not queued: ${(err as Error).message}`);
        return say(res, 503, 'pcibot: could not queue the delivery; redeliver it later');
      }
    },
  );
  // express.raw's refusals (too large, unreadable) as plain answers, never a stack trace.
  router.use(WEBHOOK_PATH, (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (status === 413)
      return say(
        res,
        413,
        `pcibot: the body is larger than github.maxWebhookBytes (${g.maxWebhookBytes})`,
      );
    if (typeof status === 'number' && status >= 400 && status < 500)
      return say(res, status, 'pcibot: the body could not be read');
    next(err);
  });
  return router;
}
