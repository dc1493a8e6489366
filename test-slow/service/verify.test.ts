// Slow: the service with its verify queue on. Seed 001's 8/8 alone, fed to the
// workers against the real 6.12 tree: the series waits for the verify job (a
// real kernel build and a qboot boot), and the single dry-run reply carries
// what the boot showed (the small BARs lost on x86).
import assert from 'node:assert/strict';
import { readdir, readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { alignSmallBarsPatch8Alone } from '../../fixtures/examples/align-small-bars.js';
import { generateExampleMbox } from '../../fixtures/examples/generate.js';
import { readInputs } from '../../bot/ingest/read.js';
import { startWorkers } from '../../workers/service.js';
import { testConfig, testRedis, uniquePrefix, waitFor } from '../../test/service/helpers.js';

/** The reply's text as a mail reader shows it: quoted-printable decoded, CRLF as LF. */
function replyText(raw: string): string {
  return Buffer.from(
    raw
      .replace(/\r\n/g, '\n')
      .replace(/=\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

test('service verify queue: a policy-changing series waits for its boot, one reply carries the result', async () => {
  const { path: tree, commit } = await prepareKernelTree();
  const work = await mkdtemp(join(tmpdir(), 'pcibot-svc-verify-'));
  const prefix = uniquePrefix('svc-verify');
  const { redis, cleanup } = await testRedis(prefix);
  const outbox = join(work, 'outbox');
  const mbox = join(work, '8of8.mbox');
  await generateExampleMbox({
    tree,
    base: commit,
    out: mbox,
    series: alignSmallBarsPatch8Alone,
  });
  const h = await startWorkers({
    config: testConfig(prefix, {
      tree: { path: tree },
      // The example is dated 2026-11: beyond the default age limit the reply would rightly not be sent.
      lists: [
        { name: 'linux-pci', address: 'linux-pci@vger.kernel.org', reply: { maxAgeDays: 3650 } },
      ],
      mail: { from: 'pcibot@example.org', outbox },
      verify: { enabled: true, scenarios: ['seed-001-reproducer-qboot'] },
      jobLockSec: 600,
    }),
    connection: redis,
    log: () => {},
    schedule: false,
  });
  try {
    await h.queues.enqueueMails((await readInputs([mbox])).mails, 'linux-pci');
    const files = await waitFor(
      'the reply',
      async () => {
        const f = (await readdir(outbox).catch(() => [] as string[])).filter((x) =>
          x.endsWith('.eml'),
        );
        return f.length ? f : null;
      },
      // A cold kernel build on 2 busy cores, possibly queued behind another
      // test's build (one build at a time: the build lock), can pass 20 min.
      40 * 60_000,
      500,
    );
    assert.equal(files.length, 1, 'one reply for a one-patch series');
    const text = replyText(await readFile(join(outbox, files[0]!), 'utf8'));
    assert.match(text, /Booted: the patched kernel leaves \d+ BARs? without an address/);
    assert.match(text, /seed-001-reproducer-qboot/);
    const done = await h.queues.queues.verify.getJobCounts('completed', 'failed');
    assert.deepEqual(done, { completed: 1, failed: 0 });
  } finally {
    await h.close(10_000);
    await cleanup();
    await rm(work, { recursive: true, force: true });
  }
});

test('service verify auto (the default with QEMU): the series the model needs a boot for is booted, and the reply says what the boot confirmed', async () => {
  const { path: tree, commit } = await prepareKernelTree();
  const work = await mkdtemp(join(tmpdir(), 'pcibot-svc-verify-auto-'));
  const prefix = uniquePrefix('svc-verify-auto');
  const { redis, cleanup } = await testRedis(prefix);
  const outbox = join(work, 'outbox');
  const mbox = join(work, '8of8.mbox');
  await generateExampleMbox({ tree, base: commit, out: mbox, series: alignSmallBarsPatch8Alone });
  const h = await startWorkers({
    config: testConfig(prefix, {
      tree: { path: tree },
      // The example is dated 2026-11: beyond the default age limit the reply would rightly not be sent.
      lists: [
        { name: 'linux-pci', address: 'linux-pci@vger.kernel.org', reply: { maxAgeDays: 3650 } },
      ],
      mail: { from: 'pcibot@example.org', outbox },
      verify: { enabled: 'auto', scenarios: ['seed-001-reproducer-qboot'] },
      jobLockSec: 600,
    }),
    connection: redis,
    log: () => {},
    schedule: false,
  });
  try {
    await h.queues.enqueueMails((await readInputs([mbox])).mails, 'linux-pci');
    const files = await waitFor(
      'the reply',
      async () => {
        const f = (await readdir(outbox).catch(() => [] as string[])).filter((x) =>
          x.endsWith('.eml'),
        );
        return f.length ? f : null;
      },
      // A cold kernel build on 2 busy cores, possibly queued behind another
      // test's build (one build at a time: the build lock), can pass 20 min.
      40 * 60_000,
      500,
    );
    const text = replyText(await readFile(join(outbox, files[0]!), 'utf8'));
    // The model's lost BARs, and what the real boot said of them.
    assert.match(
      text.replace(/\n/g, ' '),
      /Confirmed by a boot of the patched kernel:\s+seed-001-reproducer-qboot at 4K/,
    );
    assert.match(text, /Booted: the patched kernel leaves \d+ BARs? without an address/);
    const [review] = await h.state.listReviews();
    const result = JSON.parse((await h.state.getResultJson(review!.reviewKey))!) as {
      verifyDecision: { mode?: string; verify: boolean; reason: string };
    };
    assert.equal(result.verifyDecision.mode, 'auto');
    assert.equal(result.verifyDecision.verify, true);
    assert.match(result.verifyDecision.reason, /^auto: the model predicts /);
  } finally {
    await h.close(10_000);
    await cleanup();
    await rm(work, { recursive: true, force: true });
  }
});
