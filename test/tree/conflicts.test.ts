// What a conflict says (bot/tree/conflicts.ts): the line of the tree that did
// not match, found where the hunk's preimage matches best, quoted; a taken
// enum value; and the 3-way note about the file that failed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { applySeries } from '../../bot/tree/apply.js';
import { describeMismatch, FileLines } from '../../bot/tree/conflicts.js';
import type { DiffHunk } from '../../bot/util/diff/hunks.js';
import { parseDiffSections } from '../../bot/util/diff/sections.js';
import { gitRepo } from '../../bot/tree/git.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { edit, makeDiff, tempDir } from './helpers.js';
import { failingSections } from '../../scripts/bench/conflicts.js';

/** A hunk as parseDiffSections reads it, from its header and body lines. */
function hunk(header: string, lines: string[]): DiffHunk {
  const diff = ['--- a/f.h', '+++ b/f.h', header, ...lines, ''].join('\n');
  return parseDiffSections(diff, 1).sections[0]!.hunks[0]!;
}

const filler = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `int ${tag}_filler_${i};`);

// An enum of flag bits whose bit 2 someone took after the patch was written.
const ENUM = [
  'enum demo_flags {',
  '\tDEMO_A = (__force demo_flags_t) (1 << 0),',
  '\t/* B is for buses */',
  '\tDEMO_B = (__force demo_flags_t) (1 << 1),',
  '\t/* C came later */',
  '\tDEMO_C = (__force demo_flags_t) BIT(2),',
  '};',
  '',
  'enum demo_other {',
  '\tOTHER_A,',
  '};',
];

describe('describeMismatch', () => {
  const file = new FileLines([...filler(30, 'top'), ...ENUM, ...filler(10, 'end')]);
  const at = (text: string) => file.lines.indexOf(text) + 1;
  // Written on a tree without DEMO_C and 12 lines fewer above.
  const added = hunk('@@ -20,6 +20,8 @@ enum demo_flags {', [
    ' \tDEMO_A = (__force demo_flags_t) (1 << 0),',
    ' \t/* B is for buses */',
    ' \tDEMO_B = (__force demo_flags_t) (1 << 1),',
    '+\t/* mine */',
    '+\tDEMO_MINE = (__force demo_flags_t) (1 << 2),',
    ' };',
    ' ',
    ' enum demo_other {',
  ]);

  test('names the first line that differs where the context matches best, and the taken bit', () => {
    const r = describeMismatch(added, file);
    assert.equal(r.line, at('\t/* C came later */'));
    assert.equal(
      r.reason,
      `its context matches best at ${at('\tDEMO_A = (__force demo_flags_t) (1 << 0),')}-${at('\tDEMO_B = (__force demo_flags_t) (1 << 1),')} (3 of 6 lines, +12 from the header); ` +
        `expected "};" at ${r.line}, found "\\t/* C came later */", then "\\tDEMO_C = (__force demo_flags_t) BIT(2),"; ` +
        `bit 2 of enum demo_flags is taken: DEMO_C (line ${at('\tDEMO_C = (__force demo_flags_t) BIT(2),')}) has it, so DEMO_MINE needs another`,
    );
  });

  test('a free value is no hint; braces and blank lines weigh less than code', () => {
    const free = hunk('@@ -20,6 +20,8 @@ enum demo_flags {', [
      ...added.lines.slice(0, 3),
      '+\tDEMO_MINE = (__force demo_flags_t) (1 << 3),',
      ...added.lines.slice(5),
    ]);
    assert.doesNotMatch(describeMismatch(free, file).reason, /taken/);
    // "};" + "" + "enum demo_other {" match three lines in a row too, but one of them is code.
    assert.match(describeMismatch(free, file).reason, /matches best at 32-34 /);
  });

  test('between equal runs, the one nearest the header', () => {
    const twice = new FileLines([
      ...filler(5, 'a'),
      'int first_call(void);',
      'int second_call(void);',
      ...filler(20, 'b'),
      'int first_call(void);',
      'int second_call(void);',
      ...filler(5, 'c'),
    ]);
    const h = (start: number) =>
      hunk(`@@ -${start},3 +${start},4 @@`, [
        ' int first_call(void);',
        ' int second_call(void);',
        '+int third_call(void);',
        ' int missing_call(void);',
      ]);
    assert.equal(describeMismatch(h(8), twice).line, 8);
    assert.equal(describeMismatch(h(26), twice).line, 30);
  });

  test('blank lines and braces alone do not place a hunk; without the search, the header', () => {
    const lonely = hunk('@@ -5,4 +5,4 @@', [' }', ' ', '-int gone;', '+int here;', ' {']);
    const r = describeMismatch(lonely, new FileLines(['{', '}', '', 'x', '}', '', 'y', '{']));
    assert.match(r.reason, /^no two lines of its context are anywhere in the file in a row; /);
    assert.equal(r.line, 7);
    const quick = describeMismatch(added, file, false);
    assert.doesNotMatch(quick.reason, /matches best/);
    assert.equal(quick.line, 20, 'compared where the header says');
    assert.deepEqual(describeMismatch(added, null), { reason: 'the file is not in the tree' });
  });
});

