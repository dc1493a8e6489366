// The address map as SVG, drawn by our own code from an AddressMap
// (addrmap.ts): no browser and no chart library. One map is a column of rows
// along the address axis (addresses on the left, the page or band in the
// middle, labels on the right): pages at their own scale with each BAR a box
// coloured per device, MSI-X table (T) and PBA (P) marked inside their BAR,
// IOMMU groups as dashed outlines around the boxes of one group, shared pages
// in red with the finding beside them, empty stretches compressed to one
// thin row with their addresses and size. Under it, the legend: the devices
// by IOMMU group (a group is an outline), and BARs that got no address. The
// groups are the ones the findings name: the host's for a model layout, with
// a line on how the guest's vIOMMU (if any) groups the same devices.
// beforeAfterSvg() puts two maps side by side.
//
// Every element a test or a page needs to find carries a class and data-*
// attributes (data-bdf, data-bar, data-start, data-size, data-page); every
// text is escaped (markup.ts).
import { fmtSize, hex, pageLabel } from '../../bot/kernel/model/safety.js';
import {
  barName,
  pieceLabel,
  shortBdf,
  type AddressMap,
  type MapDevice,
  type MapFinding,
  type MapPiece,
  type MapRow,
  type SharedPage,
} from './addrmap.js';
import { attr, esc } from './markup.js';

/** Geometry of one map, in SVG user units (pixels at 100%). */
export const GEOMETRY = {
  /** Left edge of the page column; the address is right-aligned before it. */
  pageX: 100,
  /** Width of a page (or band) row. */
  pageW: 260,
  /** Left edge of the label column. */
  labelX: 372,
  /** Width of one map (address + page + labels). */
  mapW: 700,
  /** Label line height and font size. */
  line: 13,
  font: 11,
  /** Characters per label line (monospace, 6.6 units per character at 11). */
  labelChars: 49,
  /** Narrowest box drawn for a BAR in a page row. */
  minBox: 10,
  gapH: 16,
  headerH: 34,
  pad: 4,
} as const;

const G = GEOMETRY;

/** A light fill per device: golden-angle hues, so neighbours differ. */
export function deviceColour(i: number): string {
  const hue = Math.round((i * 137.508) % 360);
  const light = [78, 68, 86][Math.floor(i / 3) % 3];
  return `hsl(${hue} 62% ${light}%)`;
}

/** Split text into lines of at most `n` characters, at ", " or spaces where possible. */
export function wrapText(text: string, n: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > n) {
    let cut = rest.lastIndexOf(' ', n);
    if (cut <= n / 3) cut = n;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) out.push(rest);
  return out;
}

/** Where each BAR box of a row sits: x and width within the page column. */
export interface Box {
  piece: MapPiece;
  x: number;
  w: number;
  /** The part of the BAR this box shows (a page row shows one page of it). */
  from: number;
  to: number;
}

/**
 * Box positions in a page row: each BAR at its offset in the page, scaled to
 * the page's width, at least `minBox` wide and never over the box before it;
 * when that does not fit, equal slots in address order.
 */
export function pageBoxes(start: number, pageSize: number, pieces: MapPiece[]): Box[] {
  const end = start + pageSize - 1;
  const scale = G.pageW / pageSize;
  const boxes: Box[] = [];
  let prevEnd = 0;
  for (const p of [...pieces].sort((a, b) => a.start - b.start)) {
    const from = Math.max(p.start, start);
    const to = Math.min(p.end, end);
    const x = Math.max((from - start) * scale, prevEnd);
    const w = Math.max((to - from + 1) * scale, G.minBox);
    boxes.push({ piece: p, x, w, from, to });
    prevEnd = x + w;
  }
  if (prevEnd > G.pageW + 0.001) {
    const slot = G.pageW / boxes.length;
    boxes.forEach((b, i) => {
      b.x = i * slot;
      b.w = slot;
    });
  }
  return boxes;
}

