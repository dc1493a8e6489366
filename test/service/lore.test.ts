// Following a public-inbox v2 inbox served by public-inbox-httpd, as pcibot
// follows lore: cursor, epoch rollover, an enqueue that fails midway, starting
// from "now", stalled-mirror detection, finding a message by Message-ID; and
// the local mbox/Maildir spools.
import assert from 'node:assert/strict';
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { findMessageInMirror } from '../../bot/lore/find.js';
import { FollowState, followOnce, isStalled } from '../../bot/lore/follow.js';
import { followSpool } from '../../bot/lore/spool.js';
import { checkHealth } from '../../workers/serve/health.js';
import type { RawMail } from '../../bot/types.js';
import { rawMessageId } from '../../workers/jobs.js';
import { ServiceQueues } from '../../workers/queues.js';
import { ServiceState } from '../../workers/state.js';
import { ListJournal } from '../../bot/lore/journal.js';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { syntheticMessages, writeSyntheticEpoch } from '../../scripts/bench/ingest.js';
import {
  PublicInbox,
  freePort,
  mail,
  removeDir,
  tempDir,
  testConfig,
  testRedis,
  uniquePrefix,
  waitFor,
} from './helpers.js';

const exec = promisify(execFile);

const note = (i: number, epochTag = '') =>
  mail({
    from: `Sender ${i} <s${i}@example.org>`,
    subject: `note ${i}${epochTag}`,
    messageId: `note-${i}@example.org`,
    body: `message ${i}\n`,
  });

