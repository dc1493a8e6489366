// Every rule proves itself on its own fixtures: each rules/<id>/fires*.eml must
// raise the rule, each quiet*.eml must not. The mails go through the whole
// review pipeline (parse, assemble, scope, apply to the fixture kernel tree),
// so a fixture that does not apply or is out of scope fails here too.
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { allRules } from '../../rules/index.js';
import { repoRoot } from '../../bot/util/paths.js';
import { runReview } from '../../workers/pipeline.js';

const rulesDir = join(repoRoot, 'rules');
let work = '';
let tree = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pcibot-rules-'));
  tree = (await buildFixtureTree(join(work, 'tree'))).path;
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

function fixturesOf(id: string): { fires: string[]; quiet: string[] } {
  const dir = join(rulesDir, id);
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.(eml|mbox)$/.test(f))
        .sort()
    : [];
  return {
    fires: files.filter((f) => f.startsWith('fires')).map((f) => join(dir, f)),
    quiet: files.filter((f) => f.startsWith('quiet')).map((f) => join(dir, f)),
  };
}

for (const rule of allRules) {
  describe(`rule ${rule.id}`, () => {
    const { fires, quiet } = fixturesOf(rule.id);

    test('has a firing and a quiet fixture, a rationale and references', () => {
      assert.ok(fires.length > 0, `rules/${rule.id}/ needs a fires*.eml`);
      assert.ok(quiet.length > 0, `rules/${rule.id}/ needs a quiet*.eml`);
      assert.ok(rule.rationale.length > 20);
      assert.ok(rule.references.length > 0);
    });

    for (const file of fires) {
      test(`fires on ${file.slice(rulesDir.length + 1)}`, async () => {
        const report = await runReview({ inputs: [file], tree, rules: [rule] });
        assert.equal(report.failures.length, 0, JSON.stringify(report.failures));
        const reviewed = report.series.filter((s) => s.status === 'reviewed');
        assert.equal(
          reviewed.length,
          1,
          `fixture must be one in-scope series: ${JSON.stringify(report.series.map((s) => s.scope))}`,
        );
        for (const p of reviewed[0]!.patches)
          assert.ok(
            p.apply && ['applied', 'applied-3way'].includes(p.apply.status),
            `patch ${p.index} must apply: ${JSON.stringify(p.apply)}`,
          );
        const hits = reviewed[0]!.patches
          .flatMap((p) => p.findings)
          .filter((f) => f.rule === rule.id);
        assert.ok(hits.length > 0, 'expected the rule to fire');
        for (const h of hits) {
          assert.ok(h.title.length > 0 && h.detail.length > 0);
          assert.equal(h.references, rule.references);
        }
        assert.deepEqual(report.internalErrors, []);
      });
    }

    for (const file of quiet) {
      test(`stays quiet on ${file.slice(rulesDir.length + 1)}`, async () => {
        const report = await runReview({ inputs: [file], tree, rules: [rule] });
        assert.equal(report.failures.length, 0, JSON.stringify(report.failures));
        const reviewed = report.series.filter((s) => s.status === 'reviewed');
        assert.equal(reviewed.length, 1, 'fixture must be one in-scope series');
        const hits = reviewed[0]!.patches
          .flatMap((p) => p.findings)
          .filter((f) => f.rule === rule.id);
        assert.deepEqual(hits, []);
        assert.deepEqual(report.internalErrors, []);
      });
    }
  });
}
