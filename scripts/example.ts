// `npm run example`: the quick start. Prepares the real kernel tree (Debian's
// linux-source-6.12 as a git checkout, cached), generates the bundled example
// series against it and reviews it with `pcibot review`. Extra arguments go to
// pcibot review (e.g. `npm run example -- --json`).
import { main, processIO } from '../workers/cli.js';
import { prepareKernelTree } from '../bot/tree/kernel.js';
import { cacheDir } from '../bot/util/cache.js';
import { EXIT_FINDINGS, EXIT_OK } from '../bot/util/exit.js';
import { exampleMbox } from '../fixtures/examples/index.js';

const io = processIO();
const { path, commit } = await prepareKernelTree({ log: (line) => io.stderr(`${line}\n`) });
const mbox = await exampleMbox({
  name: 'align-small-bars',
  tree: path,
  commit,
  cacheDir: cacheDir(),
});
io.stderr(
  `pcibot: reviewing the bundled example against ${path}\n  $ pcibot review ${mbox} --tree ${path}\n\n`,
);
const code = await main(['review', mbox, '--tree', path, ...process.argv.slice(2)], io);
// Findings are the point of the example: EXIT_FINDINGS is a success here.
process.exitCode = code === EXIT_FINDINGS ? EXIT_OK : code;
