// The soak version of the fault test (test/service/fault.test.ts): the same
// rig of real processes (own redis-server, public-inbox-httpd, SMTP server,
// pcibot worker, the list relaying into the archive), for many rounds. Each
// round posts a few series and a maintainer's command, then strikes with one
// fault, in turn: Redis restored from a snapshot taken a round earlier, Redis
// killed and restarted empty mid-run, the worker SIGKILLed while the SMTP
// server holds a stored but unanswered mail or hangs at RCPT, Redis wiped
// with startFrom "beginning". Prints the figures per round and at the end;
// exits 1 on any duplicate or lost reply.
//
//   npx tsc -p . && node dist/scripts/service-soak.js [--rounds 10] [--series 2] [--seed N] [--keep]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FaultRig } from '../test/service/fault-rig.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    series: { type: 'string', default: '2' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    keep: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(values.rounds);
const PER_ROUND = Number(values.series);
let seed = Number(values.seed);
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FAULTS = ['snapshot', 'empty', 'kill-data', 'kill-rcpt', 'wipe'] as const;

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-soak-'));
  const rig = new FaultRig(dir);
  const t0 = Date.now();
  let failed = false;
  try {
    console.log(`seed ${values.seed}: ${ROUNDS} rounds of ${PER_ROUND} series in ${dir}`);
    await rig.start({ series: ROUNDS * PER_ROUND });
    rig.startWorker();
    await rig.quiesce(120_000);
    let snapshot = await rig.redis.snapshot('round-0');
    for (let round = 1; round <= ROUNDS; round++) {
      const fault = FAULTS[(round - 1 + Math.floor(rand() * FAULTS.length)) % FAULTS.length]!;
      const posted = [];
      if (fault === 'kill-data' || fault === 'kill-rcpt')
        await rig.stall(fault === 'kill-data' ? 'data' : 'rcpt');
      for (let i = 0; i < PER_ROUND; i++) posted.push(await rig.postSeries());
      await rig.postTrigger(posted[0]!, 'pcibot: review', `soak-trigger-${round}@example.org`, {
        replies: 1,
      });
      switch (fault) {
        case 'snapshot':
          await rig.settle(180_000);
          await rig.redis.restart(snapshot);
          break;
        case 'empty':
          await sleep(500 + Math.floor(rand() * 2500));
          await rig.redis.kill();
          await sleep(1000);
          await rig.redis.restart(null);
          break;
        case 'kill-data':
        case 'kill-rcpt':
          await rig.waitStall(fault === 'kill-data' ? 'data' : 'rcpt', 120_000);
          await rig.stopWorker('SIGKILL');
          rig.startWorker();
          break;
        case 'wipe':
          await rig.settle(180_000);
          await rig.stopWorker('SIGTERM');
          await rig.wipeRedis();
          await rig.writeConfig('beginning');
          rig.startWorker();
          break;
      }
      await rig.settle(300_000);
      await rig.quiesce(300_000).catch(() => {});
      snapshot = await rig.redis.snapshot(`round-${round}`);
      const f = await rig.figures();
      console.log(
        `round ${String(round).padStart(3)} ${fault.padEnd(10)} messages in ${f.messagesIn}, reviews ${f.reviews}, replies ${f.replies}, duplicates ${f.duplicates}, lost ${f.lost}`,
      );
      if (f.duplicates > 0 || f.lost > 0) {
        failed = true;
        break;
      }
    }
    await sleep(3000);
    const f = await rig.figures();
    console.log('');
    console.log(`wall time    ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`messages in  ${f.messagesIn}`);
    console.log(`reviews      ${f.reviews}`);
    console.log(`replies      ${f.replies}`);
    console.log(`duplicates   ${f.duplicates}`);
    console.log(`lost         ${f.lost}`);
    const extra = f.perSeries.filter((s) => s.got > s.expected);
    if (failed || f.duplicates > 0 || f.lost > 0 || extra.length) {
      console.log(`RESULT: FAILED ${JSON.stringify(f.perSeries)}`);
      console.log(rig.worker?.log.split('\n').slice(-40).join('\n'));
      return 1;
    }
    console.log('RESULT: ok');
    return 0;
  } finally {
    await rig.close();
    if (values.keep) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
