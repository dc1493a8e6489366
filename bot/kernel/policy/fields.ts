// The policy fields, read from the functions that carry them. Each
// policy-carrying function is an entry of a table (CARRIERS, and the
// factories below it for the per-file ones): the file and the function(s),
// the fields they carry, how the code is recognised, the value assumed without
// it, and what "not found" and "not understood" say. readCarrier()
// (carrier.ts) is the one code path that reads an entry; the field readers
// below compose entries where a field needs several (the arch overrides of the
// default alignment, the three resource-alignment functions) and add the facts
// reviewers ask about. A recogniser knows a few code shapes (the 6.12 tree, the
// fixture tree, the shapes patches have proposed); what it masks in a body is
// exactly what it read, so a change anywhere else in a policy-carrying function
// shows up as "not understood".
import type { DefaultAlignment, KernelPolicy } from '../model/policy.js';
import { skipStatement } from '../c/body.js';
import { balancedParens, evalInt } from '../c/expr.js';
import { skipBraces, skipParens } from '../c/lex.js';
import type { CDef, CSource } from '../c/source.js';
import { clauses, parseBody, statementsOf, walk, type PathCond, type Stmt } from '../c/stmt.js';
import { describeAlignment, evalAlignment } from './alignment.js';
import {
  readCarrier,
  recordShape,
  type Carrier,
  type FunctionView,
  type ReadCtx,
  type Recognised,
} from './carrier.js';
import { boolDefault, evalCondition } from './kconfig.js';
import type { PolicyField } from './paths.js';
import type { Arch } from '../vocabulary.js';
import type { AlignmentSwitch, PciOption, PolicyFacts } from './types.js';

export type { ReadCtx } from './carrier.js';

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

// ---------------------------------------------------------------------------
// The table: every function the policy is read from, once each

const ALIGN: readonly PolicyField[] = ['defaultAlignment'];
/** What each resource-alignment function carries. */
const REQUEST: readonly PolicyField[] = [
  'resourceAlignment.namedMethod',
  'resourceAlignment.defaultMethod',
  'resourceAlignment.keepAligned',
  'resourceAlignment.onlyWhenNeeded',
];
const SPECIFIED: readonly PolicyField[] = ['resourceAlignment.namedMethod'];
const REASSIGN: readonly PolicyField[] = [
  'resourceAlignment.defaultMethod',
  'resourceAlignment.onlyWhenNeeded',
];
const PROBE_MMAPS: readonly PolicyField[] = [
  'vfio.subPageMmap',
  'vfio.nonMappable',
  'vfio.maxMappableBar',
];

/** The __weak default every architecture gets unless it defines its own. */
const weakAlignment: Carrier<DefaultAlignmentResult> = {
  file: F.pci,
  functions: [{ name: 'pcibios_default_alignment', fields: ALIGN }],
  base: noAlignment(),
  missing: ({ file }) =>
    `pcibios_default_alignment() not found in ${file}; default alignment taken as 0`,
  notUnderstood: (fn) =>
    `${fn.name}() in ${fn.file} has a shape the reader does not know; default alignment taken as 0`,
  recognise: ([fn], ctx) => recogniseWeakAlignment(fn, ctx),
};

/**
 * A carrier of one function that says nothing of its own when the function
 * is missing or not understood (what it reads is composed with other
 * carriers, or is a fact).
 */
function quiet<T>(
  file: string,
  name: string,
  fields: readonly PolicyField[],
  base: T,
  recognise: (fn: FunctionView) => Recognised<T>,
): Carrier<T> {
  return { file, functions: [{ name, fields }], base, recognise: ([fn]) => recognise(fn) };
}

/** Which branch resizes and which sets IORESOURCE_STARTALIGN; already aligned BARs; what it returns. */
const resourceRequest = quiet<RequestReading | null>(
  F.pci,
  'pci_request_resource_alignment',
  REQUEST,
  null,
  recogniseRequest,
);

/** pci=resource_alignment= for named devices: *resize, PCI_PROBE_ONLY, the syntax. */
const resourceSpecified = quiet<SpecifiedAlignment>(
  F.pci,
  'pci_specified_resource_alignment',
  SPECIFIED,
  { namedResize: null, syntax: [], probeOnly: 'unknown' },
  recogniseSpecified,
);

/** The arch default is not "named": resize starts false; decoding and windows only when needed. */
const resourceReassign = quiet<ReassignReading>(
  F.pci,
  'pci_reassigndev_resource_alignment',
  REASSIGN,
  { defaultResize: null, gated: false },
  recogniseReassign,
);

/** The realloc retry: a released window's devices realigned again (v3 3/8). */
const bridgeRelease = quiet<boolean>(
  F.setupBus,
  'pci_bridge_release_resources',
  ['restoreAlignmentOnRelease'],
  false,
  recogniseRelease,
);

/** x86: does the claim pass drop a STARTALIGN start? */
const x86Claim: Carrier<boolean> = {
  file: F.i386,
  functions: [{ name: 'pcibios_allocate_dev_resources', fields: ['x86ClaimDropsStartAlign'] }],
  base: true,
  missing: ({ file }) =>
    `pcibios_allocate_dev_resources() not found in ${file}; the x86 claim pass is assumed to drop STARTALIGN starts (as in 6.12)`,
  notUnderstood: (fn, detail) =>
    `the rebase of failed claims was not found in ${fn.name}() or the helpers it calls (${fn.file})${detail}; assumed to drop STARTALIGN starts as in 6.12`,
  recognise: ([fn]) => recogniseX86Claim(fn),
};

