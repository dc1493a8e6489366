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
