// A pull request as a patch series. The PR's commits are read through the REST
// API (the list of commits, then each commit's diff), and turned into the
// mails a `git format-patch --cover-letter` of the PR would be: a cover letter
// `[PATCH 0/N]` with the PR's title and body and `base-commit:` (the parent of
// the first commit, which the commits apply onto), and one `[PATCH i/N]` per
// commit, in order, its commit message the patch's message, threaded under
// the cover. From there on a PR is a series like any other: the same parser,
// assembler, scope, apply, analyse and report.
//
// Why patches from the API and not the PR's git objects: the kernel tree
// pcibot applies to is shared and never written (apply runs in a scratch
// repository that copies the blobs it needs, DESIGN.md). Fetching the PR's
// commits would mean writing objects somewhere that has the tree's history
// (an alternate of the tree, or the tree itself), plus git over the network
// with credentials. The diffs are what a review reads anyway, the API gives
// them with the same installation token as everything else, and the base
// commit only has to be in the tree (else the configured branches are tried,
// as for a mail series without a usable base-commit, and the result says so).
import type { RawMail } from '../types.js';
import type { Octokit } from './client.js';

export interface PrRef {
  owner: string;
  repo: string;
  number: number;
}

/** `owner/repo#N` (or a pull request's URL) -> its parts; null when it is neither. */
export function parsePrRef(s: string): PrRef | null {
  const m =
    /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})#(\d{1,9})$/.exec(s.trim()) ??
    /^https?:\/\/[^/\s]+\/([A-Za-z0-9][A-Za-z0-9-]{0,38})\/([A-Za-z0-9._-]{1,100})\/pull\/(\d{1,9})\/?$/.exec(
      s.trim(),
    );
  if (!m) return null;
  const number = Number(m[3]);
  return number > 0 ? { owner: m[1]!, repo: m[2]!, number } : null;
}

export const prLabel = (r: PrRef): string => `${r.owner}/${r.repo}#${r.number}`;

export interface PrInfo extends PrRef {
  title: string;
  body: string;
  state: string;
  draft: boolean;
  headSha: string;
  baseSha: string;
  baseRef: string;
  author: { login: string; type: string };
  htmlUrl: string;
  updatedAt: string;
}

export interface PrCommit {
  sha: string;
  parents: string[];
  message: string;
  author: { name: string; email: string; date: string | null };
  /** The commit's diff against its first parent (`git diff` text). */
  diff: string;
}

export interface FetchedPr {
  pr: PrInfo;
  commits: PrCommit[];
  /** The PR's diff (merge base to head), for placing comments on diff lines. */
  diff: string;
}

/** The PR itself (`GET /repos/{owner}/{repo}/pulls/{n}`). */
export async function getPr(octokit: Octokit, ref: PrRef): Promise<PrInfo> {
  const { data } = await octokit.rest.pulls.get({
    owner: ref.owner,
    repo: ref.repo,
    pull_number: ref.number,
  });
  return {
    ...ref,
    title: data.title,
    body: data.body ?? '',
    state: data.state,
    draft: data.draft === true,
    headSha: data.head.sha,
    baseSha: data.base.sha,
    baseRef: data.base.ref,
    author: { login: data.user.login, type: data.user.type },
    htmlUrl: data.html_url,
    updatedAt: data.updated_at,
  };
}

/** The PR's diff as text (`Accept: application/vnd.github.diff`). */
export async function prDiff(octokit: Octokit, ref: PrRef): Promise<string> {
  const res = await octokit.rest.pulls.get({
    owner: ref.owner,
    repo: ref.repo,
    pull_number: ref.number,
    mediaType: { format: 'diff' },
  });
  return String(res.data as unknown);
}

/**
 * Everything a review of the PR needs: the PR, its commits in order with
 * their diffs, and the PR's diff. `maxCommits`: more is refused (GitHub lists
 * 250 at most).
 */
export async function fetchPr(
  octokit: Octokit,
  ref: PrRef,
  opts: { maxCommits?: number; pr?: PrInfo } = {},
): Promise<FetchedPr> {
  const pr = opts.pr ?? (await getPr(octokit, ref));
  const listed = await octokit.paginate(octokit.rest.pulls.listCommits, {
    owner: ref.owner,
    repo: ref.repo,
    pull_number: ref.number,
    per_page: 100,
  });
  const max = opts.maxCommits ?? 250;
  if (listed.length > max)
    throw new PrTooLargeError(
      `${prLabel(ref)} has ${listed.length} commits, more than github.maxCommits (${max})`,
    );
  const commits: PrCommit[] = [];
  for (const c of listed) {
    const res = await octokit.rest.repos.getCommit({
      owner: ref.owner,
      repo: ref.repo,
      ref: c.sha,
      mediaType: { format: 'diff' },
    });
    commits.push({
      sha: c.sha,
      parents: c.parents.map((p) => p.sha),
      message: c.commit.message,
      author: {
        name: c.commit.author?.name ?? c.author?.login ?? 'unknown',
        email: c.commit.author?.email ?? 'unknown@invalid',
        date: c.commit.author?.date ?? null,
      },
      diff: String(res.data as unknown),
    });
  }
  return { pr, commits, diff: await prDiff(octokit, ref) };
}

