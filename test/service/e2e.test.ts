// The service end to end, against the real parts: a public-inbox v2 inbox fed
// by public-inbox-mda and served by public-inbox-httpd, Redis, the fixture
// kernel tree, and an SMTP server in a child process. A 3-patch series plus
// noise goes in after pcibot started following; exactly one threaded reply
// (to the cover letter, holding patch 1's and patch 3's findings: reply.mode
// series is the default) must come out, once; a maintainer's "pcibot: review"
// brings a second round, a stranger's gets a short notice, to them only.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FollowState } from '../../bot/lore/follow.js';
import { runReview } from '../../workers/pipeline.js';
import { startWorkers, type ServiceHandle } from '../../workers/service.js';
import {
  PublicInbox,
  SmtpSink,
  removeDir,
  tempDir,
  testConfig,
  testRedis,
  uniquePrefix,
  waitFor,
} from './helpers.js';
import { buildFixtureSeries, type FixtureSeries } from './series.js';

/** All queues but the scheduler's own idle follow job have nothing left to do. */
async function idle(h: ServiceHandle): Promise<boolean> {
  const d = await h.queues.depths();
  for (const [q, s] of Object.entries(d)) {
    const busy =
      (s.waiting ?? 0) +
      (s.active ?? 0) +
      (s['waiting-children'] ?? 0) +
      (s.prioritized ?? 0) +
      (q === 'follow' ? 0 : (s.delayed ?? 0));
    if (busy > 0) return false;
  }
  return true;
}

