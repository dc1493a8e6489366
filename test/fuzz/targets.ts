// The fuzz targets: one entry each (see harness.ts for what an entry is).
// Inputs are mutations of the project's own fixtures (mails, mboxes, the
// quiet corpus, rule fixtures) with hostile fragments spliced in (long runs
// of blanks, brackets, `a/`, nested boundaries, broken hunks), plus inputs
// built from token soups. To fuzz another parser, add one entry.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import parseDiff from 'parse-diff';
import { MessageSplitter, type ReadItem } from '../../bot/ingest/read.js';
import { resolveLimits } from '../../bot/limits.js';
import { checkQemuAllowList } from '../../bot/kernel/model/qemu-allow.js';
import { parseQemuArgs, tokenizeShell } from '../../bot/kernel/model/qemu-args.js';
import { parsePastedLayout } from '../../bot/kernel/model/lspci.js';
import { extractDiff, parseTrailers, readB4Info } from '../../bot/mail/body.js';
import { parseUnifiedDiff } from '../../bot/mail/diffparse.js';
import { checkDiffPath, touchedPaths } from '../../bot/mail/diffpaths.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { parseSubject } from '../../bot/mail/subject.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import { parseDiffSections } from '../../bot/util/diff/sections.js';
import { parseTrigger } from '../../bot/triggers/parse.js';
import type { Message } from '../../bot/types.js';
import { fixturesDir, repoRoot } from '../../bot/util/paths.js';
import type { FuzzTarget } from './harness.js';

// ---------------------------------------------------------------- the corpus

function filesUnder(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p, ext));
    else if (st.isFile() && ext.test(n) && st.size < 512 * 1024) out.push(p);
  }
  return out;
}

let corpusCache: string[] | null = null;

/** The fixture mails and mboxes, as latin1 strings (one char per byte). */
export function corpus(): string[] {
  if (corpusCache) return corpusCache;
  const files = [
    ...filesUnder(join(fixturesDir, 'mails'), /\.(eml|mbox|patch)$|^\d+[^/]*$/),
    ...filesUnder(join(fixturesDir, 'quiet-corpus'), /\.eml$/),
    ...filesUnder(join(repoRoot, 'rules'), /\.eml$/),
  ];
  corpusCache = files.map((f) => readFileSync(f).toString('latin1'));
  if (corpusCache.length < 20) throw new Error(`fuzz corpus: only ${corpusCache.length} files`);
  return corpusCache;
}

/** Things that broke parsers before, or might. */
const FRAGMENTS = [
  '\n',
  '\r\n',
  '\n\n',
  ' ',
  '\t',
  '--',
  '---\n',
  '-- \n',
  '=\n',
  '=?utf-8?q?=C3=A9?=',
  '=?x-unknown?b?QUJD?=',
  'Content-Type: multipart/mixed; boundary="b"\n\n--b\n',
  '\n--b--\n',
  'Content-Transfer-Encoding: base64\n\nQUJDRA',
  'Content-Type: text/plain; charset=klingon\n',
  'Content-Type: message/rfc822\n\n',
  'From x Mon Jan  6 10:00:00 2025\n',
  '>From ',
  'Message-ID: <dup@x>\n',
  'In-Reply-To: <dup@x>\n',
  'References: <a@x> <b@x> <dup@x>\n',
  'Subject: [PATCH v2 3/2] ',
  'Subject: Re: [RFC PATCH 0/1] ',
  'diff --git a/x b/x\n',
  'diff --git drivers/pci/x.c drivers/pci/x.c\n',
  '--- a/x\n+++ b/x\n',
  '+++ b/x.c 2025-01-10 12:00:00\n',
  '@@ -0,0 +1 @@\n',
  '@@ -1,3 +1,4 @@ ctx\n',
  '\\ No newline at end of file\n',
  'new file mode 100644\n',
  'rename from a\nrename to ../b\n',
  'GIT binary patch\nliteral 5\nzcmZ?wbhEHb\n\n',
  'Signed-off-by: A <a@example.org>\n',
  'Fixes: 123456789abc ("x")\n',
  'base-commit: 0123456789abcdef\n',
  'change-id: 20250106-x\n',
  'pcibot: review base=abcdef1\n',
  '> quoted\n',
  '"\\303\\251"',
  '\x00',
  '\xff\xfe',
];

