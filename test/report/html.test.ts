// The HTML sink and the text forms of the model, through the CLI as a user
// runs them: `pcibot review --html DIR` on the bundled example (the series
// page: findings linked into the diffs, the model's table, a before/after map
// per scenario run) and on a hostile mail (nothing from the mail becomes
// markup); the terminal report's model table and --verbose; Markdown's one
// line per item; `pcibot scenario run --svg DIR`.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkOutput, MAX_SUMMARY } from '../../workers/report/github.js';
import { archiveUrl, diffHtml, lineAnchor } from '../../workers/report/html.js';
import type { ReviewReport, ReviewResult } from '../../workers/report/types.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { cacheDir } from '../../bot/util/cache.js';
import { fixturesDir } from '../../bot/util/paths.js';
import { exampleMbox } from '../../fixtures/examples/index.js';
import { runCli } from '../cli-io.js';
import { removeDir, tempDir } from '../service/helpers.js';
import {
  HOSTILE_BODY_LINE,
  HOSTILE_NAME,
  HOSTILE_SUBJECT,
  activeContent,
  hostileMbox,
} from './hostile.js';

let dir = '';
let site = '';
let tree = '';
let mbox = '';
before(async () => {
  dir = await tempDir('html');
  const t = await prepareKernelTree();
  tree = t.path;
  mbox = await exampleMbox({
    name: 'align-small-bars',
    tree,
    commit: t.commit,
    cacheDir: cacheDir(),
  });
});
after(async () => removeDir(dir));

describe('diffHtml', () => {
  it('anchors each file and each line of the new side; escapes the text', () => {
    const diff = [
      'diff --git a/drivers/pci/pci.c b/drivers/pci/pci.c',
      'index 1..2 100644',
      '--- a/drivers/pci/pci.c',
      '+++ b/drivers/pci/pci.c',
      '@@ -10,3 +10,4 @@ int f(void)',
      ' a',
      '-b',
      '+<script>c</script>',
      '+d',
      ' e',
    ].join('\n');
    const h = diffHtml(3, diff);
    assert.deepEqual(
      [...h.anchors],
      [
        'p3-drivers-pci-pci-c',
        ...[10, 11, 12, 13].map((n) => lineAnchor(3, 'drivers/pci/pci.c', n)),
      ],
    );
    assert.match(
      h.html,
      /<span class="add" id="p3-drivers-pci-pci-c-L11">\+&lt;script&gt;c&lt;\/script&gt;\n<\/span>/,
    );
    assert.match(h.html, /<span class="del">-b\n<\/span>/);
    assert.doesNotMatch(h.html, /<script/);
  });
  it('numbers only the lines a hunk counts: no anchor after the last one, headers after it are headers', () => {
    const diff = [
      'diff --git drivers/pci/pci.c drivers/pci/pci.c',
      '--- drivers/pci/pci.c',
      '+++ drivers/pci/pci.c',
      '@@ -10 +10,2 @@',
      ' a',
      '+b',
      '--- x',
      '',
    ].join('\n');
    const h = diffHtml(3, diff);
    assert.deepEqual(
      [...h.anchors],
      ['p3-drivers-pci-pci-c', ...[10, 11].map((n) => lineAnchor(3, 'drivers/pci/pci.c', n))],
      "the mail's last newline is no line 12",
    );
    assert.match(h.html, /^<span class="file" id="p3-drivers-pci-pci-c">diff --git /);
    // The hunk's counts are done: `--- x` is no removed line (nor a file: no `+++` follows).
    assert.ok(h.html.endsWith('<span class="file">--- x\n</span>'), h.html);
  });
  it('archive links encode the Message-ID', () => {
    assert.equal(
      archiveUrl('https://lore.kernel.org/linux-pci/', '<a"b>@x.org>'),
      'https://lore.kernel.org/linux-pci/a%22b%3E%40x.org/',
    );
  });
});

