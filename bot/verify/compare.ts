// Compares a predicted Layout (the model) with a measured one (a real boot),
// device by device and BAR by BAR. Each difference says exactly what differs,
// in the words a reviewer would use:
//   01:00.0 BAR2: model 0x110000000 (32 B), measured 0x110000020 (32 B)
// Depends on nothing but the Layout type (and the kernel version helpers).
import type {
  IommuGroup,
  Layout,
  LayoutBar,
  LayoutDevice,
  LayoutWindow,
} from '../kernel/model/layout.js';
import { kernelRelease, kernelSeries } from '../util/kernel-version.js';

export type DifferenceKind =
  | 'missing-device'
  | 'extra-device'
  | 'device-kind'
  | 'device-id'
  | 'bar-missing'
  | 'bar-extra'
  | 'bar'
  | 'bar-flags'
  | 'window-missing'
  | 'window-extra'
  | 'window'
  | 'lost'
  | 'groups';

export interface LayoutDifference {
  kind: DifferenceKind;
  bdf?: string;
  /** BAR index (0-5, 6 = ROM) for BAR differences. */
  index?: number;
  /** The model's side and the measured side, as plain data. */
  predicted?: unknown;
  measured?: unknown;
  message: string;
}

export interface CompareOptions {
  /** Measured devices the model does not list: 'report' (default) or 'ignore'. */
  extraDevices?: 'report' | 'ignore';
  /** Leave expansion ROMs (index 6) out. */
  ignoreRoms?: boolean;
  /** Compare only these devices (by BDF); default all. */
  devices?: (bdf: string) => boolean;
  /** Compare IOMMU groups (default true). */
  groups?: boolean;
}

