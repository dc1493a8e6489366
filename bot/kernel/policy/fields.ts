// The interpreters: each reads one part of KernelPolicy (or of the facts)
// from the functions that carry it, and records the shape of those functions
// so that two trees can be compared. An interpreter knows a few code shapes
// (the 6.12 tree, the fixture tree, the shapes patches have proposed); what it
// masks in a body is exactly what it read, so a change anywhere else in a
// policy-carrying function shows up as "not understood".
import type { DefaultAlignment, KernelPolicy } from '../model/policy.js';
import { skipStatement } from '../c/body.js';
import { skipBraces, skipParens } from '../c/lex.js';
import type { CDef, CSource } from '../c/source.js';
import { evalInt } from '../c/expr.js';
import { describeAlignment, evalAlignment } from './alignment.js';
import { boolDefault, evalCondition, type Kconfig } from './kconfig.js';
import type { SourceSet } from './sources.js';
import type { Arch } from '../vocabulary.js';
import type { PolicyField } from './paths.js';
import type { AlignmentSwitch, FunctionShape, PciOption, PolicyNote } from './types.js';

export const F = {
  pci: 'drivers/pci/pci.c',
  setupBus: 'drivers/pci/setup-bus.c',
  setupRes: 'drivers/pci/setup-res.c',
  probe: 'drivers/pci/probe.c',
  quirks: 'drivers/pci/quirks.c',
  pciKconfig: 'drivers/pci/Kconfig',
  portdrv: 'drivers/pci/pcie/portdrv.c',
  pciStub: 'drivers/pci/pci-stub.c',
  vfioCore: 'drivers/vfio/pci/vfio_pci_core.c',
  vfioPci: 'drivers/vfio/pci/vfio_pci.c',
  vfioKconfig: 'drivers/vfio/pci/Kconfig',
  vfioType1: 'drivers/vfio/vfio_iommu_type1.c',
  iommu: 'drivers/iommu/iommu.c',
  smmuV3: 'drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c',
  i386: 'arch/x86/pci/i386.c',
  pciIds: 'include/linux/pci_ids.h',
  makefile: 'Makefile',
} as const;

export interface ArchFiles {
  dir: string;
  kconfig: string;
  /** Where an arch's own pcibios_default_alignment() and PCI flags live. */
  pciFiles: string[];
  /** Platform code that may set a ppc_md hook. */
  platformFiles: string[];
  /** Arch fixups (non_mappable_bars). */
  fixupFiles: string[];
}

export const ARCH_FILES: Record<Arch, ArchFiles> = {
  x86_64: {
    dir: 'arch/x86/',
    kconfig: 'arch/x86/Kconfig',
    pciFiles: ['arch/x86/pci/common.c', 'arch/x86/pci/i386.c'],
    platformFiles: [],
    fixupFiles: ['arch/x86/pci/fixup.c'],
  },
  arm64: {
    dir: 'arch/arm64/',
    kconfig: 'arch/arm64/Kconfig',
    pciFiles: ['arch/arm64/kernel/pci.c'],
    platformFiles: [],
    fixupFiles: [],
  },
  ppc64: {
    dir: 'arch/powerpc/',
    kconfig: 'arch/powerpc/Kconfig',
    pciFiles: ['arch/powerpc/kernel/pci-common.c'],
    platformFiles: [
      'arch/powerpc/platforms/powernv/pci-ioda.c',
      'arch/powerpc/platforms/pseries/pci.c',
      'arch/powerpc/platforms/pseries/setup.c',
    ],
    fixupFiles: [],
  },
  s390x: {
    dir: 'arch/s390/',
    kconfig: 'arch/s390/Kconfig',
    pciFiles: ['arch/s390/pci/pci.c'],
    platformFiles: [],
    fixupFiles: ['arch/s390/pci/pci_fixup.c'],
  },
};

export interface ReadCtx {
  arch: Arch;
  src: SourceSet;
  notes: PolicyNote[];
  sources: Partial<Record<PolicyField, string>>;
  functions: Record<string, FunctionShape>;
  /** Paths the caller knows changed (the series' files): scanned for arch overrides and flags. */
  changedPaths: string[];
  kconfigs: Kconfig[];
}

// ---------------------------------------------------------------------------
// Shapes

export function shapeKey(file: string, name: string): string {
  return `${file}:${name}`;
}

function record(
  ctx: ReadCtx,
  file: string,
  name: string,
  src: CSource | null,
  defs: CDef[],
  skeleton: string,
  value: unknown,
  recognised: boolean,
  fields: PolicyField[],
): void {
  ctx.functions[shapeKey(file, name)] = {
    file,
    name,
    found: defs.length > 0,
    ...(defs.length && src ? { line: defs[0]!.line } : {}),
    skeleton,
    value: JSON.stringify(value ?? null),
    recognised,
    fields,
  };
}

/** Normalised bodies of every definition of a function, joined (several under #ifdef). */
function bodies(src: CSource, defs: CDef[]): string {
  return defs.map((d) => src.norm(d)).join(' ## ');
}

/** Track a function the model depends on but the reader does not interpret: any change is news. */
export async function trackOpaque(ctx: ReadCtx, file: string, names: string[]): Promise<void> {
  const src = await ctx.src.c(file);
  for (const name of names) {
    const defs = src ? src.functions(name) : [];
    record(ctx, file, name, src, defs, src ? bodies(src, defs) : '', null, false, []);
  }
}

/** Top-level statements of a normalised block's inside (preprocessor markers are statements too). */
function statements(inner: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < inner.length) {
    while (inner[i] === ' ') i++;
    if (i >= inner.length) break;
    if (inner[i] === '«') {
      const end = inner.indexOf('»', i);
      if (end < 0) return null;
      out.push(inner.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    const end = skipStatement(inner, i);
    if (end < 0) return null;
    out.push(inner.slice(i, end));
    i = end;
  }
  return out;
}

const inside = (norm: string) => norm.slice(1, -1);

// ---------------------------------------------------------------------------
// Conditions: Kconfig symbols and variables set by parameters

interface Switch {
  kind: AlignmentSwitch['kind'];
  name: string;
  on: boolean;
  where: string;
}

function kconfigEntry(ctx: ReadCtx, sym: string) {
  for (const k of ctx.kconfigs) {
    const e = k.entries.get(sym);
    if (e) return { entry: e, file: k.path };
  }
  return null;
}

/** Who sets a variable: a pci= option, a boot or module parameter. */
function setterOf(src: CSource, variable: string, pciOptions: PciOption[]): Omit<Switch, 'on'> {
  const opt = pciOptions.find((o) => o.targets.includes(variable));
  if (opt)
    return { kind: 'pci-option', name: `pci=${opt.name}`, where: `${src.path}: pci_setup()` };
  for (const m of src.text.matchAll(
    /^(__setup|early_param|core_param)\s*\(\s*"([^"]+)"\s*,\s*(\w+)/gm,
  )) {
    const fn = src.fn(m[3]!);
    if (fn && new RegExp(`\\b${variable}\\b`).test(src.body(fn))) {
      return { kind: 'boot-param', name: m[2]!.replace(/=$/, ''), where: `${src.path}: ${m[3]}()` };
    }
    if (m[1] === 'core_param' && m[3] === variable)
      return { kind: 'boot-param', name: m[2]!, where: src.path };
  }
  const mp = new RegExp(`^module_param(?:_named)?\\s*\\(\\s*(\\w+)\\s*,\\s*(\\w+)?`, 'm').exec(
    src.text,
  );
  if (mp && (mp[1] === variable || mp[2] === variable))
    return { kind: 'module-param', name: mp[1]!, where: src.path };
  return { kind: 'variable', name: variable, where: src.path };
}

