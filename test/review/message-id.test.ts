// `pcibot review --message-id` against a real public-inbox v2 inbox (made and
// fed with Debian's public-inbox tools): the whole thread is found and
// reviewed, whichever of its messages is named.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../cli-io.js';
import type { ReviewReport } from '../../workers/report/types.js';
import { PublicInbox, removeDir, tempDir } from '../service/helpers.js';
import { buildFixtureSeries, type FixtureSeries } from '../service/series.js';

let dir = '';
let inbox: PublicInbox;
let fixture: FixtureSeries;

before(async () => {
  dir = await tempDir('review-message-id');
  fixture = await buildFixtureSeries(dir, { tag: 'msgid' });
  inbox = await PublicInbox.create(dir, 'linux-pci', 'linux-pci@vger.kernel.org');
  for (const m of [...fixture.noise.slice(0, 3), ...fixture.series, ...fixture.noise.slice(3, 6)])
    await inbox.deliver(m);
});
after(async () => {
  await removeDir(dir);
});

const review = (args: string[]) =>
  runCli(['review', ...args], { env: { PATH: process.env.PATH }, cwd: dir });

test('a patch named by Message-ID brings its whole series along', async () => {
  const { code, out, err } = await review([
    '--message-id',
    `<${fixture.ids.patches[1]}>`,
    '--mirror',
    inbox.dir,
    '--tree',
    fixture.tree,
    '--json',
  ]);
  const report = JSON.parse(out) as ReviewReport;
  // The fixture series raises two warnings and no error: exit 0 (1 would mean error findings).
  assert.deepEqual(report.summary.findings, { error: 0, warning: 2, info: 0 });
  assert.equal(code, 0, err);
  assert.equal(report.summary.messages, 4, 'cover + 3 patches, no noise');
  assert.equal(report.series.length, 1);
  const s = report.series[0]!;
  assert.equal(s.cover?.messageId, fixture.ids.cover);
  assert.deepEqual(
    s.patches.map((p) => p.apply?.status),
    ['applied', 'applied', 'applied'],
  );
  assert.equal(report.messages[0]!.origin.kind, 'lore');
});

test('the cover letter works too; an unknown id is a usage error', async () => {
  const viaCover = await review([
    '--message-id',
    fixture.ids.cover,
    '--mirror',
    inbox.dir,
    '--json',
  ]);
  assert.equal((JSON.parse(viaCover.out) as ReviewReport).summary.messages, 4);
  const missing = await review(['--message-id', 'nope@example.org', '--mirror', inbox.dir]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /<nope@example\.org> is not in the mirror/);
  const noMirror = await review(['--message-id', fixture.ids.cover]);
  assert.equal(noMirror.code, 2);
  assert.match(noMirror.err, /needs a lore mirror/);
});
