// The data the pipeline stages hand to each other. Every type here is plain,
// JSON-serialisable data (no classes, Buffers, Maps or bigints) so that the same
// stage functions run in one process (`pcibot review`) and as BullMQ jobs whose
// input and output go through Redis. Beside the types, the few definitions that
// belong to the data itself: the severity order and a patch's number.

export type Severity = 'error' | 'warning' | 'info';

/** Severity order, most severe first: the one ranking every stage and sink uses. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

/** Whether `s` is `min` or more severe (`atLeast('error', 'warning')` is true). */
export const atLeast = (s: Severity, min: Severity): boolean =>
  SEVERITY_RANK[s] <= SEVERITY_RANK[min];

/** Sort comparator: most severe first (stable sorts keep the order within a severity). */
export const bySeverity = (a: { severity: Severity }, b: { severity: Severity }): number =>
  SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];

/** Where a message came from, precise enough to find it again by hand. */
export interface Origin {
  kind: 'eml' | 'mbox' | 'maildir' | 'stdin' | 'lore' | 'github' | 'seed';
  /** The file (or Maildir entry, or lore repository) the message was read from. */
  file: string;
  /** 1-based position of the message inside an mbox (or stdin stream). */
  index?: number;
  /** 1-based line in the mbox where the message's "From " line is. */
  line?: number;
  /** Byte offset of the message inside the mbox. */
  offset?: number;
  /** lore: the epoch repository commit the message came from. */
  commit?: string;
}

/** A message as read from its source, before any parsing. */
export interface RawMail {
  origin: Origin;
  /**
   * The message bytes, as a "binary" (latin1) string: one char per byte, so it
   * round-trips exactly through JSON and Buffer.from(raw, 'latin1').
   */
  raw: string;
}

export interface Address {
  name: string;
  address: string;
}

/** What the bracketed part of a subject says: `[RFC PATCH v3 2/8]`, `[PATCH net-next]`. */
export interface SubjectTags {
  /** Every token found in the leading bracket groups, in order. */
  prefixes: string[];
  /** The subject carries PATCH (or RFC/RESEND with a patch-like counter). */
  isPatch: boolean;
  rfc: boolean;
  resend: boolean;
  /** 1 when no vN is given. */
  version: number;
  /** M of M/N, or null for a lone `[PATCH]`. */
  index: number | null;
  /** N of M/N, or null. */
  total: number | null;
  /** Tokens that are none of the above, e.g. `net-next`, `pci/next`, `6.12`. */
  treeTags: string[];
  /** The subject starts with Re:/Fwd:/Aw:/Sv: and friends (a reply, never a patch). */
  isReply: boolean;
  /** The subject with the reply markers and bracket groups removed. */
  title: string;
}

export interface Trailer {
  key: string;
  value: string;
  /** 1-based line within Message.commitMessage. */
  line: number;
}

export interface Prerequisite {
  kind: 'patch-id' | 'change-id' | 'message-id' | 'base-commit' | 'other';
  value: string;
}

/** A parsed mail. Messages that are not patches (covers, replies) are Messages too. */
export interface Message {
  origin: Origin;
  /** Without the angle brackets. Synthesised (and flagged in warnings) when missing. */
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  /** The decoded subject, folded lines joined. */
  subject: string;
  tags: SubjectTags;
  from: Address;
  to: Address[];
  cc: Address[];
  /** ISO 8601, or null when the Date header is missing or unreadable. */
  date: string | null;
  /** The text/plain body, decoded (transfer encoding, charset), as the reader sees it. */
  body: string;
  /** The commit message: body up to the `---` separator (or the diff), trailers included. */
  commitMessage: string;
  /**
   * The patch (everything git apply needs: from the first `diff --git`/`---`/`+++`
   * header to the end of the last hunk), decoded from the transfer encoding and
   * charset but never reflowed. null when the message carries no diff.
   */
  diff: string | null;
  /** 1-based line in `body` where the diff starts (to map findings back to the mail). */
  diffLine: number | null;
  trailers: Trailer[];
  baseCommit: string | null;
  changeId: string | null;
  prerequisites: Prerequisite[];
  /** Oddities that did not stop parsing (missing Message-ID, undecodable charset, ...). */
  warnings: string[];
}

