// Every bound pcibot puts on what it reads, in one place. Patch mail is
// hostile input: each limit turns "too big" into a clear, per-message or
// per-input error that names the limit, instead of unbounded memory or time.
// The defaults are far above anything real list traffic needs; README.md
// ("Limits") lists them. Callers take a Partial<InputLimits> and fill the rest
// with resolveLimits().

export interface InputLimits {
  /** Bytes read from one input (a file, or stdin); reading stops there. */
  maxInputBytes: number;
  /**
   * Messages read from all inputs together; reading stops there. Each message
   * costs a few KiB however small it is, so maxInputBytes alone lets a stream of
   * tiny mails grow without a useful bound (60-byte mails: about 75x their bytes).
   */
  maxMessages: number;
  /** Bytes of one message (an mbox entry, a file, a Maildir entry, a lore blob). */
  maxMessageBytes: number;
  /** Bytes of a message's header block (up to the first empty line). */
  maxHeaderBytes: number;
  /** Nesting of multipart entities; deeper parts are ignored with a warning. */
  maxMimeDepth: number;
  /** MIME entities in one message; further parts are ignored with a warning. */
  maxMimeParts: number;
  /** Files one diff may touch. */
  maxDiffFiles: number;
  /** Lines of one diff. */
  maxDiffLines: number;
  /** Patches in one series (and the largest N of `M/N` taken at its word). */
  maxPatchesPerSeries: number;
  /** Directory levels walked below an input directory. */
  maxDirectoryDepth: number;
  /** Bytes of one scenario file or ground-truth command line (a QEMU line someone pasted). */
  maxScenarioBytes: number;
  /** Bytes of one pasted layout for `scenario check-lspci` (lspci -vv text or sysfs resource files). */
  maxLayoutBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<InputLimits> = Object.freeze({
  maxInputBytes: 512 * MiB,
  // About twice the 200 MB mbox of list traffic the bench reads (129,935 messages).
  maxMessages: 250_000,
  maxMessageBytes: 64 * MiB,
  maxHeaderBytes: 256 * 1024,
  maxMimeDepth: 12,
  maxMimeParts: 500,
  maxDiffFiles: 10_000,
  maxDiffLines: 1_000_000,
  maxPatchesPerSeries: 1000,
  maxDirectoryDepth: 32,
  // The library's largest scenario is about 2 KiB; a QEMU line of 256 KiB is not a paste.
  maxScenarioBytes: 256 * 1024,
  // `lspci -vvv` of a large server with SR-IOV enabled runs to a few MiB.
  maxLayoutBytes: 16 * MiB,
});

/** The defaults with `partial` laid over them; a value that is not a positive integer is refused. */
export function resolveLimits(partial: Partial<InputLimits> = {}): InputLimits {
  const out: InputLimits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(partial) as [keyof InputLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_LIMITS)) throw new InputError(`unknown limit "${name}"`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      throw new InputError(`limit ${name} must be a positive integer, got ${String(value)}`);
    out[name] = value;
  }
  return out;
}

/** "64 MiB", "256 KiB", "1000 bytes": for messages about limits. */
export function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * A deliberate refusal of input (a usage problem, or input that breaks a
 * limit), as opposed to a bug. Code that processes a batch catches these per
 * item; the fuzz harness counts any other exception as a crash.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