/** vfio-pci's mmap rules, and whether mmap refuses the MSI-X table. */
const vfioMmap: Carrier<VfioResult> = {
  file: F.vfioCore,
  functions: [
    { name: 'vfio_pci_probe_mmaps', fields: PROBE_MMAPS },
    { name: 'vfio_pci_core_mmap', fields: ['vfio.msixMappable'] },
  ],
  base: vfio6_12(),
  missing: ({ file }) =>
    `vfio_pci_probe_mmaps() not found in ${file}; the 6.12 vfio mmap rules are assumed`,
  notUnderstood: (fn, detail) =>
    `${fn.name}() (${fn.file}) has a shape the reader does not know${detail}`,
  recognise: ([probe, mmap], ctx) => recogniseVfioMmap(probe, mmap!, ctx),
};

/** IOMMU groups: before or with the 2025 ACS series. */
const acsGrouping: Carrier<AcsGrouping> = {
  file: F.iommu,
  functions: [{ name: 'pci_device_group', fields: ['acsGrouping'] }],
  base: 'pre-2025',
  missing: ({ file, inTree }) =>
    `pci_device_group() not found (${file}${inTree ? '' : ' is not in the tree'}); IOMMU grouping assumed as before the 2025 ACS series`,
  notUnderstood: (fn) =>
    `${fn.name}() (${fn.file}) has a shape the reader does not know; grouping assumed as before the 2025 ACS series`,
  recognise: ([fn]) => recogniseAcsGrouping(fn),
};

/** arm-smmu-v3: a second master with a StreamID in use. */
const smmuInsertMaster: Carrier<boolean> = {
  file: F.smmuV3,
  functions: [{ name: 'arm_smmu_insert_master', fields: ['smmuRejectsSharedStreamIds'] }],
  base: true,
  missing: ({ file, inTree }) =>
    `arm_smmu_insert_master() not found (${file}${inTree ? '' : ' is not in the tree'}); a second master with a StreamID in use is assumed rejected`,
  recognise: ([fn]) => recogniseSmmu(fn),
};

/** preserve_config: are firmware BARs claimed first? (a fact, no field) */
const hostProbe = quiet<PreserveConfig>(
  F.probe,
  'pci_host_probe',
  [],
  'unknown',
  recogniseHostProbe,
);

/** The entries with one place each; archAlignment(), platformAlignment() and opaque() make the per-file ones. */
export const CARRIERS = {
  weakAlignment,
  resourceRequest,
  resourceSpecified,
  resourceReassign,
  bridgeRelease,
  x86Claim,
  vfioMmap,
  acsGrouping,
  smmuInsertMaster,
  hostProbe,
};

/** An architecture's own (strong) pcibios_default_alignment(), and the ppc_md hook it may forward to. */
function archAlignment(file: string, recordMissing: boolean): Carrier<ArchAlignment | null> {
  return {
    file,
    functions: [{ name: 'pcibios_default_alignment', fields: ALIGN, select: (d) => !d.weak }],
    base: null,
    recordMissing,
    recognise: ([fn], ctx) => recogniseArchAlignment(fn, ctx),
  };
}

/** A platform's ppc_md hook (the function named in `ppc_md.<hook> = fn;`). */
function platformAlignment(file: string, name: string): Carrier<DefaultAlignment | null> {
  return {
    file,
    // The first definition: the assignment names one function.
    functions: [{ name, fields: [], select: (_d, i) => i === 0 }],
    base: null,
    recognise: ([fn], ctx) => {
      const v = interpretAlignFn(ctx, fn.src!, fn.defs[0]!, ctx.pciOptions);
      return {
        value: v.value,
        shapes: [
          { skeleton: v.recognised ? '@ALIGN@' : fn.norm, read: v.value, whole: v.recognised },
        ],
        understood: true,
      };
    },
  };
}

/** A function the model depends on but the reader does not interpret: any change to it is news. */
function opaque(file: string, name: string, fields: readonly PolicyField[] = []): Carrier<null> {
  return quiet(file, name, fields, null, (fn) => ({
    value: null,
    shapes: [{ skeleton: fn.norm, read: null, whole: false }],
    understood: true,
  }));
}

/** Track functions the model depends on but the reader does not interpret. */
export async function trackOpaque(ctx: ReadCtx, file: string, names: string[]): Promise<void> {
  for (const name of names) await readCarrier(ctx, opaque(file, name));
}

// ---------------------------------------------------------------------------
// Normalised bodies

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

/** No default alignment (0): what 6.12 does, and what is assumed when it cannot be read. */
function noAlignment(): DefaultAlignmentResult {
  return { value: 'zero', expr: null, switches: [], platforms: [] };
}

function recogniseWeakAlignment(
  fn: FunctionView,
  ctx: ReadCtx,
): Recognised<DefaultAlignmentResult> {
  const it = interpretAlignFn(ctx, fn.src!, fn.defs[0]!, ctx.pciOptions);
  const understood = it.recognised && it.value !== null;
  return {
    value:
      it.recognised && it.value !== null
        ? { value: it.value, expr: it.expr, switches: it.switches, platforms: [] }
        : noAlignment(),
    shapes: [
      { skeleton: it.recognised ? '@ALIGN@' : fn.norm, read: it.value, whole: it.recognised },
    ],
    understood,
  };
}

interface ArchAlignment {
  it: AlignInterp;
  /** Platforms that set the ppc_md hook the arch function forwards to. */
  platforms: DefaultAlignmentResult['platforms'];
}

async function recogniseArchAlignment(
  fn: FunctionView,
  ctx: ReadCtx,
): Promise<Recognised<ArchAlignment>> {
  const it = interpretAlignFn(ctx, fn.src!, fn.defs[0]!, ctx.pciOptions);
  const platforms = it.hook ? await hookPlatforms(ctx, it.hook) : [];
  const known = it.hook ? `@HOOK:${it.hook}@` : '@ALIGN@';
  return {
    value: { it, platforms },
    shapes: [{ skeleton: it.recognised ? known : fn.norm, read: it.value, whole: it.recognised }],
    understood: true,
  };
}

