// The address map of a Layout at one page size, as data: the rows the SVG map
// (svg.ts) draws and the compact text map (one line per page) the terminal
// prints. The address axis is cut into
//   - page rows: one page that BARs do not simply fill (a BAR smaller than the
//     page, BARs of several functions, an MSI-X structure sharing it): drawn at
//     the page's own scale, so what shares the page is seen;
//   - bands: pages each wholly inside one BAR, consecutive BARs of the same
//     index and size (a PF's VF BARs) drawn as one row of equal boxes;
//   - gaps: the empty stretches between them, compressed to one thin row with
//     their addresses and size.
// A page holding memory BARs of two or more functions, one of them assignable,
// is shared: the model's model/shared-page check (safety.ts) says the same,
// and its finding is matched to the page by the finding's key (the BARs on
// the page and the page size), so the map can show it beside the page.
// The IOMMU groups on the map are the ones the findings name: the host-side
// groups of a model layout (`Layout.hostGroups`), whether or not the guest has
// a vIOMMU; a layout without them (measured, recorded, pasted) shows its own
// (guest) groups.
import type {
  HostGroup,
  IommuGroup,
  Layout,
  LayoutBar,
  LayoutDevice,
} from '../../bot/kernel/model/layout.js';
import { fmtSize, hex, isAssignable, pageLabel } from '../../bot/kernel/model/safety.js';

/** A model finding the map can place (a ModelFindingRef, or a Finding's key). */
export interface MapFinding {
  rule: string;
  severity: 'error' | 'warning' | 'info';
  title: string;
  key: string;
  /** In a before/after comparison: what the change does to it. */
  status?: 'fixed' | 'introduced' | 'remaining';
}

/** One memory BAR (or ROM) with an address. */
export interface MapPiece {
  bdf: string;
  bar: number;
  start: number;
  /** Inclusive. */
  end: number;
  size: number;
  rom: boolean;
  prefetch: boolean;
  /** Index of the device in `AddressMap.devices` (its colour). */
  device: number;
  /** The device's IOMMU group on the map (`AddressMap.groups`); null when there are none or it is in none. */
  group: number | null;
  /** MSI-X table and PBA inside this BAR. */
  msix: { kind: 'table' | 'pba'; start: number; end: number }[];
}

export interface SharedPage {
  page: number;
  /** `bdf/bar` of every BAR on the page, sorted (the model finding's key items). */
  items: string[];
  devices: string[];
  /** The model findings about this set of BARs (matched by key); [] when none was given. */
  findings: MapFinding[];
}

export type MapRow =
  | {
      kind: 'page';
      /** The page's address. */
      start: number;
      pieces: MapPiece[];
      shared: SharedPage | null;
    }
  | {
      kind: 'band';
      start: number;
      /** Inclusive. */
      end: number;
      pages: number;
      /** The BARs, in address order; each covers `pages / pieces.length` whole pages here. */
      pieces: MapPiece[];
    }
  | { kind: 'gap'; start: number; end: number };

export interface MapDevice {
  bdf: string;
  name: string;
  kind: LayoutDevice['kind'];
  physfn?: string;
  /** Its group in `AddressMap.groups`; null when there are none or it is in none. */
  group: number | null;
  /**
   * With host groups on the map and a vIOMMU in the guest: the device's group
   * in the guest, null when the vIOMMU did not attach it. Absent otherwise.
   */
  guestGroup?: number | null;
  /** Whether vfio-pci could be given it (an endpoint or VF). */
  assignable: boolean;
}

/**
 * Whose IOMMU groups a map outlines: the host's (a model layout's
 * `hostGroups`, the groups its findings name), the guest's own (a layout
 * without host groups, under a vIOMMU), or none.
 */
export type GroupView = 'host' | 'guest' | null;

/**
 * With host groups on the map, what the guest's vIOMMU makes of the same
 * devices (those in a host group): `none` (no vIOMMU), `same` (the same
 * devices together), `different` (split or merged otherwise, or not attached).
 */
export type GuestGrouping = 'none' | 'same' | 'different';

export interface AddressMap {
  pageSize: number;
  rows: MapRow[];
  /** Devices with at least one memory BAR on the map, in layout order. */
  devices: MapDevice[];
  /** The groups outlined (see `groupView`): with their reasons when they are the host's. */
  groups: (IommuGroup & Partial<Pick<HostGroup, 'reason'>>)[] | null;
  groupView: GroupView;
  /** With `groupView` 'host': how the guest's own groups compare; absent otherwise. */
  guestGrouping?: GuestGrouping;
  shared: SharedPage[];
  /** BARs without an address. */
  lost: { bdf: string; bar: number; reason: string }[];
  /** I/O-port BARs, not drawn (a separate address space vfio never mmaps). */
  ioBars: number;
}

export const shortBdf = (bdf: string) => (bdf.startsWith('0000:') ? bdf.slice(5) : bdf);
export const barName = (i: number) => (i === 6 ? 'ROM' : `BAR${i}`);

function sharedKey(items: string[], pageSize: number): string {
  return `shared-page|${[...items].sort().join(',')}|${pageSize}`;
}

