// Layouts as people paste them: `lspci -v`/`-vv` text (Region/Memory/I/O lines,
// Expansion ROM, bridge windows, MSI-X Vector table/PBA, SR-IOV VF regions)
// and sysfs `resource` files (one file, or several with their paths). Mail
// quoting (`> `) and indentation are stripped. checkPastedLayout() runs the
// safety checks on what was pasted, as-is: no IOMMU groups are known, so every
// function counts as its own owner.
import type { Finding } from '../../types.js';
import { ModelInputError } from './errors.js';
import type { Layout, LayoutBar, LayoutDevice, LayoutWindow, MsixInfo } from './layout.js';
import { policyFor6_12, type KernelPolicy } from './policy.js';
import { runSafetyChecks } from './safety.js';

const SIZE_UNIT: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * A BAR size as lspci prints it (`[size=256]`, `[size=16K]`). Strict: digits
 * and one unit only, a whole power of two (what a BAR can be) that is a safe
 * integer. `Infinity`, `NaN`, negative, fractional and absurd values are input
 * errors, not numbers the safety checks would then compute with.
 */
function parseLspciSize(text: string, file: string, line: number): number {
  const m = /^(\d{1,16})([KMGT]?)$/.exec(text);
  if (!m) throw new ModelInputError(file, line, `unreadable size "[size=${cut(text)}]"`);
  const v = Number(m[1]) * SIZE_UNIT[m[2]!]!;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new ModelInputError(file, line, `size "[size=${text}]" is out of range`);
  if (!isPowerOfTwo(v))
    throw new ModelInputError(file, line, `size "[size=${text}]" is not a power of two`);
  return v;
}

function isPowerOfTwo(v: number): boolean {
  // Safe integers only: bit tricks would truncate to 32 bits.
  while (v > 1) {
    if (v % 2) return false;
    v /= 2;
  }
  return v === 1;
}

/** Quote at most 60 characters of hostile input in an error message. */
function cut(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

/**
 * A count or index lspci prints in decimal, bounded by what the register
 * holding it can say (MSI-X Table Size is 11 bits, TotalVFs 16 bits, a BAR
 * index 0-5): beyond that it is not lspci output, and a huge count would make
 * the checks loop over VFs or vectors that cannot exist.
 */
function parseBounded(text: string, max: number, what: string, file: string, line: number): number {
  const v = text.length <= 16 ? Number(text) : Infinity;
  if (!Number.isSafeInteger(v) || v > max)
    throw new ModelInputError(file, line, `${what} ${cut(text)} is above ${max}`);
  return v;
}

/** Hex addresses: at most 16 digits (64 bits), and at most 2^53 so arithmetic stays exact. */
function parseHex(text: string, file: string, line: number): number {
  if (text.length > 16) throw new ModelInputError(file, line, `address ${cut(text)} is too long`);
  const v = BigInt(`0x${text}`);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ModelInputError(file, line, `address ${text} is above 2^53`);
  return Number(v);
}

/** Strip mail quoting and leading whitespace; keep the original line numbers. */
function cleanLines(text: string): { text: string; indent: number; line: number }[] {
  return text.split(/\r?\n/).map((raw, i) => {
    const unquoted = raw.replace(/^(\s*>)+\s?/, '');
    const indent = /^\s*/.exec(unquoted)![0].replace(/\t/g, '        ').length;
    return { text: unquoted.trim(), indent, line: i + 1 };
  });
}

// Every pattern here is anchored and has no two quantifiers that can match the
// same characters, so a line is matched in time linear in its length: pasted
// text is hostile (a header line of 80 KB of spaces took 10 s with the
// unanchored `\s*\(rev ...\)` this file used to strip revisions with).
/** The bus address at the start of a device header; the description follows after blanks. */
const HEADER_START = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])(?=\s)/i;
const REGION =
  /^(?:Region (\d+): )?(Memory|I\/O ports) at (<unassigned>|<ignored>|[0-9a-f]+)(?: \((32-bit|64-bit|low-1M|type 3), (non-prefetchable|prefetchable)\))?((?: \[[^\]]+\])*)$/;
const ROM = /^Expansion ROM at (<unassigned>|<ignored>|[0-9a-f]+)((?: \[[^\]]+\])*)$/;
const WINDOW =
  /^(I\/O|Memory|Prefetchable memory) behind bridge: ([0-9a-f]+)-([0-9a-f]+)(?: \[size=[^\]]+\])?(?: \[disabled\])?$/;