/** ppc: the platforms that set ppc_md.<hook>, and what their function returns. */
async function hookPlatforms(
  ctx: ReadCtx,
  hook: string,
): Promise<DefaultAlignmentResult['platforms']> {
  const platforms: DefaultAlignmentResult['platforms'] = [];
  for (const pf of ARCH_FILES[ctx.arch].platformFiles) {
    const ps = await ctx.src.c(pf);
    if (!ps || !ps.text.includes(`ppc_md.${hook}`)) continue;
    // [ \t]*, not \s*: at every line start \s* would run on across the blank lines.
    for (const m of ps.text.matchAll(
      new RegExp(`^[ \\t]*ppc_md\\.${hook}[ \\t]*=[ \\t]*(\\w+)[ \\t]*;`, 'gm'),
    )) {
      const alignment = await readCarrier(ctx, platformAlignment(pf, m[1]!));
      const platform = /platforms\/([^/]+)\//.exec(pf)?.[1] ?? pf;
      platforms.push({ platform, alignment, function: m[1]!, file: pf });
    }
  }
  return platforms;
}

export async function readDefaultAlignment(ctx: ReadCtx): Promise<DefaultAlignmentResult> {
  let result = await readCarrier(ctx, weakAlignment);
  let from = `${F.pci}: pcibios_default_alignment() (__weak)`;
  // An architecture's own (strong) definition replaces the weak one.
  const af = ARCH_FILES[ctx.arch];
  const archFiles = [
    ...new Set([
      ...af.pciFiles,
      ...ctx.changedPaths.filter((p) => p.startsWith(af.dir) && p.endsWith('.c')),
    ]),
  ];
  for (const file of archFiles) {
    const arch = await readCarrier(ctx, archAlignment(file, af.pciFiles.includes(file)));
    if (!arch) continue;
    const { it, platforms } = arch;
    from = `${file}: pcibios_default_alignment()`;
    if (it.hook) {
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
          fields: [...ALIGN],
        });
    } else if (it.recognised && it.value !== null)
      result = { value: it.value, expr: it.expr, switches: it.switches, platforms: [] };
  }
  ctx.sources.defaultAlignment = from;
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
  keepAligned: KeepAligned;
  onlyWhenNeeded: boolean;
  syntax: string[];
  probeOnly: ProbeOnly;
  /** Kconfig symbols the alignment functions test, with their default for this arch. */
  kconfig: { symbol: string; onByDefault: boolean | null }[];
}

type ProbeOnly = 'parameter-only' | 'all' | 'none' | 'unknown';
type Methods = { whenTrue: Method; whenFalse: Method };
type KeepAligned = KernelPolicy['resourceAlignment']['keepAligned'];

/** What pci_request_resource_alignment() says, beyond the two methods. */
interface RequestReading {
  methods: Methods | null;
  /** An early return for a BAR already on the boundary (v3 7/8). */
  keepAligned: KeepAligned;
  /** It returns true exactly when it realigned (false on every early return), so callers can tell. */
  reportsRealign: boolean;
}

/** One literal of an "already aligned" test, by meaning. */
function keepLiteral(lit: string): 'aligned' | 'not-resize' | 'assigned' | null {
  const l = lit.replace(/^\((.*)\)$/, '$1');
  // The start is on the boundary: !(start & (align - 1)), IS_ALIGNED(start, align), start % align == 0.
  if (
    /^!\(\(?\w+->start\)?&\(\w+-1\)\)$/.test(l) ||
    /^\(\w+->start&\(\w+-1\)\)==0$/.test(lit) ||
    /^\w+->start&\(\w+-1\)==0$/.test(l) ||
    /^IS_ALIGNED\(\w+->start,\w+\)$/.test(l) ||
    /^!\(\w+->start%\w+\)$/.test(l) ||
    /^\(?\w+->start%\w+\)?==0$/.test(l)
  )
    return 'aligned';
  if (/^!\w*resize\w*$/.test(l)) return 'not-resize';
  // An assigned BAR: a start at all, beyond the alignment itself, not marked unset.
  if (
    /^\w+->start(?:!=0|>=?\w+)?$/.test(l) ||
    /^!\(\w+->flags&IORESOURCE_UNSET\)$/.test(l) ||
    /^\(\w+->flags&IORESOURCE_UNSET\)==0$/.test(lit)
  )
    return 'assigned';
  return null;
}

const RETURNS_NOTHING = /^return(?:;| false;| 0;)$|^return(?:\(false\)|\(0\));$/;
const RETURNS_DONE = /^return(?: true| 1|\(true\)|\(1\));$/;

function recogniseRequest(fn: FunctionView): Recognised<RequestReading> {
  const norm = fn.norm;
  const sw = findMethodSwitch(norm);
  const methods = sw ? { whenTrue: sw.whenTrue, whenFalse: sw.whenFalse } : null;
  let skeleton = sw ? norm.slice(0, sw.start) + '@METHOD@' + norm.slice(sw.end) : norm;
  const top = parseBody(skeleton) ?? [];
  let keepAligned: KeepAligned = 'no';
  for (const st of top) {
    if (st.kind !== 'if' || st.else) continue;
    const then = statementsOf(st.then);
    if (then.length !== 1 || !RETURNS_NOTHING.test(then[0]!.text)) continue;
    const cls = clauses(st.cond);
    if (cls.length !== 1) continue;
    const kinds = cls[0]!.map(keepLiteral);
    if (!kinds.includes('aligned') || kinds.includes(null)) continue;
    keepAligned = kinds.includes('not-resize') ? 'unless-resize' : 'always';
    skeleton = skeleton.replace(st.text, '');
    break;
  }
  // The returns say nothing but whether it realigned: one shape for `void` and `bool`.
  const body = parseBody(skeleton) ?? [];
  const last = body[body.length - 1];
  const returns = [...skeleton.matchAll(/\breturn\b[^;]*;/g)].map((m) => m[0]);
  const finalDone = last?.kind === 'simple' && RETURNS_DONE.test(last.text);
  const reportsRealign =
    finalDone && returns.slice(0, -1).every((r) => RETURNS_NOTHING.test(r) && r !== 'return;');
  if (finalDone && reportsRealign) skeleton = skeleton.slice(0, -1 - last.text.length) + '}';
  skeleton = skeleton.replace(/\breturn(?: false| 0|\(false\)|\(0\));/g, 'return;');
  return {
    value: { methods, keepAligned, reportsRealign },
    shapes: [{ skeleton, read: { methods, keepAligned, reportsRealign }, whole: false }],
    understood: true,
  };
}

