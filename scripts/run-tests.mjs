// The test command behind `npm test` (after tsc): one node --test run, so CI
// reads one summary. dist/test/ always; dist/test-slow/ too (real kernel builds
// and QEMU boots, minutes with a warm cache) when CI=true or PCIBOT_SLOW=1.
import { spawnSync } from 'node:child_process';

const slow = process.env.CI === 'true' || process.env.PCIBOT_SLOW === '1';
const dirs = ['dist/test/', ...(slow ? ['dist/test-slow/'] : [])];
if (!slow)
  console.error(
    'run-tests: fast suite only (PCIBOT_SLOW=1 or CI=true adds the kernel build + QEMU boot tests)',
  );
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...dirs], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
