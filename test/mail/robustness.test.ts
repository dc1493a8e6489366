// Hostile and broken input: whatever the bytes, parsing returns a Message or a
// ParseFailure (never throws), and assembly still accounts for everything.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { splitMbox } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import type { Message, ParseFailure } from '../../bot/types.js';
import { mailPath, mailsDir } from './helpers.js';

/** A small deterministic PRNG, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function mutations(raw: string, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let k = 0; k < 6; k++) out.push(raw.slice(0, Math.floor(r() * raw.length))); // truncations
  for (let k = 0; k < 6; k++) {
    const chars = raw.split('');
    for (let j = 0; j < 8; j++)
      chars[Math.floor(r() * chars.length)] = String.fromCharCode(Math.floor(r() * 256));
    out.push(chars.join('')); // byte flips
  }
  // a line doubled, a boundary cut out
  const lines = raw.split('\n');
  const at = Math.floor(r() * lines.length);
  out.push([...lines.slice(0, at), lines[at] ?? '', ...lines.slice(at)].join('\n'));
  out.push(raw.replace(/--[-=_A-Za-z0-9]*boundary[^\n]*\n/i, ''));
  return out;
}

describe('robustness', () => {
  it('mutated fixtures never make parseMail throw, and every outcome is well-formed', async () => {
    const files = readdirSync(mailsDir).filter(
      (f) => statSync(mailPath(f)).isFile() && !f.endsWith('.mbox'),
    );
    assert.ok(files.length >= 20, `the fixture mails are there (${files.length})`);
    let n = 0;
    const results: (Message | ParseFailure)[] = [];
    for (const [i, f] of files.entries()) {
      const raw = readFileSync(mailPath(f)).toString('latin1');
      for (const m of mutations(raw, i + 1)) {
        const origin = { kind: 'eml' as const, file: `${f}~${n++}` };
        const r = await parseMail({ origin, raw: m });
        assert.deepEqual(r.origin, origin, 'the outcome names the input it came from');
        if (isParseFailure(r)) assert.match(r.reason, /\S/, `${origin.file}: a failure says why`);
        else {
          assert.match(r.messageId, /^[^<>\s]+$/, `${origin.file}: a bare Message-ID`);
          assert.doesNotMatch(r.subject, /[\r\n]/, `${origin.file}: an unfolded subject`);
          assert.deepEqual(JSON.parse(JSON.stringify(r)), r, `${origin.file}: plain data`);
        }
        results.push(r);
      }
    }
    const messages = results.filter((r): r is Message => !isParseFailure(r));
    const failures = results.filter(isParseFailure);
    // The mutations reach both outcomes; otherwise they would test one path only.
    assert.ok(messages.length > 0 && failures.length > 0, `${messages.length}/${failures.length}`);
    const a = assembleSeries(messages, failures);
    assert.deepEqual(
      a.accounting.map((e) => e.origin.file).sort(),
      results.map((r) => r.origin.file).sort(),
      'assembly accounts for every outcome exactly once',
    );
    assert.doesNotThrow(() => JSON.stringify(a));
  });

  it('mutated mboxes split and parse without throwing; the split invents nothing', async () => {
    const raw = readFileSync(mailPath('pci-series-v1-v2-mixed.mbox')).toString('latin1');
    for (const m of mutations(raw, 99)) {
      const { mails, failures } = splitMbox(m, 'x.mbox');
      const positions = [...mails, ...failures].map((x) => x.origin.index!).sort((a, b) => a - b);
      assert.deepEqual(
        positions,
        positions.map((_, k) => k + 1),
        'entries are numbered 1..n, none twice, none skipped',
      );
      for (const mail of mails) {
        assert.ok(m.includes(mail.raw.slice(0, 200)), 'an entry is a piece of the input');
        await parseMail(mail);
      }
    }
  });

  it('deeply nested multiparts stop with a warning', async () => {
    let body = 'Content-Type: text/plain\n\nthe bottom\n';
    for (let d = 0; d < 40; d++) {
      body = `Content-Type: multipart/mixed; boundary="b${d}"\n\n--b${d}\n${body}--b${d}--\n`;
    }
    const raw = `From: a@example.org\nSubject: nested\nMessage-ID: <n@x>\nDate: Mon, 6 Jan 2025 10:00:00 +0000\n${body}`;
    const m = (await parseMail({ origin: { kind: 'eml', file: 'n' }, raw })) as Message;
    assert.ok(!isParseFailure(m));
    assert.match(m.warnings.join('\n'), /MIME nesting deeper than 12/);
  });

  it('a multipart without its closing boundary is read to the end, with a warning', async () => {
    const raw =
      'From: a@example.org\nSubject: [PATCH] x\nMessage-ID: <c@x>\nDate: Mon, 6 Jan 2025 10:00:00 +0000\n' +
      'Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nhello\n';
    const m = (await parseMail({ origin: { kind: 'eml', file: 'c' }, raw })) as Message;
    assert.equal(m.body, 'hello\n');
    assert.match(m.warnings.join(), /no closing boundary/);
  });

  it('an absurd series length is not enumerated', async () => {
    const raw =
      'From: a@example.org\nSubject: [PATCH 1/99999999] x\nMessage-ID: <big@x>\nDate: Mon, 6 Jan 2025 10:00:00 +0000\n\nbody\n';
    const m = (await parseMail({ origin: { kind: 'eml', file: 'b' }, raw })) as Message;
    const s = assembleSeries([m]).series[0]!;
    assert.deepEqual([s.expected, s.missing, s.complete], [99999999, [], false]);
    assert.match(s.warnings!.join(), /implausible/);
  });

  it('a long hostile From_ line does not slow the splitter down', () => {
    const evil = 'From x ' + '1:11 '.repeat(200000);
    const text = `From a@b Mon Jan  6 10:00:00 2025\nFrom: a@b\nSubject: s\n\nbody\n\n${evil}\n`;
    const { mails } = splitMbox(text, 'e');
    assert.equal(mails.length, 1); // the evil line has no year: not a separator
  });
});