/** Evaluate a condition with default settings: a Kconfig symbol or a file-scope variable. */
function evalSwitch(
  ctx: ReadCtx,
  src: CSource,
  cond: string,
  pciOptions: PciOption[],
): { value: boolean; sw: Switch; negated: boolean } | null {
  let c = cond.trim();
  let negated = false;
  while (c.startsWith('!')) {
    negated = !negated;
    c = c.slice(1);
  }
  while (/^\(.*\)$/.test(c)) c = c.slice(1, -1);
  let m = /^(?:IS_ENABLED|IS_BUILTIN|defined)\(CONFIG_(\w+)\)$/.exec(c) ?? /^CONFIG_(\w+)$/.exec(c);
  if (m) {
    const k = kconfigEntry(ctx, m[1]!);
    if (!k) return null;
    const on = boolDefault(k.entry, ctx.arch);
    if (on === null) return null;
    return {
      value: negated ? !on : on,
      negated,
      sw: { kind: 'kconfig', name: `CONFIG_${m[1]}`, on, where: `${k.file}:${k.entry.line}` },
    };
  }
  m = /^([A-Za-z_]\w*)$/.exec(c);
  if (m) {
    const init = src.initializer(m[1]!);
    if (init === null) return null;
    const v = init === 'true' ? 1 : init === 'false' ? 0 : evalInt(init, [src.macros()]);
    if (v === null) return null;
    const on = v !== 0;
    return { value: negated ? !on : on, negated, sw: { ...setterOf(src, m[1]!, pciOptions), on } };
  }
  return null;
}

// ---------------------------------------------------------------------------
// pci_setup(): the pci= options

export function readPciOptions(src: CSource | null): PciOption[] {
  return src ? src.memo('pci-options', () => pciOptionsOf(src)) : [];
}

function pciOptionsOf(src: CSource): PciOption[] {
  const def = src.fn('pci_setup');
  if (!def) return [];
  const norm = src.norm(def);
  const hits = [...norm.matchAll(/strn?cmp\(\w+,"([^"]+)"(?:,\d+)?\)/g)];
  const skip = new Set([
    'strcmp',
    'strncmp',
    'memparse',
    'simple_strtoul',
    'kstrtoint',
    'kstrtouint',
    'kstrtoul',
    'kstrtobool',
    'pr_info',
    'pr_err',
    'pr_warn',
    'str',
    'k',
    'next',
    'if',
    'while',
    'sizeof',
  ]);
  const byName = new Map<string, PciOption>();
  hits.forEach((h, i) => {
    const branch = norm.slice(h.index + h[0].length, hits[i + 1]?.index ?? norm.length);
    const targets = new Set<string>();
    for (const t of branch.matchAll(/([A-Za-z_]\w*)(?:\[[^\]]{0,80}\])?=(?!=)/g))
      targets.add(t[1]!);
    for (const t of branch.matchAll(/&([A-Za-z_]\w*)/g)) targets.add(t[1]!);
    for (const t of branch.matchAll(/\b([A-Za-z_]\w*)\(/g)) targets.add(t[1]!);
    for (const s of skip) targets.delete(s);
    const vars = [...targets].filter((t) => src.initializer(t) !== null);
    const usedIn = [...new Set(vars.flatMap((v) => src.functionsUsing(v, ['pci_setup'])))];
    const name = h[1]!.replace(/=$/, '');
    const prev = byName.get(name);
    if (prev) {
      prev.targets = [...new Set([...prev.targets, ...targets])];
      prev.usedIn = [...new Set([...prev.usedIn, ...usedIn])];
    } else byName.set(name, { name, targets: [...targets], usedIn });
  });
  return [...byName.values()];
}

// ---------------------------------------------------------------------------
// Default alignment

interface AlignInterp {
  value: DefaultAlignment | null;
  expr: string | null;
  switches: AlignmentSwitch[];
  /** ppc_md hook the function forwards to, if it does. */
  hook: string | null;
  recognised: boolean;
}

function returnExpr(stmt: string): string | null {
  const s = stmt.replace(/^\{(.*)\}$/, '$1');
  const m = /^return (.+);$/.exec(s) ?? /^return(\(.+\));$/.exec(s);
  return m ? m[1]! : null;
}

/** Interpret an alignment function (the weak default, an arch override, a platform hook). */
function interpretAlignFn(
  ctx: ReadCtx,
  src: CSource,
  def: CDef,
  pciOptions: PciOption[],
): AlignInterp {
  const none: AlignInterp = {
    value: null,
    expr: null,
    switches: [],
    hook: null,
    recognised: false,
  };
  const stmts = statements(inside(src.norm(def)));
  if (!stmts) return none;
  const macros = [src.macros()];
  const evalA = (e: string) => evalAlignment(e, macros);
  // return E;
  if (stmts.length === 1) {
    const e = returnExpr(stmts[0]!);
    if (e === null) return none;
    const v = evalA(e);
    return { value: v, expr: e, switches: [], hook: null, recognised: v !== null };
  }
  // if (ppc_md.HOOK) return ppc_md.HOOK(); return E;
  if (stmts.length === 2) {
    const hm = /^if\(ppc_md\.(\w+)\)\{?return ppc_md\.\1\(\);\}?$/.exec(stmts[0]!);
    const fallback = returnExpr(stmts[1]!);
    if (hm && fallback !== null) {
      const v = evalA(fallback);
      return { value: v, expr: fallback, switches: [], hook: hm[1]!, recognised: v !== null };
    }
  }
  // if (COND) return A; [else] return B;
  const ifElse = (first: string, rest: string[]): { cond: string; a: string; b: string } | null => {
    if (!first.startsWith('if(')) return null;
    const afterCond = skipParens(first, 2);
    if (afterCond < 0) return null;
    const cond = first.slice(3, afterCond - 1);
    let tail = first.slice(afterCond);
    let b: string | null = null;
    const elseAt = /(?:;|\})else /.exec(tail);
    if (elseAt) {
      b = returnExpr(tail.slice(elseAt.index + elseAt[0].length));
      tail = tail.slice(0, elseAt.index + 1);
    } else if (rest.length === 1) b = returnExpr(rest[0]!);
    const a = returnExpr(tail);
    return a !== null && b !== null ? { cond, a, b } : null;
  };
  let shape: { cond: string; a: string; b: string } | null = null;
  if (stmts.length === 2 || (stmts.length === 1 && stmts[0]!.includes('else'))) {
    shape = ifElse(stmts[0]!, stmts.slice(1));
  }
  // #ifdef/#if ... return A; #else return B; #endif  (or #ifdef X return A; #endif return B;)
  const pp = /^«#(ifdef|ifndef|if) (.+)»$/.exec(stmts[0] ?? '');
  if (!shape && pp) {
    const cond = pp[1] === 'ifndef' ? `!${pp[2]}` : pp[2]!.replace(/\s+/g, '');
    if (stmts.length === 5 && stmts[2] === '«#else»' && /^«#endif/.test(stmts[4]!)) {
      const a = returnExpr(stmts[1]!);
      const b = returnExpr(stmts[3]!);
      if (a !== null && b !== null) shape = { cond, a, b };
    } else if (stmts.length === 4 && /^«#endif/.test(stmts[2]!)) {
      const a = returnExpr(stmts[1]!);
      const b = returnExpr(stmts[3]!);
      if (a !== null && b !== null) shape = { cond, a, b };
    }
  }
  if (!shape) return none;
  const sw = evalSwitch(ctx, src, shape.cond.replace(/\s+/g, ''), pciOptions);
  const va = evalA(shape.a);
  const vb = evalA(shape.b);
  if (!sw || va === null || vb === null) return none;
  const chosen = sw.value ? shape.a : shape.b;
  // With the switch on, the condition is true unless negated.
  const whenOn = sw.negated ? vb : va;
  const whenOff = sw.negated ? va : vb;
  return {
    value: sw.value ? va : vb,
    expr: chosen,
    switches: [
      {
        kind: sw.sw.kind,
        name: sw.sw.name,
        onByDefault: sw.sw.on,
        whenOn,
        whenOff,
        where: sw.sw.where,
      },
    ],
    hook: null,
    recognised: true,
  };
}