/** The address map of `layout` at `pageSize`; `findings` are placed beside their pages. */
export function buildAddressMap(
  layout: Layout,
  pageSize: number,
  findings: MapFinding[] = [],
): AddressMap {
  const P = pageSize;
  const host = layout.hostGroups ?? null;
  const groups = host ?? layout.groups;
  const groupView: GroupView = host ? 'host' : layout.groups ? 'guest' : null;
  const groupOf = new Map<string, number>();
  for (const g of groups ?? []) for (const b of g.bdfs) groupOf.set(b, g.id);
  // The guest's own groups, when the map shows the host's.
  const guestOf = host && layout.groups ? new Map<string, number>() : null;
  for (const g of guestOf ? (layout.groups ?? []) : [])
    for (const b of g.bdfs) guestOf!.set(b, g.id);

  const devices: MapDevice[] = [];
  const pieces: MapPiece[] = [];
  let ioBars = 0;
  for (const d of layout.devices) {
    const mem = d.bars.filter((b): b is LayoutBar & { start: number } => {
      if (b.flags.io) {
        if (b.start !== null) ioBars++;
        return false;
      }
      return b.start !== null && b.size > 0;
    });
    if (!mem.length) continue;
    const device = devices.length;
    devices.push({
      bdf: d.bdf,
      name: d.name,
      kind: d.kind,
      ...(d.physfn ? { physfn: d.physfn } : {}),
      group: groupOf.get(d.bdf) ?? null,
      ...(guestOf ? { guestGroup: guestOf.get(d.bdf) ?? null } : {}),
      assignable: isAssignable(d),
    });
    for (const b of mem) {
      const msix: MapPiece['msix'] = [];
      const m = d.msix;
      if (m && b.index !== 6) {
        if (m.tableBar === b.index && m.tableSize > 0)
          msix.push({
            kind: 'table',
            start: b.start + m.tableOffset,
            end: b.start + m.tableOffset + m.tableSize - 1,
          });
        if (m.pbaBar === b.index && m.pbaSize > 0)
          msix.push({
            kind: 'pba',
            start: b.start + m.pbaOffset,
            end: b.start + m.pbaOffset + m.pbaSize - 1,
          });
      }
      pieces.push({
        bdf: d.bdf,
        bar: b.index,
        start: b.start,
        end: b.start + b.size - 1,
        size: b.size,
        rom: b.index === 6,
        prefetch: b.flags.prefetch,
        device,
        group: groupOf.get(d.bdf) ?? null,
        msix,
      });
    }
  }
  pieces.sort((a, b) => a.start - b.start || a.end - b.end);

  // Which pieces touch each page at a piece's edge (only edge pages can be shared).
  const touching = new Map<number, MapPiece[]>();
  const firstPage = (p: MapPiece) => Math.floor(p.start / P);
  const lastPage = (p: MapPiece) => Math.floor(p.end / P);
  for (const p of pieces)
    for (const pg of new Set([firstPage(p), lastPage(p)])) {
      const l = touching.get(pg) ?? [];
      l.push(p);
      touching.set(pg, l);
    }
  const covers = (p: MapPiece, pg: number) => p.start <= pg * P && p.end >= pg * P + P - 1;
  // A page gets its own row unless one BAR fills it alone.
  const pageRows = new Set<number>();
  for (const [pg, list] of touching) if (list.length > 1 || !covers(list[0]!, pg)) pageRows.add(pg);

  // Cells in address order: page rows and whole-page stretches of one BAR.
  type Cell =
    { kind: 'page'; pg: number } | { kind: 'whole'; p: MapPiece; from: number; to: number };
  const cells: Cell[] = [];
  const seenPage = new Set<number>();
  for (const p of pieces) {
    const fp = firstPage(p);
    const lp = lastPage(p);
    if (pageRows.has(fp) && !seenPage.has(fp)) {
      seenPage.add(fp);
      cells.push({ kind: 'page', pg: fp });
    }
    const from = pageRows.has(fp) ? fp + 1 : fp;
    const to = pageRows.has(lp) ? lp - 1 : lp;
    if (from <= to) cells.push({ kind: 'whole', p, from, to });
    if (lp !== fp && pageRows.has(lp) && !seenPage.has(lp)) {
      seenPage.add(lp);
      cells.push({ kind: 'page', pg: lp });
    }
  }
  const cellStart = (c: Cell) => (c.kind === 'page' ? c.pg : c.from);
  const cellEnd = (c: Cell) => (c.kind === 'page' ? c.pg : c.to);
  cells.sort((a, b) => cellStart(a) - cellStart(b));

  const findingsByKey = new Map<string, MapFinding[]>();
  for (const f of findings) {
    if (f.rule !== 'model/shared-page') continue;
    const l = findingsByKey.get(f.key) ?? [];
    l.push(f);
    findingsByKey.set(f.key, l);
  }

  const rows: MapRow[] = [];
  const shared: SharedPage[] = [];
  let lastEnd = -1; // last page on the map so far
  for (const c of cells) {
    const s = cellStart(c);
    if (lastEnd >= 0 && s > lastEnd + 1)
      rows.push({ kind: 'gap', start: (lastEnd + 1) * P, end: s * P - 1 });
    if (c.kind === 'page') {
      const list = touching.get(c.pg)!;
      const nonRom = list.filter((p) => !p.rom);
      const devs = [...new Set(nonRom.map((p) => p.bdf))];
      let sp: SharedPage | null = null;
      if (devs.length > 1 && nonRom.some((p) => devices[p.device]!.assignable)) {
        const items = nonRom.map((p) => `${p.bdf}/${p.bar}`).sort();
        sp = {
          page: c.pg * P,
          items,
          devices: devs,
          findings: findingsByKey.get(sharedKey(items, P)) ?? [],
        };
        shared.push(sp);
      }
      rows.push({ kind: 'page', start: c.pg * P, pieces: list, shared: sp });
    } else {
      const prev = rows[rows.length - 1];
      const pages = c.to - c.from + 1;
      const first = prev?.kind === 'band' ? prev.pieces[0]! : null;
      if (
        prev?.kind === 'band' &&
        first &&
        prev.end + 1 === c.from * P &&
        first.bar === c.p.bar &&
        first.size === c.p.size &&
        prev.pages / prev.pieces.length === pages
      ) {
        prev.pieces.push(c.p);
        prev.end = c.to * P + P - 1;
        prev.pages += pages;
      } else
        rows.push({ kind: 'band', start: c.from * P, end: c.to * P + P - 1, pages, pieces: [c.p] });
    }
    lastEnd = Math.max(lastEnd, cellEnd(c));
  }

  return {
    pageSize: P,
    rows,
    devices,
    groups,
    groupView,
    ...(host ? { guestGrouping: guestGrouping(devices, guestOf) } : {}),
    shared,
    lost: layout.lost.map((l) => ({ bdf: l.bdf, bar: l.index, reason: l.reason })),
    ioBars,
  };
}

