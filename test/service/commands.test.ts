// `pcibot worker`, `pcibot serve` and `pcibot outbox` as processes: they fail
// at start with a clear error and an exit status (no Redis: 69; a missing
// tree or an unauthenticated dashboard beyond loopback: 78; an unreachable
// mirror: 69; an unknown queue name: 2, without hanging); with Redis, serve
// answers /healthz, /metrics and a read-only /admin/queues that refuses
// requests without credentials when a token is set, and a worker stops within
// the drain bound on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { ReplyJournal } from '../../bot/outbound/journal.js';
import { ServiceQueues } from '../../workers/queues.js';
import {
  freePort,
  REDIS_URL,
  removeDir,
  tempDir,
  testRedis,
  uniquePrefix,
  waitFor,
  writeJson,
} from './helpers.js';

const runner = join(dirname(fileURLToPath(import.meta.url)), 'run-command.js');

function run(name: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [runner, '--run', name, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
}

/** Wait for exit, or kill and fail: a start-up error must never hang. */
async function exitsWithin(p: ReturnType<typeof run>, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    p.exited,
    new Promise<number>((r) => {
      timer = setTimeout(() => r(-999), ms);
    }),
  ]);
  clearTimeout(timer);
  if (code === -999) {
    p.child.kill('SIGKILL');
    assert.fail(`still running after ${ms} ms (hangs): ${p.stderr()}`);
  }
  return code;
}