/** Long runs of one thing: where super-linear code shows. */
const RUN_UNITS = [
  ' ',
  '\n',
  '\t',
  '\r\n',
  'a/',
  '[',
  ']',
  'Re: ',
  '[a]',
  '1',
  ' a',
  '@@ ',
  '=',
  '>',
  '-',
  '+',
  '"',
];

const runArb = fc
  .tuple(fc.constantFrom(...RUN_UNITS), fc.integer({ min: 1, max: 4000 }))
  .map(([u, n]) => u.repeat(n));

const fragmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FRAGMENTS) },
  { weight: 1, arbitrary: runArb },
  { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: 'binary-ascii' }) },
);

type Mutation =
  | { op: 'flip'; at: number; byte: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; len: number }
  | { op: 'dup'; at: number; len: number }
  | { op: 'truncate'; at: number }
  | { op: 'splice'; at: number; other: number; from: number };

const unit = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: unit, byte: fc.integer({ min: 0, max: 255 }) }),
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('insert' as const), at: unit, text: fragmentArb }),
  },
  fc.record({
    op: fc.constant('delete' as const),
    at: unit,
    len: fc.integer({ min: 1, max: 200 }),
  }),
  fc.record({ op: fc.constant('dup' as const), at: unit, len: fc.integer({ min: 1, max: 400 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: unit }),
  fc.record({
    op: fc.constant('splice' as const),
    at: unit,
    other: fc.nat(),
    from: unit,
  }),
);

function mutate(text: string, ms: Mutation[], pool: string[]): string {
  let s = text;
  for (const m of ms) {
    const at = Math.floor(m.at * (s.length + 1));
    switch (m.op) {
      case 'flip':
        if (s.length) {
          const i = Math.min(at, s.length - 1);
          s = s.slice(0, i) + String.fromCharCode(m.byte) + s.slice(i + 1);
        }
        break;
      case 'insert':
        s = s.slice(0, at) + m.text + s.slice(at);
        break;
      case 'delete':
        s = s.slice(0, at) + s.slice(at + m.len);
        break;
      case 'dup':
        s = s.slice(0, at + m.len) + s.slice(at, at + m.len) + s.slice(at + m.len);
        break;
      case 'truncate':
        s = s.slice(0, at);
        break;
      case 'splice': {
        const o = pool[m.other % pool.length]!;
        s = s.slice(0, at) + o.slice(Math.floor(m.from * o.length));
        break;
      }
    }
  }
  return s;
}

/** A fixture, mutated 0-8 times. */
export function mutatedFrom(pool: () => string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.nat(), fc.array(mutationArb, { maxLength: 8 })).map(([i, ms]) => {
    const p = pool();
    return mutate(p[i % p.length]!, ms, p);
  });
}

/** Bytes as a latin1 string. */
const bytesArb = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

const soup = (tokens: string[], maxLength = 40) =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...tokens) },
        { weight: 1, arbitrary: runArb },
      ),
      {
        maxLength,
      },
    )
    .map((xs) => xs.join(''));

const bodies = () => {
  return corpus().map((raw) => {
    const blank = raw.search(/\r?\n\r?\n/);
    return blank < 0 ? raw : raw.slice(blank).replace(/^\s+/, '');
  });
};

// ------------------------------------------------------------------ targets

const mailTarget: FuzzTarget<string> = {
  name: 'mail',
  what: 'parseMail: headers, MIME walk, charsets, body, diff, trailers, b4 lines',
  input: fc.oneof(
    { weight: 8, arbitrary: mutatedFrom(corpus) },
    { weight: 1, arbitrary: bytesArb(2000) },
  ),
  size: (s) => s.length,
  run: (raw) => parseMail({ origin: { kind: 'eml', file: 'fuzz' }, raw }),
  check: (_raw, r) => {
    const m = r as Awaited<ReturnType<typeof parseMail>>;
    if (isParseFailure(m)) return typeof m.reason === 'string' && m.reason ? null : 'empty reason';
    if (!m.messageId) return 'no Message-ID (not even a synthesised one)';
    if (m.diff !== null && !m.diff.endsWith('\n')) return 'diff does not end with a newline';
    return null;
  },
};

