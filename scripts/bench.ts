// `npm run bench`: pcibot's performance figures, each printed next to a
// baseline measured in the same run on the same machine (never a fixed number),
// so the ratios mean something wherever it runs.
//
//   review: `pcibot review` of the bundled 8-patch example on the real 6.12 tree,
//           against the floor (bare `git apply --cached` of the same patches in a
//           temporary index), and b4 (`b4 --offline-mode shazam`) when installed.
//   analyse: the patch checks (whole series, each patch alone) against the series
//           checks (the model's before/after), and a job's cost to fetch a series.
//   policy: reading the kernel policy of base and patched trees for one series.
//   model:  the scenario library at three page sizes, before and after.
//   rules:  each rule's hit counts over the quiet corpus (precision).
//   ingest: a synthetic 10,000-message lore epoch through the ingest queue with
//           1 and 2 workers, against the raw git log walk of the same repository.
//   verify: a one-file patch rebuilt incrementally (x86, warm ccache) and three
//           scenarios booted in QEMU; build and boot times apart.
//   conflicts: one patch with 5k/10k/20k failing sections for one file through
//           applySeries, against one bare `git apply --cached` of it (the floor).
//   input:  read + parse + assemble (pcibot review without a tree) of 10k, 50k
//           and 100k messages in three shapes (list traffic, a reply chain, a
//           flood of unthreaded numbered patches): the per-message time must not
//           grow with the count; and the peak memory of a 200 MB mbox.
//   page:   the example series' report page served by `pcibot serve` and loaded
//           in Debian's Chromium, against the same page loaded from a file.
//
// `npm run bench -- model` runs only the named benches.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readInputs } from '../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../bot/mail/parse.js';
import { measureApplyFloor } from './bench/apply-floor.js';
import { prepareKernelTree } from '../bot/tree/kernel.js';
import { cacheDir } from '../bot/util/cache.js';
import { exampleMbox } from '../fixtures/examples/index.js';
import { runReview } from '../workers/pipeline.js';
import { benchModel } from './bench/model.js';
import { benchAnalyse } from './bench/analyse.js';
import { benchIngest } from './bench/ingest.js';
import { benchVerifyIncremental } from './bench/verify.js';
import { benchPolicyReadExample } from './bench/policy.js';
import { benchPage } from './bench/page.js';
import { QUIET_CORPUS, ruleStats } from '../workers/commands/rules.js';
import { buildFixtureTree } from '../fixtures/kernel-tree/build.js';
import { benchConflicts } from './bench/conflicts.js';
import { writeSyntheticMbox, type MboxShape } from './bench/synthetic-mbox.js';
import { fileURLToPath } from 'node:url';

const exec = promisify(execFile);

