// What firmware leaves behind for the kernel: BAR and ROM addresses it
// programmed, bridge window registers, whether decoding is enabled, and the
// 64-bit window QEMU then describes in ACPI _CRS.

import type { Firmware } from '../../vocabulary.js';

export interface WindowReg {
  /** First address the window decodes. */
  base: number;
  /** Last address; below base when the firmware wrote an empty (disabled) window. */
  limit: number;
}

export interface FirmwareState {
  kind: Firmware;
  /** Function uid -> BAR index (0-5, 6 = ROM) -> programmed address. */
  bars: Map<number, Map<number, number>>;
  /** Bridge uid -> windows it programmed; windows it never touched keep their reset state. */
  windows: Map<number, Partial<Record<'io' | 'mem' | 'pref', WindowReg>>>;
  /** Command register I/O and memory decode enabled on every function. */
  decodeEnabled: boolean;
  /** [start, end] of the 64-bit BARs firmware placed above 4 GiB, or null. */
  mem64: [number, number] | null;
  notes: string[];
}

export function emptyFirmware(kind: Firmware): FirmwareState {
  return {
    kind,
    bars: new Map(),
    windows: new Map(),
    decodeEnabled: false,
    mem64: null,
    notes: [],
  };
}
