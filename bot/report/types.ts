// The review report: what `pcibot review --json` prints and what the other
// formats are rendered from. The schema is versioned; fields are only ever
// added within a version. Documented in docs/review-json.md.
import type {
  Address,
  Applied,
  Disposition,
  Finding,
  Origin,
  ParseFailure,
  PatchApplyStatus,
  ScopeDecision,
  SupersededSeries,
} from '../types.js';

export const REVIEW_SCHEMA = 'pcibot/review@1';

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
  } | null;
  findings: Finding[];
}

/** Something that went wrong for one series, and at which stage; the rest of the batch went on. */
export interface SeriesError {
  stage: 'assemble' | 'scope' | 'apply' | 'analyse' | 'verify';
  /** The patch it concerns, when it concerns one. */
  patch?: number;
  reason: string;
}

export interface SeriesReport {
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
  patches: PatchReport[];
  /** Findings about the series as a whole (e.g. the model's before/after). */
  findings: Finding[];
  /** With --verify: what was built and booted, per scenario and page size; null otherwise. */
  verify: {
    seconds: number;
    scenarios: {
      name: string;
      arch: string;
      pageSize: number;
      status: 'measured' | 'boot-failed' | 'build-failed' | 'model-only';
      reason?: string;
    }[];
  } | null;
  /** What assembly had to guess or work around (unthreaded patches, two different 2/5, ...); absent when nothing. */
  warnings?: string[];
  /**
   * What went wrong for this series (refused by a limit, a stage that failed);
   * absent when nothing did. A series with errors may be partly reviewed.
   */
  errors?: SeriesError[];
}

export interface MessageAccount {
  messageId: string | null;
  subject: string | null;
  origin: Origin;
  disposition: Disposition;
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
