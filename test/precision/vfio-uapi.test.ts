// vfio-uapi on hand-written before/after states of a UAPI header and the
// type1 code that implements it (shapes of the kernel's, written for this
// test): flags accepted but ignored, flags refused before they are tested,
// the unmap semantics of seed 002, ABI changes; and the additive changes that
// must stay quiet.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import rule from '../../rules/vfio-uapi/rule.js';
import { layoutBreak, parseHeader } from '../../rules/vfio-uapi/header.js';
import { occurrences } from '../../rules/vfio-uapi/usage.js';
import { contextFor, gitDiff, type Files } from './helpers.js';

const UAPI = 'include/uapi/linux/vfio.h';
const TYPE1 = 'drivers/vfio/vfio_iommu_type1.c';

const uapi = `/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPIVFIO_H
#define _UAPIVFIO_H

/**
 * VFIO_IOMMU_MAP_DMA - map process memory for device DMA
 */
struct vfio_iommu_type1_dma_map {
	__u32	argsz;
	__u32	flags;
#define VFIO_DMA_MAP_FLAG_READ (1 << 0)		/* readable from device */
#define VFIO_DMA_MAP_FLAG_WRITE (1 << 1)	/* writable from device */
	__u64	vaddr;
	__u64	iova;
	__u64	size;
};

#define VFIO_IOMMU_MAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 13)

/**
 * VFIO_IOMMU_UNMAP_DMA - unmap IO virtual addresses
 *
 * Caller sets argsz.  The size unmapped is returned in size.
 */
struct vfio_iommu_type1_dma_unmap {
	__u32	argsz;
	__u32	flags;
	__u64	iova;
	__u64	size;
	__u8	data[0];
};

#define VFIO_IOMMU_UNMAP_DMA _IO(VFIO_TYPE, VFIO_BASE + 14)

#endif /* _UAPIVFIO_H */
`;

const type1 = `// SPDX-License-Identifier: GPL-2.0-only
#include <linux/vfio.h>

static int vfio_dma_do_unmap(struct vfio_iommu *iommu,
			     struct vfio_iommu_type1_dma_unmap *unmap)
{
	struct vfio_dma *dma;
	size_t unmapped = 0;

	while ((dma = vfio_find_dma(iommu, unmap->iova, unmap->size))) {
		unmapped += dma->size;
		vfio_remove_dma(iommu, dma);
	}
	unmap->size = unmapped;
	return 0;
}

static long vfio_iommu_type1_ioctl(void *iommu_data, unsigned int cmd,
				   unsigned long arg)
{
	struct vfio_iommu *iommu = iommu_data;

	if (cmd == VFIO_IOMMU_MAP_DMA) {
		struct vfio_iommu_type1_dma_map map;
		uint32_t mask = VFIO_DMA_MAP_FLAG_READ |
				VFIO_DMA_MAP_FLAG_WRITE;
		int prot = 0;

		if (copy_from_user(&map, (void __user *)arg, sizeof(map)))
			return -EFAULT;
		if (map.argsz < sizeof(map) || map.flags & ~mask)
			return -EINVAL;
		if (map.flags & VFIO_DMA_MAP_FLAG_READ)
			prot |= IOMMU_READ;
		if (map.flags & VFIO_DMA_MAP_FLAG_WRITE)
			prot |= IOMMU_WRITE;
		return vfio_dma_do_map(iommu, &map, prot);
	} else if (cmd == VFIO_IOMMU_UNMAP_DMA) {
		struct vfio_iommu_type1_dma_unmap unmap;

		if (copy_from_user(&unmap, (void __user *)arg, sizeof(unmap)))
			return -EFAULT;
		if (unmap.argsz < sizeof(unmap) || unmap.flags)
			return -EINVAL;
		return vfio_dma_do_unmap(iommu, &unmap);
	}
	return -ENOTTY;
}
`;

