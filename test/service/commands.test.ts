// `pcibot worker` and `pcibot serve` as processes: without Redis they fail at
// once saying how to start one; with Redis, serve answers /healthz, /metrics
// and /admin/queues, and a worker stops within the drain bound on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
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
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
  return { child, exited, stderr: () => stderr };
}

describe('service commands', () => {
  for (const name of ['worker', 'serve']) {
    it(`${name} fails at once without Redis, saying how to start one`, async () => {
      const port = await freePort();
      const t0 = Date.now();
      const p = run(name, [], { PCIBOT_REDIS_URL: `redis://127.0.0.1:${port}`, PCIBOT_CONFIG: '' });
      const code = await p.exited;
      const took = Date.now() - t0;
      assert.equal(code, 69, p.stderr());
      assert.ok(took < 5_000, `took ${took} ms`);
      assert.match(p.stderr(), new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port}`));
      assert.match(p.stderr(), new RegExp(`redis-server --daemonize yes --port ${port}`));
    });
  }

  it('rejects a bad config naming the field', async () => {
    const dir = await tempDir('svc-cmd');
    try {
      await writeJson(join(dir, 'c.json'), { lists: [{ name: 'linux-pci', address: 'nope' }] });
      const p = run('worker', ['--config', join(dir, 'c.json')], {});
      assert.equal(await p.exited, 78);
      assert.match(p.stderr(), /lists\[0\]\.address: not an e-mail address/);
    } finally {
      await removeDir(dir);
    }
  });

  it('serve answers /healthz, /metrics and /admin/queues; worker drains on SIGTERM', async () => {
    const prefix = uniquePrefix('cmd');
    const { cleanup } = await testRedis(prefix);
    const dir = await tempDir('svc-cmd');
    const port = await freePort();
    const env = {
      PCIBOT_REDIS_URL: REDIS_URL,
      PCIBOT_REDIS_PREFIX: prefix,
      PCIBOT_HTTP_PORT: String(port),
      PCIBOT_OUTBOX: join(dir, 'outbox'),
      PCIBOT_CONFIG: '',
    };
    const serve = run('serve', [], env);
    const worker = run('worker', [], env);
    try {
      const base = `http://127.0.0.1:${port}`;
      const health = await waitFor(
        'healthz',
        async () => {
          const r = await fetch(`${base}/healthz`);
          return r.status === 200
            ? ((await r.json()) as {
                ok: boolean;
                redis: { ok: boolean };
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
      assert.deepEqual(Object.keys(health.queues).sort(), [
        'analyse',
        'apply',
        'assemble',
        'follow',
        'ingest',
        'report',
        'send',
        'verify',
      ]);
      assert.equal(health.sending, 'dry-run (outbox)');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^# TYPE pcibot_queue_jobs gauge$/m);
      assert.match(metrics, /^pcibot_queue_jobs\{queue="ingest",state="waiting"\} 0$/m);
      assert.match(metrics, /^pcibot_up 1$/m);
      const board = await fetch(`${base}/admin/queues`);
      assert.equal(board.status, 200);
      assert.match(await board.text(), /<html/i);
      const api = (await (await fetch(`${base}/admin/queues/api/queues`)).json()) as {
        queues: { name: string }[];
      };
      assert.ok(api.queues.some((q) => q.name === 'ingest'));

      await waitFor('worker started', async () => /working on/.test(worker.stderr()), 15_000);
      const t0 = Date.now();
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.stderr());
      assert.ok(Date.now() - t0 < 10_000);
      assert.match(worker.stderr(), /SIGTERM: draining/);
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
    } finally {
      serve.child.kill('SIGKILL');
      worker.child.kill('SIGKILL');
      await cleanup();
      await removeDir(dir);
    }
  });
});