/** An mbox split whole and in random chunks must give the same messages. */
const mboxTarget: FuzzTarget<{ text: string; cuts: number[] }> = {
  name: 'mbox',
  what: 'MessageSplitter: mbox/mboxrd splitting, whole and streamed in random chunks',
  input: fc.record({
    text: fc
      .array(mutatedFrom(corpus), { minLength: 1, maxLength: 4 })
      .map((xs) => xs.map((x) => `From fuzz Mon Jan  6 10:00:00 2025\n${x}`).join('\n')),
    cuts: fc.array(unit, { maxLength: 12 }),
  }),
  size: (x) => x.text.length,
  run: ({ text, cuts }) => {
    const limits = resolveLimits({ maxMessageBytes: 64 * 1024 });
    const split = (chunks: string[]) => {
      const out: ReadItem[] = [];
      const s = new MessageSplitter('f', { single: 'eml', mbox: 'mbox' }, limits, (i) =>
        out.push(i),
      );
      for (const c of chunks) s.push(c);
      s.end();
      return out;
    };
    const at = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b);
    const chunks: string[] = [];
    let prev = 0;
    for (const a of at) {
      chunks.push(text.slice(prev, a));
      prev = a;
    }
    chunks.push(text.slice(prev));
    return { whole: split([text]), chunked: split(chunks) };
  },
  check: (_x, r) => {
    const { whole, chunked } = r as { whole: ReadItem[]; chunked: ReadItem[] };
    const a = JSON.stringify(whole);
    const b = JSON.stringify(chunked);
    if (a !== b)
      return `chunked split differs from the whole split (${whole.length} vs ${chunked.length} items)`;
    if (whole.length === 0) return 'no message and no failure for a non-empty input';
    return null;
  },
};

const SUBJECT_TOKENS = [
  'Re: ',
  'RE:',
  'Fwd: ',
  'AW: ',
  'Sv:',
  '[',
  ']',
  '[PATCH',
  '[PATCH]',
  'PATCH',
  ' v2',
  ' v0',
  ' V3',
  'RFC',
  ' RESEND',
  ' 1/2',
  ' 0/5',
  ' 3/2',
  ' 99999999/99999999',
  '/',
  ',',
  ' net-next',
  ' ',
  '\t',
  'PCI: ',
  'Fix thing',
  '[v3,2/8]',
  'patch-v2',
];

const subjectTarget: FuzzTarget<string> = {
  name: 'subject',
  what: 'parseSubject: reply markers and [RFC PATCH vN M/N] tags',
  input: fc.oneof(soup(SUBJECT_TOKENS), bytesArb(300), fc.string({ maxLength: 200 })),
  size: (s) => s.length,
  run: (s) => parseSubject(s),
  check: (_s, r) => {
    const t = r as ReturnType<typeof parseSubject>;
    if (!Number.isInteger(t.version) || t.version < 1) return `version ${t.version}`;
    if (t.isPatch && t.isReply) return 'both a patch and a reply';
    return null;
  },
};

const trailersTarget: FuzzTarget<string> = {
  name: 'body',
  what: 'extractDiff, parseTrailers, readB4Info on decoded bodies',
  input: fc.oneof(
    { weight: 6, arbitrary: mutatedFrom(bodies) },
    { weight: 1, arbitrary: bytesArb(2000) },
  ),
  size: (s) => s.length,
  run: (body) => {
    const x = extractDiff(body);
    return { x, t: parseTrailers(x.commitMessage), b: readB4Info(body) };
  },
  check: (body, r) => {
    const { x } = r as { x: ReturnType<typeof extractDiff> };
    if (x.diff !== null && !body.includes(x.diff.slice(0, -1)))
      return 'the diff is not part of the body';
    return null;
  },
};

