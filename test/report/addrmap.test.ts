// The address map: rows cut from a known Layout (pages, bands, gaps), the SVG
// drawn from them checked box by box (positions and sizes), the compact text
// map, and the map's shared pages held to the model's own shared-page findings
// over the whole scenario library at every page size.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Layout, LayoutDevice } from '../../bot/kernel/model/layout.js';
import { NAMED_POLICIES } from '../../bot/kernel/model/policy.js';
import { evaluate } from '../../bot/kernel/model/run.js';
import { loadScenariosLenient } from '../../bot/kernel/model/scenario.js';
import { buildAddressMap, textMap, type MapRow } from '../../workers/report/addrmap.js';
import { toMapFinding } from '../../workers/report/library.js';
import { esc } from '../../workers/report/markup.js';
import {
  GEOMETRY,
  MAP_CSS,
  beforeAfterSvg,
  mapSvg,
  pageBoxes,
  roughSize,
} from '../../workers/report/svg.js';
import { fixturesDir } from '../../bot/util/paths.js';

const mem = (index: number, start: number | null, size: number, is64 = false) => ({
  index,
  start,
  size,
  flags: { io: false, is64, prefetch: false },
});

function dev(
  bdf: string,
  bars: LayoutDevice['bars'],
  extra: Partial<LayoutDevice> = {},
): LayoutDevice {
  return { bdf, name: 'pci-testdev', kind: 'endpoint', bars, windows: [], ...extra };
}

