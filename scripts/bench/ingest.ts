// Ingest throughput for `npm run bench`, and the synthetic public-inbox v2
// epoch it (and the crash script) runs on.
//
// writeSyntheticEpoch() writes `<dir>/git/0.git` the way public-inbox v2 does
// (one commit per message on refs/heads/master, the message in blob `m`, the
// subject as the commit message) with one `git fast-import`, so 10,000
// messages take a second or two instead of an hour of public-inbox-mda.
// The messages are mostly noise, as on real lists: review replies, patches for
// other subsystems, questions; a few PCI patches.
//
// benchIngest() measures messages/second from that epoch through the follower
// (walk + enqueue) and the ingest jobs (parse + store + file into threads) with
// 1 or 2 worker processes, next to the floor: the raw `git log` walk reading
// every message blob of the same repository.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FollowState, followOnce } from '../../bot/lore/follow.js';
import { validateConfig } from '../../workers/config.js';
import { connectRedis } from '../../workers/serve/redis.js';
import { ServiceQueues } from '../../workers/queues.js';
import { startWorkers } from '../../workers/service.js';
import { ServiceState } from '../../workers/state.js';

const exec = promisify(execFile);

/** A small deterministic PRNG (mulberry32), so the synthetic list is the same every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PEOPLE = [
  'Ann Author <ann@example.com>',
  'Bo Reviewer <bo@example.net>',
  'Cy Maintainer <cy@example.org>',
  'Di Dev <di@example.com>',
  'Ed Tester <ed@example.org>',
];
const AREAS = [
  'net: mlx5',
  'drm/amdgpu',
  'ext4',
  'usb: xhci',
  'mm',
  'arm64: dts',
  'iio: adc',
  'btrfs',
];
const FILES = [
  'drivers/net/ethernet/mellanox/mlx5/core/en_main.c',
  'drivers/gpu/drm/amd/amdgpu/amdgpu_device.c',
  'fs/ext4/inode.c',
  'drivers/usb/host/xhci.c',
  'mm/page_alloc.c',
  'drivers/iio/adc/ad7124.c',
];

function date(i: number): string {
  return new Date(Date.UTC(2025, 0, 6, 8) + i * 37_000).toUTCString().replace('GMT', '+0000');
}

/** One synthetic list message number `i` (the kind drawn from `rnd`). */
export function syntheticMessage(
  i: number,
  rnd: () => number,
  tag = 'synthetic',
  pciShare = 0.05,
): string {
  const who = PEOPLE[Math.floor(rnd() * PEOPLE.length)]!;
  const area = AREAS[Math.floor(rnd() * AREAS.length)]!;
  const file = FILES[Math.floor(rnd() * FILES.length)]!;
  const id = `${i}.${tag}@example.org`;
  const r = rnd();
  const head = (subject: string, extra: string[] = []) =>
    [
      `From: ${who}`,
      'To: linux-kernel@vger.kernel.org',
      `Subject: ${subject}`,
      `Date: ${date(i)}`,
      `Message-ID: <${id}>`,
      ...extra,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=UTF-8',
      '',
    ].join('\n');
  const diff = (path: string, n: number) =>
    `diff --git a/${path} b/${path}\nindex 1111111..2222222 100644\n--- a/${path}\n+++ b/${path}\n@@ -${100 + n},6 +${100 + n},7 @@ static int helper_${n}(void)\n \tint ret;\n \n \tret = setup_${n}();\n+\tWARN_ON(ret < 0);\n \tif (ret)\n \t\treturn ret;\n \treturn 0;\n`;
  if (r < 0.6 && i > 10) {
    const parent = `${Math.max(1, i - 1 - Math.floor(rnd() * 10))}.${tag}@example.org`;
    return (
      head(
        `Re: [PATCH v${1 + Math.floor(rnd() * 3)} ${1 + Math.floor(rnd() * 4)}/4] ${area}: Fix error handling`,
        [`In-Reply-To: <${parent}>`, `References: <${parent}>`],
      ) +
      `\nOn ${date(i - 1)}, Someone wrote:\n> +\tWARN_ON(ret < 0);\n> \tif (ret)\n\nWhy WARN here? The caller already logs it.\n\nReviewed-by: ${who}\n`
    );
  }
  if (r < 0.85) {
    return (
      head(`[PATCH] ${area}: Warn when setup ${i} fails`) +
      `\nSetup failures went unnoticed.\n\nSigned-off-by: ${who}\n---\n${diff(file, i % 50)}--\n2.39.5\n`
    );
  }
  if (r < 1 - pciShare)
    return (
      head(`${area} regression in 6.13-rc${1 + (i % 7)}?`) +
      `\nHi,\n\nsince rc${1 + (i % 7)} my machine hangs at boot. Any idea?\n\nThanks\n`
    );
  return (
    head(`[PATCH] PCI: Warn when quirk ${i} fails`) +
    `\nQuirk failures went unnoticed.\n\nSigned-off-by: ${who}\n---\n${diff('drivers/pci/quirks.c', i % 50)}--\n2.39.5\n`
  );
}

/** `pciShare`: the fraction that are (in-scope, lone) PCI patches. */
export function syntheticMessages(
  n: number,
  seed = 1,
  tag = 'synthetic',
  pciShare = 0.05,
): string[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, (_, i) => syntheticMessage(i + 1, rnd, tag, pciShare));
}

/**
 * Write a public-inbox v2 inbox directory holding `messages` in epoch 0
 * (`<dir>/git/0.git`): one commit per message, blob `m`, with git fast-import.
 */
