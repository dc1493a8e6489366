// The policy reader: the kernel behaviour the BAR/VFIO model depends on
// (bot/kernel/model/policy.ts KernelPolicy), read per architecture from one state of
// a kernel tree, straight from git objects and only from the files that carry
// it. Reading the base and the patched state of a series and comparing them
// says what the series changes for the model, and where it changed a
// policy-carrying function in a way the reader cannot interpret ("not
// understood"), so that the model is never fed a guess.
//
// How each field is read (the shapes understood are in bot/kernel/policy/fields.ts):
//   defaultAlignment       pcibios_default_alignment(): the __weak default in drivers/pci/pci.c
//                          or an arch's own definition; `return 0|PAGE_SIZE|max(SZ_4K, PAGE_SIZE)|N`,
//                          `if (IS_ENABLED(CONFIG_X) / variable) return A; return B;`, #ifdef
//                          variants, and powerpc's ppc_md hook (PowerNV returns PAGE_SIZE; pseries
//                          sets none)
//   resourceAlignment.*    pci_setup() "resource_alignment=", which branch of
//                          pci_request_resource_alignment() resizes and which sets STARTALIGN, and
//                          how `resize` is set for named devices and the arch default; whether
//                          an already aligned BAR is left alone (keepAligned), and whether
//                          pci_reassigndev_resource_alignment() touches decoding and bridge
//                          windows only when a BAR was realigned (onlyWhenNeeded)
//   x86ClaimDropsStartAlign  (x86 only) pcibios_allocate_dev_resources() and the static helpers it
//                          claims through: the rebase of failed claims and whether a STARTALIGN
//                          (or unset) resource is spared
//   restoreAlignmentOnRelease  pci_bridge_release_resources(): a helper that realigns the devices
//                          below a released window
//   realloc                pci_realloc_enable's initial value, CONFIG_PCI_REALLOC_ENABLE_AUTO default
//   iov, hotplug           Kconfig PCI_IOV; pci_hotplug_*_size initialisers
//   vfio.*                 vfio_pci_probe_mmaps() (sub-page rule, non_mappable_bars, size cap,
//                          CONFIG_VFIO_PCI_MMAP), fixups setting non_mappable_bars,
//                          VFIO_REGION_INFO_CAP_MSIX_MAPPABLE and vfio_pci_core_mmap()
//   acsGrouping            pci_device_group(): pci_bus_isolated() is the 2025 ACS series
//   smmuRejectsSharedStreamIds  arm_smmu_insert_master()
import type { KernelPolicy } from '../model/policy.js';
import { describeAlignment } from './alignment.js';
import {
  ARCH_FILES,
  F,
  readAcsGrouping,
  readAcsQuirks,
  readDefaultAlignment,
  readDriverManagedDma,
  readHotplug,
  readMsiIsolation,
  readPageSize,
  readPciOptions,
  readPreserveConfig,
  readRealloc,
  readReassignAll,
  readResourceAlignment,
  readRestoreOnRelease,
  readSmmu,
  readVersion,
  readVfio,
  readX86Claim,
  trackOpaque,
  type ReadCtx,
} from './fields.js';
import type { Kconfig } from './kconfig.js';
import { copyField, fieldValue, policyDifferences, type PolicyField } from './paths.js';
import { clearPolicyCaches, SourceSet, type PolicyTree } from './sources.js';
import type { FunctionShape, PolicyChange, PolicyNote, PolicyReading } from './types.js';
import type { Arch } from '../vocabulary.js';

export * from './types.js';
export { clearPolicyCaches, type PolicyTree };

export interface ReadPolicyOptions {
  /** The policy's name (default: VERSION.PATCHLEVEL of the tree). */
  name?: string;
  /**
   * Paths the series changed: also scanned for arch overrides, PCI flags,
   * fixups and drivers, beyond the fixed list of policy files.
   */
  changedPaths?: string[];
  /**
   * false: skip the facts the model and the rules do not compare (DMA
   * ownership, ACS quirk table, page sizes, MSI isolation), for callers that
   * read many states (rules, per patch). Default true.
   */
  facts?: boolean;
}