const DIFF_LINES = [
  'diff --git a/drivers/pci/x.c b/drivers/pci/x.c',
  'diff --git drivers/pci/x.c drivers/pci/x.c',
  'diff --git "a/t\\303\\251st" "b/t\\303\\251st"',
  'diff --git a/a b c b/a b c',
  'diff -u a/x b/x',
  'diff --git a/x b/y b/z',
  '--- a/drivers/pci/x.c',
  '+++ b/drivers/pci/x.c',
  '--- /dev/null',
  '+++ /dev/null',
  '+++ b/x.c 2025-01-10 12:00:00',
  '--- a/x.c\t2025-01-10 12:00:00.000000000 +0100',
  '--- x.c',
  "+++ 'b/x y.c'",
  '@@ -1,3 +1,4 @@ static int probe(void)',
  '@@ -0,0 +1 @@',
  '@@ -1 +0,0 @@',
  '@@ -12,, +3, @@',
  '@@  -1\t+1 @@',
  '@@ -1,2 +1,2 @@@',
  '\\ No newline at end of file',
  ' context',
  '',
  '-removed',
  '+added',
  '-- ',
  '--- ',
  'new file mode 100644',
  'deleted file mode 100755',
  'old mode 100644',
  'new mode 120000',
  'index 0123abc..4567def 100644',
  'index 0123abc..4567def',
  'similarity index 90%',
  'rename from drivers/pci/a.c',
  'rename to ../../etc/passwd',
  'copy from a',
  'copy to .git/config',
  'Binary files a/x and b/x differ',
  'GIT binary patch',
  'literal 12',
  'delta 3',
  'zcmZ?wbhEHb',
  'Index: x.c',
  '===================================================================',
];

const diffArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom(...DIFF_LINES) },
          { weight: 1, arbitrary: runArb },
          {
            weight: 1,
            arbitrary: fc.string({ maxLength: 30 }),
          },
        ),
        { maxLength: 40 },
      )
      .map((ls) => ls.join('\n') + '\n'),
  },
  {
    weight: 2,
    arbitrary: mutatedFrom(() =>
      corpus()
        .map((raw) => {
          const i = raw.indexOf('\ndiff --git ');
          return i < 0 ? '' : raw.slice(i + 1);
        })
        .filter(Boolean),
    ),
  },
);

const diffTarget: FuzzTarget<string> = {
  name: 'diff',
  what: 'parseUnifiedDiff (differential against parse-diff 0.12) and touchedPaths',
  input: diffArb,
  size: (s) => s.length,
  run: (diff) => ({ ours: parseUnifiedDiff(diff), touched: touchedPaths(diff) }),
  // (the reference runs in the check, untimed: parse-diff is quadratic on long
  // header lines, so it is compared only where it is cheap)
  check: (diff, r) => {
    const { ours, touched } = r as {
      ours: unknown;
      touched: ReturnType<typeof touchedPaths>;
    };
    if (diff.length < 4096 && !diff.split('\n').some((l) => l.length > 200)) {
      let theirs: unknown = null;
      try {
        theirs = parseDiff(diff);
      } catch {
        // parse-diff throws where parseUnifiedDiff goes on (a marker after no change)
      }
      if (theirs !== null && JSON.stringify(ours) !== JSON.stringify(theirs))
        return 'parseUnifiedDiff differs from parse-diff';
    }
    for (const p of touched.paths) {
      const why = checkDiffPath(p);
      if (why) return `touchedPaths accepted ${JSON.stringify(p)} (${why})`;
    }
    return null;
  },
};

/** The apply side's reader of file names (as git apply -p0/-p1 reads them). */
const diffnamesTarget: FuzzTarget<{ diff: string; p: number }> = {
  name: 'diffnames',
  what: 'parseDiffSections (bot/util/diff/sections.ts): sections and names as git apply -p0/-p1 reads them',
  input: fc.record({ diff: diffArb, p: fc.constantFrom(0, 1) }),
  size: (x) => x.diff.length,
  run: ({ diff, p }) => parseDiffSections(diff, p),
};

