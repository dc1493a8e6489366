// Kernel versions across Debian's 6.12 point releases: the tree says which one it
// was made from, builds and boots are held to the series, and a layout compared
// across point releases says so.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { prepareKernelTree, treeKernelVersion } from '../../bot/tree/kernel.js';
import { kernelRelease, kernelSeries } from '../../bot/util/kernel-version.js';
import { formatDifferences, pointReleaseNote } from '../../bot/verify/compare.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('pcibot-kernel-version-test-');
after(() => tmp.cleanup());

test('kernelSeries and kernelRelease read every 6.12 point release the same way', () => {
  for (const v of ['6.12.117', '6.12.117+', '6.12.118', '6.12.118+', '6.12.9-amd64', '6.12']) {
    assert.equal(kernelSeries(v), '6.12', v);
  }
  assert.equal(kernelRelease('6.12.117+'), '6.12.117');
  assert.equal(kernelRelease('6.12.118'), '6.12.118');
  assert.equal(kernelSeries('6.1.158'), '6.1');
  assert.equal(kernelSeries('Linux'), null);
  assert.equal(kernelSeries(null), null);
  assert.equal(kernelRelease(''), null);
});

test('a layout compared across point releases names both; the same release adds nothing', () => {
  const diffs = [{ kind: 'bar' as const, message: '01:00.0 BAR2: model 0x1000, measured 0x2000' }];
  assert.equal(
    pointReleaseNote({ expected: '6.12.117+', measured: '6.12.118+' }),
    'recorded on Linux 6.12.117, measured on 6.12.118: another point release of the same stable series, which may explain the differences below',
  );
  assert.match(
    pointReleaseNote({ expected: '6.12.117', measured: '6.13.2' })!,
    /another kernel series/,
  );
  assert.equal(pointReleaseNote({ expected: '6.12.118+', measured: '6.12.118' }), null);
  assert.equal(pointReleaseNote({ expected: null, measured: '6.12.118' }), null);
  const text = formatDifferences(diffs, { expected: '6.12.117+', measured: '6.12.118+' });
  assert.deepEqual(text.split('\n'), [
    pointReleaseNote({ expected: '6.12.117+', measured: '6.12.118+' }),
    diffs[0]!.message,
  ]);
  // No differences: nothing to explain, whatever the versions.
  assert.equal(formatDifferences([], { expected: '6.12.117', measured: '6.12.118' }), '');
  assert.equal(
    formatDifferences(diffs, { expected: '6.12.118', measured: '6.12.118+' }),
    diffs[0]!.message,
  );
});

test('treeKernelVersion reads the Makefile from git objects', async () => {
  const fixture = await buildFixtureTree(join(tmp.path, 'fixture'));
  assert.equal(await treeKernelVersion(fixture.path), '6.12');
  assert.equal(await treeKernelVersion(fixture.path, 'no-such-rev'), null);
  // The real tree is whichever 6.12 point release Debian served when it was made.
  const real = await prepareKernelTree();
  const v = await treeKernelVersion(real.path, real.commit);
  assert.match(v ?? '', /^6\.12\.\d+$/);
  assert.equal(kernelSeries(v), '6.12');
});
