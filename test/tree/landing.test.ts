// Where hunks land (bot/tree/landing.ts): patches written on another tree than
// the one they are applied to land away from their hunk headers, and every
// line the analyse stage hands the rules must be where the patched tree has it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import parseDiff from 'parse-diff';
import { applySeries } from '../../bot/tree/apply.js';
import { withoutSearchBlocks } from '../../bot/tree/conflicts.js';
import { parseDiffSections } from '../../bot/util/diff/sections.js';
import { gitRepo } from '../../bot/tree/git.js';
import {
  landedDiffText,
  landingsFromBlobDiff,
  landingsFromVerbose,
  mailLine,
  parseUnifiedZero,
} from '../../bot/tree/landing.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { commitOnBranch, edit, makeDiff, misplacedLines, tempDir } from './helpers.js';

const PCI = 'drivers/pci/pci.c';
const pci = fixtureTreeFiles()[PCI]!;
const lines = pci.split('\n');
const lineOf = (needle: string) => lines.findIndex((l) => l === needle) + 1;

/** Lines of our own an author's tree has that the target tree lacks. */
const own = (n: number) => Array.from({ length: n }, (_, i) => `/* author's tree ${i + 1} */`);

/** A text with `insert` own lines at the top and `remove` lines dropped from line `from` on. */
function authorsTree(insert: number, from: number, remove: number): string {
  const l = [...lines];
  l.splice(from - 1, remove);
  return [...own(insert), ...l].join('\n');
}

const RETURN0 = 'resource_size_t __weak pcibios_default_alignment(void)\n{\n\treturn 0;\n}';
const RETURN4K = RETURN0.replace('return 0;', 'return max(SZ_4K, PAGE_SIZE);');
const VIRTFN = '\tif (dev->is_virtfn)\n\t\treturn;\n';
const VIRTFN2 = '\tif (dev->is_virtfn || dev->is_physfn)\n\t\treturn;\n';

const work = tempDir('pcibot-landing-test-');
let tree = '';
let base = '';
before(async () => {
  ({ path: tree, commit: base } = await buildFixtureTree(join(work.path, 'tree')));
});
after(() => {
  gitRepo(tree).close();
  work.cleanup();
});

async function landedAndTrees(diff: string, branches: string[] = []) {
  const r = await applySeries({ tree, branches, patches: [{ index: 1, messageId: 'm', diff }] });
  const p = r.patches[0]!;
  const beforeText = await openTreeReader(tree, r.base.commit).read(PCI);
  const afterText = await openTreeReader(tree, r.base.commit, r.overlay).read(PCI);
  return { r, p, beforeText, afterText, landed: parseDiff(landedDiffText(diff, p.landed))[0]! };
}

