// The fault test: pcibot on a list while its Redis is restored from an old
// snapshot, restarted empty mid-run and wiped (with startFrom "beginning",
// with and without the durable state), and while its worker is SIGKILLed in
// the middle of an SMTP transaction (once after the server stored the mail,
// once before). Real processes all: redis-server instances started here (own
// ports and directories), public-inbox-httpd over a public-inbox v2 inbox, the
// SMTP server, `pcibot worker`, and the list relaying what it gets into the
// archive (fault-rig.ts). Each series is owed exactly one reply (a
// maintainer's command one more); a patch dated 20 days ago and a command
// dated 3 days ago are owed nothing. Prints messages in, reviews, replies,
// duplicates and lost; 0 duplicates and 0 lost, or it fails.
// scripts/service-soak.ts runs the same rig for longer.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaultRig } from './fault-rig.js';
import { removeDir, tempDir, waitFor } from './helpers.js';

describe('fault test: Redis lost, restored or wiped, and SIGKILL mid-send', () => {
  let dir: string;
  let rig: FaultRig;
  before(async () => {
    dir = await tempDir('svc-fault');
    rig = new FaultRig(dir);
    await rig.start({ series: 10 });
  });
  after(async () => {
    await rig?.close();
    if (process.env.PCIBOT_KEEP_TEST_DIRS) console.log(`kept ${dir}`);
    else await removeDir(dir);
  });

  /** Everything the workers logged so far. */
  const logs = () => [...rig.logs, rig.worker?.log ?? ''].join('\n');
  const phase = async (name: string, settleMs = 180_000) => {
    await rig.settle(settleMs);
    const f = await rig.figures();
    console.log(
      `${name.padEnd(48)} replies ${f.replies}, duplicates ${f.duplicates}, lost ${f.lost}`,
    );
    assert.equal(f.duplicates, 0, `${name}: duplicate replies\n${rig.worker?.log}`);
    assert.equal(
      f.lost,
      0,
      `${name}: lost replies ${JSON.stringify(f.perSeries)}\n${rig.worker?.log}`,
    );
  };

  it('sends every reply exactly once and none it should not', async () => {
    rig.startWorker();
    await waitFor(
      'the worker to follow the list',
      async () => existsSync(join(rig.stateDir, rig.prefix, 'lists', 'linux-pci', 'cursor.json')),
      60_000,
    );

    // 1. Normal running; a patch 20 days old and a command 3 days old are owed nothing.
    const s1 = await rig.postSeries();
    await rig.postSeries({ ageDays: 20, replies: 0 });
    await rig.postTrigger(s1, 'pcibot: review', 'stale-trigger@example.org', { ageHours: 72 });
    await phase('normal running, old patch and old command');
    await rig.quiesce(120_000);
    {
      const { state, redis } = await rig.state();
      const t = (await state.triggers()).find((x) => x.messageId === 'stale-trigger@example.org');
      redis.disconnect();
      assert.equal(t?.outcome, 'ignored');
      assert.match(String(t?.reason), /older than triggers\.maxAgeHours/);
    }

    // 2. Redis restored from a snapshot taken before s2 and a maintainer's command.
    const snap = await rig.redis.snapshot('old');
    await rig.postSeries();
    await rig.postTrigger(s1, 'pcibot: review', 'fresh-trigger@example.org', { replies: 1 });
    await rig.settle(180_000);
    // Restored once the worker is at rest: a follow round under way would
    // have its cursor write (queued by the Redis client while Redis is down)
    // replayed onto the restored Redis, hiding the old cursor the worker is
    // to notice (the replies it walks are relayed into the archive first).
    await rig.relayedAll();
    await rig.quiesce(180_000);
    await rig.redis.restart(snap);
    await rig.postSeries();
    await phase('Redis restored from an old snapshot');
    await rig.quiesce(180_000);
    assert.match(logs(), /Redis holds another cursor .* walking again from/);

    // 3. Redis restarted empty mid-run, at several points of a series' way
    // through the pipeline, with no pause for the work under way to finish:
    // the Redis client replays the writes of jobs under way onto the empty
    // Redis (a review flow without its series, a cursor write, a marker), and
    // none of that may hide the loss or block the review done again.
    // a) at once after s4 is posted (s5 posted while Redis is down);
    await rig.postSeries();
    await rig.redis.kill();
    await rig.postSeries();
    await rig.redis.restart(null);
    await phase('Redis restarted empty mid-run');
    await rig.quiesce(180_000);
    assert.match(logs(), /restarted empty or wiped/);
    assert.match(logs(), /follow schedule linux-pci \(lore\) re-created/);
    // b) the moment the follower has queued a series' messages;
    const seen = (re: RegExp) => (logs().match(re) ?? []).length;
    const killAt = async (what: string, re: RegExp) => {
      const before = seen(re);
      await rig.postSeries();
      await waitFor(what, async () => seen(re) > before, 120_000, 10);
      await rig.redis.restart(null);
    };
    await killAt('s6 queued', /new messages queued/g);
    await phase('Redis restarted empty as a series is queued');
    await rig.quiesce(180_000);
    // c) the moment its review is scheduled (its apply job under way).
    await killAt('s7 scheduled', /scheduled review /g);
    await phase('Redis restarted empty as a review is scheduled');
    await rig.quiesce(180_000);

    // 4. SIGKILL while the SMTP server holds the mail but has not answered DATA.
    await rig.stall('data');
    await rig.postSeries();
    await rig.waitStall('data');
    await rig.stopWorker('SIGKILL');
    // The new worker settles it from the archive once the list relayed the stored mail there.
    await rig.relayedAll();
    rig.startWorker();
    await waitFor(
      'the interrupted reply settled as sent',
      async () => /interrupted earlier, in the linux-pci archive.*: sent/.test(logs()),
      120_000,
    );
    await phase('SIGKILL mid-send (server stored it)');
    // ... and while it hangs at RCPT TO: the mail never got there.
    await rig.stall('rcpt');
    await rig.postSeries();
    await rig.waitStall('rcpt');
    await rig.stopWorker('SIGKILL');
    rig.startWorker();
    await waitFor(
      'the interrupted reply found absent and sent',
      async () =>
        /interrupted earlier, not in the linux-pci archive .*: sending it now/.test(logs()),
      120_000,
    );
    await phase('SIGKILL mid-send (server never got it)');
    await rig.quiesce(180_000);

    // 5. An operator wipes Redis and sets startFrom "beginning": the durable cursor wins.
    await rig.stopWorker('SIGTERM');
    await rig.wipeRedis();
    await rig.writeConfig('beginning');
    rig.startWorker();
    await rig.quiesce(240_000);
    await phase('wipe, startFrom "beginning"');
    // ... and with the durable state gone too: a backfill, reviewed, not answered.
    await rig.stopWorker('SIGTERM');
    await rig.wipeRedis();
    await rm(rig.stateDir, { recursive: true, force: true });
    rig.startWorker();
    await rig.quiesce(300_000);
    assert.match(logs(), /of them a backfill: reviewed, not answered/);
    await rig.postSeries();
    await phase('wipe of Redis and state, startFrom "beginning"');
    await rig.quiesce(180_000);
    await rig.followRounds(3); // a few more follow rounds: nothing else may go out

    const f = await rig.figures();
    console.log(`messages in ${f.messagesIn}`);
    console.log(`reviews     ${f.reviews}`);
    console.log(`replies     ${f.replies}`);
    console.log(`duplicates  ${f.duplicates}`);
    console.log(`lost        ${f.lost}`);
    assert.equal(f.duplicates, 0);
    assert.equal(f.lost, 0);
    for (const s of f.perSeries)
      assert.equal(s.got, s.expected, `replies to <${s.cover}>: ${JSON.stringify(f.perSeries)}`);
    assert.equal(
      f.replies,
      [...f.perSeries].reduce((a, s) => a + s.expected, 0),
    );
  });
});
