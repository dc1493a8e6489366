// The address map: rows cut from a known Layout (pages, bands, gaps), the SVG
// drawn from them checked box by box (positions and sizes), the compact text
// map, the map's shared pages held to the model's own shared-page findings
// over the whole scenario library at every page size, and its IOMMU group
// outlines held to the groups the model's group findings name (the host's).
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
    // No host groups in this layout: the outlines are its own (the guest's) groups.
    assert.match(svg, />devices by IOMMU group in the guest \(its vIOMMU&#39;s; outlined\)</);
    assert.equal(map.groupView, 'guest');
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

/** Each `rect.<cls>` of an SVG as a box: x, y, width, height and its data-* attributes. */
function boxes(svg: string, cls: string) {
  return elements(svg, 'rect', cls).map((a) => ({
    x: Number(a['x']),
    y: Number(a['y']),
    w: Number(a['width']),
    h: Number(a['height']),
    bdf: a['data-bdf'],
    group: a['data-group'],
  }));
}

/** The legend entries (`g.legend`): each device's BDF and where its swatch is. */
function legendEntries(svg: string): { bdf: string; x: number; y: number }[] {
  return [
    ...svg.matchAll(/<g class="legend" data-bdf="([^"]+)"><rect x="([\d.]+)" y="([\d.]+)"/g),
  ].map((m) => ({ bdf: m[1]!, x: Number(m[2]), y: Number(m[3]) }));
}

describe("the map's IOMMU groups are the ones the findings name", () => {
  async function scenario(name: string) {
    const { scenarios } = await loadScenariosLenient(
      join(fixturesDir, 'scenarios', `${name}.scenario`),
    );
    return scenarios[0]!;
  }

  it('the seed reproducer (qboot, no vIOMMU): group 3 outlined around its members, on the map and in the legend', async () => {
    const s = await scenario('seed-001-reproducer-qboot');
    const e = evaluate(s, NAMED_POLICIES['6.12']!(), 4096);
    assert.equal(e.layout.groups, null, 'no vIOMMU: the guest has no groups of its own');
    const finding = e.findings.find((f) => f.rule === 'model/group')!;
    assert.equal(finding.title, '4 devices cannot be assigned apart (IOMMU group 3)');
    const gid = String(finding.evidence['group']);
    const members = new Set(finding.evidence['devices'] as string[]);
    // The bridge and the four test devices behind it (the finding counts the assignable ones).
    assert.deepEqual([...members].sort(), [
      '0000:00:03.0',
      '0000:01:00.0',
      '0000:01:01.0',
      '0000:01:02.0',
      '0000:01:03.0',
    ]);

    const map = buildAddressMap(
      e.layout,
      4096,
      e.findings.map((f) => toMapFinding(f)),
    );
    assert.equal(map.groupView, 'host');
    assert.equal(map.guestGrouping, 'none');
    const svg = mapSvg(map);
    // The legend says whose groups they are, and no longer that there are none.
    assert.match(
      svg,
      /<text class="sub legend-head"[^>]*>devices by IOMMU group on the host \(outlined\): the groups the findings name</,
    );
    assert.match(svg, /<text class="sub legend-note"[^>]*>no vIOMMU in this guest</);
    assert.doesNotMatch(svg, /no IOMMU groups to outline/);

    // On the map: every box of a member sits inside an outline of group 3 in its row,
    // and no outline of group 3 holds a box of another device.
    const bars = boxes(svg, 'bar');
    const outlines = boxes(svg, 'group').filter((o) => o.group === gid);
    const inside = (b: (typeof bars)[number], o: (typeof outlines)[number]) =>
      o.y === b.y + 1 && o.x - 1 <= b.x + 0.01 && b.x + b.w <= o.x + o.w + 1.01;
    const memberBars = bars.filter((b) => members.has(b.bdf!));
    assert.ok(memberBars.length >= 9, `${memberBars.length} boxes of group ${gid}`);
    for (const b of memberBars)
      assert.ok(
        outlines.some((o) => inside(b, o)),
        `${b.bdf} at y ${b.y} is outlined as group ${gid}`,
      );
    for (const b of bars.filter((x) => !members.has(x.bdf!)))
      assert.ok(!outlines.some((o) => inside(b, o)), `${b.bdf} is not in group ${gid}`);
    // The packed page's three 32-byte BARs: one outline around all three.
    const small = bars.filter((b) => b.bdf !== undefined && /^0000:01:0[0-2]\.0$/.test(b.bdf));
    const packedRow = small.filter((b) => b.y === small[small.length - 1]!.y);
    assert.equal(packedRow.length, 3);
    const around = outlines.filter((o) => packedRow.every((b) => inside(b, o)));
    assert.equal(around.length, 1, 'one outline around the three packed BARs');
    assert.match(svg, /SHARED 4K page: 3 functions, 1 group/);
    assert.match(
      svg,
      /<title>01:00\.0 pci-testdev BAR2: 0x110000000-0x11000001f \(32 B, prefetchable\), IOMMU group 3 on the host<\/title>/,
    );

    // In the legend: one outline for group 3, holding exactly its members on the map.
    const legendGroup = boxes(svg, 'legend-group').filter((g) => g.group === gid);
    assert.equal(legendGroup.length, 1);
    const lg = legendGroup[0]!;
    const inLegend = legendEntries(svg)
      .filter((x) => x.x > lg.x && x.x < lg.x + lg.w && x.y > lg.y && x.y < lg.y + lg.h)
      .map((x) => x.bdf)
      .sort();
    assert.deepEqual(inLegend, [...members].sort());
    assert.match(
      svg,
      /<title>IOMMU group 3 on the host: everything behind pcie-pci-bridge 00:03\.0 uses its requester ID \(DMA alias\)<\/title>/,
    );
    assert.match(
      svg,
      /<title>IOMMU group 1 on the host: a group of its own: no DMA alias or missing ACS ties it to another device<\/title>/,
    );
    // The machine's own ICH9 AHCI is in no host group: listed, not outlined.
    assert.equal(map.devices.find((d) => d.bdf === '0000:00:1f.2')?.group, null);
  });

  it("with a vIOMMU: still the host's groups, and a line on how the guest's compare", async () => {
    const policy = NAMED_POLICIES['6.12']!();
    // intel-iommu attaches every device: the guest groups them as the host does.
    const vtd = evaluate(await scenario('seed-001-reproducer-iommu'), policy, 4096);
    assert.ok(vtd.layout.groups && vtd.layout.hostGroups);
    const vmap = buildAddressMap(vtd.layout, 4096);
    assert.equal(vmap.groupView, 'host');
    assert.equal(vmap.guestGrouping, 'same');
    assert.match(mapSvg(vmap), /legend-note"[^>]*>the guest&#39;s vIOMMU groups them the same</);

    // SMMUv3 refuses three test devices (shared StreamID): the guest's view differs.
    const smmu = evaluate(await scenario('seed-001-reproducer-arm64-smmu'), policy, 65536);
    const finding = smmu.findings.find((f) => f.rule === 'model/group')!;
    const smap = buildAddressMap(smmu.layout, 65536);
    assert.equal(smap.guestGrouping, 'different');
    assert.deepEqual(
      smap.devices.filter((d) => d.group === finding.evidence['group']).map((d) => d.bdf),
      (finding.evidence['devices'] as string[]).filter((b) =>
        smap.devices.some((d) => d.bdf === b),
      ),
    );
    const svg = mapSvg(smap);
    assert.match(svg, /legend-note"[^>]*>the guest&#39;s vIOMMU groups them differently/);
    assert.match(
      svg,
      /01:02\.0 pci-testdev BAR0: [^<]*, IOMMU group 2 on the host; the guest vIOMMU did not attach it</,
    );
    assert.match(
      svg,
      /01:01\.0 pci-testdev BAR0: [^<]*, IOMMU group 2 on the host; in the guest: group 0</,
    );
  });

  it('a layout with no groups at all says so', () => {
    const l = { ...knownLayout(true), groups: null };
    const map = buildAddressMap(l, 4096);
    assert.equal(map.groupView, null);
    const svg = mapSvg(map);
    assert.match(svg, /devices \(no IOMMU groups known for this layout: none to outline\)/);
    assert.equal(elements(svg, 'rect', 'group').length, 0);
  });
});
