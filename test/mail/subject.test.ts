import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSubject } from '../../bot/mail/parse.js';
import type { SubjectTags } from '../../bot/types.js';

type Expect = Partial<SubjectTags>;

const CASES: [string, Expect][] = [
  [
    '[PATCH] PCI: Fix the thing',
    {
      isPatch: true,
      version: 1,
      index: null,
      total: null,
      rfc: false,
      resend: false,
      isReply: false,
      treeTags: [],
      prefixes: ['PATCH'],
      title: 'PCI: Fix the thing',
    },
  ],
  [
    '[PATCH v3 2/8] PCI: Align small BARs',
    {
      isPatch: true,
      version: 3,
      index: 2,
      total: 8,
      prefixes: ['PATCH', 'v3', '2/8'],
      title: 'PCI: Align small BARs',
    },
  ],
  [
    '[RFC PATCH v4 0/7] vfio-pci: Allow to mmap sub-page MMIO BARs and MSI-X table',
    {
      isPatch: true,
      rfc: true,
      version: 4,
      index: 0,
      total: 7,
      title: 'vfio-pci: Allow to mmap sub-page MMIO BARs and MSI-X table',
    },
  ],
  [
    '[PATCH RESEND] PCI: foo',
    { isPatch: true, resend: true, version: 1, index: null, treeTags: [] },
  ],
  [
    '[RESEND PATCH v2 1/3] PCI: foo',
    { isPatch: true, resend: true, version: 2, index: 1, total: 3 },
  ],
  [
    '[PATCH net-next v2 1/2] net: foo',
    { isPatch: true, version: 2, index: 1, total: 2, treeTags: ['net-next'] },
  ],
  ['[PATCH pci/next] PCI: foo', { isPatch: true, treeTags: ['pci/next'], index: null }],
  ['[PATCH 6.12.y] PCI: foo', { isPatch: true, treeTags: ['6.12.y'], version: 1 }],
  [
    '[v3,0/3] vfio/pci: s390: Fix issues preventing VFIO_PCI_MMAP=y for s390 and enable it',
    {
      isPatch: true,
      version: 3,
      index: 0,
      total: 3,
      prefixes: ['v3', '0/3'],
      treeTags: [],
      title: 'vfio/pci: s390: Fix issues preventing VFIO_PCI_MMAP=y for s390 and enable it',
    },
  ],
  [
    '[PATCH 04/11] PCI: portdrv: Suppress kernel DMA ownership auto-claiming',
    { isPatch: true, index: 4, total: 11, version: 1 },
  ],
  [
    '[PATCH] [RFC] PCI: two groups',
    { isPatch: true, rfc: true, prefixes: ['PATCH', 'RFC'], title: 'PCI: two groups' },
  ],
  ['[PATCHv2 3/4] PCI: glued version', { isPatch: true, version: 2, index: 3, total: 4 }],
  ['[PATCH V5] PCI: capital V', { isPatch: true, version: 5 }],
  ['[RFC] PCI: just an idea', { isPatch: false, rfc: true, index: null }],
  [
    '[RFC v2 1/2] PCI: an idea with a counter',
    { isPatch: true, rfc: true, version: 2, index: 1, total: 2 },
  ],
  [
    '[GIT PULL] PCI fixes for v6.13-rc7',
    { isPatch: false, treeTags: ['GIT', 'PULL'], title: 'PCI fixes for v6.13-rc7' },
  ],
  ['PCI: no brackets at all', { isPatch: false, prefixes: [], title: 'PCI: no brackets at all' }],
  [
    'Re: [PATCH v3 8/8] PCI: Align small BARs',
    {
      isReply: true,
      isPatch: false,
      version: 3,
      index: 8,
      total: 8,
      title: 'PCI: Align small BARs',
    },
  ],
  ['RE: [PATCH] PCI: foo', { isReply: true, isPatch: false }],
  ['Fwd: [PATCH] PCI: foo', { isReply: true, isPatch: false }],
  ['AW: [PATCH v2 1/2] PCI: foo', { isReply: true, isPatch: false, version: 2 }],
  ['Re: Re: [PATCH] PCI: foo', { isReply: true, isPatch: false, title: 'PCI: foo' }],
  ['Re[2]: [PATCH] PCI: foo', { isReply: true, isPatch: false }],
  ['SV: [PATCH] PCI: foo', { isReply: true }],
  ['Reply-to-all: something', { isReply: false, isPatch: false }],
  [
    '[linux-pci] Re: [PATCH] PCI: foo',
    { isReply: true, isPatch: false, treeTags: ['linux-pci'], prefixes: ['linux-pci', 'PATCH'] },
  ],
  [
    '[PATCH] fw: toy: subsystem prefix, not a forward',
    { isReply: false, isPatch: true, title: 'fw: toy: subsystem prefix, not a forward' },
  ],
  ['[PATCH] Revert "PCI: foo"', { isReply: false, isPatch: true, title: 'Revert "PCI: foo"' }],
  ['[PATCH v2 1/3]   PCI:  extra   spaces ', { isPatch: true, title: 'PCI: extra spaces' }],
];

describe('parseSubject', () => {
  for (const [subject, expect] of CASES) {
    it(subject, () => {
      const tags = parseSubject(subject);
      for (const [k, v] of Object.entries(expect))
        assert.deepEqual(tags[k as keyof SubjectTags], v, `${k} of "${subject}"`);
    });
  }
  it('is JSON-serialisable as is', () => {
    const t = parseSubject('[RFC PATCH net-next v4 0/7] x');
    assert.deepEqual(JSON.parse(JSON.stringify(t)), t);
  });
});