describe('lore follower against public-inbox-httpd', () => {
  let dir: string;
  let inbox: PublicInbox;
  let url: string;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  const prefix = uniquePrefix('lore');
  let state: FollowState;
  const got: string[] = [];
  const enqueue = async (mails: RawMail[]) => {
    for (const m of mails) got.push(rawMessageId(m.raw)!);
  };
  const follow = (over: Partial<Parameters<typeof followOnce>[0]> = {}) =>
    followOnce({
      list: 'linux-pci',
      source: url,
      mirrorDir: join(dir, 'mirror'),
      startFrom: 'beginning',
      state,
      enqueue,
      ...over,
    });

  before(async () => {
    dir = await tempDir('svc-lore');
    inbox = await PublicInbox.create(join(dir, 'pi'), 'linux-pci', 'linux-pci@vger.kernel.org');
    for (let i = 1; i <= 3; i++) await inbox.deliver(note(i));
    url = await inbox.serve();
    const r = await testRedis(prefix);
    redis = r.redis;
    cleanup = r.cleanup;
    state = new FollowState(redis, prefix);
  });
  after(async () => {
    await inbox?.stop();
    await cleanup?.();
    await removeDir(dir);
  });

  it('clones the epochs over HTTP and walks every message once, in order', async () => {
    const r = await follow();
    assert.deepEqual(got, ['note-1@example.org', 'note-2@example.org', 'note-3@example.org']);
    assert.equal(r.enqueued, 3);
    assert.equal((await state.getCursor('linux-pci'))?.epoch, 0);
    const again = await follow();
    assert.equal(again.enqueued, 0, 'nothing new, nothing queued');
  });

  it('picks up new messages after the cursor only', async () => {
    got.length = 0;
    await inbox.deliver(note(4));
    await inbox.deliver(note(5));
    await follow();
    assert.deepEqual(got, ['note-4@example.org', 'note-5@example.org']);
  });

  it('does not move the cursor when the enqueue fails, so nothing is lost', async () => {
    got.length = 0;
    await inbox.deliver(note(6));
    await inbox.deliver(note(7));
    const before = await state.getCursor('linux-pci');
    await assert.rejects(
      follow({
        enqueue: async () => {
          throw new Error('redis went away');
        },
      }),
      /redis went away/,
    );
    assert.deepEqual(await state.getCursor('linux-pci'), before);
    await follow();
    assert.deepEqual(got, ['note-6@example.org', 'note-7@example.org']);
  });

  it('rolls over to a new epoch', async () => {
    got.length = 0;
    await inbox.deliver(note(8, ' (epoch 1)'), { newEpoch: true });
    await inbox.deliver(note(9));
    assert.deepEqual(await inbox.epochs(), ['0.git', '1.git'], 'public-inbox wrote a second epoch');
    const r = await follow();
    assert.deepEqual(r.epochs, [0, 1]);
    assert.deepEqual(got, ['note-8@example.org', 'note-9@example.org']);
    assert.equal((await state.getCursor('linux-pci'))?.epoch, 1);
  });

  it('finds a message by Message-ID in the mirror, in any epoch', async () => {
    const mirror = join(dir, 'mirror');
    const m2 = await findMessageInMirror(mirror, '<note-2@example.org>');
    assert.ok(m2 && m2.raw.includes('message 2'));
    assert.equal(m2.origin.kind, 'lore');
    const m9 = await findMessageInMirror(mirror, 'note-9@example.org');
    assert.ok(m9 && m9.raw.includes('message 9'));
    assert.equal(await findMessageInMirror(mirror, 'no-such@example.org'), null);
    // Also straight from a public-inbox inbox directory.
    assert.ok(await findMessageInMirror(inbox.dir, 'note-5@example.org'));
  });

  it('starts from "now" when told to, then follows', async () => {
    got.length = 0;
    const r = await follow({ list: 'kvm', startFrom: 'now', mirrorDir: join(dir, 'mirror-kvm') });
    assert.equal(r.enqueued, 0);
    await inbox.deliver(note(10));
    await follow({ list: 'kvm', startFrom: 'now', mirrorDir: join(dir, 'mirror-kvm') });
    assert.deepEqual(got, ['note-10@example.org']);
  });

  it('reports a mirror with no new messages for too long as stalled in health', async () => {
    const s = await state.status('linux-pci');
    assert.ok(s.lastFetchAt && s.lastNewAt && s.head);
    assert.equal(isStalled(s, 3600), false);
    assert.equal(isStalled(s, 1, s.lastNewAt! + 5000), true);
    const config = testConfig(prefix, {
      lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org', mirror: url }],
      stalledMirrorSec: 1,
    });
    await new Promise((r) => setTimeout(r, 1100));
    const queues = new ServiceQueues(redis, prefix);
    try {
      const h = await checkHealth(config, redis, queues);
      assert.equal(h.ok, false);
      assert.equal(h.mirrors[0]?.stalled, true);
      assert.ok(h.problems.some((p) => p.startsWith('mirror linux-pci: no new messages since')));
    } finally {
      await queues.close();
    }
  });

  it('sees that Redis lost its state although a replayed write put the cursor back', async () => {
    const journal = new ListJournal(join(dir, 'journal-replay'));
    const list = 'replay';
    const mirrorDir = join(dir, 'mirror-replay');
    await follow({ list, mirrorDir, journal });
    const gen = await state.generation();
    assert.equal(gen.created, false, 'the first round set the marker');
    assert.equal((await journal.read())?.generation, gen.id);
    const cursor = (await state.getCursor(list))!;
    // Redis restarted empty; the client replays a follow round's cursor write onto it.
    await ServiceState.wipe(redis, prefix);
    await state.setCursor(list, cursor);
    const r = await follow({ list, mirrorDir, journal });
    assert.match(String(r.recovered), /lost its generation marker \(restarted empty or wiped\)/);
    const now = await state.generation();
    assert.notEqual(now.id, gen.id);
    assert.equal((await journal.read())?.generation, now.id);
    assert.equal((await follow({ list, mirrorDir, journal })).recovered, null);
  });
});

describe('local spools', () => {
  it('takes each mbox message once, also when the file grows', async () => {
    const dir = await tempDir('svc-spool');
    const prefix = uniquePrefix('spool');
    const { redis, cleanup } = await testRedis(prefix);
    try {
      const mbox = join(dir, 'linux-pci.mbox');
      const from = 'From someone@example.org Mon Jan  6 10:00:00 2025\n';
      await writeFile(mbox, `${from}${note(1)}\n${from}${note(2)}\n`);
      const got: string[] = [];
      const opts = {
        list: 'linux-pci',
        path: mbox,
        kind: 'mbox' as const,
        redis,
        prefix,
        settleMs: 0,
        enqueue: async (m: RawMail[]) => void got.push(...m.map((x) => rawMessageId(x.raw)!)),
      };
      assert.equal((await followSpool(opts)).enqueued, 2);
      assert.equal((await followSpool(opts)).enqueued, 0);
      await appendFile(mbox, `${from}${note(3)}\n`);
      await followSpool(opts);
      assert.deepEqual(got, ['note-1@example.org', 'note-2@example.org', 'note-3@example.org']);

      const md = join(dir, 'Maildir');
      for (const d of ['new', 'cur', 'tmp']) await mkdir(join(md, d), { recursive: true });
      await writeFile(join(md, 'new', '1736157600.1.host'), note(4));
      await writeFile(join(md, 'new', '1736157600.2.host'), note(5));
      got.length = 0;
      const mdOpts = { ...opts, path: md, kind: 'maildir' as const };
      assert.equal((await followSpool(mdOpts)).enqueued, 2);
      assert.equal((await followSpool(mdOpts)).enqueued, 0);
      assert.deepEqual(got.sort(), ['note-4@example.org', 'note-5@example.org']);
      assert.deepEqual((await readdir(join(md, 'cur'))).sort(), [
        '1736157600.1.host:2,S',
        '1736157600.2.host:2,S',
      ]);
    } finally {
      await cleanup();
      await removeDir(dir);
    }
  });
});