/**
 * A header's description without its `(rev NN)` suffix, and the `[vvvv:dddd]`
 * IDs that end it under `lspci -nn`. String searches from the end, not
 * regexes over the whole description.
 */
function splitDescription(desc: string): { name: string; vendor?: number; device?: number } {
  let name = desc.trimEnd();
  const rev = name.toLowerCase().lastIndexOf('(rev ');
  if (rev >= 0 && /^\(rev [0-9a-f]+\)$/i.test(name.slice(rev))) name = name.slice(0, rev).trimEnd();
  const ids = /^\[([0-9a-f]{4}):([0-9a-f]{4})\]$/i.exec(name.slice(-11));
  return ids ? { name, vendor: parseInt(ids[1]!, 16), device: parseInt(ids[2]!, 16) } : { name };
}

/** The `[...]` tags after a Region or ROM line (` [size=16K] [disabled]`), in one pass. */
function bracketTags(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    const open = text.indexOf('[', i);
    if (open < 0) return out;
    const close = text.indexOf(']', open + 1);
    if (close < 0) return out;
    out.push(text.slice(open + 1, close));
    i = close + 1;
  }
}

function kindFromDescription(desc: string): LayoutDevice['kind'] {
  if (/^Host bridge/i.test(desc)) return 'host-bridge';
  if (/^PCI bridge/i.test(desc)) {
    if (/Root Port/i.test(desc)) return 'root-port';
    if (/Downstream/i.test(desc)) return 'downstream-port';
    if (/Upstream/i.test(desc)) return 'upstream-port';
    return 'other-bridge';
  }
  return 'endpoint';
}

