// How the reader reads a policy-carrying function, once for all of them. A
// Carrier (one entry of the table in fields.ts) names the file and the
// function(s), the fields they carry, how the code is recognised, the value
// assumed when the function is missing, and what "not found" and "not
// understood" say. readCarrier() is the one code path that finds the
// functions, records their shapes (the bodies with what was read masked, so
// that two trees can be compared on what the reader did not read) and says
// when a function is missing or is a shape the reader does not know.
import type { CDef, CSource } from '../c/source.js';
import type { Kconfig } from './kconfig.js';
import type { NoteField, PolicyField } from './paths.js';
import type { SourceSet } from './sources.js';
import type { FunctionShape, PciOption, PolicyNote } from './types.js';
import type { Arch } from '../vocabulary.js';

export interface ReadCtx {
  arch: Arch;
  src: SourceSet;
  notes: PolicyNote[];
  sources: Partial<Record<PolicyField, string>>;
  functions: Record<string, FunctionShape>;
  /** Paths the caller knows changed (the series' files): scanned for arch overrides and flags. */
  changedPaths: string[];
  kconfigs: Kconfig[];
  /** The pci= options of drivers/pci/pci.c (pci_setup()). */
  pciOptions: PciOption[];
}

export function shapeKey(file: string, name: string): string {
  return `${file}:${name}`;
}

/** A policy-carrying function as a recogniser sees it: its definitions, and the static functions it calls. */
export class FunctionView {
  private calleeViews: FunctionView[] | null = null;

  constructor(
    readonly file: string,
    readonly name: string,
    /** The file, or null when it is not in the tree. */
    readonly src: CSource | null,
    /** Its definitions (several under #ifdef), in file order; none when not found. */
    readonly defs: CDef[],
  ) {}

  get found(): boolean {
    return this.defs.length > 0;
  }

  /** 1-based line of the (first) definition's name. */
  get line(): number | undefined {
    return this.defs[0]?.line;
  }

  /** The normalised bodies of every definition, joined ('' when not found). */
  get norm(): string {
    const src = this.src;
    return src ? this.defs.map((d) => src.norm(d)).join(' ## ') : '';
  }

