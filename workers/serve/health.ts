// What /healthz and /metrics report: Redis reachable, queue depths, lists
// that were not fetched within three poll intervals (the follow schedule is
// gone, or fetching fails), mirrors that stopped moving, the kernel tree
// (usable, and whether applies keep failing in a row), replies interrupted
// mid-send that the archive has not settled in time, and counters. /metrics
// carries the same facts as gauges.
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { FollowState, isStalled, type MirrorStatus } from '../../bot/lore/follow.js';
import { ReplyJournal, type OpenReply } from '../../bot/outbound/journal.js';
import type { ServiceQueues } from '../queues.js';
import { GithubState, type GithubApiStatus } from '../github.js';
import { ServiceState } from '../state.js';
import { stateRoot, type ServiceConfig } from '../config.js';
import { cachedTreeCheck } from './preflight.js';

export interface Health {
  ok: boolean;
  problems: string[];
  redis: { ok: boolean; latencyMs: number | null; error?: string };
  queues: Record<string, Record<string, number>>;
  mirrors: (MirrorStatus & { stalled: boolean; overdue: boolean })[];
  tree: { ok: boolean; problem: string | null; applyFailuresInRow: number };
  /** Replies interrupted mid-send, not settled yet (the archive settles them once it caught up). */
  openReplies: Pick<OpenReply, 'replyKey' | 'messageId' | 'state' | 'list'>[];
  /** Of those, the ones older than the grace period plus three polls: a person should look. */
  unknownReplies: string[];
  counters: Record<string, number>;
  sending: 'smtp' | 'dry-run (outbox)';
  /** The GitHub App's API: the last rate-limit headers, a rate limit in force, failures in a row, the last error. */
  github: ({ configured: boolean } & Partial<GithubApiStatus>) | null;
}

const treeCheck = cachedTreeCheck();

export async function checkHealth(
  config: ServiceConfig,
  redis: Redis,
  queues: ServiceQueues,
  now = Date.now(),
): Promise<Health> {
  const problems: string[] = [];
  const t0 = performance.now();
  let redisOk = true;
  let redisErr: string | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, rej) => setTimeout(() => rej(new Error('no answer within 2000 ms')), 2000)),
    ]);
  } catch (err) {
    redisOk = false;
    redisErr = (err as Error).message;
    problems.push(`redis: ${redisErr}`);
  }
  const treeProblem = await treeCheck(config.tree);
  if (treeProblem) problems.push(`tree: ${treeProblem}`);
  const h: Health = {
    ok: false,
    problems,
    redis: {
      ok: redisOk,
      latencyMs: redisOk ? Math.round((performance.now() - t0) * 10) / 10 : null,
      ...(redisErr ? { error: redisErr } : {}),
    },
    queues: {},
    mirrors: [],
    tree: { ok: treeProblem === null, problem: treeProblem, applyFailuresInRow: 0 },
    openReplies: [],
    unknownReplies: [],
    counters: {},
    sending: config.mail.send ? 'smtp' : 'dry-run (outbox)',
    github: config.github.enabled ? { configured: true } : null,
  };

  // The durable journal (on this machine): replies whose send was interrupted.
  const journal = new ReplyJournal(join(stateRoot(config), 'replies.jsonl'));
  const open = journal.open();
  h.openReplies = open.map((o) => ({
    replyKey: o.replyKey,
    messageId: o.messageId,
    state: o.state,
    list: o.list,
  }));
  const patience = (config.mail.resolveGraceSec + 3 * config.pollIntervalSec) * 1000 + 60_000;
  h.unknownReplies = open
    .filter((o) => now - o.since > patience)
    .map((o) => o.replyKey)
    .sort();
  if (h.unknownReplies.length)
    problems.push(
      `${h.unknownReplies.length} repl${h.unknownReplies.length > 1 ? 'ies' : 'y'} interrupted mid-send and not settled by the archive (see pcibot outbox status)`,
    );
  if (!redisOk) return h;

  h.queues = await queues.depths();
  const follow = new FollowState(redis, config.redis.prefix);
  const overdueMs = 3 * config.pollIntervalSec * 1000;
  for (const l of config.lists) {
    if (!l.mirror) continue;
    const s = await follow.status(l.name);
    const stalled = isStalled(s, config.stalledMirrorSec, now);
    const overdue = s.lastFetchAt === null || now - s.lastFetchAt > overdueMs;
    if (overdue)
      problems.push(
        `list ${l.name}: ${s.lastFetchAt === null ? 'never fetched' : `not fetched since ${new Date(s.lastFetchAt).toISOString()}`} (more than 3 poll intervals, ${overdueMs / 1000} s: is a worker following it?)`,
      );
    if (stalled)
      problems.push(
        `mirror ${l.name}: no new messages since ${new Date(s.lastNewAt ?? s.lastFetchAt!).toISOString()}`,
      );
    if (s.lastError) problems.push(`mirror ${l.name}: ${s.lastError}`);
    h.mirrors.push({ ...s, stalled, overdue });
  }
  const state = new ServiceState(redis, config.redis.prefix);
  h.tree.applyFailuresInRow = await state.applyFailStreak();
  if (h.tree.applyFailuresInRow >= config.health.applyFailuresInRow)
    problems.push(
      `tree: the last ${h.tree.applyFailuresInRow} applies failed outright (health.applyFailuresInRow is ${config.health.applyFailuresInRow})`,
    );
  h.counters = await state.counters();
  if (config.github.enabled) {
    const api = await new GithubState(redis, config.redis.prefix, 0).apiStatus();
    h.github = { configured: true, ...api };
    if (api.failuresInRow >= config.health.applyFailuresInRow)
      problems.push(
        `github: the last ${api.failuresInRow} API requests failed (last: ${api.lastError ? `${api.lastError.status} ${api.lastError.route}: ${api.lastError.message}` : '?'})`,
      );
  }
  h.ok = problems.length === 0;
  return h;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The health data in the Prometheus text exposition format. */
