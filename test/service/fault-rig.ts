// The rig of the fault test and the soak script: everything real and in
// processes of its own. Redis servers started here (own ports, own --dir in
// a temp directory: killed, restarted empty or from an old snapshot without
// touching anyone else's), a public-inbox v2 inbox fed by public-inbox-mda
// and served by public-inbox-httpd, the SMTP server process (with its
// stalls), a "list" that delivers what the SMTP server got for the list
// address into the inbox (as vger and lore would: the archive becomes the
// record of what pcibot sent), and `pcibot worker` processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { FollowState } from '../../bot/lore/follow.js';
import { ListJournal } from '../../bot/lore/journal.js';
import { epochHead } from '../../bot/lore/mirror.js';
import { ServiceQueues } from '../../workers/queues.js';
import { ServiceState } from '../../workers/state.js';
import { freePort, PublicInbox, SmtpSink, waitFor, type ReceivedMail } from './helpers.js';
import { buildFixtureSeries, mailDate, type FixtureSeries } from './series.js';

const here = dirname(fileURLToPath(import.meta.url));
const LIST = 'linux-pci@vger.kernel.org';

/** A redis-server of our own: its own port and directory, nothing shared. */
export class RedisProc {
  private child: ChildProcess | null = null;
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(dir: string): Promise<RedisProc> {
    await mkdir(dir, { recursive: true });
    const r = new RedisProc(dir, await freePort());
    await r.run();
    return r;
  }

  private async run(): Promise<void> {
    // No background snapshots and no AOF: what Redis holds is what a snapshot
    // we take or a restart leaves (the README's durable settings are the
    // opposite; this is the failure pcibot has to survive).
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--dbfilename',
        'dump.rdb',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    await waitFor(
      `redis-server on ${this.port}`,
      async () => {
        const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
        c.on('error', () => {});
        try {
          await c.connect();
          return (await c.ping()) === 'PONG';
        } finally {
          c.disconnect();
        }
      },
      15_000,
      50,
    );
  }

  /** A client (for the test's own reads), disconnected by the caller. */
  async client(): Promise<Redis> {
    const c = new Redis(this.url, { maxRetriesPerRequest: null });
    c.on('error', () => {});
    return c;
  }

  /** SAVE now and keep a copy of the dump: an "old snapshot" to restore later. */
  async snapshot(name: string): Promise<string> {
    const c = await this.client();
    try {
      await c.save();
    } finally {
      c.disconnect();
    }
    const to = join(this.dir, `${name}.rdb`);
    await copyFile(join(this.dir, 'dump.rdb'), to);
    return to;
  }

  /** SIGKILL, as a crash or an OOM kill would. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('close', () => r());
      c.kill('SIGKILL');
    });
    this.child = null;
  }

  /** Start again on the same port: empty (no dump), or from a snapshot file. */
  async restart(from: string | null): Promise<void> {
    await this.kill();
    await rm(join(this.dir, 'dump.rdb'), { force: true });
    if (from) await copyFile(from, join(this.dir, 'dump.rdb'));
    await this.run();
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

/** A `pcibot worker` process; its stderr is kept. */
export class WorkerProc {
  log = '';
  readonly exited: Promise<number>;
  private constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (c: Buffer) => (this.log += c.toString()));
    this.exited = new Promise((r) => child.on('close', (code) => r(code ?? -1)));
  }
  static start(configFile: string): WorkerProc {
    const child = spawn(
      process.execPath,
      [join(here, 'run-command.js'), '--run', 'worker', '--config', configFile],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return new WorkerProc(child);
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }
}

export interface Figures {
  messagesIn: number;
  reviews: number;
  replies: number;
  duplicates: number;
  lost: number;
  /** Per cover letter: replies expected and got. */
  perSeries: { cover: string; expected: number; got: number }[];
}

/** The whole rig. */
export class FaultRig {
  redis!: RedisProc;
  inbox!: PublicInbox;
  smtp!: SmtpSink;
  worker: WorkerProc | null = null;
  /** Everything the workers said, over all their lives. */
  logs: string[] = [];
  readonly prefix = `pcibot-fault-${process.pid}`;
  messagesIn = 0;
  /** Cover letter -> replies pcibot should have sent to it. */
  readonly expected = new Map<string, number>();
  private relayed = new Set<string>();
  /** SMTP files the list has delivered into the archive (public-inbox-mda done). */
  private delivered = new Set<string>();
  private relayTimer: NodeJS.Timeout | null = null;
  private relaying: Promise<void> = Promise.resolve();
  private seriesCount = 0;
  private oldCount = 0;
  private fixtures: FixtureSeries[] = [];
  configFile = '';
  private tree = '';

  constructor(readonly dir: string) {}

  get stateDir(): string {
    return join(this.dir, 'state');
  }