/** Box positions in a band: equal boxes, each a BAR's whole pages. */
export function bandBoxes(row: Extract<MapRow, { kind: 'band' }>, pageSize: number): Box[] {
  const slot = G.pageW / row.pieces.length;
  const each = (row.pages / row.pieces.length) * pageSize;
  return row.pieces.map((p, i) => {
    const from = row.start + i * each;
    return { piece: p, x: i * slot, w: slot, from, to: from + each - 1 };
  });
}

const round = (n: number) => Math.round(n * 100) / 100;

const STATUS_TEXT: Record<NonNullable<MapFinding['status']>, string> = {
  fixed: 'fixed',
  introduced: 'NEW',
  remaining: 'remains',
};

/** "1.5G", "252M", "4K": a size to read at a glance (exact when it is a round unit). */
export function roughSize(n: number): string {
  const exact = fmtSize(n);
  if (/^\d{1,4}(\s?[A-Z])$/.test(exact)) return exact;
  const u = ['B', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `~${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10}${u[i]}`;
}

const msixText = (p: MapPiece) =>
  p.msix.length
    ? ` (MSI-X ${p.msix.map((m) => (m.kind === 'table' ? 'table' : 'PBA')).join('+')})`
    : '';

/**
 * What a row holds, in words: "01:00.0 BAR2 32 B", or for several BARs of one
 * index and size "BAR0 16K of 01:10.0, 01:10.2" (VFs), in address order.
 */
export function rowItems(row: Exclude<MapRow, { kind: 'gap' }>): string {
  const runs: MapPiece[][] = [];
  for (const p of row.pieces) {
    const last = runs[runs.length - 1];
    const f = last?.[0];
    if (f && f.bar === p.bar && f.size === p.size && msixText(f) === msixText(p)) last.push(p);
    else runs.push([p]);
  }
  const parts = runs.map((r) =>
    r.length === 1
      ? `${pieceLabel(r[0]!)}${msixText(r[0]!)}`
      : `${barName(r[0]!.bar)} ${fmtSize(r[0]!.size)}${msixText(r[0]!)} of ${r.map((p) => shortBdf(p.bdf)).join(', ')}`,
  );
  if (row.kind === 'band') {
    const each = row.pages / row.pieces.length;
    if (each > 1)
      parts.push(`${each} pages${row.pieces.length > 1 ? ' each' : ''} to ${hex(row.end)}`);
  }
  return parts.join('; ');
}

/** The line beside a shared page: how many functions, their IOMMU groups, what the change does. */
export function sharedText(shared: SharedPage, map: AddressMap): string {
  const groups = new Set(
    shared.devices.map((b) => map.devices.find((d) => d.bdf === b)?.group ?? null),
  );
  const g = map.groups
    ? groups.has(null)
      ? ''
      : groups.size === 1
        ? ', 1 group'
        : `, ${groups.size} groups`
    : '';
  const status = shared.findings.find((f) => f.status)?.status;
  return `SHARED ${pageLabel(map.pageSize)} page: ${shared.devices.length} functions${g}${status ? ` (${STATUS_TEXT[status]})` : ''}`;
}

/** The label lines beside a row, with their CSS class. */
function rowLabels(row: MapRow, map: AddressMap): { text: string; cls: string }[] {
  if (row.kind === 'gap') return [];
  const lines = wrapText(rowItems(row), G.labelChars).map((text) => ({ text, cls: 'lbl' }));
  if (row.kind === 'page' && row.shared)
    for (const text of wrapText(sharedText(row.shared, map), G.labelChars))
      lines.push({ text, cls: 'finding' });
  return lines;
}

/** ", IOMMU group 3 on the host; in the guest: group 0": a device's groups, for its boxes' titles. */
function groupTitle(d: MapDevice, map: AddressMap): string {
  if (d.group === null || !map.groupView) return '';
  const where = map.groupView === 'host' ? 'on the host' : 'in the guest';
  const guest =
    d.guestGroup === undefined
      ? ''
      : d.guestGroup === null
        ? '; the guest vIOMMU did not attach it'
        : `; in the guest: group ${d.guestGroup}`;
  return `, IOMMU group ${d.group} ${where}${guest}`;
}

/** The legend's heading lines: whose IOMMU groups the outlines are. */
export function groupLegend(map: AddressMap): string[] {
  if (map.groupView === 'guest')
    return ["devices by IOMMU group in the guest (its vIOMMU's; outlined)"];
  if (map.groupView !== 'host')
    return ['devices (no IOMMU groups known for this layout: none to outline)'];
  const guest = {
    none: 'no vIOMMU in this guest',
    same: "the guest's vIOMMU groups them the same",
    different: "the guest's vIOMMU groups them differently (its groups are in the box titles)",
  }[map.guestGrouping ?? 'none'];
  return ['devices by IOMMU group on the host (outlined): the groups the findings name', guest];
}

function boxTitle(b: Box, d: MapDevice, map: AddressMap): string {
  const p = b.piece;
  return (
    `${shortBdf(p.bdf)} ${d.name} ${barName(p.bar)}: ${hex(p.start)}-${hex(p.end)} (${fmtSize(p.size)}` +
    `${p.prefetch ? ', prefetchable' : ''})` +
    p.msix
      .map((m) => `, MSI-X ${m.kind === 'table' ? 'table' : 'PBA'} ${hex(m.start)}-${hex(m.end)}`)
      .join('') +
    groupTitle(d, map)
  );
}

function drawBoxes(boxes: Box[], y: number, h: number, map: AddressMap): string[] {
  const out: string[] = [];
  for (const b of boxes) {
    const p = b.piece;
    const d = map.devices[p.device]!;
    const x = round(G.pageX + b.x);
    const w = round(b.w);
    out.push(
      `<rect class="bar${p.rom ? ' rom' : ''}"${attr('x', x)}${attr('y', y)}${attr('width', w)}${attr('height', h)}` +
        `${attr('fill', deviceColour(p.device))}${attr('data-bdf', p.bdf)}${attr('data-bar', p.bar)}` +
        `${attr('data-start', hex(p.start))}${attr('data-size', p.size)}><title>${esc(boxTitle(b, d, map))}</title></rect>`,
    );
    // MSI-X structures, at their place inside the part of the BAR shown.
    const span = b.to - b.from + 1;
    for (const m of p.msix) {
      if (m.end < b.from || m.start > b.to) continue;
      const mf = Math.max(m.start, b.from);
      const mt = Math.min(m.end, b.to);
      const mw = Math.max(((mt - mf + 1) / span) * b.w, 3);
      const mx = Math.min(G.pageX + b.x + ((mf - b.from) / span) * b.w, G.pageX + b.x + b.w - mw);
      out.push(
        `<rect class="msix ${m.kind}"${attr('x', round(mx))}${attr('y', y + h - 5)}${attr('width', round(mw))}${attr('height', 5)}` +
          `${attr('data-bdf', p.bdf)}><title>${esc(`${shortBdf(p.bdf)} MSI-X ${m.kind === 'table' ? 'table' : 'PBA'} ${hex(m.start)}-${hex(m.end)}`)}</title></rect>`,
      );
      if (b.w >= 14)
        out.push(
          `<text class="msix-t"${attr('x', round(mx + 1))}${attr('y', y + h - 7)}>${m.kind === 'table' ? 'T' : 'P'}</text>`,
        );
    }
    // The BDF inside the box when it fits.
    const text = shortBdf(p.bdf);
    if (b.w >= text.length * 5.6 + 4)
      out.push(
        `<text class="in"${attr('x', round(x + 2))}${attr('y', y + 10)}>${esc(text)}</text>`,
      );
  }
  // IOMMU groups: a dashed outline around each run of boxes of one group.
  let i = 0;
  while (i < boxes.length) {
    const g = boxes[i]!.piece.group;
    let j = i;
    while (j + 1 < boxes.length && boxes[j + 1]!.piece.group === g) j++;
    if (g !== null) {
      const x0 = G.pageX + boxes[i]!.x;
      const x1 = G.pageX + boxes[j]!.x + boxes[j]!.w;
      out.push(
        `<rect class="group"${attr('x', round(x0 + 1))}${attr('y', y + 1)}${attr('width', round(Math.max(x1 - x0 - 2, 1)))}${attr('height', h - 2)}${attr('data-group', g)}/>`,
      );
    }
    i = j + 1;
  }
  return out;
}

export interface MapSvgOptions {
  /** Heading over the map, e.g. "before: 6.12". */
  title?: string;
  /** A second heading line (scenario, page size). */
  subtitle?: string;
  /** Id prefix for the elements (unique per map on a page). */
  id?: string;
}

/** One map as SVG elements inside a <g>, with its height. Width is GEOMETRY.mapW. */
export function mapGroup(
  map: AddressMap,
  opts: MapSvgOptions = {},
): { svg: string; height: number } {
  const out: string[] = [];
  let y = G.pad;
  if (opts.title)
    out.push(`<text class="title"${attr('x', 0)}${attr('y', y + 12)}>${esc(opts.title)}</text>`);
  if (opts.subtitle)
    out.push(`<text class="sub"${attr('x', 0)}${attr('y', y + 26)}>${esc(opts.subtitle)}</text>`);
  y += opts.title || opts.subtitle ? G.headerH : 0;
  if (!map.rows.length) {
    out.push(
      `<text class="sub"${attr('x', G.pageX)}${attr('y', y + 12)}>no memory BARs with an address</text>`,
    );
    y += 20;
  }
  for (const row of map.rows) {
    if (row.kind === 'gap') {
      const h = G.gapH;
      out.push(
        `<g class="gap"${attr('data-start', hex(row.start))}${attr('data-end', hex(row.end))}>` +
          `<line${attr('x1', G.pageX + G.pageW / 2)}${attr('y1', y + 2)}${attr('x2', G.pageX + G.pageW / 2)}${attr('y2', y + h - 2)}/>` +
          `<text${attr('x', G.pageX + G.pageW / 2 + 8)}${attr('y', y + 11)}>${esc(`${roughSize(row.end - row.start + 1)} free, ${hex(row.start)}-${hex(row.end)}`)}</text></g>`,
      );
      y += h;
      continue;
    }
    const labels = rowLabels(row, map);
    const boxH = 18;
    const h = Math.max(boxH + 6, labels.length * G.line + 6);
    const cls =
      row.kind === 'page'
        ? `page${row.shared ? ' shared' : ''}`
        : `band${row.pages > 1 ? ' multi' : ''}`;
    out.push(
      `<g${attr('class', cls)}${attr('data-page', hex(row.start))}${row.kind === 'band' ? attr('data-pages', row.pages) : ''}>`,
    );
    if (row.kind === 'page' && row.shared)
      out.push(
        `<rect class="shared-bg"${attr('x', G.pageX - 96)}${attr('y', y)}${attr('width', G.mapW - (G.pageX - 96))}${attr('height', h - 2)}/>`,
      );
    out.push(
      `<text class="addr"${attr('x', G.pageX - 4)}${attr('y', y + 13)}>${esc(hex(row.start))}</text>`,
    );
    const by = y + 2;
    out.push(
      `<rect class="${row.kind === 'page' ? 'pagebox' : 'bandbox'}"${attr('x', G.pageX)}${attr('y', by)}${attr('width', G.pageW)}${attr('height', boxH)}/>`,
    );
    const boxes =
      row.kind === 'page'
        ? pageBoxes(row.start, map.pageSize, row.pieces)
        : bandBoxes(row, map.pageSize);
    out.push(...drawBoxes(boxes, by, boxH, map));
    if (row.kind === 'band' && row.pages > 1)
      // A band stands for many pages: the break marks show it is compressed.
      out.push(
        `<path class="cut"${attr('d', `M${G.pageX - 3} ${by + 4} l6 -4 M${G.pageX - 3} ${by + boxH} l6 -4 M${G.pageX + G.pageW - 3} ${by + 4} l6 -4 M${G.pageX + G.pageW - 3} ${by + boxH} l6 -4`)}/>`,
      );
    labels.forEach((l, i) =>
      out.push(
        `<text${attr('class', l.cls)}${attr('x', G.labelX)}${attr('y', y + 13 + i * G.line)}>${esc(l.text)}</text>`,
      ),
    );
    out.push('</g>');
    y += h;
  }

  // Legend: the devices on the map by IOMMU group; a group is an outline.
  y += 10;
  const heading = groupLegend(map);
  for (const [k, text] of heading.entries()) {
    out.push(
      `<text class="${k ? 'sub legend-note' : 'sub legend-head'}"${attr('x', 0)}${attr('y', y + 10)}>${esc(text)}</text>`,
    );
    y += k ? 14 : 18;
  }
  if (heading.length > 1) y += 4;
  const reasons = new Map((map.groups ?? []).map((g) => [g.id, g.reason]));
  const cols = 2;
  const colW = G.mapW / cols;
  const order = map.devices
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.group ?? 1e9) - (b.d.group ?? 1e9) || a.i - b.i);
  // Entries flow in columns; a group's members stay together in one column.
  const blocks: { group: number | null; items: typeof order }[] = [];
  for (const e of order) {
    const last = blocks[blocks.length - 1];
    if (last && e.d.group !== null && last.group === e.d.group) last.items.push(e);
    else blocks.push({ group: e.d.group, items: [e] });
  }
  const entryH = 14;
  const colHeights = new Array<number>(cols).fill(0);
  const totalH = blocks.reduce((n, b) => n + b.items.length * entryH + 6, 0);
  let col = 0;
  for (const b of blocks) {
    const bh = b.items.length * entryH + 6;
    if (colHeights[col]! + bh > totalH / cols + entryH * 2 && col < cols - 1) col++;
    const bx = col * colW;
    const byy = y + colHeights[col]!;
    if (b.group !== null) {
      const why = reasons.get(b.group);
      out.push(
        `<rect class="legend-group"${attr('x', bx + 1)}${attr('y', byy)}${attr('width', colW - 8)}${attr('height', bh - 3)}${attr('data-group', b.group)}>` +
          `<title>${esc(`IOMMU group ${b.group}${map.groupView === 'host' ? ' on the host' : ''}${why ? `: ${why}` : ''}`)}</title></rect>` +
          `<text class="gid"${attr('x', bx + colW - 12)}${attr('y', byy + 11)}>${esc(`g${b.group}`)}</text>`,
      );
    }
    b.items.forEach((e, k) => {
      const ey = byy + 2 + k * entryH;
      const d = e.d;
      out.push(
        `<g class="legend"${attr('data-bdf', d.bdf)}><rect${attr('x', bx + 6)}${attr('y', ey + 2)}${attr('width', 10)}${attr('height', 10)}${attr('fill', deviceColour(e.i))}/>` +
          `<text${attr('x', bx + 20)}${attr('y', ey + 11)}>${esc(
            `${shortBdf(d.bdf)} ${d.name}${d.physfn ? ` (VF of ${shortBdf(d.physfn)})` : ''}${d.assignable ? '' : ` [${d.kind}]`}`.slice(
              0,
              44,
            ),
          )}</text></g>`,
      );
    });
    colHeights[col]! += bh;
  }
  y += Math.max(...colHeights, 0);
  if (map.lost.length) {
    y += 6;
    for (const l of map.lost) {
      out.push(
        `<text class="lost"${attr('x', 0)}${attr('y', y + 11)}${attr('data-bdf', l.bdf)}>${esc(`no address: ${shortBdf(l.bdf)} ${barName(l.bar)}: ${l.reason}`.slice(0, 105))}</text>`,
      );
      y += G.line;
    }
  }
  if (map.ioBars) {
    out.push(
      `<text class="sub"${attr('x', 0)}${attr('y', y + 13)}>${esc(`${map.ioBars} I/O-port BAR${map.ioBars === 1 ? '' : 's'} not drawn (own address space, never mmap-ed)`)}</text>`,
    );
    y += 16;
  }
  return { svg: out.join('\n'), height: Math.ceil(y + G.pad) };
}

