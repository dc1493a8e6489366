// What /healthz and /metrics report: Redis reachable, queue depths, mirrors
// that stopped moving, replies whose fate is unknown (a crash between "about
// to send" and "sent": never resent, so a human should look), and counters.
import type { Redis } from 'ioredis';
import { FollowState, isStalled, type MirrorStatus } from '../lore/follow.js';
import { ReplyLedger } from '../outbound/ledger.js';
import type { ServiceQueues } from '../../workers/queues.js';
import { ServiceState } from '../../workers/state.js';
import type { ServiceConfig } from '../../workers/config.js';

export interface Health {
  ok: boolean;
  problems: string[];
  redis: { ok: boolean; latencyMs: number | null; error?: string };
  queues: Record<string, Record<string, number>>;
  mirrors: (MirrorStatus & { stalled: boolean })[];
  unknownReplies: string[];
  counters: Record<string, number>;
  sending: 'smtp' | 'dry-run (outbox)';
}

export async function checkHealth(
  config: ServiceConfig,
  redis: Redis,
  queues: ServiceQueues,
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
    unknownReplies: [],
    counters: {},
    sending: config.mail.send ? 'smtp' : 'dry-run (outbox)',
  };
  if (!redisOk) return h;
  h.queues = await queues.depths();
  const follow = new FollowState(redis, config.redis.prefix);
  for (const l of config.lists) {
    if (!l.mirror) continue;
    const s = await follow.status(l.name);
    const stalled = isStalled(s, config.stalledMirrorSec);
    if (stalled)
      problems.push(
        `mirror ${l.name}: no new messages since ${new Date(s.lastNewAt ?? s.lastFetchAt!).toISOString()}`,
      );
    if (s.lastError) problems.push(`mirror ${l.name}: ${s.lastError}`);
    h.mirrors.push({ ...s, stalled });
  }
  h.unknownReplies = await new ReplyLedger(redis, config.redis.prefix).unknown();
  if (h.unknownReplies.length)
    problems.push(
      `${h.unknownReplies.length} repl${h.unknownReplies.length > 1 ? 'ies' : 'y'} may or may not have been sent (interrupted mid-send; not resent)`,
    );
  h.counters = await new ServiceState(redis, config.redis.prefix).counters();
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
  metric('pcibot_replies_unknown', 'gauge', 'Replies interrupted mid-send (never resent).', [
    [{}, h.unknownReplies.length],
  ]);
  return out.join('\n') + '\n';
}
