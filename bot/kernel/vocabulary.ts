// The words pcibot uses for a guest and the kernel it runs, defined once: the
// model, the policy reader, verify, the rules and the CLI all take these.
// A narrower word (Boot*) is a subset of the wider one, so a value checked for
// the subset needs no conversion to be used where the wider word is expected.

/**
 * Every architecture the policy reader and the model know. ppc64 and s390x
 * have a policy (read from the tree) but no machine model and no boot yet.
 */
export type Arch = 'x86_64' | 'arm64' | 'ppc64' | 's390x';
export const ARCHES: readonly Arch[] = ['x86_64', 'arm64', 'ppc64', 's390x'];

/** The architectures pcibot builds and boots (verify) and has recorded layouts for. */
export type BootArch = Extract<Arch, 'x86_64' | 'arm64'>;

/** Guest page sizes, in bytes, the model places BARs for (4K, 16K, 64K). */
export type PageSize = 4096 | 16384 | 65536;
export const PAGE_SIZES: readonly PageSize[] = [4096, 16384, 65536];

/** The page sizes verify builds kernels with: x86_64 4K, arm64 4K or 64K. */
export type BootPageSize = Extract<PageSize, 4096 | 65536>;

/** The firmware a scenario can name (OVMF parses but is not modelled). */
export type Firmware = 'seabios' | 'seabios-nomin' | 'qboot' | 'none' | 'ovmf';
export const FIRMWARES: readonly Firmware[] = ['seabios', 'seabios-nomin', 'qboot', 'none', 'ovmf'];

/** The firmware of the boots verify makes and of the recorded and ground-truth layouts. */
export type BootFirmware = Extract<Firmware, 'seabios' | 'qboot' | 'none'>;
