// Hostile inputs on the reading side: devices, FIFOs, symlinks, endless
// streams, size bombs. Each is refused by name or stopped at a limit, quickly
// and with a clear reason, and what came before it is kept.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MessageSplitter, readInputs, type ReadItem } from '../../bot/ingest/read.js';
import { resolveLimits } from '../../bot/limits.js';
import { runReview } from '../../workers/pipeline.js';
import { mail } from './mails.js';

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL('../../workers/cli.js', import.meta.url));

/** The real `pcibot` in a child process; stdin from `input` (a shell command's output) or closed. */
function pcibot(
  args: string[],
  opts: { shellStdin?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const cmd = opts.shellStdin
      ? spawn('sh', ['-c', `${opts.shellStdin} | "${process.execPath}" "${CLI}" ${args.join(' ')}`])
      : spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cmd.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    cmd.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => cmd.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    cmd.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: performance.now() - t0 });
    });
  });
}

/** A stream that never ends (until destroyed), `chunk` after `chunk`; counts what was read. */
function endless(chunk: Buffer): Readable & { served: () => number } {
  let n = 0;
  const r = new Readable({
    read() {
      n += chunk.length;
      this.push(chunk);
    },
  }) as Readable & { served: () => number };
  r.served = () => n;
  return r;
}

const small = (i: number) =>
  `From x Mon Jan  6 10:00:00 2025\n` +
  mail({ subject: `note ${i}`, messageId: `m${i}@flood`, body: `hello ${i}\n` }) +
  '\n';

