// The review result and the report. A ReviewResult is one reviewed series,
// platform-neutral: made by reviewResult() (result.ts), the same in `pcibot
// review` and in the service, and rendered by the sinks (terminal, Markdown,
// JSON, mail). A ReviewReport is what `pcibot review` reviewed in one run: its
// series' ReviewResults plus the run's accounting. `pcibot review --json`
// prints the report; the schema is versioned, fields are only ever added
// within a version. Documented in docs/review-json.md.
import type { ModelBeforeAfter } from '../../rules/series/model-before-after/check.js';
import type { VerifyOutcome } from '../../bot/verify/series.js';
import type { VerifyDecision } from '../../bot/verify/when.js';
import type {
  Address,
  Applied,
  Disposition,
  Finding,
  Origin,
  ParseFailure,
  PatchApplyStatus,
  ScopeDecision,
  Severity,
  SupersededSeries,
} from '../../bot/types.js';

export const REVIEW_SCHEMA = 'pcibot/review@1';

/** A finding as a review reports it: the Finding, with what sinks need to place and track it. */
export interface ReportedFinding extends Finding {
  /**
   * Stable across versions of a series and re-pushes: a hash of the rule, the
   * file, the title and the finding's position among equal ones; not of lines
   * or patch numbers, which move. GitHub comments are updated by it.
   */
  fingerprint: string;
  /**
   * For a patch finding with a line: that line in the tree with the whole
   * series applied (`line` is in the tree after its own patch); null when a
   * later patch rewrote the line or the patch did not apply. Absent when the
   * finding has no line or the series was not applied.
   */
  headLine?: number | null;
}

/** What identifies a finding from one version of a series to the next. */
export type FindingIdentity = Pick<Finding, 'rule' | 'file' | 'title'>;

/** The filter a result was made with, and what it left out. */
export interface ResultFilter {
  /**
   * Findings below this severity are not reported, and when no finding
   * reaches it nothing is (quiet by default); model and verify findings
   * about the series ride along once something is reported.
   */
  minSeverity: Severity;
  /** Rules silenced (`pcibot: quiet <rule>`); `*` (the whole thread) silences mail, not findings. */
  quiet: string[];
  /** Findings not reported: of a quiet rule, or below minSeverity (or alone below it). */
  dropped: { quiet: number; belowMinSeverity: number };
}

export interface PatchReport {
  index: number;
  messageId: string;
  /** The mail's subject, tags included. */
  subject: string;
  /** The subject without `[PATCH ...]` tags: the commit title. */
  title: string;
  /** null when the series was not applied (out of scope, no tree). */
  apply: {
    status: PatchApplyStatus;
    detail?: string;
    conflicts?: Applied['patches'][number]['conflicts'];
    /** Hunks git applied away from their header (`HunkLanding`: where each one landed). */
    landed?: Applied['patches'][number]['landed'];
    /** Earlier patches of the series this one was applied (or tried) without. */
    without?: number[];
    /** Of those, the ones it was likely written on. */
    builtOn?: number[];
  } | null;
  findings: ReportedFinding[];
}

/** Something that went wrong for one series, and at which stage; the rest of the batch went on. */
export interface SeriesError {
  stage: 'assemble' | 'scope' | 'apply' | 'analyse' | 'verify';
  /** The patch it concerns, when it concerns one. */
  patch?: number;
  reason: string;
}

/** One reviewed (or skipped) series: what every sink renders. */
export interface ReviewResult {
  id: string;
  title: string;
  version: number;
  rfc: boolean;
  author: Address;
  cover: { messageId: string; subject: string } | null;
  expected: number | null;
  received: number;
  missing: number[];
  complete: boolean;
  supersedes: SupersededSeries[];
  baseCommit: string | null;
  scope: ScopeDecision;
  status: 'reviewed' | 'skipped';
  /** Base the series was applied to; null when not applied. */
  base: Applied['base'] | null;
  /**
   * Patches of the series whose change is not in the patched tree the findings
   * about the series (the model's before/after, verify) were computed on: they
   * did not apply, or are not in the input. Absent when there are none or the
   * series was not applied.
   */
  without?: { index: number; why: 'did not apply' | 'not in the input' }[];
  patches: PatchReport[];
  /** Findings about the series as a whole (e.g. the model's before/after). */
  findings: ReportedFinding[];
  /** When verified: what was built and booted, per scenario and page size; null otherwise. */
  verify: Omit<VerifyOutcome, 'findings'> | null;
  /** Whether the series was to be verified, and why (bot/verify/when.ts); null when skipped. */
  verifyDecision: VerifyDecision | null;
  /** Reported findings by severity (series and patches). */
  counts: { error: number; warning: number; info: number };
  filter: ResultFilter;
  /**
   * The model's before/after as data (the table, every scenario run, the
   * layouts before and after); null when the policy did not change.
   */
  model: ModelBeforeAfter | null;
  /** The messages the review is of: cover letter, patches, and the older versions it supersedes. */
  messages: {
    messageId: string;
    role: 'cover' | 'patch' | 'superseded';
    version: number;
    index?: number;
  }[];
  /** Findings of the previous reviewed version that this one no longer has; null when none was reviewed. */
  fixed: { version: number; findings: FindingIdentity[] } | null;
  /** pcibot's own problems while reviewing this series (a rule that crashed); never findings. */
  internalErrors: string[];
  /** What assembly had to guess or work around (unthreaded patches, two different 2/5, ...); absent when nothing. */
  warnings?: string[];
  /**
   * What went wrong for this series (refused by a limit, a stage that failed);
   * absent when nothing did. A series with errors may be partly reviewed.
   */
  errors?: SeriesError[];
}

/** The name the JSON schema has always used for a series entry. */
export type SeriesReport = ReviewResult;

export interface MessageAccount {
  messageId: string | null;
  subject: string | null;
  origin: Origin;
  disposition: Disposition;
  /**
   * What became of it, in words (workers/report/accounting.ts): "patch 2/8 of
   * "PCI: Align small BARs" v3", "reply to <id>, which is not in the input",
   * "superseded by v3 ("...") : title changed: ...", "unreadable: ...".
   */
  reason: string;
  /** Parse warnings (MIME too deep, truncated base64, unknown charset, ...); absent when none. */
  warnings?: string[];
}

export interface ReviewReport {
  schema: typeof REVIEW_SCHEMA;
  tool: { name: 'pcibot'; version: string };
  /** The kernel tree reviewed against; null when run without one. */
  tree: { path: string; head: string } | null;
  inputs: string[];
  summary: {
    messages: number;
    series: number;
    /** Why there is no series ("1 reply, no patches in the input"); absent when there is one. */
    noSeries?: string;
    reviewed: number;
    skipped: number;
    failed: number;
    findings: { error: number; warning: number; info: number };
  };
  series: SeriesReport[];
  /** Every message given, and what became of it. */
  messages: MessageAccount[];
  failures: ParseFailure[];
  /** pcibot's own problems (a rule that crashed); never findings about the patch. */
  internalErrors: { stage: string; series?: string; detail: string }[];
  timing: Record<string, number>;
}