/** Seed 001's picture: three 32-byte BARs in one page, a 256M BAR, a NIC with MSI-X in a 16K BAR. */
function knownLayout(packed: boolean): Layout {
  const small = (i: number) => (packed ? 0x110000000 + i * 0x20 : 0x110000000 + i * 0x1000);
  return {
    devices: [
      dev('0000:00:02.0', [mem(3, 0x21190000, 0x4000)], {
        name: 'e1000e',
        msix: {
          tableBar: 3,
          tableOffset: 0,
          tableSize: 0x50,
          pbaBar: 3,
          pbaOffset: 0x2000,
          pbaSize: 8,
        },
      }),
      dev('0000:01:00.0', [mem(2, small(0), 32)]),
      dev('0000:01:01.0', [mem(2, small(1), 32)]),
      dev('0000:01:02.0', [mem(2, small(2), 32)]),
      dev('0000:01:03.0', [mem(2, 0x100000000, 0x10000000, true), mem(0, null, 0x1000)]),
      dev('0000:00:1f.3', [
        { index: 4, start: 0x700, size: 64, flags: { io: true, is64: false, prefetch: false } },
      ]),
    ],
    groups: [
      { id: 1, bdfs: ['0000:00:02.0'] },
      { id: 3, bdfs: ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0', '0000:01:03.0'] },
    ],
    lost: [{ bdf: '0000:01:03.0', index: 0, reason: 'no space' }],
  };
}

const kinds = (rows: MapRow[]) =>
  rows.map((r) =>
    r.kind === 'gap'
      ? `gap ${r.start.toString(16)}-${r.end.toString(16)}`
      : r.kind === 'band'
        ? `band ${r.start.toString(16)} ${r.pages}p ${r.pieces.map((p) => p.bdf.slice(5)).join(',')}`
        : `page ${r.start.toString(16)} ${r.pieces.map((p) => p.bdf.slice(5)).join(',')}${r.shared ? ' shared' : ''}`,
  );

/** Attributes of every element with `class="<cls>"...` in an SVG string. */
function elements(svg: string, tag: string, cls: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of svg.matchAll(new RegExp(`<${tag} class="${cls}"([^>]*)>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    out.push(attrs);
  }
  return out;
}

describe('the address map of a known layout', () => {
  it('cuts the address axis into bands, gaps and pages; the packed page is shared', () => {
    const map = buildAddressMap(knownLayout(true), 4096);
    assert.deepEqual(kinds(map.rows), [
      'band 21190000 4p 00:02.0',
      'gap 21194000-ffffffff',
      'band 100000000 65536p 01:03.0',
      'page 110000000 01:00.0,01:01.0,01:02.0 shared',
    ]);
    assert.equal(map.shared.length, 1);
    assert.deepEqual(map.shared[0]!.items, ['0000:01:00.0/2', '0000:01:01.0/2', '0000:01:02.0/2']);
    assert.equal(map.ioBars, 1, 'the I/O BAR is counted, not drawn');
    assert.deepEqual(map.lost, [{ bdf: '0000:01:03.0', bar: 0, reason: 'no space' }]);
    // Spread over three pages, nothing is shared and each small BAR has its page.
    const spread = buildAddressMap(knownLayout(false), 4096);
    assert.deepEqual(kinds(spread.rows).slice(3), [
      'page 110000000 01:00.0',
      'page 110001000 01:01.0',
      'page 110002000 01:02.0',
    ]);
    assert.equal(spread.shared.length, 0);
    // At 64K the 16K BAR no longer fills a page: it gets a page row of its own.
    assert.equal(kinds(buildAddressMap(knownLayout(true), 65536).rows)[0], 'page 21190000 00:02.0');
  });

  it('places boxes by their offset in the page, at least minBox wide, in address order', () => {
    const map = buildAddressMap(knownLayout(true), 4096);
    const row = map.rows[3]!;
    assert.equal(row.kind, 'page');
    const boxes = pageBoxes(row.start, 4096, row.kind === 'page' ? row.pieces : []);
    const W = GEOMETRY.pageW;
    assert.deepEqual(
      boxes.map((b) => [b.piece.bdf.slice(5), b.x, b.w]),
      [
        ['01:00.0', 0, GEOMETRY.minBox],
        // 32 bytes in: 2 units at scale, pushed right of the first box.
        ['01:01.0', GEOMETRY.minBox, GEOMETRY.minBox],
        ['01:02.0', 2 * GEOMETRY.minBox, GEOMETRY.minBox],
      ],
    );
    // A 2K BAR at the page's second half keeps its place and width.
    const half = pageBoxes(0x1000, 4096, [
      { ...boxes[0]!.piece, start: 0x1800, end: 0x1fff, size: 0x800 },
    ]);
    assert.deepEqual([half[0]!.x, half[0]!.w], [W / 2, W / 2]);
  });

  it('draws that in SVG: box positions and sizes, shared page, MSI-X marks, groups, legend', () => {
    const map = buildAddressMap(knownLayout(true), 4096, [
      {
        rule: 'model/shared-page',
        severity: 'error',
        title: '3 devices share a 4K page at 0x110000000',
        key: 'shared-page|0000:01:00.0/2,0000:01:01.0/2,0000:01:02.0/2|4096',
        status: 'fixed',
      },
    ]);
    assert.equal(map.shared[0]!.findings.length, 1, 'the finding is matched by its key');
    const svg = mapSvg(map);
    const bars = elements(svg, 'rect', 'bar');
    const X = GEOMETRY.pageX;
    const byBdf = new Map(bars.map((b) => [b['data-bdf'], b]));
    assert.equal(bars.length, 5);
    // The NIC's 16K BAR fills its band; the 256M BAR fills its band.
    assert.deepEqual(
      ['x', 'width', 'height', 'data-size', 'data-start'].map((k) => byBdf.get('0000:00:02.0')![k]),
      [String(X), String(GEOMETRY.pageW), '18', String(0x4000), '0x21190000'],
    );
    assert.equal(byBdf.get('0000:01:03.0')!['width'], String(GEOMETRY.pageW));
    // The three small BARs side by side in one row, minBox each.
    const small = ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0'].map((b) => byBdf.get(b)!);
    assert.deepEqual(
      small.map((b) => [Number(b['x']) - X, Number(b['width']), b['data-size']]),
      [0, 1, 2].map((i) => [i * GEOMETRY.minBox, GEOMETRY.minBox, '32']),
    );
    assert.equal(new Set(small.map((b) => b['y'])).size, 1, 'one row');
    // Rows do not overlap: each row's boxes lie below the previous row's.
    const ys = bars.map((b) => Number(b['y']));
    assert.deepEqual(
      ys.slice(0, 3),
      [...ys.slice(0, 3)].sort((a, b) => a - b),
    );
    assert.ok(ys[1]! >= ys[0]! + 18 + GEOMETRY.gapH);
    // The shared page: its group is marked, with the status of the finding beside it.
    assert.match(svg, /<g class="page shared" data-page="0x110000000">/);
    assert.match(svg, /SHARED 4K page: 3 functions, 1 group \(fixed\)/);
    assert.equal(elements(svg, 'rect', 'shared-bg').length, 1);
    // MSI-X: the table at the start of the 16K BAR, the PBA at its middle (0x2000 of 0x4000).
    const table = elements(svg, 'rect', 'msix table')[0]!;
    const pba = elements(svg, 'rect', 'msix pba')[0]!;
    assert.deepEqual([Number(table['x']), Number(table['width'])], [X, 3]);
    assert.deepEqual([Number(pba['x']), Number(pba['width'])], [X + GEOMETRY.pageW / 2, 3]);
    // IOMMU groups: one outline around the three boxes of group 3, spanning them.
    const outlines = elements(svg, 'rect', 'group').filter((g) => g['data-group'] === '3');
    const packed = outlines.find((o) => o['y'] === String(Number(small[0]!['y']) + 1))!;
    assert.equal(Number(packed['x']), X + 1);
    assert.equal(Number(packed['width']), 3 * GEOMETRY.minBox - 2);
    // The legend outlines the groups and lists each device once; the lost BAR is said.
    assert.deepEqual(
      elements(svg, 'rect', 'legend-group').map((g) => g['data-group']),
      ['1', '3'],
    );
    assert.equal(elements(svg, 'g', 'legend').length, 5);
    assert.match(svg, /no address: 01:03\.0 BAR0: no space/);
    assert.match(svg, /1 I\/O-port BAR not drawn/);
    // The gap says its size and addresses.
    assert.match(svg, /~3\.5G free, 0x21194000-0xffffffff/);
  });

  it("scopes the maps' style to the maps (a <style> in inline SVG styles the whole page)", () => {
    const rules = MAP_CSS.split('\n');
    assert.ok(rules.length > 10);
    for (const r of rules) assert.match(r, /^svg\.addrmap [^{]+\{[^}]*\}$/);
  });

  it('puts before and after side by side', () => {
    const svg = beforeAfterSvg(
      buildAddressMap(knownLayout(true), 4096),
      buildAddressMap(knownLayout(false), 4096),
      { before: { title: 'before' }, after: { title: 'after' } },
    );
    assert.match(svg, /<g class="map before">/);
    assert.match(
      svg,
      new RegExp(`<g class="map after" transform="translate\\(${GEOMETRY.mapW + 30} 0\\)">`),
    );
    assert.match(svg, new RegExp(`viewBox="0 0 ${2 * GEOMETRY.mapW + 30} \\d+"`));
    assert.equal(elements(svg, 'g', 'page shared').length, 1, 'only the before map has it');
  });

  it('escapes text that reaches the SVG', () => {
    const l = knownLayout(true);
    l.devices[1]!.name = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
    const svg = mapSvg(buildAddressMap(l, 4096), { title: '</text><script>x()</script>' });
    assert.doesNotMatch(svg, /<script|<img/);
    assert.match(svg, /&lt;script&gt;x\(\)&lt;\/script&gt;/);
    assert.equal(esc('a"b\'c&\u0001'), 'a&quot;b&#39;c&amp;');
  });

  it('prints the compact text map: one line per page that matters', () => {
    const before = buildAddressMap(knownLayout(true), 4096);
    const after = buildAddressMap(knownLayout(false), 4096);
    assert.deepEqual(textMap(before), [
      '0x110000000   4K  01:00.0 BAR2 32 B, 01:01.0 BAR2 32 B, 01:02.0 BAR2 32 B   SHARED by 3 functions',
    ]);
    assert.deepEqual(textMap(after), [], 'no shared page, no focus: nothing to say');
    const focus = new Set(before.shared[0]!.items);
    assert.deepEqual(textMap(after, focus), [
      '0x110000000   4K  01:00.0 BAR2 32 B',
      '0x110001000   4K  01:01.0 BAR2 32 B',
      '0x110002000   4K  01:02.0 BAR2 32 B',
    ]);
    assert.equal(roughSize(4096), '4K');
    assert.equal(roughSize(0xdee6c000), '~3.5G');
  });
});

describe('the map and the model agree', () => {
  it('on every scenario of the library at every page size: the same shared pages, findings matched', async () => {
    const { scenarios, errors } = await loadScenariosLenient(join(fixturesDir, 'scenarios'));
    assert.deepEqual(errors, []);
    assert.ok(scenarios.some((s) => s.name === 'igb-sriov-48vf'));
    const policy = NAMED_POLICIES['6.12']!();
    let sharedSeen = 0;
    for (const s of scenarios)
      for (const ps of s.pageSizes) {
        const e = evaluate(s, policy, ps);
        const map = buildAddressMap(
          e.layout,
          ps,
          e.findings.map((f) => toMapFinding(f)),
        );
        const fromModel = e.findings
          .filter((f) => f.rule === 'model/shared-page')
          .flatMap((f) => f.evidence['pages'] as string[])
          .sort();
        const fromMap = map.shared.map((p) => `0x${p.page.toString(16)}`).sort();
        assert.deepEqual(fromMap, fromModel, `${s.name} at ${ps}`);
        for (const p of map.shared)
          assert.equal(p.findings.length, 1, `${s.name} at ${ps}: page ${p.page} has its finding`);
        sharedSeen += map.shared.length;
        // Every memory BAR with an address is on the map exactly once per row it touches.
        const drawn = new Set(
          map.rows.flatMap((r) =>
            r.kind === 'gap' ? [] : r.pieces.map((p) => `${p.bdf}/${p.bar}`),
          ),
        );
        const assigned = e.layout.devices.flatMap((d) =>
          d.bars
            .filter((b) => b.start !== null && !b.flags.io && b.size > 0)
            .map((b) => `${d.bdf}/${b.index}`),
        );
        assert.deepEqual([...drawn].sort(), [...new Set(assigned)].sort(), `${s.name} at ${ps}`);
      }
    assert.ok(sharedSeen > 20, `only ${sharedSeen} shared pages over the library`);
  });

  it('the 50-device SR-IOV scenario: 62 functions on the map, four VFs to each 64K page', async () => {
    const { scenarios } = await loadScenariosLenient(
      join(fixturesDir, 'scenarios', 'igb-sriov-48vf.scenario'),
    );
    const s = scenarios[0]!;
    const e = evaluate(s, NAMED_POLICIES['6.12']!(), 65536);
    const map = buildAddressMap(e.layout, 65536);
    assert.ok(map.devices.filter((d) => d.physfn).length === 48);
    assert.ok(map.devices.filter((d) => d.assignable).length >= 50);
    const vfPages = map.shared.filter((p) => p.devices.every((d) => /:1[01]\.\d$/.test(d)));
    assert.equal(vfPages.length, 24);
    assert.ok(vfPages.every((p) => p.devices.length === 4));
    assert.ok(e.layout.groups && e.layout.groups.length > 50, 'each VF in its own group');
  });
});
