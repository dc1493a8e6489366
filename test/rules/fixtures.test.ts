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
import parseDiff from 'parse-diff';
import { readInputs } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { applySeries } from '../../bot/tree/apply.js';
import { parseDiffSections } from '../../bot/util/diff/sections.js';
import { landedDiffText } from '../../bot/tree/landing.js';
import { filePath } from '../../rules/lib/diff.js';

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

/** One fixture mail's patch, applied to the fixture tree. */
async function applyFixture(file: string) {
  const { mails } = await readInputs([file]);
  const msg = await parseMail(mails[0]!);
  assert.ok(!isParseFailure(msg) && msg.diff, `${file}: a patch mail`);
  const r = await applySeries({
    tree,
    patches: [{ index: 1, messageId: msg.messageId, diff: msg.diff }],
  });
  return { diff: msg.diff, result: r.patches[0]! };
}

/** Each hunk of a fixture as it landed: its file and new-side lines [from, to). */
async function landedHunks(file: string): Promise<{ file: string; from: number; to: number }[]> {
  const { diff, result } = await applyFixture(file);
  return parseDiff(landedDiffText(diff, result.landed)).flatMap((f) =>
    f.chunks.map((c) => ({ file: filePath(f), from: c.newStart, to: c.newStart + c.newLines })),
  );
}

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
        const hunks = await landedHunks(file);
        for (const h of hits) {
          assert.ok(h.title.length > 0 && h.detail.length > 0);
          assert.equal(h.references, rule.references);
          // A line is where the patch landed: inside one of its hunks in the patched tree.
          if (h.line === undefined) continue;
          assert.ok(
            hunks.some((k) => k.file === h.file && h.line! >= k.from && h.line! < k.to),
            `${h.file}:${h.line} is in no hunk as it landed (${JSON.stringify(hunks)})`,
          );
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

describe('the fixtures are written on another tree, as real mail is', () => {
  test('their hunks land tens of lines from their headers, above and below', async () => {
    const all = allRules.flatMap((r) => {
      const { fires, quiet } = fixturesOf(r.id);
      return [...fires, ...quiet];
    });
    const offsets: number[] = [];
    for (const file of all) {
      const { diff, result } = await applyFixture(file);
      assert.ok(['applied', 'applied-3way'].includes(result.status), `${file}: ${result.detail}`);
      const headers = new Map(
        parseDiffSections(diff, 1).sections.flatMap((s) =>
          s.hunks.map((h) => [h.line, h.newStart]),
        ),
      );
      const moved = (result.landed ?? []).map((l) => l.newStart - headers.get(l.diffLine)!);
      assert.ok(
        moved.some((d) => Math.abs(d) >= 10),
        `${file.slice(rulesDir.length + 1)}: no hunk lands 10 or more lines from its header (${moved})`,
      );
      offsets.push(...moved);
    }
    assert.ok(offsets.some((d) => d <= -10) && offsets.some((d) => d >= 10), `${offsets}`);
  });
});
