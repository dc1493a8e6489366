// End to end on the real 6.12 tree, with what real mail does (issue 10): a
// series generated from the tree by edits, written on an author's tree that
// drifted from it. Where patches land (findings on the landed lines), a
// conflict that names the line that did not match (a taken enum bit), the
// patches applied after it ("applied without 2/8", "likely built on 2/8"),
// and patches already upstream in moved (a function moved to another file),
// merged (a file merged into another) and reworked form, next to one that is
// not upstream and stays a conflict. Nothing here is kernel text: anchors, and
// lines read from the tree when the test runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { renderTerminal } from '../../workers/report/text.js';
import type { ReviewResult } from '../../workers/report/types.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import {
  generateExampleMbox,
  type ExampleEdit,
  type ExampleSeries,
} from '../../fixtures/examples/generate.js';
import { runReview } from '../../workers/pipeline.js';

const PCI = 'drivers/pci/pci.c';
const PCI_H = 'include/linux/pci.h';
const REBAR = 'drivers/pci/rebar.c';
const PORTDRV = 'drivers/pci/pcie/portdrv.c';
const PORTDRV_PCI = 'drivers/pci/pcie/portdrv_pci.c';
const CONFIG = 'drivers/vfio/pci/vfio_pci_config.c';

let tree = '';
let commit = '';
let work = '';
const text = new Map<string, string[]>();
/** The tree's lines of `file` (read when the test runs). */
const linesOf = (file: string): string[] => {
  if (!text.has(file))
    text.set(
      file,
      execFileSync('git', ['-C', tree, 'show', `${commit}:${file}`], {
        maxBuffer: 64 << 20,
      })
        .toString()
        .split('\n'),
    );
  return text.get(file)!;
};
/** 1-based line of the one line matching `re`. */
const lineOf = (file: string, re: RegExp): number => {
  const hits = linesOf(file).flatMap((l, i) => (re.test(l) ? [i + 1] : []));
  assert.equal(hits.length, 1, `${file}: ${re} matches ${hits.length} lines`);
  return hits[0]!;
};
/** The lines of a function: from its definition line to the closing brace at column 0. */
function functionLines(file: string, def: RegExp): { at: number; lines: string[] } {
  const at = lineOf(file, def);
  const all = linesOf(file);
  const end = all.findIndex((l, i) => i >= at && l === '}');
  return { at, lines: all.slice(at - 1, end + 1) };
}

let result: ReviewResult;
let terminal = '';