describe('local spools, bounded', () => {
  it('an mbox round reads at most maxInputBytes and the cut message comes next round', async () => {
    const dir = await tempDir('svc-spool-limit');
    const prefix = uniquePrefix('spool-limit');
    const { redis, cleanup } = await testRedis(prefix);
    try {
      const mbox = join(dir, 'linux-pci.mbox');
      const from = 'From someone@example.org Mon Jan  6 10:00:00 2025\n';
      const entries = [1, 2, 3].map((n) => `${from}${note(n)}\n`);
      await writeFile(mbox, entries.join(''));
      const got: string[] = [];
      const opts = {
        list: 'linux-pci',
        path: mbox,
        kind: 'mbox' as const,
        redis,
        prefix,
        settleMs: 0,
        // Room for the first message and half of the second.
        limits: { maxInputBytes: entries[0]!.length + Math.floor(entries[1]!.length / 2) },
        enqueue: async (m: RawMail[]) => void got.push(...m.map((x) => rawMessageId(x.raw)!)),
      };
      const first = await followSpool(opts);
      assert.deepEqual([first.enqueued, first.failures], [1, []]);
      for (let round = 0; round < 4; round++) await followSpool(opts);
      assert.deepEqual(got, ['note-1@example.org', 'note-2@example.org', 'note-3@example.org']);
    } finally {
      await cleanup();
      await removeDir(dir);
    }
  });
});

describe('the synthetic epoch of the bench and crash script', () => {
  it('is a v2 inbox public-inbox itself indexes and serves, and the follower reads it over HTTP', async () => {
    const dir = await tempDir('svc-syn');
    const prefix = uniquePrefix('syn');
    const { redis, cleanup } = await testRedis(prefix);
    let httpd: import('node:child_process').ChildProcess | null = null;
    try {
      const msgs = syntheticMessages(60, 7);
      const inboxDir = join(dir, 'inbox');
      await writeSyntheticEpoch(inboxDir, msgs);
      const env = { ...process.env, HOME: join(dir, 'home'), PI_CONFIG: join(dir, 'pi-config') };
      await mkdir(env.HOME, { recursive: true });
      for (const [k, v] of [
        ['inboxdir', inboxDir],
        ['address', 'bench@example.org'],
        ['url', 'http://127.0.0.1/bench'],
      ])
        await exec('git', ['config', '-f', env.PI_CONFIG, `publicinbox.bench.${k}`, v!]);
      await exec('public-inbox-index', [inboxDir], { env });
      const port = await freePort();
      httpd = spawn('public-inbox-httpd', ['-l', `http://127.0.0.1:${port}`], {
        env,
        stdio: 'ignore',
      });
      const url = `http://127.0.0.1:${port}/bench`;
      await waitFor('httpd', async () => (await fetch(`${url}/manifest.js.gz`)).ok, 15_000);
      // public-inbox found every message (its own index, its own raw view).
      const third = rawMessageId(msgs[2]!)!;
      const res = await fetch(`${url}/${third}/raw`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), new RegExp(`Message-ID: <${third.replace(/\./g, '\\.')}>`));
      const atom = await (await fetch(`${url}/new.atom`)).text();
      assert.ok((atom.match(/<entry>/g) ?? []).length >= 25);
      const got: string[] = [];
      await followOnce({
        list: 'bench',
        source: url,
        mirrorDir: join(dir, 'mirror'),
        startFrom: 'beginning',
        state: new FollowState(redis, prefix),
        enqueue: async (m) => void got.push(...m.map((x) => rawMessageId(x.raw)!)),
      });
      assert.deepEqual(
        got,
        msgs.map((m) => rawMessageId(m)),
      );
    } finally {
      httpd?.kill('SIGTERM');
      await cleanup();
      await removeDir(dir);
    }
  });
});