const base: Files = { [UAPI]: uapi, [TYPE1]: type1 };
const titles = async (after: Files, later?: string[]) =>
  (
    await rule.check(
      await contextFor({ subject: 'vfio: Change', body: 'Change.', before: base, after, later }),
    )
  ).map((h) => h.title);

const NEW_FLAG = '#define VFIO_DMA_MAP_FLAG_WRITE (1 << 1)\t/* writable from device */\n';
const withFlag = (doc = '') =>
  uapi.replace(
    NEW_FLAG,
    `${NEW_FLAG}${doc}#define VFIO_DMA_MAP_FLAG_RESERVED_MSI (1 << 2)\t/* MSI doorbell range */\n`,
  );

describe('how the kernel uses a UAPI macro', () => {
  test('tested, accepted through a mask, used', () => {
    const src = [{ file: TYPE1, text: type1 }];
    assert.deepEqual(
      occurrences('VFIO_DMA_MAP_FLAG_READ', src).map((o) => o.use),
      ['accepted', 'tested'],
    );
    assert.deepEqual(
      occurrences('VFIO_IOMMU_MAP_DMA', src).map((o) => o.use),
      ['tested'],
    );
    const set = [
      {
        file: 'x.c',
        text: 'void f(struct vfio_region_info *info)\n{\n\tinfo->flags |= VFIO_REGION_INFO_FLAG_MMAP;\n}\n',
      },
    ];
    assert.deepEqual(
      occurrences('VFIO_REGION_INFO_FLAG_MMAP', set).map((o) => o.use),
      ['used'],
    );
    const grouped = [
      {
        file: 'y.c',
        text: 'int g(u32 f)\n{\n\tif (f & ~(VFIO_A | VFIO_B))\n\t\treturn -EINVAL;\n\treturn f & (VFIO_B | VFIO_C);\n}\n',
      },
    ];
    assert.deepEqual(
      occurrences('VFIO_A', grouped).map((o) => o.use),
      ['accepted'],
    );
    assert.deepEqual(
      occurrences('VFIO_B', grouped).map((o) => o.use),
      ['accepted', 'tested'],
    );
  });
});

