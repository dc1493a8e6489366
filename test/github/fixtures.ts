// The GitHub side of the tests: an App (a real RSA key pair), a PR repository
// made from the fixture kernel tree with commits written here, webhook
// payloads made from GitHub's published examples (@octokit/webhooks-examples,
// typed by @octokit/webhooks' schemas) with this PR's values, signed as
// GitHub signs them (@octokit/webhooks' sign), and a delivery helper.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Webhooks, type EmitterWebhookEvent } from '@octokit/webhooks';
import { buildFixtureTree, fixtureGit } from '../../fixtures/kernel-tree/build.js';
import { examplePayload, type StandinPr } from './standin.js';

export const APP_ID = 31337;
export const INSTALLATION_ID = 4242;
export const SECRET = 'it-is-a-test-webhook-secret';

/** The App's key pair: PKCS#1 PEM as GitHub hands it out, and the public half for the stand-in. */
export function appKeys(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKey,
  };
}

/** The line the vfio commit adds, and where: drivers/vfio/pci/vfio_pci_core.c line 44 at the head. */
export const VFIO_FILE = 'drivers/vfio/pci/vfio_pci_core.c';
export const VFIO_LINE = 44;
const VFIO_ANCHOR = '\t\t/* A BAR of a page or more gets whole pages of its own */\n';
const VFIO_ADDED = '\t\t/* A whole page or more: userspace gets whole pages of mmio anyway. */\n';
const PORTDRV = 'drivers/pci/pcie/portdrv.c';

async function edit(dir: string, path: string, fn: (s: string) => string): Promise<void> {
  const p = join(dir, path);
  const before = await readFile(p, 'utf8');
  const after = fn(before);
  if (after === before) throw new Error(`fixture edit of ${path} changed nothing`);
  await writeFile(p, after);
}

let tick = 0;
async function commit(dir: string, message: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  const at = `2026-10-01T09:${String(Math.floor(tick / 60)).padStart(2, '0')}:${String(tick % 60).padStart(2, '0')}Z`;
  tick++;
  Object.assign(env, {
    GIT_AUTHOR_NAME: 'Fixture Author',
    GIT_AUTHOR_EMAIL: 'fixture.author@example.org',
    GIT_AUTHOR_DATE: at,
    GIT_COMMITTER_NAME: 'Fixture Author',
    GIT_COMMITTER_EMAIL: 'fixture.author@example.org',
    GIT_COMMITTER_DATE: at,
  });
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'commit.gpgsign=false', ...args], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
  git(['add', '-A']);
  git(['commit', '-q', '-m', message]);
  return git(['rev-parse', 'HEAD']).trim();
}

export interface PrRepo {
  dir: string;
  base: string;
  /** The three commits: out of scope (net/), vfio (an info finding on VFIO_LINE), portdrv (an error). */
  commits: string[];
}

/**
 * The PR's repository: the fixture kernel tree (the same commit as the tree
 * pcibot is configured with) and three commits on top.
 */
export async function buildPrRepo(dir: string): Promise<PrRepo> {
  const { commit: base } = await buildFixtureTree(dir);
  await fixtureGit(dir).raw(['checkout', '-q', '-b', 'pr', 'master']);
  await edit(dir, 'net/core/dev.c', (s) => s.replace(/\n$/, '\n/* Network devices. */\n'));
  const c1 = await commit(
    dir,
    'net: Say what the file is about\n\nA comment at the end of the file.\n\nSigned-off-by: Fixture Author <fixture.author@example.org>',
  );
  await edit(dir, VFIO_FILE, (s) => s.replace(VFIO_ANCHOR, VFIO_ANCHOR + VFIO_ADDED));
  const c2 = await commit(
    dir,
    'vfio/pci: Explain why sub-page BARs need an exclusive page\n\nA small BAR can only be mapped when nothing else uses the rest of its\npage: the page is handed to userspace whole.\n\nSigned-off-by: Fixture Author <fixture.author@example.org>',
  );
  await edit(dir, PORTDRV, (s) =>
    s.replace(
      '\treturn pcie_port_device_register(dev);',
      '\tpci_set_master(dev);\n\n\treturn pcie_port_device_register(dev);',
    ),
  );
  const c3 = await commit(
    dir,
    'PCI: portdrv: Enable bus mastering on ports\n\nSome switches need bus mastering enabled before their ports signal\ninterrupts; enable it when the port driver binds.\n\nSigned-off-by: Fixture Author <fixture.author@example.org>',
  );
  return { dir, base, commits: [c1, c2, c3] };
}

/** One more commit on the PR branch (a push): `what` names it; returns the new head. */
export async function pushCommit(
  repo: PrRepo,
  what: string,
  file = 'net/core/dev.c',
): Promise<string> {
  await edit(repo.dir, file, (s) => s.replace(/\n$/, `\n/* ${what} */\n`));
  const sha = await commit(
    repo.dir,
    `net: ${what}\n\nAnother comment.\n\nSigned-off-by: Fixture Author <fixture.author@example.org>`,
  );
  repo.commits.push(sha);
  return sha;
}

/**
 * A force push that fixes the vfio finding: the vfio commit rewritten (MMIO in
 * capitals), the commits after it picked again. Returns the new head.
 */