/** `0000:01:00.0` -> `01:00.0`; other domains keep their prefix. */
export function shortBdf(bdf: string): string {
  return bdf.startsWith('0000:') ? bdf.slice(5) : bdf;
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** 32 B, 4 KiB, 256 MiB, 1.5 GiB ... */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(2).replace(/0+$/, '')} ${units[u]}`;
}

function barName(index: number): string {
  return index === 6 ? 'ROM' : `BAR${index}`;
}

function describeBar(bar: LayoutBar, lostReason?: string): string {
  if (bar.start === null)
    return `unassigned (${formatSize(bar.size)}${lostReason ? `; ${lostReason}` : ''})`;
  return `${hex(bar.start)} (${formatSize(bar.size)})`;
}

function describeFlags(bar: LayoutBar): string {
  if (bar.flags.io) return 'io';
  return `${bar.flags.is64 ? '64-bit' : '32-bit'}${bar.flags.prefetch ? ' pref' : ''} mem`;
}

function describeWindow(w: LayoutWindow): string {
  return `${hex(w.start)}-${hex(w.end)}${w.is64 ? ' 64-bit' : ''}`;
}

function lostReason(layout: Layout, bdf: string, index: number): string | undefined {
  return layout.lost.find((l) => l.bdf === bdf && l.index === index)?.reason;
}

export function compareLayouts(
  predicted: Layout,
  measured: Layout,
  options: CompareOptions = {},
): LayoutDifference[] {
  const diffs: LayoutDifference[] = [];
  const wanted = options.devices ?? (() => true);
  const byBdf = (l: Layout) =>
    new Map(l.devices.filter((d) => wanted(d.bdf)).map((d) => [d.bdf, d]));
  const model = byBdf(predicted);
  const real = byBdf(measured);
  const all = [...new Set([...model.keys(), ...real.keys()])].sort();
  const reported = new Set<string>();

  for (const bdf of all) {
    const p = model.get(bdf);
    const m = real.get(bdf);
    const s = shortBdf(bdf);
    if (p && !m) {
      diffs.push({
        kind: 'missing-device',
        bdf,
        predicted: p.name,
        message: `${s} (${p.name}): in the model, not found in the boot`,
      });
      continue;
    }
    if (!p && m) {
      if (options.extraDevices !== 'ignore') {
        diffs.push({
          kind: 'extra-device',
          bdf,
          measured: m.name,
          message: `${s} (${m.name}): found in the boot, not in the model`,
        });
      }
      continue;
    }
    compareDevice(p!, m!);
  }

  function compareDevice(p: LayoutDevice, m: LayoutDevice): void {
    const s = shortBdf(p.bdf);
    if (p.kind !== m.kind) {
      diffs.push({
        kind: 'device-kind',
        bdf: p.bdf,
        predicted: p.kind,
        measured: m.kind,
        message: `${s}: model ${p.kind}, measured ${m.kind}`,
      });
    }
    if (
      p.vendor !== undefined &&
      m.vendor !== undefined &&
      p.device !== undefined &&
      m.device !== undefined
    ) {
      if (p.vendor !== m.vendor || p.device !== m.device) {
        const id = (d: LayoutDevice) =>
          `${d.vendor!.toString(16).padStart(4, '0')}:${d.device!.toString(16).padStart(4, '0')}`;
        diffs.push({
          kind: 'device-id',
          bdf: p.bdf,
          predicted: id(p),
          measured: id(m),
          message: `${s}: model ${id(p)} (${p.name}), measured ${id(m)} (${m.name})`,
        });
      }
    }
    const bars = (d: LayoutDevice) =>
      new Map(
        d.bars.filter((b) => !(options.ignoreRoms && b.index === 6)).map((b) => [b.index, b]),
      );
    const pb = bars(p);
    const mb = bars(m);
    for (const index of [...new Set([...pb.keys(), ...mb.keys()])].sort((a, b) => a - b)) {
      const a = pb.get(index);
      const b = mb.get(index);
      const name = `${s} ${barName(index)}`;
      if (a && !b) {
        diffs.push({
          kind: 'bar-missing',
          bdf: p.bdf,
          index,
          predicted: a,
          message: `${name}: model ${describeBar(a, lostReason(predicted, p.bdf, index))}, not in the boot`,
        });
        reported.add(`${p.bdf}/${index}`);
        continue;
      }
      if (!a && b) {
        diffs.push({
          kind: 'bar-extra',
          bdf: p.bdf,
          index,
          measured: b,
          message: `${name}: not in the model, measured ${describeBar(b, lostReason(measured, p.bdf, index))}`,
        });
        reported.add(`${p.bdf}/${index}`);
        continue;
      }
      if (a!.start !== b!.start || a!.size !== b!.size) {
        diffs.push({
          kind: 'bar',
          bdf: p.bdf,
          index,
          predicted: { start: a!.start, size: a!.size },
          measured: { start: b!.start, size: b!.size },
          message: `${name}: model ${describeBar(a!, lostReason(predicted, p.bdf, index))}, measured ${describeBar(b!, lostReason(measured, p.bdf, index))}`,
        });
        reported.add(`${p.bdf}/${index}`);
      }
      const fa = a!.flags;
      const fb = b!.flags;
      // A BAR that landed nowhere on both sides: its space (I/O or memory) is
      // the BAR's, but its width and prefetch bits are what the kernel left
      // after giving up, and boots of one kernel differ there (seen once in
      // CI: a lost 64-bit prefetchable BAR2 read back without the prefetch bit).
      const unplaced = a!.start === null && b!.start === null;
      if (fa.io !== fb.io || (!unplaced && (fa.is64 !== fb.is64 || fa.prefetch !== fb.prefetch))) {
        diffs.push({
          kind: 'bar-flags',
          bdf: p.bdf,
          index,
          predicted: fa,
          measured: fb,
          message: `${name} flags: model ${describeFlags(a!)}, measured ${describeFlags(b!)}`,
        });
      }
    }
    compareWindows(p, m);
  }

  function compareWindows(p: LayoutDevice, m: LayoutDevice): void {
    const s = shortBdf(p.bdf);
    for (const kind of ['io', 'mem', 'pref'] as const) {
      const a = p.windows.filter((w) => w.kind === kind);
      const b = m.windows.filter((w) => w.kind === kind);
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const wa = a[i];
        const wb = b[i];
        const name = `${s} ${kind} window`;
        if (wa && !wb) {
          diffs.push({
            kind: 'window-missing',
            bdf: p.bdf,
            predicted: wa,
            message: `${name}: model ${describeWindow(wa)}, none in the boot`,
          });
        } else if (!wa && wb) {
          diffs.push({
            kind: 'window-extra',
            bdf: p.bdf,
            measured: wb,
            message: `${name}: none in the model, measured ${describeWindow(wb)}`,
          });
        } else if (
          wa &&
          wb &&
          (wa.start !== wb.start || wa.end !== wb.end || wa.is64 !== wb.is64)
        ) {
          diffs.push({
            kind: 'window',
            bdf: p.bdf,
            predicted: wa,
            measured: wb,
            message: `${name}: model ${describeWindow(wa)}, measured ${describeWindow(wb)}`,
          });
        }
      }
    }
  }

  // Lost BARs not already visible as a BAR difference (e.g. a lost BAR the model
  // lists but the boot does not list at all).
  const lostKey = (l: { bdf: string; index: number }) => `${l.bdf}/${l.index}`;
  const lostModel = new Map(
    predicted.lost.filter((l) => wanted(l.bdf)).map((l) => [lostKey(l), l]),
  );
  const lostReal = new Map(measured.lost.filter((l) => wanted(l.bdf)).map((l) => [lostKey(l), l]));
  for (const key of [...new Set([...lostModel.keys(), ...lostReal.keys()])].sort()) {
    if (reported.has(key)) continue;
    const a = lostModel.get(key);
    const b = lostReal.get(key);
    if (a && b) continue;
    const l = (a ?? b)!;
    if (options.ignoreRoms && l.index === 6) continue;
    if (!model.has(l.bdf) || !real.has(l.bdf)) continue;
    diffs.push({
      kind: 'lost',
      bdf: l.bdf,
      index: l.index,
      predicted: a ?? null,
      measured: b ?? null,
      message: a
        ? `${shortBdf(l.bdf)} ${barName(l.index)}: model loses it (${a.reason}), the boot does not`
        : `${shortBdf(l.bdf)} ${barName(l.index)}: the boot loses it (${b!.reason}), the model does not`,
    });
  }

  if (options.groups !== false)
    diffs.push(...compareGroups(predicted.groups, measured.groups, wanted));
  return diffs;
}

function groupText(bdfs: string[]): string {
  return `{${bdfs.map(shortBdf).join(', ')}}`;
}

/**
 * Groups are compared as partitions of the devices both sides group (group
 * numbers are the kernel's enumeration order and carry no meaning).
 */
export function compareGroups(
  predicted: IommuGroup[] | null,
  measured: IommuGroup[] | null,
  wanted: (bdf: string) => boolean = () => true,
): LayoutDifference[] {
  if (predicted === null && measured === null) return [];
  if (predicted === null || measured === null) {
    return [
      {
        kind: 'groups',
        predicted: predicted,
        measured: measured,
        message:
          predicted === null
            ? `IOMMU groups: none in the model, ${measured!.length} measured`
            : `IOMMU groups: ${predicted.length} in the model, none measured (no IOMMU in the boot)`,
      },
    ];
  }
  const clean = (gs: IommuGroup[]) =>
    gs.map((g) => g.bdfs.filter(wanted).sort()).filter((g) => g.length > 0);
  const pg = clean(predicted);
  const mg = clean(measured);
  const inP = new Set(pg.flat());
  const inM = new Set(mg.flat());
  const both = (g: string[]) => g.filter((b) => inP.has(b) && inM.has(b));
  const canon = (gs: string[][]) =>
    new Set(
      gs
        .map(both)
        .filter((g) => g.length > 0)
        .map((g) => g.join(' ')),
    );
  const a = canon(pg);
  const b = canon(mg);
  const diffs: LayoutDifference[] = [];
  for (const g of b) {
    if (a.has(g)) continue;
    const members = g.split(' ');
    const modelGroups = [...a].filter((x) => x.split(' ').some((y) => members.includes(y)));
    diffs.push({
      kind: 'groups',
      predicted: modelGroups.map((x) => x.split(' ')),
      measured: members,
      message: `IOMMU group ${groupText(members)} measured; the model has ${modelGroups.map((x) => groupText(x.split(' '))).join(' ')}`,
    });
  }
  for (const g of a) {
    if (b.has(g)) continue;
    const members = g.split(' ');
    // Already named by a measured group it overlaps.
    if ([...b].some((x) => x.split(' ').some((y) => members.includes(y)))) continue;
    diffs.push({
      kind: 'groups',
      predicted: members,
      measured: null,
      message: `IOMMU group ${groupText(members)} in the model only`,
    });
  }
  const onlyP = [...inP].filter((x) => !inM.has(x)).sort();
  const onlyM = [...inM].filter((x) => !inP.has(x)).sort();
  if (onlyP.length) {
    diffs.push({
      kind: 'groups',
      predicted: onlyP,
      measured: null,
      message: `in an IOMMU group in the model but in none measured: ${onlyP.map(shortBdf).join(', ')}`,
    });
  }
  if (onlyM.length) {
    diffs.push({
      kind: 'groups',
      predicted: null,
      measured: onlyM,
      message: `in an IOMMU group measured but in none in the model: ${onlyM.map(shortBdf).join(', ')}`,
    });
  }
  return diffs;
}

/** The kernel versions behind a comparison, when they are known. */
export interface ComparedKernels {
  /** The kernel that made the expected layout (a recording, a ground-truth boot). */
  expected: string | null;
  /** The kernel that made the layout compared with it. */
  measured: string | null;
}

/**
 * One line per difference, for terminals and reports. Given the two kernels'
 * versions, a comparison of layouts made on different point releases (Debian
 * moves its linux-source-6.12 from one to the next) says so first: the
 * difference may come from the kernel, not from what was changed.
 */
export function formatDifferences(diffs: LayoutDifference[], kernels?: ComparedKernels): string {
  const lines = diffs.map((d) => d.message);
  const note = kernels && diffs.length ? pointReleaseNote(kernels) : null;
  return (note ? [note, ...lines] : lines).join('\n');
}

/** "recorded on Linux 6.12.117, measured on 6.12.118: ..." when the releases differ, else null. */
export function pointReleaseNote({ expected, measured }: ComparedKernels): string | null {
  const a = kernelRelease(expected);
  const b = kernelRelease(measured);
  if (!a || !b || a === b) return null;
  const same = kernelSeries(a) === kernelSeries(b);
  return `recorded on Linux ${a}, measured on ${b}: ${same ? 'another point release of the same stable series' : 'another kernel series'}, which may explain the differences below`;
}