const PATH_PARTS = [
  'a',
  'drivers',
  'pci',
  '..',
  '.',
  '.git',
  '.GIT',
  '',
  '/',
  '//',
  '~',
  '\\',
  ' ',
  '\t',
  '\n',
  '\x00',
  'é',
  '"',
  'x'.repeat(300),
];

const pathTarget: FuzzTarget<string> = {
  name: 'paths',
  what: 'checkDiffPath on path-like strings; every accepted path stays inside the tree',
  input: fc.oneof(
    fc.array(fc.constantFrom(...PATH_PARTS), { maxLength: 12 }).map((xs) => xs.join('/')),
    fc.array(fc.constantFrom(...PATH_PARTS), { maxLength: 12 }).map((xs) => xs.join('')),
    fc.string({ maxLength: 100 }),
  ),
  size: (s) => s.length,
  run: (p) => checkDiffPath(p),
  check: (p, why) => {
    if (why !== null) return null;
    const parts = p.split('/');
    if (
      p.startsWith('/') ||
      parts.some((x) => x === '..' || x === '' || x.toLowerCase() === '.git')
    )
      return `accepted ${JSON.stringify(p)}`;
    return null;
  },
};

// Messages for assembly: small pools of ids, so threads collide, cycle and dangle.
const ID_POOL = ['a@x', 'b@x', 'c@x', 'd@x', 'e@x', 'f@x', 'cover@x', 'missing@x'];
const messageArb: fc.Arbitrary<Message> = fc
  .record({
    id: fc.constantFrom(...ID_POOL),
    irt: fc.option(fc.constantFrom(...ID_POOL)),
    refs: fc.array(fc.constantFrom(...ID_POOL), { maxLength: 4 }),
    subject: soup(SUBJECT_TOKENS, 8),
    from: fc.constantFrom('a@example.org', 'b@example.org', ''),
    date: fc.option(
      fc
        .integer({ min: 0, max: 7200 })
        .map((s) => new Date(Date.UTC(2025, 0, 6, 10) + s * 1000).toISOString()),
    ),
    diff: fc.option(
      fc.constantFrom(
        'diff --git a/drivers/pci/x.c b/drivers/pci/x.c\n',
        'diff --git a/net/x.c b/net/x.c\n',
      ),
    ),
    text: fc.constantFrom('x\n', 'y\n', ''),
    changeId: fc.option(fc.constantFrom('c1', 'c2')),
  })
  .map((r) => ({
    origin: { kind: 'eml' as const, file: 'fuzz' },
    messageId: r.id,
    inReplyTo: r.irt,
    references: r.refs,
    subject: r.subject,
    tags: parseSubject(r.subject),
    from: { name: '', address: r.from },
    to: [],
    cc: [],
    date: r.date,
    body: r.text,
    commitMessage: r.text,
    diff: r.diff,
    diffLine: r.diff === null ? null : 1,
    trailers: [],
    baseCommit: null,
    changeId: r.changeId,
    prerequisites: [],
    warnings: [],
  }));

const assembleTarget: FuzzTarget<Message[]> = {
  name: 'assemble',
  what: 'assembleSeries on tangled threads: duplicate and conflicting ids, cycles, floods',
  input: fc.array(messageArb, { maxLength: 30 }),
  size: (ms) => JSON.stringify(ms).length,
  run: (ms) =>
    assembleSeries(ms, [{ origin: { kind: 'eml', file: 'fuzz' }, reason: 'x' }], {
      limits: { maxPatchesPerSeries: 5 },
    }),
  check: (ms, r) => {
    const a = r as ReturnType<typeof assembleSeries>;
    if (a.accounting.length !== ms.length + 1)
      return `${a.accounting.length} accounted for ${ms.length + 1} inputs`;
    const inSeries = a.series.flatMap((s) => [s.cover, ...s.patches].filter(Boolean));
    if (new Set(inSeries).size !== inSeries.length) return 'a message is in two series';
    JSON.stringify(a);
    return null;
  },
};