export interface DefaultAlignmentResult {
  value: DefaultAlignment;
  expr: string | null;
  switches: AlignmentSwitch[];
  platforms: {
    platform: string;
    alignment: DefaultAlignment | null;
    function: string;
    file: string;
  }[];
}

export async function readDefaultAlignment(
  ctx: ReadCtx,
  pciOptions: PciOption[],
): Promise<DefaultAlignmentResult> {
  const field: PolicyField[] = ['defaultAlignment'];
  const pci = await ctx.src.c(F.pci);
  const weakDefs = pci ? pci.functions('pcibios_default_alignment') : [];
  let result: DefaultAlignmentResult = { value: 'zero', expr: null, switches: [], platforms: [] };
  let from = `${F.pci}: pcibios_default_alignment() (__weak)`;
  if (pci && weakDefs.length) {
    const it = interpretAlignFn(ctx, pci, weakDefs[0]!, pciOptions);
    record(
      ctx,
      F.pci,
      'pcibios_default_alignment',
      pci,
      weakDefs,
      it.recognised ? '@ALIGN@' : bodies(pci, weakDefs),
      it.value,
      it.recognised,
      field,
    );
    if (it.recognised && it.value !== null)
      result = { value: it.value, expr: it.expr, switches: it.switches, platforms: [] };
    else
      ctx.notes.push({
        severity: 'info',
        message: `pcibios_default_alignment() in ${F.pci} has a shape the reader does not know; default alignment taken as 0`,
        function: 'pcibios_default_alignment',
        file: F.pci,
        line: weakDefs[0]!.line,
        fields: field,
      });
  } else {
    record(ctx, F.pci, 'pcibios_default_alignment', pci, [], '', null, false, field);
    ctx.notes.push({
      severity: 'info',
      message: `pcibios_default_alignment() not found in ${F.pci}; default alignment taken as 0`,
      file: F.pci,
      fields: field,
    });
  }

  // An architecture's own (strong) definition replaces the weak one.
  const af = ARCH_FILES[ctx.arch];
  const archFiles = [
    ...new Set([
      ...af.pciFiles,
      ...ctx.changedPaths.filter((p) => p.startsWith(af.dir) && p.endsWith('.c')),
    ]),
  ];
  for (const file of archFiles) {
    const src = await ctx.src.c(file);
    const defs = src ? src.functions('pcibios_default_alignment').filter((d) => !d.weak) : [];
    if (!src || !defs.length) {
      if (af.pciFiles.includes(file))
        record(ctx, file, 'pcibios_default_alignment', src, [], '', null, false, field);
      continue;
    }
    const it = interpretAlignFn(ctx, src, defs[0]!, pciOptions);
    from = `${file}: pcibios_default_alignment()`;
    if (it.hook) {
      // ppc: forwards to ppc_md.<hook>, which a platform may set.
      const platforms: DefaultAlignmentResult['platforms'] = [];
      for (const pf of af.platformFiles) {
        const ps = await ctx.src.c(pf);
        if (!ps || !ps.text.includes(`ppc_md.${it.hook}`)) continue;
        // [ \t]*, not \s*: at every line start \s* would run on across the blank lines.
        for (const m of ps.text.matchAll(
          new RegExp(`^[ \\t]*ppc_md\\.${it.hook}[ \\t]*=[ \\t]*(\\w+)[ \\t]*;`, 'gm'),
        )) {
          const fn = ps.fn(m[1]!);
          const v = fn ? interpretAlignFn(ctx, ps, fn, pciOptions) : null;
          const platform = /platforms\/([^/]+)\//.exec(pf)?.[1] ?? pf;
          platforms.push({ platform, alignment: v?.value ?? null, function: m[1]!, file: pf });
          record(
            ctx,
            pf,
            m[1]!,
            ps,
            fn ? [fn] : [],
            v?.recognised ? '@ALIGN@' : fn ? bodies(ps, [fn]) : '',
            v?.value,
            v?.recognised ?? false,
            [],
          );
        }
      }
      record(
        ctx,
        file,
        'pcibios_default_alignment',
        src,
        defs,
        it.recognised ? `@HOOK:${it.hook}@` : bodies(src, defs),
        it.value,
        it.recognised,
        field,
      );
      // The QEMU machine (pseries) sets no hook: the fallback applies; say what PowerNV does.
      const pseries = platforms.find((p) => p.platform === 'pseries');
      const value = pseries?.alignment ?? it.value;
      if (value !== null)
        result = { value, expr: pseries ? null : it.expr, switches: [], platforms };
      for (const p of platforms.filter((x) => x.platform !== 'pseries'))
        ctx.notes.push({
          severity: 'info',
          message:
            `${p.platform === 'powernv' ? 'PowerNV' : p.platform} sets ppc_md.${it.hook} = ${p.function}() ` +
            `(${p.file}), which returns ${p.alignment ? describeAlignment(p.alignment) : 'something the reader does not know'}` +
            (p.alignment === 'page' ? ' (64 KiB on Book3S)' : '') +
            `; this policy is pseries' (the QEMU machine), where no hook is set and ${file} returns ${describeAlignment(result.value)}`,
          function: p.function,
          file: p.file,
          fields: field,
        });
    } else {
      record(
        ctx,
        file,
        'pcibios_default_alignment',
        src,
        defs,
        it.recognised ? '@ALIGN@' : bodies(src, defs),
        it.value,
        it.recognised,
        field,
      );
      if (it.recognised && it.value !== null)
        result = { value: it.value, expr: it.expr, switches: it.switches, platforms: [] };
    }
  }
  ctx.sources['defaultAlignment'] = from;
  return result;
}

