// Helpers for the policy tests: a private fixture tree, overlays written into
// it (blobs in that throw-away repository only, never the real kernel tree),
// and the bundled example series applied to a tree.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInputs } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import { applySeries } from '../../bot/tree/apply.js';
import type { Applied, Message, Series, TreeOverlay } from '../../bot/types.js';

function git(cwd: string, args: string[], input?: string): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return execFileSync('git', args, {
    cwd,
    env: { ...env, LC_ALL: 'C' },
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input !== undefined ? { input } : {}),
  });
}

export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function readAt(repo: string, commit: string, path: string): string {
  return git(repo, ['cat-file', 'blob', `${commit}:${path}`]);
}

/**
 * An overlay over `commit` of a scratch repository (the fixture tree): each
 * entry is new content, or a function of the old content (null: the file did
 * not exist). Blobs are written into that repository.
 */
export function overlayOf(
  repo: string,
  commit: string,
  changes: Record<string, string | ((old: string | null) => string)>,
): TreeOverlay {
  const out: TreeOverlay = {};
  for (const [path, change] of Object.entries(changes)) {
    let old: string | null = null;
    try {
      old = readAt(repo, commit, path);
    } catch {
      old = null;
    }
    const text = typeof change === 'string' ? change : change(old);
    out[path] = git(repo, ['hash-object', '-w', '--stdin'], text).trim();
  }
  return out;
}

/** Replace exactly one occurrence of `from` (throws when it is not there exactly once). */
export function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const hits =
    typeof from === 'string'
      ? text.split(from).length - 1
      : (text.match(new RegExp(from.source, 'g')) ?? []).length;
  if (hits !== 1) throw new Error(`replaceOnce: ${String(from)} found ${hits} times`);
  return text.replace(from, to);
}

/** Read, parse and assemble an mbox; the first series. */
export async function seriesFrom(mbox: string): Promise<Series> {
  const read = await readInputs([mbox]);
  const messages: Message[] = [];
  for (const raw of read.mails) {
    const m = await parseMail(raw);
    if (!isParseFailure(m)) messages.push(m);
  }
  const s = assembleSeries(messages).series[0];
  if (!s) throw new Error(`no series in ${mbox}`);
  return s;
}

/** Apply a series (or some of its patches) to a tree. */
export function applyTo(tree: string, series: Series, only?: number[]): Promise<Applied> {
  return applySeries({
    tree,
    patches: series.patches
      .map((p, pos) => ({ index: p.tags.index ?? pos + 1, messageId: p.messageId, diff: p.diff }))
      .filter((p) => !only || only.includes(p.index)),
    baseCommit: series.baseCommit,
  });
}

/**
 * A lost-BAR finding's items hold, on x86_64 only, the three 32-byte BAR2s of
 * the seed reproducer under qboot (the BARs a real boot of 8/8 alone drops).
 */
export function assertQbootBar2sLost(evidence: Record<string, unknown>): void {
  const items = evidence['items'] as {
    scenario: string;
    arch: string;
    device: string;
    bar: number;
  }[];
  for (const i of items) assert.equal(i.arch, 'x86_64');
  for (const bdf of ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'])
    assert.ok(
      items.some(
        (i) => i.scenario === 'seed-001-reproducer-qboot' && i.device === bdf && i.bar === 2,
      ),
      bdf,
    );
}