export function metricsText(h: Health): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: string,
    help: string,
    rows: [Record<string, string>, number][],
  ) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${esc(x)}"`)
        .join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  metric('pcibot_up', 'gauge', 'Whether Redis answers.', [[{}, h.redis.ok ? 1 : 0]]);
  metric('pcibot_healthy', 'gauge', 'Whether /healthz is ok (1) or failing (0).', [
    [{}, h.ok ? 1 : 0],
  ]);
  metric(
    'pcibot_queue_jobs',
    'gauge',
    'Jobs per queue and state.',
    Object.entries(h.queues).flatMap(([q, states]) =>
      Object.entries(states).map(
        ([s, n]) => [{ queue: q, state: s }, n] as [Record<string, string>, number],
      ),
    ),
  );
  metric(
    'pcibot_events_total',
    'counter',
    'Messages, series, replies and triggers handled.',
    Object.entries(h.counters).map(([k, v]) => [{ event: k }, v]),
  );
  metric(
    'pcibot_list_last_fetch_timestamp_seconds',
    'gauge',
    'When the list was last fetched (0: never).',
    h.mirrors.map((m) => [{ list: m.list }, Math.round((m.lastFetchAt ?? 0) / 1000)]),
  );
  metric(
    'pcibot_list_fetch_overdue',
    'gauge',
    'List not fetched within 3 poll intervals.',
    h.mirrors.map((m) => [{ list: m.list }, m.overdue ? 1 : 0]),
  );
  metric(
    'pcibot_mirror_stalled',
    'gauge',
    'Mirror with no new messages for longer than the threshold.',
    h.mirrors.map((m) => [{ list: m.list }, m.stalled ? 1 : 0]),
  );
  metric(
    'pcibot_mirror_last_new_timestamp_seconds',
    'gauge',
    'When new messages were last seen.',
    h.mirrors.map((m) => [{ list: m.list }, Math.round((m.lastNewAt ?? 0) / 1000)]),
  );
  metric('pcibot_tree_usable', 'gauge', 'Whether the kernel tree is usable.', [
    [{}, h.tree.ok ? 1 : 0],
  ]);
  metric('pcibot_apply_failures_in_row', 'gauge', 'Reviews in a row whose apply failed outright.', [
    [{}, h.tree.applyFailuresInRow],
  ]);
  metric('pcibot_replies_open', 'gauge', 'Replies interrupted mid-send, not settled yet.', [
    [{}, h.openReplies.length],
  ]);
  metric(
    'pcibot_replies_unknown',
    'gauge',
    'Replies interrupted mid-send and not settled by the archive in time (need a person).',
    [[{}, h.unknownReplies.length]],
  );
  if (h.github) {
    const g = h.github;
    metric(
      'pcibot_github_ratelimit_remaining',
      'gauge',
      'GitHub API requests left (x-ratelimit-remaining of the last answer; -1: not known).',
      [[{}, g.rateLimit?.remaining ?? -1]],
    );
    metric(
      'pcibot_github_ratelimit_reset_timestamp_seconds',
      'gauge',
      'When the GitHub rate limit resets (x-ratelimit-reset; 0: not known).',
      [[{}, g.rateLimit?.reset ?? 0]],
    );
    metric(
      'pcibot_github_rate_limited_until_timestamp_seconds',
      'gauge',
      'Until when the last GitHub rate limit said to wait (0: never limited).',
      [[{}, g.limitedUntil ?? 0]],
    );
    metric(
      'pcibot_github_api_failures_in_row',
      'gauge',
      'GitHub API requests that failed in a row (after retries).',
      [[{}, g.failuresInRow ?? 0]],
    );
  }
  return out.join('\n') + '\n';
}
