// Job data for every queue, and the deterministic job ids that make the whole
// service idempotent: the same message, series version or reply always gets the
// same id, so a retry or a re-delivery (a cross-posted mail, a cursor that did
// not move before a crash) finds the existing job instead of adding a second.
// BullMQ ids may not contain ':' and must not be plain integers.
import { createHash } from 'node:crypto';
import type { RawMail } from '../bot/types.js';

export const hashOf = (s: string, len = 24): string =>
  createHash('sha256').update(s).digest('hex').slice(0, len);

/** Key of a message, from its Message-ID (or its bytes when it has none). */
export const messageKey = (messageId: string): string => hashOf(`mid\0${messageId}`);

/**
 * The "Message-ID" header of raw bytes, cheaply (no full parse), to give the
 * ingest job its id before parsing. Falls back to a hash of the bytes.
 */
export function rawMessageId(raw: string): string | null {
  const end = raw.search(/\r?\n\r?\n/);
  const head = end < 0 ? raw : raw.slice(0, end);
  const m = /^message-id:[ \t]*(?:\r?\n[ \t]+)?<([^<>\s]+)>/im.exec(head);
  return m ? m[1]! : null;
}

/**
 * The suffix of the ids (and markers) of jobs made in a Redis generation
 * (bot/lore/follow.ts FollowState.generation): what a Redis restarted empty
 * got of an earlier generation's jobs (writes of jobs under way, replayed onto
 * it by the client) never stands in for the work done again from the archive.
 * Empty for jobs without one (spools, GitHub, tests that queue directly).
 */
export const genSuffix = (generation: string | undefined): string =>
  generation ? `-g${generation}` : '';

export const ingestJobId = (raw: string, generation?: string): string => {
  const mid = rawMessageId(raw);
  return `in-${mid ? messageKey(mid) : hashOf(`raw\0${raw}`)}${genSuffix(generation)}`;
};

export interface FollowJob {
  kind: 'lore' | 'mbox' | 'maildir';
  list: string;
  /** The spool path (mbox/maildir); lore takes the mirror from the list config. */
  path?: string;
}

export interface IngestJob {
  raw: RawMail;
  /** The list the message was read from (reply settings). */
  list: string;
  /** In the archive when following started from the beginning: reviewed, not answered (unless the list asks). */
  backfill?: boolean;
  /** The Redis generation the job was made in (genSuffix): a job of another one is an orphan. */
  generation?: string;
}

export interface AssembleJob {
  bucket: string;
  generation?: string;
  /** 'deadline': the completeness timeout passed, review what arrived. */
  reason: 'arrival' | 'deadline' | 'trigger';
}

/** What is reviewed: one series version, in one round (automatic, or per trigger). */
export interface ReviewRequest {
  /** `<series hash>-v<version>-<round>`: unique per review, used in every later id. */
  reviewKey: string;
  bucket: string;
  seriesId: string;
  version: number;
  /** 'a' for the automatic review, `t<message key>` for one a maintainer asked for. */
  round: string;
  list: string;
  /** Versions of one series share a lineage key (bot/series/identity.ts lineageKeys). */
  lineage: string[];
  /**
   * The strong ones of `lineage` (identity.ts strongLineageKeys); versions
   * found only under the others are guarded (ServiceState.versions). All of
   * `lineage` when absent.
   */
  lineageStrong?: string[];
  /** Review although parts are missing (timeout or trigger). */
  partial: boolean;
  baseCommit?: string | null;
  scenarios?: string[];
  trigger?: { messageId: string; from: string; command: string; target: string };
  /** Every message of the series is a backfill: reviewed, not answered unless the list asks. */
  backfill?: boolean;
  /** A pull request's head (workers/github.ts): reported by the GitHub sink, not by mail. */
  github?: GithubTarget;
  /** The Redis generation the review was scheduled in (genSuffix). */
  generation?: string;
}

/** The pull request head a review is of, and the installation that may post on it. */
export interface GithubTarget {
  owner: string;
  repo: string;
  number: number;
  headSha: string;
  installationId: number;
}

/** A webhook's request (bot/github/events.ts): review a PR's head, or a command from a PR comment. */
export type GithubJob =
  | ({ kind: 'pr'; deliveryId: string; action: string } & GithubTarget)
  | {
      kind: 'command';
      deliveryId: string;
      owner: string;
      repo: string;
      number: number;
      installationId: number;
      command: 'review' | 'recheck';
      commentId: number;
      user: string;
    };

export type ApplyJob = ReviewRequest;
export type ReportJob = ReviewRequest;

/** Analyse one review's series: patch checks, then series checks (one job per review). */
export interface AnalyseJob {
  reviewKey: string;
  generation?: string;
  /** A maintainer asked for these scenarios (`pcibot: scenarios a,b`): the model runs only them. */
  scenarios?: string[];
}

export interface SendJob {
  /** `<reviewKey>-p<patch index>` (0: the cover letter), `<reviewKey>-s` (series mode), `fb-<hash>` (a notice): one reply per key, ever. */
  replyKey: string;
  reviewKey: string;
  list: string;
  bucket: string;
  automatic: boolean;
  messageId: string;
  inReplyTo: string;
  subject: string;
  envelope: { from: string; to: string[] };
  /** The whole composed message (RFC 5322, CRLF line ends). */
  eml: string;
  /** The Date of the message answered (ISO): an automatic reply to a patch older than reply.maxAgeDays is held. */
  replyToDate?: string | null;
}

export const reviewKeyOf = (seriesId: string, version: number, round: string): string =>
  `${hashOf(seriesId, 16)}-v${version}-${round}`;

/** Deterministic ids; those of the mail pipeline scoped by the Redis generation (genSuffix). */
export const jobIds = {
  assemble: (bucket: string, what: string, gen?: string) => `as-${bucket}-${what}${genSuffix(gen)}`,
  apply: (reviewKey: string, gen?: string) => `ap-${reviewKey}${genSuffix(gen)}`,
  analyse: (reviewKey: string, gen?: string) => `an-${reviewKey}${genSuffix(gen)}`,
  report: (reviewKey: string, gen?: string) => `rp-${reviewKey}${genSuffix(gen)}`,
  send: (replyKey: string) => `sd-${replyKey}`,
  verify: (reviewKey: string, gen?: string) => `vf-${reviewKey}${genSuffix(gen)}`,
  /** One job per PR head: the pushes of a burst each get their own, and only the newest does anything. */
  githubPr: (prKey: string, headSha: string) => `gh-${prKey}-${headSha.slice(0, 16)}`,
  /**
   * One job per PR comment, not per delivery: a comment is created once, so a
   * captured delivery replayed under a fresh X-GitHub-Delivery finds its job
   * (kept for a week) and runs nothing again.
   */
  githubCommand: (prKey: string, commentId: number) => `gc-${prKey}-${commentId}`,
  githubReport: (reviewKey: string) => `gr-${reviewKey}`,
  follow: (kind: string, list: string, path?: string) =>
    `fo-${kind}-${hashOf(`${list}\0${path ?? ''}`, 12)}`,
};

/** Build and boot one review's patched kernel (service verify queue). */
export interface VerifyJob {
  reviewKey: string;
  generation?: string;
  /** Scenarios a maintainer asked for; else the configured ones. */
  scenarios?: string[];
}