export async function pushFix(repo: PrRepo): Promise<string> {
  const later = repo.commits.slice(2);
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  const at = '2026-10-02T09:00:00Z';
  Object.assign(env, {
    GIT_COMMITTER_NAME: 'Fixture Author',
    GIT_COMMITTER_EMAIL: 'fixture.author@example.org',
    GIT_COMMITTER_DATE: at,
  });
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'commit.gpgsign=false', ...args], {
      cwd: repo.dir,
      env,
      encoding: 'utf8',
    });
  git(['reset', '-q', '--hard', repo.commits[0]!]);
  await edit(repo.dir, VFIO_FILE, (s) =>
    s.replace(VFIO_ANCHOR, VFIO_ANCHOR + VFIO_ADDED.replace('mmio', 'MMIO')),
  );
  const c2 = await commit(
    repo.dir,
    'vfio/pci: Explain why sub-page BARs need an exclusive page\n\nA small BAR can only be mapped when nothing else uses the rest of its\npage: the page is handed to userspace whole.\n\nSigned-off-by: Fixture Author <fixture.author@example.org>',
  );
  const picked = [c2];
  for (const c of later) {
    git(['cherry-pick', '--allow-empty', c]);
    picked.push(git(['rev-parse', 'HEAD']).trim());
  }
  repo.commits.splice(1, repo.commits.length - 1, ...picked);
  return repo.commits.at(-1)!;
}

export function standinPr(repo: PrRepo, over: Partial<StandinPr> = {}): StandinPr {
  return {
    owner: 'pci-vendor',
    repo: 'linux',
    number: 7,
    title: 'PCI/VFIO: three commits',
    body: 'Reviewed by pcibot, we hope.',
    user: 'contributor',
    git: repo.dir,
    baseRef: 'master',
    baseSha: repo.base,
    headSha: repo.commits.at(-1)!,
    state: 'open',
    draft: false,
    ...over,
  };
}

type PrPayload = EmitterWebhookEvent<'pull_request.synchronize'>['payload'];
type CommentPayload = EmitterWebhookEvent<'issue_comment.created'>['payload'];

/** A pull_request webhook: GitHub's example of the action, with this PR. */
export function prPayload(
  action: 'opened' | 'synchronize' | 'reopened' | 'ready_for_review' | 'closed',
  pr: StandinPr,
  sender = { login: pr.user, type: 'User' },
): PrPayload {
  const ex = examplePayload(
    'pull_request',
    action === 'closed' ? 'closed' : action === 'synchronize' ? 'synchronize' : action,
  ) as unknown as PrPayload;
  return {
    ...ex,
    action: action as 'synchronize',
    number: pr.number,
    pull_request: {
      ...ex.pull_request,
      number: pr.number,
      title: pr.title,
      draft: pr.draft,
      state: pr.state,
      head: { ...ex.pull_request.head, sha: pr.headSha },
      base: { ...ex.pull_request.base, sha: pr.baseSha, ref: pr.baseRef },
    },
    repository: {
      ...ex.repository,
      name: pr.repo,
      full_name: `${pr.owner}/${pr.repo}`,
      owner: { ...ex.repository.owner, login: pr.owner },
    },
    installation: { id: INSTALLATION_ID, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==' },
    sender: { ...ex.sender, login: sender.login, type: sender.type as 'User' },
  };
}

/** An issue_comment.created webhook on the PR: GitHub's example, made a PR comment. */
export function commentPayload(
  pr: StandinPr,
  user: string,
  body: string,
  id = 9001,
): CommentPayload {
  const ex = examplePayload('issue_comment', 'created') as unknown as CommentPayload;
  return {
    ...ex,
    issue: {
      ...ex.issue,
      number: pr.number,
      pull_request: {
        url: `https://api.github.com/repos/${pr.owner}/${pr.repo}/pulls/${pr.number}`,
        html_url: `https://github.com/${pr.owner}/${pr.repo}/pull/${pr.number}`,
        diff_url: `https://github.com/${pr.owner}/${pr.repo}/pull/${pr.number}.diff`,
        patch_url: `https://github.com/${pr.owner}/${pr.repo}/pull/${pr.number}.patch`,
      },
    },
    comment: {
      ...ex.comment,
      id,
      body,
      user: { ...ex.comment.user!, id: 4000 + user.length, login: user, type: 'User' },
    },
    repository: {
      ...ex.repository,
      name: pr.repo,
      full_name: `${pr.owner}/${pr.repo}`,
      owner: { ...ex.repository.owner, login: pr.owner },
    },
    installation: { id: INSTALLATION_ID, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==' },
    sender: { ...ex.sender, login: user, type: 'User' },
  };
}

export interface Delivery {
  status: number;
  text: string;
  id: string;
}

/** POST a webhook as GitHub does: the JSON body, signed with the secret by @octokit/webhooks. */
export async function deliver(
  baseUrl: string,
  event: string,
  payload: unknown,
  opts: {
    secret?: string;
    id?: string;
    contentType?: string;
    signature?: string;
    body?: string;
  } = {},
): Promise<Delivery> {
  const body = opts.body ?? JSON.stringify(payload);
  const id = opts.id ?? randomUUID();
  const signature =
    opts.signature ?? (await new Webhooks({ secret: opts.secret ?? SECRET }).sign(body));
  const res = await fetch(`${baseUrl}/github/webhook`, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType ?? 'application/json',
      'x-github-event': event,
      'x-github-delivery': id,
      'x-hub-signature-256': signature,
      'user-agent': 'GitHub-Hookshot/test',
    },
    body,
  });
  return { status: res.status, text: await res.text(), id };
}