  /**
   * The static functions of the same file that this one calls, in the order
   * of their first call: where a refactor moves a policy's code (a body
   * split into a static helper). Not transitive: a callee's own callees()
   * go one step further.
   */
  callees(): FunctionView[] {
    const src = this.src;
    if (!src) return [];
    if (this.calleeViews) return this.calleeViews;
    const seen = new Set([this.name]);
    const out: FunctionView[] = [];
    for (const m of this.norm.matchAll(/\b([A-Za-z_]\w*)\(/g)) {
      const name = m[1]!;
      if (seen.has(name)) continue;
      seen.add(name);
      const defs = src
        .functions(name)
        .filter((d) => /\bstatic\b/.test(src.text.slice(d.headerStart, d.open)));
      if (defs.length) out.push(new FunctionView(this.file, name, src, defs));
    }
    return (this.calleeViews = out);
  }
}

/** One function a carrier reads. */
export interface FunctionSpec {
  name: string;
  /** The fields read from it (what its shape and a "not understood" note are about). */
  fields: readonly PolicyField[];
  /** Which definitions count (all by default; e.g. only strong ones, or the first). */
  select?: (d: CDef, index: number) => boolean;
}

/** What was read from one function, as its shape records it. */
export interface ShapeReading {
  /** The normalised body with what was read masked. */
  skeleton: string;
  /** The values read from it (recorded as JSON). */
  read: unknown;
  /** The whole body is a shape the reader knows: a change of value explains a change of body. */
  whole: boolean;
  /**
   * The value was read by meaning (through helpers, `else if` chains, reworded
   * conditions), so a different body that reads whole to the same value is a
   * restructure, not a change the reader does not understand.
   */
  byMeaning?: boolean;
}

/** A static function a recogniser read through its carrier's functions (a callee). */
export interface CalleeReading {
  fn: FunctionView;
  shape: ShapeReading;
}

/** What a recogniser made of a carrier's functions. */
export interface Recognised<T> {
  value: T;
  /** One per function of the carrier, in order (also for functions not found). */
  shapes: ShapeReading[];
  /**
   * The static helpers it read the policy through (a body moved into a
   * helper): recorded like the carrier's own functions, with the carrier's
   * fields, so that a later change to a helper is compared too.
   */
  callees?: CalleeReading[];
  /** false: the first function is not a shape the reader knows (the carrier's notUnderstood says so). */
  understood: boolean;
  /** Added to what notUnderstood says. */
  detail?: string;
}

export interface Carrier<T> {
  file: string;
  /** The functions read, the first being the one that carries the policy (the others may be absent). */
  functions: readonly FunctionSpec[];
  /** The value when the first function is missing: what the reader assumes (6.12's behaviour). */
  base: T;
  /** What the reading says when the first function is missing (absent: nothing). */
  missing?: (at: { file: string; inTree: boolean }) => string;
  /** Record the shapes of missing functions (default true: a function that appears is news). */
  recordMissing?: boolean;
  /** What the reading says when the first function is not understood (absent: nothing). */
  notUnderstood?: (fn: FunctionView, detail: string) => string;
  /** Read the functions, one view each in order (the first is found; the others may not be). */
  recognise(
    fns: [FunctionView, ...FunctionView[]],
    ctx: ReadCtx,
  ): Recognised<T> | Promise<Recognised<T>>;
}

/** Record the shape of a function (or variable) for comparing two readings. */
export function recordShape(
  ctx: ReadCtx,
  at: { file: string; name: string; found: boolean; line?: number | undefined },
  fields: readonly PolicyField[],
  shape: ShapeReading | null,
): void {
  ctx.functions[shapeKey(at.file, at.name)] = {
    file: at.file,
    name: at.name,
    found: at.found,
    ...(at.found && at.line !== undefined ? { line: at.line } : {}),
    skeleton: shape?.skeleton ?? '',
    value: JSON.stringify(shape?.read ?? null),
    recognised: shape?.whole ?? false,
    ...(shape?.byMeaning ? { byMeaning: true } : {}),
    fields: [...fields],
  };
}

/** Find a carrier's functions, recognise them, record their shapes, and say what was missing or not understood. */
export async function readCarrier<T>(ctx: ReadCtx, c: Carrier<T>): Promise<T> {
  const src = await ctx.src.c(c.file);
  const fns = c.functions.map((f) => {
    const defs = src ? src.functions(f.name) : [];
    return new FunctionView(c.file, f.name, src, f.select ? defs.filter(f.select) : defs);
  });
  const [first, ...rest] = fns;
  if (!first?.found) {
    // Nothing of the carrier is read: its other functions are recorded as not read either.
    if (c.recordMissing !== false)
      fns.forEach((fn, i) =>
        recordShape(
          ctx,
          { file: fn.file, name: fn.name, found: false },
          c.functions[i]!.fields,
          null,
        ),
      );
    if (c.missing) {
      const fields: NoteField[] = [...new Set(c.functions.flatMap((f) => f.fields))];
      ctx.notes.push({
        severity: 'info',
        message: c.missing({ file: c.file, inTree: src !== null }),
        file: c.file,
        fields,
      });
    }
    return structuredClone(c.base);
  }
  const r = await c.recognise([first, ...rest], ctx);
  fns.forEach((fn, i) => recordShape(ctx, fn, c.functions[i]!.fields, r.shapes[i] ?? null));
  const fields = [...new Set(c.functions.flatMap((f) => f.fields))];
  for (const x of r.callees ?? []) recordShape(ctx, x.fn, fields, x.shape);
  if (!r.understood && c.notUnderstood)
    ctx.notes.push({
      severity: 'info',
      message: c.notUnderstood(first, r.detail ?? ''),
      function: first.name,
      file: c.file,
      line: first.defs[0]!.line,
      fields: [...c.functions[0]!.fields],
    });
  return r.value;
}
