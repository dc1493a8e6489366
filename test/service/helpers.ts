// Helpers for the service tests: a unique Redis key prefix per test (wiped
// afterwards), real public-inbox v2 inboxes (public-inbox-init -V2 and
// public-inbox-mda, served by public-inbox-httpd on loopback, as lore is),
// and a real SMTP server in a child process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { validateConfig, type ServiceConfig } from '../../workers/config.js';
import { connectRedis } from '../../workers/serve/redis.js';
import { ServiceState } from '../../workers/state.js';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export const REDIS_URL = process.env.PCIBOT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const uniquePrefix = (what: string) =>
  `pcibot-test-${what}-${process.pid}-${randomBytes(4).toString('hex')}`;

export async function tempDir(what: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `pcibot-${what}-`));
}

/** Where testConfig() keeps the durable state of a prefix (removed by testRedis' cleanup). */
export const TEST_STATE_DIR = join(tmpdir(), 'pcibot-test-state');

export async function testRedis(
  prefix: string,
  url = REDIS_URL,
): Promise<{ redis: Redis; cleanup: () => Promise<void> }> {
  const redis = await connectRedis(url);
  return {
    redis,
    cleanup: async () => {
      await ServiceState.wipe(redis, prefix);
      redis.disconnect();
      await rm(join(TEST_STATE_DIR, prefix), { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface MailSpec {
  from: string;
  to?: string[];
  cc?: string[];
  subject: string;
  messageId: string;
  inReplyTo?: string;
  references?: string[];
  date?: string;
  body: string;
}

/** An RFC 5322 message (LF line ends, as an MTA hands it to public-inbox-mda). */
export function mail(m: MailSpec): string {
  const h = [
    `From: ${m.from}`,
    `To: ${(m.to ?? ['linux-pci@vger.kernel.org']).join(', ')}`,
    ...(m.cc?.length ? [`Cc: ${m.cc.join(', ')}`] : []),
    `Subject: ${m.subject}`,
    `Date: ${m.date ?? 'Mon, 6 Jan 2025 10:00:00 +0000'}`,
    `Message-ID: <${m.messageId}>`,
    ...(m.inReplyTo ? [`In-Reply-To: <${m.inReplyTo}>`] : []),
    ...(m.references?.length ? [`References: ${m.references.map((r) => `<${r}>`).join(' ')}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return `${h.join('\n')}\n\n${m.body.replace(/\n?$/, '\n')}`;
}

/** A public-inbox v2 inbox made and fed with Debian's public-inbox tools. */
export class PublicInbox {
  private httpd: ChildProcess | null = null;
  url: string | null = null;

  private constructor(
    readonly root: string,
    readonly name: string,
    readonly address: string,
  ) {}

  get dir(): string {
    return join(this.root, 'inbox');
  }
  private get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      HOME: join(this.root, 'home'),
      PI_CONFIG: join(this.root, 'pi-config'),
      LC_ALL: 'C',
    };
  }

  static async create(root: string, name: string, address: string): Promise<PublicInbox> {
    const ibx = new PublicInbox(root, name, address);
    await mkdir(join(root, 'home'), { recursive: true });
    await exec('public-inbox-init', ['-V2', name, ibx.dir, `http://127.0.0.1/${name}`, address], {
      env: ibx.env,
    });
    await exec(
      'git',
      ['config', '-f', join(root, 'pi-config'), 'publicinboxmda.spamcheck', 'none'],
      { env: ibx.env },
    );
    return ibx;
  }

  /**
   * Deliver one message with public-inbox-mda. `newEpoch`: make the writer
   * start a new epoch for it (public-inbox rolls over at ~2.5 GB; the test
   * lowers that threshold for this one delivery through the writer's own
   * variable, then runs the real public-inbox-mda).
   */
  async deliver(raw: string, opts: { newEpoch?: boolean } = {}): Promise<void> {
    const args = opts.newEpoch
      ? [
          '-e',
          'use PublicInbox::V2Writable; $PublicInbox::V2Writable::PACKING_FACTOR = 1e15; $0 = "/usr/bin/public-inbox-mda"; do $0; die $@ if $@;',
        ]
      : [];
    const cmd = opts.newEpoch ? 'perl' : 'public-inbox-mda';
    await new Promise<void>((resolve, reject) => {
      const child = spawn(cmd, args, {
        env: { ...this.env, ORIGINAL_RECIPIENT: this.address },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`public-inbox-mda exited ${code}: ${err}`)),
      );
      child.stdin.end(Buffer.from(raw, 'utf8'));
    });
  }

  async epochs(): Promise<string[]> {
    return (await readdir(join(this.dir, 'git'))).filter((n) => /^\d+\.git$/.test(n)).sort();
  }

  /** Serve the inbox with public-inbox-httpd on a loopback port; returns the inbox URL (like https://lore.kernel.org/<list>). */
  async serve(): Promise<string> {
    const port = await freePort();
    const child = spawn('public-inbox-httpd', ['-l', `http://127.0.0.1:${port}`], {
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', () => {});
    this.httpd = child;
    const url = `http://127.0.0.1:${port}/${this.name}`;
    await waitFor(
      'public-inbox-httpd',
      async () => (await fetch(`${url}/manifest.js.gz`)).ok,
      15_000,
      100,
    );
    this.url = url;
    return url;
  }

  async stop(): Promise<void> {
    const c = this.httpd;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.on('close', () => r());
      c.kill('SIGTERM');
    });
  }
}

export interface ReceivedMail {
  file: string;
  raw: string;
  envelope: { from: string; to: string[] };
  headers: Map<string, string>;
  body: string;
}

/** Unfolded headers (lower-case names; repeated ones joined with "\n") and the body. */
export function splitMail(raw: string): { headers: Map<string, string>; body: string } {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const head = text.slice(0, end).replace(/\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\n')) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).toLowerCase();
    const v = line.slice(i + 1).trim();
    headers.set(k, headers.has(k) ? `${headers.get(k)}\n${v}` : v);
  }
  return { headers, body: text.slice(end + 2) };
}

/** The SMTP server child process. */
export class SmtpSink {
  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(dir: string): Promise<SmtpSink> {
    const child = spawn(process.execPath, [join(here, 'smtp-sink.js'), '--serve', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /PORT (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('error', reject);
      child.on('close', (code) => reject(new Error(`smtp sink exited ${code}`)));
    });
    return new SmtpSink(child, dir, port);
  }

  async messages(): Promise<ReceivedMail[]> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.eml')).sort();
    const out: ReceivedMail[] = [];
    for (const n of names) {
      const raw = await readFile(join(this.dir, n), 'utf8');
      const envelope = JSON.parse(
        await readFile(join(this.dir, n.replace(/\.eml$/, '.json')), 'utf8'),
      );
      out.push({ file: n, raw, envelope, ...splitMail(raw) });
    }
    return out;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((r) => {
      this.child.on('close', () => r());
      this.child.kill('SIGTERM');
    });
  }
}

/** A validated service config for tests. */
export function testConfig(prefix: string, overrides: Record<string, unknown> = {}): ServiceConfig {
  return validateConfig(
    {
      redis: { url: REDIS_URL, prefix },
      stateDir: TEST_STATE_DIR,
      completenessTimeoutSec: 60,
      // No kernel builds in the fast suite, whether or not QEMU is installed.
      verify: { enabled: false },
      ...overrides,
    },
    null,
    tmpdir(),
  );
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(value, null, 2));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
