// `pcibot rules list` and `pcibot rules stats`, run in-process through the
// command's own entry point with a captured IO.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import rulesCommand, { type RuleStats } from '../../workers/commands/rules.js';
import { UsageError } from '../../workers/commands/command.js';
import { EXIT_OK, EXIT_USAGE } from '../../bot/util/exit.js';
import { captureIO } from '../cli-io.js';
import { allRules } from '../../rules/index.js';
import { repoRoot } from '../../bot/util/paths.js';

const capture = () => captureIO({ env: {}, cwd: repoRoot });

describe('pcibot rules', () => {
  test('list names every rule with its severity; --json gives rationale and references', async () => {
    const c = capture();
    assert.equal(await rulesCommand.run(['list'], c.io), EXIT_OK);
    const lines = c.out().trim().split('\n');
    assert.equal(lines.length, allRules.length);
    for (const r of allRules)
      assert.ok(
        lines.some((l) => l.startsWith(r.id) && l.includes(r.severity)),
        r.id,
      );
    const j = capture();
    assert.equal(await rulesCommand.run(['list', '--json'], j.io), EXIT_OK);
    const parsed = JSON.parse(j.out()) as { id: string; references: string[] }[];
    assert.deepEqual(
      parsed.map((r) => r.id),
      allRules.map((r) => r.id),
    );
    assert.ok(parsed.every((r) => r.references.length > 0));
  });

  test('stats counts hits per rule and severity over given inputs, on the fixture tree', async () => {
    const c = capture();
    const dir = join(repoRoot, 'rules', 'vfio-uapi');
    assert.equal(await rulesCommand.run(['stats', dir, '--json'], c.io), EXIT_OK);
    const s = JSON.parse(c.out()) as RuleStats;
    assert.equal(s.schema, 'pcibot/rule-stats@1');
    assert.match(String(s.tree), /^fixture tree [0-9a-f]{12}$/);
    assert.equal(s.reviewed, 4, 'the four vfio-uapi fixtures, one series each');
    assert.equal(s.applied, s.patches);
    const uapi = s.rules.find((r) => r.id === 'vfio-uapi')!;
    assert.ok(uapi.hits.warning >= 2, JSON.stringify(uapi));
    assert.equal(uapi.patches, 2, 'both firing fixtures, neither quiet one');
  });

  test('stats prints a table and defaults to the quiet corpus', async () => {
    const c = capture();
    assert.equal(await rulesCommand.run(['stats'], c.io), EXIT_OK);
    const text = c.out();
    assert.match(text, /fixtures\/quiet-corpus \(tree: fixture tree [0-9a-f]{12}\)/);
    assert.match(
      text,
      /\d+ messages \(0 unreadable\), \d+ series, \d+ reviewed, \d+ patches \(\d+ applied\)/,
    );
    for (const r of allRules)
      assert.match(text, new RegExp(`^  ${r.id} +0 +0 +\\d+ +\\d+$`, 'm'), r.id);
    assert.match(text, /^ {2}total +0 +0 +\d+$/m);
  });

  test('bad usage', async () => {
    const c = capture();
    assert.equal(await rulesCommand.run(['stats', 'no/such/dir'], c.io), EXIT_USAGE);
    assert.match(c.err(), /no such file or directory/);
    await assert.rejects(rulesCommand.run(['frobnicate'], c.io), UsageError);
    await assert.rejects(rulesCommand.run([], c.io), UsageError);
  });
});
