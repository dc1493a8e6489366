// Shared by the ingest/mail/series tests: fixture loading, parsing, and
// `git apply` against the toy repository.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readInputs } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import type { Message, ParseFailure, RawMail } from '../../bot/types.js';
import { fixturesDir, repoRoot } from '../../bot/util/paths.js';

const run = promisify(execFile);

export const mailsDir = join(fixturesDir, 'mails');
/** The web-page copies of list threads the project grew from (copied into fixtures/seeds). */
export const seedsDir = process.env['PCIBOT_SEEDS'] ?? join(repoRoot, 'fixtures', 'seeds');
export const mailPath = (name: string) => join(mailsDir, name);

export function rawFixture(name: string): RawMail {
  return {
    origin: { kind: 'eml', file: mailPath(name) },
    raw: readFileSync(mailPath(name)).toString('latin1'),
  };
}

export async function parseFixture(name: string): Promise<Message> {
  const m = await parseMail(rawFixture(name));
  if (isParseFailure(m)) throw new Error(`${name}: ${m.reason}`);
  return m;
}

/** readInputs + parseMail over some inputs: messages and every failure. */
export async function parseInputs(
  inputs: string[],
): Promise<{ messages: Message[]; failures: ParseFailure[]; read: number }> {
  const { mails, failures } = await readInputs(inputs);
  const messages: Message[] = [];
  const all = [...failures];
  for (const raw of mails) {
    const m = await parseMail(raw);
    if (isParseFailure(m)) all.push(m);
    else messages.push(m);
  }
  return { messages, failures: all, read: mails.length + failures.length };
}

/** `git apply --check` (or a real apply) of a diff in a repository; resolves to git's stderr on failure. */
export async function gitApply(repo: string, diff: string, check = true): Promise<string | null> {
  const file = join(repo, '.git', `pcibot-test-${process.hrtime.bigint()}.diff`);
  await writeFile(file, diff, 'utf8');
  try {
    await run('git', ['apply', ...(check ? ['--check'] : []), file], { cwd: repo });
    return null;
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
}
