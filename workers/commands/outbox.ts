// `pcibot outbox status|resolve`: the replies whose send was interrupted
// (a worker killed mid-send, a connection lost after DATA), from the durable
// reply journal, with what the list archive says about each now; and settling
// one by hand: --sent (it went out: never send it) or --not-sent (it did not:
// send it now). The service settles them by itself once the archive has
// caught up; this is for replies to lists without a followed archive, or an
// operator who knows better.
import { join } from 'node:path';
import { Job } from 'bullmq';
import { ArchiveLookup } from '../../bot/lore/archive.js';
import { ListJournal } from '../../bot/lore/journal.js';
import { FINAL_STATES, ReplyJournal } from '../../bot/outbound/journal.js';
import { ledgerKey } from '../../bot/outbound/ledger.js';
import { connectRedis, RedisUnavailableError } from '../serve/redis.js';
import { EXIT_CONFIG, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE } from '../../bot/util/exit.js';
import { ConfigError, loadConfig, stateRoot, type ServiceConfig } from '../config.js';
import { jobIds, type SendJob } from '../jobs.js';
import { ServiceQueues } from '../queues.js';
import { parseCommandArgs, UsageError, type Command, type CommandIO } from './command.js';

const usage = `usage: pcibot outbox status [--config FILE] [--all] [--json]
       pcibot outbox resolve REPLY-KEY... (--sent | --not-sent) [--config FILE]

status    the replies interrupted mid-send and not settled yet (from the
          durable journal in stateDir), each with its list, Message-ID, age
          and what the list archive says about it now; --all: every reply
          pcibot has a record of, with its state.
resolve   settle interrupted replies by hand: --sent marks them sent (never
          sent again); --not-sent marks them not sent and queues them to be
          sent now (needs Redis).

The worker settles interrupted replies by itself once the list archive has
caught up (mail.resolveGraceSec after the send began): in the archive, it
went out; absent, it is sent. Replies to a list without a followed mirror
wait for this command.

  -c, --config FILE   service config (JSON); default $PCIBOT_CONFIG`;

const age = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
};

function journalOf(config: ServiceConfig) {
  return new ReplyJournal(join(stateRoot(config), 'replies.jsonl'));
}

function archiveOf(config: ServiceConfig, list: string | null) {
  const l = config.lists.find((x) => x.name === list);
  return new ArchiveLookup({
    list: list ?? '?',
    mirror: l?.mirror ?? null,
    journal: new ListJournal(join(stateRoot(config), 'lists', list ?? '_')),
    graceMs: config.mail.resolveGraceSec * 1000,
    pollMs: config.pollIntervalSec * 1000,
  });
}

async function status(config: ServiceConfig, all: boolean, json: boolean, io: CommandIO) {
  const journal = journalOf(config);
  const rows = [];
  for (const o of journal.open()) {
    const ans = await archiveOf(config, o.list).lookup(o.messageId, o.since);
    rows.push({ ...o, payload: undefined, archive: ans });
  }
  if (json) {
    io.stdout(
      JSON.stringify(
        { open: rows, ...(all ? { all: journal.all() } : {}) },
        (k, v) => (k === 'payload' ? undefined : v),
        2,
      ) + '\n',
    );
    return;
  }
  if (rows.length === 0) io.stdout('No reply is waiting to be settled.\n');
  else {
    io.stdout(`${rows.length} repl${rows.length > 1 ? 'ies' : 'y'} interrupted mid-send:\n`);
    for (const r of rows)
      io.stdout(
        `  ${r.replyKey}  <${r.messageId}>  list ${r.list ?? '-'}, ${r.state}, ${age(Date.now() - r.since)} ago\n    archive: ${r.archive.kind}: ${r.archive.detail}\n`,
      );
    io.stdout('Settle by hand with: pcibot outbox resolve <key> --sent | --not-sent\n');
  }
  if (all) {
    io.stdout('\nAll replies:\n');
    for (const e of journal.all())
      io.stdout(
        `  ${e.at}  ${e.state.padEnd(10)} ${e.replyKey}  <${e.messageId}>${e.detail ? `  ${e.detail}` : ''}\n`,
      );
  }
}

