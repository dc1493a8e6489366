// The diff header parser against git itself: for every header form here, the
// names parseDiffSections finds at -p0 and -p1 are the names
// `git apply --numstat -z -p<N>` prints (or both refuse the headers).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { decodeBase85Lines } from '../../bot/util/diff/binary.js';
import { diffTimestampLen } from '../../bot/util/diff/names.js';
import { parseDiffSections, type DiffSection } from '../../bot/util/diff/sections.js';
import { createScratchRepo, scratchEnv } from '../../bot/tree/scratch.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('pcibot-diffnames-test-');
after(() => tmp.cleanup());

const hunk = '@@ -1 +1 @@\n-a\n+b\n';
const create = '@@ -0,0 +1 @@\n+b\n';
const remove = '@@ -1 +0,0 @@\n-a\n';

const CASES: Record<string, string> = {
  'a/ b/ prefixes': `diff --git a/drivers/pci/x.c b/drivers/pci/x.c\nindex 1111111..2222222 100644\n--- a/drivers/pci/x.c\n+++ b/drivers/pci/x.c\n${hunk}`,
  'git diff --no-prefix': `diff --git drivers/pci/x.c drivers/pci/x.c\nindex 1111111..2222222 100644\n--- drivers/pci/x.c\n+++ drivers/pci/x.c\n${hunk}`,
  'no prefix, top-level file': `diff --git Makefile Makefile\n--- Makefile\n+++ Makefile\n${hunk}`,
  'mnemonic prefixes': `diff --git i/drivers/pci/x.c w/drivers/pci/x.c\n--- i/drivers/pci/x.c\n+++ w/drivers/pci/x.c\n${hunk}`,
  'traditional, date after a space': `--- a/drivers/pci/x.c 2025-01-10 12:00:00\n+++ b/drivers/pci/x.c 2025-01-10 12:00:00\n${hunk}`,
  'traditional, GNU date after a tab': `--- a/drivers/pci/x.c\t2025-01-10 12:00:00.123456789 +0100\n+++ b/drivers/pci/x.c\t2025-01-10 12:00:01.000000000 +0100\n${hunk}`,
  'traditional, time zone with a colon': `--- a/x.c 2025-01-10 12:00:00 +08:00\n+++ b/x.c 2025-01-10 12:00:00 +08:00\n${hunk}`,
  'traditional, two-digit year and spaces': `--- a/x.c   25-01-10\n+++ b/x.c   25-01-10\n${hunk}`,
  'traditional, diff -u old/ new/': `--- linux.orig/drivers/pci/x.c\n+++ linux/drivers/pci/x.c\n${hunk}`,
  'traditional, x.c.orig': `--- drivers/x.c.orig\n+++ drivers/x.c\n${hunk}`,
  'traditional, no prefix': `--- drivers/pci/x.c\n+++ drivers/pci/x.c\n${hunk}`,
  'traditional, slashless': `--- x.c\n+++ x.c\n${hunk}`,
  'traditional, epoch means created': `--- drivers/new.c\t1970-01-01 00:00:00.000000000 +0000\n+++ drivers/new.c\t2025-01-10 12:00:00.000000000 +0000\n${create}`,
  'traditional, epoch west of GMT means deleted': `--- drivers/old.c\t2025-01-10 12:00:00 -0500\n+++ drivers/old.c\t1969-12-31 19:00:00 -0500\n${remove}`,
  'traditional /dev/null': `--- /dev/null\n+++ b/drivers/new.c\n${create}`,
  'quoted names': `diff --git "a/drivers/t\\303\\251st file.c" "b/drivers/t\\303\\251st file.c"\n--- "a/drivers/t\\303\\251st file.c"\n+++ "b/drivers/t\\303\\251st file.c"\n${hunk}`,
  'unquoted names with spaces': `diff --git a/drivers/foo bar.c b/drivers/foo bar.c\n--- a/drivers/foo bar.c\t\n+++ b/drivers/foo bar.c\t\n${hunk}`,
  'double slashes': `diff --git a/drivers//pci/x.c b/drivers//pci/x.c\n--- a/drivers//pci/x.c\n+++ b/drivers//pci/x.c\n${hunk}`,
  rename: `diff --git a/drivers/a.c b/drivers/sub/b.c\nsimilarity index 90%\nrename from drivers/a.c\nrename to drivers/sub/b.c\n--- a/drivers/a.c\n+++ b/drivers/sub/b.c\n${hunk}`,
  'rename, no prefix': `diff --git drivers/a.c drivers/b.c\nsimilarity index 100%\nrename from drivers/a.c\nrename to drivers/b.c\n`,
  'new and deleted files': `diff --git a/drivers/n.c b/drivers/n.c\nnew file mode 100644\nindex 0000000..2222222\n--- /dev/null\n+++ b/drivers/n.c\n${create}diff --git a/drivers/o.c b/drivers/o.c\ndeleted file mode 100644\nindex 1111111..0000000\n--- a/drivers/o.c\n+++ /dev/null\n${remove}`,
  'mode change only': `diff --git a/scripts/x.sh b/scripts/x.sh\nold mode 100644\nnew mode 100755\n`,
  'empty new file, no prefix': `diff --git drivers/e.c drivers/e.c\nnew file mode 100644\nindex 0000000..e69de29\n`,
  'date on a git diff ---/+++ line': `diff --git a/x.c b/x.c\n--- a/x.c 2025-01-10 12:00:00\n+++ b/x.c 2025-01-10 12:00:00\n${hunk}`,
};

