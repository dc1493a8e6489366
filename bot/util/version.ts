// pcibot's version, from package.json (read once).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

let cached: string | undefined;

export function toolVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
  ).version;
  return cached;
}