/** Functions the model's placement and grouping follow but the reader does not interpret. */
const OPAQUE: [string, string[]][] = [
  [F.setupBus, ['window_alignment', 'pbus_size_mem', 'calculate_mem_align', 'pdev_sort_resources']],
  [F.setupRes, ['__pci_assign_resource']],
  [F.pci, ['pci_acs_enabled', 'pci_acs_path_enabled']],
  [F.quirks, ['pci_dev_specific_acs_enabled']],
];

/**
 * Readings per tree state: analyse hands the same reader object to every rule
 * for one state, and the state after patch i is the state before patch i+1, so
 * rules reading the policy of one series parse each state once. The name is not
 * part of the key; each caller gets its own copy of the policy object.
 */
const readings = new WeakMap<PolicyTree, Map<string, Promise<PolicyReading>>>();

export async function readPolicy(
  tree: PolicyTree,
  arch: Arch,
  opts: ReadPolicyOptions = {},
): Promise<PolicyReading> {
  const { name, ...rest } = opts;
  const key = `${arch}|${JSON.stringify(rest)}`;
  let perTree = readings.get(tree);
  if (!perTree) readings.set(tree, (perTree = new Map()));
  let reading = perTree.get(key);
  if (!reading) {
    reading = readPolicyUncached(tree, arch, rest);
    perTree.set(key, reading);
    reading.catch(() => perTree.delete(key));
  }
  const r = await reading;
  const policy = structuredClone(r.policy);
  if (name !== undefined) policy.name = name;
  return { ...r, policy };
}