/** Parse `lspci -v`/`-vv` output (possibly quoted, possibly without device headers). */
export function parseLspci(text: string, file = '<pasted>'): Layout {
  const devices: LayoutDevice[] = [];
  let cur: LayoutDevice | null = null;
  let nextBar = 0;
  let inSriov = false;
  let sriovNextBar = 0;
  let msixCount = 0;
  let pending: Partial<MsixInfo> = {};
  let anonymous = 0;
  const finish = () => {
    if (cur && pending.tableBar !== undefined && pending.pbaBar !== undefined) {
      cur.msix = {
        tableBar: pending.tableBar,
        tableOffset: pending.tableOffset ?? 0,
        tableSize: msixCount * 16,
        pbaBar: pending.pbaBar,
        pbaOffset: pending.pbaOffset ?? 0,
        pbaSize: Math.max(8, Math.ceil(msixCount / 64) * 8),
      };
    }
    pending = {};
    msixCount = 0;
  };
  const ensure = (line: number): LayoutDevice => {
    if (cur) return cur;
    anonymous++;
    cur = {
      bdf: `pasted-${anonymous}`,
      name: `pasted device ${anonymous} (line ${line})`,
      kind: 'endpoint',
      bars: [],
      windows: [],
    };
    devices.push(cur);
    nextBar = 0;
    return cur;
  };
  for (const { text: t, indent, line } of cleanLines(text)) {
    if (!t) continue;
    const h = indent === 0 ? HEADER_START.exec(t) : null;
    if (h) {
      finish();
      const desc = t.slice(h[0].length).trimStart();
      const split = splitDescription(desc);
      cur = {
        bdf: `${(h[1] ?? '0000').toLowerCase()}:${h[2]!.toLowerCase()}:${h[3]!.toLowerCase()}.${h[4]}`,
        name: split.name,
        kind: kindFromDescription(desc),
        bars: [],
        windows: [],
      };
      if (split.vendor !== undefined) {
        cur.vendor = split.vendor;
        cur.device = split.device;
      }
      devices.push(cur);
      nextBar = 0;
      inSriov = false;
      continue;
    }
    if (/^Capabilities: /.test(t)) {
      inSriov = /Single Root I\/O Virtualization/.test(t);
      sriovNextBar = 0;
      const mx = /MSI-X: Enable[+-] Count=(\d+)/.exec(t);
      if (mx) {
        ensure(line);
        msixCount = parseBounded(mx[1]!, 2048, 'MSI-X count', file, line);
      }
      continue;
    }
    const vt = /^Vector table: BAR=(\d) offset=([0-9a-f]+)$/.exec(t);
    if (vt) {
      pending.tableBar = parseBounded(vt[1]!, 5, 'MSI-X table BAR', file, line);
      pending.tableOffset = parseInt(vt[2]!, 16);
      continue;
    }
    const pba = /^PBA: BAR=(\d) offset=([0-9a-f]+)$/.exec(t);
    if (pba) {
      pending.pbaBar = parseBounded(pba[1]!, 5, 'MSI-X PBA BAR', file, line);
      pending.pbaOffset = parseInt(pba[2]!, 16);
      continue;
    }
    const tv = /Total VFs: (\d+), Number of VFs: (\d+)/.exec(t);
    if (tv && inSriov) {
      const d = ensure(line);
      d.sriov = {
        totalVfs: parseBounded(tv[1]!, 65535, 'Total VFs', file, line),
        numVfs: parseBounded(tv[2]!, 65535, 'Number of VFs', file, line),
        vfBars: d.sriov?.vfBars ?? [],
      };
      continue;
    }
    const off = /^VF offset: (\d+), stride: (\d+)/.exec(t);
    if (off && inSriov && cur) {
      const d: LayoutDevice = cur;
      if (d.sriov) {
        d.sriov.vfOffset = parseBounded(off[1]!, 65535, 'VF offset', file, line);
        d.sriov.vfStride = parseBounded(off[2]!, 65535, 'VF stride', file, line);
      }
      continue;
    }
    // Runs of blanks (a paste re-spaced by a mail client, or padded on purpose)
    // read as one: the patterns below expect lspci's single spaces.
    const c = t.replace(/[ \t]+/g, ' ');
    const r = REGION.exec(c);
    if (r) {
      const d = ensure(line);
      const io = r[2] === 'I/O ports';
      // lspci names the BAR type: 32-bit, 64-bit, low-1M (a legacy type: below
      // 1M, 32-bit wide) or "type 3" (reserved; one register, as 32-bit).
      const is64 = r[4] === '64-bit';
      const tags = bracketTags(r[6] ?? '');
      const sizeTag = tags.find((x) => x.startsWith('size='));
      const size = sizeTag ? parseLspciSize(sizeTag.slice(5), file, line) : 0;
      const start =
        r[3]!.startsWith('<') || tags.includes('disabled') ? null : parseHex(r[3]!, file, line);
      const flags = { io, is64, prefetch: r[5] === 'prefetchable' };
      if (inSriov) {
        const index =
          r[1] !== undefined ? parseBounded(r[1], 5, 'VF BAR index', file, line) : sriovNextBar;
        if (index > 5) throw new ModelInputError(file, line, `VF BAR index ${index} above 5`);
        sriovNextBar = index + (is64 ? 2 : 1);
        const s = d.sriov ?? (d.sriov = { totalVfs: 0, numVfs: 0, vfBars: [] });
        s.vfBars.push({ index, start, size, flags });
        continue;
      }
      const index = r[1] !== undefined ? parseBounded(r[1], 5, 'BAR index', file, line) : nextBar;
      if (index > 5) throw new ModelInputError(file, line, `BAR index ${index} above 5`);
      nextBar = index + (is64 ? 2 : 1);
      d.bars.push({ index, start, size, flags });
      continue;
    }
    const rom = ROM.exec(c);
    if (rom) {
      const d = ensure(line);
      const tags = bracketTags(rom[2] ?? '');
      const sizeTag = tags.find((x) => x.startsWith('size='));
      const start = rom[1]!.startsWith('<') ? null : parseHex(rom[1]!, file, line);
      d.bars.push({
        index: 6,
        start,
        size: sizeTag ? parseLspciSize(sizeTag.slice(5), file, line) : 0,
        flags: { io: false, is64: false, prefetch: true },
      });
      continue;
    }
    const w = WINDOW.exec(c);
    if (w) {
      const d = ensure(line);
      const kind = w[1] === 'I/O' ? 'io' : w[1] === 'Memory' ? 'mem' : 'pref';
      const start = parseHex(w[2]!, file, line);
      const end = parseHex(w[3]!, file, line);
      if (end >= start && !/\[disabled\]$/.test(c))
        d.windows.push({ kind, start, end, is64: kind === 'pref' && w[2]!.length > 8 });
      if (d.kind === 'endpoint') d.kind = 'other-bridge';
      continue;
    }
  }
  finish();
  if (!devices.length)
    throw new ModelInputError(file, undefined, 'no lspci device, Region, Memory or I/O line found');
  for (const d of devices) d.bars.sort((a, b) => a.index - b.index);
  return { devices, groups: null, lost: [] };
}

const IORESOURCE_IO = 0x100;
const IORESOURCE_MEM = 0x200;
const IORESOURCE_PREFETCH = 0x2000;
const IORESOURCE_MEM_64 = 0x100000;
const IORESOURCE_UNSET = 0x20000000;