/** The names `git apply --numstat -z -p<p>` prints, or null when git refuses the headers. */
async function gitNames(diff: string, p: number): Promise<string[] | null> {
  const dir = tempDir('pcibot-diffnames-git-');
  try {
    const scratch = await createScratchRepo(dir.path, 'sha1');
    const r = spawnSync('git', ['apply', '--numstat', '-z', `-p${p}`], {
      input: diff,
      env: { PATH: process.env.PATH, LC_ALL: 'C', ...scratchEnv(scratch.gitDir) },
    });
    if (r.status !== 0) return null;
    return r.stdout
      .toString('utf8')
      .split('\0')
      .filter(Boolean)
      .map((rec) => rec.replace(/^(?:\d+|-)\t(?:\d+|-)\t/, ''));
  } finally {
    dir.cleanup();
  }
}

const ours = (sections: DiffSection[]) => sections.map((s) => s.newPath ?? s.oldPath ?? '?');

describe('parseDiffSections reads names as git apply does', () => {
  for (const [name, diff] of Object.entries(CASES)) {
    test(name, async () => {
      for (const p of [0, 1]) {
        const git = await gitNames(diff, p);
        const parsed = parseDiffSections(diff, p);
        if (git === null) {
          // git refuses these headers at this level: so do we.
          assert.notEqual(parsed.error, null, `-p${p}: git refuses the headers, we read them`);
          continue;
        }
        assert.equal(parsed.error, null, `-p${p}: ${parsed.error}`);
        assert.deepEqual(ours(parsed.sections), git, `-p${p}`);
      }
    });
  }

  test('what the cases mean at the level pcibot would pick', () => {
    const at = (name: string, p: number) => parseDiffSections(CASES[name]!, p).sections;
    assert.deepEqual(ours(at('git diff --no-prefix', 0)), ['drivers/pci/x.c']);
    assert.deepEqual(ours(at('traditional, date after a space', 1)), ['drivers/pci/x.c']);
    assert.deepEqual(ours(at('traditional, diff -u old/ new/', 1)), ['drivers/pci/x.c']);
    assert.deepEqual(ours(at('traditional, x.c.orig', 0)), ['drivers/x.c']);
    const epoch = at('traditional, epoch means created', 0)[0]!;
    assert.equal(epoch.isNew, true);
    assert.equal(epoch.oldPath, null);
    const west = at('traditional, epoch west of GMT means deleted', 0)[0]!;
    assert.equal(west.isDelete, true);
    assert.equal(west.newPath, null);
    assert.deepEqual(ours(at('quoted names', 1)), ['drivers/tést file.c']);
    const r = at('rename', 1)[0]!;
    assert.deepEqual([r.oldPath, r.newPath, r.isRename], ['drivers/a.c', 'drivers/sub/b.c', true]);
    assert.match(
      parseDiffSections(CASES['no prefix, top-level file']!, 1).error!,
      /lacks filename information when removing 1 leading pathname component/,
    );
    // git takes the date as part of the name in a git diff: flagged, not guessed at.
    assert.match(
      at('date on a git diff ---/+++ line', 1)[0]!.problem!,
      /has a date after the name .* git would take the date as part of the file name/,
    );
    assert.equal(at('traditional, GNU date after a tab', 1)[0]!.problem, null);
  });

  test('a header line of 200,000 spaces is read in one pass (the name search is linear)', () => {
    const spaces = ' '.repeat(200_000);
    const diff = `diff --git a/x${spaces}y b/x${spaces}y\n--- a/x${spaces}y\n+++ b/x${spaces}y\n${hunk}`;
    const parsed = parseDiffSections(diff, 1);
    assert.equal(parsed.error, null);
    assert.deepEqual(ours(parsed.sections), [`x${spaces}y`]);
    const slashes = `diff --git a/${'/ '.repeat(100_000)}\n`;
    assert.match(parseDiffSections(slashes, 1).error!, /lacks filename information/);
  });

  test('a "--- x" line inside a hunk is a removed line, not a header', () => {
    const diff = `diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1,2 +1 @@\n a\n--- y.c\n`;
    const parsed = parseDiffSections(`${diff}+++ z.c\n`, 1);
    assert.deepEqual(ours(parsed.sections), ['x.c']);
    assert.deepEqual(parsed.sections[0]!.hunks[0]!.lines, [' a', '--- y.c']);
  });
});

