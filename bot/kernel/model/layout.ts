// The Layout: where every BAR and bridge window of a machine sits, and which
// IOMMU groups its devices form. The model predicts Layouts; the verify stage
// measures them in real QEMU boots; recorded layouts in fixtures/layouts/ are
// Layouts too. Comparing a predicted and a measured Layout is how the model is
// held to reality.
//
// Addresses and sizes are plain numbers: exact up to 2^53 (8 PiB), which covers
// every address QEMU and the hosts we read place BARs at. Parsers of outside
// input reject larger values with a clear error rather than rounding them.

export interface BarFlags {
  /** An I/O-port BAR (never mmap-able through vfio). */
  io: boolean;
  /** A 64-bit memory BAR (occupies two BAR slots). */
  is64: boolean;
  prefetch: boolean;
}

export interface LayoutBar {
  /** 0-5 for BARs, 6 for the expansion ROM; for SR-IOV VF BARs 0-5 of the VF. */
  index: number;
  /** null: the BAR exists but is unassigned (e.g. dropped by the kernel). */
  start: number | null;
  size: number;
  flags: BarFlags;
}

export type WindowKind = 'io' | 'mem' | 'pref';

export interface LayoutWindow {
  kind: WindowKind;
  start: number;
  /** Inclusive, as the kernel prints it. */
  end: number;
  is64: boolean;
}

export interface MsixInfo {
  tableBar: number;
  tableOffset: number;
  /** Bytes: 16 per vector. */
  tableSize: number;
  pbaBar: number;
  pbaOffset: number;
  pbaSize: number;
  /**
   * Register ranges (offsets in the table's BAR) outside the MSI-X structures,
   * when known: [] for a BAR that holds only MSI-X. Absent means unknown (a
   * pasted layout); the checks then assume registers sit before the table.
   */
  otherRegisters?: { offset: number; size: number }[];
}

export type DeviceKind =
  | 'host-bridge'
  | 'endpoint'
  | 'root-port'
  | 'upstream-port'
  | 'downstream-port'
  | 'pcie-pci-bridge'
  | 'pci-bridge'
  | 'other-bridge';

export interface LayoutDevice {
  /** Domain:bus:device.function, e.g. `0000:01:00.0`. */
  bdf: string;
  /** What the device is: the QEMU driver name, the lspci description, or vendor:device. */
  name: string;
  /** The QEMU `id=` when the device came from a scenario. */
  qemuId?: string;
  vendor?: number;
  device?: number;
  kind: DeviceKind;
  bars: LayoutBar[];
  windows: LayoutWindow[];
  msix?: MsixInfo;
  /** For VFs: the PF's BDF. */
  physfn?: string;
  /** SR-IOV capability of a PF (added by the model; lspci's SR-IOV section). */
  sriov?: SriovInfo;
}

export interface SriovInfo {
  totalVfs: number;
  /** VFs enabled (each is also listed as a device with `physfn`). */
  numVfs: number;
  /** Per-VF BARs: start is VF0's BAR (the PF's SR-IOV BAR base, null if unassigned), size is one VF's BAR. */
  vfBars: LayoutBar[];
  /** Routing-ID offset of VF0 and stride between VFs. */
  vfOffset?: number;
  vfStride?: number;
}

export interface LostBar {
  bdf: string;
  index: number;
  /** Why it has no address, e.g. `disabling; bad alignment 0x0`. */
  reason: string;
}

export interface IommuGroup {
  id: number;
  bdfs: string[];
}

/** A host-side IOMMU group with the topology facts that formed it (safety.ts explainGroups). */
export interface HostGroup extends IommuGroup {
  /** Why its devices share it, e.g. `everything behind pcie-pci-bridge 00:01.0 uses its requester ID (DMA alias)`. */
  reason: string;
}

export interface Layout {
  devices: LayoutDevice[];
  /**
   * The guest's own IOMMU groups (its vIOMMU's view); null when there is no
   * IOMMU (no groups exist) or they were not computed/measured.
   */
  groups: IommuGroup[] | null;
  lost: LostBar[];
  /**
   * Model layouts only: the groups a host kernel forms over this topology with
   * every device attached, without the machine's built-in devices; the ones
   * the model's findings name ("cannot be assigned apart (IOMMU group 3)").
   * Present with or without a vIOMMU; absent on measured, recorded and pasted
   * layouts.
   */
  hostGroups?: HostGroup[];
}
