// realign-by-default and policy-in-weak-default on their fixtures (mails made
// by scripts/make-rule-fixtures.ts against the fixture kernel tree), through
// the whole review pipeline.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gitRepo } from '../../bot/tree/git.js';
import type { Finding } from '../../bot/types.js';
import { repoRoot } from '../../bot/util/paths.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import policyInWeakDefault from '../../rules/policy-in-weak-default/rule.js';
import realignByDefault from '../../rules/realign-by-default/rule.js';
import type { Rule } from '../../rules/types.js';
import { runReview } from '../../workers/pipeline.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('pcibot-policy-rules-');
let tree = '';

before(async () => {
  tree = (await buildFixtureTree(join(tmp.path, 'tree'))).path;
});
after(() => {
  gitRepo(tree).close();
  tmp.cleanup();
});

async function hits(rule: Rule, file: string): Promise<Finding[]> {
  const report = await runReview({
    inputs: [join(repoRoot, 'rules', rule.id, file)],
    tree,
    rules: [rule],
  });
  assert.deepEqual(report.internalErrors, []);
  const s = report.series[0]!;
  assert.equal(s.status, 'reviewed');
  assert.deepEqual(
    s.patches.map((p) => p.apply?.status),
    ['applied'],
  );
  return s.patches.flatMap((p) => p.findings).filter((f) => f.rule === rule.id);
}

describe('realign-by-default', () => {
  test('fires on a default alignment of PAGE_SIZE for everyone, with no way out', async () => {
    const [h, ...rest] = await hits(realignByDefault, 'fires.eml');
    assert.deepEqual(rest, []);
    assert.equal(h!.severity, 'warning');
    assert.equal(h!.file, 'drivers/pci/pci.c');
    assert.equal(h!.line, 38, 'the new return line');
    assert.deepEqual(h!.evidence['after'], 'page');
    assert.deepEqual(
      h!.evidence['arches'],
      ['x86_64', 'arm64', 's390x'],
      'powerpc has its own hook',
    );
    assert.match(h!.detail, /There is no opt-in and no way to turn it off\./);
  });

  test('still fires with an opt-out, and says so', async () => {
    const [h] = await hits(realignByDefault, 'fires-opt-out.eml');
    assert.ok(h);
    assert.equal(h.evidence['after'], 'max-4k-page');
    assert.match(
      h.detail,
      /a way out: pci=no_small_bar_align \(off by default; turning it on gives 0\)\. That is still an opt-out/,
    );
  });

  test('quiet on an opt-in parameter', async () => {
    assert.deepEqual(await hits(realignByDefault, 'quiet.eml'), []);
  });
});

describe('policy-in-weak-default', () => {
  test('fires on a __weak default whose comment cites the spec, not the passthrough reason', async () => {
    const [h, ...rest] = await hits(policyInWeakDefault, 'fires.eml');
    assert.deepEqual(rest, []);
    assert.equal(h!.file, 'drivers/pci/pci.c');
    assert.equal(h!.line, 38, 'the first line of the comment');
    assert.equal(h!.evidence['function'], 'pcibios_default_alignment');
    assert.deepEqual(h!.evidence['fields'], ['defaultAlignment']);
    assert.deepEqual(h!.evidence['appliedIn'], [
      'pci_specified_resource_alignment',
      'pci_reassigndev_resource_alignment',
    ]);
    assert.deepEqual(h!.evidence['overrides'], ['arch/powerpc/kernel/pci-common.c']);
    assert.match(h!.detail, /"PCIe r6\.1 sec 7\.7\.2: MSI-X structures must not share/);
    assert.match(h!.detail, /passed through to a guest/);
    assert.match(h!.detail, /layout inside one BAR/);
  });

  test('quiet when the comment gives the real reason', async () => {
    assert.deepEqual(await hits(policyInWeakDefault, 'quiet.eml'), []);
  });
});