describe('describeMismatch: a difference above the best run', () => {
  // A function the tree changed after the patch was written: it gained a label,
  // lost a comment, or changed a line between the hunk's context lines.
  const body = [
    'static void demo_exit(struct demo *d)',
    '{',
    '\tif (d->parent) {',
    '\t\tdemo_update(d->root);',
    '\t\tdemo_config_path(d->parent);',
    '\t}',
    '',
    '\tmutex_unlock(&demo_lock);',
    '\tup_read(&demo_sem);',
    '}',
  ];
  const patch = hunk('@@ -10,6 +10,8 @@ static void demo_exit(struct demo *d)', [
    ' \t\tdemo_config_path(d->parent);',
    ' \t}',
    ' ',
    '+\tdemo_update_sysfs(d);',
    '+',
    ' \tmutex_unlock(&demo_lock);',
    ' \tup_read(&demo_sem);',
    ' }',
  ]);
  const tree = (lines: string[]) => new FileLines([...filler(40, 'top'), ...lines]);
  const line = (lines: string[], text: string, nth = 0) =>
    40 + lines.map((l, i) => (l === text ? i : -1)).filter((i) => i >= 0)[nth]! + 1;

  test('a line the tree gained between context lines is named, at its own line', () => {
    const gained = [...body.slice(0, 7), ' out:', ...body.slice(7)];
    const r = describeMismatch(patch, tree(gained));
    assert.equal(r.line, line(gained, ' out:'));
    assert.match(r.reason, /matches best at \d+-\d+ \(3 of 6 lines/);
    assert.match(
      r.reason,
      new RegExp(`the tree has a line there that its context lacks: " out:" at ${r.line}$`),
    );
  });

  test('a context line the tree lacks is quoted, above the line it would precede', () => {
    const lost = [...body.slice(0, 5), ...body.slice(6)];
    const r = describeMismatch(patch, tree(lost));
    assert.equal(r.line, line(lost, '\tmutex_unlock(&demo_lock);') - 1);
    assert.match(r.reason, /its context has a line the tree lacks above \d+: "\\t}"$/);
  });

  test('a changed line is quoted with what the tree has', () => {
    const changed = body.map((l) => (l === '\t}' ? '\t} /* parent */' : l));
    const r = describeMismatch(patch, tree(changed));
    assert.equal(r.line, line(changed, '\t} /* parent */'));
    assert.match(r.reason, /expected "\\t}" at \d+, found "\\t} \/\* parent \*\/"$/);
  });
});

describe('describeMismatch: the function the header names', () => {
  // As "PCI: Save and restore root port config space in pcibios_reset_secondary_bus()"
  // on 6.12: written on a tree where the function gained a host-bridge callback that
  // this tree's function does not have. Only "\tint ret;" and a blank line of the
  // context are in the file in a row, in another function far below; the conflict
  // belongs at the function the header names.
  const other = (n: number) => [
    `static int pcibot_other_${n}(struct pcibot_dev *dev)`,
    '{',
    '\tint ret;',
    '',
    `\tret = pcibot_step_${n}(dev);`,
    '\treturn ret;',
    '}',
    '',
  ];
  const weak = [
    '/**',
    ' * pcibot_reset_bus - reset the bus below a bridge',
    ' */',
    'void __weak pcibot_reset_bus(struct pcibot_dev *dev)',
    '{',
    '\tpcibot_reset_secondary(dev);',
    '}',
    '',
  ];
  const file = new FileLines([
    ...filler(20, 'top'),
    ...weak,
    ...Array.from({ length: 12 }, (_, n) => other(n)).flat(),
  ]);
  const def = file.lines.indexOf('void __weak pcibot_reset_bus(struct pcibot_dev *dev)') + 1;
  const context = [
    ' \tstruct pcibot_host *host = pcibot_find_host(dev->bus);',
    ' \tint ret;',
    ' ',
    '-\tif (host->reset_slot) {',
    '+\tif (pcibot_is_root(dev) && host->reset_slot) {',
    '+\t\tpcibot_save(dev);',
    ' \t\tret = host->reset_slot(host, dev);',
    ' \t\tif (ret)',
    ' \t\t\tpcibot_err(dev, ret);',
  ];
  // The author's tree has the function 60 lines further down.
  const moved = hunk(
    '@@ -85,7 +85,8 @@ void __weak pcibot_reset_bus(struct pcibot_dev *dev)',
    context,
  );

  test('only common lines elsewhere: the conflict is at the function, which has none of the context', () => {
    const r = describeMismatch(moved, file);
    assert.equal(r.line, def, r.reason);
    assert.equal(
      r.reason,
      `none of its context is in pcibot_reset_bus() at ${def}-${def + 3}, the function its header ` +
        'names: expected "\\tstruct pcibot_host *host = pcibot_find_host(dev->bus);" there',
    );
  });

  test('the function has some of the context: where it matches best, as before', () => {
    const near = new FileLines([
      ...filler(20, 'top'),
      ...weak.slice(0, 5),
      '\tstruct pcibot_host *host = pcibot_find_host(dev->bus);',
      '\tint ret;',
      '',
      ...weak.slice(5),
      ...Array.from({ length: 12 }, (_, n) => other(n)).flat(),
    ]);
    const r = describeMismatch(moved, near);
    assert.match(
      r.reason,
      /^its context matches best at 26-28 \(3 of 7 lines, -59 from the header\); /,
    );
    assert.equal(r.line, 29);
  });
});

describe('conflict reports on the fixture tree', () => {
  const work = tempDir('pcibot-conflicts-test-');
  let tree = '';
  before(async () => {
    tree = (await buildFixtureTree(join(work.path, 'tree'))).path;
  });
  after(() => {
    gitRepo(tree).close();
    work.cleanup();
  });

  test("names the blob of the file that failed, not of another section's", async () => {
    const files = fixtureTreeFiles();
    const PCI = 'drivers/pci/pci.c';
    const PROBE = 'drivers/pci/probe.c';
    // probe.c: written on a tree with 15 more lines at the top (applies at an offset);
    // pci.c: written on a tree where the default alignment returned 1 (does not apply).
    const probeAuthor = `${filler(15, 'probe').join('\n')}\n${files[PROBE]!}`;
    const lines = probeAuthor.split('\n');
    const probeAfter = [...lines.slice(0, 40), '/* added */', ...lines.slice(40)].join('\n');
    const pciTheirs = edit(files[PCI]!, '{\n\treturn 0;\n}', '{\n\treturn 1;\n}');
    const diff = makeDiff([
      { path: PROBE, before: probeAuthor, after: probeAfter },
      {
        path: PCI,
        before: pciTheirs,
        after: edit(pciTheirs, '{\n\treturn 1;\n}', '{\n\treturn SZ_4K;\n}'),
      },
    ]);
    const pciBlob = /^diff --git a\/drivers\/pci\/pci\.c[^]*?^index ([0-9a-f]+)\./m.exec(diff)![1]!;
    const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'm', diff }] });
    const p = r.patches[0]!;
    assert.equal(p.status, 'conflict');
    assert.deepEqual(
      p.conflicts!.map((c) => c.file),
      [PCI],
    );
    assert.match(
      p.detail!,
      new RegExp(
        `no 3-way merge: blob ${pciBlob} \\(drivers/pci/pci\\.c before the patch\\) is not in the tree`,
      ),
    );
  });

  // 10,000 sections of one file, each a hunk whose context is nowhere in it:
  // every one is reported, in order, with its own hunk and the line git
  // expected (nothing matches, so no search result). How long this takes
  // against git's own time is `npm run bench -- conflicts`.
  test('10,000 failing sections of one file: each reported once, with its own hunk', async () => {
    const file = 'drivers/pci/Kconfig';
    const n = 10_000;
    const r = await applySeries({
      tree,
      patches: [{ index: 1, messageId: 'many', diff: failingSections(file, n) }],
    });
    const p = r.patches[0]!;
    assert.equal(p.status, 'conflict');
    const conflicts = p.conflicts ?? [];
    assert.equal(conflicts.length, n);
    assert.ok(conflicts.every((c) => c.file === file));
    for (const i of [0, 1, 4_999, n - 1]) {
      const c = conflicts[i]!;
      assert.match(c.hunk ?? '', new RegExp(`^@@ -${i + 10},3 \\+${i + 10},3 @@`), `section ${i}`);
    }
    assert.equal(new Set(conflicts.map((c) => c.hunk)).size, n, 'no section reported twice');
  });
});