/**
 * How the guest's groups compare with the host's over the map's devices that
 * are in a host group: the same partition, or not (a device the vIOMMU did not
 * attach counts as different).
 */
function guestGrouping(devices: MapDevice[], guestOf: Map<string, number> | null): GuestGrouping {
  if (!guestOf) return 'none';
  const inHost = devices.filter((d) => d.group !== null);
  const hostToGuest = new Map<number, number>();
  const guestToHost = new Map<number, number>();
  for (const d of inHost) {
    const g = guestOf.get(d.bdf);
    if (g === undefined) return 'different';
    const h = d.group!;
    if ((hostToGuest.get(h) ?? g) !== g || (guestToHost.get(g) ?? h) !== h) return 'different';
    hostToGuest.set(h, g);
    guestToHost.set(g, h);
  }
  return 'same';
}

/** "01:00.0 BAR2 32 B" */
export function pieceLabel(p: MapPiece): string {
  return `${shortBdf(p.bdf)} ${barName(p.bar)} ${fmtSize(p.size)}`;
}

/**
 * The compact text map: one line per page that matters (address, what is in
 * it), "SHARED" on shared pages. The pages that matter are the shared pages
 * and the pages of the BARs in `focus` (`bdf/bar`); with no focus, the shared
 * pages only. Bands of `focus` BARs print as one line.
 */
export function textMap(map: AddressMap, focus?: ReadonlySet<string>): string[] {
  const P = pageLabel(map.pageSize);
  const inFocus = (p: MapPiece) => focus?.has(`${p.bdf}/${p.bar}`) ?? false;
  const width = Math.max(
    10,
    ...map.rows.filter((r) => r.kind !== 'gap').map((r) => hex(r.start).length),
  );
  const out: string[] = [];
  for (const r of map.rows) {
    if (r.kind === 'gap') continue;
    if (r.kind === 'page') {
      if (!r.shared && !r.pieces.some(inFocus)) continue;
      const what = r.pieces.map(pieceLabel).join(', ');
      out.push(
        `${hex(r.start).padEnd(width)}  ${P.padStart(3)}  ${what}${r.shared ? `   SHARED by ${r.shared.devices.length} functions` : ''}`,
      );
    } else if (r.pieces.some(inFocus)) {
      const each = r.pages / r.pieces.length;
      const what =
        r.pieces.length === 1
          ? pieceLabel(r.pieces[0]!)
          : `${r.pieces.length} x ${barName(r.pieces[0]!.bar)} ${fmtSize(r.pieces[0]!.size)}: ${r.pieces.map((p) => shortBdf(p.bdf)).join(', ')}`;
      out.push(
        `${hex(r.start).padEnd(width)}  ${`${r.pages}x${P}`.padStart(3)}  ${what}${each > 1 ? ` (${each} pages each)` : ''}`,
      );
    }
  }
  return out;
}

/** The `bdf/bar` of every BAR on a shared page of any of the maps. */
export function sharedBars(...maps: AddressMap[]): Set<string> {
  return new Set(maps.flatMap((m) => m.shared.flatMap((s) => s.items)));
}
