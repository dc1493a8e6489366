// What a GitHub webhook asks of pcibot, decided from the event name and the
// (signature-checked, still untrusted) payload: review a pull request's head,
// run a command from a PR comment, or nothing (and why). Only the payload's
// shape is read here; whether a commenter may command pcibot is asked of the
// API later (the payload's author_association is not trusted).
import { prLabel, type PrRef } from './pr.js';

export type GithubAction =
  | {
      kind: 'pr';
      ref: PrRef;
      headSha: string;
      installationId: number;
      action: string;
    }
  | {
      kind: 'command';
      ref: PrRef;
      command: 'review' | 'recheck';
      commentId: number;
      user: string;
      installationId: number;
    }
  | { kind: 'ignore'; why: string };

export interface EventOptions {
  /** Draft PRs are not reviewed until ready_for_review (default true). */
  ignoreDrafts: boolean;
  /** Events sent by bots (sender type Bot, or a `[bot]` login) are ignored (default true). */
  ignoreBots: boolean;
}

const PR_ACTIONS = new Set(['opened', 'synchronize', 'reopened', 'ready_for_review']);

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null;

/** `/pcibot review` or `/pcibot recheck` at the start of a line of a comment. */
export function commentCommand(body: string): 'review' | 'recheck' | null {
  const m = /^[ \t]*\/pcibot[ \t]+(review|recheck)[ \t]*$/im.exec(body.slice(0, 65536));
  return m ? (m[1]!.toLowerCase() as 'review' | 'recheck') : null;
}

function repoOf(p: Obj): { owner: string; repo: string } | null {
  const repo = obj(p.repository);
  const owner = str(obj(repo?.owner)?.login);
  const name = str(repo?.name);
  return owner && name ? { owner, repo: name } : null;
}

function isBot(sender: Obj | null): boolean {
  const login = str(sender?.login) ?? '';
  return str(sender?.type) === 'Bot' || /\[bot\]$/i.test(login);
}

export function classifyEvent(event: string, payload: unknown, opts: EventOptions): GithubAction {
  const p = obj(payload);
  if (!p) return { kind: 'ignore', why: 'the payload is not a JSON object' };
  if (event === 'ping') return { kind: 'ignore', why: 'ping' };
  const action = str(p.action) ?? '';
  const installationId = num(obj(p.installation)?.id);
  const repo = repoOf(p);
  const sender = obj(p.sender);
  if (event === 'pull_request') {
    if (!PR_ACTIONS.has(action)) return { kind: 'ignore', why: `pull_request ${action}` };
    const pr = obj(p.pull_request);
    const number = num(pr?.number) ?? num(p.number);
    const headSha = str(obj(pr?.head)?.sha);
    if (!repo || !number || !headSha || !/^[0-9a-f]{40}$/.test(headSha) || !installationId)
      return {
        kind: 'ignore',
        why: 'pull_request without repository, number, head or installation',
      };
    const ref = { ...repo, number };
    if (opts.ignoreBots && isBot(sender))
      return { kind: 'ignore', why: `${prLabel(ref)}: sent by a bot (${str(sender?.login)})` };
    if (opts.ignoreDrafts && pr?.draft === true)
      return { kind: 'ignore', why: `${prLabel(ref)} is a draft (github.ignoreDrafts)` };
    if (str(pr?.state) === 'closed') return { kind: 'ignore', why: `${prLabel(ref)} is closed` };
    return { kind: 'pr', ref, headSha, installationId, action };
  }
  if (event === 'issue_comment') {
    if (action !== 'created') return { kind: 'ignore', why: `issue_comment ${action}` };
    const issue = obj(p.issue);
    const comment = obj(p.comment);
    if (!obj(issue?.pull_request))
      return { kind: 'ignore', why: 'a comment on an issue, not a PR' };
    const number = num(issue?.number);
    const commentId = num(comment?.id);
    const user = str(obj(comment?.user)?.login);
    if (!repo || !number || !commentId || !user || !installationId)
      return {
        kind: 'ignore',
        why: 'issue_comment without repository, number, user or installation',
      };
    if (opts.ignoreBots && (isBot(sender) || isBot(obj(comment?.user))))
      return { kind: 'ignore', why: `comment by a bot (${user})` };
    const command = commentCommand(str(comment?.body) ?? '');
    if (!command) return { kind: 'ignore', why: 'a comment without a /pcibot command' };
    return { kind: 'command', ref: { ...repo, number }, command, commentId, user, installationId };
  }
  return { kind: 'ignore', why: `event ${event} is not one pcibot acts on` };
}
