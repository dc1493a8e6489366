// The CLI and the service make the same ReviewResult for the same series, byte
// for byte: `pcibot review --json` (one process) and the BullMQ workers over
// real Redis (ingest, assemble, apply, analyse, report) both call
// reviewResult(). Nothing volatile is in a result (timings, input paths, the
// tree's path and HEAD are in the CLI's report around it, not in the result),
// so no field needs normalising. Two series: the service-test fixture series
// on the fixture tree (rule findings on patches 1 and 3), and the bundled
// 8-patch example on the real 6.12 tree (the model's before/after, with its
// layouts, and a policy-changing series).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readInputs } from '../../bot/ingest/read.js';
import { resultJson } from '../../workers/report/json.js';
import type { ReviewReport } from '../../workers/report/types.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { cacheDir } from '../../bot/util/cache.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { startWorkers } from '../../workers/service.js';
import { runCli } from '../cli-io.js';
import { removeDir, tempDir, testConfig, testRedis, uniquePrefix, waitFor } from './helpers.js';
import { buildFixtureSeries } from './series.js';

/** The series' ReviewResult JSON from `pcibot review --json` and from the service. */
async function bothWays(dir: string, mbox: string, tree: string) {
  const cli = await runCli(['review', mbox, '--tree', tree, '--json'], { cwd: dir });
  const report = JSON.parse(cli.out) as ReviewReport;
  assert.equal(cli.code, report.summary.findings.error > 0 ? 1 : 0, cli.err);
  assert.equal(report.series.length, 1);
  const fromCli = resultJson(report.series[0]!);

  const prefix = uniquePrefix('identical');
  const { redis, cleanup } = await testRedis(prefix);
  const h = await startWorkers({
    config: testConfig(prefix, {
      tree: { path: tree },
      // The CLI reports every severity; the list is told to do the same.
      lists: [
        { name: 'linux-pci', address: 'linux-pci@vger.kernel.org', reply: { minSeverity: 'info' } },
      ],
      mail: { from: 'pcibot@example.org', outbox: join(dir, `outbox-${prefix}`) },
    }),
    connection: redis,
    log: () => {},
    schedule: false,
  });
  try {
    await h.queues.enqueueMails((await readInputs([mbox])).mails, 'linux-pci');
    const fromService = await waitFor(
      'the stored result',
      async () => {
        const [review] = await h.state.listReviews();
        return review ? h.state.getResultJson(review.reviewKey) : null;
      },
      60_000,
      100,
    );
    return { fromCli, fromService, report };
  } finally {
    await h.close(5_000);
    await cleanup();
  }
}

describe('one ReviewResult from the CLI and the service', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('identical');
  });
  after(async () => removeDir(dir));

  it('the fixture series on the fixture tree: byte-identical', async () => {
    const fx = await buildFixtureSeries(join(dir, 'fx'), { tag: 'identical' });
    const mbox = join(dir, 'fixture.mbox');
    await writeFile(
      mbox,
      fx.series
        .map(
          (m) =>
            `From pcibot@localhost Mon Jan  6 10:00:00 2025\n${m.replace(/^From /gm, '>From ')}\n`,
        )
        .join(''),
    );
    const { fromCli, fromService } = await bothWays(dir, mbox, fx.tree);
    assert.equal(fromService, fromCli);
    const r = JSON.parse(fromService) as ReviewReport['series'][number];
    // What makes the comparison worth something: a reviewed, applied series with findings.
    assert.equal(r.status, 'reviewed');
    assert.deepEqual(
      r.patches.map((p) => [p.apply?.status, p.findings.length > 0]),
      [
        ['applied', true],
        ['applied', false],
        ['applied', true],
      ],
    );
    assert.ok(r.patches[0]!.findings.every((f) => /^[0-9a-f]{16}$/.test(f.fingerprint)));
  });

  it('the bundled example on the real tree, with the model before/after: byte-identical', async () => {
    const { path: tree, commit } = await prepareKernelTree();
    const mbox = await exampleMbox({
      name: 'align-small-bars',
      tree,
      commit,
      cacheDir: cacheDir(),
    });
    const { fromCli, fromService } = await bothWays(dir, mbox, tree);
    assert.equal(fromService, fromCli);
    const r = JSON.parse(fromService) as ReviewReport['series'][number];
    assert.equal(r.patches.length, 8);
    assert.ok(r.model, 'the policy changes: the model data is there');
    assert.ok(r.model.runs.length > 0 && Object.keys(r.model.layouts).length > 0);
    assert.ok(r.findings.some((f) => f.rule === 'model/before-after'));
  });
});
