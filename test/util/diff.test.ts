// The one diff/hunk model (bot/util/diff) and its callers: names with git's
// quoting, traditional headers with dates, -p0 and -p1, hunks with their
// line numbers; and one tricky diff that every caller must split into the same
// sections with the same line numbers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUnifiedDiff } from '../../bot/mail/diffparse.js';
import { touchedPaths } from '../../bot/mail/diffpaths.js';
import { diffHunks } from '../../bot/outbound/compose.js';
import { diffHtml, fileAnchor, lineAnchor } from '../../workers/report/html.js';
import { scopeSeries } from '../../bot/series/scope.js';
import type { Message, Series } from '../../bot/types.js';
import { readFileSections } from '../../bot/util/diff/files.js';
import { HunkReader, readHunkHeader, type HunkLine } from '../../bot/util/diff/hunks.js';
import { nameOnFileLine, splitGitNames, unquoteC } from '../../bot/util/diff/names.js';
import { parseDiffSections, sectionPaths } from '../../bot/util/diff/sections.js';

describe('names', () => {
  it('C-quoting: escapes, octal bytes as UTF-8, the end of the quoted name', () => {
    assert.deepEqual(unquoteC('"a/x\\tb" rest'), { name: 'a/x\tb', end: 8 });
    assert.equal(unquoteC('"t\\303\\251st"')!.name, 'tést');
    assert.equal(unquoteC('"na\\"me"')!.name, 'na"me');
    assert.equal(unquoteC('"bad\\q"'), null);
    assert.equal(unquoteC('"open'), null);
  });

  it('a ---/+++ name: unquoted, without a date after a space or a tab, /dev/null as null', () => {
    assert.equal(nameOnFileLine('b/x.c 2025-01-10 12:00:00'), 'b/x.c');
    assert.equal(nameOnFileLine('b/x.c\t2025-01-10 12:00:00.000000000 +0100'), 'b/x.c');
    assert.equal(nameOnFileLine('b/x.c\tanything'), 'b/x.c');
    assert.equal(nameOnFileLine('"b/a\\tb.c"\t2025-01-10 12:00:00'), 'b/a\tb.c');
    assert.equal(nameOnFileLine('b/with space.c'), 'b/with space.c');
    assert.equal(nameOnFileLine('/dev/null 2025-01-10 12:00:00'), null);
  });

  it('diff --git names: quoted, unquoted, with spaces; unreadable as null', () => {
    assert.deepEqual(splitGitNames('"a/x\\"y" "b/x\\"y"'), ['a/x"y', 'b/x"y']);
    assert.deepEqual(splitGitNames('a/x y b/x y'), ['a/x y', 'b/x y']);
    assert.equal(splitGitNames('a/x b/y c'), null);
  });
});