interface SpecifiedAlignment {
  /** How the parameter sets *resize for the devices it names (null: not read). */
  namedResize: boolean | null;
  syntax: string[];
  probeOnly: ProbeOnly;
}

function recogniseSpecified(fn: FunctionView): Recognised<SpecifiedAlignment> {
  const norm = fn.norm;
  const rs = [...norm.matchAll(/\*(\w+)=(true|false|1|0);/g)];
  const namedResize = rs.length === 1 ? rs[0]![2] === 'true' || rs[0]![2] === '1' : null;
  const masked = norm.replace(/\*(\w+)=(true|false|1|0);/g, '*$1=@R@;');
  const syntax: string[] = [];
  if (/"%d%n"/.test(norm) && /'@'/.test(norm)) syntax.push('<order>@');
  if (/pci_dev_str_match\(/.test(norm))
    syntax.push(
      '[<domain>:]<bus>:<dev>.<fn>[/<dev>.<fn>]*',
      'pci:<vendor>:<device>[:<subvendor>:<subdevice>]',
    );
  if (/"all"/.test(norm)) syntax.push('all');
  const empty = /if\(!(\w+)\|\|!\*\1\)(?:goto \w+|\{)/.exec(norm)?.index ?? -1;
  const probe = norm.indexOf('PCI_PROBE_ONLY');
  const probeOnly =
    probe < 0 ? 'none' : empty < 0 ? 'unknown' : probe > empty ? 'parameter-only' : 'all';
  return {
    value: { namedResize, syntax, probeOnly },
    shapes: [{ skeleton: masked, read: { namedResize }, whole: false }],
    understood: true,
  };
}

/** What pci_reassigndev_resource_alignment() says. */
interface ReassignReading {
  /** `resize` starts false: the arch default is not "named" (null: not read). */
  defaultResize: boolean | null;
  /**
   * The request loop collects whether anything was realigned, and the function
   * returns before turning decoding off and releasing bridge windows when
   * nothing was (v3 2/8).
   */
  gated: boolean;
}

/** `bool a = x, b;`: the declarators, split at top-level commas. */
function declarators(decl: string): { name: string; init: string | null }[] | null {
  const m = /^bool (.*);$/.exec(decl);
  if (!m) return null;
  const out: { name: string; init: string | null }[] = [];
  for (const part of m[1]!.split(',')) {
    const d = /^(\w+)(?:=(\w+))?$/.exec(part);
    if (!d) return null;
    out.push({ name: d[1]!, init: d[2] ?? null });
  }
  return out;
}

const REQUEST_CALL = /^pci_request_resource_alignment\([^;]*\)$/;

/**
 * The body of the request loop: the flag it collects "something was
 * realigned" into (null: a plain loop of calls), or undefined when the loop
 * does something else. `F = F || request()` would stop realigning after the
 * first BAR, so it is not the collecting shape.
 */
function collectedFlag(body: Stmt[]): string | null | undefined {
  const texts = body.map((b) => (b.kind === 'simple' || b.kind === 'if' ? b.text : '?'));
  if (texts.length === 1 && REQUEST_CALL.test(texts[0]!.slice(0, -1))) return null;
  let ret: string | null = null;
  let flag: string | null = null;
  for (const t of texts) {
    let m = /^(?:bool )?(\w+)(?:=(.*))?;$/.exec(t);
    if (m && (m[2] === undefined ? /^bool /.test(t) : REQUEST_CALL.test(m[2]))) {
      ret = m[1]!;
      continue;
    }
    m =
      /^(\w+)\|=(.*);$/.exec(t) ?? /^(\w+)=\1\|\|(\w+);$/.exec(t) ?? /^(\w+)=(.*)\|\|\1;$/.exec(t);
    if (m && (m[2] === ret || REQUEST_CALL.test(m[2]!))) {
      flag = m[1]!;
      continue;
    }
    m = /^if\((.*)\)(\w+)=(?:true|1);$/.exec(t);
    if (m && (m[1] === ret || REQUEST_CALL.test(m[1]!))) {
      flag = m[2]!;
      continue;
    }
    return undefined;
  }
  return flag ?? undefined;
}

/** `command &= ~PCI_COMMAND_MEMORY; write`, bare or under `if (command & PCI_COMMAND_MEMORY)`, with bookkeeping. */
function isDecodeOff(st: Stmt): boolean {
  const clearAndWrite = (sts: Stmt[]) => {
    const t = sts.map((x) => x.text);
    const core = t.filter(
      (x) =>
        // Remembering that decoding was on, to turn it back on later (v3 4/8): no placement effect.
        !/^\w+->\w+(?:\|=[A-Z_0-9]+|=(?:1|true));$/.test(x),
    );
    return (
      core.length === 2 &&
      /^(\w+)&=~PCI_COMMAND_MEMORY;$/.test(core[0]!) &&
      /^pci_write_config_word\(\w+,PCI_COMMAND,\w+\);$/.test(core[1]!)
    );
  };
  if (st.kind === 'if' && !st.else && /^\(?\w+&PCI_COMMAND_MEMORY\)?$/.test(st.cond))
    return clearAndWrite(statementsOf(st.then));
  return false;
}

function recogniseReassign(fn: FunctionView): Recognised<ReassignReading> {
  const norm = fn.norm;
  const resizeVar = /pci_specified_resource_alignment\(\w+,&(\w+)\)/.exec(norm)?.[1] ?? 'resize';
  const top = parseBody(norm);
  const none: Recognised<ReassignReading> = {
    value: { defaultResize: null, gated: false },
    shapes: [{ skeleton: norm, read: { defaultResize: null }, whole: false }],
    understood: true,
  };
  if (!top) return none;
  // Find the pieces the reading is made of; everything else stays in the skeleton.
  let defaultResize: boolean | null = null;
  let flag: string | null = null;
  let flagDeclared = false;
  const at = { request: -1, gate: -1, decode: -1, bridge: -1 };
  const drop = new Set<number>();
  top.forEach((st, i) => {
    if (st.kind === 'loop' && /pci_request_resource_alignment\(/.test(st.text) && at.request < 0) {
      const f = collectedFlag(statementsOf(st.body));
      if (f === undefined) return;
      flag = f;
      at.request = i;
    }
  });
  top.forEach((st, i) => {
    if (st.kind === 'simple') {
      const ds = declarators(st.text);
      if (ds?.some((d) => d.name === resizeVar || d.name === flag)) {
        for (const d of ds) {
          if (d.name === resizeVar) defaultResize = d.init === 'true' || d.init === '1';
          if (d.name === flag && (d.init === 'false' || d.init === '0')) flagDeclared = true;
        }
        return;
      }
      // The decode clear as three statements: read, clear, write.
      if (
        /^pci_read_config_word\(\w+,PCI_COMMAND,&\w+\);$/.test(st.text) &&
        ((top[i + 1]?.kind === 'simple' &&
          /^\w+&=~PCI_COMMAND_MEMORY;$/.test(top[i + 1]!.text) &&
          /^pci_write_config_word\(\w+,PCI_COMMAND,\w+\);$/.test(top[i + 2]?.text ?? '')) ||
          (top[i + 1] !== undefined && isDecodeOff(top[i + 1]!)))
      ) {
        at.decode = i;
        drop.add(i).add(i + 1);
        if (!isDecodeOff(top[i + 1]!)) drop.add(i + 2);
      }
    } else if (st.kind === 'if' && /PCI_HEADER_TYPE_BRIDGE/.test(st.cond) && at.bridge < 0)
      at.bridge = i;
    else if (
      st.kind === 'if' &&
      flag !== null &&
      !st.else &&
      st.cond === `!${flag}` &&
      statementsOf(st.then).length === 1 &&
      statementsOf(st.then)[0]!.text === 'return;'
    ) {
      at.gate = i;
      drop.add(i);
    }
  });
  const gated =
    flag !== null &&
    flagDeclared &&
    at.gate > at.request &&
    at.decode > at.gate &&
    (at.bridge < 0 || at.bridge > at.gate);
  // The skeleton: the request loop's range and the decode clear in one token at
  // the first of them (their order does not place anything), the gate out,
  // `resize`'s value and the flag's declaration out.
  const parts: string[] = [];
  let realign = false;
  top.forEach((st, i) => {
    if (i === at.request || i === at.decode || drop.has(i)) {
      if (!realign && (i === at.request || i === at.decode)) {
        const head = at.request >= 0 ? (top[at.request] as { head: string }).head : '';
        parts.push(`@REALIGN:${head}@`);
        realign = true;
      }
      return;
    }
    const ds = st.kind === 'simple' ? declarators(st.text) : null;
    if (ds?.some((d) => d.name === resizeVar || d.name === flag)) {
      const kept = ds
        .filter((d) => d.name !== flag)
        .map((d) =>
          d.name === resizeVar ? `${d.name}=@R@` : d.init ? `${d.name}=${d.init}` : d.name,
        );
      if (kept.length) parts.push(`bool ${kept.join(',')};`);
      return;
    }
    parts.push(st.text);
  });
  return {
    value: { defaultResize, gated },
    shapes: [{ skeleton: `{${parts.join('')}}`, read: { defaultResize, gated }, whole: false }],
    understood: true,
  };
}

export async function readResourceAlignment(ctx: ReadCtx): Promise<ResourceAlignmentResult> {
  const out: ResourceAlignmentResult = {
    supported: ctx.pciOptions.some((o) => o.name === 'resource_alignment'),
    namedMethod: 'resize',
    defaultMethod: 'startalign',
    keepAligned: 'no',
    onlyWhenNeeded: false,
    syntax: [],
    probeOnly: 'unknown',
    kconfig: [],
  };
  // pci_request_resource_alignment(): which branch resizes, which sets STARTALIGN; aligned BARs kept.
  const request = await readCarrier(ctx, resourceRequest);
  // pci_specified_resource_alignment(): named devices set *resize; PROBE_ONLY; syntax.
  const named = await readCarrier(ctx, resourceSpecified);
  out.syntax = named.syntax;
  out.probeOnly = named.probeOnly;
  // pci_reassigndev_resource_alignment(): resize starts false (the arch default is
  // not "named"); decoding and windows touched only when something was realigned.
  const reassign = await readCarrier(ctx, resourceReassign);

  const methods = request?.methods ?? null;
  if (methods) {
    out.namedMethod = (named.namedResize ?? true) ? methods.whenTrue : methods.whenFalse;
    out.defaultMethod = (reassign.defaultResize ?? false) ? methods.whenTrue : methods.whenFalse;
  } else if (request) {
    ctx.notes.push({
      severity: 'info',
      message: `the resize/STARTALIGN choice was not found in pci_request_resource_alignment() (${F.pci}); the 6.12 methods are assumed`,
      function: 'pci_request_resource_alignment',
      file: F.pci,
      fields: ['resourceAlignment.namedMethod', 'resourceAlignment.defaultMethod'],
    });
  }
  out.keepAligned = request?.keepAligned ?? 'no';
  out.onlyWhenNeeded = reassign.gated && (request?.reportsRealign ?? false);
  // Kconfig symbols anywhere on the alignment path.
  const pci = await ctx.src.c(F.pci);
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
  const where = `${F.pci}: pci_setup() "resource_alignment=", pci_specified_resource_alignment(), pci_request_resource_alignment(), pci_reassigndev_resource_alignment()`;
  ctx.sources['resourceAlignment.supported'] = `${F.pci}: pci_setup() "resource_alignment="`;
  ctx.sources['resourceAlignment.namedMethod'] = where;
  ctx.sources['resourceAlignment.defaultMethod'] = where;
  ctx.sources['resourceAlignment.keepAligned'] = `${F.pci}: pci_request_resource_alignment()`;
  ctx.sources['resourceAlignment.onlyWhenNeeded'] =
    `${F.pci}: pci_reassigndev_resource_alignment(), pci_request_resource_alignment()`;
  return out;
}

// ---------------------------------------------------------------------------
// The realloc retry: are the devices below a released window realigned again?

/** A static helper that walks a bus's devices and realigns each, recursing below bridges. */
function isRestoreHelper(fn: FunctionView): boolean {
  const n = fn.norm;
  const realigns = /\bpci_reassigndev_resource_alignment\(\w+\);/.test(n);
  const walks =
    /\bpci_walk_bus\(/.test(n) ||
    (/\blist_for_each_entry\(\w+,&\w+->devices,bus_list\)/.test(n) &&
      new RegExp(`\\b${fn.name}\\(\\w+(?:->subordinate)?\\)`).test(n) &&
      /->subordinate\b/.test(n));
  return realigns && walks;
}

function recogniseRelease(fn: FunctionView): Recognised<boolean> {
  let skeleton = fn.norm;
  const helpers: FunctionView[] = [];
  const odd: FunctionView[] = [];
  for (const c of fn.callees()) {
    if (!/\bpci_reassigndev_resource_alignment\(/.test(c.norm)) continue;
    const call = new RegExp(`\\b${c.name}\\(\\w+\\);`, 'g');
    if (!call.test(skeleton)) continue;
    if (isRestoreHelper(c)) {
      helpers.push(c);
      skeleton = skeleton.replace(call, '');
    } else odd.push(c);
  }
  const value = helpers.length > 0;
  return {
    value,
    shapes: [{ skeleton, read: value, whole: false }],
    callees: [
      ...helpers.map((h) => ({ fn: h, shape: { skeleton: h.norm, read: true, whole: true } })),
      // A helper that realigns in a way the reader does not know: its own shape, not understood.
      ...odd.map((h) => ({ fn: h, shape: { skeleton: h.norm, read: null, whole: false } })),
    ],
    understood: true,
  };
}

export async function readRestoreOnRelease(ctx: ReadCtx): Promise<boolean> {
  ctx.sources.restoreAlignmentOnRelease = `${F.setupBus}: pci_bridge_release_resources()`;
  return readCarrier(ctx, bridgeRelease);
}

// ---------------------------------------------------------------------------
// x86: does the claim pass drop a STARTALIGN start?
//
// Read by meaning over the claim path: pcibios_allocate_dev_resources() and
// the static helpers of i386.c it calls that claim or rebase (real v3 1/8 moved
// the claim into alloc_resource()). Every rebase of a failed claim (`r->end -=
// r->start; r->start = 0;`, or resource_set_range(r, 0, size)) is looked at
// with the conditions it runs under, through `else if` chains and into the
// helpers: it spares a STARTALIGN resource when one of them excludes
// IORESOURCE_STARTALIGN (`else if (!(r->flags & IORESOURCE_STARTALIGN))`, v3
// 5/8), or sits in the else of a test for it; or when the loop skips unset or
// STARTALIGN resources before claiming. A condition on STARTALIGN or UNSET in
// any other form is a shape the reader does not know.

/**
 * What a condition literal says of a resource realigned with STARTALIGN
 * (which pci_request_resource_alignment() also marks IORESOURCE_UNSET): true
 * for it (`r->flags & IORESOURCE_STARTALIGN`, `... & IORESOURCE_UNSET`, either
 * of them or both), false for it (the negation, `== 0`), unrelated, or a test
 * of those flags in a form the reader does not know.
 */
function startAlignLiteral(lit: string): 'has' | 'lacks' | 'other' | 'unknown' {
  if (!/IORESOURCE_(?:STARTALIGN|UNSET)\b/.test(lit)) return 'other';
  let l = lit;
  let neg = false;
  for (;;) {
    l = l.replace(/^\((.*)\)$/, (m, x: string) => (balancedParens(x) ? x : m));
    if (l.startsWith('!') && !l.startsWith('!=')) {
      neg = !neg;
      l = l.slice(1);
      continue;
    }
    break;
  }
  const FLAGS = 'IORESOURCE_(?:STARTALIGN|UNSET)';
  const m = new RegExp(
    `^\\(?\\w+->flags&(?:${FLAGS}|\\(${FLAGS}(?:\\|${FLAGS})?\\))\\)?(==0|!=0)?$`,
  ).exec(l);
  if (!m) return 'unknown';
  if (m[1] === '==0') neg = !neg;
  return neg ? 'lacks' : 'has';
}

/** Whether the path conditions keep STARTALIGN resources out (null: a condition the reader does not know). */
function excludesStartAlign(path: PathCond[]): boolean | null {
  let excluded = false;
  for (const p of path) {
    const cls = clauses(p.cond);
    const kinds = cls.map((c) => c.map(startAlignLiteral));
    if (kinds.flat().includes('unknown')) return null;
    if (p.then) {
      // Every clause needs a literal false for STARTALIGN resources.
      if (kinds.every((c) => c.includes('lacks'))) excluded = true;
    } else if (kinds.some((c) => c.length === 1 && c[0] === 'has')) excluded = true;
  }
  return excluded;
}

/** `if (<unset or STARTALIGN>) continue;`: such resources never reach the claim. */
function skipsUnset(st: Stmt): boolean {
  if (st.kind !== 'if' || st.else) return false;
  const body = statementsOf(st.then);
  if (body.length !== 1 || body[0]!.kind !== 'simple' || body[0]!.text !== 'continue;')
    return false;
  return clauses(st.cond).some(
    (c) =>
      c.length === 1 &&
      /^\(?\w+->flags&\(?IORESOURCE_(?:UNSET|STARTALIGN)(?:\|IORESOURCE_(?:UNSET|STARTALIGN))?\)?\)?$/.test(
        c[0]!,
      ),
  );
}

const REBASE = /^(\w+)->end-=\1->start;$/;
const REBASE_RANGE = /^resource_set_range\((\w+),0,resource_size\(\1\)\);$/;

interface ClaimPath {
  claims: boolean;
  rebases: { fn: string; kept: boolean | null }[];
  skips: boolean;
  /** The helpers the path went through, in order. */
  helpers: FunctionView[];
}

/** Walk one function of the claim path with the conditions it is called under. */
function walkClaim(fn: FunctionView, under: PathCond[], out: ClaimPath, depth: number): boolean {
  const body = parseBody(fn.norm);
  if (!body) return false;
  const onPath = new Map(
    depth < 2
      ? fn
          .callees()
          .filter(
            (c) =>
              /\bpci_claim_resource\(|->end-=\w+->start;|resource_set_range\(/.test(c.norm) ||
              c.callees().some((d) => /\bpci_claim_resource\(/.test(d.norm)),
          )
          .map((c) => [c.name, c])
      : [],
  );
  let ok = true;
  let claimed = false;
  walk(body, (st, i, siblings, path) => {
    const all = [...under, ...path];
    if (st.kind === 'if' && skipsUnset(st) && !claimed) out.skips = true;
    if (st.kind !== 'simple') {
      if (st.kind === 'if' && /\bpci_claim_resource\(/.test(st.cond)) claimed = out.claims = true;
      return;
    }
    if (/\bpci_claim_resource\(/.test(st.text)) claimed = out.claims = true;
    const rebase = REBASE.exec(st.text);
    const next = siblings[i + 1];
    if (
      (rebase && next?.kind === 'simple' && next.text === `${rebase[1]}->start=0;`) ||
      REBASE_RANGE.test(st.text)
    )
      out.rebases.push({ fn: fn.name, kept: excludesStartAlign(all) });
    for (const m of st.text.matchAll(/\b([A-Za-z_]\w*)\(/g)) {
      const callee = onPath.get(m[1]!);
      if (!callee) continue;
      if (!out.helpers.includes(callee)) out.helpers.push(callee);
      claimed = true;
      if (!walkClaim(callee, all, out, depth + 1)) ok = false;
    }
  });
  return ok;
}

function maskRebases(norm: string): string {
  return norm
    .replace(/(\w+)->end-=\1->start;\1->start=0;/g, '@REBASE@')
    .replace(/resource_set_range\((\w+),0,resource_size\(\1\)\);/g, '@REBASE@');
}

function recogniseX86Claim(fn: FunctionView): Recognised<boolean> {
  const path: ClaimPath = { claims: false, rebases: [], skips: false, helpers: [] };
  const parsed = walkClaim(fn, [], path, 0);
  const unknown = path.rebases.some((r) => r.kept === null);
  const recognised = parsed && path.claims && !unknown && (path.rebases.length > 0 || path.skips);
  // A STARTALIGN resource that reaches an unguarded rebase loses its alignment.
  const value = recognised ? !path.skips && path.rebases.some((r) => r.kept === false) : true;
  const read = recognised ? { drops: value } : null;
  const detail = !parsed
    ? ' (a body the reader cannot split into statements)'
    : unknown
      ? ' (the rebase runs under a condition on the resource flags it does not know)'
      : '';
  return {
    value,
    shapes: [{ skeleton: maskRebases(fn.norm), read, whole: recognised, byMeaning: true }],
    callees: path.helpers.map((h) => ({
      fn: h,
      shape: { skeleton: maskRebases(h.norm), read, whole: recognised, byMeaning: true },
    })),
    understood: recognised,
    detail,
  };
}

export async function readX86Claim(ctx: ReadCtx): Promise<boolean> {
  ctx.sources.x86ClaimDropsStartAlign = `${F.i386}: pcibios_allocate_dev_resources()`;
  return readCarrier(ctx, x86Claim);
}

// ---------------------------------------------------------------------------
// Realloc, SR-IOV, hotplug headroom

export async function readRealloc(ctx: ReadCtx): Promise<'off' | 'auto' | 'on'> {
  const field: PolicyField[] = ['realloc'];
  const src = await ctx.src.c(F.setupBus);
  ctx.sources.realloc = `${F.setupBus}: pci_realloc_enable, pci_realloc_detect(); ${F.pciKconfig}: PCI_REALLOC_ENABLE_AUTO`;
  const init = src?.initializer('pci_realloc_enable') ?? null;
  const known: Record<string, 'off' | 'on' | 'undefined'> = {
    undefined: 'undefined',
    user_disabled: 'off',
    auto_disabled: 'off',
    user_enabled: 'on',
    auto_enabled: 'on',
  };
  const v = init === null ? null : (known[init.replace(/\s+/g, '')] ?? null);
  // A variable, not a function: its initialiser is its shape.
  recordShape(ctx, { file: F.setupBus, name: 'pci_realloc_enable', found: init !== null }, field, {
    skeleton: v ? '@INIT@' : (init ?? ''),
    read: v,
    whole: v !== null,
  });
  for (const [name, fields] of [
    ['pci_realloc_detect', field],
    ['pci_realloc_enabled', field],
    ['pci_realloc_get_opt', []],
  ] satisfies [string, PolicyField[]][])
    await readCarrier(ctx, opaque(F.setupBus, name, fields));
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
  ctx.sources.hotplug = where.join(', ');
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

/** vfio-pci's mmap rules as in 6.12 (and since v4.16). */
function vfio6_12(): VfioResult {
  return {
    subPageMmap: 'exclusive-page',
    msixMappable: true,
    nonMappable: [],
    maxMappableBar: null,
    mmapKconfig: null,
    nonMappableLabels: [],
  };
}

async function recogniseVfioMmap(
  probe: FunctionView,
  mmap: FunctionView,
  ctx: ReadCtx,
): Promise<Recognised<VfioResult>> {
  const src = probe.src!;
  const out = vfio6_12();
  let s = probe.norm;
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
  let mm = mmap.norm;
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
  return {
    value: out,
    shapes: [
      {
        skeleton: s,
        read: { subPage: out.subPageMmap, cap, nonMappableChecked, kconfigChecked },
        whole: false,
      },
      { skeleton: mm, read: { refusesTable, capAdvertised }, whole: false },
    ],
    understood: full && !capUnknown,
    detail: capUnknown ? ' (a size limit it cannot evaluate)' : '',
  };
}

export async function readVfio(ctx: ReadCtx): Promise<VfioResult> {
  ctx.sources['vfio.subPageMmap'] = `${F.vfioCore}: vfio_pci_probe_mmaps()`;
  ctx.sources['vfio.nonMappable'] =
    `${F.vfioCore}: vfio_pci_probe_mmaps() (pdev->non_mappable_bars), fixups in ${F.quirks} and arch code`;
  ctx.sources['vfio.maxMappableBar'] = `${F.vfioCore}: vfio_pci_probe_mmaps()`;
  ctx.sources['vfio.msixMappable'] =
    `${F.vfioCore}: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, vfio_pci_core_mmap()`;
  return readCarrier(ctx, vfioMmap);
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

type AcsGrouping = KernelPolicy['acsGrouping'];

function recogniseAcsGrouping(fn: FunctionView): Recognised<AcsGrouping> {
  const norm = fn.norm;
  // The 2025 series (Jason Gunthorpe, "Fix incorrect iommu_groups with PCIe ACS") groups
  // by bus isolation: pci_device_group() switches on pci_bus_isolated().
  const fix = /\bpci_bus_isolated\(/.test(norm);
  const pre = /\bpci_for_each_dma_alias\(/.test(norm) && /\bpci_acs_path_enabled\(/.test(norm);
  const value = fix ? 'acs-fix-2025' : 'pre-2025';
  return {
    value,
    shapes: [{ skeleton: norm, read: value, whole: fix || pre }],
    understood: fix || pre,
  };
}

export async function readAcsGrouping(ctx: ReadCtx): Promise<AcsGrouping> {
  ctx.sources.acsGrouping = `${F.iommu}: pci_device_group()`;
  return readCarrier(ctx, acsGrouping);
}

function recogniseSmmu(fn: FunctionView): Recognised<boolean> {
  const src = fn.src!;
  const raw = fn.defs.map((d) => src.body(d)).join('\n');
  const rejects = /already in tree/.test(raw) && /-EINVAL|-EBUSY|-EEXIST/.test(raw);
  return {
    value: rejects,
    shapes: [{ skeleton: fn.norm, read: rejects, whole: rejects }],
    understood: true,
  };
}

export async function readSmmu(ctx: ReadCtx): Promise<boolean> {
  ctx.sources.smmuRejectsSharedStreamIds = `${F.smmuV3}: arm_smmu_insert_master()`;
  return readCarrier(ctx, smmuInsertMaster);
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

/**
 * The functions of one source that set PCI_REASSIGN_ALL_RSRC, per parsed
 * source (a blob is read for every patched state and both arches; most name
 * the flag nowhere, and scanning them again was a few ms of every review).
 */
const reassignAllIn = new WeakMap<CSource, { function: string; conditional: boolean }[]>();

function reassignAllSetters(src: CSource): { function: string; conditional: boolean }[] {
  const out: { function: string; conditional: boolean }[] = [];
  // The cheap test first: the regex alone backtracks over every pci_*_flags( in big files.
  if (!src.text.includes('PCI_REASSIGN_ALL_RSRC')) return out;
  if (!/\bpci_(?:add|set)_flags\s*\([^;]*PCI_REASSIGN_ALL_RSRC/.test(src.text)) return out;
  // Where the flag is named, found once: searching from each function's
  // start instead scans to the next mention for every function of the file.
  const mentions: number[] = [];
  let at = src.bare.indexOf('PCI_REASSIGN_ALL_RSRC');
  while (at >= 0) {
    mentions.push(at);
    at = src.bare.indexOf('PCI_REASSIGN_ALL_RSRC', at + 1);
  }
  for (const d of src.defs) {
    if (d.kind !== 'function') continue;
    // Only functions that name the flag (most of a big file does not).
    if (!mentions.some((m) => m >= d.open && m <= d.close)) continue;
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
      out.push({ function: d.name, conditional });
    }
  }
  return out;
}

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
    if (!src) continue;
    let found = reassignAllIn.get(src);
    if (!found) reassignAllIn.set(src, (found = reassignAllSetters(src)));
    for (const f of found) out.push({ file, ...f });
  }
  return out;
}

type PreserveConfig = PolicyFacts['preserveConfig'];

function recogniseHostProbe(fn: FunctionView): Recognised<PreserveConfig> {
  const norm = fn.norm;
  const value = /if\(\w+->preserve_config\)\{?pci_bus_claim_resources\(/.test(norm)
    ? 'claims-first'
    : /preserve_config/.test(norm)
      ? 'unknown'
      : 'not-honoured';
  return { value, shapes: [{ skeleton: norm, read: null, whole: false }], understood: true };
}

export async function readPreserveConfig(ctx: ReadCtx): Promise<PreserveConfig> {
  return readCarrier(ctx, hostProbe);
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