async function readPolicyUncached(
  tree: PolicyTree,
  arch: Arch,
  opts: ReadPolicyOptions = {},
): Promise<PolicyReading> {
  if (!ARCH_FILES[arch])
    throw new Error(`readPolicy: unknown architecture ${JSON.stringify(arch)}`);
  const src = new SourceSet(tree);
  const af = ARCH_FILES[arch];
  // Start every read at once: the git reader pipelines them.
  const light = opts.facts === false;
  await Promise.all([
    ...[
      F.pci,
      F.setupBus,
      F.setupRes,
      F.probe,
      F.quirks,
      F.portdrv,
      ...(light ? [] : [F.pciStub, F.vfioPci, F.vfioType1]),
      F.vfioCore,
      F.iommu,
      F.smmuV3,
      ...(arch === 'x86_64' ? [F.i386] : []),
      ...af.pciFiles,
      ...af.platformFiles,
      ...af.fixupFiles,
    ].map((p) => src.c(p)),
    ...[F.pciKconfig, F.vfioKconfig, ...(light ? [] : [af.kconfig])].map((p) => src.kconfig(p)),
    src.raw(F.makefile),
  ]);
  const kconfigs = (
    await Promise.all(
      [F.pciKconfig, F.vfioKconfig, ...(light ? [] : [af.kconfig])].map((p) => src.kconfig(p)),
    )
  ).filter((k): k is Kconfig => k !== null);
  const pciOptions = readPciOptions(await src.c(F.pci));
  const ctx: ReadCtx = {
    arch,
    src,
    notes: [],
    sources: {},
    functions: {},
    changedPaths: (opts.changedPaths ?? []).filter((p) => !/(^|\/)\.\.?(\/|$)/.test(p)),
    kconfigs,
    pciOptions,
  };

  const version = await readVersion(ctx);
  const align = await readDefaultAlignment(ctx);
  const ra = await readResourceAlignment(ctx);
  // The claim pass is x86's own (arch/x86/pci/i386.c): other architectures do not run it.
  const x86ClaimDropsStartAlign = arch === 'x86_64' ? await readX86Claim(ctx) : true;
  const restoreAlignmentOnRelease = await readRestoreOnRelease(ctx);
  const realloc = await readRealloc(ctx);
  const iov = kconfigs.some((k) => k.path === F.pciKconfig && k.entries.has('PCI_IOV'));
  ctx.sources.iov = `${F.pciKconfig}: PCI_IOV`;
  const hotplug = await readHotplug(ctx);
  const vfio = await readVfio(ctx);
  const acsGrouping = await readAcsGrouping(ctx);
  const smmuRejectsSharedStreamIds = await readSmmu(ctx);
  for (const [file, names] of OPAQUE) await trackOpaque(ctx, file, names);
  const preserveConfig = await readPreserveConfig(ctx);

  const quirks: string[] = [];
  if (vfio.mmapKconfig === false) {
    quirks.push('vfio-pci-mmap-disabled');
    ctx.notes.push({
      severity: 'info',
      message: `CONFIG_VFIO_PCI_MMAP is off on ${arch} (${F.vfioKconfig}): vfio-pci maps no BAR, every access traps`,
      file: F.vfioKconfig,
      fields: ['quirks'],
    });
  }
  ctx.sources.quirks = `${F.vfioKconfig}: VFIO_PCI_MMAP`;

  const policy: KernelPolicy = {
    name: opts.name ?? version ?? 'unknown',
    defaultAlignment: align.value,
    resourceAlignment: {
      supported: ra.supported,
      namedMethod: ra.namedMethod,
      defaultMethod: ra.defaultMethod,
      keepAligned: ra.keepAligned,
      onlyWhenNeeded: ra.onlyWhenNeeded,
    },
    x86ClaimDropsStartAlign,
    restoreAlignmentOnRelease,
    realloc,
    iov,
    hotplug,
    vfio: {
      subPageMmap: vfio.subPageMmap,
      msixMappable: vfio.msixMappable,
      nonMappable: vfio.nonMappable,
      maxMappableBar: vfio.maxMappableBar,
    },
    acsGrouping,
    smmuRejectsSharedStreamIds,
    quirks,
  };

  const all = opts.facts !== false;
  const [pageSize, msiIsolation, acsQuirks, driverManagedDma, reassignAll] = await Promise.all([
    all ? readPageSize(ctx) : { default: null, choices: [], source: 'not read' },
    all ? readMsiIsolation(ctx) : { required: null, override: null, overrideDefault: null },
    all ? readAcsQuirks(ctx) : [],
    all ? readDriverManagedDma(ctx) : [],
    readReassignAll(ctx),
  ]);
  if (arch === 'ppc64')
    for (const r of reassignAll.filter((x) => x.file.includes('/powernv/')))
      ctx.notes.push({
        severity: 'info',
        message: `PowerNV sets PCI_REASSIGN_ALL_RSRC in ${r.function}() (${r.file}): the kernel assigns every BAR there`,
        function: r.function,
        file: r.file,
      });

  return {
    arch,
    policy,
    notes: ctx.notes,
    sources: ctx.sources,
    facts: {
      version,
      arch,
      pageSize,
      defaultAlignmentExpr: align.expr,
      platformAlignment: align.platforms,
      alignmentSwitches: align.switches,
      alignmentKconfig: ra.kconfig,
      resourceAlignmentSyntax: ra.syntax,
      probeOnly: ra.probeOnly,
      preserveConfig,
      reassignAll,
      pciOptions,
      vfioMmapKconfig: vfio.mmapKconfig,
      msiIsolation,
      acsQuirks,
      driverManagedDma,
      nonMappableFixups: vfio.nonMappableLabels,
      files: Object.fromEntries([...src.looked].sort()),
    },
    functions: ctx.functions,
  };
}

/** Paths whose change can change the policy the reader reads. */
export function touchesPolicy(path: string): boolean {
  return (
    /^drivers\/(pci|vfio|iommu)\//.test(path) ||
    /^arch\/[^/]+\/(pci|kernel|platforms|Kconfig)/.test(path) ||
    /^include\/linux\/pci/.test(path) ||
    path === 'Makefile'
  );
}

// ---------------------------------------------------------------------------
// Comparing two readings

export { policyDifferences };

const missing = (file: string, name: string): FunctionShape => ({
  file,
  name,
  found: false,
  skeleton: '',
  value: 'null',
  recognised: false,
  fields: [],
});

function label(s: FunctionShape): string {
  return /^[a-z_0-9]+$/i.test(s.name) && !s.name.startsWith('pci_dev_acs_enabled')
    ? `${s.name}()`
    : s.name;
}

function setDiff(before: string[], after: string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((x) => !b.has(x)), removed: before.filter((x) => !a.has(x)) };
}