  async start(opts: { series: number }): Promise<void> {
    // Fixture series (each its own tree clone; the fixture tree is deterministic, so one tree serves all).
    for (let i = 0; i < opts.series; i++) {
      const fx = await buildFixtureSeries(join(this.dir, `fx${i}`), { tag: `fault-s${i}` });
      this.fixtures.push(fx);
      this.tree ||= fx.tree;
    }
    this.redis = await RedisProc.start(join(this.dir, 'redis'));
    this.inbox = await PublicInbox.create(join(this.dir, 'pi'), 'linux-pci', LIST);
    await this.inbox.deliver(this.fixtures[0]!.noise[2]!); // the list before pcibot
    this.messagesIn++;
    await this.inbox.serve();
    this.smtp = await SmtpSink.start(join(this.dir, 'smtp'));
    await this.writeConfig('now');
    this.relayTimer = setInterval(() => {
      this.relaying = this.relaying.then(() => this.relay()).catch(() => {});
    }, 200);
  }

  /** The config file of the workers (startFrom changes between phases). */
  async writeConfig(startFrom: 'now' | 'beginning'): Promise<void> {
    this.configFile = join(this.dir, 'pcibot.json');
    await writeFile(
      this.configFile,
      JSON.stringify(
        {
          redis: { url: this.redis.url, prefix: this.prefix },
          stateDir: this.stateDir,
          tree: { path: this.tree },
          lists: [{ name: 'linux-pci', address: LIST, mirror: this.inbox.url, startFrom }],
          mirrorsDir: join(this.dir, 'mirrors'),
          mail: {
            from: 'pcibot@example.org',
            send: true,
            smtp: { host: '127.0.0.1', port: this.smtp.port },
            resolveGraceSec: 3,
          },
          pollIntervalSec: 1,
          jobLockSec: 3,
          completenessTimeoutSec: 600,
        },
        null,
        2,
      ),
    );
  }

  /** The list: what the SMTP server got for the list address goes to the archive. */
  private async relay(): Promise<void> {
    for (const m of await this.smtp.messages()) {
      if (this.relayed.has(m.file) || !m.envelope.to.includes(LIST)) continue;
      this.relayed.add(m.file);
      await this.inbox.deliver(m.raw);
      this.delivered.add(m.file);
    }
  }

  /** Wait until the list has delivered into the archive every mail the SMTP server got for it. */
  async relayedAll(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      'the list to deliver what the SMTP server got into the archive',
      async () =>
        (await this.smtp.messages()).every(
          (m) => !m.envelope.to.includes(LIST) || this.delivered.has(m.file),
        ),
      timeoutMs,
      100,
    );
  }

  /** Wait for `n` more follow rounds of the worker (each fetches the mirror). */
  async followRounds(n: number, timeoutMs = 60_000): Promise<void> {
    const c = await this.redis.client();
    const follow = new FollowState(c, this.prefix);
    try {
      const seen = new Set([(await follow.status('linux-pci')).lastFetchAt]);
      await waitFor(
        `${n} more follow rounds`,
        async () => {
          seen.add((await follow.status('linux-pci')).lastFetchAt);
          return seen.size > n;
        },
        timeoutMs,
        100,
      );
    } finally {
      c.disconnect();
    }
  }

  startWorker(): WorkerProc {
    const w = WorkerProc.start(this.configFile);
    this.worker = w;
    return w;
  }

  /** Stop the worker (SIGKILL or SIGTERM) and keep its log. */
  async stopWorker(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const w = this.worker;
    if (!w) return;
    await w.kill(signal);
    this.logs.push(w.log);
    this.worker = null;
  }

  /** Post the next fixture series to the list (dated `ageDays` ago); `replies`: how many pcibot owes it. */
  async postSeries(opts: { ageDays?: number; replies?: number } = {}): Promise<FixtureSeries> {
    const fx = opts.ageDays
      ? await buildFixtureSeries(join(this.dir, `old${++this.oldCount}`), {
          tag: `fault-old${this.oldCount}`,
          sentAt: Date.now() - opts.ageDays * 86400_000,
        })
      : this.fixtures[this.seriesCount++];
    if (!fx) throw new Error('out of fixture series');
    for (const m of fx.series) await this.inbox.deliver(m);
    this.messagesIn += fx.series.length;
    this.expected.set(fx.ids.cover, (this.expected.get(fx.ids.cover) ?? 0) + (opts.replies ?? 1));
    return fx;
  }

  /** A maintainer's command on a series' cover letter, sent `ageHours` ago. */
  async postTrigger(
    fx: FixtureSeries,
    command: string,
    id: string,
    opts: { ageHours?: number; replies?: number } = {},
  ): Promise<void> {
    const text = fx
      .reply('PCI Maintainer <pci-maintainer@example.org>', 0, command, id)
      .replace(/^Date: .*$/m, `Date: ${mailDate(Date.now(), -(opts.ageHours ?? 0) * 3600 - 30)}`);
    await this.inbox.deliver(text);
    this.messagesIn++;
    if (opts.replies)
      this.expected.set(fx.ids.cover, (this.expected.get(fx.ids.cover) ?? 0) + opts.replies);
  }

