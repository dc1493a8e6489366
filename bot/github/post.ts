// Posting to a pull request: the check run's life (queued -> in_progress ->
// completed, annotations at most 50 per request, the rest in later updates,
// which GitHub appends) and the review (one review with its line comments;
// earlier comments updated in place). Rendering is the report sink's
// (workers/report/github.ts); this only talks to the API.
import { RequestError, type Octokit } from './client.js';
import type { DiffPlace } from './diffmap.js';
import type { PrRef } from './pr.js';

/** One annotation of a check run, as the API takes it. */
export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: 'notice' | 'warning' | 'failure';
  title: string;
  message: string;
}

/** The parts of a check run's output this module sends (workers/report/github.ts CheckOutput). */
export interface CheckRunOutput {
  conclusion: 'success' | 'neutral' | 'failure' | 'cancelled';
  title: string;
  summary: string;
  annotations: CheckAnnotation[];
}

export async function createCheckRun(
  o: Octokit,
  ref: PrRef,
  headSha: string,
  opts: { externalId: string; detailsUrl?: string | null; status?: 'queued' | 'in_progress' },
): Promise<number> {
  const { data } = await o.rest.checks.create({
    owner: ref.owner,
    repo: ref.repo,
    name: 'pcibot',
    head_sha: headSha,
    status: opts.status ?? 'queued',
    external_id: opts.externalId,
    ...(opts.detailsUrl ? { details_url: opts.detailsUrl } : {}),
  });
  return data.id;
}

export async function startCheckRun(o: Octokit, ref: PrRef, id: number): Promise<void> {
  await o.rest.checks.update({
    owner: ref.owner,
    repo: ref.repo,
    check_run_id: id,
    status: 'in_progress',
    started_at: new Date().toISOString(),
  });
}

/**
 * Complete a check run with its output: the annotations in batches of `per`
 * (GitHub takes 50 per request), the earlier batches while in progress, the
 * last one with the conclusion. `done` batches were sent by an earlier attempt
 * (a job retried after a rate limit) and are not sent again; `onBatch` is
 * called after each batch is accepted, to record that.
 */
export async function completeCheckRun(
  o: Octokit,
  ref: PrRef,
  id: number,
  out: CheckRunOutput,
  opts: { per?: number; done?: number; onBatch?: (n: number) => Promise<void> } = {},
): Promise<{ requests: number }> {
  const per = opts.per ?? 50;
  const batches: CheckRunOutput['annotations'][] = [];
  for (let i = 0; i < out.annotations.length; i += per)
    batches.push(out.annotations.slice(i, i + per));
  if (batches.length === 0) batches.push([]);
  let requests = 0;
  for (let b = opts.done ?? 0; b < batches.length; b++) {
    const last = b === batches.length - 1;
    await o.rest.checks.update({
      owner: ref.owner,
      repo: ref.repo,
      check_run_id: id,
      output: { title: out.title, summary: out.summary, annotations: batches[b]! },
      ...(last
        ? {
            status: 'completed',
            conclusion: out.conclusion,
            completed_at: new Date().toISOString(),
          }
        : {}),
    });
    requests++;
    await opts.onBatch?.(b + 1);
  }
  return { requests };
}

export interface PrComment {
  id: number;
  body: string;
  path: string;
  line: number | null;
  user: { login: string; type: string } | null;
}

/** The PR's review comments (every page). */
export async function listReviewComments(o: Octokit, ref: PrRef): Promise<PrComment[]> {
  const all = await o.paginate(o.rest.pulls.listReviewComments, {
    owner: ref.owner,
    repo: ref.repo,
    pull_number: ref.number,
    per_page: 100,
  });
  return all.map((c) => ({
    id: c.id,
    body: c.body,
    path: c.path,
    line: c.line ?? null,
    user: c.user ? { login: c.user.login, type: c.user.type } : null,
  }));
}

export async function updateReviewComment(
  o: Octokit,
  ref: PrRef,
  id: number,
  body: string,
): Promise<void> {
  await o.rest.pulls.updateReviewComment({
    owner: ref.owner,
    repo: ref.repo,
    comment_id: id,
    body,
  });
}

/**
 * One review (event COMMENT) with its line comments on the head commit. When
 * GitHub refuses the comments (422: a line it does not take), the review is
 * posted without them rather than lost: the findings are in the check run's
 * annotations either way.
 */
export async function postReview(
  o: Octokit,
  ref: PrRef,
  headSha: string,
  body: string,
  comments: (DiffPlace & { body: string })[],
): Promise<{ id: number; comments: number; refused: string | null }> {
  const send = (cs: typeof comments, b: string) =>
    o.rest.pulls.createReview({
      owner: ref.owner,
      repo: ref.repo,
      pull_number: ref.number,
      commit_id: headSha,
      event: 'COMMENT',
      body: b,
      comments: cs.map((c) => ({ path: c.path, line: c.line, side: c.side, body: c.body })),
    });
  try {
    const { data } = await send(comments, body);
    return { id: data.id, comments: comments.length, refused: null };
  } catch (err) {
    if (!(err instanceof RequestError) || err.status !== 422 || comments.length === 0) throw err;
    const why = err.message.slice(0, 300);
    const { data } = await send(
      [],
      `${body}\n\n(GitHub did not take the line comments: ${why}. The findings are in the check run's annotations.)`,
    );
    return { id: data.id, comments: 0, refused: why };
  }
}

/** The permission a user has on the repository, asked of the API (never taken from a payload). */
export async function userCanWrite(o: Octokit, ref: PrRef, user: string): Promise<boolean> {
  try {
    const { data } = await o.rest.repos.getCollaboratorPermissionLevel({
      owner: ref.owner,
      repo: ref.repo,
      username: user,
    });
    const role = (data as { role_name?: string }).role_name ?? '';
    return (
      ['admin', 'write', 'maintain'].includes(data.permission) ||
      ['admin', 'maintain', 'write'].includes(role)
    );
  } catch (err) {
    // Not a collaborator at all.
    if (err instanceof RequestError && err.status === 404) return false;
    throw err;
  }
}
