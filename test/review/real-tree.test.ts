// The bundled example series reviewed against the real Debian 6.12 tree (made
// by scripts/kernel-tree.sh, prepared by `npm test`'s setup step or here).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { renderMarkdown, renderTerminal } from '../../workers/report/text.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { cacheDir } from '../../bot/util/cache.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { runReview } from '../../workers/pipeline.js';

test('the example series applies to the real 6.12 tree, with findings, in three formats', async () => {
  const { path: tree, commit } = await prepareKernelTree();
  const mbox = await exampleMbox({ name: 'align-small-bars', tree, commit, cacheDir: cacheDir() });
  const status = () =>
    execFileSync('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no']).toString();
  const before = status();

  const report = await runReview({ inputs: [mbox], tree });
  assert.equal(report.summary.messages, 9, 'cover letter + 8 patches');
  assert.equal(report.summary.reviewed, 1);
  const series = report.series[0]!;
  assert.equal(series.version, 3);
  assert.equal(series.base?.how, 'base-commit');
  assert.equal(series.base?.commit, commit);
  assert.deepEqual(
    series.patches.map((p) => p.apply?.status),
    Array(8).fill('applied'),
  );
  // Written on the author's tree, the patches land where real mail does: pci.c 62
  // lines below the headers (18 above for patch 6's second hunk), i386.c 27 above,
  // the parameters document 24 below, pci-common.c where its header says.
  assert.deepEqual(
    series.patches.map((p) => (p.apply?.landed ?? []).map((l) => l.offset)),
    [[62, 62], [62], [-27], [], [62], [24, 62, -18], [62], [62]],
  );
  // Findings name lines of the patched tree, not of the hunk headers: the comment
  // patch 8 puts above pcibios_default_alignment() starts where the function was.
  const reader = openTreeReader(tree, commit);
  const pciLines = (await reader.read('drivers/pci/pci.c'))!.split('\n');
  const weak = series.patches[7]!.findings.find((f) => f.rule === 'policy-in-weak-default')!;
  assert.equal(
    weak.line,
    pciLines.indexOf('resource_size_t __weak pcibios_default_alignment(void)') + 1,
  );
  assert.equal(weak.mailLine, weak.line! - 62, 'the mail numbers it 62 lines up');
  assert.equal(weak.headLine, weak.line);
  const rulesAt = (i: number) => series.patches[i - 1]!.findings.map((f) => f.rule).sort();
  assert.deepEqual(rulesAt(6), ['new-kernel-parameter', 'stable-and-fixes']);
  assert.deepEqual(rulesAt(7), ['stable-and-fixes']);
  const param = series.patches[5]!.findings.find((f) => f.rule === 'new-kernel-parameter')!;
  assert.equal(param.file, 'drivers/pci/pci.c');
  assert.equal(param.evidence.parameter, 'pci=small_bar_align');

  const json = JSON.parse(JSON.stringify(report));
  assert.deepEqual(json, report, 'the report is plain JSON');
  assert.match(renderTerminal(report), /8\/8 PCI: Align small BARs\n {6}applied/);
  assert.match(renderMarkdown(report), /\| 8 \| PCI: Align small BARs \| applied \|/);
  // Patch 1 changes pci_reassigndev_resource_alignment() in a way the reader does not
  // understand: what the model then introduces at 4K is unverified, and the table
  // says so under its numbers, in every format.
  const at4k = series.model!.table.filter((t) => t.pageSize === 4096);
  const introduced = at4k.reduce((n, t) => n + t.introduced, 0);
  assert.ok(introduced > 0);
  assert.equal(
    at4k.reduce((n, t) => n + t.unverified, 0),
    introduced,
  );
  const note = new RegExp(`introduced but unverified .*: ${introduced} of ${introduced} at 4K`);
  assert.match(renderTerminal(report), note);
  assert.match(renderMarkdown(report), note);
  assert.equal(status(), before, 'the kernel checkout is untouched');
});