describe('service commands', () => {
  let dir: string;
  let tree: string;
  let base: Record<string, string>;
  before(async () => {
    dir = await tempDir('svc-cmd');
    tree = (await buildFixtureTree(join(dir, 'tree'))).path;
    base = { PCIBOT_CONFIG: '', PCIBOT_TREE: tree, PCIBOT_STATE_DIR: join(dir, 'state') };
  });
  after(async () => removeDir(dir));

  for (const name of ['worker', 'serve']) {
    it(`${name} fails at once without Redis, saying how to start one`, async () => {
      const port = await freePort();
      const p = run(name, [], { ...base, PCIBOT_REDIS_URL: `redis://127.0.0.1:${port}` });
      const code = await exitsWithin(p, 10_000);
      assert.equal(code, 69, p.stderr());
      assert.match(p.stderr(), new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port}`));
      assert.match(p.stderr(), new RegExp(`redis-server --daemonize yes --port ${port}`));
    });
  }

  it('rejects a bad config naming the field', async () => {
    await writeJson(join(dir, 'c.json'), { lists: [{ name: 'linux-pci', address: 'nope' }] });
    const p = run('worker', ['--config', join(dir, 'c.json')], base);
    assert.equal(await exitsWithin(p, 10_000), 78);
    assert.match(p.stderr(), /lists\[0\]\.address: not an e-mail address/);
  });

  it('worker refuses to start on a missing or unusable kernel tree', async () => {
    const missing = run('worker', [], { ...base, PCIBOT_TREE: join(dir, 'no-such-tree') });
    assert.equal(await exitsWithin(missing, 10_000), 78, missing.stderr());
    assert.match(missing.stderr(), /the kernel tree .*no-such-tree does not exist/);
    const notGit = run('worker', [], { ...base, PCIBOT_TREE: join(dir, 'state') });
    assert.equal(await exitsWithin(notGit, 10_000), 78, notGit.stderr());
    assert.match(notGit.stderr(), /is not a git repository/);
    // A worker that only sends needs no tree.
    const noTree = run('worker', ['--queues', 'send'], {
      ...base,
      PCIBOT_TREE: join(dir, 'no-such-tree'),
      PCIBOT_REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    assert.equal(await exitsWithin(noTree, 10_000), 69, noTree.stderr());
  });

  it('worker names an unknown queue and exits (it used to hang), before reaching Redis', async () => {
    const p = run('worker', ['--queues', 'ingest,foo'], { ...base, PCIBOT_REDIS_URL: REDIS_URL });
    assert.equal(await exitsWithin(p, 10_000), 2, p.stderr());
    assert.match(p.stderr(), /unknown queue "foo" \(known: follow, ingest/);
  });

  it('worker refuses to start on an unreachable mirror', async () => {
    const port = await freePort();
    await writeJson(join(dir, 'm.json'), {
      lists: [
        {
          name: 'linux-pci',
          address: 'linux-pci@vger.kernel.org',
          mirror: `http://127.0.0.1:${port}/linux-pci`,
        },
      ],
    });
    const p = run('worker', ['--config', join(dir, 'm.json')], base);
    assert.equal(await exitsWithin(p, 20_000), 69, p.stderr());
    assert.match(
      p.stderr(),
      new RegExp(
        `mirror of list linux-pci cannot be followed: http://127\\.0\\.0\\.1:${port}/linux-pci/manifest\\.js\\.gz is unreachable`,
      ),
    );
  });

  it('serve refuses to bind beyond loopback without admin authentication', async () => {
    const p = run('serve', [], { ...base, PCIBOT_HTTP_HOST: '0.0.0.0' });
    assert.equal(await exitsWithin(p, 10_000), 78, p.stderr());
    assert.match(
      p.stderr(),
      /http\.host is 0\.0\.0\.0, beyond loopback, but \/admin\/queues has no authentication/,
    );
  });

  it('serve answers /healthz, /metrics and a read-only /admin/queues behind its token; worker drains on SIGTERM', async () => {
    const prefix = uniquePrefix('cmd');
    const { cleanup } = await testRedis(prefix);
    const port = await freePort();
    const token = 'test-token-0123456789abcdef';
    const env = {
      ...base,
      PCIBOT_REDIS_URL: REDIS_URL,
      PCIBOT_REDIS_PREFIX: prefix,
      PCIBOT_HTTP_PORT: String(port),
      PCIBOT_OUTBOX: join(dir, 'outbox'),
      PCIBOT_ADMIN_TOKEN: token,
    };
    const serve = run('serve', [], env);
    const worker = run('worker', [], env);
    try {
      const url = `http://127.0.0.1:${port}`;
      const health = await waitFor(
        'healthz',
        async () => {
          const r = await fetch(`${url}/healthz`);
          return r.status === 200
            ? ((await r.json()) as {
                ok: boolean;
                redis: { ok: boolean };
                tree: { ok: boolean };
                queues: Record<string, unknown>;
                sending: string;
              })
            : null;
        },
        15_000,
        200,
      );
      assert.equal(health.ok, true);
      assert.equal(health.redis.ok, true);
      assert.equal(health.tree.ok, true);
      assert.deepEqual(Object.keys(health.queues).sort(), [
        'analyse',
        'apply',
        'assemble',
        'follow',
        'github',
        'github-report',
        'ingest',
        'report',
        'send',
        'verify',
      ]);
      assert.equal(health.sending, 'dry-run (outbox)');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^# TYPE pcibot_queue_jobs gauge$/m);
      assert.match(metrics, /^pcibot_queue_jobs\{queue="ingest",state="waiting"\} 0$/m);
      assert.match(metrics, /^pcibot_up 1$/m);
      assert.match(metrics, /^pcibot_tree_usable 1$/m);
      assert.match(metrics, /^pcibot_healthy 1$/m);

      // The admin API: refused without credentials or with wrong ones.
      assert.equal((await fetch(`${url}/admin/queues`)).status, 401);
      assert.equal((await fetch(`${url}/admin/queues/api/queues`)).status, 401);
      assert.equal(
        (
          await fetch(`${url}/admin/queues/api/queues`, {
            headers: { authorization: 'Bearer wrong-token-0123456789' },
          })
        ).status,
        401,
      );
      const auth = { authorization: `Bearer ${token}` };
      const board = await fetch(`${url}/admin/queues`, { headers: auth });
      assert.equal(board.status, 200);
      assert.match(await board.text(), /<html/i);
      const api = (await (
        await fetch(`${url}/admin/queues/api/queues`, { headers: auth })
      ).json()) as {
        queues: { name: string; readOnlyMode: boolean }[];
      };
      assert.ok(api.queues.some((q) => q.name === 'ingest'));
      assert.ok(
        api.queues.every((q) => q.readOnlyMode),
        'read-only by default',
      );
      // Read-only: nothing that changes a queue gets through, even with the token.
      const put = await fetch(`${url}/admin/queues/api/queues/send/pause`, {
        method: 'PUT',
        headers: auth,
      });
      assert.equal(put.status, 405);
      // The report pages are behind the same token (http.pagesPublic is false by default).
      assert.equal((await fetch(`${url}/series`)).status, 401);
      assert.equal((await fetch(`${url}/scenarios`)).status, 401);
      assert.equal((await fetch(`${url}/series`, { headers: auth })).status, 200);

      await waitFor('worker started', async () => /working on/.test(worker.stderr()), 15_000);
      worker.child.kill('SIGTERM');
      assert.equal(await exitsWithin(worker, 15_000), 0, worker.stderr());
      assert.match(worker.stderr(), /SIGTERM: draining/);
      serve.child.kill('SIGTERM');
      assert.equal(await exitsWithin(serve, 15_000), 0);
    } finally {
      serve.child.kill('SIGKILL');
      worker.child.kill('SIGKILL');
      await cleanup();
    }
  });

  it('outbox status shows interrupted replies; resolve settles them as sent, or queues them again', async () => {
    const prefix = uniquePrefix('outbox');
    const { redis, cleanup } = await testRedis(prefix);
    const stateDir = join(dir, 'state-outbox');
    const env = {
      ...base,
      PCIBOT_STATE_DIR: stateDir,
      PCIBOT_REDIS_URL: REDIS_URL,
      PCIBOT_REDIS_PREFIX: prefix,
    };
    const journal = new ReplyJournal(join(stateDir, prefix, 'replies.jsonl'));
    const payload = (k: string) => ({
      replyKey: k,
      reviewKey: 'rk',
      list: 'linux-pci',
      bucket: 'b',
      automatic: true,
      messageId: `pcibot-${k}@example.org`,
      inReplyTo: 'cover@example.com',
      subject: 'Re: [PATCH 0/3] x',
      envelope: { from: 'pcibot@example.org', to: ['ann@example.com'] },
      eml: `Message-ID: <pcibot-${k}@example.org>\r\n\r\nbody\r\n`,
    });
    const queues = new ServiceQueues(redis, prefix);
    try {
      for (const k of ['rk-a-s', 'rk-b-s'])
        await journal.append({
          replyKey: k,
          state: 'intent',
          messageId: `pcibot-${k}@example.org`,
          list: 'linux-pci',
          payload: payload(k),
        });
      const st = run('outbox', ['status'], env);
      assert.equal(await exitsWithin(st, 10_000), 0, st.stderr());
      assert.match(st.stdout(), /2 replies interrupted mid-send/);
      assert.match(st.stdout(), /rk-a-s {2}<pcibot-rk-a-s@example\.org> {2}list linux-pci, intent/);
      assert.match(st.stdout(), /archive: unknowable: list linux-pci has no mirror to look in/);

      const sent = run('outbox', ['resolve', 'rk-a-s', '--sent'], env);
      assert.equal(await exitsWithin(sent, 10_000), 0, sent.stderr());
      assert.equal(journal.get('rk-a-s')?.state, 'sent');
      assert.equal(journal.get('rk-a-s')?.by, 'hand');

      const again = run('outbox', ['resolve', 'rk-b-s', '--not-sent'], env);
      assert.equal(await exitsWithin(again, 10_000), 0, again.stderr());
      assert.equal(journal.get('rk-b-s')?.state, 'not-sent');
      const job = await queues.queues.send.getJob('sd-rk-b-s');
      assert.equal(job?.data.replyKey, 'rk-b-s', 'queued to be sent');
      assert.equal(job?.data.eml, payload('rk-b-s').eml);

      const twice = run('outbox', ['resolve', 'rk-a-s', '--not-sent'], env);
      assert.equal(await exitsWithin(twice, 10_000), 2);
      assert.match(twice.stderr(), /settled already: sent/);
      const none = run('outbox', ['status'], env);
      assert.equal(await exitsWithin(none, 10_000), 0);
      assert.match(none.stdout(), /No reply is waiting to be settled/);
    } finally {
      await queues.close();
      await cleanup();
    }
  });

  it('outbox status says when nothing waits to be settled', async () => {
    const p = run('outbox', ['status'], base);
    assert.equal(await exitsWithin(p, 10_000), 0, p.stderr());
    assert.match(p.stdout(), /No reply is waiting to be settled/);
    const bad = run('outbox', ['resolve', 'nope', '--sent'], base);
    assert.equal(await exitsWithin(bad, 10_000), 2);
    assert.match(bad.stderr(), /no reply nope in the journal/);
  });
});
