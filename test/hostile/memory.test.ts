// Memory for one big mail: a body of millions of (blank) lines must cost a
// small multiple of its size, not an array slot and a string per line. Each
// shape is reviewed by the real `pcibot` in a child process whose heap is
// capped at 128 MB: the readers that split the body into arrays of lines
// (extractDiff, readB4Info and parseTrailers, each on its own; format=flowed
// decoding; CRLF -> LF by a regex replace; the changelog reader) ran out of
// heap on every one of these well below that (a 20 MB body of newlines took
// over 1 GB of RSS), and the in-place readers stay far under it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../workers/cli.js', import.meta.url));

/** The heap cap: about 6x the body; before, each shape needed more than 192 MB. */
const HEAP_MB = 128;
const BODY_BYTES = 20_000_000;

function bigMail(id: string, contentType: string, eol: '\n' | '\r\n'): string {
  const head =
    `From: Tester <t@example.org>\nDate: Fri, 10 Jan 2025 11:01:00 +0100\n` +
    `Subject: [PATCH] PCI: big mail\nMessage-ID: <${id}@example.org>\nMIME-Version: 1.0\n` +
    `Content-Type: ${contentType}\nContent-Transfer-Encoding: 8bit\n\nIntro.\n`;
  return (
    head.replaceAll('\n', eol) +
    eol.repeat(BODY_BYTES / eol.length) +
    `Signed-off-by: T <t@example.org>${eol}`
  );
}

function review(file: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${HEAP_MB}`, CLI, 'review', file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err: err.slice(-2000) });
    });
  });
}

describe(`one 20 MB mail of blank lines, heap capped at ${HEAP_MB} MB`, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcibot-mem-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const shapes: [string, string, '\n' | '\r\n'][] = [
    ['newlines', 'text/plain; charset=UTF-8', '\n'],
    ['format=flowed', 'text/plain; charset=UTF-8; format=flowed', '\n'],
    ['CRLF line ends', 'text/plain; charset=UTF-8', '\r\n'],
  ];
  for (const [name, contentType, eol] of shapes) {
    it(`${name}: reviewed (not out of memory)`, async () => {
      const file = join(dir, `${name.replace(/\W/g, '-')}.eml`);
      await writeFile(file, bigMail(`big-${name.replace(/\W/g, '')}`, contentType, eol), 'latin1');
      const r = await review(file);
      assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.err}`);
      assert.match(r.out, /^pcibot review: 1 message, 1 series .*, 0 unreadable;/);
    });
  }
});