/**
 * The style of the maps: inline in every SVG, so a file stands alone. Every
 * rule is scoped to svg.addrmap: a <style> inside an inline SVG applies to the
 * whole HTML page around it.
 */
export const MAP_CSS = [
  `text{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:${G.font}px;fill:#222}`,
  '.title{font-size:13px;font-weight:bold}',
  '.sub{fill:#555}',
  '.addr{text-anchor:end;fill:#333}',
  '.pagebox{fill:#fafafa;stroke:#888;stroke-width:1}',
  '.bandbox{fill:#fafafa;stroke:#bbb;stroke-width:1;stroke-dasharray:3 2}',
  '.bar{stroke:#333;stroke-width:.6}',
  '.bar.rom{stroke-dasharray:2 1.5;opacity:.7}',
  '.group{fill:none;stroke:#1a4d8f;stroke-width:1;stroke-dasharray:4 2}',
  '.msix.table{fill:#5b2a86}',
  '.msix.pba{fill:#c77d00}',
  '.msix-t{font-size:7px;fill:#fff}',
  '.in{font-size:9px;fill:#222}',
  '.cut{stroke:#777;stroke-width:1;fill:none}',
  '.shared-bg{fill:#fde2e2;stroke:#d40000;stroke-width:1.5}',
  '.shared .pagebox{stroke:#d40000;stroke-width:2}',
  '.finding{fill:#b00000;font-weight:bold}',
  '.gap line{stroke:#aaa;stroke-dasharray:1 3}',
  '.gap text{fill:#888;font-style:italic;font-size:10px}',
  '.legend-group{fill:none;stroke:#1a4d8f;stroke-width:1;pointer-events:all}',
  '.gid{text-anchor:end;fill:#1a4d8f;font-size:9px}',
  '.lost{fill:#b00000}',
]
  .map((rule) => `svg.addrmap ${rule}`)
  .join('\n');