export async function writeSyntheticEpoch(
  dir: string,
  messages: string[],
  epoch = 0,
): Promise<string> {
  const git = join(dir, 'git', `${epoch}.git`);
  await mkdir(git, { recursive: true });
  await exec('git', ['init', '-q', '--bare', git]);
  const parts: Buffer[] = [];
  messages.forEach((m, i) => {
    const body = Buffer.from(m, 'utf8');
    const subject = /^Subject: (.*)$/m.exec(m)?.[1] ?? '';
    const author = /^From: (.*)$/m.exec(m)?.[1] ?? 'unknown <unknown@example.org>';
    const msg = Buffer.from(`${subject}\n`, 'utf8');
    const ts = Math.floor(Date.UTC(2025, 0, 6, 8) / 1000) + i * 37;
    parts.push(Buffer.from(`blob\nmark :${i + 1}\ndata ${body.length}\n`), body, Buffer.from('\n'));
    parts.push(
      Buffer.from(
        `commit refs/heads/master\nauthor ${author} ${ts} +0000\ncommitter public-inbox <public-inbox@example.org> ${ts} +0000\ndata ${msg.length}\n`,
      ),
      msg,
      Buffer.from(`M 100644 :${i + 1} m\n\n`),
    );
  });
  // What makes public-inbox take the directory for a v2 inbox: inbox.lock, and
  // all.git borrowing every epoch's objects.
  await writeFile(join(dir, 'inbox.lock'), '');
  const all = join(dir, 'all.git');
  await exec('git', ['init', '-q', '--bare', all]);
  await mkdir(join(all, 'objects', 'info'), { recursive: true });
  await writeFile(join(all, 'objects', 'info', 'alternates'), `../../git/${epoch}.git/objects\n`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('git', ['--git-dir', git, 'fast-import', '--quiet', '--done'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`git fast-import: ${err}`)),
    );
    child.stdin.end(Buffer.concat([...parts, Buffer.from('done\n')]));
  });
  return git;
}

export interface BenchIngestResult {
  messages: number;
  workers: number;
  /** Messages per second, from the first enqueue to the last ingest job done. */
  msgPerSec: number;
  totalMs: number;
  /** The follower alone: walk the epoch and enqueue every message. */
  walkEnqueueMs: number;
  /** Floor: `git log` over the epoch piped into `git cat-file --batch` reading every blob `m`. */
  rawGitLogMs: number;
  rawGitLogMsgPerSec: number;
  buildEpochMs: number;
  failed: number;
}

const here = fileURLToPath(import.meta.url);

/** Ingest throughput on a synthetic epoch; needs Redis (PCIBOT_REDIS_URL or 127.0.0.1:6379). */
export async function benchIngest(opts: {
  messages: number;
  workers: 1 | 2;
  redisUrl?: string;
}): Promise<BenchIngestResult> {
  const redisUrl = opts.redisUrl ?? process.env.PCIBOT_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-bench-ingest-'));
  const prefix = `pcibot-bench-${process.pid}-${Date.now().toString(36)}`;
  const redis = await connectRedis(redisUrl);
  const children: ChildProcess[] = [];
  try {
    let t = performance.now();
    const epoch = await writeSyntheticEpoch(join(dir, 'inbox'), syntheticMessages(opts.messages));
    const buildEpochMs = performance.now() - t;

    t = performance.now();
    await exec('sh', [
      '-c',
      `git --git-dir "${epoch}" log --reverse --format='%H:m' | git --git-dir "${epoch}" cat-file --batch > /dev/null`,
    ]);
    const rawGitLogMs = performance.now() - t;

    // Worker processes (ingest only), ready before the clock starts.
    const config = {
      redis: { url: redisUrl, prefix },
      lists: [{ name: 'bench', address: 'bench@example.org' }],
      mail: { outbox: join(dir, 'outbox') },
    };
    for (let i = 0; i < opts.workers; i++) {
      const child = spawn(process.execPath, [here, '--bench-worker', JSON.stringify(config)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => c.toString().includes('READY') && resolve());
        child.on('close', (code) => reject(new Error(`bench worker exited ${code}`)));
      });
    }
    const queues = new ServiceQueues(redis, prefix);
    const state = new FollowState(redis, prefix);
    t = performance.now();
    await followOnce({
      list: 'bench',
      source: join(dir, 'inbox'),
      mirrorDir: join(dir, 'inbox'),
      startFrom: 'beginning',
      state,
      noFetch: true,
      enqueue: (mails) => queues.enqueueMails(mails, 'bench'),
    });
    const walkEnqueueMs = performance.now() - t;
    let counts: Record<string, number> = {};
    for (;;) {
      counts = await queues.queues.ingest.getJobCounts(
        'waiting',
        'active',
        'completed',
        'failed',
        'delayed',
      );
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= opts.messages) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const totalMs = performance.now() - t;
    await queues.close();
    return {
      messages: opts.messages,
      workers: opts.workers,
      msgPerSec: Math.round((opts.messages / totalMs) * 1000),
      totalMs: Math.round(totalMs),
      walkEnqueueMs: Math.round(walkEnqueueMs),
      rawGitLogMs: Math.round(rawGitLogMs),
      rawGitLogMsgPerSec: Math.round((opts.messages / rawGitLogMs) * 1000),
      buildEpochMs: Math.round(buildEpochMs),
      failed: counts.failed ?? 0,
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await ServiceState.wipe(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

// Child mode: an ingest-only worker for benchIngest.
const at = process.argv.indexOf('--bench-worker');
if (at >= 0) {
  const config = validateConfig(JSON.parse(process.argv[at + 1]!));
  const redis = await connectRedis(config.redis.url);
  await startWorkers({
    config,
    connection: redis,
    only: ['ingest'],
    schedule: false,
    log: () => {},
  });
  process.stdout.write('READY\n');
}