const TRIGGER_TOKENS = [
  'pcibot:',
  'PCIBOT: ',
  'review',
  ' base=',
  'abcdef1',
  '0123456789abcdef0123456789abcdef01234567',
  'scenarios ',
  'a,b',
  'quiet',
  ' rule-x',
  '> ',
  '\n',
  'On Mon wrote:',
  'wrote:',
  ' ',
  'x',
];

const triggerTarget: FuzzTarget<string> = {
  name: 'trigger',
  what: 'parseTrigger: maintainer commands in replies',
  input: fc.oneof(soup(TRIGGER_TOKENS), mutatedFrom(bodies), fc.string({ maxLength: 200 })),
  size: (s) => s.length,
  run: (s) => parseTrigger(s),
  check: (_s, r) => {
    const t = r as ReturnType<typeof parseTrigger>;
    if (t !== null && !('command' in t) && !('error' in t)) return 'neither command nor error';
    return null;
  },
};

// ------------------------------------------------ scenarios' QEMU lines, lspci

/** The library's QEMU lines (the `qemu:` field of every scenario) and the ground-truth ones. */
let qemuLinesCache: string[] | null = null;
const qemuLines = (): string[] => {
  if (qemuLinesCache) return qemuLinesCache;
  const lines: string[] = [];
  for (const f of filesUnder(join(fixturesDir, 'scenarios'), /\.scenario$/)) {
    const text = readFileSync(f, 'utf8');
    const at = text.indexOf('\nqemu:');
    if (at >= 0) lines.push(text.slice(at + 6).split(/\n(?=[a-z-]+:)/)[0]!);
  }
  for (const f of filesUnder(join(fixturesDir, 'layouts', 'ground-truth'), /\.cmd$/))
    lines.push(readFileSync(f, 'utf8'));
  qemuLinesCache = lines;
  return lines;
};

const QEMU_TOKENS = [
  ' ',
  ' \\\n  ',
  '-M q35',
  '-machine virt,iommu=smmuv3',
  '-m 512',
  '-smp 2',
  '-cpu max',
  '-accel tcg',
  '-device ',
  'pci-testdev,membar=32',
  'pcie-root-port,id=rp1,chassis=1',
  ',bus=rp1',
  ',addr=0x2.0',
  ',multifunction=on',
  ',romfile=/etc/passwd',
  ',romfile=',
  'vfio-pci,host=01:00.0',
  '-D /tmp/log',
  '-trace file=/tmp/t',
  '-chardev socket,id=c,path=/tmp/s',
  '-serial file:/tmp/x',
  '-serial none',
  '-drive if=none,id=d0,file=null-co://,format=raw',
  '-drive file=/tmp/disk',
  '-object memory-backend-ram,id=m0,size=1M',
  '-object memory-backend-file,id=m0,mem-path=/tmp/m',
  '-netdev user,id=n0',
  '-nic none',
  '-bios /usr/share/qemu/qboot.rom',
  '-bios /tmp/evil.rom',
  '-kernel bzImage',
  '@/tmp/args',
  '-global e1000e.romfile=x',
  "'",
  '"',
  '\\',
  ',,',
  '=',
  '#',
  '|',
  '--device',
];

const qemuTarget: FuzzTarget<string> = {
  name: 'qemu-args',
  what: "scenarios' QEMU lines: tokenizeShell, the allow-list, parseQemuArgs",
  input: fc.oneof(soup(QEMU_TOKENS), mutatedFrom(qemuLines), fc.string({ maxLength: 200 })),
  size: (s) => s.length,
  run: (s) => {
    const args = tokenizeShell(s);
    checkQemuAllowList(args);
    return { args, parsed: parseQemuArgs(args) };
  },
  // Accepted lines reach QEMU: none of them may carry an option that reaches the host.
  check: (_s, r) => {
    const { args } = r as { args: string[] };
    const bad = args.find(
      (a) =>
        a.startsWith('@') ||
        ['-D', '-trace', '-chardev', '-kernel', '-qmp', '-pidfile', '-L', '-blockdev'].includes(a),
    );
    if (bad !== undefined) return `accepted ${bad}`;
    const i = args.indexOf('-bios');
    if (i >= 0 && !/(^|\/)(qboot\.rom|bios\.bin|bios-256k\.bin)$/.test(args[i + 1] ?? ''))
      return `accepted -bios ${args[i + 1]}`;
    return null;
  },
};

