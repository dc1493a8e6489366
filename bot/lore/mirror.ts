// A local mirror of a public-inbox v2 inbox: one bare git repository per epoch
// (`<dir>/git/<N>.git`), each commit one message, the message in the blob `m`
// of the commit's tree. The source is an http(s) URL of the inbox (as on lore:
// epoch N is cloned from `<url>/<N>`, the epoch list is in
// `<url>/manifest.js.gz`) or a local inbox directory.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** git with a clean, predictable environment (no user config, no prompts). */
export async function git(
  args: string[],
  opts: { cwd?: string; maxBuffer?: number } = {},
): Promise<string> {
  const { stdout } = await exec('git', args, {
    cwd: opts.cwd,
    maxBuffer: opts.maxBuffer ?? 256 << 20,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
  });
  return stdout;
}

export const epochDir = (mirrorDir: string, epoch: number) =>
  join(mirrorDir, 'git', `${epoch}.git`);

/** Epoch numbers present in a local inbox or mirror directory. */
export async function localEpochs(dir: string): Promise<number[]> {
  let names: string[] = [];
  try {
    names = await readdir(join(dir, 'git'));
  } catch {
    return [];
  }
  return names
    .map((n) => /^(\d+)\.git$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Epoch numbers the source offers. */
export async function remoteEpochs(source: string): Promise<number[]> {
  if (!/^https?:\/\//.test(source)) return localEpochs(source);
  const base = source.replace(/\/+$/, '');
  const res = await fetch(`${base}/manifest.js.gz`, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${base}/manifest.js.gz: HTTP ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  const text =
    buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
  const manifest = JSON.parse(text) as Record<string, unknown>;
  const epochs = Object.keys(manifest)
    .map((k) => /\/git\/(\d+)\.git$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  return [...new Set(epochs)].sort((a, b) => a - b);
}

const epochSource = (source: string, epoch: number) =>
  /^https?:\/\//.test(source) ? `${source.replace(/\/+$/, '')}/${epoch}` : epochDir(source, epoch);

/**
 * Bring the local mirror up to date: clone epochs it lacks, fetch the newest
 * one it has (older epochs are frozen once the next exists, but are fetched
 * too when `all`). Returns the epochs now present locally.
 */
export async function updateMirror(
  source: string,
  mirrorDir: string,
  opts: { all?: boolean } = {},
): Promise<number[]> {
  const offered = await remoteEpochs(source);
  const have = new Set(await localEpochs(mirrorDir));
  await mkdir(join(mirrorDir, 'git'), { recursive: true });
  const newestHave = Math.max(-1, ...have);
  for (const n of offered) {
    const dir = epochDir(mirrorDir, n);
    if (!have.has(n)) {
      // One follower per list at a time (the follow lock): a fixed temp name, so
      // a clone interrupted by a crash is cleaned up by the next attempt.
      const tmp = `${dir}.tmp`;
      await exec('rm', ['-rf', tmp]);
      await git(['clone', '--quiet', '--mirror', epochSource(source, n), tmp]);
      await exec('mv', [tmp, dir]);
    } else if (opts.all || n >= newestHave) {
      await git(['--git-dir', dir, 'fetch', '--quiet', '--prune', 'origin']);
    }
  }
  return localEpochs(mirrorDir);
}

export async function epochHead(mirrorDir: string, epoch: number): Promise<string | null> {
  try {
    return (
      (
        await git([
          '--git-dir',
          epochDir(mirrorDir, epoch),
          'rev-parse',
          '--verify',
          '--quiet',
          'HEAD^{commit}',
        ])
      ).trim() || null
    );
  } catch {
    return null;
  }
}

/** Commits after `from` (exclusive; null: from the start) up to HEAD, oldest first. */
export async function newCommits(
  mirrorDir: string,
  epoch: number,
  from: string | null,
): Promise<string[]> {
  const head = await epochHead(mirrorDir, epoch);
  if (!head) return [];
  const range = from ? [`${from}..${head}`] : [head];
  try {
    const out = await git([
      '--git-dir',
      epochDir(mirrorDir, epoch),
      'rev-list',
      '--reverse',
      ...range,
    ]);
    return out.split('\n').filter(Boolean);
  } catch (err) {
    // The cursor commit is gone (history rewritten by a purge, then gc'd):
    // walk everything again; the ingest job ids drop what was seen.
    if (from) return newCommits(mirrorDir, epoch, null);
    throw err;
  }
}

/**
 * Read blob `m` of each commit through one `git cat-file --batch`. A commit
 * without `m` (a removal in public-inbox) gives null.
 */
export async function readMessages(
  mirrorDir: string,
  epoch: number,
  commits: string[],
): Promise<(string | null)[]> {
  if (commits.length === 0) return [];
  const child = spawn('git', ['--git-dir', epochDir(mirrorDir, epoch), 'cat-file', '--batch'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`git cat-file exited with ${code}`)),
    );
  });
  child.stdin.end(commits.map((c) => `${c}:m\n`).join(''));
  await done;
  const buf = Buffer.concat(chunks);
  const out: (string | null)[] = [];
  let pos = 0;
  for (let i = 0; i < commits.length; i++) {
    const nl = buf.indexOf(10, pos);
    const header = buf.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    const m = /^\S+ blob (\d+)$/.exec(header);
    if (!m) {
      out.push(null); // "<commit>:m missing"
      continue;
    }
    const size = Number(m[1]);
    out.push(buf.subarray(pos, pos + size).toString('latin1'));
    pos += size + 1;
  }
  return out;
}

/** Commit time of HEAD of an epoch (seconds since the epoch), for health. */
export async function headTime(mirrorDir: string, epoch: number): Promise<number | null> {
  try {
    const out = await git([
      '--git-dir',
      epochDir(mirrorDir, epoch),
      'log',
      '-1',
      '--format=%ct',
      'HEAD',
    ]);
    return Number(out.trim()) || null;
  } catch {
    return null;
  }
}

export function mirrorExists(mirrorDir: string): boolean {
  return existsSync(join(mirrorDir, 'git'));
}
