// Two versions of one series in one input, on the real Debian 6.12 tree: v2's
// last patch alone ("PCI: Align small (<4k) BARs", made on top of a v2 whose
// first patch adds lines above it, so alone it lands at an offset) and the
// whole v3, renamed ("PCI: Align small BARs", its cover letter's changelog
// saying so). pcibot reviews v3 once, shows v2 8/8 as superseded by v3 with
// the rename as the reason in every format, and says which of v2's findings v3
// no longer has: exactly what reviewing v2 alone and v3 gives.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findingIdentity, reportedFindings } from '../../workers/report/result.js';
import { renderJson } from '../../workers/report/json.js';
import { renderMarkdown, renderTerminal } from '../../workers/report/text.js';
import type { FindingIdentity, ReviewReport } from '../../workers/report/types.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { alignSmallBars } from '../../fixtures/examples/align-small-bars.js';
import { generateExampleMbox, type ExampleSeries } from '../../fixtures/examples/generate.js';
import { runReview } from '../../workers/pipeline.js';

let work = '';
let tree = '';
let commit = '';
let v2Last = '';
let v3 = '';

const OLD = 'PCI: Align small (<4k) BARs';
const NEW = 'PCI: Align small BARs';

before(async () => {
  ({ path: tree, commit } = await prepareKernelTree());
  work = await mkdtemp(join(tmpdir(), 'pcibot-versions-real-'));
  const last = alignSmallBars.patches[7]!;
  const v2: ExampleSeries = {
    ...alignSmallBars,
    name: 'align-small-bars-renamed',
    version: 2,
    date: '2026-10-12T10:00:00Z',
    cover: { subject: OLD, body: 'Align small BARs to a page.' },
    patches: [
      {
        subject: 'PCI: Describe what a small BAR is',
        body: 'Say in one place which BARs the default alignment is about.',
        edits: [
          {
            file: 'drivers/pci/pci.c',
            // About a hundred lines above pcibios_default_alignment(), out of 8/8's context.
            anchor: /^EXPORT_SYMBOL_GPL\(pci_pr3_present\);$/,
            op: 'after',
            lines: [
              '',
              '/*',
              ' * A small BAR is a memory BAR smaller than a page. Two of them, of two',
              ' * devices, can share one page when the kernel assigns them: a guest',
              ' * given one of the devices then reaches the registers of the other.',
              ' * Everything that decides the alignment of a BAR by default should',
              ' * keep that in mind; the arch hooks below may ask for more.',
              ' */',
            ],
          },
        ],
      },
      ...alignSmallBars.patches.slice(1, 7),
      { ...last, subject: OLD },
    ],
  };
  const v3Series: ExampleSeries = {
    ...alignSmallBars,
    name: 'align-small-bars-renamed',
    cover: {
      subject: NEW,
      body: `${alignSmallBars.cover!.body}\n\nv2->v3:\n* drop the comment patch\n* rename ("${OLD}") to\n  ("${NEW}")`,
    },
  };
  const v2mbox = join(work, 'v2.mbox');
  v3 = join(work, 'v3.mbox');
  await generateExampleMbox({ tree, base: commit, series: v2, out: v2mbox });
  await generateExampleMbox({ tree, base: commit, series: v3Series, out: v3 });
  // Only v2's last patch is in the input, as when a reviewer saves that one mail.
  const mails = readFileSync(v2mbox, 'utf8').split(/^(?=From [0-9a-f]{40} )/m);
  v2Last = join(work, 'v2-8.mbox');
  await writeFile(v2Last, mails[mails.length - 1]!);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('v2 8/8 (renamed) and v3 in one input: one review, v2 superseded with the reason, what v3 fixed', async () => {
  const status = () =>
    execFileSync('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no']).toString();
  const clean = status();
  const report = await runReview({ inputs: [v2Last, v3], tree });
  assert.equal(report.summary.messages, 10, 'v2 8/8, the v3 cover letter and 8 patches');
  assert.equal(report.summary.series, 1);
  const s = report.series[0]!;
  assert.equal(s.version, 3);
  assert.equal(s.title, NEW);
  assert.deepEqual(
    s.patches.map((p) => p.apply?.status),
    Array(8).fill('applied'),
  );
  const reason = `title changed: "${OLD}" -> "${NEW}", as the v3 cover letter's changelog says`;
  assert.deepEqual(
    s.supersedes.map((x) => [x.version, x.messageIds.length, x.reason]),
    [[2, 1, reason]],
  );
  const old = report.messages.find((m) => m.subject === `[PATCH v2 8/8] ${OLD}`)!;
  assert.deepEqual(old.disposition, { kind: 'superseded', seriesId: s.id, byVersion: 3, reason });
  assert.equal(old.reason, `superseded by v3 ("${NEW}" v3): ${reason}`);

  // The same words in the three formats.
  const json = JSON.parse(renderJson(report)) as ReviewReport;
  assert.equal(json.messages.find((m) => m.messageId === old.messageId)!.reason, old.reason);
  const text = renderTerminal(report, { width: 400 });
  assert.ok(text.includes(`[PATCH v2 8/8] ${OLD}  [`) && text.includes(`]: ${old.reason}\n`));
  assert.ok(text.includes(`  supersedes v2 (1 message): ${reason}\n`));
  const md = renderMarkdown(report);
  assert.ok(md.includes(`- Supersedes v2: ${reason.replace(/([<>])/g, '\\$1')}`));

  // v2's last patch was made on top of a v2 1/8 that adds lines above it: alone, it
  // lands at an offset (its hunk header names other lines than v3 8/8's).
  const hunk = (file: string, subject: string) => {
    const mail = readFileSync(file, 'utf8')
      .split(/^(?=From [0-9a-f]{40} )/m)
      .find((m) => m.includes(subject))!;
    return /^@@ -(\d+),/m.exec(mail.slice(mail.indexOf('pcibios_default_alignment') - 400))![1];
  };
  assert.notEqual(hunk(v2Last, `v2 8/8] ${OLD}`), hunk(v3, `v3 8/8] ${NEW}`));

  // What v3 fixed: v2 8/8 reviewed alone, minus what v3 still has.
  const alone = await runReview({ inputs: [v2Last], tree });
  assert.deepEqual(
    alone.series[0]!.patches.map((p) => p.apply?.status),
    ['applied'],
    'v2 8/8 applies alone, at its offset',
  );
  const lost = reportedFindings(alone.series[0]!).find((f) => f.rule === 'model/lost-bar');
  assert.ok(lost, 'alone, v2 8/8 loses BARs on x86 (the claim pass drops them)');
  // Gone: v2's problems v3 has not. Never claimed while the rule still fires on the
  // file (a reworded title or other counts is the same problem), and every v2
  // problem that is not gone still has its rule firing on its file in v3.
  const at = (f: FindingIdentity) => `${f.rule}\0${f.file ?? ''}`;
  const v3at = new Set(reportedFindings(s).map(at));
  assert.equal(s.fixed?.version, 2);
  for (const f of s.fixed.findings) assert.ok(!v3at.has(at(f)), `${f.rule} still fires in v3`);
  const goneIds = new Set(s.fixed.findings.map(findingIdentity));
  for (const f of reportedFindings(alone.series[0]!))
    if (
      !['model/before-after', 'model/fixed', 'model/remaining'].includes(f.rule) &&
      !goneIds.has(findingIdentity(f))
    )
      assert.ok(v3at.has(at(f)), `${f.rule}: ${f.title} is neither gone nor in v3`);
  assert.ok(
    s.fixed.findings.some((f) => f.rule === 'model/lost-bar'),
    'v3 no longer loses BARs',
  );
  assert.match(text, /since v2: \d+ of its findings (is|are) gone:\n {4}- model\/lost-bar: /);
  assert.equal(status(), clean, 'the kernel checkout is untouched');
});