/** lspci -vv fixtures, and the same layouts as sysfs resource lines. */
const lspciTexts = () => [
  ...filesUnder(join(fixturesDir, 'lspci'), /\.txt$/).map((f) => readFileSync(f, 'latin1')),
  '/sys/bus/pci/devices/0000:00:01.0/resource\n0x00000000fe000000 0x00000000fe000fff 0x0000000000040200\n0x0000000000000000 0x0000000000000000 0x0000000000000000\n',
  '0000:01:00.0/resource:0x0000000000001000 0x0000000000001fff 0x0000000000140204\n',
];

const LSPCI_TOKENS = [
  '\n',
  '\t',
  '> ',
  '00:01.0 Ethernet controller [8086:10d3] (rev 01)\n',
  '0000:02:00.0 PCI bridge: Root Port\n',
  '\tRegion 0: Memory at fe000000 (32-bit, non-prefetchable) [size=128K]\n',
  '\tRegion 2: Memory at 800000000 (64-bit, prefetchable) [size=16G]\n',
  '\tRegion 4: I/O ports at c000 [size=32]\n',
  '\tExpansion ROM at 000c0000 [disabled] [size=256K]\n',
  '\tMemory behind bridge: fe800000-fe9fffff [size=2M]\n',
  '\tCapabilities: [70] MSI-X: Enable+ Count=64 Masked-\n',
  '\t\tVector table: BAR=3 offset=00000000\n',
  '\t\tPBA: BAR=3 offset=00000800\n',
  '\tCapabilities: [160] Single Root I/O Virtualization (SR-IOV)\n',
  '\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 8\n',
  '\t\tVF offset: 128, stride: 2, Device ID: 10ca\n',
  '[size=Infinity]',
  '[size=-4K]',
  '[size=99999999999999999999T]',
  '(rev ',
  ')',
  '0x0000000000001000 0x0000000000000fff 0x0000000000000200\n',
  '/sys/bus/pci/devices/0000:00:02.0/resource:',
  '\u2028',
  '\r',
];

const lspciTarget: FuzzTarget<string> = {
  name: 'lspci',
  what: 'pasted lspci -v/-vv text and sysfs resource files (parsePastedLayout)',
  input: fc.oneof(soup(LSPCI_TOKENS), mutatedFrom(lspciTexts), fc.string({ maxLength: 200 })),
  size: (s) => s.length,
  run: (s) => parsePastedLayout(s),
  // What the safety checks compute with: whole, finite, non-negative numbers.
  check: (_s, r) => {
    const layout = r as ReturnType<typeof parsePastedLayout>;
    for (const d of layout.devices) {
      for (const b of [...d.bars, ...(d.sriov?.vfBars ?? [])]) {
        if (!Number.isSafeInteger(b.size) || b.size < 0)
          return `${d.bdf} BAR${b.index} size ${b.size}`;
        if (b.start !== null && (!Number.isSafeInteger(b.start) || b.start < 0))
          return `${d.bdf} BAR${b.index} start ${b.start}`;
        if (b.index < 0 || b.index > 6) return `${d.bdf} BAR index ${b.index}`;
      }
      if (d.sriov && !(Number.isSafeInteger(d.sriov.totalVfs) && d.sriov.totalVfs <= 65535))
        return `${d.bdf} totalVfs ${d.sriov.totalVfs}`;
    }
    return null;
  },
};

export const TARGETS: FuzzTarget<unknown>[] = [
  mailTarget,
  mboxTarget,
  subjectTarget,
  trailersTarget,
  diffTarget,
  diffnamesTarget,
  pathTarget,
  assembleTarget,
  triggerTarget,
  qemuTarget,
  lspciTarget,
] as FuzzTarget<unknown>[];