/** A message that could not be parsed at all, with why. */
export interface ParseFailure {
  origin: Origin;
  reason: string;
  /** The Message-ID, when the headers got that far. */
  messageId?: string;
  subject?: string;
}

/**
 * The number of a patch in its series: M of `[PATCH M/N]`, else its 1-based
 * position (a lone `[PATCH]` is patch 1). Findings, apply results, replies and
 * job ids all use this number.
 */
export const patchIndex = (patch: Pick<Message, 'tags'>, pos: number): number =>
  patch.tags.index ?? pos + 1;

export interface Series {
  /** Stable id: derived from the cover letter's (else first patch's) Message-ID. */
  id: string;
  title: string;
  version: number;
  rfc: boolean;
  resend: boolean;
  author: Address;
  cover: Message | null;
  /** Ordered by index; a lone [PATCH] is index 1 of 1. */
  patches: Message[];
  /** N from the subjects, or null for a lone patch. */
  expected: number | null;
  /** Indexes 1..N that did not arrive. */
  missing: number[];
  complete: boolean;
  baseCommit: string | null;
  changeId: string | null;
  /** Older versions of the same series found in the same input. */
  supersedes: SupersededSeries[];
  /** Replies in the thread (never treated as patches). */
  replies: string[];
  /** What assembly had to guess or work around (unthreaded patches, duplicate indexes, ...). */
  warnings?: string[];
  /**
   * Why the series is not to be applied or reviewed although it was assembled
   * (more patches than maxPatchesPerSeries); absent when it may be.
   */
  refused?: string;
}

export interface SupersededSeries {
  id: string;
  version: number;
  messageIds: string[];
  /**
   * Why it is an older version of this series: the links from it to this one
   * (same change-id, same author and title, a title its changelog says was
   * renamed, the same change at the version before), each with its evidence.
   */
  reason: string;
}

export type Disposition =
  | { kind: 'patch'; seriesId: string; index: number }
  | { kind: 'cover'; seriesId: string }
  /**
   * A reply, or another message in a patch thread: `seriesId` is the posting
   * of its thread (a superseded one's own id), null when none is in the input;
   * `reason` says which thread, or why none (what it answers is not in the input).
   */
  | { kind: 'reply'; seriesId: string | null; reason: string }
  /** An older version of the series `seriesId` (version `byVersion`), and why it is one. */
  | { kind: 'superseded'; seriesId: string; byVersion: number; reason: string }
  | { kind: 'not-a-patch'; reason: string }
  | { kind: 'duplicate'; of: string }
  /** Another message with the same Message-ID but other content came first; this one is not used. */
  | { kind: 'id-conflict'; of: string; reason: string }
  | { kind: 'failed'; reason: string };

/** Result of assembling a batch of messages: every message is accounted for. */
export interface Assembly {
  series: Series[];
  /**
   * The older versions the series supersede, assembled (a reviewer may
   * review the previous one to say what the new one fixed); absent when none.
   */
  superseded?: Series[];
  /** For each input message (by Message-ID, or origin for failures), what became of it. */
  accounting: {
    messageId: string | null;
    origin: Origin;
    subject: string | null;
    disposition: Disposition;
    /** Parse warnings of the message (MIME too deep, undecodable charset, ...), when any. */
    warnings?: string[];
  }[];
}

export interface ScopeDecision {
  seriesId: string;
  inScope: boolean;
  /** Why: the paths that put it in scope, or why it is out. */
  reason: string;
  paths: string[];
}

export type PatchApplyStatus =
  'applied' | 'applied-3way' | 'already-applied' | 'conflict' | 'malformed' | 'not-attempted';

export interface ApplyConflict {
  file: string;
  /** The hunk header, e.g. `@@ -120,7 +120,8 @@ static int foo(void)`. */
  hunk?: string;
  /**
   * The line of the tree (before the patch) that did not match: the first
   * mismatch where the hunk's preimage matches best; git's expected line when
   * nothing matches.
   */
  line?: number;
  /** What git said, one line. */
  reason: string;
}

/**
 * Where a hunk landed when that is not where its header says: git applied it at
 * an offset (the context had moved), or a 3-way merge placed it. Hunks that are
 * not listed landed at their header.
 */
