// What every processor is given besides its job (as probot hands each handler
// a context): the queues to hand work on, the service state in Redis, the
// config, the log, and the few long-lived helpers the edges need (the lore
// follow state, the reply ledger and rate limiter, the transport, the
// allow-list). One JobContext per worker process, made by startWorkers().
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { FollowState } from '../bot/lore/follow.js';
import { ReplyLedger } from '../bot/outbound/ledger.js';
import { RateLimiter } from '../bot/outbound/ratelimit.js';
import { outboxTransport, smtpTransport, type Transport } from '../bot/outbound/transport.js';
import { AllowList } from '../bot/triggers/allowlist.js';
import type { ListConfig, ServiceConfig } from './config.js';
import { ServiceQueues } from './queues.js';
import { ServiceState } from './state.js';

export interface WorkerHooks {
  /** Called between the ledger's intent and the actual send (crash test). */
  beforeSend?: () => Promise<void> | void;
  /** Called after each batch of follow enqueues, before the cursor moves (crash test). */
  afterEnqueue?: () => Promise<void> | void;
}

export interface JobContext {
  config: ServiceConfig;
  queues: ServiceQueues;
  state: ServiceState;
  log: (line: string) => void;
  /** The list a job is about, by name; an unknown list is a bad job (not retried). */
  list(name: string): ListConfig;
  /** Lore cursors and follow locks (bot/lore/follow.ts). */
  follow: FollowState;
  outbound: { ledger: ReplyLedger; limiter: RateLimiter; transport: Transport };
  allow: AllowList;
  hooks: WorkerHooks;
  /** The Redis connection, for the edge modules that keep their own keys (spools). */
  redis: Redis;
}

export function makeContext(opts: {
  config: ServiceConfig;
  connection: Redis;
  log: (line: string) => void;
  hooks?: WorkerHooks;
  transport?: Transport;
}): JobContext {
  const { config, connection } = opts;
  const prefix = config.redis.prefix;
  const transport =
    opts.transport ??
    (config.mail.send && config.mail.smtp
      ? smtpTransport(config.mail.smtp)
      : outboxTransport(config.mail.outbox));
  return {
    config,
    queues: new ServiceQueues(connection, prefix),
    state: new ServiceState(connection, prefix, config.retentionDays),
    log: opts.log,
    list(name) {
      const l = config.lists.find((x) => x.name === name);
      if (!l) throw new UnrecoverableError(`no list "${name}" in the config`);
      return l;
    },
    follow: new FollowState(connection, prefix),
    outbound: {
      ledger: new ReplyLedger(connection, prefix),
      limiter: new RateLimiter(connection, prefix),
      transport,
    },
    allow: new AllowList(config.allowList, config.tree.path, config.maintainersFromTree),
    hooks: opts.hooks ?? {},
    redis: connection,
  };
}
