// `pcibot review --github owner/repo#N`: a pull request served by the stand-in
// reviewed in one process, read-only, with the token from the environment.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReviewReport } from '../../workers/report/types.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { runCli } from '../cli-io.js';
import {
  APP_ID,
  VFIO_FILE,
  VFIO_LINE,
  appKeys,
  buildPrRepo,
  standinPr,
  type PrRepo,
} from './fixtures.js';
import { GithubStandin } from './standin.js';

describe('pcibot review --github', () => {
  let work: string;
  let tree: string;
  let repo: PrRepo;
  let gh: GithubStandin;
  const TOKEN = 'ghp_cli-test-token';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pcibot-gh-cli-'));
    tree = (await buildFixtureTree(join(work, 'tree'))).path;
    repo = await buildPrRepo(join(work, 'pr'));
    gh = new GithubStandin(APP_ID, appKeys().publicKey);
    gh.personalTokens.add(TOKEN);
    await gh.start();
    gh.addPr(standinPr(repo));
  });
  after(async () => {
    await gh.stop();
    await rm(work, { recursive: true, force: true });
  });

  const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_TOKEN: TOKEN });
  /** `pcibot review` of the stand-in's PR #7 on the fixture tree, with more options. */
  const reviewPr = (...more: string[]) =>
    runCli(
      ['review', '--github', 'pci-vendor/linux#7', '--github-api', gh.url, '--tree', tree, ...more],
      {
        env: env(),
      },
    );

  test('reviews the PR commits as a series on the first commit parent, posting nothing', async () => {
    const before = gh.requests.length;
    const r = await reviewPr('--json');
    assert.equal(r.code, 1, r.err); // the portdrv commit's error finding
    const report = JSON.parse(r.out) as ReviewReport;
    assert.equal(report.series.length, 1);
    const s = report.series[0]!;
    assert.equal(s.status, 'reviewed');
    assert.equal(s.title, 'PCI/VFIO: three commits');
    assert.deepEqual(
      s.patches.map((p) => [p.index, p.title, p.apply?.status]),
      [
        [1, 'net: Say what the file is about', 'applied'],
        [2, 'vfio/pci: Explain why sub-page BARs need an exclusive page', 'applied'],
        [3, 'PCI: portdrv: Enable bus mastering on ports', 'applied'],
      ],
    );
    assert.equal(s.base?.commit, repo.base);
    assert.equal(s.base?.how, 'base-commit');
    const mmio = s.patches[1]!.findings.find((f) => f.rule === 'capitalise-mmio-bar');
    assert.ok(mmio, JSON.stringify(s.patches[1]!.findings));
    assert.equal(mmio.file, VFIO_FILE);
    assert.equal(mmio.line, VFIO_LINE);
    assert.equal(mmio.headLine, VFIO_LINE);
    assert.ok(
      s.patches[2]!.findings.some((f) => f.rule === 'driver-managed-dma' && f.severity === 'error'),
    );
    // Read-only: only GETs, each with the environment's token.
    const mine = gh.requests.slice(before);
    assert.ok(mine.length >= 5);
    assert.deepEqual(gh.writes(), []);
    assert.ok(
      mine.every((q) => q.method === 'GET' && q.headers.authorization === `token ${TOKEN}`),
    );
  });

  test('--html: the page links the pull request, not a list thread', async () => {
    const out = join(work, 'site');
    const r = await reviewPr('--html', out, '--archive', 'https://lore.kernel.org/linux-pci');
    assert.equal(r.code, 1, r.err);
    const pages = (await readdir(out)).filter((f) => f.endsWith('.html') && f !== 'index.html');
    assert.equal(pages.length, 1, pages.join(' '));
    const html = await readFile(join(out, pages[0]!), 'utf8');
    assert.match(
      html,
      /<a class="thread" href="https:\/\/github\.com\/pci-vendor\/linux\/pull\/7">the pull request<\/a>/,
    );
    // A PR's commits are no mails in the list archive: no archive link for them.
    assert.doesNotMatch(html, /lore\.kernel\.org/);
  });

  test('a PR that does not exist is a clear error, and a bad reference a usage error', async () => {
    const r = await runCli(['review', '--github', 'pci-vendor/linux#99', '--github-api', gh.url], {
      env: env(),
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /pci-vendor\/linux#99: 404/);
    const bad = await runCli(['review', '--github', 'not a ref'], { env: env() });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /owner\/repo#N/);
  });
});