describe('hunks', () => {
  it('headers: git form strict, loose form as parse-diff', () => {
    assert.deepEqual(readHunkHeader('@@ -3,2 +4 @@ int f(void)'), {
      oldStart: 3,
      oldLines: 2,
      newStart: 4,
      newLines: 1,
      section: ' int f(void)',
    });
    assert.equal(readHunkHeader('@@  -3,2 +4 @@'), null);
    assert.equal(readHunkHeader('@@  -3, +4 @@', 'loose')!.oldLines, 1);
    assert.equal(readHunkHeader('@@ -3, +4 @@'), null);
  });

  it('a body: kinds, numbers on both sides, the no-newline marker', () => {
    const r = new HunkReader('@@ -10,3 +20,3 @@', readHunkHeader('@@ -10,3 +20,3 @@')!, 1);
    for (const l of [' a', '-b', '+c', '', '\\ No newline at end of file']) r.read(l);
    assert.equal(r.open, false);
    assert.deepEqual(
      r.hunk.body.map((l) => [l.kind, l.oldLine, l.newLine, l.noNewline]),
      [
        ['context', 10, 20, false],
        ['del', 11, null, false],
        ['add', null, 21, false],
        ['context', 12, 22, true],
      ],
    );
    assert.equal(r.read('--- a/x'), null, 'after its counts a hunk takes no line');
  });

  it('counting only (keepBody false): the same end of the hunk, nothing kept', () => {
    const r = new HunkReader('@@ -1 +1,2 @@', readHunkHeader('@@ -1 +1,2 @@')!, 1, 'git', false);
    const taken = ['-a', '+b', '\\ No newline at end of file', '+c'].map((l) => r.read(l));
    assert.deepEqual(
      taken.map((t) => (t === 'marker' ? t : t?.kind)),
      ['del', 'add', 'marker', 'add'],
    );
    assert.equal((taken[1] as HunkLine).noNewline, true, 'the marker marks the line before it');
    assert.equal(r.open, false);
    assert.equal(r.read('+d'), null);
    assert.deepEqual([r.hunk.body, r.hunk.lines], [[], []]);
  });

  it("each line's place in the text: the header's line plus the lines read, markers included", () => {
    const r = new HunkReader('@@ -1 +1 @@', readHunkHeader('@@ -1 +1 @@')!, 7);
    for (const l of ['-a', '\\ No newline at end of file', '+b']) r.read(l);
    assert.deepEqual(
      r.hunk.body.map((l) => [l.raw, l.diffLine, l.noNewline]),
      [
        ['-a', 8, true],
        ['+b', 10, false],
      ],
    );
  });
});

/** A diff with everything that has tripped a walker. */
const TRICKY = [
  'diff --git "a/drivers/pci/na\\"me.c" "b/drivers/pci/na\\"me.c"',
  'index 1111111..2222222 100644',
  '--- "a/drivers/pci/na\\"me.c"',
  '+++ "b/drivers/pci/na\\"me.c"',
  '@@ -1,3 +1,3 @@ static int f(void)',
  ' keep',
  '--- a/not/a/header.c',
  '+++ b/not/a/header.c',
  ' keep',
  '@@ -40,2 +40,3 @@',
  ' x',
  '+y',
  ' z',
  '\\ No newline at end of file',
  'diff --git a/drivers/vfio/old.c b/drivers/vfio/new.c',
  'similarity index 90%',
  'rename from drivers/vfio/old.c',
  'rename to drivers/vfio/new.c',
  '--- a/drivers/vfio/old.c',
  '+++ b/drivers/vfio/new.c',
  '@@ -7 +7 @@',
  '-a',
  '+b',
  'diff --git a/drivers/pci/gone.c b/drivers/pci/gone.c',
  'deleted file mode 100644',
  'index 3333333..0000000',
  '--- a/drivers/pci/gone.c',
  '+++ /dev/null',
  '@@ -1,2 +0,0 @@',
  '-one',
  '-two',
  '',
].join('\n');

const EXPECTED_PATHS = [
  ['drivers/pci/na"me.c'],
  ['drivers/vfio/old.c', 'drivers/vfio/new.c'],
  ['drivers/pci/gone.c'],
];
/** Per section, per hunk: the [old, new] numbers of every body line. */
const EXPECTED_NUMBERS = [
  [
    [
      [1, 1],
      [2, null],
      [null, 2],
      [3, 3],
    ],
    [
      [40, 40],
      [null, 41],
      [41, 42],
    ],
  ],
  [
    [
      [7, null],
      [null, 7],
    ],
  ],
  [
    [
      [1, null],
      [2, null],
    ],
  ],
];

function seriesWithDiff(diff: string): Series {
  const msg = { messageId: 'x@example.org', tags: {}, diff } as unknown as Message;
  return { id: 's-1', patches: [msg] } as unknown as Series;
}