describe('pcibot review --html on the bundled example', () => {
  let page = '';
  let result: ReviewResult;
  let terminal = '';
  before(async () => {
    const out = join(dir, 'site');
    site = out;
    const r = await runCli(
      [
        'review',
        mbox,
        '--tree',
        tree,
        '--html',
        out,
        '--archive',
        'https://lore.kernel.org/linux-pci',
      ],
      {
        cwd: dir,
      },
    );
    assert.equal(r.code, 0, r.err);
    terminal = r.out;
    const files = (await readdir(out)).sort();
    const html = files.filter((f) => f.endsWith('.html') && f !== 'index.html');
    assert.equal(html.length, 1, files.join(' '));
    page = await readFile(join(out, html[0]!), 'utf8');
    result = JSON.parse(
      await readFile(join(out, html[0]!.replace(/\.html$/, '.json')), 'utf8'),
    ) as ReviewResult;
    assert.match(await readFile(join(out, 'index.html'), 'utf8'), new RegExp(`href="${html[0]}"`));
  });

  it('is one static file: no script, nothing from another origin, a CSP that forbids both', () => {
    assert.deepEqual(activeContent(page), []);
    assert.match(
      page,
      /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/,
    );
    // Nothing loaded from elsewhere: the only src= are the map files beside the
    // page, no stylesheet link; the only http(s) links are to the archive.
    for (const m of page.matchAll(/\ssrc="([^"]*)"/g))
      assert.match(m[1]!, /^s-[0-9a-f]+-maps\/\d+\.svg$/);
    assert.doesNotMatch(page, /<link\b/);
    for (const m of page.matchAll(/href="(https?:[^"]*)"/g))
      assert.ok(m[1]!.startsWith('https://lore.kernel.org/linux-pci/'), m[1]);
    assert.match(
      page,
      /<a class="thread" href="https:\/\/lore\.kernel\.org\/linux-pci\/20261102100000\.align-small-bars-v3-0%40example\.org\/">/,
    );
  });

  it('links each finding with a line to that line of its patch in the diff', () => {
    const withLine = result.patches.flatMap((p) =>
      p.findings.filter((f) => f.file && f.line !== undefined).map((f) => ({ p: p.index, f })),
    );
    assert.ok(withLine.length >= 3);
    for (const { p, f } of withLine) {
      // The diff is the mail's: a patch that landed at an offset is linked by its mail line.
      const id = lineAnchor(p, f.file!, f.mailLine ?? f.line!);
      assert.match(page, new RegExp(`href="#${id}"`), `${f.rule} ${f.file}:${f.line}`);
      assert.match(
        page,
        new RegExp(`<span class="add" id="${id}">`),
        `the line ${id} is in the diff, added`,
      );
    }
  });

  it('has the model table with the numbers of the result, and a before/after map per scenario run', async () => {
    const model = result.model!;
    for (const t of model.table) {
      const row = new RegExp(
        `<tr class="check" data-page-size="${t.pageSize}" data-check="${t.check}">.*?<td class="n fixed">(\\d+)</td><td class="n introduced">(\\d+)</td><td class="n remaining">(\\d+)</td>`,
      ).exec(page);
      assert.ok(row, `${t.pageSize} ${t.check}`);
      assert.deepEqual(row.slice(1).map(Number), [t.fixed, t.introduced, t.remaining]);
    }
    const runs = [...page.matchAll(/<details class="run[^"]*" id="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(runs.length, model.runs.length);
    assert.equal(new Set(runs).size, runs.length, 'unique ids');
    // Runs the series changed carry their maps inline; the others link theirs (files beside the page).
    const changed = model.runs.filter((r) => r.fixed.length || r.introduced.length).length;
    assert.ok(changed > 5 && changed < model.runs.length);
    assert.equal([...page.matchAll(/<figure><svg /g)].length, changed);
    const linked = [...page.matchAll(/<img loading="lazy" src="([^"]+\.svg)"/g)].map((m) => m[1]!);
    assert.equal(linked.length, model.runs.length - changed);
    for (const f of linked)
      assert.match(
        await readFile(join(site, f), 'utf8'),
        /^<svg [^>]*class="addrmap"[\s\S]*<g class="map after"/,
      );
    // Seed 001 with qboot at 4K: the three 32-byte BARs share a red page before, not after.
    const seed =
      /<details class="run changed" id="map-seed-001-reproducer-qboot-x86_64-4K"[^>]* open>([\s\S]*?)<\/details>/.exec(
        page,
      );
    assert.ok(seed, 'the seed run is open');
    const [beforeMap, afterMap] = seed[1]!.split('<g class="map after"');
    const shared = /<g class="page shared" data-page="0x110000000">([\s\S]*?)<\/g>/.exec(
      beforeMap!,
    );
    assert.ok(shared);
    assert.equal([...shared[1]!.matchAll(/<rect class="bar" [^>]*data-size="32"/g)].length, 3);
    assert.doesNotMatch(afterMap!, /class="page shared" data-page="0x110000000"/);
    assert.equal(
      [...afterMap!.matchAll(/<g class="page" data-page="0x11000[012]000">/g)].length,
      3,
    );
  });

  it("the GitHub check run's summary carries the model table, within GitHub's limit", () => {
    const out = checkOutput(result, { pageUrl: 'https://pcibot.example.org/series/k' });
    assert.ok(out.summary.length <= MAX_SUMMARY, `${out.summary.length} characters`);
    assert.match(out.summary, /^# pcibot review/);
    assert.match(
      out.summary,
      /\| page size \| fixed \| introduced \| remain \| scenario runs \|\n\|---\|/,
    );
    for (const ps of [4096, 16384, 65536]) {
      const rows = result.model!.table.filter((t) => t.pageSize === ps);
      const sum = (k: 'fixed' | 'introduced' | 'remaining') => rows.reduce((n, r) => n + r[k], 0);
      const label = { 4096: '4K', 16384: '16K', 65536: '64K' }[ps];
      assert.match(
        out.summary,
        new RegExp(
          `^\\| ${label} \\| ${sum('fixed')} \\| ${sum('introduced')} \\| ${sum('remaining')} \\| \\d+ \\|$`,
          'm',
        ),
        label,
      );
    }
  });

  it('a check run summary cut to fit GitHub still carries the model table', () => {
    // The same result with 200 more findings of 400 characters: past GitHub's limit.
    const at = result.patches.findIndex((p) => p.findings.length > 0);
    const patch = result.patches[at]!;
    const extra = Array.from({ length: 200 }, (_, i) => ({
      ...patch.findings[0]!,
      detail: `padding ${i} ${'x'.repeat(400)}`,
      fingerprint: i.toString(16).padStart(16, '0'),
    }));
    const patches = result.patches.map((p, i) =>
      i === at ? { ...p, findings: [...p.findings, ...extra] } : p,
    );
    const long = { ...result, patches };
    const url = 'https://pcibot.example.org/series/k';
    const out = checkOutput(long, { pageUrl: url });
    assert.ok(out.summary.length <= MAX_SUMMARY, `${out.summary.length} characters`);
    assert.match(
      out.summary,
      /cut here\.\*\* The whole report: \[https:\/\/pcibot\.example\.org\/series\/k\]/,
    );
    assert.match(out.summary, /padding 0 x/, 'the report up to the cut');
    assert.doesNotMatch(out.summary, /padding 199 x/, 'it was cut');
    const table = out.summary.slice(out.summary.indexOf('cut here'));
    assert.match(table, /\n### Model before\/after\n/);
    for (const m of checkOutput(result, { pageUrl: url }).summary.matchAll(
      /^\| (4K|16K|64K) \| .*$/gm,
    ))
      assert.ok(table.includes(m[0]), m[0]);
  });

  it('the terminal report: the model as a short table, text maps of what changed', () => {
    assert.match(terminal, /page size {3}fixed {2}introduced {2}remain\n/);
    const totals = [...terminal.matchAll(/^ {4}(4K|16K|64K) +(\d+) +(\d+) +(\d+)$/gm)];
    assert.equal(totals.length, 3);
    for (const m of totals) {
      const ps = { '4K': 4096, '16K': 16384, '64K': 65536 }[m[1]!]!;
      const rows = result.model!.table.filter((t) => t.pageSize === ps);
      const sum = (k: 'fixed' | 'introduced' | 'remaining') => rows.reduce((n, r) => n + r[k], 0);
      assert.deepEqual(m.slice(2).map(Number), [sum('fixed'), sum('introduced'), sum('remaining')]);
    }
    assert.match(terminal, /before {2}0x\w+ +\d+K {2}.* SHARED by \d functions/);
    assert.match(terminal, /\.\.\. and \d+ more scenario runs \(--verbose\)/);
    // The summary's wall of text is gone from the default report.
    assert.doesNotMatch(terminal, /Still there at/);
    // The model's part of the report (its section and the model findings) is short.
    const lines = terminal.split('\n');
    const from = lines.findIndex((l) => l.startsWith('  model: '));
    const to = lines.findIndex((l) => l.startsWith('  info policy/not-understood'));
    assert.ok(from > 0 && to > from && to - from <= 30, `${to - from} lines`);
  });

  it('--verbose has the details; --markdown keeps one line per item', async () => {
    const v = await runCli(['review', mbox, '--tree', tree, '--verbose'], { cwd: dir });
    assert.match(v.out, /Still there at 64K/);
    assert.match(v.out, /every scenario run:\n/);
    assert.doesNotMatch(v.out, /more scenario runs \(--verbose\)/);
    const md = (await runCli(['review', mbox, '--tree', tree, '--markdown'], { cwd: dir })).out;
    assert.match(md, /\| page size \| fixed \| introduced \| remain \| scenario runs \|\n\|---\|/);
    assert.match(md, /^\| 4K \| \d+ \| \d+ \| \d+ \| \d+ \|$/m);
    // The model's lists: one line per item, not one paragraph.
    const lines = md.split('\n');
    const fixed = lines.findIndex((l) => l.includes('`model/fixed`'));
    assert.ok(fixed > 0);
    const items = lines.slice(fixed + 1).findIndex((l) => !l.startsWith('  - '));
    assert.ok(items >= 10, `${items} items`);
    assert.doesNotMatch(md, /At 4K \(\d+ scenario runs\)/, 'the summary is the table now');
    // The pages whose sharing changed, as text maps in code blocks.
    assert.match(md, /```\n {2}before {2}0x\w+ +4K {2}.* SHARED by \d functions\n {2}after /);
  });
});

describe('pcibot review --html on a hostile mail', () => {
  it('escapes the subject, the sender and the commit message: no markup gets through', async () => {
    const file = join(dir, 'hostile.mbox');
    await writeFile(file, await hostileMbox(mbox), 'latin1');
    const out = join(dir, 'hostile-site');
    const r = await runCli(['review', file, '--tree', tree, '--html', out], { cwd: dir });
    const report = JSON.parse(
      (await runCli(['review', file, '--tree', tree, '--json'], { cwd: dir })).out,
    ) as ReviewReport;
    // The exit status is the findings' (1 only with an error finding), not a pcibot failure.
    assert.equal(r.code, report.summary.findings.error > 0 ? 1 : 0, r.err);
    assert.equal(report.series[0]!.status, 'reviewed');
    for (const f of await readdir(out)) {
      if (!f.endsWith('.html')) continue;
      const html = await readFile(join(out, f), 'utf8');
      assert.deepEqual(activeContent(html), [], f);
      // The text is there, as text.
      assert.ok(html.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;'), f);
      if (f !== 'index.html') {
        assert.ok(
          html.includes('&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;'),
          f,
        );
        assert.ok(html.includes('&lt;/title&gt;&lt;script&gt;window.__pwned=3&lt;/script&gt;'), f);
      }
    }
    void HOSTILE_SUBJECT;
    void HOSTILE_NAME;
    void HOSTILE_BODY_LINE;
  });
});

describe('pcibot scenario run --svg', () => {
  it('writes a map per scenario and page size, and an index showing them', async () => {
    const out = join(dir, 'maps');
    const r = await runCli(
      [
        'scenario',
        'run',
        join(fixturesDir, 'scenarios', 'seed-001-reproducer-qboot.scenario'),
        '--no-layout',
        '--svg',
        out,
      ],
      { cwd: dir },
    );
    assert.equal(r.code, 1, 'error findings');
    assert.match(
      r.out,
      /pages shared at 4K \(address, page size, BARs in it\):\n {2}0x110000000 +4K {2}01:00\.0 BAR2 32 B, 01:01\.0 BAR2 32 B, 01:02\.0 BAR2 32 B {3}SHARED by 3 functions\n/,
    );
    const files = (await readdir(out)).sort();
    assert.deepEqual(files, [
      'index.html',
      'seed-001-reproducer-qboot-16K.svg',
      'seed-001-reproducer-qboot-4K.svg',
      'seed-001-reproducer-qboot-64K.svg',
    ]);
    const svg = await readFile(join(out, 'seed-001-reproducer-qboot-4K.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<g class="page shared" data-page="0x110000000">/);
    const index = await readFile(join(out, 'index.html'), 'utf8');
    assert.equal(
      [...index.matchAll(/<img loading="lazy" src="seed-001-reproducer-qboot-\d+K\.svg"/g)].length,
      3,
    );

    const cmp = join(dir, 'cmp');
    const c = await runCli(
      [
        'scenario',
        'run',
        join(fixturesDir, 'scenarios', 'seed-001-reproducer-qboot.scenario'),
        '--before',
        '6.12',
        '--after',
        'align-small-bars-v3',
        '--page-size',
        '4k',
        '--svg',
        cmp,
      ],
      { cwd: dir },
    );
    assert.match(
      c.out,
      /before {2}0x110000000 +4K {2}01:00\.0 BAR2 32 B, 01:01\.0 BAR2 32 B, 01:02\.0 BAR2 32 B {3}SHARED by 3 functions\n {4}after {3}0x110000000 +4K {2}01:00\.0 BAR2 32 B\n {12}0x110001000 +4K {2}01:01\.0 BAR2 32 B\n/,
    );
    const pair = await readFile(join(cmp, 'seed-001-reproducer-qboot-4K.svg'), 'utf8');
    assert.match(
      pair,
      /<g class="map before">[\s\S]*<g class="page shared" data-page="0x110000000">[\s\S]*<g class="map after"/,
    );
  });
});
