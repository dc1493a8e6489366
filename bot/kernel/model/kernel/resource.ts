// A small model of Linux's struct resource tree (kernel/resource.c): nested,
// non-overlapping ranges, requests that fail on conflict, and allocation of the
// lowest gap that satisfies size, alignment, [min, max] and an arch alignment
// hook. Flag values are the kernel's IORESOURCE_* bits so the PCI code reads
// like the C it models and the flags can be compared with sysfs dumps.
//
// Addresses are plain numbers (exact to 2^53); "no upper limit" is 2^64.

export const IORESOURCE_IO = 0x100;
export const IORESOURCE_MEM = 0x200;
export const IORESOURCE_TYPE_BITS = 0x1f00;
export const IORESOURCE_PREFETCH = 0x2000;
export const IORESOURCE_READONLY = 0x4000;
export const IORESOURCE_SIZEALIGN = 0x40000;
export const IORESOURCE_STARTALIGN = 0x80000;
export const IORESOURCE_MEM_64 = 0x100000;
export const IORESOURCE_WINDOW = 0x200000;
export const IORESOURCE_UNSET = 0x20000000;
/** Bus-specific bits (PCI): */
export const IORESOURCE_ROM_ENABLE = 0x1;
export const IORESOURCE_ROM_SHADOW = 0x2;
export const IORESOURCE_PCI_FIXED = 0x10;
export const PCI_PREF_RANGE_TYPE_64 = 0x1;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x1;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;

export const ADDR_MAX = 2 ** 64;

export class Res {
  start = 0;
  end = -1;
  flags = 0;
  parent: Res | null = null;
  /** Children sorted by start. */
  children: Res[] = [];
  constructor(public name: string) {}
  size(): number {
    return this.end - this.start + 1;
  }
}

export function setFlag(r: Res, bits: number): void {
  r.flags = (r.flags | bits) >>> 0;
}
export function clearFlag(r: Res, bits: number): void {
  r.flags = (r.flags & ~bits) >>> 0;
}
export function hasFlag(r: Res, bits: number): boolean {
  return (r.flags & bits) !== 0;
}
export function resType(r: Res): number {
  return r.flags & IORESOURCE_TYPE_BITS;
}

/** ALIGN(x, a) for any positive a (the kernel's macro assumes a power of two). */
export function alignUp(x: number, a: number): number {
  if (a <= 1) return x;
  return Math.ceil(x / a) * a;
}
export function alignDown(x: number, a: number): number {
  if (a <= 1) return x;
  return Math.floor(x / a) * a;
}

/** Index of the lowest set bit (the kernel's __ffs); 64 for 0 as bsf/tzcnt give. */
export function ffs0(n: number): number {
  if (n <= 0) return 64;
  let i = 0;
  while (n % 2 === 0) {
    n /= 2;
    i++;
  }
  return i;
}

export function resourceAlignment(r: Res): number {
  const a = r.flags & (IORESOURCE_SIZEALIGN | IORESOURCE_STARTALIGN);
  if (a === IORESOURCE_SIZEALIGN) return r.size();
  if (a === IORESOURCE_STARTALIGN) return r.start;
  return 0;
}

export function resourceContains(outer: Res, inner: Res): boolean {
  if (resType(outer) !== resType(inner)) return false;
  if (hasFlag(outer, IORESOURCE_UNSET) || hasFlag(inner, IORESOURCE_UNSET)) return false;
  return outer.start <= inner.start && outer.end >= inner.end;
}

/** __request_resource: insert `r` under `root`; returns the conflicting resource, or null. */
export function requestResource(root: Res, r: Res): Res | null {
  if (r.end < r.start || r.start < root.start || r.end > root.end) return root;
  let i = 0;
  for (; i < root.children.length; i++) {
    const c = root.children[i]!;
    if (c.start > r.end) break;
    if (c.end < r.start) continue;
    return c;
  }
  root.children.splice(i, 0, r);
  r.parent = root;
  return null;
}

export function releaseResource(r: Res): void {
  const p = r.parent;
  if (!p) return;
  const i = p.children.indexOf(r);
  if (i >= 0) p.children.splice(i, 1);
  r.parent = null;
}

export interface AllocConstraint {
  min: number;
  max: number;
  align: number;
  /** The arch hook (pcibios_align_resource); gets the aligned gap start. */
  alignf?: (
    avail: { start: number; end: number; flags: number },
    size: number,
    align: number,
  ) => number;
  /** arch_remove_reservations: trims a candidate gap (x86: BIOS ROM area, e820 entries). */
  trim?: (avail: { start: number; end: number; flags: number }) => void;
}

/**
 * __find_resource_space + __request_resource: the lowest gap under `root`
 * (between its children) that fits. `old` is skipped as the kernel does when
 * reallocating a resource in place.
 */
export function allocateResource(
  root: Res,
  r: Res,
  size: number,
  c: AllocConstraint,
  old: Res | null = null,
  dryRun = false,
): boolean {
  const kids = root.children;
  let idx = 0;
  let tmpStart = root.start;
  if (kids.length && kids[0]!.start === root.start) {
    tmpStart = kids[0] === old ? old.start : kids[0]!.end + 1;
    idx = 1;
  }
  for (;;) {
    const thisRes = idx < kids.length ? kids[idx]! : null;
    const tmpEnd = thisRes ? (thisRes === old ? thisRes.end : thisRes.start - 1) : root.end;
    if (tmpEnd >= tmpStart) {
      const tmp = { start: tmpStart, end: tmpEnd, flags: r.flags };
      if (tmp.start < c.min) tmp.start = c.min;
      if (tmp.end > c.max) tmp.end = c.max;
      c.trim?.(tmp);
      const availStart = alignUp(tmp.start, c.align);
      if (availStart >= tmp.start && tmp.end >= tmp.start) {
        const avail = { start: availStart, end: tmp.end, flags: r.flags & ~IORESOURCE_UNSET };
        const allocStart = c.alignf ? c.alignf(avail, size, c.align) : avail.start;
        const allocEnd = allocStart + size - 1;
        if (allocStart <= allocEnd && allocStart >= avail.start && allocEnd <= avail.end) {
          if (dryRun) return true;
          if (old) releaseResource(old);
          r.start = allocStart;
          r.end = allocEnd;
          const conflict = requestResource(root, r);
          if (conflict) throw new Error(`model bug: allocated ${r.name} over ${conflict.name}`);
          return true;
        }
      }
    }
    if (!thisRes || thisRes.end === root.end) break;
    if (thisRes !== old) tmpStart = thisRes.end + 1;
    idx++;
  }
  return false;
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** `[mem 0x00001000-0x00001fff 64bit pref]` as the kernel's %pR prints a resource. */
export function fmtRes(r: Res): string {
  const io = hasFlag(r, IORESOURCE_IO);
  const t = io ? 'io ' : 'mem';
  // %pR pads I/O addresses to 4 hex digits and memory addresses to 8.
  const h = (n: number) => '0x' + n.toString(16).padStart(io ? 4 : 8, '0');
  const tail = `${hasFlag(r, IORESOURCE_MEM_64) ? ' 64bit' : ''}${hasFlag(r, IORESOURCE_PREFETCH) ? ' pref' : ''}`;
  if (hasFlag(r, IORESOURCE_UNSET)) return `[${t} size ${h(r.size())}${tail}]`;
  return `[${t} ${h(r.start)}-${h(r.end)}${tail}]`;
}