async function resolve(
  config: ServiceConfig,
  keys: string[],
  as: 'sent' | 'not-sent',
  io: CommandIO,
): Promise<number> {
  const journal = journalOf(config);
  for (const k of keys) {
    const cur = journal.get(k);
    if (!cur) throw new UsageError(`no reply ${k} in the journal (${journal.file})`);
    if (FINAL_STATES.has(cur.state))
      throw new UsageError(`reply ${k} is settled already: ${cur.state}`);
    if (as === 'not-sent' && !journal.intent(k)?.payload)
      throw new UsageError(`reply ${k} has no message kept with it to send again`);
  }
  if (as === 'sent') {
    let redis = null;
    try {
      redis = await connectRedis(config.redis.url, { timeoutMs: 2000, name: 'pcibot-outbox' });
    } catch {
      // The journal is the record; Redis learns it from there.
    }
    for (const k of keys) {
      const e = await journal.append({
        replyKey: k,
        state: 'sent',
        messageId: journal.get(k)!.messageId,
        by: 'hand',
        detail: 'settled by hand: pcibot outbox resolve --sent',
      });
      await redis?.set(ledgerKey(config.redis.prefix, k), JSON.stringify(e));
      io.stdout(`${k}: marked sent\n`);
    }
    redis?.disconnect();
    return EXIT_OK;
  }
  let redis;
  try {
    redis = await connectRedis(config.redis.url, { timeoutMs: 2000, name: 'pcibot-outbox' });
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      io.stderr(
        `pcibot outbox: --not-sent queues the reply again and needs Redis: ${err.message}\n`,
      );
      return EXIT_UNAVAILABLE;
    }
    throw err;
  }
  const queues = new ServiceQueues(redis, config.redis.prefix);
  try {
    for (const k of keys) {
      const intent = journal.intent(k)!;
      await journal.append({
        replyKey: k,
        state: 'not-sent',
        messageId: intent.messageId,
        by: 'hand',
        detail: 'settled by hand: pcibot outbox resolve --not-sent',
      });
      await redis.del(ledgerKey(config.redis.prefix, k));
      const id = jobIds.send(k);
      const old = await Job.fromId(queues.queues.send, id);
      if (old && (await old.getState()) !== 'active') await old.remove();
      await queues.queues.send.add('send', intent.payload as unknown as SendJob, {
        jobId: id,
        attempts: 8,
        backoff: { type: 'exponential', delay: 5000 },
      });
      io.stdout(`${k}: marked not sent, queued to be sent\n`);
    }
  } finally {
    await queues.close();
    redis.disconnect();
  }
  return EXIT_OK;
}

const command: Command = {
  name: 'outbox',
  summary: 'replies interrupted mid-send: show them, settle them by hand',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      config: { type: 'string', short: 'c' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      sent: { type: 'boolean' },
      'not-sent': { type: 'boolean' },
    });
    const [sub, ...keys] = positionals;
    let config: ServiceConfig;
    try {
      config = loadConfig({ path: values.config ?? null, env: io.env, cwd: io.cwd });
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr(`pcibot outbox: bad configuration: ${err.message}\n`);
        return EXIT_CONFIG;
      }
      throw err;
    }
    if (sub === 'status') {
      if (keys.length) throw new UsageError('status takes no reply keys');
      await status(config, values.all === true, values.json === true, io);
      return EXIT_OK;
    }
    if (sub === 'resolve') {
      if (keys.length === 0) throw new UsageError('resolve needs the reply keys to settle');
      if (Boolean(values.sent) === Boolean(values['not-sent']))
        throw new UsageError('resolve needs exactly one of --sent and --not-sent');
      return resolve(config, keys, values.sent ? 'sent' : 'not-sent', io);
    }
    if (sub === undefined) throw new UsageError('say status or resolve');
    io.stderr(`pcibot outbox: unknown subcommand "${sub}" (status, resolve)\n`);
    return EXIT_USAGE;
  },
};
export default command;