/**
 * sysfs `resource` files: three hex numbers per line (start end flags), one
 * line per resource. Several files may be concatenated, each introduced by its
 * path (`/sys/bus/pci/devices/0000:01:00.0/resource`) on a line of its own or as
 * a `path:` prefix on every line (`grep . /sys/bus/pci/devices/*\/resource`).
 */
export function parseSysfsResources(text: string, file = '<pasted>'): Layout {
  const groups = new Map<string, { line: number; values: [number, number, number] }[]>();
  let current = 'pasted-1';
  const pathRe = /(?:^|\/)([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\/resource:?$/i;
  for (const { text: t, line } of cleanLines(text)) {
    if (!t) continue;
    let body = t;
    // [\s\S]* rather than .*: once the path matched, the rest of the line always does
    // (no backtracking into \S* over a line with a stray \r or U+2028 in it).
    const pre = /^(\S*\/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\/resource):([\s\S]*)$/i.exec(
      t,
    );
    if (pre) {
      current = pre[2]!.toLowerCase();
      body = pre[3]!.trim();
    } else {
      const p = pathRe.exec(t);
      if (p) {
        current = p[1]!.toLowerCase();
        continue;
      }
    }
    const m = /^0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)$/i.exec(body);
    if (!m)
      throw new ModelInputError(file, line, `expected "0xSTART 0xEND 0xFLAGS", got "${cut(t)}"`);
    const l = groups.get(current) ?? [];
    const values: [number, number, number] = [
      parseHex(m[1]!, file, line),
      parseHex(m[2]!, file, line),
      parseHex(m[3]!, file, line),
    ];
    // The kernel prints end >= start for every resource that has flags (an unset
    // one keeps its size as 0..size-1); anything else would be a negative size.
    if (values[2] && values[1] < values[0])
      throw new ModelInputError(file, line, `end 0x${m[2]} is below start 0x${m[1]}`);
    l.push({ line, values });
    groups.set(current, l);
  }
  if (!groups.size) throw new ModelInputError(file, undefined, 'no resource lines found');
  const devices: LayoutDevice[] = [];
  for (const [bdf, rows] of groups) {
    // 11 lines without CONFIG_PCI_IOV (BARs, ROM, 4 bridge windows), 17 with it.
    const bridgeFirst = rows.length >= 17 ? 13 : 7;
    const bars: LayoutBar[] = [];
    const windows: LayoutWindow[] = [];
    rows.forEach(({ values: [start, end, flags] }, i) => {
      if (!flags) return;
      const f = {
        io: (flags & IORESOURCE_IO) !== 0,
        is64: (flags & IORESOURCE_MEM_64) !== 0,
        prefetch: (flags & IORESOURCE_PREFETCH) !== 0,
      };
      const unset = (flags & IORESOURCE_UNSET) !== 0;
      if (i <= 6)
        bars.push({ index: i, start: unset ? null : start, size: end - start + 1, flags: f });
      else if (i >= bridgeFirst && !unset && flags & (IORESOURCE_IO | IORESOURCE_MEM)) {
        windows.push({ kind: f.io ? 'io' : f.prefetch ? 'pref' : 'mem', start, end, is64: f.is64 });
      }
    });
    devices.push({
      bdf,
      name: bdf.startsWith('pasted') ? 'pasted resource file' : bdf,
      kind: windows.length ? 'other-bridge' : 'endpoint',
      bars,
      windows,
    });
  }
  return { devices, groups: null, lost: [] };
}

/** lspci text or sysfs resource dumps, told apart by their first meaningful line. */
export function parsePastedLayout(text: string, file = '<pasted>'): Layout {
  const first = cleanLines(text).find((l) => l.text);
  if (
    first &&
    (/^0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+$/i.test(first.text) ||
      /\/resource:?/.test(first.text))
  ) {
    return parseSysfsResources(text, file);
  }
  return parseLspci(text, file);
}

export interface PastedCheck {
  layout: Layout;
  findings: Finding[];
  pageSizes: number[];
}

/** Run the safety checks on a pasted layout, as-is (no groups known: each function its own owner). */
export function checkPastedLayout(
  text: string,
  opts: { file?: string; pageSizes?: number[]; policy?: KernelPolicy } = {},
): PastedCheck {
  const file = opts.file ?? '<pasted>';
  const layout = parsePastedLayout(text, file);
  const pageSizes = opts.pageSizes ?? [4096];
  const policy = opts.policy ?? policyFor6_12();
  const findings = pageSizes.flatMap((pageSize) =>
    runSafetyChecks({ layout, pageSize, policy, groupOf: null, source: file }),
  );
  return { layout, findings, pageSizes };
}