describe('one tricky diff, every caller', () => {
  it('the reader: sections, names, flags, line numbers', () => {
    const sections = readFileSections(TRICKY);
    assert.equal(sections.length, 3);
    assert.deepEqual(sections.map(sectionPaths), EXPECTED_PATHS);
    assert.deepEqual(
      sections.map((s) => s.hunks.map((h) => h.body.map((l) => [l.oldLine, l.newLine]))),
      EXPECTED_NUMBERS,
    );
    assert.deepEqual(
      sections.map((s) => [s.isRename, s.isDelete]),
      [
        [false, false],
        [true, false],
        [false, true],
      ],
    );
    assert.equal(sections[0]!.hunks[1]!.body.at(-1)!.noNewline, true);
  });

  it('git apply -p1: the same sections and numbers', () => {
    const { sections, error } = parseDiffSections(TRICKY, 1);
    assert.equal(error, null);
    assert.deepEqual(sections.map(sectionPaths), EXPECTED_PATHS);
    assert.deepEqual(
      sections.map((s) => s.hunks.map((h) => h.body.map((l) => [l.oldLine, l.newLine]))),
      EXPECTED_NUMBERS,
    );
  });

  it('the rules (parse-diff port): the same files and numbers', () => {
    const files = parseUnifiedDiff(TRICKY);
    assert.equal(files.length, 3);
    const numbers = files.map((f) =>
      f.chunks.map((c) =>
        c.changes
          .filter((ch) => ch.content !== '\\ No newline at end of file')
          .map((ch) =>
            ch.type === 'normal'
              ? [ch.ln1, ch.ln2]
              : ch.type === 'del'
                ? [ch.ln, null]
                : [null, ch.ln],
          ),
      ),
    );
    assert.deepEqual(numbers, EXPECTED_NUMBERS);
  });

  it('reply quoting: the same hunks and new-side numbers, none for the deleted file', () => {
    const hunks = diffHunks(TRICKY);
    assert.deepEqual(
      hunks.map((h) => h.file),
      ['drivers/pci/na"me.c', 'drivers/pci/na"me.c', 'drivers/vfio/new.c'],
    );
    assert.deepEqual(
      hunks.map((h) => h.lines.map((l) => l.newLine)),
      EXPECTED_NUMBERS.slice(0, 2).flatMap((s) => s.map((h) => h.map(([, n]) => n))),
    );
  });

  it('the report page: files named unquoted, the same new-side lines, nothing after the last hunk', () => {
    const { anchors, html } = diffHtml(3, TRICKY);
    const quoted = 'drivers/pci/na"me.c';
    const renamed = 'drivers/vfio/new.c';
    const deleted = 'drivers/pci/gone.c';
    assert.deepEqual(
      [...anchors],
      [
        fileAnchor(3, quoted),
        ...[1, 2, 3, 40, 41, 42].map((n) => lineAnchor(3, quoted, n)),
        fileAnchor(3, renamed),
        lineAnchor(3, renamed, 7),
        fileAnchor(3, deleted),
      ],
    );
    assert.match(html, /<span class="del">--- a\/not\/a\/header\.c\n<\/span>/);
    // The diff's last newline ends the last line; it is no line of its own.
    assert.ok(html.endsWith('<span class="del">-two\n</span>'), html.slice(-80));
  });

  it('paths and scope: the same files, the removed lines inside a hunk are no headers', () => {
    assert.deepEqual(touchedPaths(TRICKY), { paths: EXPECTED_PATHS.flat(), invalid: [] });
    const d = scopeSeries(seriesWithDiff(TRICKY));
    assert.equal(d.inScope, true);
    assert.deepEqual(d.paths, EXPECTED_PATHS.flat());
  });
});

describe('-p0 and -p1', () => {
  const p0 = '--- drivers/pci/x.c\n+++ drivers/pci/x.c\n@@ -1 +1 @@\n-a\n+b\n';
  it('the reader keeps a -p0 name whole; git apply -p0 and -p1 read it as git does', () => {
    assert.deepEqual(readFileSections(p0).map(sectionPaths), [['drivers/pci/x.c']]);
    assert.deepEqual(parseDiffSections(p0, 0).sections.map(sectionPaths), [['drivers/pci/x.c']]);
    assert.deepEqual(parseDiffSections(p0, 1).sections.map(sectionPaths), [['pci/x.c']]);
    assert.deepEqual(
      diffHunks(p0).map((h) => h.file),
      ['drivers/pci/x.c'],
    );
  });
});
