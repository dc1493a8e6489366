// What every processor is given besides its job (as probot hands each handler
// a context): the queues to hand work on, the service state in Redis, the
// config, the log, and the few long-lived helpers the edges need (the lore
// follow state, the reply ledger and rate limiter, the transport, the
// allow-list). One JobContext per worker process, made by startWorkers().
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { ArchiveLookup } from '../bot/lore/archive.js';
import { FollowState } from '../bot/lore/follow.js';
import { ListJournal } from '../bot/lore/journal.js';
import { ReplyJournal } from '../bot/outbound/journal.js';
import { ReplyLedger } from '../bot/outbound/ledger.js';
import { RateLimiter } from '../bot/outbound/ratelimit.js';
import { outboxTransport, smtpTransport, type Transport } from '../bot/outbound/transport.js';
import { AllowList } from '../bot/triggers/allowlist.js';
import type { DnsResolver } from '../bot/triggers/dkim.js';
import { GithubApp, type Octokit } from '../bot/github/client.js';
import { stateRoot, type ListConfig, type ServiceConfig } from './config.js';
import { GithubState } from './github.js';
import { ServiceQueues } from './queues.js';
import { ServiceState } from './state.js';

export interface WorkerHooks {
  /** Called between the ledger's intent and the actual send (crash test). */
  beforeSend?: () => Promise<void> | void;
  /** Called after each batch of follow enqueues, before the cursor moves (crash test). */
  afterEnqueue?: () => Promise<void> | void;
  /** DNS for DKIM checks of triggers (tests inject one; default: the system resolver). */
  dkimResolver?: DnsResolver;
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
  /** What outlives Redis, per list: the follow cursor journal (bot/lore/journal.ts). */
  journal(list: string): ListJournal;
  /** The list's archive as the record of what pcibot sent (bot/lore/archive.ts). */
  archive(list: string): ArchiveLookup;
  hooks: WorkerHooks;
  /** The Redis connection, for the edge modules that keep their own keys (spools). */
  redis: Redis;
  /** The GitHub App's clients (made on first use) and the GitHub state in Redis. */
  github: {
    state: GithubState;
    /** An installation's client; a bad job (not retried) when the App is not configured. */
    installation(id: number): Promise<Octokit>;
    /** The App's own login ("<slug>[bot]"), to tell its comments from other bots'. */
    botLogin(): Promise<string>;
  };
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
  const root = stateRoot(config);
  const journals = new Map<string, ListJournal>();
  const journal = (list: string) => {
    let j = journals.get(list);
    if (!j) journals.set(list, (j = new ListJournal(join(root, 'lists', list))));
    return j;
  };
  const transport =
    opts.transport ??
    (config.mail.send && config.mail.smtp
      ? smtpTransport(config.mail.smtp)
      : outboxTransport(config.mail.outbox));
  const state = new ServiceState(connection, prefix, config.retentionDays);
  const ghState = new GithubState(connection, prefix, config.retentionDays * 86400);
  let app: GithubApp | null = null;
  const theApp = (): GithubApp => {
    const g = config.github;
    if (!g.enabled || !g.appId || !g.privateKey)
      throw new UnrecoverableError(
        'github is not configured (github.appId, privateKeyFile, webhookSecret)',
      );
    app ??= new GithubApp({
      appId: g.appId,
      privateKey: g.privateKey,
      baseUrl: g.apiUrl,
      rateLimitRetries: g.rateLimitRetries,
      retries: g.retries,
      retryAfterUnitMs: g.retryAfterUnitMs,
      writeIntervalMs: g.writeIntervalMs,
      events: ghState.apiEvents(state, opts.log),
      log: opts.log,
    });
    return app;
  };
  return {
    config,
    queues: new ServiceQueues(connection, prefix),
    state,
    github: {
      state: ghState,
      installation: (id) => theApp().installation(id),
      botLogin: () => theApp().botLogin(),
    },
    log: opts.log,
    list(name) {
      const l = config.lists.find((x) => x.name === name);
      if (!l) throw new UnrecoverableError(`no list "${name}" in the config`);
      return l;
    },
    follow: new FollowState(connection, prefix),
    outbound: {
      ledger: new ReplyLedger(connection, prefix, new ReplyJournal(join(root, 'replies.jsonl'))),
      limiter: new RateLimiter(connection, prefix),
      transport,
    },
    allow: new AllowList(config.allowList, config.tree.path, config.maintainersFromTree),
    journal,
    archive(list) {
      const l = config.lists.find((x) => x.name === list);
      return new ArchiveLookup({
        list,
        mirror: l?.mirror ?? null,
        journal: journal(list),
        graceMs: config.mail.resolveGraceSec * 1000,
        pollMs: config.pollIntervalSec * 1000,
      });
    },
    hooks: opts.hooks ?? {},
    redis: connection,
  };
}