/** Run a command with stdin closed (b4 waits on an open stdin) and a time limit; true on exit 0. */
function runQuiet(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: 'ignore', timeout: timeoutMs });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function timeIt(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  await fn(); // warm-up: page cache, lazy imports, git's object cache
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function benchReview(): Promise<void> {
  const { path: tree, commit } = await prepareKernelTree();
  const mbox = await exampleMbox({ name: 'align-small-bars', tree, commit, cacheDir: cacheDir() });
  const { mails } = await readInputs([mbox]);
  const diffs: string[] = [];
  for (const m of mails) {
    const msg = await parseMail(m);
    if (!isParseFailure(msg) && msg.diff) diffs.push(msg.diff);
  }
  console.log(
    `\n== review: ${diffs.length}-patch example series on the real tree (${tree}, median of ${RUNS})`,
  );

  const floor = await timeIt(() => measureApplyFloor(tree, diffs));
  const spine = await timeIt(() => runReview({ inputs: [mbox], tree, model: false }));
  const review = await timeIt(() => runReview({ inputs: [mbox], tree }));
  const report = await runReview({ inputs: [mbox], tree });
  const applied =
    report.series[0]?.patches.filter((p) => p.apply?.status === 'applied').length ?? 0;
  console.log(`  floor: git apply --cached only      ${fmt(floor).padStart(8)}`);
  console.log(
    `  review: parse, apply, 11 rules      ${fmt(spine).padStart(8)}   ${(spine / floor).toFixed(2)}x the floor (target: <= 2x)`,
  );
  console.log(
    `  review + the model's before/after   ${fmt(review).padStart(8)}   ${(review / floor).toFixed(2)}x the floor (${applied}/${diffs.length} applied; target: < 3000 ms)`,
  );

  // b4, the tool maintainers use for this, when installed: shazam in a scratch clone.
  const b4 = await exec('b4', ['--version'])
    .then((r) => r.stdout.trim())
    .catch(() => null);
  if (!b4) {
    console.log('  b4: not installed (apt-get install b4 to compare)');
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'pcibot-bench-b4-'));
  try {
    const clone = join(work, 'linux');
    // A full copy: with --shared (alternates) or hardlinks, git am would freshen
    // (utime) objects of the kernel tree that it writes again.
    await exec('git', ['clone', '-q', '--no-hardlinks', tree, clone]);
    const b4Times: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      await exec('git', ['-C', clone, 'am', '--abort']).catch(() => {});
      await exec('git', ['-C', clone, 'reset', '-q', '--hard', commit]);
      const t0 = performance.now();
      const ok = await runQuiet('b4', ['--offline-mode', 'shazam', '-m', mbox], clone);
      b4Times.push(performance.now() - t0);
      if (!ok && i === 0)
        console.log(
          '  b4 shazam stopped at a patch it could not apply (pcibot reports every patch)',
        );
    }
    console.log(
      `  b4 ${b4} shazam (in a scratch clone) ${fmt(median(b4Times)).padStart(8)}   ratio pcibot / b4 ${(review / median(b4Times)).toFixed(2)}x`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function benchAnalyseSplit(): Promise<void> {
  const { path: tree, commit } = await prepareKernelTree();
  const r = await benchAnalyse(tree, commit, RUNS);
  const sum = r.perPatch.reduce((n, p) => n + p.warm, 0);
  const max = Math.max(...r.perPatch.map((p) => p.warm));
  console.log(
    `\n== analyse: where the analyse stage spends its time, ${r.patches}-patch example on the real tree (cold: first run in this process; warm: median of ${RUNS})`,
  );
  console.log(
    `  patch checks, whole series          ${fmt(r.patchChecks.cold).padStart(8)} cold ${fmt(r.patchChecks.warm).padStart(8)} warm`,
  );
  console.log(
    `  patch checks, each patch alone      ${r.perPatch.map((p) => `${p.index}: ${p.warm.toFixed(0)}`).join(', ')} ms warm (sum ${fmt(sum)}, max ${fmt(max)})`,
  );
  console.log(
    `  series checks (model before/after)  ${fmt(r.seriesChecks.cold).padStart(8)} cold ${fmt(r.seriesChecks.warm).padStart(8)} warm`,
  );
  console.log(
    `  a job's fetch of series + applied   ${fmt(r.fetch).padStart(8)}   (${(r.bytes / 1024).toFixed(0)} KiB of JSON from Redis)`,
  );
  console.log(
    `  model data: ${r.model.runs} scenario runs, ${r.model.layouts} distinct layouts, ${(r.model.bytes / 1024).toFixed(0)} KiB of JSON`,
  );
}

async function benchModelLibrary(): Promise<void> {
  const r = await benchModel(undefined, RUNS);
  console.log(
    `\n== model: the scenario library at 4K/16K/64K pages, before and after (mean of ${RUNS})`,
  );
  console.log(
    `  ${r.scenarios} scenarios, ${r.evaluations} evaluations    ${fmt(r.ms).padStart(8)}   (target: well under 1000 ms)`,
  );
  console.log(
    `  ${r.scenariosPerSecond.toFixed(0)} scenarios/s (before+after, 3 page sizes each); ${((r.evaluations / r.ms) * 1000).toFixed(0)} evaluations/s`,
  );
}

async function benchIngestEpoch(): Promise<void> {
  const messages = Number(process.env.BENCH_INGEST_MESSAGES ?? 10_000);
  console.log(
    `\n== ingest: a synthetic ${messages}-message public-inbox epoch (mostly noise) through the BullMQ ingest queue`,
  );
  for (const workers of [1, 2] as const) {
    const r = await benchIngest({ messages, workers });
    console.log(
      `  ${workers} worker${workers > 1 ? 's' : ' '}   ${r.msgPerSec.toFixed(0).padStart(6)} msg/s   ` +
        `(floor: raw git log + cat-file ${r.rawGitLogMsgPerSec.toFixed(0)} msg/s, ${fmt(r.rawGitLogMs)}; ` +
        `walk+enqueue ${fmt(r.walkEnqueueMs)}; ratio ${(r.rawGitLogMsgPerSec / r.msgPerSec).toFixed(1)}x)` +
        (r.failed ? `  ${r.failed} FAILED` : ''),
    );
  }
}

async function benchVerify(): Promise<void> {
  const { path: tree } = await prepareKernelTree();
  console.log(
    '\n== verify: one-file patch (drivers/pci/pci.c) rebuilt over a warm x86 build, then 3 scenarios booted',
  );
  const r = await benchVerifyIncremental({ tree });
  console.log(
    `  incremental rebuild (patched)         ${r.buildSeconds.toFixed(1).padStart(6)} s   (baseline: the rebuild back to base in the same run, ${r.baseSeconds.toFixed(1)} s)`,
  );
  for (const b of r.boots)
    console.log(
      `  boot ${b.name.padEnd(32)} ${b.seconds.toFixed(1).padStart(6)} s${b.complete ? '' : '   INCOMPLETE'}`,
    );
  console.log(
    `  total build + boots                   ${r.totalSeconds.toFixed(1).padStart(6)} s   (target: under 120 s; kernel ${r.kernelVersion})`,
  );
}

async function benchPolicy(): Promise<void> {
  const { path: tree, commit } = await prepareKernelTree();
  const r = await benchPolicyReadExample(tree, commit, RUNS);
  console.log(
    `\n== policy: read the kernel policy of the base and patched trees (x86_64 + arm64), example series (median of ${RUNS})`,
  );
  console.log(
    `  cold (parse cache cleared)            ${fmt(r.coldMs).padStart(8)}   (target: < 200 ms; ${r.filesRead} files read)`,
  );
  console.log(
    `  warm                                  ${fmt(r.warmMs).padStart(8)}   changed fields: ${Object.entries(
      r.changedFields,
    )
      .map(([arch, f]) => `${arch} ${f.join(', ') || 'none'}`)
      .join('; ')}`,
  );
}

async function benchRuleStats(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'pcibot-bench-rules-'));
  try {
    const { path: tree } = await buildFixtureTree(join(work, 'tree'));
    const stats = await ruleStats([QUIET_CORPUS], tree);
    console.log(
      `\n== rules: hit counts over the quiet corpus (${stats.messages} mails, ${stats.reviewed} series reviewed, ${stats.applied}/${stats.patches} patches applied) in ${fmt(stats.elapsedMs)}`,
    );
    for (const r of [...stats.rules, ...stats.other]) {
      const n = r.hits.error + r.hits.warning + r.hits.info;
      console.log(
        `  ${r.id.padEnd(28)} ${String(r.hits.error).padStart(3)} error ${String(r.hits.warning).padStart(3)} warning ${String(r.hits.info).padStart(3)} info${n && r.hits.error + r.hits.warning ? '   <- must be 0 at error/warning' : ''}`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function benchConflictReports(): Promise<void> {
  console.log(
    '\n== conflicts: N failing sections for one file (drivers/pci/Kconfig of the fixture tree), one run each',
  );
  for (const r of await benchConflicts()) {
    console.log(
      `  ${String(r.sections).padStart(6)} sections   applySeries ${fmt(r.applyMs).padStart(9)}` +
        `   floor: git apply ${fmt(r.floorMs).padStart(8)}   ${(r.applyMs / r.floorMs).toFixed(2)}x` +
        `   ${((r.applyMs * 1000) / r.sections).toFixed(0)} us/section (${r.conflicts} conflicts reported)`,
    );
  }
}

interface InputRun {
  ms: number;
  maxRssMB: number;
  messages: number;
  series: number;
  failed: number;
  timing: Record<string, number>;
}

/** One review in a child process (its own peak memory). */
async function inputRun(mbox: string, warmup?: string): Promise<InputRun> {
  const child = fileURLToPath(new URL('./bench-input-child.js', import.meta.url));
  const args = [child, 'review', mbox, ...(warmup ? [warmup] : [])];
  const { stdout } = await exec(process.execPath, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as InputRun;
}

/** assembleSeries alone on the parsed messages of an mbox, GC settled, best of two (ms). */
async function assembleRun(mbox: string): Promise<number> {
  const child = fileURLToPath(new URL('./bench-input-child.js', import.meta.url));
  const { stdout } = await exec(process.execPath, ['--expose-gc', child, 'assemble', mbox], {
    maxBuffer: 1 << 20,
  });
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { ms: number }).ms;
}

/** The peak memory allowed for the 200 MB mbox (README, Limits). */
const PEAK_BOUND_MB = 1024;

async function benchInput(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'pcibot-bench-input-'));
  try {
    const sizes = [10_000, 50_000, 100_000];
    console.log(
      '\n== input: pcibot review without a tree or rules (read, parse, assemble), one child process per run',
    );
    console.log(
      `  ${'shape'.padEnd(44)}${sizes.map((n) => `${n / 1000}k msgs`.padStart(11)).join('')}   µs per message at 10k / 100k, ratio (linear: ~1.0)`,
    );
    const shapes: [MboxShape, string][] = [
      ['list', 'list traffic (series, replies, noise)'],
      ['chain', 'one reply chain, each replying to the last'],
      ['flood', 'unthreaded numbered patches [PATCH i/N]'],
    ];
    for (const [shape, label] of shapes) {
      const warmup = join(work, `${shape}-warmup.mbox`);
      await writeSyntheticMbox(warmup, { shape, count: 2000 });
      const runs: InputRun[] = [];
      const asm: number[] = [];
      for (const count of sizes) {
        const mbox = join(work, `${shape}-${count}.mbox`);
        await writeSyntheticMbox(mbox, { shape, count });
        runs.push(await inputRun(mbox, warmup));
        asm.push(await assembleRun(mbox));
        await rm(mbox);
      }
      const us = runs.map((r, i) => (r.ms * 1000) / sizes[i]!);
      console.log(
        `  ${label.padEnd(44)}${runs.map((r) => fmt(r.ms).padStart(11)).join('')}   ${us[0]!.toFixed(0)} / ${us[2]!.toFixed(0)} µs, ${(us[2]! / us[0]!).toFixed(2)}x` +
          (runs.some((r, i) => r.messages !== sizes[i]) ? '   MESSAGES LOST' : ''),
      );
      console.log(
        `  ${'  assembly alone (GC settled, best of 2)'.padEnd(44)}${asm.map((ms) => fmt(ms).padStart(11)).join('')}   ${((asm[2]! * 1000) / sizes[2]! / ((asm[0]! * 1000) / sizes[0]!)).toFixed(2)}x`,
      );
    }
    const mbox = join(work, 'big.mbox');
    const big = await writeSyntheticMbox(mbox, {
      shape: 'list',
      bytes: 200 * 1024 * 1024,
      scale: 6,
    });
    const r = await inputRun(mbox);
    const mb = big.bytes / (1024 * 1024);
    console.log(
      `  peak memory, a ${mb.toFixed(0)} MB mbox of list traffic (${big.messages} messages, ${r.series} series): ` +
        `${r.maxRssMB.toFixed(0)} MB RSS in ${fmt(r.ms)} (${(r.maxRssMB / mb).toFixed(2)}x the input; bound ${PEAK_BOUND_MB} MB: ${r.maxRssMB <= PEAK_BOUND_MB ? 'ok' : 'OVER'})`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function benchReportPage(): Promise<void> {
  const { path: tree, commit } = await prepareKernelTree();
  console.log(
    `\n== page: the example series' report page, served from the stored result, loaded in Chromium (median of ${RUNS})`,
  );
  const r = await benchPage(tree, commit, RUNS);
  console.log(
    `  served: GET /series/<review>          ${fmt(r.served).padStart(8)}   (${(r.bytes / 1024).toFixed(0)} KiB of HTML)`,
  );
  console.log(
    `  loaded in Chromium (to load event)    ${fmt(r.browser.warm).padStart(8)} warm ${fmt(r.browser.cold).padStart(8)} cold, rendered   (target: < 1000 ms)`,
  );
  console.log(
    `  baseline: the same page from a file   ${fmt(r.file).padStart(8)}   served / file ${(r.browser.warm / r.file).toFixed(2)}x`,
  );
}

const benches: Record<string, () => Promise<void>> = {
  review: benchReview,
  analyse: benchAnalyseSplit,
  policy: benchPolicy,
  model: benchModelLibrary,
  rules: benchRuleStats,
  ingest: benchIngestEpoch,
  verify: benchVerify,
  conflicts: benchConflictReports,
  input: benchInput,
  page: benchReportPage,
};
const only = process.argv.slice(2);
for (const [name, fn] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  await fn();
}
