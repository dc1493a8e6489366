// The guest kernel command line, as far as it shapes PCI resources and IOMMU
// groups: pci= options (drivers/pci/pci.c pci_setup) and the IOMMU switches.
// Unknown pci= options are errors (they may move BARs); everything else on the
// command line (console=, panic=, ...) is listed as ignored.
import { QemuArgError } from '../errors.js';
import { parseSize } from '../qemu-args.js';

export interface KernelArgs {
  /** pci=resource_alignment= value, or null. */
  resourceAlignment: string | null;
  realloc: 'on' | 'off' | null;
  hpIoSize: number | null;
  hpMmioSize: number | null;
  hpMmioPrefSize: number | null;
  skipIsaAlign: boolean;
  /** intel_iommu=off / iommu=off: no IOMMU groups in the guest. */
  iommuOff: boolean;
  ignored: string[];
}

export function parseKernelArgs(text: string): KernelArgs {
  const out: KernelArgs = {
    resourceAlignment: null,
    realloc: null,
    hpIoSize: null,
    hpMmioSize: null,
    hpMmioPrefSize: null,
    skipIsaAlign: false,
    iommuOff: false,
    ignored: [],
  };
  for (const tok of text.split(/\s+/).filter(Boolean)) {
    if (tok.startsWith('pci=')) {
      for (const opt of tok.slice(4).split(',')) {
        if (opt === 'realloc' || opt === 'realloc=on') out.realloc = 'on';
        else if (opt === 'realloc=off') out.realloc = 'off';
        else if (opt.startsWith('resource_alignment='))
          out.resourceAlignment = opt.slice('resource_alignment='.length);
        else if (opt.startsWith('hpiosize=')) out.hpIoSize = parseSize(opt.slice(9));
        else if (opt.startsWith('hpmmiosize=')) out.hpMmioSize = parseSize(opt.slice(11));
        else if (opt.startsWith('hpmmioprefsize=')) out.hpMmioPrefSize = parseSize(opt.slice(15));
        else if (opt.startsWith('hpmemsize=')) {
          out.hpMmioSize = out.hpMmioPrefSize = parseSize(opt.slice(10));
        } else if (opt === 'skip_isa_align') out.skipIsaAlign = true;
        else
          throw new QemuArgError(`kernel argument pci=${opt} is not modelled (it may move BARs)`);
      }
    } else if (tok === 'intel_iommu=off' || tok === 'iommu=off') {
      out.iommuOff = true;
    } else if (/^pcie_acs_override=/.test(tok)) {
      throw new QemuArgError(`kernel argument ${tok} (out-of-tree ACS override) is not modelled`);
    } else {
      out.ignored.push(tok);
    }
  }
  return out;
}

/** One entry of pci=resource_alignment=: `[order@]pci:VVVV:DDDD` or `[order@][dom:]bus:dev.fn[/dev.fn]*`. */
export interface AlignmentEntry {
  order: number | null;
  match:
    | { kind: 'id'; vendor: number; device: number }
    | { kind: 'path'; domain: number; bus: number; path: { dev: number; fn: number }[] };
}

export function parseResourceAlignment(param: string): AlignmentEntry[] {
  const out: AlignmentEntry[] = [];
  for (const raw of param.split(/[;,]/)) {
    if (!raw) continue;
    let rest = raw;
    let order: number | null = null;
    const om = /^(\d+)@(.*)$/.exec(rest);
    if (om) {
      order = Number(om[1]);
      if (order > 63) order = null; // the kernel logs an error and falls back to PAGE_SHIFT
      rest = om[2]!;
    }
    const idm = /^pci:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::([0-9a-f]{1,4}):([0-9a-f]{1,4}))?$/i.exec(
      rest,
    );
    if (idm) {
      if (idm[3])
        throw new QemuArgError(`resource_alignment=${raw}: subsystem IDs are not modelled`);
      out.push({
        order,
        match: { kind: 'id', vendor: parseInt(idm[1]!, 16), device: parseInt(idm[2]!, 16) },
      });
      continue;
    }
    const pm =
      /^(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])((?:\/[0-9a-f]{1,2}\.[0-7])*)$/i.exec(
        rest,
      );
    if (pm) {
      const path = [{ dev: parseInt(pm[3]!, 16), fn: Number(pm[4]) }];
      for (const seg of (pm[5] ?? '').split('/').filter(Boolean)) {
        const [d, f] = seg.split('.');
        path.push({ dev: parseInt(d!, 16), fn: Number(f) });
      }
      out.push({
        order,
        match: {
          kind: 'path',
          domain: pm[1] ? parseInt(pm[1], 16) : 0,
          bus: parseInt(pm[2]!, 16),
          path,
        },
      });
      continue;
    }
    throw new QemuArgError(`resource_alignment: cannot parse "${raw}"`);
  }
  return out;
}
