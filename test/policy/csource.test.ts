// The C reader under the policy reader: blanking, the kernel-style quick
// lookup against the full index (on real 6.12 files), initialisers, body
// normalisation, and expression evaluation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normaliseBody } from '../../bot/kernel/c/body.js';
import { CSource } from '../../bot/kernel/c/source.js';
import { evalInt } from '../../bot/kernel/c/expr.js';
import { evalAlignment } from '../../bot/kernel/policy/alignment.js';
import { parseKconfig, boolDefault } from '../../bot/kernel/policy/kconfig.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { openTreeReader } from '../../bot/tree/reader.js';

const SNIPPET = `/* a { comment } */
static const char *msg = "not a { brace";
static char quote = '{';
#define NOT_A_FN(x) { x }

// int hidden(void) { }
int __weak visible(int a)
{
\tif (a) /* } */
\t\treturn '}';
\treturn 0;
}

static int counter;
unsigned long limit = 2 * 1024; /* bytes */

static struct ops my_ops = {
\t.fn = visible,
};
`;

describe('CSource', () => {
  test('comments, literals and directives do not count as code', () => {
    const c = new CSource('x.c', SNIPPET);
    assert.equal(c.code.length, SNIPPET.length);
    assert.equal(c.bare.length, SNIPPET.length);
    assert.deepEqual(
      c.defs.map((d) => [d.kind, d.name, d.weak]),
      [
        ['function', 'visible', true],
        ['variable', 'my_ops', false],
      ],
    );
    const fn = c.fn('visible')!;
    assert.equal(fn.line, 7);
    assert.match(c.body(fn), /^\{\n\tif \(a\)\s+\n\t\treturn '}';\n\treturn 0;\n\}$/);
    assert.equal(c.initializer('counter'), '0');
    assert.equal(c.initializer('limit'), '2 * 1024');
    assert.equal(c.initializer('hidden'), null);
    assert.equal(c.macros().get('NOT_A_FN'), undefined, 'function-like macros are not values');
  });

  test('the quick (kernel-style) lookup agrees with the full index on real files', async () => {
    const { path, commit } = await prepareKernelTree();
    const tree = openTreeReader(path, commit);
    const cases: [string, string[]][] = [
      [
        'drivers/pci/pci.c',
        [
          'pcibios_default_alignment',
          'pci_specified_resource_alignment',
          'pci_request_resource_alignment',
          'pci_reassigndev_resource_alignment',
          'pci_setup',
          'pci_acs_enabled',
        ],
      ],
      [
        'drivers/pci/setup-bus.c',
        ['pci_realloc_detect', 'pbus_size_mem', 'window_alignment', 'pdev_sort_resources'],
      ],
      ['drivers/iommu/iommu.c', ['pci_device_group']],
      ['drivers/pci/quirks.c', ['pci_dev_specific_acs_enabled']],
    ];
    for (const [file, names] of cases) {
      const text = (await tree.read(file))!;
      const quick = new CSource(file, text);
      const full = new CSource(file, text);
      assert.ok(full.defs.length > 50, 'full index built');
      for (const n of names) {
        const q = quick.functions(n);
        const f = full.functions(n);
        assert.ok(q.length > 0, `${file}: ${n}`);
        assert.deepEqual(
          q.map((d) => [d.open, d.close, d.weak, d.line]),
          f.map((d) => [d.open, d.close, d.weak, d.line]),
          `${file}: ${n}`,
        );
        assert.equal(quick.norm(q[0]!), full.norm(f[0]!));
      }
    }
    const quirks = new CSource('q', (await tree.read('drivers/pci/quirks.c'))!);
    const table = quirks.variable('pci_dev_acs_enabled')!;
    assert.ok(table && quirks.body(table).includes('pci_quirk_mf_endpoint_acs'));
    const pci = new CSource('p', (await tree.read('drivers/pci/pci.c'))!);
    assert.equal(pci.initializer('pci_hotplug_io_size'), 'DEFAULT_HOTPLUG_IO_SIZE');
    assert.equal(pci.macros().get('DEFAULT_HOTPLUG_IO_SIZE'), '(256)');
    assert.deepEqual(pci.functionsUsing('resource_alignment_param').sort(), [
      'pci_realloc_setup_params',
      'pci_setup',
      'pci_specified_resource_alignment',
      'resource_alignment_show',
      'resource_alignment_store',
    ]);
  });

  test('normalised bodies ignore layout, comments and messages, not logic', () => {
    const a = normaliseBody(
      '{\n\tif (x)\n\t\tpci_warn(dev, "old text %d\\n", x);\n\treturn  y + 1; /* note */\n}',
    );
    const b = normaliseBody('{\n\tpr_info("new message\\n");\n\treturn y+1;\n}');
    assert.equal(a, '{return y+1;}');
    assert.equal(a, b);
    assert.notEqual(
      normaliseBody('{\n\tif (x)\n\t\treturn 0;\n\treturn 1;\n}'),
      normaliseBody('{\n\treturn 1;\n}'),
    );
    assert.equal(
      normaliseBody('{\n#ifdef CONFIG_X\n\treturn 1;\n#endif\n}'),
      '{«#ifdef CONFIG_X» return 1;«#endif»}',
    );
  });
});

describe('expressions and Kconfig', () => {
  test('alignments', () => {
    assert.equal(evalAlignment('0'), 'zero');
    assert.equal(evalAlignment('PAGE_SIZE'), 'page');
    assert.equal(evalAlignment('max(SZ_4K, PAGE_SIZE)'), 'max-4k-page');
    assert.equal(evalAlignment('max_t(resource_size_t, PAGE_SIZE, 0x1000)'), 'max-4k-page');
    assert.equal(evalAlignment('max(SZ_1K, PAGE_SIZE)'), 'page');
    assert.deepEqual(evalAlignment('(1UL << 16)'), { bytes: 65536 });
    assert.equal(evalAlignment('max(SZ_64K, PAGE_SIZE)'), null, 'not a shape the model has');
    assert.equal(evalAlignment('pci_platform_align()'), null);
    assert.deepEqual(evalAlignment('ALIGN_DEFAULT', [new Map([['ALIGN_DEFAULT', 'SZ_4K']])]), {
      bytes: 4096,
    });
    assert.equal(evalInt('2*1024*1024'), 2 * 2 ** 20);
    assert.equal(evalInt('SZ_2M'), 2 * 2 ** 20);
    assert.equal(evalInt('(1ULL << 40)'), 2 ** 40);
    assert.equal(evalInt('PAGE_SIZE'), null);
  });

  test('Kconfig defaults per architecture', () => {
    const k = parseKconfig(
      'Kconfig',
      'config A\n\tbool "a"\n\thelp\n\t  default y in help text does not count\n\nconfig B\n\tdef_bool y if !S390\n\nconfig C\n\tbool\n\tdefault y if PPC_BOOK3S_64\n',
    );
    assert.equal(boolDefault(k.entries.get('A')!, 'x86_64'), false);
    assert.equal(boolDefault(k.entries.get('B')!, 'x86_64'), true);
    assert.equal(boolDefault(k.entries.get('B')!, 's390x'), false);
    assert.equal(boolDefault(k.entries.get('C')!, 'ppc64'), true);
    assert.equal(boolDefault(k.entries.get('C')!, 'arm64'), false);
  });
});