before(async () => {
  ({ path: tree, commit } = await prepareKernelTree());
  work = await mkdtemp(join(tmpdir(), 'pcibot-real-shapes-'));

  // The moved function: in the author's tree pci_rebar_get_possible_sizes() is still in
  // pci.c, without the quirk the patch adds; the tree has it in rebar.c, quirk included.
  const rebar = functionLines(
    REBAR,
    /^u32 pci_rebar_get_possible_sizes\(struct pci_dev \*pdev, int bar\)$/,
  );
  const quirkAt = rebar.lines.findIndex((l) => /^\t\/\*.*\*\/$/.test(l));
  assert.ok(quirkAt > 0, 'the quirk comment in pci_rebar_get_possible_sizes()');
  const quirk = rebar.lines.slice(quirkAt, quirkAt + 4); // comment, two-line test, return
  const oldRebar = [...rebar.lines.slice(0, quirkAt), ...rebar.lines.slice(quirkAt + 5)];
  // The merged file: the author's tree has portdrv_pci.c holding pcie_portdrv_error_detected()
  // without the frozen-channel test the patch adds; the tree has it in portdrv.c.
  const detected = functionLines(PORTDRV, /^static pci_ers_result_t pcie_portdrv_error_detected\(/);
  const frozenAt = detected.lines.findIndex((l) => /^\tif \(/.test(l));
  const frozen = detected.lines.slice(frozenAt, frozenAt + 2);
  const oldDetected = [...detected.lines.slice(0, frozenAt), ...detected.lines.slice(frozenAt + 2)];
  // The reworked hunk: the tree's __vfio_pci_memory_enabled() has a comment and a return
  // the author's tree lacks; the patch adds three of the comment's lines and another return.
  const enabled = functionLines(CONFIG, /^bool __vfio_pci_memory_enabled\(/);
  const open = enabled.lines.findIndex((l) => l === '\t/*');
  const close = enabled.lines.findIndex((l) => l === '\t */');
  const sriov = enabled.lines.slice(close - 3, close); // the comment's last three lines

  const drift: ExampleEdit[] = [
    // pci.c: 40 lines fewer early on (its hunks land 40 lines below their headers), and
    // pci_rebar_get_possible_sizes() as it was before it moved.
    {
      file: PCI,
      anchor: /^pci_power_t pci_choose_state\(struct pci_dev \*dev, pm_message_t state\)$/,
      op: 'replace',
      count: 40,
      lines: [],
    },
    {
      file: PCI,
      anchor: /^static int __init pci_setup\(char \*str\)$/,
      op: 'before',
      lines: [...oldRebar, ''],
    },
    {
      file: PCI,
      anchor: /^\t\t\t\} else if \(!strcmp\(str, "nodomains"\)\) \{$/,
      op: 'replace',
      lines: ['\t\t\t} else if (!strcmp(str, "no_domains")) {'],
    },
    { file: REBAR, anchor: rebar.at, op: 'replace', count: rebar.lines.length + 1, lines: [] },
    // pci.h: 12 lines more at the top, and bit 13 of enum pci_dev_flags not taken yet.
    {
      file: PCI_H,
      anchor: /^#define LINUX_PCI_H$/,
      op: 'after',
      lines: Array.from({ length: 12 }, (_, i) => `/* author's tree, note ${i + 1} */`),
    },
    {
      file: PCI_H,
      anchor: /^\t\/\* Device requires write to PCI_MSIX_ENTRY_DATA before any MSIX reads \*\/$/,
      op: 'replace',
      count: 2,
      lines: [],
    },
    // portdrv: the error handler still in portdrv_pci.c.
    {
      file: PORTDRV,
      anchor: detected.at,
      op: 'replace',
      count: detected.lines.length + 1,
      lines: [],
    },
    {
      file: PORTDRV_PCI,
      anchor: 1,
      op: 'before',
      lines: [
        '// SPDX-License-Identifier: GPL-2.0',
        "/* The port driver (author's tree) */",
        '',
        ...oldDetected,
      ],
    },
    // vfio_pci_config.c: the memory-enable test as it was.
    {
      file: CONFIG,
      anchor: enabled.at + open,
      op: 'replace',
      count: enabled.lines.length - open - 1,
      lines: ['\treturn cmd & PCI_COMMAND_MEMORY;'],
    },
  ];

  const series: ExampleSeries = {
    name: 'real-shapes',
    version: 1,
    author: { name: 'Ada Pcidev', address: 'ada.pcidev@example.org' },
    to: ['Bjorn Helgaas <bhelgaas@google.com>'],
    cc: ['linux-pci@vger.kernel.org'],
    date: '2026-11-03T10:00:00Z',
    cover: { subject: 'PCI: What real mail does', body: 'Eight patches written on another tree.' },
    drift,
    patches: [
      {
        subject: 'PCI: Align small BARs to max(4K, PAGE_SIZE)',
        body:
          'Small BARs of different devices end up in one page, so a device passed\n' +
          'through to a guest exposes the registers of the other (XSA-461). Make\n' +
          'the default alignment of memory BARs max(4K, PAGE_SIZE).',
        edits: [
          {
            file: PCI,
            anchor: /^resource_size_t __weak pcibios_default_alignment\(void\)$/,
            op: 'replace',
            count: 4,
            lines: [
              'resource_size_t __weak pcibios_default_alignment(void)',
              '{',
              '\t/*',
              '\t * PCIe r6.1 sec 7.7.2: MSI-X structures must not share a naturally',
              '\t * aligned 4 KiB range with other registers.',
              '\t */',
              '\treturn max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
              '}',
            ],
          },
        ],
      },
      {
        subject: 'PCI: Remember that firmware enabled decoding',
        body: 'Add a device flag, and set it where decoding is turned off.',
        edits: [
          {
            file: PCI,
            anchor: /^\tcommand &= ~PCI_COMMAND_MEMORY;$/,
            op: 'before',
            lines: ['\tdev->dev_flags |= PCI_DEV_FLAGS_PCIBOT_DECODE;'],
          },
          {
            file: PCI_H,
            anchor: /^\tPCI_DEV_FLAGS_HAS_MSI_MASKING = \(__force pci_dev_flags_t\) \(1 << 12\),$/,
            op: 'after',
            lines: [
              '\t/* Firmware had memory decoding on (pcibot test) */',
              '\tPCI_DEV_FLAGS_PCIBOT_DECODE = (__force pci_dev_flags_t) (1 << 13),',
            ],
          },
        ],
      },
      {
        subject: 'PCI: Say when bridge windows are released',
        body: 'A comment.',
        edits: [
          {
            file: 'drivers/pci/setup-bus.c',
            anchor: /^void pci_assign_unassigned_root_bus_resources\(struct pci_bus \*bus\)$/,
            op: 'before',
            lines: ['/* Bridge windows may be released and assigned again below (pcibot test). */'],
          },
        ],
      },
      {
        subject: 'PCI: Declare the decoding helper',
        body: 'A declaration next to the flag.',
        edits: [
          {
            file: PCI_H,
            anchor: /^void pci_disable_device\(struct pci_dev \*dev\);$/,
            op: 'after',
            lines: ['void pci_pcibot_restore_decoding(struct pci_dev *dev);'],
          },
        ],
      },
      {
        subject: 'PCI: Add a REBAR size quirk',
        body: 'The quirk, in pci.c where the function is in this tree.',
        edits: [
          {
            file: PCI,
            anchor: /^\tpci_read_config_dword\(pdev, pos \+ PCI_REBAR_CAP, &cap\);$/,
            op: 'after',
            skip: 1,
            lines: ['', ...quirk],
          },
        ],
      },
      {
        subject: 'PCI/portdrv: Report reset for frozen channel',
        body: 'A frozen channel needs a reset.',
        edits: [{ file: PORTDRV_PCI, anchor: 4 + frozenAt, op: 'before', lines: frozen }],
      },
      {
        subject: 'vfio/pci: Fix SR-IOV VF handling with MMIO blocking',
        body: 'VFs do not implement the memory enable bit.',
        edits: [
          {
            file: CONFIG,
            anchor: /^\treturn cmd & PCI_COMMAND_MEMORY;$/,
            op: 'replace',
            lines: [
              '\t/*',
              ...sriov,
              '\t */',
              '\treturn pdev->is_virtfn || (cmd & PCI_COMMAND_MEMORY);',
            ],
          },
        ],
      },
      {
        subject: 'PCI: Add pci=pcibot_test',
        body: 'Not upstream: a new option next to a line the tree words differently.',
        edits: [
          {
            file: PCI,
            anchor: /^\t\t\t\} else if \(!strcmp\(str, "no_domains"\)\) \{$/,
            op: 'before',
            lines: ['\t\t\t} else if (!strcmp(str, "pcibot_test")) {', '\t\t\t\treturn -EINVAL;'],
          },
        ],
      },
    ],
  };
  const mbox = join(work, 'series.mbox');
  await generateExampleMbox({ tree, base: commit, series, out: mbox });
  const report = await runReview({ inputs: [mbox], tree, model: false });
  assert.equal(report.series.length, 1);
  result = report.series[0]!;
  terminal = renderTerminal(report);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

const patch = (n: number) => result.patches[n - 1]!;

describe('a series written on another tree, on the real 6.12 tree', () => {
  test('statuses', () => {
    assert.deepEqual(
      result.patches.map((p) => p.apply?.status),
      [
        'applied',
        'conflict',
        'applied',
        'applied',
        'already-applied',
        'already-applied',
        'conflict',
        'conflict',
      ],
    );
  });

  test('findings are on the lines where the patch landed', () => {
    const p = patch(1);
    assert.deepEqual(
      p.apply?.landed?.map((l) => l.offset),
      [40],
    );
    const def = lineOf(PCI, /^resource_size_t __weak pcibios_default_alignment\(void\)$/);
    const at = (rule: string) => p.findings.find((f) => f.rule === rule);
    assert.equal(at('policy-in-weak-default')?.line, def + 2, 'the comment the patch adds');
    assert.equal(at('realign-by-default')?.line, def + 6, 'the return the patch changes');
    assert.equal(at('realign-by-default')?.mailLine, def + 6 - 40, 'as the mail numbers it');
    assert.equal(at('realign-by-default')?.headLine, def + 6, 'no later patch moves it');
  });

  test('the conflict names the line that did not match, in the right file, and the taken bit', () => {
    const p = patch(2);
    const c = p.apply!.conflicts!;
    assert.deepEqual(
      c.map((x) => x.file),
      [PCI_H],
    );
    const msix = lineOf(
      PCI_H,
      /^\t\/\* Device requires write to PCI_MSIX_ENTRY_DATA before any MSIX reads \*\/$/,
    );
    assert.equal(c[0]!.line, msix, c[0]!.reason);
    assert.match(
      c[0]!.reason,
      new RegExp(
        `context matches best at ${msix - 3}-${msix - 1} \\(3 of 6 lines, -12 from the header\\); expected "};" at ${msix}, found "\\\\t/\\* Device requires write`,
      ),
    );
    assert.match(
      c[0]!.reason,
      /then "\\tPCI_DEV_FLAGS_MSIX_TOUCH_ENTRY_DATA_FIRST = \(__force pci_dev_flags_t\) \(1 << 13\),"/,
    );
    assert.match(
      c[0]!.reason,
      /bit 13 of enum pci_dev_flags is taken: PCI_DEV_FLAGS_MSIX_TOUCH_ENTRY_DATA_FIRST \(line \d+\) has it, so PCI_DEV_FLAGS_PCIBOT_DECODE needs another/,
    );
    assert.match(
      p.apply!.detail!,
      /no 3-way merge: blob [0-9a-f]+ \(include\/linux\/pci\.h before the patch\) is not in the tree/,
    );
  });

  test('patches after it say they were applied without it, and which were built on it', () => {
    assert.equal(patch(3).apply?.detail, 'without 2/8, which did not apply');
    assert.deepEqual(patch(4).apply?.builtOn, [2]);
    assert.match(
      patch(4).apply!.detail!,
      /^without 2\/8, which did not apply; likely built on 2\/8: its include\/linux\/pci\.h \(index [0-9a-f]+\) is what 2\/8 makes of that file$/,
    );
    assert.match(
      terminal,
      /3\/8 PCI: Say when bridge windows are released\n {6}applied without 2\/8, which did not apply/,
    );
    assert.deepEqual(result.without, [
      { index: 2, why: 'did not apply' },
      { index: 7, why: 'did not apply' },
      { index: 8, why: 'did not apply' },
    ]);
    assert.match(
      terminal,
      /the findings about the series are computed without 2\/8, 7-8\/8, which did not apply/,
    );
  });

  test('a function moved to another file: likely already upstream, where it is now', () => {
    const p = patch(5);
    const from = lineOf(
      REBAR,
      new RegExp(`^${quirkLine().replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`),
    );
    assert.equal(
      p.apply?.detail?.startsWith(
        `likely already upstream: added lines found at ${REBAR}:${from}-${from + 3} (pci_rebar_get_possible_sizes())`,
      ),
      true,
      p.apply?.detail,
    );
  });

  test('a file merged into another: where its content went, and that the change is there', () => {
    const fn = lineOf(PORTDRV, /^static pci_ers_result_t pcie_portdrv_error_detected\(/);
    assert.match(
      patch(6).apply!.detail!,
      new RegExp(
        `^likely already upstream: ${PORTDRV_PCI.replace(/\./g, '\\.')} is not in the tree; pcie_portdrv_error_detected\\(\\) is in ${PORTDRV.replace(/\./g, '\\.')}, where the change already sits at ${fn + 3}-${fn + 4}`,
      ),
    );
  });

  test('a reworked hunk: partly present, still a conflict', () => {
    const p = patch(7);
    assert.match(
      p.apply!.detail!,
      new RegExp(
        `^partly present \\(reworked\\): 3/4 added lines at ${CONFIG.replace(/\./g, '\\.')}:\\d+-\\d+ \\(__vfio_pci_memory_enabled\\(\\)\\); `,
      ),
    );
  });

  test('a patch that is not upstream stays a conflict, whatever common lines it adds', () => {
    const p = patch(8);
    assert.doesNotMatch(p.apply!.detail!, /upstream|present/);
    assert.match(
      p.apply!.detail!,
      new RegExp(`^${PCI.replace(/\./g, '\\.')}:\\d+: hunk #1 does not apply`),
    );
  });
});

/** The quirk's comment line in rebar.c (read from the tree). */
function quirkLine(): string {
  const lines = linesOf(REBAR);
  const def = lines.findIndex((l) => l.startsWith('u32 pci_rebar_get_possible_sizes('));
  return lines.find((l, i) => i > def && /^\t\/\*.*\*\/$/.test(l))!;
}
