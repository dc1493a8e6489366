// Where pcibot keeps what it prepares once and reuses: the kernel tree, built
// kernels, generated examples. $PCIBOT_CACHE, else $XDG_CACHE_HOME/pcibot, else
// ~/.cache/pcibot (the same rule as scripts/kernel-tree.sh).
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PCIBOT_CACHE) return env.PCIBOT_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pcibot');
}