describe('hostile input: what is read, and how much', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcibot-hostile-ingest-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('`pcibot review /dev/zero` stops at once: a device is refused by name, exit 2', async () => {
    const r = await pcibot(['review', '/dev/zero']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.out, /\/dev\/zero: a character device, not a regular file; not read/);
    assert.ok(r.ms < 30_000, 'it did not read the device');
  });

  it("`yes 'From: a' | pcibot review -` stops at maxMessageBytes with a clear error, exit 2", async () => {
    const r = await pcibot(['review', '-'], { shellStdin: "yes 'From: a'" });
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.out,
      /<stdin>|- #1: message larger than maxMessageBytes \(64 MiB\): more than 67108864 bytes; not read/,
    );
  });

  it('a FIFO given as input is refused without blocking', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await pcibot(['review', fifo], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, `${r.err} (killed after 30 s means it blocked)`);
    assert.match(r.out, /fifo: a FIFO, not a regular file; not read/);
  });

  it('an endless stdin of small mails stops at maxInputBytes; the mails before it are kept', async () => {
    const stdin = endless(Buffer.from(Array.from({ length: 200 }, (_, i) => small(i)).join('')));
    const report = await runReview({
      inputs: ['-'],
      stdin,
      tree: null,
      model: false,
      limits: { maxInputBytes: 4 * 1024 * 1024 },
    });
    const last = report.failures.at(-1)!;
    assert.match(
      last.reason,
      /input larger than maxInputBytes \(4 MiB\); reading stopped at byte 4194304/,
    );
    assert.ok(report.summary.messages > 10_000, `${report.summary.messages} messages kept`);
    assert.equal(report.summary.failed, 1);
    assert.ok(stdin.destroyed, 'the stream is closed, not drained');
    assert.ok(stdin.served() < 8 * 1024 * 1024, `read ${stdin.served()} bytes`);
  });

  it('an endless stdin of tiny mails stops at maxMessages, well before maxInputBytes', async () => {
    // 60-byte mails cost a few KiB each: by bytes alone, 512 MiB of them would need tens of GB.
    const tiny = Buffer.from(
      Array.from(
        { length: 100 },
        () => 'From x Mon Jan  6 10:00:00 2025\nFrom: a@b\nSubject: x\n\nb\n\n',
      ).join(''),
    );
    const stdin = endless(tiny);
    const report = await runReview({
      inputs: ['-'],
      stdin,
      tree: null,
      model: false,
      limits: { maxMessages: 5000 },
    });
    assert.deepEqual(
      report.failures.map((f) => f.reason),
      ['more than maxMessages (5000) messages in the inputs; reading stopped at this one'],
    );
    assert.equal(report.summary.messages, 5001, 'the 5,000 read, and the one that stopped it');
    assert.ok(stdin.destroyed, 'the stream is closed, not drained');
    assert.ok(stdin.served() < 2 * 1024 * 1024, `read ${stdin.served()} bytes`);
  });

  it('maxMessages counts across inputs: the later input is not read past it', async () => {
    const a = join(dir, 'count-a.mbox');
    const b = join(dir, 'count-b.mbox');
    await writeFile(a, [0, 1, 2].map(small).join(''));
    await writeFile(b, [3, 4, 5].map(small).join(''));
    const r = await readInputs([a, b], { limits: { maxMessages: 4 } });
    assert.deepEqual(
      r.mails.map((m) => [m.origin.file, m.origin.index]),
      [
        [a, 1],
        [a, 2],
        [a, 3],
        [b, 1],
      ],
    );
    assert.deepEqual(
      r.failures.map((f) => [f.origin.file, f.origin.index, f.reason]),
      [[b, 2, 'more than maxMessages (4) messages in the inputs; reading stopped at this one']],
    );
  });

  it('an endless single message from stdin stops at maxMessageBytes', async () => {
    const stdin = endless(Buffer.from('From: a\n'.repeat(8192)));
    const report = await runReview({
      inputs: ['-'],
      stdin,
      tree: null,
      model: false,
      limits: { maxMessageBytes: 1024 * 1024 },
    });
    assert.deepEqual(
      report.failures.map((f) => f.reason),
      ['message larger than maxMessageBytes (1 MiB): more than 1048576 bytes; not read'],
    );
    assert.ok(stdin.served() < 4 * 1024 * 1024);
  });

  it('an oversized mbox entry is dropped and counted; its neighbours are read', async () => {
    const file = join(dir, 'mixed.mbox');
    await writeFile(
      file,
      small(1) +
        `From x Mon Jan  6 10:00:00 2025\n` +
        mail({ subject: 'big', messageId: 'big@x', body: 'y'.repeat(3 << 20) + '\n' }) +
        '\n' +
        small(2),
    );
    const r = await readInputs([file], { limits: { maxMessageBytes: 1 << 20 } });
    assert.deepEqual(
      r.mails.map((m) => m.origin.index),
      [1, 3],
    );
    assert.equal(r.failures.length, 1);
    assert.equal(r.failures[0]!.origin.index, 2);
    assert.match(
      r.failures[0]!.reason,
      /^message larger than maxMessageBytes \(1 MiB\): \d+ bytes; not read$/,
    );
  });

  it('inside a directory: symlinks (to files, dirs, secrets) are reported by name and never followed', async () => {
    const d = join(dir, 'walk');
    await mkdir(join(d, 'sub'), { recursive: true });
    await writeFile(join(dir, 'secret'), 'root:VERY-SECRET:1:2:3\n');
    await writeFile(
      join(d, 'sub', 'ok.eml'),
      mail({ subject: 'ok', messageId: 'ok@x', body: 'ok\n' }),
    );
    await symlink(join(dir, 'secret'), join(d, 'secret'));
    await symlink(join(d, 'sub'), join(d, 'sub-link'));
    await symlink('/dev/zero', join(d, 'zero'));
    const r = await readInputs([d]);
    assert.deepEqual(
      r.mails.map((m) => m.origin.file.slice(d.length + 1)),
      ['sub/ok.eml'],
    );
    assert.deepEqual(
      r.failures.map((f) => [f.origin.file.slice(d.length + 1), f.reason]),
      ['secret', 'sub-link', 'zero'].map((n) => [
        n,
        'a symbolic link inside an input directory; not followed',
      ]),
    );
    assert.ok(!JSON.stringify(r).includes('VERY-SECRET'));
    // A symlink named on the command line is the user's choice: followed.
    const top = await readInputs([join(d, 'sub-link')]);
    assert.equal(top.mails.length, 1);
  });

  it('a file that is not a mail is refused without quoting it', async () => {
    const f = join(dir, 'config.txt');
    await writeFile(f, 'password=hunter2\nuser=root\n');
    const r = await readInputs([f]);
    assert.equal(
      r.failures[0]!.reason,
      'not a mail: no header block (the first line is not a "Name: value" header field)',
    );
    const g = join(dir, 'kv.txt');
    await writeFile(g, 'Password: hunter2\n');
    const r2 = await readInputs([g]);
    assert.equal(
      r2.failures[0]!.reason,
      'not a mail: no header block (no From, Subject, Message-ID or other mail header field)',
    );
  });

  it('directories nested deeper than maxDirectoryDepth are reported, not walked', async () => {
    let d = join(dir, 'deep');
    const root = d;
    for (let i = 0; i < 5; i++) d = join(d, `d${i}`);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'x.eml'), mail({ subject: 'deep', messageId: 'deep@x', body: 'x\n' }));
    const r = await readInputs([root], { limits: { maxDirectoryDepth: 3 } });
    assert.equal(r.mails.length, 0);
    assert.match(
      r.failures[0]!.reason,
      /directory nested deeper than maxDirectoryDepth \(3\); not read/,
    );
  });

  it('the splitter gives the same messages whatever the chunk boundaries (1-byte chunks, CRLF, >From)', () => {
    const text =
      'From a Mon Jan  6 10:00:00 2025\r\nFrom: a@x\r\nSubject: one\r\n\r\n>From here\r\n\r\n' +
      'From b Mon Jan  6 10:00:00 2025\nFrom: b@x\nSubject: two\n\nFrom the start\n\n' +
      `From c Mon Jan  6 10:00:00 2025\nFrom: c@x\nSubject: ${'long '.repeat(20000)}\n\nbody`;
    const split = (chunks: string[]) => {
      const out: ReadItem[] = [];
      const s = new MessageSplitter('f', { single: 'eml', mbox: 'mbox' }, resolveLimits(), (i) =>
        out.push(i),
      );
      for (const c of chunks) s.push(c);
      s.end();
      return out;
    };
    const whole = split([text]);
    assert.equal(whole.length, 3);
    assert.deepEqual(split(text.split('')), whole);
    assert.deepEqual(split(text.match(/[\s\S]{1,7}/g)!), whole);
    const first = whole[0]!;
    assert.ok(
      'mail' in first && first.mail.raw.endsWith('From here\r\n'),
      'unescaped, separator dropped',
    );
  });

  it('is quick on a file of binary garbage (a named failure, no hang)', async () => {
    const f = join(dir, 'garbage.bin');
    await writeFile(f, Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7919) & 0xff)));
    const { stdout } = await exec(process.execPath, [CLI, 'review', f, '--json']).catch(
      (e: { stdout: string }) => e,
    );
    const report = JSON.parse(stdout) as { failures: { reason: string }[] };
    assert.match(report.failures[0]!.reason, /^binary data, not a mail/);
  });
});