/**
 * What changed between two readings that the model cannot take: policy-carrying
 * functions changed outside what the reader interprets, and facts the model has
 * no field for. `revert` lists the fields whose patched value must not be used.
 */
export function comparePolicyReadings(
  before: PolicyReading,
  after: PolicyReading,
): { notes: PolicyNote[]; revert: PolicyField[] } {
  const notes: PolicyNote[] = [];
  const revert = new Set<PolicyField>();
  const keys = [...new Set([...Object.keys(before.functions), ...Object.keys(after.functions)])];
  for (const key of keys.sort()) {
    const bs = before.functions[key];
    const as = after.functions[key];
    const b = bs ?? missing(as!.file, as!.name);
    const a = as ?? missing(bs!.file, bs!.name);
    if (!a.found && !b.found) continue;
    if (a.found === b.found && a.skeleton === b.skeleton) continue;
    if (a.found && a.recognised && a.value !== b.value) continue;
    const fields = [...new Set([...a.fields, ...b.fields])];
    // Read whole and by meaning before and after, to the same value: moved or reworded.
    if (a.found && b.found && a.recognised && b.recognised && a.byMeaning && b.byMeaning) {
      notes.push({
        severity: 'info',
        kind: 'restructured',
        message: `restructured ${label(a)} (${a.file}): the reader reads it whole before and after, to the same${fields.length ? ` ${fields.join(', ')}` : ' value'}`,
        function: a.name,
        file: a.file,
        ...(a.line !== undefined ? { line: a.line } : {}),
        ...(fields.length ? { fields } : {}),
      });
      continue;
    }
    for (const f of fields) revert.add(f);
    const what = !a.found ? 'removed' : !b.found ? 'added' : 'changed';
    notes.push({
      severity: 'info',
      message:
        `policy changed in ${label(a)} (${a.file}), not understood by the model` +
        (what === 'changed' ? '' : ` (${what})`) +
        (fields.length ? `; the model keeps the base value of ${fields.join(', ')}` : ''),
      function: a.name,
      file: a.file,
      ...(a.line !== undefined ? { line: a.line } : {}),
      ...(fields.length ? { fields } : {}),
    });
  }
  const fb = before.facts;
  const fa = after.facts;
  const acs = setDiff(fb.acsQuirks, fa.acsQuirks);
  if (acs.added.length || acs.removed.length)
    notes.push({
      severity: 'info',
      message:
        `policy changed in pci_dev_acs_enabled[] (${F.quirks}), not understood by the model` +
        `${acs.added.length ? `: adds ${acs.added.join(', ')}` : ''}${acs.removed.length ? `${acs.added.length ? ';' : ':'} removes ${acs.removed.join(', ')}` : ''}`,
      function: 'pci_dev_acs_enabled',
      file: F.quirks,
    });
  const dma = setDiff(fb.driverManagedDma, fa.driverManagedDma);
  for (const d of dma.added)
    notes.push({
      severity: 'info',
      message: `policy changed in DMA ownership, not understood by the model: ${d} now declares driver_managed_dma`,
      file: /\(([^,)]+)/.exec(d)?.[1],
    });
  for (const d of dma.removed)
    notes.push({
      severity: 'info',
      message: `policy changed in DMA ownership, not understood by the model: ${d} no longer declares driver_managed_dma`,
      file: /\(([^,)]+)/.exec(d)?.[1],
    });
  const ra = setDiff(
    fb.reassignAll.map(
      (r) => `${r.function}() (${r.file})${r.conditional ? ' conditionally' : ''}`,
    ),
    fa.reassignAll.map(
      (r) => `${r.function}() (${r.file})${r.conditional ? ' conditionally' : ''}`,
    ),
  );
  for (const r of ra.added)
    notes.push({
      severity: 'info',
      message: `policy changed: PCI_REASSIGN_ALL_RSRC is set in ${r}, not understood by the model`,
    });
  if (JSON.stringify(fb.msiIsolation) !== JSON.stringify(fa.msiIsolation))
    notes.push({
      severity: 'info',
      message: `policy changed in the isolated-MSI requirement (${F.vfioType1}), not understood by the model`,
      file: F.vfioType1,
    });
  if (JSON.stringify(fb.pageSize) !== JSON.stringify(fa.pageSize))
    notes.push({
      severity: 'info',
      message: `policy changed in the ${after.arch} page sizes (${fa.pageSize.source}): ${fb.pageSize.choices.map((x) => x / 1024 + 'K').join('/')} -> ${fa.pageSize.choices.map((x) => x / 1024 + 'K').join('/')}; the scenarios' page sizes are not read from the tree`,
    });
  return { notes, revert: [...revert] };
}

