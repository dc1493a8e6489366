// The report pages' plumbing without a browser: the config that places them
// (http.publicUrl, a list's archive), the link in the replies (and none when
// no public URL is configured), and the routes' answers: stored results only,
// a series id redirecting to its latest review, every response with the
// Content-Security-Policy, nothing served outside the names they know.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readInputs } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { replyText, signature } from '../../bot/outbound/compose.js';
import { AdminExposedError, startHttp, type HttpHandle } from '../../workers/serve/http.js';
import { PAGE_CSP } from '../../workers/report/html.js';
import type { ReviewResult } from '../../workers/report/types.js';
import type { Series } from '../../bot/types.js';
import { repoRoot } from '../../bot/util/paths.js';
import { ConfigError, loadConfig, validateConfig } from '../../workers/config.js';
import { runReview } from '../../workers/pipeline.js';
import { ServiceQueues } from '../../workers/queues.js';
import { ServiceState } from '../../workers/state.js';
import { testConfig, testRedis, uniquePrefix } from './helpers.js';

describe('config: where the pages are', () => {
  it('http.publicUrl: an http(s) URL, trailing slash dropped; none by default', () => {
    assert.equal(validateConfig({}).http.publicUrl, null);
    assert.equal(
      validateConfig({ http: { publicUrl: 'https://pcibot.example.org/' } }).http.publicUrl,
      'https://pcibot.example.org',
    );
    for (const bad of ['pcibot.example.org', 'javascript:alert(1)', 'https://a b', 42])
      assert.throws(
        () => validateConfig({ http: { publicUrl: bad } }),
        (e: unknown) => e instanceof ConfigError && /^http\.publicUrl: /.test(e.message),
        String(bad),
      );
    const env = loadConfig({ env: { PCIBOT_PUBLIC_URL: 'http://127.0.0.1:8080' } });
    assert.equal(env.http.publicUrl, 'http://127.0.0.1:8080');
  });

  it("a list's archive: given, or the mirror when that is a URL, else none", () => {
    const c = validateConfig({
      lists: [
        { name: 'a', address: 'a@x.org', mirror: 'https://lore.kernel.org/linux-pci' },
        { name: 'b', address: 'b@x.org', mirror: '/srv/inbox' },
        { name: 'c', address: 'c@x.org', archive: 'https://lore.kernel.org/all/' },
      ],
    });
    assert.deepEqual(
      c.lists.map((l) => l.archive),
      ['https://lore.kernel.org/linux-pci', null, 'https://lore.kernel.org/all'],
    );
    assert.throws(
      () => validateConfig({ lists: [{ name: 'a', address: 'a@x.org', archive: 'ftp://x' }] }),
      /lists\[0\]\.archive: /,
    );
  });
});

describe('the link in the replies', () => {
  it('the signature carries the page URL whole, on its own line; nothing without one', () => {
    const url = `https://pcibot.example.org/series/${'a'.repeat(16)}-v3-a`;
    const withLink = signature(null, url);
    assert.ok(withLink.includes(url), 'not wrapped');
    assert.equal(withLink[withLink.indexOf(url) - 1], 'The report, with the BAR address maps:');
    assert.ok(!signature(null, null).some((l) => /report|http/.test(l)));
    assert.deepEqual(
      signature('https://x.org/pcibot', null).slice(0, 3),
      signature(null).slice(0, 3),
    );
  });

  it('a composed reply ends with it', async () => {
    const raw = (await readInputs([join(repoRoot, 'rules', 'new-kernel-parameter', 'fires.eml')]))
      .mails[0]!;
    const original = await parseMail(raw);
    assert.ok(!isParseFailure(original));
    const text = replyText({
      original,
      findings: [],
      notes: ['Nothing.'],
      list: { address: 'l@x.org', reply: { ccList: true, ccOriginal: false } },
      from: { name: 'pcibot', address: 'pcibot@x.org' },
      replyKey: 'k',
      pageUrl: 'https://pcibot.example.org/series/k',
    });
    assert.match(text, /\n-- \n[\s\S]*\nhttps:\/\/pcibot\.example\.org\/series\/k\n/);
  });
});