function svgDocument(width: number, height: number, body: string, label: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="addrmap"${attr('viewBox', `0 0 ${width} ${height}`)}` +
    `${attr('width', width)}${attr('height', height)} role="img"${attr('aria-label', label)}>` +
    `<style>${MAP_CSS}</style>\n${body}\n</svg>`
  );
}

/** One map as a standalone SVG document. */
export function mapSvg(map: AddressMap, opts: MapSvgOptions = {}): string {
  const g = mapGroup(map, opts);
  return svgDocument(
    G.mapW,
    g.height,
    `<g class="map"${opts.id ? attr('id', opts.id) : ''}>${g.svg}</g>`,
    opts.title ?? 'address map',
  );
}

/** Before and after side by side, as one SVG document. */
export function beforeAfterSvg(
  before: AddressMap,
  after: AddressMap,
  opts: { before: MapSvgOptions; after: MapSvgOptions; label?: string },
): string {
  const a = mapGroup(before, opts.before);
  const b = mapGroup(after, opts.after);
  const gutter = 30;
  const width = G.mapW * 2 + gutter;
  const height = Math.max(a.height, b.height);
  return svgDocument(
    width,
    height,
    `<g class="map before"${opts.before.id ? attr('id', opts.before.id) : ''}>${a.svg}</g>\n` +
      `<line class="divider"${attr('x1', G.mapW + gutter / 2)}${attr('y1', 0)}${attr('x2', G.mapW + gutter / 2)}${attr('y2', height)} stroke="#ccc"/>\n` +
      `<g class="map after"${attr('transform', `translate(${G.mapW + gutter} 0)`)}${opts.after.id ? attr('id', opts.after.id) : ''}>${b.svg}</g>`,
    opts.label ?? 'address map before and after',
  );
}