// ---------------------------------------------------------------------------
// pci=resource_alignment= and the two alignment methods

type Method = 'resize' | 'startalign';

function blockMethod(block: string): Method | null {
  if (/IORESOURCE_STARTALIGN/.test(block) && /\|=IORESOURCE_STARTALIGN/.test(block))
    return 'startalign';
  if (/->end=\w+-1;/.test(block)) return 'resize';
  return null;
}

/** Find `if(resize){A}else{B}` (or negated) in a normalised body. */
function findMethodSwitch(
  norm: string,
): { start: number; end: number; whenTrue: Method; whenFalse: Method } | null {
  for (const m of norm.matchAll(/\bif\((!?)(\w+)\)\{/g)) {
    const blockStart = m.index + m[0].length - 1;
    const aEnd = skipBraces(norm, blockStart);
    if (aEnd < 0 || !norm.startsWith('else{', aEnd)) continue;
    const bEnd = skipBraces(norm, aEnd + 4);
    if (bEnd < 0) continue;
    const a = blockMethod(norm.slice(blockStart, aEnd));
    const b = blockMethod(norm.slice(aEnd + 4, bEnd));
    if (!a || !b || a === b) continue;
    const neg = m[1] === '!';
    return { start: m.index, end: bEnd, whenTrue: neg ? b : a, whenFalse: neg ? a : b };
  }
  return null;
}

export interface ResourceAlignmentResult {
  supported: boolean;
  namedMethod: Method;
  defaultMethod: Method;
  syntax: string[];
  probeOnly: 'parameter-only' | 'all' | 'none' | 'unknown';
  /** Kconfig symbols the alignment functions test, with their default for this arch. */
  kconfig: { symbol: string; onByDefault: boolean | null }[];
}

export async function readResourceAlignment(
  ctx: ReadCtx,
  pciOptions: PciOption[],
): Promise<ResourceAlignmentResult> {
  const field: PolicyField[] = ['resourceAlignment'];
  const pci = await ctx.src.c(F.pci);
  const out: ResourceAlignmentResult = {
    supported: pciOptions.some((o) => o.name === 'resource_alignment'),
    namedMethod: 'resize',
    defaultMethod: 'startalign',
    syntax: [],
    probeOnly: 'unknown',
    kconfig: [],
  };
  // pci_request_resource_alignment(): which branch resizes, which sets STARTALIGN.
  const reqDefs = pci ? pci.functions('pci_request_resource_alignment') : [];
  let methods: { whenTrue: Method; whenFalse: Method } | null = null;
  if (pci && reqDefs.length) {
    const norm = bodies(pci, reqDefs);
    const sw = findMethodSwitch(norm);
    methods = sw;
    record(
      ctx,
      F.pci,
      'pci_request_resource_alignment',
      pci,
      reqDefs,
      sw ? norm.slice(0, sw.start) + '@METHOD@' + norm.slice(sw.end) : norm,
      sw ? { whenTrue: sw.whenTrue, whenFalse: sw.whenFalse } : null,
      false,
      field,
    );
  } else record(ctx, F.pci, 'pci_request_resource_alignment', pci, [], '', null, false, field);

  // pci_specified_resource_alignment(): named devices set *resize; PROBE_ONLY; syntax.
  const specDefs = pci ? pci.functions('pci_specified_resource_alignment') : [];
  let namedResize: boolean | null = null;
  if (pci && specDefs.length) {
    const norm = bodies(pci, specDefs);
    const rs = [...norm.matchAll(/\*(\w+)=(true|false|1|0);/g)];
    if (rs.length === 1) namedResize = rs[0]![2] === 'true' || rs[0]![2] === '1';
    const masked = norm.replace(/\*(\w+)=(true|false|1|0);/g, '*$1=@R@;');
    record(
      ctx,
      F.pci,
      'pci_specified_resource_alignment',
      pci,
      specDefs,
      masked,
      { namedResize },
      false,
      field,
    );
    const syntax: string[] = [];
    if (/"%d%n"/.test(norm) && /'@'/.test(norm)) syntax.push('<order>@');
    if (/pci_dev_str_match\(/.test(norm))
      syntax.push(
        '[<domain>:]<bus>:<dev>.<fn>[/<dev>.<fn>]*',
        'pci:<vendor>:<device>[:<subvendor>:<subdevice>]',
      );
    if (/"all"/.test(norm)) syntax.push('all');
    out.syntax = syntax;
    const empty = /if\(!(\w+)\|\|!\*\1\)(?:goto \w+|\{)/.exec(norm)?.index ?? -1;
    const probe = norm.indexOf('PCI_PROBE_ONLY');
    out.probeOnly =
      probe < 0 ? 'none' : empty < 0 ? 'unknown' : probe > empty ? 'parameter-only' : 'all';
  } else record(ctx, F.pci, 'pci_specified_resource_alignment', pci, [], '', null, false, field);

  // pci_reassigndev_resource_alignment(): resize starts false (the arch default is not "named").
  const reDefs = pci ? pci.functions('pci_reassigndev_resource_alignment') : [];
  let defaultResize: boolean | null = null;
  if (pci && reDefs.length) {
    const norm = bodies(pci, reDefs);
    const m = /\bbool (\w+)=(true|false);/.exec(norm);
    if (m) defaultResize = m[2] === 'true';
    const masked = norm.replace(/\bbool (\w+)=(true|false);/, 'bool $1=@R@;');
    record(
      ctx,
      F.pci,
      'pci_reassigndev_resource_alignment',
      pci,
      reDefs,
      masked,
      { defaultResize },
      false,
      field,
    );
  } else record(ctx, F.pci, 'pci_reassigndev_resource_alignment', pci, [], '', null, false, field);

  if (methods) {
    out.namedMethod = (namedResize ?? true) ? methods.whenTrue : methods.whenFalse;
    out.defaultMethod = (defaultResize ?? false) ? methods.whenTrue : methods.whenFalse;
  } else {
    ctx.notes.push({
      severity: 'info',
      message: `the resize/STARTALIGN choice was not found in pci_request_resource_alignment() (${F.pci}); the 6.12 methods are assumed`,
      function: 'pci_request_resource_alignment',
      file: F.pci,
      fields: field,
    });
  }
  // Kconfig symbols anywhere on the alignment path.
  if (pci) {
    const syms = new Set<string>();
    for (const name of [
      'pcibios_default_alignment',
      'pci_specified_resource_alignment',
      'pci_request_resource_alignment',
      'pci_reassigndev_resource_alignment',
    ])
      for (const d of pci.functions(name))
        for (const m of pci.body(d).matchAll(/\bCONFIG_(\w+)/g)) syms.add(m[1]!);
    out.kconfig = [...syms].sort().map((sym) => {
      const k = kconfigEntry(ctx, sym);
      return { symbol: `CONFIG_${sym}`, onByDefault: k ? boolDefault(k.entry, ctx.arch) : null };
    });
  }
  ctx.sources['resourceAlignment'] =
    `${F.pci}: pci_setup() "resource_alignment=", pci_specified_resource_alignment(), pci_request_resource_alignment(), pci_reassigndev_resource_alignment()`;
  return out;
}

// ---------------------------------------------------------------------------
// x86: does the claim pass drop a STARTALIGN start?

export async function readX86Claim(ctx: ReadCtx): Promise<boolean> {
  const field: PolicyField[] = ['x86ClaimDropsStartAlign'];
  const src = await ctx.src.c(F.i386);
  const defs = src ? src.functions('pcibios_allocate_dev_resources') : [];
  ctx.sources['x86ClaimDropsStartAlign'] = `${F.i386}: pcibios_allocate_dev_resources()`;
  if (!src || !defs.length) {
    record(ctx, F.i386, 'pcibios_allocate_dev_resources', src, [], '', null, false, field);
    ctx.notes.push({
      severity: 'info',
      message: `pcibios_allocate_dev_resources() not found in ${F.i386}; the x86 claim pass is assumed to drop STARTALIGN starts (as in 6.12)`,
      file: F.i386,
      fields: field,
    });
    return true;
  }
  let s = bodies(src, defs);
  let keeps = false;
  let drops = false;
  // Rebase guarded by STARTALIGN (kept) in either polarity, or plain (dropped).
  s = s.replace(
    /if\((\w+)->flags&IORESOURCE_STARTALIGN\)\{[^{}]*\}else\{\1->end-=\1->start;\1->start=0;\}/g,
    () => ((keeps = true), '@REBASE@'),
  );
  s = s.replace(
    /if\(!\((\w+)->flags&IORESOURCE_STARTALIGN\)\)\{\1->end-=\1->start;\1->start=0;\}/g,
    () => ((keeps = true), '@REBASE@'),
  );
  s = s.replace(/(\w+)->end-=\1->start;\1->start=0;/g, () => ((drops = true), '@REBASE@'));
  // Realigned (unset) resources skipped before the claim.
  s = s.replace(
    /if\((\w+)->flags&IORESOURCE_(?:UNSET|STARTALIGN)\)continue;/g,
    () => ((keeps = true), ''),
  );
  const recognised = keeps || drops;
  const value = recognised ? drops && !keeps : true;
  record(
    ctx,
    F.i386,
    'pcibios_allocate_dev_resources',
    src,
    defs,
    s,
    recognised ? { drops: value } : null,
    false,
    field,
  );
  if (!recognised)
    ctx.notes.push({
      severity: 'info',
      message: `the rebase of failed claims was not found in pcibios_allocate_dev_resources() (${F.i386}); assumed to drop STARTALIGN starts as in 6.12`,
      function: 'pcibios_allocate_dev_resources',
      file: F.i386,
      line: defs[0]!.line,
      fields: field,
    });
  return value;
}

// ---------------------------------------------------------------------------
// Realloc, SR-IOV, hotplug headroom

export async function readRealloc(ctx: ReadCtx): Promise<'off' | 'auto' | 'on'> {
  const field: PolicyField[] = ['realloc'];
  const src = await ctx.src.c(F.setupBus);
  ctx.sources['realloc'] =
    `${F.setupBus}: pci_realloc_enable, pci_realloc_detect(); ${F.pciKconfig}: PCI_REALLOC_ENABLE_AUTO`;
  const init = src?.initializer('pci_realloc_enable') ?? null;
  const known: Record<string, 'off' | 'on' | 'undefined'> = {
    undefined: 'undefined',
    user_disabled: 'off',
    auto_disabled: 'off',
    user_enabled: 'on',
    auto_enabled: 'on',
  };
  const v = init === null ? null : (known[init.replace(/\s+/g, '')] ?? null);
  ctx.functions[shapeKey(F.setupBus, 'pci_realloc_enable')] = {
    file: F.setupBus,
    name: 'pci_realloc_enable',
    found: init !== null,
    skeleton: v ? '@INIT@' : (init ?? ''),
    value: JSON.stringify(v),
    recognised: v !== null,
    fields: field,
  };
  await trackOpaque(ctx, F.setupBus, [
    'pci_realloc_detect',
    'pci_realloc_enabled',
    'pci_realloc_get_opt',
  ]);
  for (const n of ['pci_realloc_detect', 'pci_realloc_enabled'])
    ctx.functions[shapeKey(F.setupBus, n)]!.fields = field;
  const k = kconfigEntry(ctx, 'PCI_REALLOC_ENABLE_AUTO');
  const auto = k ? boolDefault(k.entry, ctx.arch) : false;
  if (v === null) {
    ctx.notes.push({
      severity: 'info',
      message: `pci_realloc_enable ${init === null ? 'not found' : `initialised to "${init}"`} in ${F.setupBus}; realloc assumed off by default`,
      file: F.setupBus,
      fields: field,
    });
    return 'off';
  }
  if (v !== 'undefined') return v;
  return auto ? 'auto' : 'off';
}

const HOTPLUG: { key: keyof KernelPolicy['hotplug']; name: string }[] = [
  { key: 'io', name: 'pci_hotplug_io_size' },
  { key: 'mmio', name: 'pci_hotplug_mmio_size' },
  { key: 'mmioPref', name: 'pci_hotplug_mmio_pref_size' },
];

export async function readHotplug(ctx: ReadCtx): Promise<KernelPolicy['hotplug']> {
  const fallback: KernelPolicy['hotplug'] = { io: 256, mmio: 2 * 2 ** 20, mmioPref: 2 * 2 ** 20 };
  const out = { ...fallback };
  const where: string[] = [];
  for (const { key, name } of HOTPLUG) {
    let found = false;
    for (const file of [F.pci, F.setupBus]) {
      const src = await ctx.src.c(file);
      const init = src?.initializer(name) ?? null;
      if (!src || init === null) continue;
      const v = evalInt(init, [src.macros()]);
      if (v !== null) {
        out[key] = v;
        found = true;
        where.push(`${file}: ${name}`);
        break;
      }
    }
    if (!found)
      ctx.notes.push({
        severity: 'info',
        message: `${name} not found (or not a constant); ${fallback[key]} assumed`,
        fields: [`hotplug.${key}`],
      });
  }
  ctx.sources['hotplug'] = where.join(', ');
  return out;
}

// ---------------------------------------------------------------------------
// vfio-pci mmap policy

async function resolveId(ctx: ReadCtx, token: string, local: CSource): Promise<string | null> {
  const t = token.trim();
  let v = evalInt(t, [local.macros()]);
  if (v === null && /^PCI_(VENDOR|DEVICE)_ID_\w+$/.test(t)) {
    const ids = await ctx.src.c(F.pciIds);
    if (ids) v = evalInt(t, [ids.macros()]);
  }
  return v === null ? null : v.toString(16).padStart(4, '0');
}

/** Fixups (DECLARE_PCI_FIXUP_*) whose function sets pdev->non_mappable_bars. */
async function nonMappableFixups(ctx: ReadCtx): Promise<{ ids: string[]; labels: string[] }> {
  const files = [
    F.quirks,
    ...ARCH_FILES[ctx.arch].fixupFiles,
    ...ctx.changedPaths.filter(
      (p) =>
        p.endsWith('.c') &&
        (p.startsWith('drivers/pci/') || p.startsWith(ARCH_FILES[ctx.arch].dir)),
    ),
  ];
  const ids: string[] = [];
  const labels: string[] = [];
  const list = [...new Set(files)];
  const srcs = await Promise.all(list.map((f) => ctx.src.c(f)));
  for (const [i, file] of list.entries()) {
    const src = srcs[i];
    if (!src || !src.text.includes('non_mappable_bars')) continue;
    for (const m of src.text.matchAll(
      /^DECLARE_PCI_FIXUP_\w+\(\s*([\w]+)\s*,\s*([\w]+)\s*,\s*(\w+)\s*\)/gm,
    )) {
      const fn = src.fn(m[3]!);
      if (!fn || !/->non_mappable_bars\s*=\s*(?:1|true)\s*;/.test(src.body(fn))) continue;
      const ven = await resolveId(ctx, m[1]!, src);
      const dev = m[2] === 'PCI_ANY_ID' ? 'ffff' : await resolveId(ctx, m[2]!, src);
      const id = `${ven ?? m[1]}:${dev ?? m[2]}`;
      ids.push(id);
      labels.push(`${id} (${file}: ${m[3]})`);
    }
  }
  return { ids: [...new Set(ids)], labels };
}

export interface VfioResult {
  subPageMmap: 'exclusive-page' | 'never';
  msixMappable: boolean;
  nonMappable: string[];
  maxMappableBar: number | null;
  mmapKconfig: boolean | null;
  nonMappableLabels: string[];
}

export async function readVfio(ctx: ReadCtx): Promise<VfioResult> {
  const out: VfioResult = {
    subPageMmap: 'exclusive-page',
    msixMappable: true,
    nonMappable: [],
    maxMappableBar: null,
    mmapKconfig: null,
    nonMappableLabels: [],
  };
  const src = await ctx.src.c(F.vfioCore);
  const probeFields: PolicyField[] = [
    'vfio.subPageMmap',
    'vfio.nonMappable',
    'vfio.maxMappableBar',
  ];
  ctx.sources['vfio.subPageMmap'] = `${F.vfioCore}: vfio_pci_probe_mmaps()`;
  ctx.sources['vfio.nonMappable'] =
    `${F.vfioCore}: vfio_pci_probe_mmaps() (pdev->non_mappable_bars), fixups in ${F.quirks} and arch code`;
  ctx.sources['vfio.maxMappableBar'] = `${F.vfioCore}: vfio_pci_probe_mmaps()`;
  ctx.sources['vfio.msixMappable'] =
    `${F.vfioCore}: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, vfio_pci_core_mmap()`;
  const defs = src ? src.functions('vfio_pci_probe_mmaps') : [];
  if (!src || !defs.length) {
    record(ctx, F.vfioCore, 'vfio_pci_probe_mmaps', src, [], '', null, false, probeFields);
    record(ctx, F.vfioCore, 'vfio_pci_core_mmap', src, [], '', null, false, ['vfio.msixMappable']);
    ctx.notes.push({
      severity: 'info',
      message: `vfio_pci_probe_mmaps() not found in ${F.vfioCore}; the 6.12 vfio mmap rules are assumed`,
      file: F.vfioCore,
      fields: [...probeFields, 'vfio.msixMappable'],
    });
    return out;
  }
  let s = bodies(src, defs);
  let kconfigChecked = false;
  let nonMappableChecked = false;
  let cap: number | null = null;
  let capUnknown = false;
  s = s.replace(
    /if\(!IS_ENABLED\(CONFIG_VFIO_PCI_MMAP\)\)(?:goto \w+|continue);/g,
    () => ((kconfigChecked = true), ''),
  );
  s = s.replace(
    /if\([\w>.-]*->non_mappable_bars\)(?:goto \w+|continue);/g,
    () => ((nonMappableChecked = true), ''),
  );
  s = s.replace(
    /if\(resource_size\((\w+)\)>=?((?:[^()]|\([^()]*\))+)\)(?:goto \w+|continue);/g,
    (_m, _r, e: string) => {
      if (/^PAGE_SIZE$/.test(e)) return _m;
      const v = evalInt(e, [src.macros()]);
      if (v === null) capUnknown = true;
      else cap = v;
      return '';
    },
  );
  const full = /resource_size\(\w+\)>=PAGE_SIZE/.test(s);
  const subPage = /~PAGE_MASK/.test(s) && /request_resource\(/.test(s);
  out.subPageMmap = subPage ? 'exclusive-page' : 'never';
  out.maxMappableBar = cap;
  const recognised = full && !capUnknown;
  record(
    ctx,
    F.vfioCore,
    'vfio_pci_probe_mmaps',
    src,
    defs,
    s,
    { subPage: out.subPageMmap, cap, nonMappableChecked, kconfigChecked },
    false,
    probeFields,
  );
  if (!recognised)
    ctx.notes.push({
      severity: 'info',
      message: `vfio_pci_probe_mmaps() (${F.vfioCore}) has a shape the reader does not know${capUnknown ? ' (a size limit it cannot evaluate)' : ''}`,
      function: 'vfio_pci_probe_mmaps',
      file: F.vfioCore,
      line: defs[0]!.line,
      fields: probeFields,
    });
  if (nonMappableChecked) {
    const fx = await nonMappableFixups(ctx);
    out.nonMappable = fx.ids;
    out.nonMappableLabels = fx.labels;
  }
  if (kconfigChecked) {
    const k = kconfigEntry(ctx, 'VFIO_PCI_MMAP');
    out.mmapKconfig = k ? boolDefault(k.entry, ctx.arch) : null;
  }
  // MSI-X: the capability is advertised, and mmap does not refuse the table's range.
  const mmapDefs = src.functions('vfio_pci_core_mmap');
  let mm = bodies(src, mmapDefs);
  let refusesTable = false;
  for (const m of [
    ...mm.matchAll(/\bif\(([^{};]*msix_(?:bar|offset|size)[^{};]*)\)\{/g),
  ].reverse()) {
    const end = skipBraces(mm, m.index + m[0].length - 1);
    if (end < 0) continue;
    refusesTable = true;
    mm = mm.slice(0, m.index) + mm.slice(end);
  }
  const capAdvertised = /=\s*VFIO_REGION_INFO_CAP_MSIX_MAPPABLE\b/.test(src.text);
  out.msixMappable = capAdvertised && !refusesTable;
  record(
    ctx,
    F.vfioCore,
    'vfio_pci_core_mmap',
    src,
    mmapDefs,
    mm,
    { refusesTable, capAdvertised },
    false,
    ['vfio.msixMappable'],
  );
  return out;
}

export async function readMsiIsolation(
  ctx: ReadCtx,
): Promise<{ required: boolean | null; override: string | null; overrideDefault: boolean | null }> {
  const src = await ctx.src.c(F.vfioType1);
  if (!src) return { required: null, override: null, overrideDefault: null };
  const required = /iommu_group_has_isolated_msi\(|IOMMU_CAP_INTR_REMAP|msi_remap/.test(src.text);
  const decl = /^static bool allow_unsafe_interrupts\s*(?:=\s*(\w+)\s*)?;/m.exec(src.text);
  const init = decl ? (decl[1] ?? '0') : null;
  return {
    required,
    override: init === null ? null : 'allow_unsafe_interrupts',
    overrideDefault: init === null ? null : !['0', 'false'].includes(init),
  };
}

// ---------------------------------------------------------------------------
// IOMMU groups, SMMUv3

export async function readAcsGrouping(ctx: ReadCtx): Promise<'pre-2025' | 'acs-fix-2025'> {
  const field: PolicyField[] = ['acsGrouping'];
  const src = await ctx.src.c(F.iommu);
  const defs = src ? src.functions('pci_device_group') : [];
  ctx.sources['acsGrouping'] = `${F.iommu}: pci_device_group()`;
  if (!src || !defs.length) {
    record(ctx, F.iommu, 'pci_device_group', src, [], '', null, false, field);
    ctx.notes.push({
      severity: 'info',
      message: `pci_device_group() not found (${F.iommu}${src ? '' : ' is not in the tree'}); IOMMU grouping assumed as before the 2025 ACS series`,
      file: F.iommu,
      fields: field,
    });
    return 'pre-2025';
  }
  const norm = bodies(src, defs);
  // The 2025 series (Jason Gunthorpe, "Fix incorrect iommu_groups with PCIe ACS") groups
  // by bus isolation: pci_device_group() switches on pci_bus_isolated().
  const fix = /\bpci_bus_isolated\(/.test(norm);
  const pre = /\bpci_for_each_dma_alias\(/.test(norm) && /\bpci_acs_path_enabled\(/.test(norm);
  const value = fix ? 'acs-fix-2025' : 'pre-2025';
  record(ctx, F.iommu, 'pci_device_group', src, defs, norm, value, fix || pre, field);
  if (!fix && !pre)
    ctx.notes.push({
      severity: 'info',
      message: `pci_device_group() (${F.iommu}) has a shape the reader does not know; grouping assumed as before the 2025 ACS series`,
      function: 'pci_device_group',
      file: F.iommu,
      line: defs[0]!.line,
      fields: field,
    });
  return value;
}

export async function readSmmu(ctx: ReadCtx): Promise<boolean> {
  const field: PolicyField[] = ['smmuRejectsSharedStreamIds'];
  const src = await ctx.src.c(F.smmuV3);
  const defs = src ? src.functions('arm_smmu_insert_master') : [];
  ctx.sources['smmuRejectsSharedStreamIds'] = `${F.smmuV3}: arm_smmu_insert_master()`;
  if (!src || !defs.length) {
    record(ctx, F.smmuV3, 'arm_smmu_insert_master', src, [], '', null, false, field);
    ctx.notes.push({
      severity: 'info',
      message: `arm_smmu_insert_master() not found (${F.smmuV3}${src ? '' : ' is not in the tree'}); a second master with a StreamID in use is assumed rejected`,
      file: F.smmuV3,
      fields: field,
    });
    return true;
  }
  const raw = defs.map((d) => src.body(d)).join('\n');
  const rejects = /already in tree/.test(raw) && /-EINVAL|-EBUSY|-EEXIST/.test(raw);
  record(
    ctx,
    F.smmuV3,
    'arm_smmu_insert_master',
    src,
    defs,
    bodies(src, defs),
    rejects,
    rejects,
    field,
  );
  return rejects;
}

// ---------------------------------------------------------------------------
// Facts the model does not take but reviewers ask about

/** pci_dev_acs_enabled[] entries. */
export async function readAcsQuirks(ctx: ReadCtx): Promise<string[]> {
  const src = await ctx.src.c(F.quirks);
  const table = src?.variable('pci_dev_acs_enabled');
  if (!src || !table) return [];
  const body = src.norm(table);
  const out: string[] = [];
  for (const m of body.matchAll(/\{(\w+),(\w+),(\w+)\}/g)) out.push(`${m[1]}:${m[2]} ${m[3]}`);
  return out;
}

const DMA_FIELDS =
  /\.(driver_managed_dma|no_kernel_api_dma|suppress_auto_claim_dma_owner)\s*=\s*(true|1)\b/;

/** Drivers that declare they manage DMA ownership themselves. */
export async function readDriverManagedDma(ctx: ReadCtx): Promise<string[]> {
  const files = new Set<string>([F.portdrv, F.pciStub, F.vfioPci]);
  try {
    for (const f of await ctx.src.cFilesUnder('drivers/vfio/pci')) files.add(f);
  } catch {
    // An unlistable directory only means fewer candidates.
  }
  for (const p of ctx.changedPaths) if (p.endsWith('.c')) files.add(p);
  files.delete(F.vfioCore);
  const sorted = [...files].sort();
  const raws = await Promise.all(sorted.map((f) => ctx.src.raw(f)));
  const out: string[] = [];
  for (const [i, file] of sorted.entries()) {
    const raw = raws[i];
    if (
      !raw ||
      !(
        raw.includes('driver_managed_dma') ||
        raw.includes('no_kernel_api_dma') ||
        raw.includes('suppress_auto_claim_dma_owner')
      )
    )
      continue;
    // The declaring initialiser: the last `name = {` before the field; its .name if it has one.
    for (const m of raw.matchAll(new RegExp(DMA_FIELDS.source, 'g'))) {
      const before = raw.slice(Math.max(0, m.index - 4000), m.index);
      const decls = [...before.matchAll(/\b([A-Za-z_]\w*)\s*=\s*\{/g)];
      const decl = decls[decls.length - 1];
      if (!decl) continue;
      const end = raw.indexOf('\n}', m.index);
      const block = before.slice(decl.index) + raw.slice(m.index, end < 0 ? m.index + 1000 : end);
      const name = /\.name\s*=\s*"([^"]+)"/.exec(block)?.[1] ?? decl[1]!;
      out.push(`${name} (${file}${m[1] === 'driver_managed_dma' ? '' : `, .${m[1]}`})`);
    }
  }
  return out;
}

export async function readReassignAll(
  ctx: ReadCtx,
): Promise<{ file: string; function: string; conditional: boolean }[]> {
  const af = ARCH_FILES[ctx.arch];
  const files = new Set<string>([
    F.pci,
    F.probe,
    F.setupBus,
    ...af.pciFiles,
    ...af.platformFiles,
    ...ctx.changedPaths.filter(
      (p) => p.endsWith('.c') && (p.startsWith(af.dir) || p.startsWith('drivers/pci/')),
    ),
  ]);
  const out: { file: string; function: string; conditional: boolean }[] = [];
  const list = [...files];
  const srcs = await Promise.all(list.map((f) => ctx.src.c(f)));
  for (const [i, file] of list.entries()) {
    const src = srcs[i];
    // The cheap test first: the regex alone backtracks over every pci_*_flags( in big files.
    if (!src || !src.text.includes('PCI_REASSIGN_ALL_RSRC')) continue;
    if (!/\bpci_(?:add|set)_flags\s*\([^;]*PCI_REASSIGN_ALL_RSRC/.test(src.text)) continue;
    for (const d of src.defs) {
      if (d.kind !== 'function') continue;
      // Only functions that name the flag (most of a big file does not).
      const at = src.bare.indexOf('PCI_REASSIGN_ALL_RSRC', d.open);
      if (at < 0 || at > d.close) continue;
      const body = src.bare.slice(d.open, d.close + 1);
      const re = /\bpci_(?:add|set)_flags\s*\(([^;]*)\)\s*;/g;
      for (const m of body.matchAll(re)) {
        if (!m[1]!.includes('PCI_REASSIGN_ALL_RSRC')) continue;
        // Nested deeper than the function's own block, or after an if: conditional.
        let depth = 0;
        for (let i = 0; i < m.index; i++) {
          if (body[i] === '{') depth++;
          else if (body[i] === '}') depth--;
        }
        const before = body.slice(0, m.index).replace(/\s+/g, ' ').trimEnd();
        const conditional = depth > 1 || /\)$/.test(before) || /\belse$/.test(before);
        out.push({ file, function: d.name, conditional });
      }
    }
  }
  return out;
}

export async function readPreserveConfig(
  ctx: ReadCtx,
): Promise<'claims-first' | 'not-honoured' | 'unknown'> {
  const src = await ctx.src.c(F.probe);
  const defs = src ? src.functions('pci_host_probe') : [];
  record(ctx, F.probe, 'pci_host_probe', src, defs, src ? bodies(src, defs) : '', null, false, []);
  if (!src || !defs.length) return 'unknown';
  const norm = bodies(src, defs);
  if (/if\(\w+->preserve_config\)\{?pci_bus_claim_resources\(/.test(norm)) return 'claims-first';
  return /preserve_config/.test(norm) ? 'unknown' : 'not-honoured';
}

export async function readPageSize(
  ctx: ReadCtx,
): Promise<{ default: number | null; choices: number[]; source: string }> {
  const path = ARCH_FILES[ctx.arch].kconfig;
  const k = await ctx.src.kconfig(path);
  if (!k) return { default: null, choices: [], source: `${path} not in the tree` };
  const sizeOf = (sym: string): number | null => {
    const m = /^HAVE_PAGE_SIZE_(\d+)KB$/.exec(sym) ?? /^PAGE_SIZE_(\d+)KB$/.exec(sym);
    return m ? Number(m[1]) * 1024 : null;
  };
  const selected = (name: string): number | null => {
    const e = k.entries.get(name);
    for (const s of e?.selects ?? []) {
      const v = sizeOf(s);
      if (v !== null) return v;
    }
    return null;
  };
  const choices = new Set<number>();
  for (const e of k.entries.values())
    for (const s of e.selects) {
      const v = sizeOf(s);
      if (v !== null) choices.add(v);
    }
  // Arch entries that select a size only through their own config (e.g. `select HAVE_PAGE_SIZE_4KB` on X86).
  let def: number | null = null;
  for (const c of k.choices) {
    if (!c.members.some((m) => selected(m) !== null)) continue;
    for (const d of c.defaults) {
      const ok = d.cond === null ? true : boolCond(d.cond, ctx.arch);
      if (ok) {
        def = selected(d.value);
        break;
      }
    }
  }
  if (def === null && choices.size === 1) def = [...choices][0]!;
  return { default: def, choices: [...choices].sort((a, b) => a - b), source: path };
}

function boolCond(cond: string, arch: Arch): boolean {
  return evalCondition(cond, arch) === true;
}

export async function readVersion(ctx: ReadCtx): Promise<string | null> {
  const mk = await ctx.src.raw(F.makefile);
  if (!mk) return null;
  const v = /^VERSION\s*=\s*(\d+)/m.exec(mk)?.[1];
  const p = /^PATCHLEVEL\s*=\s*(\d+)/m.exec(mk)?.[1];
  return v && p ? `${v}.${p}` : null;
}