export class PrTooLargeError extends Error {}

/** A header value safe on one line: CR/LF gone, non-ASCII as an RFC 2047 word. */
function headerText(s: string): string {
  const one = s.replace(/[\r\n\t\v\f\0]+/g, ' ').trim();
  if (/^[\x20-\x7e]*$/.test(one)) return one;
  return `=?UTF-8?B?${Buffer.from(one, 'utf8').toString('base64')}?=`;
}

function addressHeader(name: string, email: string): string {
  const addr = /^[^\s<>@"(),;:\\[\]]+@[^\s<>@"(),;:\\[\]]+$/.test(email)
    ? email
    : 'unknown@invalid';
  const n = name.replace(/[\r\n\0]+/g, ' ').trim();
  if (!n) return `<${addr}>`;
  if (/^[\x20-\x7e]*$/.test(n)) return `"${n.replace(/["\\]/g, '\\$&')}" <${addr}>`;
  return `${headerText(n)} <${addr}>`;
}

const rfc2822 = (iso: string | null): string => {
  const t = iso ? Date.parse(iso) : NaN;
  return new Date(Number.isNaN(t) ? 0 : t).toUTCString().replace(/GMT$/, '+0000');
};

/** The Message-ID of a PR's cover letter at one head, and of one of its commits. */
export const coverMessageId = (r: PrRef, head: string): string =>
  `pr-${r.number}-${head.slice(0, 12)}.${r.repo}.${r.owner}@github.pcibot`;
export const commitMessageId = (r: PrRef, sha: string): string =>
  `${sha}.pr-${r.number}.${r.repo}.${r.owner}@github.pcibot`;

function mailText(headers: string[], body: string): string {
  const all = [
    ...headers,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  // RawMail.raw is one char per byte.
  return Buffer.from(`${all.join('\n')}\n\n${body.replace(/\r\n/g, '\n')}`, 'utf8').toString(
    'latin1',
  );
}

/** The base the PR's commits apply onto: the first commit's parent (else the base branch's head). */
export const prBase = (f: FetchedPr): string => f.commits[0]?.parents[0] ?? f.pr.baseSha;

/**
 * The PR as the mails of a patch series: a cover letter and one patch per
 * commit, threaded. Titles, bodies, names and messages are the PR's, hostile
 * as any mail: headers are made single-line (and encoded), bodies are the
 * text as given and go through the same parser as list mail.
 */
export function prMails(f: FetchedPr): RawMail[] {
  const { pr, commits } = f;
  const n = commits.length;
  const cover = coverMessageId(pr, pr.headSha);
  const origin = (what: string): RawMail['origin'] => ({
    kind: 'github',
    file: `${prLabel(pr)}${what}`,
  });
  const out: RawMail[] = [];
  out.push({
    origin: origin(`@${pr.headSha.slice(0, 12)}`),
    raw: mailText(
      [
        `From: ${addressHeader(pr.author.login, `${pr.author.login.replace(/[^A-Za-z0-9-]/g, '') || 'unknown'}@users.noreply.github.com`)}`,
        `Subject: [PATCH 0/${n}] ${headerText(pr.title)}`,
        `Date: ${rfc2822(pr.updatedAt)}`,
        `Message-ID: <${cover}>`,
      ],
      `${pr.body}\n\n${pr.htmlUrl}\n\nbase-commit: ${prBase(f)}\n`,
    ),
  });
  commits.forEach((c, i) => {
    const [title = '', ...rest] = c.message.split('\n');
    const body = rest.join('\n').replace(/^\n+/, '');
    out.push({
      origin: origin(`/${c.sha.slice(0, 12)}`),
      raw: mailText(
        [
          `From: ${addressHeader(c.author.name, c.author.email)}`,
          `Subject: [PATCH ${i + 1}/${n}] ${headerText(title)}`,
          `Date: ${rfc2822(c.author.date)}`,
          `Message-ID: <${commitMessageId(pr, c.sha)}>`,
          `In-Reply-To: <${cover}>`,
          `References: <${cover}>`,
        ],
        `${body.replace(/\n*$/, '\n')}---\n${c.diff.replace(/\n*$/, '\n')}`,
      ),
    });
  });
  return out;
}
