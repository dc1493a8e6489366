// The one code path that reads a policy-carrying function (carrier.ts): what
// is recorded and said when the function is missing or not understood, and
// the view a recogniser gets (the function, and the static functions it calls).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  readCarrier,
  shapeKey,
  type Carrier,
  type ReadCtx,
} from '../../bot/kernel/policy/carrier.js';
import { CARRIERS } from '../../bot/kernel/policy/fields.js';
import { SourceSet, type PolicyTree } from '../../bot/kernel/policy/sources.js';

function ctxFor(files: Record<string, string>): ReadCtx {
  const tree: PolicyTree = {
    commit: 'test',
    read: async (p) => files[p] ?? null,
    exists: async (p) => p in files,
    list: async () => [],
  };
  return {
    arch: 'x86_64',
    src: new SourceSet(tree),
    notes: [],
    sources: {},
    functions: {},
    changedPaths: [],
    kconfigs: [],
    pciOptions: [],
  };
}

const FILE = 'drivers/x/policy.c';

/** A carrier over two functions; recognises `return N;` in the first. */
const probe: Carrier<{ n: number }> = {
  file: FILE,
  functions: [
    { name: 'policy_fn', fields: ['iov'] },
    { name: 'other_fn', fields: ['quirks'] },
  ],
  base: { n: -1 },
  missing: ({ file, inTree }) => `policy_fn() not found (${file}${inTree ? '' : ', no file'})`,
  notUnderstood: (fn, detail) => `${fn.name}() is new to me${detail}`,
  recognise: ([fn]) => {
    const m = /^\{return (\d+);\}$/.exec(fn.norm);
    return {
      value: { n: m ? Number(m[1]) : -1 },
      shapes: [
        { skeleton: m ? '@N@' : fn.norm, read: m ? Number(m[1]) : null, whole: !!m },
        { skeleton: '', read: null, whole: false },
      ],
      understood: !!m,
      detail: m ? '' : ' (not a return)',
    };
  },
};

describe('readCarrier', () => {
  test('a missing function: every function of the carrier recorded as not read, one note, the base value', async () => {
    const ctx = ctxFor({ [FILE]: 'int other_fn(void)\n{\n\treturn 1;\n}\n' });
    const v = await readCarrier(ctx, probe);
    assert.deepEqual(v, { n: -1 });
    assert.notEqual(v, probe.base, 'a copy: callers may change it');
    assert.deepEqual(
      Object.values(ctx.functions).map((s) => [s.name, s.found, s.skeleton, s.fields]),
      [
        ['policy_fn', false, '', ['iov']],
        ['other_fn', false, '', ['quirks']],
      ],
    );
    assert.deepEqual(ctx.notes, [
      {
        severity: 'info',
        message: `policy_fn() not found (${FILE})`,
        file: FILE,
        fields: ['iov', 'quirks'],
      },
    ]);
    const none = ctxFor({});
    await readCarrier(none, probe);
    assert.match(none.notes[0]!.message, /, no file\)$/);
  });

  test('a shape it does not know: "not understood" with the function, its line and its fields', async () => {
    const ctx = ctxFor({ [FILE]: '\n\nint policy_fn(void)\n{\n\treturn other_fn();\n}\n' });
    assert.deepEqual(await readCarrier(ctx, probe), { n: -1 });
    assert.deepEqual(ctx.notes, [
      {
        severity: 'info',
        message: 'policy_fn() is new to me (not a return)',
        function: 'policy_fn',
        file: FILE,
        line: 3,
        fields: ['iov'],
      },
    ]);
    const shape = ctx.functions[shapeKey(FILE, 'policy_fn')]!;
    assert.equal(shape.found, true);
    assert.equal(shape.line, 3);
    assert.equal(shape.skeleton, '{return other_fn();}');
  });

  test('a known shape: the value, the masked skeleton, no note', async () => {
    const ctx = ctxFor({ [FILE]: 'int policy_fn(void)\n{\n\treturn 4; /* why */\n}\n' });
    assert.deepEqual(await readCarrier(ctx, probe), { n: 4 });
    assert.deepEqual(ctx.notes, []);
    const shape = ctx.functions[shapeKey(FILE, 'policy_fn')]!;
    assert.deepEqual([shape.skeleton, shape.value, shape.recognised], ['@N@', '4', true]);
  });
});

describe('the view a recogniser gets', () => {
  // The x86 claim pass moved into a static helper, the way a patch may refactor it.
  const i386 = [
    'static void alloc_resource(struct pci_dev *dev, struct resource *r)',
    '{',
    '\tif (pci_claim_resource(dev, 0) < 0) {',
    '\t\tr->end -= r->start;',
    '\t\tr->start = 0;',
    '\t}',
    '}',
    '',
    'void shared_helper(void)',
    '{',
    '}',
    '',
    'static void pcibios_allocate_dev_resources(struct pci_dev *dev, int pass)',
    '{',
    '\tstruct resource *r = &dev->resource[0];',
    '',
    '\talloc_resource(dev, r);',
    '\tshared_helper();',
    '\talloc_resource(dev, r);',
    '}',
    '',
  ].join('\n');

  test('callees(): the static functions of the same file it calls, once each', async () => {
    const ctx = ctxFor({ 'arch/x86/pci/i386.c': i386 });
    let seen: string[][] = [];
    await readCarrier(ctx, {
      ...CARRIERS.x86Claim,
      recognise: (fns, c) => {
        seen = fns[0].callees().map((f) => [f.name, String(f.line), f.norm]);
        return CARRIERS.x86Claim.recognise(fns, c);
      },
    });
    assert.deepEqual(seen, [
      ['alloc_resource', '1', '{if(pci_claim_resource(dev,0)<0){r->end-=r->start;r->start=0;}}'],
    ]);
  });

  test('the claim pass is read through the static helper it calls, and the helper is recorded', async () => {
    const ctx = ctxFor({ 'arch/x86/pci/i386.c': i386 });
    // The helper rebases every failed claim: STARTALIGN starts are dropped, as in 6.12.
    assert.equal(await readCarrier(ctx, CARRIERS.x86Claim), true);
    assert.deepEqual(ctx.notes, []);
    const helper = ctx.functions[shapeKey('arch/x86/pci/i386.c', 'alloc_resource')];
    assert.ok(helper, Object.keys(ctx.functions).join(', '));
    assert.deepEqual(
      [helper.line, helper.recognised, helper.byMeaning, helper.value, helper.fields],
      [1, true, true, '{"drops":true}', ['x86ClaimDropsStartAlign']],
    );
    assert.equal(
      ctx.functions[shapeKey('arch/x86/pci/i386.c', 'pcibios_allocate_dev_resources')]!.recognised,
      true,
    );
  });

  test('a helper that gives up the claim some other way: "not understood", with the function and its line', async () => {
    // (The caller moves up a line: the helper lost one.)
    const ctx = ctxFor({
      'arch/x86/pci/i386.c': i386.replace(
        '\t\tr->end -= r->start;\n\t\tr->start = 0;\n',
        '\t\tpcibios_forget_resource(dev, r);\n',
      ),
    });
    assert.equal(await readCarrier(ctx, CARRIERS.x86Claim), true, '6.12 assumed');
    assert.deepEqual(
      ctx.notes.map((n) => [n.function, n.line, n.fields]),
      [['pcibios_allocate_dev_resources', 12, ['x86ClaimDropsStartAlign']]],
    );
  });
});