  /** pcibot's replies at the SMTP server (notices to senders excluded). */
  async replies(): Promise<ReceivedMail[]> {
    return (await this.smtp.messages()).filter((m) => m.envelope.to.includes(LIST));
  }

  /** Wait until every cover has the replies it is owed (or time runs out). */
  async settle(timeoutMs: number): Promise<void> {
    await waitFor(
      'every expected reply',
      async () => {
        const got = await this.repliesPerCover();
        return [...this.expected].every(([c, n]) => (got.get(c) ?? 0) >= n) ? true : null;
      },
      timeoutMs,
      250,
    ).catch(() => {});
  }

  private async repliesPerCover(): Promise<Map<string, number>> {
    const got = new Map<string, number>();
    for (const m of await this.replies()) {
      const to = (m.headers.get('in-reply-to') ?? '').replace(/^<|>$/g, '');
      got.set(to, (got.get(to) ?? 0) + 1);
    }
    return got;
  }

  /** Wait for the SMTP server to report a stall of this kind. */
  async waitStall(kind: 'rcpt' | 'data', timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `an SMTP ${kind} stall`,
      async () =>
        (await readdir(this.smtp.dir)).some((f) => f.startsWith(`stalled-${kind}-`)) ? true : null,
      timeoutMs,
      100,
    );
  }

  async stall(kind: 'rcpt' | 'data'): Promise<void> {
    await writeFile(join(this.smtp.dir, 'stall'), kind);
  }

  /**
   * Wait until the worker has walked the archive to its head (the Redis and
   * the durable cursor both at the inbox's newest commit) and every queue
   * but the follow schedule is idle.
   */
  async quiesce(timeoutMs: number): Promise<void> {
    const c = await this.redis.client();
    const queues = new ServiceQueues(c, this.prefix);
    const follow = new FollowState(c, this.prefix);
    const journal = new ListJournal(join(this.stateDir, this.prefix, 'lists', 'linux-pci'));
    let seen = '';
    try {
      let calm = 0;
      await waitFor(
        'the worker to walk to the head and go idle',
        async () => {
          const head = await epochHead(this.inbox.dir, 0);
          const cur = await follow.getCursor('linux-pci');
          const dur = await journal.read();
          const d = await queues.depths();
          const busy = Object.entries(d).some(
            ([q, st]) =>
              (st.waiting ?? 0) +
                (st.active ?? 0) +
                (st['waiting-children'] ?? 0) +
                (st.prioritized ?? 0) +
                (q === 'follow' ? 0 : (st.delayed ?? 0)) >
              0,
          );
          const ok = cur?.commit === head && dur?.cursor.commit === head && !busy;
          seen = `head ${head}, Redis cursor ${cur?.commit ?? 'none'}, durable cursor ${dur?.cursor.commit ?? 'none'}, queues ${JSON.stringify(d)}`;
          calm = ok ? calm + 1 : 0;
          return calm >= 3 ? true : null;
        },
        timeoutMs,
        300,
      );
    } catch (err) {
      // What it last saw and what the worker said: a CI log is all there is to go on.
      const tail = (this.worker?.log ?? '').split('\n').slice(-60).join('\n');
      throw new Error(`${(err as Error).message}\nlast seen: ${seen}\nworker log (tail):\n${tail}`);
    } finally {
      await queues.close();
      c.disconnect();
    }
  }

  /** A ServiceState over our Redis (the caller disconnects `redis`). */
  async state(): Promise<{ state: ServiceState; redis: Redis }> {
    const redis = await this.redis.client();
    return { state: new ServiceState(redis, this.prefix), redis };
  }

  /** Delete every key of our prefix in our own Redis (the operator's wipe). */
  async wipeRedis(): Promise<void> {
    const c = await this.redis.client();
    try {
      await ServiceState.wipe(c, this.prefix);
    } finally {
      c.disconnect();
    }
  }

  async figures(): Promise<Figures> {
    const mails = await this.replies();
    const ids = new Map<string, number>();
    for (const m of mails) {
      const id = m.headers.get('message-id')!;
      ids.set(id, (ids.get(id) ?? 0) + 1);
    }
    const duplicates = [...ids.values()].reduce((a, n) => a + n - 1, 0);
    const got = await this.repliesPerCover();
    const perSeries = [...this.expected].map(([cover, expected]) => ({
      cover,
      expected,
      got: got.get(cover) ?? 0,
    }));
    const lost = perSeries.reduce((a, s) => a + Math.max(0, s.expected - s.got), 0);
    const all = [...this.logs, this.worker?.log ?? ''].join('\n');
    return {
      messagesIn: this.messagesIn,
      reviews: (all.match(/\] reviewed \S+ /g) ?? []).length,
      replies: mails.length,
      duplicates,
      lost,
      perSeries,
    };
  }

  async close(): Promise<void> {
    if (this.relayTimer) clearInterval(this.relayTimer);
    await this.relaying;
    await this.stopWorker('SIGKILL');
    await this.inbox?.stop();
    await this.smtp?.stop();
    await this.redis?.stop();
  }
}
