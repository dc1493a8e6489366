// Maintainer commands through the real service pipeline (Redis, the fixture
// tree, dry-run outbox): a command sent in reply to pcibot's own mail acts on
// the series that mail answered; a command older than triggers.maxAgeHours is
// recorded and ignored; with triggers.requireDkim an allow-listed sender's
// command needs a passing DKIM signature (a key pair made here, the mail
// signed with mailauth, the DNS answer injected: there is no network); an
// unknown command gets a short notice to its sender only.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import type { DnsResolver } from '../../bot/triggers/dkim.js';
import type { RawMail } from '../../bot/types.js';
import { startWorkers, type ServiceHandle } from '../../workers/service.js';
import {
  mail,
  removeDir,
  splitMail,
  tempDir,
  testConfig,
  testRedis,
  uniquePrefix,
  waitFor,
} from './helpers.js';
import { buildFixtureSeries, mailDate, type FixtureSeries } from './series.js';

const raw = (text: string, i: number): RawMail => ({
  origin: { kind: 'eml', file: `trigger-${i}.eml` },
  raw: Buffer.from(text, 'utf8').toString('latin1'),
});

async function idle(h: ServiceHandle): Promise<boolean> {
  const d = await h.queues.depths();
  return Object.entries(d)
    .filter(([q]) => q !== 'follow')
    .every(
      ([q, s]) =>
        (s.waiting ?? 0) +
          (s.active ?? 0) +
          (s['waiting-children'] ?? 0) +
          (s.prioritized ?? 0) +
          (q === 'assemble' ? 0 : (s.delayed ?? 0)) ===
        0,
    );
}