describe('vfio-uapi fires on', () => {
  test('a new flag accepted in the mask but never tested', async () => {
    const t = await titles({
      [UAPI]: withFlag(),
      [TYPE1]: type1.replace(
        '\t\t\t\tVFIO_DMA_MAP_FLAG_WRITE;',
        '\t\t\t\tVFIO_DMA_MAP_FLAG_WRITE |\n\t\t\t\tVFIO_DMA_MAP_FLAG_RESERVED_MSI;',
      ),
    });
    assert.deepEqual(t, ['New UAPI flag VFIO_DMA_MAP_FLAG_RESERVED_MSI is accepted but ignored']);
  });

  test('a new flag nothing implements', async () => {
    assert.deepEqual(await titles({ [UAPI]: withFlag() }), [
      'New UAPI flag VFIO_DMA_MAP_FLAG_RESERVED_MSI is not implemented',
    ]);
  });

  test('a new unmap flag tested only after every flag was refused', async () => {
    const u = uapi.replace(
      '\t__u32\tflags;\n\t__u64\tiova;',
      '\t__u32\tflags;\n#define VFIO_DMA_UNMAP_FLAG_RESERVED (1 << 0)\n\t__u64\tiova;',
    );
    const t = await titles({
      [UAPI]: u,
      [TYPE1]: type1.replace(
        '\t\treturn vfio_dma_do_unmap(iommu, &unmap);',
        '\t\tif (unmap.flags & VFIO_DMA_UNMAP_FLAG_RESERVED)\n\t\t\treturn vfio_unregister_reserved(iommu, &unmap);\n\t\treturn vfio_dma_do_unmap(iommu, &unmap);',
      ),
    });
    assert.deepEqual(t, ['New UAPI flag VFIO_DMA_UNMAP_FLAG_RESERVED can never be used']);
  });

  test('unmap that now refuses or skips entries on a new internal condition (seed 002)', async () => {
    const t = await titles({
      [UAPI]: withFlag(),
      [TYPE1]: type1
        .replace(
          '\t\tunmapped += dma->size;',
          '\t\tif (dma->type == VFIO_IOVA_RESERVED)\n\t\t\treturn -EINVAL;\n\t\tunmapped += dma->size;',
        )
        .replace(
          '\t\tif (map.flags & VFIO_DMA_MAP_FLAG_READ)',
          '\t\tif (map.flags & VFIO_DMA_MAP_FLAG_RESERVED_MSI)\n\t\t\treturn vfio_register_reserved(iommu, &map);\n\t\tif (map.flags & VFIO_DMA_MAP_FLAG_READ)',
        )
        .replace(
          '\t\t\t\tVFIO_DMA_MAP_FLAG_WRITE;',
          '\t\t\t\tVFIO_DMA_MAP_FLAG_WRITE |\n\t\t\t\tVFIO_DMA_MAP_FLAG_RESERVED_MSI;',
        ),
    });
    assert.deepEqual(t, ['Unmap may now fail or leave mappings behind']);
  });

  test('documentation that ignores inputs, limits to one, or changes existing calls', async () => {
    const doc =
      '/*\n * With RESERVED_MSI set, vaddr and the READ/WRITE flags are ignored.\n' +
      ' * Only one reserved MSI range can be registered per container.\n' +
      ' * A reserved range must be unmapped with the RESERVED_MSI flag set.\n */\n';
    const t = await titles({ [UAPI]: withFlag(doc) }, [
      await gitDiff(
        { [TYPE1]: type1 },
        {
          [TYPE1]: type1.replace(
            'if (map.flags & VFIO_DMA_MAP_FLAG_READ)',
            'if (map.flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_RESERVED_MSI))',
          ),
        },
      ),
    ]);
    assert.deepEqual(t, [
      'UAPI documents inputs that are accepted and ignored',
      'Single-instance limit written into the UAPI',
      'Existing VFIO calls change meaning',
    ]);
  });

  test('renumbered ioctls and flags, removed macros, broken layouts', async () => {
    assert.deepEqual(await titles({ [UAPI]: uapi.replace('VFIO_BASE + 14', 'VFIO_BASE + 15') }), [
      'UAPI macro VFIO_IOMMU_UNMAP_DMA changes value',
    ]);
    assert.deepEqual(
      await titles({ [UAPI]: uapi.replace('(1 << 1)\t/* writable', '(1 << 2)\t/* writable') }),
      ['UAPI macro VFIO_DMA_MAP_FLAG_WRITE changes value'],
    );
    assert.deepEqual(await titles({ [UAPI]: uapi.replace(NEW_FLAG, '') }), [
      'UAPI macro VFIO_DMA_MAP_FLAG_WRITE removed',
    ]);
    assert.deepEqual(
      await titles({
        [UAPI]: uapi.replace(
          '\t__u64\tiova;\n\t__u64\tsize;\n\t__u8',
          '\t__u32\tpasid;\n\t__u64\tiova;\n\t__u64\tsize;\n\t__u8',
        ),
      }),
      ['Layout of UAPI struct vfio_iommu_type1_dma_unmap changes'],
    );
  });
});