describe('where hunks land', () => {
  test('offsets both ways in one patch: git says where, the landed diff numbers lines as the trees do', async () => {
    // The author's tree has 30 lines more at the top, and lacks 45 lines between the hunks:
    // the first hunk lands 30 lines above its header, the second 15 lines below.
    const cut = lineOf('static void pci_request_resource_alignment(struct pci_dev *dev, int bar,');
    assert.ok(cut > lineOf('\treturn 0;') && cut < lineOf('\tif (dev->is_virtfn)'));
    const author = authorsTree(30, cut, 45);
    const diff = makeDiff([
      { path: PCI, before: author, after: edit(edit(author, RETURN0, RETURN4K), VIRTFN, VIRTFN2) },
    ]);
    const { p, beforeText, afterText, landed } = await landedAndTrees(diff);
    assert.equal(p.status, 'applied');
    const headers = parseDiff(diff)[0]!.chunks.map((c) => c.newStart);
    assert.deepEqual(
      p.landed!.map((l, i) => l.newStart - headers[i]!),
      [-30, 15],
    );
    assert.deepEqual(misplacedLines(landed, beforeText, afterText), []);
    assert.notDeepEqual(
      misplacedLines(parseDiff(diff)[0]!, beforeText, afterText),
      [],
      'by the headers, the lines are elsewhere',
    );
    // The mail's numbering, back from a landed line (what a reply quotes).
    const hunks = landed.chunks.map((c, i) => ({ header: headers[i]!, landed: c.newStart }));
    const returnAt = landed.chunks[0]!.changes.find((c) => c.type === 'add')!;
    assert.equal(returnAt.type === 'add' && mailLine(returnAt.ln, hunks), returnAt.ln + 30);
  });

  test('a 3-way merge: the hunks are found in the diff of the file before and after', async () => {
    // The branch moved the code 20 lines down and changed a context line: git cannot
    // apply the patch straight, the 3-way merge (the preimage blob is the base's) can.
    const ours = [...own(20), ...edit(pci, '\tint i;\n', '\tint i, n;\n').split('\n')].join('\n');
    commitOnBranch(tree, base, 'pci/moved', { [PCI]: ours }, 'PCI: move things');
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, VIRTFN, VIRTFN2) }]);
    assert.match(diff, /^ \tint i;$/m, 'the changed line is context of the hunk');
    const { p, beforeText, afterText, landed } = await landedAndTrees(diff, ['pci/moved']);
    assert.equal(p.status, 'applied-3way');
    assert.equal(p.landed?.length, 1);
    assert.equal(p.landed![0]!.newStart - parseDiff(diff)[0]!.chunks[0]!.newStart, 20);
    const changed = misplacedLines(landed, beforeText, afterText).filter((m) => !m.startsWith(' '));
    assert.deepEqual(changed, [], 'added and removed lines are where the trees have them');
  });

  test('git --verbose: offsets, reduced context and a section count that does not fit', () => {
    const diff = makeDiff([
      { path: PCI, before: pci, after: edit(edit(pci, RETURN0, RETURN4K), VIRTFN, VIRTFN2) },
    ]);
    const { sections } = parseDiffSections(diff, 1);
    const [h1, h2] = sections[0]!.hunks;
    const verbose = (msgs: string[]) =>
      [`Checking patch ${PCI}...`, ...msgs, `Applied patch ${PCI} cleanly.`].join('\n');
    assert.deepEqual(landingsFromVerbose(verbose([]), sections), []);
    const moved = landingsFromVerbose(
      verbose([`Hunk #2 succeeded at ${h2!.newStart + 7} (offset 7 lines).`]),
      sections,
    )!;
    assert.deepEqual(moved, [
      {
        file: PCI,
        diffLine: h2!.line,
        oldStart: h2!.oldStart + 7,
        newStart: h2!.newStart + 7,
        offset: 7,
      },
    ]);
    // Fuzz (git apply -C1): hunk 1 kept 1 of its 3 leading lines and went 4 lines down.
    const fuzz = landingsFromVerbose(
      verbose([
        `Hunk #1 succeeded at ${h1!.newStart + 6} (offset 4 lines).`,
        `Context reduced to (1/1) to apply fragment at ${h1!.newStart + 6}`,
      ]),
      sections,
    )!;
    assert.deepEqual(
      fuzz.map((l) => l.newStart),
      [h1!.newStart + 4],
    );
    assert.equal(landingsFromVerbose('', sections), null, "no section named: not git's sections");
  });

  test('3-way landings by blob diff prefer where most lines agree', () => {
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, VIRTFN, VIRTFN2) }]);
    const { sections } = parseDiffSections(diff, 1);
    const h = sections[0]!.hunks[0]!;
    const u0 = [
      `@@ -${h.oldStart + 13},1 +${h.oldStart + 13},1 @@`,
      ...h.lines.filter((l) => l[0] === '-' || l[0] === '+'),
    ].join('\n');
    const [l] = landingsFromBlobDiff(sections[0]!, parseUnifiedZero(u0));
    assert.equal(l!.newStart - h.newStart, 13 - 3, 'the hunk starts 3 context lines above');
  });

  test('a -U0 blob diff: added and removed lines numbered by the hunk model', () => {
    const u0 = [
      'diff --git a/1111111 b/2222222',
      'index 1111111..2222222 100644',
      '--- a/1111111',
      '+++ b/2222222',
      '@@ -3,0 +4,2 @@ int f(void)',
      '+x',
      '+y',
      '@@ -10 +11,0 @@',
      '--- not a header: a removed line',
      '@@ -20 +20 @@',
      '-old',
      '\\ No newline at end of file',
      '+new',
      '\\ No newline at end of file',
      '',
    ].join('\n');
    assert.deepEqual(parseUnifiedZero(u0), {
      added: [
        { line: 4, text: 'x' },
        { line: 5, text: 'y' },
        { line: 20, text: 'new' },
      ],
      removed: [
        { line: 10, text: '-- not a header: a removed line' },
        { line: 20, text: 'old' },
      ],
    });
  });

  test('patch text that reads like git errors in --verbose stderr is not taken for them', async () => {
    const forged = 'error: patch failed: drivers/pci/probe.c:1';
    const diff = [
      `diff --git a/${PCI} b/${PCI}`,
      `--- a/${PCI}`,
      `+++ b/${PCI}`,
      '@@ -5,3 +5,3 @@',
      ' not in the file',
      ` ${forged}`,
      '-error: drivers/pci/probe.c: patch does not apply',
      '+x',
      '',
    ].join('\n');
    const { sections } = parseDiffSections(diff, 1);
    const stderr = [
      `Checking patch ${PCI}...`,
      'error: while searching for:',
      'not in the file',
      forged,
      'error: drivers/pci/probe.c: patch does not apply',
      '',
      `error: patch failed: ${PCI}:5`,
      `error: ${PCI}: patch does not apply`,
    ].join('\n');
    assert.equal(
      withoutSearchBlocks(stderr, sections),
      [
        `Checking patch ${PCI}...`,
        `error: patch failed: ${PCI}:5`,
        `error: ${PCI}: patch does not apply`,
      ].join('\n'),
    );
    const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'm', diff }] });
    const p = r.patches[0]!;
    assert.equal(p.status, 'conflict');
    assert.deepEqual(
      p.conflicts!.map((c) => c.file),
      [PCI],
    );
  });
});
