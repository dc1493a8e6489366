// A stand-in for the GitHub REST API, on loopback: the endpoints pcibot uses,
// answered from a real git repository (the PR's commits, their diffs, the PR's
// diff), with payload shapes typed by GitHub's published OpenAPI description
// (@octokit/openapi-types: tsc refuses a response missing a field the schema
// requires) and, for the pull request, GitHub's own example object
// (@octokit/webhooks-examples) with this PR's values. It records every
// request, checks authentication as GitHub does (an App JWT signed with the
// App's key for installation tokens, then `token <installation token>`), keeps
// what pcibot posts (check runs with their annotations and every update,
// reviews, review comments), refuses a review comment off the diff with 422 as
// GitHub does, and answers 403/429 with rate-limit headers or 500 when told to.
// Test code: it may verify the JWT with node:crypto (pcibot itself never
// touches one).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes, verify as verifySignature, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { components } from '@octokit/openapi-types';
import type { WebhookDefinition } from '@octokit/webhooks-examples';

type Schemas = components['schemas'];
const require = createRequire(import.meta.url);
const EXAMPLES = require('@octokit/webhooks-examples') as WebhookDefinition[];

/** GitHub's example pull_request.synchronize payload (the template of PR objects and webhooks). */
export function examplePayload(name: 'pull_request' | 'issue_comment', action: string) {
  const def = EXAMPLES.find((d) => d.name === name);
  const ex = def?.examples.find((e) => (e as { action?: string }).action === action);
  if (!ex) throw new Error(`no ${name}.${action} example in @octokit/webhooks-examples`);
  return structuredClone(ex) as unknown as Record<string, unknown>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  status: number;
}

export interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many matching requests get it (default 1). */
  times: number;
}

export interface StandinPr {
  owner: string;
  repo: string;
  number: number;
  title: string;
  body: string;
  user: string;
  /** The git repository holding the PR's commits. */
  git: string;
  baseRef: string;
  baseSha: string;
  headSha: string;
  state: 'open' | 'closed';
  draft: boolean;
}

export interface CheckRun {
  id: number;
  owner: string;
  repo: string;
  head_sha: string;
  name: string;
  external_id: string | null;
  details_url: string | null;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  /** Every status it went through, in order. */
  statuses: string[];
  output: { title: string | null; summary: string | null };
  annotations: {
    path: string;
    start_line: number;
    end_line: number;
    annotation_level: string;
    title?: string;
    message: string;
  }[];
  /** Annotations per update request. */
  batches: number[];
  started_at: string | null;
  completed_at: string | null;
}

export interface StoredComment {
  id: number;
  reviewId: number;
  owner: string;
  repo: string;
  number: number;
  path: string;
  line: number;
  side: 'LEFT' | 'RIGHT';
  commitId: string;
  body: string;
  user: string;
  userType: 'Bot' | 'User';
  createdAt: string;
  updatedAt: string;
}

export interface StoredReview {
  id: number;
  owner: string;
  repo: string;
  number: number;
  commitId: string;
  body: string;
  event: string;
  comments: number;
}

/** The App's login as the stand-in gives it (GET /app's slug + "[bot]"). */
export const BOT = 'pcibot-test[bot]';