describe('vfio-uapi stays quiet on', () => {
  test('a new flag the kernel tests, in this patch or a later one of the series', async () => {
    const tested = type1
      .replace(
        '\t\t\t\tVFIO_DMA_MAP_FLAG_WRITE;',
        '\t\t\t\tVFIO_DMA_MAP_FLAG_WRITE |\n\t\t\t\tVFIO_DMA_MAP_FLAG_RESERVED_MSI;',
      )
      .replace(
        '\t\tif (map.flags & VFIO_DMA_MAP_FLAG_READ)',
        '\t\tif (map.flags & VFIO_DMA_MAP_FLAG_RESERVED_MSI)\n\t\t\treturn vfio_register_reserved(iommu, &map);\n\t\tif (map.flags & VFIO_DMA_MAP_FLAG_READ)',
      );
    assert.deepEqual(
      await titles({
        [UAPI]: withFlag('/* Register an IOVA range for MSI doorbells */\n'),
        [TYPE1]: tested,
      }),
      [],
    );
    assert.deepEqual(
      await titles({ [UAPI]: withFlag() }, [
        await gitDiff({ [TYPE1]: type1 }, { [TYPE1]: tested }),
      ]),
      [],
    );
  });

  test('a new ioctl with its handler, a capability the kernel reports, appended members', async () => {
    const ioctl = uapi.replace(
      '#endif',
      '/* VFIO_IOMMU_FLUSH - wait for pending invalidations */\n#define VFIO_IOMMU_FLUSH _IO(VFIO_TYPE, VFIO_BASE + 22)\n\n#endif',
    );
    const handled = type1.replace(
      '\treturn -ENOTTY;',
      '\tif (cmd == VFIO_IOMMU_FLUSH)\n\t\treturn vfio_iommu_flush(iommu);\n\treturn -ENOTTY;',
    );
    assert.deepEqual(await titles({ [UAPI]: ioctl, [TYPE1]: handled }), []);
    const cap = uapi.replace('#endif', '#define VFIO_IOMMU_TYPE1_INFO_CAP_NESTING 3\n\n#endif');
    const reported = type1.replace(
      '\treturn -ENOTTY;',
      '\tcap.id = VFIO_IOMMU_TYPE1_INFO_CAP_NESTING;\n\treturn -ENOTTY;',
    );
    assert.deepEqual(await titles({ [UAPI]: cap, [TYPE1]: reported }), []);
    const appended = uapi.replace(
      '\t__u64\tsize;\n};\n\n#define VFIO_IOMMU_MAP_DMA',
      '\t__u64\tsize;\n\t__u64\tpgsize;\t/* since v2 */\n};\n\n#define VFIO_IOMMU_MAP_DMA',
    );
    assert.deepEqual(await titles({ [UAPI]: appended }), []);
  });

  test('documentation, flexible arrays and reserved space put to use', async () => {
    assert.deepEqual(
      await titles({
        [UAPI]: uapi.replace(
          ' * Caller sets argsz.',
          ' * Caller sets argsz; unknown flags are refused with -EINVAL.',
        ),
      }),
      [],
    );
    assert.deepEqual(await titles({ [UAPI]: uapi.replace('__u8\tdata[0];', '__u8\tdata[];') }), []);
    const b = parseHeader('struct s {\n\t__u32 argsz;\n\t__u32 reserved;\n};\n').structs.get('s')!;
    const a = parseHeader('struct s {\n\t__u32 argsz;\n\t__u32 nr_ranges;\n};\n').structs.get('s')!;
    assert.equal(layoutBreak(b, a), null);
  });

  test('a macro moved to another VFIO UAPI header', async () => {
    const ZDEV = 'include/uapi/linux/vfio_zdev.h';
    const zdev = '#ifndef _VFIO_ZDEV_H_\n#define _VFIO_ZDEV_H_\n\n#endif\n';
    const ctx = await contextFor({
      subject: 'vfio: Move the write flag',
      body: 'Move it.',
      before: { ...base, [ZDEV]: zdev },
      after: {
        [UAPI]: uapi.replace(NEW_FLAG, ''),
        [ZDEV]: zdev.replace('\n#endif', `${NEW_FLAG}\n#endif`),
      },
    });
    assert.deepEqual(await rule.check(ctx), []);
  });

  test('patches that do not touch a VFIO UAPI header', async () => {
    const ctx = await contextFor({
      subject: 'vfio/type1: Skip reserved entries',
      body: 'x',
      before: base,
      after: {
        [TYPE1]: type1.replace(
          '\t\tunmapped += dma->size;',
          '\t\tif (dma->type == VFIO_IOVA_RESERVED)\n\t\t\treturn -EINVAL;\n\t\tunmapped += dma->size;',
        ),
      },
    });
    assert.deepEqual(await rule.check(ctx), []);
  });
});
