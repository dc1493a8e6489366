// What a review rule is and what it is given. A rule is one file in rules/ that
// default-exports a `Rule`; it reads the series, the patch, its commit message,
// its parsed diff and (read-only) the kernel tree before and after the patch,
// and returns findings. Rules never run code from the patch and never trust
// paths in it: tree access goes through TreeReader, which only reads git objects.
import type { File as DiffFile } from 'parse-diff';
import type { TreeReader } from '../bot/tree/reader.js';
import type { Message, Series, Severity } from '../bot/types.js';

export type { DiffFile, TreeReader };

export interface RuleContext {
  series: Series;
  patch: Message;
  /** 1-based index of the patch in the series. */
  index: number;
  /** The commit message (subject line first, then the body up to the `---`). */
  commitMessage: string;
  /** The patch's diff, parsed. Paths are as written in the diff (validated, never trusted). */
  diff: DiffFile[];
  /** The tree before this patch (base plus the series' earlier patches). */
  before: TreeReader;
  /** The tree with this patch applied; null when the patch did not apply. */
  after: TreeReader | null;
}

/** What a rule returns: a Finding without the fields the runner fills in. */
export interface RuleHit {
  title: string;
  detail: string;
  /** Defaults to the rule's severity; a rule may lower it for a weaker hit. */
  severity?: Severity;
  file?: string;
  /** Line on the new side of the diff. */
  line?: number;
  evidence?: Record<string, unknown>;
}

export interface Rule {
  /** kebab-case, stable: used in JSON output and in `pcibot: quiet <rule>`. */
  id: string;
  title: string;
  severity: Severity;
  /** Why maintainers care, in a sentence or two. */
  rationale: string;
  /** Threads, commits, spec sections the rule comes from. */
  references: string[];
  check(ctx: RuleContext): RuleHit[] | Promise<RuleHit[]>;
}
