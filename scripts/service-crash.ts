// The crash test of the service: a lore epoch with a stream of messages (a
// few 3-patch PCI series hidden in list noise) is followed by `pcibot worker`
// processes that are SIGKILLed at random moments, 20 times; then one last
// worker finishes the job. Afterwards: was every message ingested, was every
// series reviewed once, and did the SMTP server (a real one, in a child
// process) get each expected reply exactly once? Prints the figures; exits 1
// on a lost message or a duplicate mail.
//
//   npx tsc -p . && node dist/scripts/service-crash.js [--kills 20] [--series 8] [--noise 2000] [--seed N]
//
// Needs Redis at $PCIBOT_REDIS_URL (default redis://127.0.0.1:6379).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FollowState } from '../bot/lore/follow.js';
import { epochHead } from '../bot/lore/mirror.js';
import { ReplyJournal } from '../bot/outbound/journal.js';
import { connectRedis } from '../workers/serve/redis.js';
import { repoRoot } from '../bot/util/paths.js';
import { SmtpSink } from '../test/service/helpers.js';
import { buildFixtureSeries } from '../test/service/series.js';
import { syntheticMessages, writeSyntheticEpoch } from './bench/ingest.js';
import { messageKey, rawMessageId } from '../workers/jobs.js';
import { ServiceQueues } from '../workers/queues.js';
import { ServiceState } from '../workers/state.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    series: { type: 'string', default: '8' },
    noise: { type: 'string', default: '2000' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    keep: { type: 'boolean', default: false },
  },
});
const KILLS = Number(values.kills);
const SERIES = Number(values.series);
const NOISE = Number(values.noise);
let seed = Number(values.seed);
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redisUrl = process.env.PCIBOT_REDIS_URL ?? 'redis://127.0.0.1:6379';

