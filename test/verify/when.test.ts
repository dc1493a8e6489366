// When to verify (bot/verify/when.ts): the one decision of `pcibot review
// --verify` and the service's verify queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Applied } from '../../bot/types.js';
import { whenToVerify } from '../../bot/verify/when.js';

const applied = (paths: string[], status: 'applied' | 'conflict' = 'applied'): Applied => ({
  tree: '/nonexistent',
  base: { commit: '0'.repeat(40), how: 'head' },
  patches: [{ index: 1, messageId: 'p1@x', status, files: paths }],
  overlay: Object.fromEntries(paths.map((p) => [p, '1'.repeat(40)])),
  overlays: [Object.fromEntries(paths.map((p) => [p, '1'.repeat(40)]))],
});

test('verify only when asked, applied, and the kernel policy files change', () => {
  const policy = applied(['drivers/pci/setup-bus.c', 'include/uapi/linux/vfio.h']);
  assert.deepEqual(whenToVerify(false, policy), {
    asked: false,
    verify: false,
    reason: 'not asked for',
  });
  assert.equal(whenToVerify(true, null).verify, false);
  assert.equal(whenToVerify(true, applied(['drivers/pci/pci.c'], 'conflict')).verify, false);
  const uapiOnly = whenToVerify(true, applied(['include/uapi/linux/vfio.h']));
  assert.equal(uapiOnly.verify, false);
  assert.match(uapiOnly.reason, /no file the kernel policy is read from/);
  const yes = whenToVerify(true, policy);
  assert.equal(yes.verify, true);
  assert.match(yes.reason, /drivers\/pci\/setup-bus\.c/);
  assert.doesNotMatch(yes.reason, /uapi/, 'names the policy files only');
});
