// Building a RuleContext for one patch from file contents: the diff is made by
// real git in a throw-away repository, the trees are in-memory readers over the
// before and after contents.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import parseDiff from 'parse-diff';
import type { Message, Series } from '../../bot/types.js';
import type { RuleContext, TreeReader } from '../../rules/types.js';

const exec = promisify(execFile);

export type Files = Record<string, string>;

export function memoryTree(files: Files, commit = 'memory'): TreeReader {
  return {
    commit,
    read: async (p) => (Object.prototype.hasOwnProperty.call(files, p) ? files[p]! : null),
    exists: async (p) => Object.prototype.hasOwnProperty.call(files, p),
    list: async (dir) =>
      Object.keys(files)
        .filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/'))
        .sort(),
  };
}

/** The unified diff git writes between two states (paths a/ b/ as in patches). */
export async function gitDiff(before: Files, after: Files): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-precision-diff-'));
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir };
  const git = (args: string[]) =>
    exec('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { env });
  try {
    await git(['init', '-q']);
    const put = async (files: Files) => {
      await exec('git', ['-C', dir, 'rm', '-rq', '--ignore-unmatch', '.'], { env });
      for (const [p, text] of Object.entries(files)) {
        await mkdir(dirname(join(dir, p)), { recursive: true });
        await writeFile(join(dir, p), text);
      }
      await git(['add', '-A']);
    };
    await put(before);
    await git(['commit', '-q', '--allow-empty', '-m', 'before']);
    await put(after);
    return (await git(['diff', '--cached', 'HEAD'])).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function message(subject: string, body: string, diff: string | null, index = 1): Message {
  return {
    origin: { kind: 'eml', file: 'test.eml' },
    messageId: `test-${index}@example.org`,
    inReplyTo: null,
    references: [],
    subject: `[PATCH] ${subject}`,
    tags: {
      prefixes: ['PATCH'],
      isPatch: true,
      rfc: false,
      resend: false,
      version: 1,
      index,
      total: null,
      treeTags: [],
      isReply: false,
      title: subject,
    },
    from: { name: 'T', address: 't@example.org' },
    to: [],
    cc: [],
    date: null,
    body,
    commitMessage: body,
    diff,
    diffLine: null,
    trailers: [],
    baseCommit: null,
    changeId: null,
    prerequisites: [],
    warnings: [],
  };
}

/**
 * A context for one patch that turns `before` into `after` (files absent from
 * `after` keep their content; map a path to null to delete it).
 */
export async function contextFor(opts: {
  subject: string;
  body: string;
  before: Files;
  after: Record<string, string | null>;
  /** Later patches of the same series, as raw diffs. */
  later?: string[];
}): Promise<RuleContext> {
  const afterFiles: Files = { ...opts.before };
  for (const [p, t] of Object.entries(opts.after)) {
    if (t === null) delete afterFiles[p];
    else afterFiles[p] = t;
  }
  const diff = await gitDiff(opts.before, afterFiles);
  const patch = message(opts.subject, opts.body, diff);
  const later = (opts.later ?? []).map((d, i) => message(`later ${i + 2}`, '', d, i + 2));
  const series: Series = {
    id: 'test',
    title: opts.subject,
    version: 1,
    rfc: false,
    resend: false,
    author: patch.from,
    cover: null,
    patches: [patch, ...later],
    expected: later.length ? later.length + 1 : null,
    missing: [],
    complete: true,
    baseCommit: null,
    changeId: null,
    supersedes: [],
    replies: [],
  };
  return {
    series,
    patch,
    index: 1,
    commitMessage: `${opts.subject}\n\n${opts.body}`,
    diff: parseDiff(diff),
    before: memoryTree(opts.before, 'before'),
    after: memoryTree(afterFiles, 'after'),
  };
}
