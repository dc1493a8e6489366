// POST /github/webhook in `pcibot serve`, without workers: what is queued for
// which delivery, and that forged, replayed, oversized or mistyped deliveries
// queue nothing. Payloads are GitHub's examples, signed with @octokit/webhooks.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhooks } from '@octokit/webhooks';
import type { Redis } from 'ioredis';
import { startHttp, type HttpHandle } from '../../workers/serve/http.js';
import { ServiceQueues } from '../../workers/queues.js';
import { stateRoot, type ServiceConfig } from '../../workers/config.js';
import { testConfig, testRedis, uniquePrefix } from '../service/helpers.js';
import { GithubState, prKeyOf } from '../../workers/github.js';
import { APP_ID, SECRET, appKeys, commentPayload, deliver, prPayload } from './fixtures.js';
import type { StandinPr } from './standin.js';

const HEAD = 'a'.repeat(40);
const pr: StandinPr = {
  owner: 'pci-vendor',
  repo: 'linux',
  number: 11,
  title: 'A title',
  body: '',
  user: 'contributor',
  git: '/nonexistent',
  baseRef: 'master',
  baseSha: 'b'.repeat(40),
  headSha: HEAD,
  state: 'open',
  draft: false,
};

describe('the GitHub webhook endpoint', () => {
  let work: string;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  let queues: ServiceQueues;
  let http: HttpHandle;
  let config: ServiceConfig;
  const prefix = uniquePrefix('ghhook');
  const TOKEN = 'dashboard-token-0123456789';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pcibot-gh-hook-'));
    await writeFile(join(work, 'app.pem'), appKeys().privateKeyPem);
    ({ redis, cleanup } = await testRedis(prefix));
    config = testConfig(prefix, {
      github: {
        appId: APP_ID,
        privateKeyFile: join(work, 'app.pem'),
        webhookSecret: SECRET,
        debounceSec: 30,
        maxWebhookBytes: 64 * 1024,
      },
      http: { admin: { token: TOKEN } },
    });
    queues = new ServiceQueues(redis, prefix);
    http = await startHttp(config, redis, queues, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await http?.close();
    await queues?.close();
    await cleanup?.();
    await rm(work, { recursive: true, force: true });
  });

  const jobs = async () => (await queues.queues.github.getJobs(['delayed', 'waiting'])).length;

  test('a signed pull_request is queued, delayed by the debounce, without the dashboard credentials', async () => {
    const d = await deliver(http.url, 'pull_request', prPayload('opened', pr));
    assert.equal(d.status, 202, d.text);
    const [job] = await queues.queues.github.getJobs(['delayed']);
    assert.ok(job);
    assert.equal(job.data.kind, 'pr');
    assert.equal(job.data.headSha, HEAD);
    assert.equal(job.data.number, 11);
    assert.equal(job.data.installationId, 4242);
    assert.equal(job.opts.delay, 30_000);
    assert.equal(await new GithubState(redis, prefix, 60).head(prKeyOf(pr)), HEAD);
    // The dashboard does need them.
    assert.equal((await fetch(`${http.url}/admin/queues`)).status, 401);
  });

  test('a forged signature is refused with 401 and queues nothing', async () => {
    const n = await jobs();
    const payload = prPayload('synchronize', { ...pr, headSha: 'c'.repeat(40) });
    const wrongSecret = await deliver(http.url, 'pull_request', payload, {
      secret: 'not-the-secret',
    });
    assert.equal(wrongSecret.status, 401);
    const none = await deliver(http.url, 'pull_request', payload, { signature: '' });
    assert.equal(none.status, 401);
    // Signed, then the body changed on the way.
    const body = JSON.stringify(payload);
    const tampered = await deliver(http.url, 'pull_request', null, {
      body: body.replace(/"sha":"c{40}"/, `"sha":"${'d'.repeat(40)}"`),
      signature: await new Webhooks({ secret: SECRET }).sign(body),
    });
    assert.equal(tampered.status, 401);
    const good = await deliver(http.url, 'pull_request', payload);
    assert.equal(good.status, 202, good.text);
    assert.equal(await jobs(), n + 1, 'only the well-signed delivery was queued');
    assert.equal(await new GithubState(redis, prefix, 60).head(prKeyOf(pr)), 'c'.repeat(40));
  });

  test('a replayed delivery is answered and not queued again, also after Redis lost it', async () => {
    const payload = prPayload('synchronize', { ...pr, number: 12, headSha: 'e'.repeat(40) });
    const first = await deliver(http.url, 'pull_request', payload, { id: 'delivery-replayed-1' });
    assert.equal(first.status, 202);
    const n = await jobs();
    const again = await deliver(http.url, 'pull_request', payload, { id: 'delivery-replayed-1' });
    assert.equal(again.status, 200);
    assert.match(again.text, /handled before/);
    // Redis forgot the job: the durable journal still knows the delivery.
    for (const j of await queues.queues.github.getJobs(['delayed']))
      if (j.data.number === 12) await j.remove();
    const third = await deliver(http.url, 'pull_request', payload, { id: 'delivery-replayed-1' });
    assert.equal(third.status, 200);
    assert.equal(await jobs(), n - 1);
    const month = new Date().toISOString().slice(0, 7);
    const journal = await readFile(
      join(stateRoot(config), 'github', 'deliveries', `${month}.jsonl`),
      'utf8',
    );
    assert.equal(journal.split('\n').filter((l) => l.includes('delivery-replayed-1')).length, 1);
  });

  test('wrong content type 415, oversized 413, missing headers 400, not JSON 400: nothing queued', async () => {
    const n = await jobs();
    const payload = prPayload('opened', { ...pr, number: 13 });
    const form = await deliver(http.url, 'pull_request', payload, {
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 415);
    const big = JSON.stringify({ ...payload, padding: 'x'.repeat(70 * 1024) });
    const large = await deliver(http.url, 'pull_request', null, { body: big });
    assert.equal(large.status, 413);
    assert.match(large.text, /maxWebhookBytes/);
    const noDelivery = await fetch(`${http.url}/github/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-hub-signature-256': await new Webhooks({ secret: SECRET }).sign('{}'),
      },
      body: '{}',
    });
    assert.equal(noDelivery.status, 400);
    const notJson = await deliver(http.url, 'pull_request', null, { body: 'not json' });
    assert.equal(notJson.status, 400);
    assert.equal(await jobs(), n);
  });

  test('drafts, bots, other actions and plain comments are recorded as ignored, not queued', async () => {
    const n = await jobs();
    const cases: [string, unknown, RegExp][] = [
      ['pull_request', prPayload('opened', { ...pr, number: 14, draft: true }), /draft/],
      [
        'pull_request',
        prPayload('opened', { ...pr, number: 15 }, { login: 'dependabot[bot]', type: 'Bot' }),
        /bot/,
      ],
      [
        'pull_request',
        prPayload('closed', { ...pr, number: 16, state: 'closed' }),
        /pull_request closed/,
      ],
      [
        'issue_comment',
        commentPayload(pr, 'maintainer', 'LGTM, thanks'),
        /without a \/pcibot command/,
      ],
      ['push', { ref: 'refs/heads/master' }, /not one pcibot acts on/],
    ];
    for (const [event, payload, why] of cases) {
      const d = await deliver(http.url, event, payload);
      assert.equal(d.status, 202, d.text);
      assert.match(d.text, why);
      assert.match(d.text, /ignored/);
    }
    assert.equal(await jobs(), n);
  });

  test('a /pcibot command is queued at once for the worker to check the commenter', async () => {
    const d = await deliver(
      http.url,
      'issue_comment',
      commentPayload(pr, 'someone', '/pcibot recheck', 777),
    );
    assert.equal(d.status, 202, d.text);
    const job = (await queues.queues.github.getJobs(['waiting'])).find(
      (j) => j.data.kind === 'command',
    );
    assert.ok(job);
    assert.equal(job.data.kind === 'command' && job.data.user, 'someone');
    assert.equal(job.data.kind === 'command' && job.data.command, 'recheck');
  });

  test('without the github settings the endpoint is not there', async () => {
    const p2 = uniquePrefix('ghhook-off');
    const q2 = new ServiceQueues(redis, p2);
    const off = await startHttp(testConfig(p2), redis, q2, { host: '127.0.0.1', port: 0 });
    try {
      const d = await deliver(off.url, 'pull_request', prPayload('opened', pr));
      assert.equal(d.status, 404);
    } finally {
      await off.close();
      await q2.close();
    }
  });
});