describe('the routes', () => {
  const prefix = uniquePrefix('pages');
  let http: HttpHandle;
  let queues: ServiceQueues;
  let cleanup: () => Promise<void>;
  let result: ReviewResult;
  const key = 'abcdef0123456789-v1-a';

  before(async () => {
    const r = await testRedis(prefix);
    cleanup = r.cleanup;
    const config = testConfig(prefix, {
      lists: [
        {
          name: 'linux-pci',
          address: 'linux-pci@vger.kernel.org',
          archive: 'https://lore.kernel.org/linux-pci',
        },
      ],
    });
    // A real result: a rule fixture reviewed without a tree.
    let series: Series | null = null;
    await runReview({
      inputs: [join(repoRoot, 'rules', 'new-kernel-parameter', 'fires.eml')],
      tree: null,
      onResult: (s, res) => {
        series = s;
        result = res;
      },
    });
    assert.ok(series && result);
    const state = new ServiceState(r.redis, prefix);
    await state.putSeries(key, series);
    await state.putResult(key, result);
    await state.putReview({
      reviewKey: key,
      seriesId: result.id,
      title: result.title,
      version: 1,
      round: 'a',
      list: 'linux-pci',
      status: 'reviewed',
      partial: false,
      missing: [],
      findings: {},
      fixed: null,
      replies: [],
      at: '2026-01-01T00:00:00.000Z',
    });
    queues = new ServiceQueues(r.redis, prefix);
    http = await startHttp(config, r.redis, queues, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await http.close();
    await queues.close();
    await cleanup();
  });

  const get = (path: string) => fetch(`${http.url}${path}`, { redirect: 'manual' });

  it('serves a stored review, its JSON as stored, and a series id as a redirect', async () => {
    const page = await get(`/series/${key}`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), PAGE_CSP);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.match(html, /<h1>.*PCI: Add pci=nosharedpage to keep small BARs apart<\/h1>/);
    assert.match(
      html,
      /<a class="thread" href="https:\/\/lore\.kernel\.org\/linux-pci\/20261102100000\.new-kernel-parameter-fires-v1-1%40example\.org\/">/,
    );
    // The finding's line is linked into the diff the service stored with the series.
    assert.match(html, /<a class="loc mono" href="#p1-drivers-pci-pci-c-L\d+">/);
    const json = await get(`/series/${key}.json`);
    assert.equal(json.status, 200);
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(await json.text()), result);
    const redirect = await get(`/series/${result.id}`);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), key);
    const list = await (await get('/series')).text();
    assert.match(list, new RegExp(`<a href="series/${key}">`));
    assert.match(await (await get('/series/')).text(), new RegExp(`<a href="${key}">`));
  });

  it('with an admin token, the pages need it too, unless http.pagesPublic opens them', async () => {
    const token = 'pages-token-0123456789abcdef';
    for (const pagesPublic of [false, true]) {
      const config = testConfig(prefix, { http: { admin: { token }, pagesPublic } });
      const guarded = await startHttp(config, queues.connection, queues, {
        host: '127.0.0.1',
        port: 0,
      });
      try {
        for (const path of [`/series/${key}`, '/series', '/scenarios']) {
          const anon = await fetch(`${guarded.url}${path}`);
          assert.equal(anon.status, pagesPublic ? 200 : 401, `${path} pagesPublic=${pagesPublic}`);
          const withToken = await fetch(`${guarded.url}${path}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          assert.equal(withToken.status, 200, path);
        }
        // The dashboard keeps its auth either way.
        assert.equal((await fetch(`${guarded.url}/admin/queues`)).status, 401);
      } finally {
        await guarded.close();
      }
    }
  });

  it('the dashboard behind basic auth: refused without or with wrong credentials, read-only unless told', async () => {
    const basicAuth = { user: 'ops', pass: 'pass-0123456789' };
    const basic = (user: string, pass: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
    });
    // Beyond loopback without credentials: refused before anything listens.
    await assert.rejects(
      startHttp(testConfig(prefix), queues.connection, queues, { host: '0.0.0.0', port: 0 }),
      (e: unknown) => e instanceof AdminExposedError && /beyond loopback/.test(e.message),
    );
    for (const readOnly of [true, false]) {
      const config = testConfig(prefix, { http: { admin: { basicAuth, readOnly } } });
      const h = await startHttp(config, queues.connection, queues, { host: '127.0.0.1', port: 0 });
      const pause = `${h.url}/admin/queues/api/queues/send/pause`;
      try {
        const anon = await fetch(`${h.url}/admin/queues`);
        assert.equal(anon.status, 401);
        assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="pcibot admin"');
        assert.equal(
          (await fetch(`${h.url}/admin/queues`, { headers: basic('ops', 'wrong-pass-0123') }))
            .status,
          401,
        );
        assert.equal(
          (await fetch(pause, { method: 'PUT', headers: basic('ops', 'wrong-pass-0123') })).status,
          401,
          'a change without credentials never reaches the queues',
        );
        const ok = basic(basicAuth.user, basicAuth.pass);
        assert.equal((await fetch(`${h.url}/admin/queues`, { headers: ok })).status, 200);
        const put = await fetch(pause, { method: 'PUT', headers: ok });
        assert.equal(put.status, readOnly ? 405 : 200, `readOnly=${readOnly}`);
        assert.equal(await queues.queues.send.isPaused(), !readOnly);
      } finally {
        await queues.queues.send.resume();
        await h.close();
      }
    }
  });

  it('answers 404, with the CSP, for anything else', async () => {
    for (const path of [
      '/series/nope-v1-a',
      '/series/nope-v1-a.json',
      `/series/${key}/maps/0.svg`, // no model: no maps
      '/series/%2e%2e%2fetc',
      '/scenarios/..%2fpackage.json',
      '/scenarios/nope-4K.svg',
    ]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('content-security-policy'), PAGE_CSP, path);
    }
  });

  it('serves the library: a map per scenario and page size, as SVG', async () => {
    const page = await (await get('/scenarios')).text();
    const srcs = [...page.matchAll(/<img loading="lazy" src="scenarios\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    assert.ok(srcs.length > 50, `${srcs.length} maps`);
    assert.ok(srcs.includes('seed-001-reproducer-qboot-4K.svg'));
    const svg = await get('/scenarios/seed-001-reproducer-qboot-4K.svg');
    assert.equal(svg.status, 200);
    assert.match(svg.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.equal(svg.headers.get('content-security-policy'), PAGE_CSP);
    assert.match(await svg.text(), /<g class="page shared" data-page="0x110000000">/);
  });
});