describe('service end to end (public-inbox + Redis + SMTP)', () => {
  let dir: string;
  let fx: FixtureSeries;
  let inbox: PublicInbox;
  let smtp: SmtpSink;
  let handle: ServiceHandle;
  let cleanup: () => Promise<void>;
  const prefix = uniquePrefix('e2e');
  const log: string[] = [];

  before(async () => {
    dir = await tempDir('svc-e2e');
    fx = await buildFixtureSeries(dir);
    inbox = await PublicInbox.create(join(dir, 'pi'), 'linux-pci', 'linux-pci@vger.kernel.org');
    // The list as it was when pcibot started: not answered (startFrom "now").
    await inbox.deliver(fx.noise[0]!);
    const url = await inbox.serve();
    smtp = await SmtpSink.start(join(dir, 'smtp'));
    const r = await testRedis(prefix);
    cleanup = r.cleanup;
    const config = testConfig(prefix, {
      tree: { path: fx.tree },
      lists: [
        {
          name: 'linux-pci',
          address: 'linux-pci@vger.kernel.org',
          mirror: url,
          startFrom: 'now',
        },
      ],
      mirrorsDir: join(dir, 'mirrors'),
      mail: {
        from: 'pcibot@example.org',
        send: true,
        smtp: { host: '127.0.0.1', port: smtp.port },
        outbox: join(dir, 'outbox'),
      },
      pollIntervalSec: 1,
      completenessTimeoutSec: 600,
    });
    handle = await startWorkers({
      config,
      connection: r.redis,
      log: (l) => log.push(l),
      lockDurationMs: 10_000,
      stalledIntervalMs: 5_000,
    });
    // Following has begun; now the list gets the series, with noise around it.
    const follow = new FollowState(r.redis, prefix);
    await waitFor('the first fetch', () => follow.getCursor('linux-pci'), 30_000);
    for (const m of fx.series) await inbox.deliver(m);
    await inbox.deliver(fx.noise[1]!);
    await inbox.deliver(fx.noise[2]!);
  });

  after(async () => {
    await handle?.close(5_000);
    await inbox?.stop();
    await smtp?.stop();
    await cleanup?.();
    if (process.env.PCIBOT_KEEP_TEST_DIRS) console.log(`kept ${dir}`);
    else await removeDir(dir);
  });

  it('reviews the series once and sends one threaded reply for the series', async () => {
    // What `pcibot review` (the in-process runner) finds on the same mails.
    const mbox = join(dir, 'series.mbox');
    await writeFile(
      mbox,
      fx.series
        .map(
          (m) =>
            `From pcibot@localhost Mon Jan  6 10:00:00 2025\n${m.replace(/^From /gm, '>From ')}\n`,
        )
        .join(''),
    );
    const embedded = await runReview({ inputs: [mbox], tree: fx.tree });
    const withFindings = embedded.series[0]!.patches.filter((p) => p.findings.length > 0).map(
      (p) => p.index,
    );
    assert.deepEqual(
      withFindings,
      [1, 3],
      'the fixture series should raise findings on patches 1 and 3 only',
    );
    assert.ok(
      embedded.series[0]!.patches[0]!.findings.some((f) => f.rule === 'new-kernel-parameter'),
    );
    assert.ok(embedded.series[0]!.patches[2]!.findings.some((f) => f.rule === 'stable-and-fixes'));

    const mails = await waitFor(
      'a reply at the SMTP server',
      async () => {
        const m = await smtp.messages();
        return m.length >= 1 && (await idle(handle)) ? m : null;
      },
      90_000,
      250,
    );
    // Two more follow rounds: nothing else may arrive.
    const reviews = await handle.state.listReviews();
    await new Promise((r) => setTimeout(r, 2_500));
    const settled = await smtp.messages();
    assert.equal(
      settled.length,
      1,
      `exactly one reply, got ${settled.length}:\n${settled.map((m) => m.headers.get('subject')).join('\n')}\n${log.join('\n')}`,
    );
    assert.equal(reviews.length, 1, 'the series is reviewed once');
    assert.equal(reviews[0]!.round, 'a');

    const r = mails[0]!;
    const h = r.headers;
    assert.equal(h.get('in-reply-to'), `<${fx.ids.cover}>`, 'the reply answers the cover letter');
    assert.match(h.get('subject')!, /^Re: \[PATCH 0\/3\] PCI: Small BAR alignment/);
    assert.equal(h.get('references'), `<${fx.ids.cover}>`);
    assert.match(h.get('to')!, /ann@example\.com/);
    const cc = h.get('cc')!;
    for (const a of [
      'linux-pci@vger.kernel.org',
      'pci-maintainer@example.org',
      'reviewer@example.net',
    ])
      assert.ok(cc.includes(a), `Cc has ${a}: ${cc}`);
    assert.ok(!cc.includes('pcibot@example.org'));
    assert.deepEqual([...r.envelope.to].sort(), [
      'ann@example.com',
      'linux-pci@vger.kernel.org',
      'pci-maintainer@example.org',
      'reviewer@example.net',
    ]);
    assert.match(h.get('content-type')!, /^text\/plain/);
    assert.equal(h.get('auto-submitted'), 'auto-generated');
    assert.doesNotMatch(h.get('content-transfer-encoding') ?? '', /base64/);
    const text = /quoted-printable/i.test(h.get('content-transfer-encoding') ?? '')
      ? r.body
          .replace(/=\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, x) => String.fromCharCode(parseInt(x, 16)))
      : r.body;
    const lines = text.split('\n');
    // One section per patch with findings, each under its subject, in order.
    const p1 = lines.findIndex((l) => l.startsWith('[PATCH 1/3] PCI: Add pci_foo_align='));
    const p3 = lines.findIndex((l) => l.startsWith('[PATCH 3/3] PCI: Add an ACS isolation hook'));
    assert.ok(p1 >= 0 && p3 > p1, `patches 1 and 3 in order:\n${text}`);
    assert.ok(!lines.some((l) => l.startsWith('[PATCH 2/3]')), 'patch 2 has nothing to say');
    // Bottom-posted: the quote comes before the comment, the signature last.
    const firstQuote = lines.findIndex((l, i) => i > p1 && l.startsWith('> '));
    const firstComment = lines.findIndex((l, i) => i > p1 && /^(Warning|Error|Note): /.test(l));
    assert.ok(firstQuote > p1 && firstComment > firstQuote, 'the hunk is quoted above the comment');
    assert.ok(
      lines.slice(p1, p3).some((l) => l.startsWith('> ') && l.includes('__setup("pci_foo_align="')),
      "patch 1's section quotes its __setup line",
    );
    assert.ok(lines.indexOf('-- ') > p3, 'signature at the end');
    assert.match(text, /pcibot: review/);
    assert.match(text, /pcibot: quiet/);
    for (const l of lines)
      if (!l.startsWith('> '))
        assert.ok(l.length <= 72, `line over 72 columns: ${JSON.stringify(l)}`);
  });

  it('refuses "pcibot: review" from someone not on the allow-list, with a notice to them only', async () => {
    await inbox.deliver(
      fx.reply(
        'Curious User <user@example.org>',
        2,
        'pcibot: review',
        'stranger-trigger@example.org',
      ),
    );
    await waitFor(
      'the refused trigger',
      async () =>
        (await handle.state.triggers()).find((t) => t.messageId === 'stranger-trigger@example.org'),
      30_000,
    );
    const t = (await handle.state.triggers()).find(
      (x) => x.messageId === 'stranger-trigger@example.org',
    )!;
    assert.equal(t.outcome, 'refused');
    assert.equal((t.dkim as { result: string }).result, 'none', 'the DKIM result is recorded');
    const mails = await waitFor(
      'the notice',
      async () => {
        const m = await smtp.messages();
        return m.length >= 2 && (await idle(handle)) ? m : null;
      },
      30_000,
      250,
    );
    assert.equal(mails.length, 2, 'one notice, nothing else');
    const notice = mails[1]!;
    assert.deepEqual(notice.envelope.to, ['user@example.org'], 'to the sender only');
    assert.equal(notice.headers.get('cc'), undefined);
    assert.equal(notice.headers.get('in-reply-to'), '<stranger-trigger@example.org>');
    assert.match(notice.body.replace(/=\n/g, ''), /was not carried out/);
    assert.equal((await handle.state.listReviews()).length, 1, 'no new review');
  });

  it('re-reviews on a maintainer\'s "pcibot: review" (MAINTAINERS of the tree)', async () => {
    await inbox.deliver(
      fx.reply(
        'PCI Maintainer <pci-maintainer@example.org>',
        2,
        'pcibot: review',
        'maintainer-trigger@example.org',
      ),
    );
    const mails = await waitFor(
      'one more reply',
      async () => {
        const m = await smtp.messages();
        return m.length >= 3 && (await idle(handle)) ? m : null;
      },
      60_000,
      250,
    );
    assert.equal(mails.length, 3);
    const t = (await handle.state.triggers()).find(
      (x) => x.messageId === 'maintainer-trigger@example.org',
    )!;
    assert.equal(t.outcome, 'honoured');
    assert.match(String(t.allowedBy), /MAINTAINERS: PCI SUBSYSTEM/);
    assert.equal(mails[2]!.headers.get('in-reply-to'), `<${fx.ids.cover}>`);
    const ids = new Set(mails.map((m) => m.headers.get('message-id')));
    assert.equal(ids.size, 3, 'every reply has its own Message-ID');
    const reviews = await handle.state.listReviews();
    assert.equal(reviews.length, 2);
    assert.ok(reviews.some((r) => r.round.startsWith('t')));
  });
});