function git(dir: string, args: string[]): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return execFileSync('git', args, {
    cwd: dir,
    env: { ...env, LC_ALL: 'C' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const iso = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class GithubStandin {
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  readonly prs = new Map<string, StandinPr>();
  readonly checkRuns = new Map<number, CheckRun>();
  readonly comments = new Map<number, StoredComment>();
  readonly reviews: StoredReview[] = [];
  /** Repository permission per user login (default: none, a 404 as for a non-collaborator). */
  readonly permissions = new Map<string, 'admin' | 'maintain' | 'write' | 'triage' | 'read'>();
  /** Installation tokens issued: token -> expiry (ms). */
  readonly tokens = new Map<string, number>();
  /** Personal tokens accepted as `token X` / `Bearer X` (the CLI's GITHUB_TOKEN). */
  readonly personalTokens = new Set<string>();
  /** Lifetime of an installation token (GitHub: one hour). */
  tokenTtlMs = 3600_000;
  private nextId = 1000;
  private server: Server | null = null;
  url = '';
  private remaining = 5000;

  constructor(
    readonly appId: number,
    readonly publicKey: KeyObject,
    readonly installationId = 4242,
  ) {}

  prKey = (owner: string, repo: string, n: number) => `${owner}/${repo}#${n}`.toLowerCase();

  addPr(pr: StandinPr): void {
    this.prs.set(this.prKey(pr.owner, pr.repo, pr.number), pr);
  }
  pr(owner: string, repo: string, n: number): StandinPr {
    const p = this.prs.get(this.prKey(owner, repo, n));
    if (!p) throw new HttpError(404, 'Not Found');
    return p;
  }

  /** Answer the next `times` requests matching with this status (and headers, body). */
  fail(f: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...f });
  }
  /** A secondary rate limit as GitHub answers it: 429 (or 403), Retry-After, that message. */
  secondaryLimit(
    path: RegExp,
    opts: { times?: number; retryAfter?: number; status?: number } = {},
  ) {
    this.fail({
      path,
      status: opts.status ?? 429,
      times: opts.times ?? 1,
      headers: { 'retry-after': String(opts.retryAfter ?? 1) },
      body: {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        documentation_url:
          'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
      },
    });
  }
  /** The primary rate limit exhausted: 403, x-ratelimit-remaining 0 and the reset time. */
  primaryLimit(path: RegExp, opts: { times?: number; resetInSec?: number } = {}) {
    this.fail({
      path,
      status: 403,
      times: opts.times ?? 1,
      headers: {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + (opts.resetInSec ?? 1)),
      },
      body: {
        message: 'API rate limit exceeded for installation ID 4242.',
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      },
    });
  }

  /** Requests that change something (what a read-only run must never send). */
  writes(): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method !== 'GET' && !/^\/app\/installations\/\d+\/access_tokens$/.test(r.path),
    );
  }
  checkRunsOf(headSha: string): CheckRun[] {
    return [...this.checkRuns.values()].filter((c) => c.head_sha === headSha);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this.url;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  // ---- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://standin');
    let body: unknown = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: u.searchParams,
      headers: req.headers,
      body,
      status: 0,
    };
    this.requests.push(rec);
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      res.writeHead(status, {
        'content-type':
          typeof data === 'string'
            ? 'application/vnd.github.diff; charset=utf-8'
            : 'application/json; charset=utf-8',
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': String(Math.max(0, --this.remaining)),
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        'x-github-request-id': randomBytes(8).toString('hex'),
        ...headers,
      });
      res.end(text);
    };
    const fault = this.faults.find(
      (f) => f.times > 0 && f.path.test(u.pathname) && (!f.method || f.method === rec.method),
    );
    if (fault) {
      fault.times--;
      return send(fault.status, fault.body ?? { message: 'Server Error' }, fault.headers);
    }
    try {
      const [status, data, headers] = this.route(rec, req.headers.accept ?? '');
      send(status, data, headers);
    } catch (err) {
      if (err instanceof HttpError)
        return send(err.status, {
          message: err.message,
          documentation_url: 'https://docs.github.com/rest',
          ...err.extra,
        });
      send(500, { message: `stand-in error: ${(err as Error).message}` });
    }
  }

  private auth(rec: RecordedRequest): void {
    const h = String(rec.headers.authorization ?? '');
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(h);
    if (!m) throw new HttpError(401, 'Requires authentication');
    if (this.personalTokens.has(m[1]!)) return;
    const exp = this.tokens.get(m[1]!);
    if (exp === undefined || exp < Date.now()) throw new HttpError(401, 'Bad credentials');
  }

  /** The App's JWT (RS256, iss = app id, not expired), as GitHub checks it. */
  private appJwt(rec: RecordedRequest): void {
    const m = /^bearer\s+([\w-]+)\.([\w-]+)\.([\w-]+)$/i.exec(
      String(rec.headers.authorization ?? ''),
    );
    if (!m) throw new HttpError(401, 'A JSON web token could not be decoded');
    const header = JSON.parse(Buffer.from(m[1]!, 'base64url').toString()) as { alg?: string };
    const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString()) as {
      iss?: string | number;
      exp?: number;
    };
    const ok = verifySignature(
      'RSA-SHA256',
      Buffer.from(`${m[1]}.${m[2]}`),
      this.publicKey,
      Buffer.from(m[3]!, 'base64url'),
    );
    if (header.alg !== 'RS256' || !ok || String(claims.iss) !== String(this.appId))
      throw new HttpError(
        401,
        "'Issuer' claim ('iss') must be an Integer or the signature is wrong",
      );
    if (!claims.exp || claims.exp * 1000 < Date.now())
      throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the past");
  }

  private route(rec: RecordedRequest, accept: string): [number, unknown, Record<string, string>?] {
    const { method, path } = rec;
    let m: RegExpExecArray | null;
    if (method === 'POST' && (m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path))) {
      this.appJwt(rec);
      if (Number(m[1]) !== this.installationId) throw new HttpError(404, 'Not Found');
      const token = `ghs_${randomBytes(18).toString('hex')}`;
      const expires = Date.now() + this.tokenTtlMs;
      this.tokens.set(token, expires);
      const out: Schemas['installation-token'] = {
        token,
        expires_at: iso(expires),
        permissions: {
          checks: 'write',
          pull_requests: 'write',
          contents: 'read',
          metadata: 'read',
        },
        repository_selection: 'all',
      };
      return [201, out];
    }
    if (method === 'GET' && path === '/app') {
      // The App itself, asked with the App's JWT: pcibot reads its slug (its login is "<slug>[bot]").
      this.appJwt(rec);
      const out: Schemas['integration'] = {
        id: Number(this.appId),
        slug: BOT.replace(/\[bot\]$/, ''),
        node_id: 'A_kwHO',
        owner: this.user('pci-vendor'),
        name: 'pcibot (test)',
        description: null,
        external_url: 'https://example.org/pcibot',
        html_url: `https://github.com/apps/${BOT.replace(/\[bot\]$/, '')}`,
        created_at: iso(0),
        updated_at: iso(0),
        permissions: {
          checks: 'write',
          pull_requests: 'write',
          contents: 'read',
          metadata: 'read',
        },
        events: ['pull_request', 'issue_comment'],
      };
      return [200, out];
    }
    this.auth(rec);
    const repoPath = /^\/repos\/([^/]+)\/([^/]+)(\/.*)$/.exec(path);
    if (!repoPath) throw new HttpError(404, 'Not Found');
    const [, owner, repo, rest] = repoPath as unknown as [string, string, string, string];
    const diff = /application\/vnd\.github(?:\.v3)?\.diff/.test(accept);

    if (method === 'GET' && (m = /^\/pulls\/(\d+)$/.exec(rest))) {
      const pr = this.pr(owner, repo, Number(m[1]));
      if (diff) return [200, git(pr.git, ['diff', '--no-color', `${pr.baseSha}...${pr.headSha}`])];
      return [200, this.pullJson(pr)];
    }
    if (method === 'GET' && (m = /^\/pulls\/(\d+)\/commits$/.exec(rest))) {
      const pr = this.pr(owner, repo, Number(m[1]));
      const shas = git(pr.git, ['rev-list', '--reverse', `${pr.baseSha}..${pr.headSha}`])
        .split('\n')
        .filter(Boolean);
      return this.page(
        rec,
        shas.map((s) => this.commitJson(pr, s)),
      );
    }
    if (method === 'GET' && (m = /^\/commits\/([0-9a-f]{40})$/.exec(rest))) {
      const pr = [...this.prs.values()].find((p) => p.owner === owner && p.repo === repo);
      if (!pr) throw new HttpError(404, 'Not Found');
      if (diff) {
        const parent = git(pr.git, ['rev-parse', `${m[1]}^`]).trim();
        return [200, git(pr.git, ['diff', '--no-color', parent, m[1]!])];
      }
      return [200, this.commitJson(pr, m[1]!)];
    }
    if (method === 'GET' && (m = /^\/collaborators\/([^/]+)\/permission$/.exec(rest))) {
      const p = this.permissions.get(m[1]!);
      if (!p) throw new HttpError(404, `${m[1]} is not a user`);
      const legacy = p === 'maintain' ? 'write' : p === 'triage' ? 'read' : p;
      const out: Schemas['repository-collaborator-permission'] = {
        permission: legacy,
        role_name: p,
        user: {
          ...this.user(m[1]!),
          permissions: {
            admin: p === 'admin',
            maintain: p === 'maintain',
            push: ['admin', 'maintain', 'write'].includes(p),
            triage: p !== 'read',
            pull: true,
          },
          role_name: p,
        },
      };
      return [200, out];
    }
    if (method === 'POST' && rest === '/check-runs') {
      const b = rec.body as Record<string, unknown>;
      if (typeof b?.name !== 'string' || typeof b.head_sha !== 'string')
        throw new HttpError(422, 'Invalid request: name and head_sha are required');
      const id = this.nextId++;
      const status = (b.status as CheckRun['status']) ?? 'queued';
      const c: CheckRun = {
        id,
        owner,
        repo,
        head_sha: b.head_sha,
        name: b.name,
        external_id: (b.external_id as string) ?? null,
        details_url: (b.details_url as string) ?? null,
        status,
        conclusion: null,
        statuses: [status],
        output: { title: null, summary: null },
        annotations: [],
        batches: [],
        started_at: status === 'in_progress' ? iso() : null,
        completed_at: null,
      };
      this.checkRuns.set(id, c);
      return [201, this.checkRunJson(c)];
    }
    if (method === 'PATCH' && (m = /^\/check-runs\/(\d+)$/.exec(rest))) {
      const c = this.checkRuns.get(Number(m[1]));
      if (!c) throw new HttpError(404, 'Not Found');
      const b = rec.body as Record<string, unknown>;
      const out = b.output as
        { title?: string; summary?: string; annotations?: CheckRun['annotations'] } | undefined;
      if (out) {
        if (typeof out.title !== 'string' || typeof out.summary !== 'string')
          throw new HttpError(422, 'Invalid request: output needs title and summary');
        if (out.summary.length > 65535)
          throw new HttpError(
            422,
            'Invalid request: summary is too long (maximum is 65535 characters)',
          );
        const ann = out.annotations ?? [];
        if (ann.length > 50)
          throw new HttpError(422, 'Invalid request: at most 50 annotations per request');
        c.output = { title: out.title, summary: out.summary };
        c.annotations.push(...ann);
        c.batches.push(ann.length);
      }
      if (typeof b.status === 'string') {
        c.status = b.status as CheckRun['status'];
        c.statuses.push(b.status);
      }
      if (typeof b.conclusion === 'string') {
        c.conclusion = b.conclusion;
        c.status = 'completed';
        if (c.statuses.at(-1) !== 'completed') c.statuses.push('completed');
        c.completed_at = (b.completed_at as string) ?? iso();
      }
      if (typeof b.started_at === 'string') c.started_at = b.started_at;
      return [200, this.checkRunJson(c)];
    }
    if (method === 'GET' && (m = /^\/pulls\/(\d+)\/comments$/.exec(rest))) {
      const n = Number(m[1]);
      const all = [...this.comments.values()].filter(
        (c) => c.owner === owner && c.repo === repo && c.number === n,
      );
      return this.page(
        rec,
        all.map((c) => this.commentJson(c)),
      );
    }
    if (method === 'PATCH' && (m = /^\/pulls\/comments\/(\d+)$/.exec(rest))) {
      const c = this.comments.get(Number(m[1]));
      if (!c || c.owner !== owner || c.repo !== repo) throw new HttpError(404, 'Not Found');
      const b = rec.body as { body?: string };
      if (typeof b?.body !== 'string') throw new HttpError(422, 'body is required');
      c.body = b.body;
      c.updatedAt = iso();
      return [200, this.commentJson(c)];
    }
    if (method === 'POST' && (m = /^\/pulls\/(\d+)\/reviews$/.exec(rest))) {
      const pr = this.pr(owner, repo, Number(m[1]));
      const b = rec.body as {
        commit_id?: string;
        body?: string;
        event?: string;
        comments?: { path: string; line: number; side?: 'LEFT' | 'RIGHT'; body: string }[];
      };
      const commitId = b.commit_id ?? pr.headSha;
      // GitHub takes a line comment only on a line of the PR's diff.
      const places = this.diffLines(pr);
      for (const c of b.comments ?? [])
        if (!places.get(c.path)?.has(c.line) || (c.side ?? 'RIGHT') !== 'RIGHT')
          throw new HttpError(422, 'Unprocessable Entity', {
            errors: ['Line could not be resolved'],
          });
      const id = this.nextId++;
      const review: StoredReview = {
        id,
        owner,
        repo,
        number: pr.number,
        commitId,
        body: b.body ?? '',
        event: b.event ?? 'PENDING',
        comments: b.comments?.length ?? 0,
      };
      this.reviews.push(review);
      for (const c of b.comments ?? []) {
        const cid = this.nextId++;
        this.comments.set(cid, {
          id: cid,
          reviewId: id,
          owner,
          repo,
          number: pr.number,
          path: c.path,
          line: c.line,
          side: c.side ?? 'RIGHT',
          commitId,
          body: c.body,
          user: BOT,
          userType: 'Bot',
          createdAt: iso(),
          updatedAt: iso(),
        });
      }
      return [200, this.reviewJson(review)];
    }
    throw new HttpError(404, 'Not Found');
  }

  /** Someone else's review comment on the PR (for tests: pcibot must leave it alone). */
  addHumanComment(
    pr: StandinPr,
    path: string,
    line: number,
    body: string,
    user = 'someone',
    userType: 'User' | 'Bot' = 'User',
  ): number {
    const id = this.nextId++;
    this.comments.set(id, {
      id,
      reviewId: 0,
      owner: pr.owner,
      repo: pr.repo,
      number: pr.number,
      path,
      line,
      side: 'RIGHT',
      commitId: pr.headSha,
      body,
      user,
      userType,
      createdAt: iso(),
      updatedAt: iso(),
    });
    return id;
  }

  /** Per file, the head lines inside the PR diff's hunks. */
  private diffLines(pr: StandinPr): Map<string, Set<number>> {
    const out = new Map<string, Set<number>>();
    const text = git(pr.git, ['diff', '--no-color', '-U3', `${pr.baseSha}...${pr.headSha}`]);
    let file: string | null = null;
    let line = 0;
    for (const l of text.split('\n')) {
      let h: RegExpExecArray | null;
      if (l.startsWith('+++ ')) {
        file = l === '+++ /dev/null' ? null : l.slice(6);
        if (file && !out.has(file)) out.set(file, new Set());
      } else if ((h = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(l))) line = Number(h[1]);
      else if (file && (l.startsWith('+') || l.startsWith(' '))) out.get(file)!.add(line++);
    }
    return out;
  }

  /** One page of a list, with GitHub's Link header (per_page, page). */
  private page(rec: RecordedRequest, all: unknown[]): [number, unknown, Record<string, string>] {
    const per = Math.min(100, Number(rec.query.get('per_page') ?? 30));
    const page = Math.max(1, Number(rec.query.get('page') ?? 1));
    const last = Math.max(1, Math.ceil(all.length / per));
    const links: string[] = [];
    const at = (p: number) => {
      const q = new URLSearchParams(rec.query);
      q.set('page', String(p));
      q.set('per_page', String(per));
      return `<${this.url}${rec.path}?${q}>`;
    };
    if (page < last) links.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
    return [
      200,
      all.slice((page - 1) * per, page * per),
      links.length ? { link: links.join(', ') } : {},
    ];
  }

  // ---- payloads, typed by GitHub's OpenAPI description

  user(login: string, type: 'User' | 'Bot' = 'User'): Schemas['simple-user'] {
    return {
      login,
      id: 1000 + login.length,
      node_id: 'MDQ6VXNlcjE=',
      avatar_url: `https://avatars.githubusercontent.com/u/${login.length}?v=4`,
      gravatar_id: '',
      url: `${this.url}/users/${login}`,
      html_url: `https://github.com/${login}`,
      followers_url: `${this.url}/users/${login}/followers`,
      following_url: `${this.url}/users/${login}/following{/other_user}`,
      gists_url: `${this.url}/users/${login}/gists{/gist_id}`,
      starred_url: `${this.url}/users/${login}/starred{/owner}{/repo}`,
      subscriptions_url: `${this.url}/users/${login}/subscriptions`,
      organizations_url: `${this.url}/users/${login}/orgs`,
      repos_url: `${this.url}/users/${login}/repos`,
      events_url: `${this.url}/users/${login}/events{/privacy}`,
      received_events_url: `${this.url}/users/${login}/received_events`,
      type,
      site_admin: false,
    };
  }

  /** The PR: GitHub's example pull request object with this PR's values. */
  pullJson(pr: StandinPr): Schemas['pull-request'] {
    const ex = examplePayload('pull_request', 'synchronize')
      .pull_request as Schemas['pull-request'];
    const api = `${this.url}/repos/${pr.owner}/${pr.repo}`;
    const repo = {
      ...ex.base.repo,
      name: pr.repo,
      full_name: `${pr.owner}/${pr.repo}`,
      owner: this.user(pr.owner),
    };
    return {
      ...ex,
      url: `${api}/pulls/${pr.number}`,
      number: pr.number,
      title: pr.title,
      body: pr.body,
      state: pr.state,
      draft: pr.draft,
      user: this.user(pr.user),
      html_url: `https://github.com/${pr.owner}/${pr.repo}/pull/${pr.number}`,
      head: { ...ex.head, sha: pr.headSha, ref: `pr-${pr.number}`, repo, user: this.user(pr.user) },
      base: { ...ex.base, sha: pr.baseSha, ref: pr.baseRef, repo, user: this.user(pr.owner) },
      updated_at: iso(),
    };
  }

  private commitJson(pr: StandinPr, sha: string): Schemas['commit'] {
    const [author, email, date, parents, message] = git(pr.git, [
      'show',
      '-s',
      '--format=%an%x00%ae%x00%aI%x00%P%x00%B',
      sha,
    ]).split('\0') as [string, string, string, string, string];
    const api = `${this.url}/repos/${pr.owner}/${pr.repo}`;
    return {
      url: `${api}/commits/${sha}`,
      sha,
      node_id: 'C_kwDO',
      html_url: `https://github.com/${pr.owner}/${pr.repo}/commit/${sha}`,
      comments_url: `${api}/commits/${sha}/comments`,
      commit: {
        url: `${api}/git/commits/${sha}`,
        author: { name: author, email, date },
        committer: { name: author, email, date },
        message: message.replace(/\n$/, ''),
        comment_count: 0,
        tree: { sha: git(pr.git, ['rev-parse', `${sha}^{tree}`]).trim(), url: `${api}/git/trees` },
      },
      author: null,
      committer: null,
      parents: parents
        .trim()
        .split(' ')
        .filter(Boolean)
        .map((p) => ({ sha: p, url: `${api}/commits/${p}` })),
    };
  }

  private checkRunJson(c: CheckRun): Schemas['check-run'] {
    return {
      id: c.id,
      head_sha: c.head_sha,
      node_id: 'CR_kwDO',
      external_id: c.external_id,
      url: `${this.url}/repos/${c.owner}/${c.repo}/check-runs/${c.id}`,
      html_url: `https://github.com/${c.owner}/${c.repo}/runs/${c.id}`,
      details_url: c.details_url,
      status: c.status,
      conclusion: c.conclusion as Schemas['check-run']['conclusion'],
      started_at: c.started_at,
      completed_at: c.completed_at,
      output: {
        title: c.output.title,
        summary: c.output.summary,
        text: null,
        annotations_count: c.annotations.length,
        annotations_url: `${this.url}/repos/${c.owner}/${c.repo}/check-runs/${c.id}/annotations`,
      },
      name: c.name,
      check_suite: { id: 1 },
      app: null,
      pull_requests: [],
    };
  }

  private commentJson(c: StoredComment): Schemas['pull-request-review-comment'] {
    const api = `${this.url}/repos/${c.owner}/${c.repo}`;
    return {
      url: `${api}/pulls/comments/${c.id}`,
      pull_request_review_id: c.reviewId,
      id: c.id,
      node_id: 'PRRC_kwDO',
      diff_hunk: '@@',
      path: c.path,
      commit_id: c.commitId,
      original_commit_id: c.commitId,
      user: this.user(c.user, c.userType),
      body: c.body,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      html_url: `https://github.com/${c.owner}/${c.repo}/pull/${c.number}#discussion_r${c.id}`,
      pull_request_url: `${api}/pulls/${c.number}`,
      author_association: c.userType === 'Bot' ? 'NONE' : 'CONTRIBUTOR',
      _links: {
        self: { href: `${api}/pulls/comments/${c.id}` },
        html: {
          href: `https://github.com/${c.owner}/${c.repo}/pull/${c.number}#discussion_r${c.id}`,
        },
        pull_request: { href: `${api}/pulls/${c.number}` },
      },
      line: c.line,
      side: c.side,
    };
  }

  private reviewJson(r: StoredReview): Schemas['pull-request-review'] {
    return {
      id: r.id,
      node_id: 'PRR_kwDO',
      user: this.user(BOT, 'Bot'),
      body: r.body,
      state: r.event === 'COMMENT' ? 'COMMENTED' : r.event,
      html_url: `https://github.com/${r.owner}/${r.repo}/pull/${r.number}#pullrequestreview-${r.id}`,
      pull_request_url: `${this.url}/repos/${r.owner}/${r.repo}/pulls/${r.number}`,
      _links: {
        html: {
          href: `https://github.com/${r.owner}/${r.repo}/pull/${r.number}#pullrequestreview-${r.id}`,
        },
        pull_request: { href: `${this.url}/repos/${r.owner}/${r.repo}/pulls/${r.number}` },
      },
      submitted_at: iso(),
      commit_id: r.commitId,
      author_association: 'NONE',
    };
  }
}