export interface HunkLanding {
  /** The file of the hunk's section (its new path; the old one for a deletion). */
  file: string;
  /** 1-based line of the hunk's `@@` header in the patch's diff (Message.diff). */
  diffLine: number;
  /** First line of the hunk's old side in the tree before the patch. */
  oldStart: number;
  /** First line of its new side in the tree after the patch. */
  newStart: number;
  /** newStart less the header's: lines below (negative: above) where the header says. */
  offset: number;
}

/** A patch that does not apply found already in the tree: by its commit, or by its content. */
export interface UpstreamMatch {
  /**
   * patch-id: a commit on the branch has the same patch-id; subject: one has the
   * same subject; content: the added lines are in the tree (and the removed
   * ones gone); partial: some of the rarer added lines are there, reworked.
   */
  how: 'patch-id' | 'subject' | 'content' | 'partial';
  /** The commit (patch-id, subject), abbreviated to 12. */
  commit?: string;
  /** Where the added lines were found (content, partial). */
  where?: { file: string; lines: number[]; found: number; of: number }[];
  /** One sentence, as the report says it. */
  text: string;
}

export interface PatchApplyResult {
  index: number;
  messageId: string;
  status: PatchApplyStatus;
  /** Paths the patch touches (as written in the diff, validated). */
  files: string[];
  /** Human-readable detail: for conflicts, what did not match; for malformed, what is wrong. */
  detail?: string;
  conflicts?: ApplyConflict[];
  /** Hunks that landed away from their header (applied patches only; see HunkLanding). */
  landed?: HunkLanding[];
  /** Earlier patches of the series that did not apply: this one was applied (or tried) without them. */
  without?: number[];
  /** Of `without`, the ones this patch was likely written on (its preimage blob is their postimage). */
  builtOn?: number[];
  /** A patch that does not apply, found already upstream (then its status is already-applied) or partly. */
  upstream?: UpstreamMatch;
}

/**
 * Changed paths after applying: path -> blob id (null = deleted). A blob is either in
 * the tree's repository or one applying made, carried in `Applied.objects`.
 */
export type TreeOverlay = Record<string, string | null>;

/**
 * The blobs applying made (never written to the tree's repository), carried with
 * the Applied state so any process can read the patched files: the contents in
 * `blobs` order, concatenated, brotli-compressed, base64. A process that got the
 * Applied state as JSON calls adoptApplied() (bot/tree/objects.ts) before reading.
 */
export interface AppliedObjects {
  encoding: 'brotli-concat-base64';
  /** [blob id, size in bytes], in the order of `data`. */
  blobs: [string, number][];
  data: string;
}

export interface Applied {
  tree: string;
  base: {
    commit: string;
    how: 'base-commit' | 'branch' | 'head';
    ref?: string;
    /** e.g. "base-commit 1234abcd not in the tree; used master". */
    note?: string;
  };
  patches: PatchApplyResult[];
  /** The patched state as an overlay over the base commit (all applied patches). */
  overlay: TreeOverlay;
  /** Per patch, the overlay after that patch (for rules that read the tree at that point). */
  overlays: TreeOverlay[];
  /** Mode of every file in `overlay` (100644, 100755, 120000 = symlink). */
  modes?: Record<string, string>;
  /** Blobs of the overlays that are not in the tree's repository (see AppliedObjects). */
  objects?: AppliedObjects;
}

export interface Finding {
  /** Rule id (e.g. `new-kernel-parameter`) or `model/<check>`. */
  rule: string;
  severity: Severity;
  title: string;
  /** One or two sentences a maintainer would sign: what and why it matters. */
  detail: string;
  /** 1-based patch index in the series; absent for series-level findings. */
  patch?: number;
  file?: string;
  /**
   * Line in the tree after the patch: where the patch landed, which is not
   * where its hunk headers say when git applied it at an offset.
   */
  line?: number;
  /** The same line as the patch's hunk headers number it (where the mail shows it), when it differs. */
  mailLine?: number;
  /** Facts behind the finding (addresses, page, devices, scenario, the matched text). */
  evidence: Record<string, unknown>;
  references: string[];
}
