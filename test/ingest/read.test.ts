import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { describeOrigin, readInputs, splitMbox } from '../../bot/ingest/read.js';
import { mailPath, mailsDir, seedsDir } from '../mail/helpers.js';

const MIXED = mailPath('pci-series-v1-v2-mixed.mbox');

describe('readInputs: mbox', () => {
  it('splits the mixed mbox, reports the broken entry and reads on', async () => {
    const r = await readInputs([MIXED]);
    assert.equal(r.mails.length, 11);
    assert.equal(r.failures.length, 1);
    const f = r.failures[0]!;
    assert.equal(f.origin.kind, 'mbox');
    assert.equal(f.origin.index, 5);
    assert.equal(
      f.reason,
      'not a mail: no header block (the first line is not a "Name: value" header field)',
    );
    assert.doesNotMatch(f.reason, /This entry/, 'the reason never quotes the input');
    assert.deepEqual(
      r.mails.map((m) => m.origin.index),
      [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12],
    );
  });

  it('origins point at the From_ line: line and byte offset', async () => {
    const buf = readFileSync(MIXED);
    const r = await readInputs([MIXED]);
    for (const o of [...r.mails.map((m) => m.origin), ...r.failures.map((x) => x.origin)]) {
      assert.equal(buf.subarray(o.offset!, o.offset! + 5).toString('latin1'), 'From ');
      const linesBefore = buf.subarray(0, o.offset!).toString('latin1').split('\n').length;
      assert.equal(o.line, linesBefore);
      assert.equal(o.file, MIXED);
    }
  });

  it('keeps bytes exact: an entry without escapes is the file slice', async () => {
    const text = readFileSync(MIXED).toString('latin1');
    const r = await readInputs([MIXED]);
    const first = r.mails[0]!;
    const next = r.mails[1]!.origin.offset!;
    const start = text.indexOf('\n', first.origin.offset!) + 1;
    // the empty line before the next From_ line is the separator
    assert.equal(first.raw + '\n', text.slice(start, next));
  });

  it('mboxrd: unescapes any number of > before From', () => {
    const mbox = [
      'From mboxrd@z Thu Jan  1 00:00:00 1970',
      'From: a@example.org',
      'Subject: x',
      '',
      '>From one',
      '>>From two',
      '>>>From three',
      '> From not escaped',
      '',
    ].join('\n');
    const { mails } = splitMbox(mbox, 'm');
    assert.equal(mails.length, 1);
    assert.ok(mails[0]!.raw.endsWith('\nFrom one\n>From two\n>>From three\n> From not escaped\n'));
  });

  it('does not split at a body line that merely starts with "From "', () => {
    const mbox =
      'From a@b Mon Jan  6 10:00:00 2025\nFrom: a@b\nSubject: one\n\nText.\n\nFrom the spec we know this.\n\n' +
      'From a@b Mon Jan  6 10:01:00 2025\nFrom: a@b\nSubject: two\n\nMore.\n';
    const { mails, failures } = splitMbox(mbox, 'm');
    assert.equal(failures.length, 0);
    assert.equal(mails.length, 2);
    assert.ok(mails[0]!.raw.includes('\nFrom the spec we know this.\n'));
  });

  it('CRLF mboxes split the same way', async () => {
    const r = await readInputs([mailPath('crlf.mbox')]);
    assert.equal(r.mails.length, 2);
    assert.equal(r.failures.length, 0);
    assert.ok(r.mails[0]!.raw.startsWith('From: Carl Netdev <carl@example.net>\r\n'));
    // exactly the CRLF empty line before the next From_ line is dropped
    const text = readFileSync(mailPath('crlf.mbox')).toString('latin1');
    const start = text.indexOf('\n') + 1;
    assert.equal(r.mails[0]!.raw + '\r\n', text.slice(start, r.mails[1]!.origin.offset!));
    assert.equal(
      r.mails[1]!.origin.line,
      text.slice(0, r.mails[1]!.origin.offset!).split('\n').length,
    );
  });

  it('empty entries and binary entries fail alone', () => {
    const mbox =
      'From x Mon Jan  6 10:00:00 2025\n\n' +
      'From x Mon Jan  6 10:00:01 2025\nGIF89a\x00\x01\x02\x03\n\n' +
      'From x Mon Jan  6 10:00:02 2025\nFrom: a@b\nSubject: fine\n\nok\n';
    const { mails, failures } = splitMbox(mbox, 'm');
    assert.deepEqual(
      failures.map((f) => [f.origin.index, f.reason.replace(/ \(.*/, '')]),
      [
        [1, 'empty entry'],
        [2, 'binary data, not a mail'],
      ],
    );
    assert.deepEqual(
      mails.map((m) => m.origin.index),
      [3],
    );
  });

  it('a git format-patch file is an mbox of one', async () => {
    const r = await readInputs([
      mailPath('0001-PCI-toy-Give-sub-page-memory-BARs-a-page-of-their-own.patch'),
    ]);
    assert.equal(r.mails.length, 1);
    assert.deepEqual(
      {
        kind: r.mails[0]!.origin.kind,
        index: r.mails[0]!.origin.index,
        line: r.mails[0]!.origin.line,
      },
      { kind: 'mbox', index: 1, line: 1 },
    );
    assert.ok(r.mails[0]!.raw.startsWith('From: '));
  });

  it('latin1 strings round-trip the bytes', async () => {
    const file = mailPath('single-8bit-latin1.eml');
    const r = await readInputs([file]);
    assert.deepEqual(Buffer.from(r.mails[0]!.raw, 'latin1'), await readFile(file));
    assert.equal(r.mails[0]!.origin.kind, 'eml');
  });
});

describe('readInputs: directories, Maildirs, stdin', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcibot-ingest-'));
    await mkdir(join(dir, 'b-sub/deeper'), { recursive: true });
    await mkdir(join(dir, 'a-box/cur'), { recursive: true });
    await mkdir(join(dir, 'a-box/new'), { recursive: true });
    await mkdir(join(dir, 'a-box/tmp'), { recursive: true });
    await mkdir(join(dir, '.hidden-dir'), { recursive: true });
    await copyFile(mailPath('single-qp-utf8.eml'), join(dir, 'z-last.eml'));
    await copyFile(mailPath('crlf.mbox'), join(dir, 'b-sub/deeper/net.mbox'));
    await copyFile(mailPath('iommu-map.eml'), join(dir, 'a-box/new/2'));
    await copyFile(mailPath('iommu-acs.eml'), join(dir, 'a-box/cur/1:2,S'));
    await copyFile(mailPath('kernel-params-unrelated.eml'), join(dir, 'a-box/tmp/in-delivery'));
    await copyFile(mailPath('dashdash-in-hunk.eml'), join(dir, '.hidden.eml'));
    await copyFile(mailPath('dashdash-in-hunk.eml'), join(dir, '.hidden-dir/x.eml'));
    await symlink(join(dir, 'nowhere'), join(dir, 'b-sub/broken-link'));
    await symlink(dir, join(dir, 'b-sub/loop'));
    execFileSync('mkfifo', [join(dir, 'b-sub/fifo')]);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('walks sorted, treats the Maildir as one, skips hidden files and tmp/', async () => {
    const r = await readInputs([dir]);
    assert.deepEqual(
      r.mails.map((m) => [
        m.origin.kind,
        m.origin.file.slice(dir.length + 1),
        m.origin.index ?? null,
      ]),
      [
        ['maildir', 'a-box/cur/1:2,S', null],
        ['maildir', 'a-box/new/2', null],
        ['mbox', 'b-sub/deeper/net.mbox', 1],
        ['mbox', 'b-sub/deeper/net.mbox', 2],
        ['eml', 'z-last.eml', null],
      ],
    );
    // symlinks (broken or a loop) are reported and never followed; the FIFO is not opened
    assert.deepEqual(
      r.failures.map((f) => [f.origin.file.slice(dir.length + 1), f.reason]),
      [
        ['b-sub/broken-link', 'a symbolic link inside an input directory; not followed'],
        ['b-sub/fifo', 'a FIFO, not a regular file; not read'],
        ['b-sub/loop', 'a symbolic link inside an input directory; not followed'],
      ],
    );
  });

  it('is deterministic', async () => {
    const a = await readInputs([dir]);
    const b = await readInputs([dir]);
    assert.deepEqual(a, b);
  });

  it('reads a Maildir given directly', async () => {
    const r = await readInputs([join(mailsDir, 'maildir-inbox')]);
    assert.deepEqual(
      r.mails.map((m) => m.origin.file.replace(/.*maildir-inbox\//, '')),
      ['cur/1736852400.M202P4242.toybox:2,S', 'new/1736507000.M101P4242.toybox'],
    );
  });

  it('reads an mbox from stdin, with positions', async () => {
    const r = await readInputs(['-'], { stdin: Readable.from([readFileSync(MIXED)]) });
    assert.equal(r.mails.length, 11);
    assert.equal(r.failures[0]!.origin.kind, 'stdin');
    assert.equal(r.failures[0]!.origin.file, '-');
    assert.equal(r.failures[0]!.origin.index, 5);
  });

  it('reads a single message from stdin', async () => {
    const bytes = readFileSync(mailPath('single-8bit-latin1.eml'));
    const r = await readInputs(['-'], {
      stdin: Readable.from([bytes.subarray(0, 100), bytes.subarray(100)]),
    });
    assert.equal(r.mails.length, 1);
    assert.deepEqual(r.mails[0]!.origin, { kind: 'stdin', file: '-', index: 1 });
    assert.deepEqual(Buffer.from(r.mails[0]!.raw, 'latin1'), bytes);
  });

  it('a missing input is a usage error that names it', async () => {
    await assert.rejects(
      readInputs([mailPath('single-8bit-utf8.eml'), '/no/such/mbox']),
      /no such file or directory: \/no\/such\/mbox/,
    );
  });

  it('web-page copies (the seeds) are failures that say so; the rest goes on', async () => {
    const seedDir = join(dir, 'seeds');
    await mkdir(seedDir);
    for (const f of ['000_7738658039333cde.txt', '004_b1db861f8f2400ca.txt'])
      await copyFile(join(seedsDir, f), join(seedDir, f));
    await writeFile(join(seedDir, 'zz.eml'), readFileSync(mailPath('iommu-map.eml')));
    const r = await readInputs([seedDir]);
    assert.equal(r.mails.length, 1);
    assert.deepEqual(
      r.failures.map((f) => f.reason),
      [
        'not a mail: no header block; looks like a copy of a web page',
        'not a mail: no header block; looks like a copy of a web page',
      ],
    );
  });

  it('describeOrigin names file and position', () => {
    assert.equal(
      describeOrigin({ kind: 'mbox', file: 'x.mbox', index: 5, line: 120, offset: 4711 }),
      'x.mbox: message 5 (line 120, byte 4711)',
    );
    assert.equal(describeOrigin({ kind: 'stdin', file: '-', index: 1 }), '<stdin>: message 1');
  });
});