describe('maintainer commands', () => {
  let dir: string;
  let fx: FixtureSeries;
  let h: ServiceHandle;
  let cleanup: () => Promise<void>;
  let outbox: string;
  const prefix = uniquePrefix('trig');
  const logs: string[] = [];
  // The maintainer's domain key: made here, published through the injected resolver.
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicB64 = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const lookups: string[] = [];
  const resolver: DnsResolver = async (name, rrtype) => {
    lookups.push(`${rrtype} ${name}`);
    if (rrtype === 'TXT' && name === 'sel1._domainkey.example.org')
      return [[`v=DKIM1; k=rsa; p=${publicB64}`]];
    throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
  };
  const sign = async (text: string) => {
    // mailauth signs with the entries of signatureData (the top-level fields only satisfy its types).
    // signTime is given because without it mailauth reads the clock twice, once
    // for the t= it hashes and once for the t= it writes, and the two differ
    // about one time in 750 (a signature that never verifies: a flaky test).
    const key = { signingDomain: 'example.org', selector: 'sel1', privateKey };
    const { signatures, errors } = await dkimSign(text, {
      ...key,
      signTime: new Date(),
      signatureData: [key],
    });
    assert.deepEqual(errors, []);
    assert.match(signatures, /^DKIM-Signature: /);
    return signatures + text;
  };
  const outboxFiles = async () =>
    (await readdir(outbox).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
  let n = 0;
  const feed = async (text: string) => h.queues.enqueueMails([raw(text, n++)], 'linux-pci');
  const trigger = (
    id: string,
    body: string,
    over: { inReplyTo: string; references?: string[]; date?: string; from?: string },
  ) =>
    mail({
      from: over.from ?? 'PCI Maintainer <pci-maintainer@example.org>',
      subject: 'Re: [PATCH 0/3] PCI: Small BAR alignment and an ACS quirk',
      messageId: id,
      inReplyTo: over.inReplyTo,
      references: over.references ?? [over.inReplyTo],
      date: over.date ?? mailDate(Date.now(), -60),
      body: `${body}\n\nOn Mon, pcibot wrote:\n> Warning: something\n`,
    });
  const triggerRecord = async (id: string) =>
    waitFor(`the record of ${id}`, async () =>
      (await h.state.triggers()).find((t) => t.messageId === id),
    );

  before(async () => {
    dir = await tempDir('svc-trig');
    fx = await buildFixtureSeries(join(dir, 'fx'));
    outbox = join(dir, 'outbox');
    const r = await testRedis(prefix);
    cleanup = r.cleanup;
    h = await startWorkers({
      config: testConfig(prefix, {
        tree: { path: fx.tree },
        lists: [{ name: 'linux-pci', address: 'linux-pci@vger.kernel.org' }],
        mail: { from: 'pcibot@example.org', outbox },
        triggers: { requireDkim: true },
      }),
      connection: r.redis,
      log: (l) => logs.push(l),
      schedule: false,
      hooks: { dkimResolver: resolver },
    });
    for (const m of fx.series) await feed(m);
    await waitFor('the review and its reply', async () =>
      (await idle(h)) && (await outboxFiles()).length === 1 ? true : null,
    );
  });
  after(async () => {
    await h?.close(5_000);
    await cleanup?.();
    await removeDir(dir);
  });

  /** pcibot's reply to the series (its Message-ID: what a maintainer answers). */
  const botReply = async () => {
    const [file] = await outboxFiles();
    const { headers } = splitMail(await readFile(join(outbox, file!), 'utf8'));
    return headers.get('message-id')!.replace(/^<|>$/g, '');
  };

  it('honours a signed "pcibot: review" sent in reply to pcibot\'s own mail', async () => {
    const ours = await botReply();
    assert.match(ours, /^pcibot-.*-s@example\.org$/);
    // Only In-Reply-To and References to pcibot's mail: the mapping must go through its Message-ID.
    await feed(await sign(trigger('t-own@example.org', 'pcibot: review', { inReplyTo: ours })));
    const t = await triggerRecord('t-own@example.org');
    assert.equal(t.outcome, 'honoured', JSON.stringify(t));
    assert.equal(t.target, fx.ids.cover, 'mapped back to the cover letter pcibot answered');
    assert.deepEqual(
      {
        result: (t.dkim as { result: string }).result,
        domain: (t.dkim as { domain: string }).domain,
      },
      { result: 'pass', domain: 'example.org' },
    );
    assert.ok(lookups.includes('TXT sel1._domainkey.example.org'), 'the key was looked up');
    await waitFor('the second round', async () =>
      (await idle(h)) && (await h.state.listReviews()).length === 2 ? true : null,
    );
    const rounds = (await h.state.listReviews()).map((r) => r.round).sort();
    assert.equal(rounds[0], 'a');
    assert.match(rounds[1]!, /^t[0-9a-f]{12}$/);
    assert.equal((await outboxFiles()).length, 2, 'the second round answered');
  });

  it("refuses an allow-listed sender's unsigned command when DKIM is required, telling only them", async () => {
    const ours = await botReply();
    await feed(trigger('t-unsigned@example.org', 'pcibot: review', { inReplyTo: ours }));
    const t = await triggerRecord('t-unsigned@example.org');
    assert.equal(t.outcome, 'refused');
    assert.match(String(t.reason), /no passing DKIM signature/);
    assert.equal((t.dkim as { result: string }).result, 'none');
    // A tampered signed mail fails too.
    const signed = await sign(
      trigger('t-tampered@example.org', 'pcibot: review', { inReplyTo: ours }),
    );
    await feed(signed.replace('pcibot: review', 'pcibot: review base=deadbeef'));
    const t2 = await triggerRecord('t-tampered@example.org');
    assert.equal(t2.outcome, 'refused');
    assert.notEqual((t2.dkim as { result: string }).result, 'pass');
    await waitFor('idle', () => idle(h));
    assert.equal((await h.state.listReviews()).length, 2, 'no new review');
    const notices = [];
    for (const f of await outboxFiles()) {
      const m = splitMail(await readFile(join(outbox, f), 'utf8'));
      if (/^<t-(unsigned|tampered)@/.test(m.headers.get('in-reply-to') ?? '')) notices.push(m);
    }
    assert.equal(notices.length, 2, 'one notice per refused command');
    for (const m of notices) {
      assert.equal(m.headers.get('to'), 'PCI Maintainer <pci-maintainer@example.org>');
      assert.equal(m.headers.get('cc'), undefined, 'to the sender only');
      assert.match(
        m.body
          .replace(/=\r?\n/g, '')
          .replace(/\r\n/g, '\n')
          .replace(/\n/g, ' '),
        /valid DKIM signature/,
      );
    }
  });

  it('ignores a command older than triggers.maxAgeHours or dated in the future, without a word', async () => {
    const before = (await outboxFiles()).length;
    await feed(
      await sign(
        trigger('t-old@example.org', 'pcibot: quiet', {
          inReplyTo: fx.ids.patches[0]!,
          references: [fx.ids.cover, fx.ids.patches[0]!],
          date: mailDate(Date.now(), -72 * 3600),
        }),
      ),
    );
    const t = await triggerRecord('t-old@example.org');
    assert.equal(t.outcome, 'ignored');
    assert.match(String(t.reason), /older than triggers\.maxAgeHours \(48 h\)/);
    assert.equal(
      (t.dkim as { result: string }).result,
      'pass',
      'recorded for ignored commands too',
    );
    // A command dated days ahead would stay "young" through every replay of the archive.
    await feed(
      await sign(
        trigger('t-future@example.org', 'pcibot: quiet', {
          inReplyTo: fx.ids.patches[0]!,
          references: [fx.ids.cover, fx.ids.patches[0]!],
          date: mailDate(Date.now(), 3 * 86400),
        }),
      ),
    );
    const future = await triggerRecord('t-future@example.org');
    assert.equal(future.outcome, 'ignored');
    assert.match(String(future.reason), /ahead of this machine's clock, so its age is unknown/);
    await waitFor('idle', () => idle(h));
    assert.equal((await outboxFiles()).length, before, 'no notice for a stale command');
    const counters = await h.state.counters();
    assert.equal(counters.triggers_too_old, 2);
    // The thread was not silenced by it.
    const bucketQuiet = await h.state.quietRules(
      (await h.state.getMeta((await import('../../workers/jobs.js')).messageKey(fx.ids.cover)))!
        .bucket!,
    );
    assert.equal(bucketQuiet.size, 0);
  });

  it('answers an unknown command with a short notice to its sender', async () => {
    await feed(
      await sign(
        trigger('t-unknown@example.org', 'pcibot: frobnicate', {
          inReplyTo: fx.ids.patches[1]!,
          references: [fx.ids.cover, fx.ids.patches[1]!],
        }),
      ),
    );
    const t = await triggerRecord('t-unknown@example.org');
    assert.equal(t.outcome, 'refused');
    assert.match(String(t.reason), /unknown pcibot command "frobnicate"/);
    const notice = await waitFor('the notice', async () => {
      for (const f of await outboxFiles()) {
        const m = splitMail(await readFile(join(outbox, f), 'utf8'));
        if (m.headers.get('in-reply-to') === '<t-unknown@example.org>') return m;
      }
      return null;
    });
    const text = notice.body.replace(/=\r?\n/g, '').replace(/\r\n/g, '\n');
    assert.match(text.replace(/\n/g, ' '), /unknown pcibot command "frobnicate"/);
    assert.match(text, /pcibot: quiet/);
    assert.equal(notice.headers.get('cc'), undefined);
  });
});
