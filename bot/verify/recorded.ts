// Recorded layouts: real boots of the scenario library, kept in fixtures/layouts/
// as <scenario>.<arch>[-<page size>].json. The model's tests compare against
// them on every `npm test` (no QEMU needed); `pcibot record-layouts` writes them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout, LostBar } from '../kernel/model/layout.js';
import type { BootArch } from '../kernel/vocabulary.js';
import { fixturesDir } from '../util/paths.js';
import type { IomemEntry, VfioRegion } from './bootlog.js';

export interface RecordedLayout {
  schema: 'pcibot/recorded-layout@1';
  scenario: string;
  /** The scenario file, relative to the repository root. */
  scenarioFile: string;
  arch: BootArch;
  /** Guest page size in bytes. */
  pageSize: number;
  firmware: string;
  kernelArgs: string;
  /** As the guest printed it ("Linux version ..."), e.g. 6.12.117. */
  kernelVersion: string | null;
  /** The kernel tree commit that was built. */
  kernelCommit: string;
  qemuVersion: string;
  /** The QEMU argv as run (image paths as the sandbox saw them). */
  commandLine: string[];
  recordedAt: string;
  layout: Layout;
  /** The kernel's "disabling / can't assign / failed to assign" messages, in order. */
  lostMessages: LostBar[];
  /** Other kernel messages worth a look (PCI resource complaints, WARNINGs). */
  warnings: string[];
  /**
   * With kexp_vfio: each region vfio-pci offers for the devices bound to it (mmap
   * flag = 4) and the "vfio sub-page reserved" ranges while they were open.
   */
  vfio?: {
    regions: VfioRegion[];
    subPageReserved: IomemEntry[];
    /** Where opening a device through VFIO failed, e.g. `set-iommu-type1v2` errno 1. */
    errors: { bdf: string; step: string; errno: number }[];
  };
}

export const layoutsDir = join(fixturesDir, 'layouts');

/** `seed-001.x86_64.json`, `seed-001.arm64-64k.json` (x86_64 has only 4K pages). */
export function recordedLayoutName(scenario: string, arch: string, pageSize: number): string {
  return arch === 'x86_64'
    ? `${scenario}.x86_64.json`
    : `${scenario}.${arch}-${pageSize / 1024}k.json`;
}

/** Every recorded layout in `dir`, sorted by file name. */
export function loadRecordedLayouts(
  dir: string = layoutsDir,
): (RecordedLayout & { file: string })[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const data = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RecordedLayout;
      if (data.schema !== 'pcibot/recorded-layout@1') {
        throw new Error(`${join(dir, f)}: not a recorded layout (schema ${String(data.schema)})`);
      }
      return { ...data, file: join(dir, f) };
    });
}
