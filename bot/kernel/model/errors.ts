// Errors for bad model input (scenario files, QEMU command lines, pasted
// layouts). They always name where the problem is, so a user can fix the file
// without guessing; callers that process a batch catch them per item and go on.
// Both are InputErrors (bot/limits.ts): a deliberate refusal of hostile or
// broken input, which the fuzz harness tells apart from a crash.
import { InputError } from '../../limits.js';

export class ModelInputError extends InputError {
  /** The file (or `<stdin>`, `<string>`) the bad input came from. */
  readonly file: string;
  /** 1-based line in that file, when known. */
  readonly line: number | undefined;

  constructor(file: string, line: number | undefined, message: string) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${message}`);
    this.name = 'ModelInputError';
    this.file = file;
    this.line = line;
  }
}

/** Raised while parsing one QEMU option; the scenario parser adds file and line. */
export class QemuArgError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'QemuArgError';
  }
}

/**
 * A QEMU option or property a scenario may not use (bot/kernel/model/qemu-allow.ts):
 * it would make QEMU reach the host (a file, socket, monitor, host device). Raised
 * before anything runs; the scenario parser turns it into RefusedScenarioError.
 */
export class RefusedQemuOptionError extends QemuArgError {
  /** The option as written (`-D`, `-device`, `@args.txt`). */
  readonly option: string;
  constructor(option: string, value: string | undefined, reason: string) {
    const shown =
      value === undefined ? '' : ` ${value.length > 80 ? `${value.slice(0, 80)}...` : value}`;
    super(`${option}${shown}: refused: ${reason}`);
    this.name = 'RefusedQemuOptionError';
    this.option = option;
  }
}

/** A scenario whose QEMU line uses a refused option: names the scenario file, line and option. */
export class RefusedScenarioError extends ModelInputError {
  readonly option: string;
  constructor(file: string, line: number | undefined, cause: RefusedQemuOptionError) {
    super(
      file,
      line,
      `qemu: ${cause.message} (scenarios are input: see fixtures/scenarios/README.md)`,
    );
    this.name = 'RefusedScenarioError';
    this.option = cause.option;
  }
}