describe('timestamps and binary patches', () => {
  test('diffTimestampLen strips what git strips', () => {
    const name = (line: string) => line.slice(0, line.length - diffTimestampLen(line));
    assert.equal(name('b/x.c 2025-01-10 12:00:00'), 'b/x.c');
    assert.equal(name('b/x.c\t2025-01-10 12:00:00.000000000 +0100'), 'b/x.c');
    assert.equal(name('b/x.c  2025-01-10 12:00:00 +08:00'), 'b/x.c');
    assert.equal(name('b/x.c'), 'b/x.c');
    assert.equal(name('b/2025-01-10'), 'b/2025-01-10');
    assert.equal(name('b/x.c 12:00:00'), 'b/x.c 12:00:00');
  });

  test('the sizes binary patches declare are read, deltas included', () => {
    // A delta: source size 10, result size 1 GiB (varints), then nothing useful.
    const varint = (n: number) => {
      const out: number[] = [];
      do {
        let b = n % 128;
        n = Math.floor(n / 128);
        if (n) b |= 0x80;
        out.push(b);
      } while (n);
      return out;
    };
    const delta = Buffer.from([...varint(10), ...varint(2 ** 30), 0x01, 0x41]);
    const packed = deflateSync(delta);
    const b85 = (buf: Buffer): string[] => {
      const A =
        '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~';
      const lines: string[] = [];
      for (let at = 0; at < buf.length; at += 52) {
        const chunk = buf.subarray(at, at + 52);
        const n = chunk.length;
        let line = n <= 26 ? String.fromCharCode(64 + n) : String.fromCharCode(96 + n - 26);
        for (let g = 0; g < n; g += 4) {
          let acc = 0;
          for (let k = 0; k < 4; k++) acc = acc * 256 + (chunk[g + k] ?? 0);
          let enc = '';
          for (let k = 0; k < 5; k++) {
            enc = A[acc % 85]! + enc;
            acc = Math.floor(acc / 85);
          }
          line += enc;
        }
        lines.push(line);
      }
      return lines;
    };
    assert.deepEqual(decodeBase85Lines(b85(packed)), packed);
    const diff =
      'diff --git a/fw.bin b/fw.bin\nindex 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644\n' +
      `GIT binary patch\ndelta ${delta.length}\n${b85(packed).join('\n')}\n\nliteral 40000000\nzcmV?d00001\n\n`;
    const s = parseDiffSections(diff, 1).sections[0]!;
    assert.deepEqual(s.binary!.hunks, [
      { method: 'delta', declared: delta.length, resultSize: 2 ** 30 },
      { method: 'literal', declared: 40000000, resultSize: 40000000 },
    ]);
  });
});
