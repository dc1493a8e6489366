// Slow: `pcibot review --verify` on seed 001's 8/8 alone (the default alignment
// becomes max(4K, PAGE_SIZE), without the preparatory patches) against the real
// 6.12 tree: the patched kernels are built and the seed reproducer booted on
// x86 (qboot: Linux assigns) and arm64 64K. On x86 the small BARs are really
// lost (an error the verify stage reports); on arm64 the page sharing is gone;
// the model agrees with both boots.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { alignSmallBarsPatch8Alone } from '../../fixtures/examples/align-small-bars.js';
import { generateExampleMbox } from '../../fixtures/examples/generate.js';
import { runReview } from '../../workers/pipeline.js';

test('seed 001 8/8 alone, built and booted: x86 loses the small BARs, arm64 64K separates them', async () => {
  const { path: tree, commit } = await prepareKernelTree();
  const work = await mkdtemp(join(tmpdir(), 'pcibot-verify-series-'));
  try {
    const mbox = join(work, '8of8.mbox');
    await generateExampleMbox({
      tree,
      base: commit,
      out: mbox,
      series: alignSmallBarsPatch8Alone,
    });
    const status = execFileSync('git', [
      '-C',
      tree,
      'status',
      '--porcelain',
      '--untracked-files=no',
    ]).toString();
    const report = await runReview({
      inputs: [mbox],
      tree,
      verify: { only: ['seed-001-reproducer-qboot', 'seed-001-reproducer-arm64'] },
    });
    const s = report.series[0]!;
    assert.ok(s.verify, 'the series was verified');
    const measured = s.verify.scenarios.filter((x) => x.status === 'measured');
    assert.deepEqual(measured.map((x) => `${x.name}@${x.pageSize}`).sort(), [
      'seed-001-reproducer-arm64@4096',
      'seed-001-reproducer-arm64@65536',
      'seed-001-reproducer-qboot@4096',
    ]);
    // x86: the three 32-byte BAR2s are lost in the real boot.
    const lost = s.findings.find((f) => f.rule === 'verify/lost-bar');
    assert.ok(lost, JSON.stringify(s.findings.map((f) => f.rule)));
    assert.equal(lost.severity, 'error');
    const items = lost.evidence['lost'] as {
      scenario: string;
      bdf: string;
      bar: number;
      reason: string;
    }[];
    for (const bdf of ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'])
      assert.ok(
        items.some(
          (i) =>
            i.scenario === 'seed-001-reproducer-qboot' &&
            i.bdf === bdf &&
            i.bar === 2 &&
            /bad alignment/.test(i.reason),
        ),
        `${bdf} BAR2 lost: ${JSON.stringify(items)}`,
      );
    assert.ok(
      !items.some((i) => i.scenario === 'seed-001-reproducer-arm64'),
      'nothing lost on arm64',
    );
    // The model predicted exactly what booted (no mismatch), and says arm64's shared pages are fixed.
    assert.equal(
      s.findings.find((f) => f.rule === 'verify/model-mismatch'),
      undefined,
    );
    const fixed = s.findings.find((f) => f.rule === 'model/fixed')!;
    const arm = (
      fixed.evidence['items'] as { scenario: string; rule: string; pageSizes: number[] }[]
    ).filter((i) => i.scenario === 'seed-001-reproducer-arm64' && i.rule === 'model/shared-page');
    assert.ok(
      arm.some((i) => i.pageSizes.includes(65536)),
      'the 64K page sharing is gone',
    );
    assert.equal(
      execFileSync('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no']).toString(),
      status,
      'the kernel checkout is untouched',
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
