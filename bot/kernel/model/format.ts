// A Layout as an lspci-like table: one block per function with its BARs
// (range, size, flags), bridge windows, MSI-X placement and SR-IOV BARs, then
// the IOMMU groups and the BARs that ended up without an address.
import type { Layout, LayoutBar } from './layout.js';
import { fmtSize, hex } from './safety.js';

const short = (bdf: string) => (bdf.startsWith('0000:') ? bdf.slice(5) : bdf);

function barFlags(b: LayoutBar): string {
  if (b.flags.io) return 'io';
  return `mem ${b.flags.is64 ? '64-bit' : '32-bit'}${b.flags.prefetch ? ' pref' : ''}`;
}

function barLine(b: LayoutBar, label: string): string {
  const range =
    b.start === null
      ? 'unassigned'
      : b.size > 0
        ? `${hex(b.start)}-${hex(b.start + b.size - 1)}`
        : hex(b.start);
  return `    ${label.padEnd(9)} ${barFlags(b).padEnd(18)} ${range.padEnd(27)} [size=${b.size > 0 ? fmtSize(b.size) : 'unknown'}]`;
}

export function formatLayout(layout: Layout): string {
  const lines: string[] = [];
  for (const d of layout.devices) {
    const id =
      d.vendor !== undefined && d.device !== undefined
        ? ` [${d.vendor.toString(16).padStart(4, '0')}:${d.device.toString(16).padStart(4, '0')}]`
        : '';
    const extra = [
      d.kind !== 'endpoint' ? d.kind : '',
      d.qemuId ? `id=${d.qemuId}` : '',
      d.physfn ? `VF of ${short(d.physfn)}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`${short(d.bdf)} ${d.name}${id}${extra ? ` (${extra})` : ''}`);
    for (const b of [...d.bars].sort((x, y) => x.index - y.index))
      lines.push(barLine(b, b.index === 6 ? 'ROM' : `BAR${b.index}`));
    for (const w of d.windows) {
      lines.push(
        `    ${'window'.padEnd(9)} ${`${w.kind}${w.is64 ? ' 64-bit' : ''}`.padEnd(18)} ${`${hex(w.start)}-${hex(w.end)}`.padEnd(27)} [size=${fmtSize(w.end - w.start + 1)}]`,
      );
    }
    if (d.msix) {
      const m = d.msix;
      lines.push(
        `    MSI-X     table BAR${m.tableBar}+${hex(m.tableOffset)} (${m.tableSize / 16} vectors), PBA BAR${m.pbaBar}+${hex(m.pbaOffset)}`,
      );
    }
    if (d.sriov) {
      lines.push(`    SR-IOV    TotalVFs ${d.sriov.totalVfs}, enabled ${d.sriov.numVfs}`);
      for (const b of d.sriov.vfBars) lines.push(barLine(b, `VF BAR${b.index}`));
    }
  }
  if (layout.groups) {
    lines.push('', 'IOMMU groups:');
    for (const g of layout.groups)
      lines.push(`    ${String(g.id).padStart(3)}: ${g.bdfs.map(short).join(' ')}`);
  }
  if (layout.lost.length) {
    lines.push('', 'BARs without an address:');
    for (const l of layout.lost)
      lines.push(`    ${short(l.bdf)} ${l.index === 6 ? 'ROM' : `BAR${l.index}`}: ${l.reason}`);
  }
  return lines.join('\n') + '\n';
}