/**
 * Read the base and the patched state for one architecture and compare them.
 * The patched policy keeps the base value of any field read from a function
 * the series changed in a way the reader does not understand.
 */
export async function readPolicyChange(
  base: PolicyTree,
  patched: PolicyTree,
  arch: Arch,
  opts: { changedPaths?: string[]; nameBefore?: string; nameAfter?: string; facts?: boolean } = {},
): Promise<PolicyChange> {
  const before = await readPolicy(base, arch, {
    changedPaths: opts.changedPaths,
    facts: opts.facts,
    ...(opts.nameBefore ? { name: opts.nameBefore } : {}),
  });
  const after = await readPolicy(patched, arch, {
    changedPaths: opts.changedPaths,
    facts: opts.facts,
    name: opts.nameAfter ?? `${before.policy.name}+patched`,
  });
  const { notes, revert } = comparePolicyReadings(before, after);
  const policy = structuredClone(after.policy);
  for (const f of revert) copyField(policy, before.policy, f);
  const adjusted: PolicyReading = { ...after, policy };
  const changedFields = policyDifferences(before.policy, adjusted.policy);
  return { arch, before, after: adjusted, notes, changed: changedFields.length > 0, changedFields };
}

/** One line per changed field, e.g. `default alignment: 0 -> max(4K, PAGE_SIZE)`. */
export function describePolicyChange(c: PolicyChange): string[] {
  const b = c.before.policy;
  const a = c.after.policy;
  const out: string[] = [];
  for (const f of c.changedFields) {
    if (f === 'defaultAlignment')
      out.push(
        `default alignment: ${describeAlignment(b.defaultAlignment)} -> ${describeAlignment(a.defaultAlignment)}`,
      );
    else if (f === 'x86ClaimDropsStartAlign')
      out.push(
        a.x86ClaimDropsStartAlign
          ? 'x86 claim pass now drops STARTALIGN alignments'
          : 'x86 claim pass keeps STARTALIGN alignments',
      );
    else if (f === 'resourceAlignment.keepAligned')
      out.push(
        a.resourceAlignment.keepAligned === 'no'
          ? 'already aligned BARs are realigned again'
          : `already aligned BARs are left in place${a.resourceAlignment.keepAligned === 'unless-resize' ? ' (unless resized)' : ''}`,
      );
    else if (f === 'resourceAlignment.onlyWhenNeeded')
      out.push(
        a.resourceAlignment.onlyWhenNeeded
          ? 'decoding and bridge windows are touched only when a BAR is realigned'
          : 'every targeted device loses decoding and bridge windows again',
      );
    else if (f === 'restoreAlignmentOnRelease')
      out.push(
        a.restoreAlignmentOnRelease
          ? 'a released bridge window realigns the devices below it'
          : 'a released bridge window no longer realigns the devices below it',
      );
    else
      out.push(`${f}: ${JSON.stringify(fieldValue(b, f))} -> ${JSON.stringify(fieldValue(a, f))}`);
  }
  return out;
}

/**
 * Which steps of a sequence of tree states change a function: the 1-based
 * positions i at which its normalised body in states[i] differs from
 * states[i - 1] (appearing or disappearing counts). Parsing is cached per
 * blob, so states sharing the file cost nothing more.
 */
export async function functionChanges(
  states: PolicyTree[],
  file: string,
  name: string,
): Promise<number[]> {
  const bodies = await Promise.all(
    states.map(async (t) => {
      const src = await new SourceSet(t).c(file);
      return src
        ? src
            .functions(name)
            .map((d) => src.norm(d))
            .join(' ## ')
        : null;
    }),
  );
  const out: number[] = [];
  for (let i = 1; i < bodies.length; i++) if (bodies[i] !== bodies[i - 1]) out.push(i);
  return out;
}
