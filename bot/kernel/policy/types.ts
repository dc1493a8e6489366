// What the policy reader returns. Everything is plain JSON data.
import type { DefaultAlignment, KernelPolicy } from '../model/policy.js';

import type { Arch } from '../vocabulary.js';
import type { NoteField, PolicyField } from './paths.js';

export type { NoteField, PolicyField };

export interface PolicyNote {
  severity: 'info' | 'warning';
  /**
   * `restructured`: a policy-carrying function changed, but it reads the same
   * before and after (code moved into a helper): nothing is kept at its base
   * value. Absent: something the model does not take (a change it does not
   * understand, a fact it has no field for, an assumption).
   */
  kind?: 'restructured';
  message: string;
  function?: string;
  file?: string;
  line?: number;
  /** KernelPolicy fields the note is about. */
  fields?: NoteField[];
}

/**
 * A function (or table, or variable) that carries policy, as read: its body
 * reduced to what behaviour depends on, with the parts the reader interprets
 * masked, so that two trees can be compared on what the reader did not read.
 */
export interface FunctionShape {
  file: string;
  name: string;
  found: boolean;
  line?: number;
  /** Normalised body with interpreted parts masked ('' when not found). */
  skeleton: string;
  /** JSON of the values read from it. */
  value: string;
  /** The whole body is a shape the reader knows (so a change of value explains a change of body). */
  recognised: boolean;
  /** Read by meaning: a different body read whole to the same value is a restructure. */
  byMeaning?: boolean;
  /** KernelPolicy fields read from it. */
  fields: PolicyField[];
}

/** A knob that changes the default alignment: a Kconfig symbol, a pci= option, a variable. */
export interface AlignmentSwitch {
  kind: 'kconfig' | 'pci-option' | 'boot-param' | 'module-param' | 'variable';
  /** CONFIG_FOO, pci=foo, the variable name. */
  name: string;
  /** Whether the switch is on in a default build/boot. */
  onByDefault: boolean;
  /** The default alignment with the switch on, and off. */
  whenOn: DefaultAlignment;
  whenOff: DefaultAlignment;
  where: string;
}

export interface PciOption {
  /** As parsed in pci_setup(), without a trailing '='. */
  name: string;
  /** Variables and functions the option's branch sets or calls. */
  targets: string[];
  /** Functions of drivers/pci/pci.c (other than pci_setup) that read those variables. */
  usedIn: string[];
}

export interface PolicyFacts {
  /** VERSION.PATCHLEVEL from the top Makefile. */
  version: string | null;
  arch: Arch;
  pageSize: { default: number | null; choices: number[]; source: string };
  /** The expression the default alignment comes from, as written. */
  defaultAlignmentExpr: string | null;
  /** Platforms that override the default through a hook (PowerNV). */
  platformAlignment: {
    platform: string;
    alignment: DefaultAlignment | null;
    function: string;
    file: string;
  }[];
  alignmentSwitches: AlignmentSwitch[];
  /** Kconfig symbols the alignment functions test (any of the four), with their default. */
  alignmentKconfig: { symbol: string; onByDefault: boolean | null }[];
  /** Forms pci=resource_alignment= accepts. */
  resourceAlignmentSyntax: string[];
  /**
   * PCI_PROBE_ONLY in pci_specified_resource_alignment(): `parameter-only` (6.12: requested
   * alignments are ignored, the arch default is not), `all`, `none`, or `unknown`.
   */
  probeOnly: 'parameter-only' | 'all' | 'none' | 'unknown';
  /** pci_host_probe(): `claims-first` when preserve_config keeps firmware BARs. */
  preserveConfig: 'claims-first' | 'not-honoured' | 'unknown';
  /** Where PCI_REASSIGN_ALL_RSRC is set for this architecture. */
  reassignAll: { file: string; function: string; conditional: boolean }[];
  pciOptions: PciOption[];
  /** CONFIG_VFIO_PCI_MMAP for this arch (null: no such symbol, mmap is not configurable). */
  vfioMmapKconfig: boolean | null;
  /** What mapping the MSI-X BAR relies on: vfio type1 refusing groups without isolated MSI. */
  msiIsolation: {
    required: boolean | null;
    override: string | null;
    overrideDefault: boolean | null;
  };
  /** pci_dev_acs_enabled[] entries: `VENDOR:DEVICE quirk_fn`. */
  acsQuirks: string[];
  /** Drivers declaring driver_managed_dma (or its older names): `name (file)`. */
  driverManagedDma: string[];
  /** Fixups that set pdev->non_mappable_bars: `vvvv:dddd (file: function)`. */
  nonMappableFixups: string[];
  /** Files the reading looked at, and whether each existed. */
  files: Record<string, boolean>;
}

export interface PolicyReading {
  arch: Arch;
  policy: KernelPolicy;
  /** What the reader had to assume or wants said about this tree (PowerNV, missing files). */
  notes: PolicyNote[];
  /** Field -> where it was read: `drivers/pci/pci.c: pcibios_default_alignment()`. */
  sources: Partial<Record<PolicyField, string>>;
  facts: PolicyFacts;
  /** `file:function` -> its shape, for comparing two readings. */
  functions: Record<string, FunctionShape>;
}

export interface PolicyChange {
  arch: Arch;
  before: PolicyReading;
  /** The patched reading; fields from functions the reader could not interpret keep the base value. */
  after: PolicyReading;
  /** "policy changed in ..., not understood by the model" and facts the model does not represent. */
  notes: PolicyNote[];
  /** Whether the KernelPolicy (name aside) differs. */
  changed: boolean;
  /** The KernelPolicy fields that differ. */
  changedFields: PolicyField[];
}