// The compiled output dir this script runs from (dist/ or dist-NAME/).
const distDir = join(new URL('.', import.meta.url).pathname, '..');

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-crash-'));
  const prefix = `pcibot-crash-${process.pid}`;
  const redis = await connectRedis(redisUrl);
  let smtp: SmtpSink | null = null;
  let worker: ChildProcess | null = null;
  try {
    // The stream: noise with the series' messages spread through it.
    console.log(
      `seed ${values.seed}: building ${SERIES} series and ${NOISE} noise messages in ${dir}`,
    );
    // No PCI patches in the noise: every review and reply comes from the known series.
    const noise = syntheticMessages(NOISE, Number(values.seed), 'crash', 0);
    const seriesMails: string[][] = [];
    let tree = '';
    for (let s = 0; s < SERIES; s++) {
      const fx = await buildFixtureSeries(join(dir, `fx${s}`), { tag: `crash-s${s}` });
      tree ||= fx.tree;
      seriesMails.push(fx.series);
    }
    const stream = [...noise];
    for (const mails of seriesMails) {
      let at = Math.floor(rand() * stream.length);
      for (const m of mails) {
        stream.splice(at, 0, m);
        at += 1 + Math.floor(rand() * 40);
      }
    }
    const inbox = join(dir, 'inbox');
    await writeSyntheticEpoch(inbox, stream);
    smtp = await SmtpSink.start(join(dir, 'smtp'));
    const configFile = join(dir, 'pcibot.json');
    await writeFile(
      configFile,
      JSON.stringify({
        redis: { url: redisUrl, prefix },
        tree: { path: tree },
        lists: [
          {
            name: 'linux-pci',
            address: 'linux-pci@vger.kernel.org',
            mirror: inbox,
            startFrom: 'beginning',
          },
        ],
        mirrorsDir: join(dir, 'mirrors'),
        mail: {
          from: 'pcibot@example.org',
          send: true,
          smtp: { host: '127.0.0.1', port: smtp.port },
        },
        pollIntervalSec: 1,
        jobLockSec: 3,
        completenessTimeoutSec: 3600,
      }),
    );
    const runner = join(distDir, 'test', 'service', 'run-command.js');
    const startWorker = () =>
      spawn(process.execPath, [runner, '--run', 'worker', '--config', configFile], {
        stdio: ['ignore', 'ignore', 'pipe'],
        cwd: repoRoot,
      });

    const t0 = Date.now();
    const killedAfter: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      worker = startWorker();
      worker.stderr!.resume();
      const ms = 300 + Math.floor(rand() * 2700);
      await sleep(ms);
      worker.kill('SIGKILL');
      await new Promise((r) => worker!.once('close', r));
      killedAfter.push(ms);
      const st = new ServiceState(redis, prefix);
      const c = await st.counters();
      process.stdout.write(
        `kill ${String(k + 1).padStart(2)} after ${String(ms).padStart(4)} ms: ingested ${c.messages_ingested ?? 0}, reviewed ${c.series_reviewed ?? 0}, sent ${c.replies_sent ?? 0}\n`,
      );
    }

    // One last worker finishes the work.
    worker = startWorker();
    let log = '';
    worker.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const queues = new ServiceQueues(redis, prefix);
    const state = new ServiceState(redis, prefix);
    const follow = new FollowState(redis, prefix);
    const head = await epochHead(inbox, 0);
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const cursor = await follow.getCursor('linux-pci');
      const d = await queues.depths();
      const busy = Object.entries(d).some(
        ([q, s]) =>
          (s.waiting ?? 0) +
            (s.active ?? 0) +
            (s['waiting-children'] ?? 0) +
            (s.prioritized ?? 0) +
            (q === 'follow' ? 0 : (s.delayed ?? 0)) >
          0,
      );
      const reviews = (await state.listReviews()).length;
      if (cursor?.commit === head && !busy && reviews >= SERIES) break;
      if (Date.now() > deadline) {
        console.log(
          `gave up waiting: cursor ${cursor?.commit === head ? 'at head' : 'behind'}, busy ${busy}, reviews ${reviews}\n${JSON.stringify(d)}`,
        );
        break;
      }
      await sleep(500);
    }
    await sleep(2000); // a last follow round: nothing new may appear
    worker.kill('SIGTERM');
    await new Promise((r) => worker!.once('close', r));
    worker = null;

    // Figures.
    const ids = stream.map((m) => rawMessageId(m)!);
    let ingested = 0;
    // The follower's jobs mark messages ingested per Redis generation (workers/jobs.ts genSuffix).
    const gen = (await state.generation()) ?? undefined;
    for (const id of ids) if (await state.isIngested(messageKey(id), gen)) ingested++;
    const d = await queues.depths();
    const failedJobs = Object.fromEntries(Object.entries(d).map(([q, s]) => [q, s.failed ?? 0]));
    const reviews = await state.listReviews();
    const perSeries = new Map<string, number>();
    for (const r of reviews)
      perSeries.set(
        `${r.seriesId}-v${r.version}-${r.round}`,
        (perSeries.get(`${r.seriesId}-v${r.version}-${r.round}`) ?? 0) + 1,
      );
    const mails = await smtp.messages();
    const byId = new Map<string, number>();
    for (const m of mails)
      byId.set(m.headers.get('message-id')!, (byId.get(m.headers.get('message-id')!) ?? 0) + 1);
    const dupMails = [...byId.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0);
    const unknown = new ReplyJournal(join(dir, 'state', prefix, 'replies.jsonl')).open();
    const expectedReplies = SERIES; // one reply per series (reply.mode series)
    const lost = ids.length - ingested;
    await queues.close();

    console.log('');
    console.log(
      `kills                          ${KILLS} (after ${Math.min(...killedAfter)}..${Math.max(...killedAfter)} ms of work each)`,
    );
    console.log(`wall time                      ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`messages in the epoch          ${ids.length}`);
    console.log(`messages ingested              ${ingested}`);
    console.log(`messages lost                  ${lost}`);
    console.log(`failed jobs                    ${JSON.stringify(failedJobs)}`);
    console.log(
      `series reviewed                ${reviews.length} of ${SERIES} (max reviews per series ${Math.max(0, ...perSeries.values())})`,
    );
    console.log(`replies expected               ${expectedReplies}`);
    console.log(`replies at the SMTP server     ${mails.length} (${byId.size} distinct)`);
    console.log(`duplicate mails                ${dupMails}`);
    console.log(
      `replies interrupted mid-send   ${unknown.length} (not settled: the spool is no archive)`,
    );
    const ok =
      lost === 0 &&
      dupMails === 0 &&
      Math.max(0, ...perSeries.values()) <= 1 &&
      mails.length + unknown.length === expectedReplies;
    console.log(ok ? 'RESULT: ok' : 'RESULT: FAILED');
    if (!ok) console.log(log.split('\n').slice(-40).join('\n'));
    return ok ? 0 : 1;
  } finally {
    worker?.kill('SIGKILL');
    await smtp?.stop();
    await ServiceState.wipe(redis, prefix);
    redis.disconnect();
    if (values.keep) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
