import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QemuArgError } from '../../bot/kernel/model/errors.js';
import {
  parseQemuArgs,
  parseSize,
  splitOptList,
  tokenizeShell,
} from '../../bot/kernel/model/qemu-args.js';

test('tokenizeShell: quotes, escapes, continuations and comments', () => {
  assert.deepEqual(tokenizeShell(`-append 'console=ttyS0 panic=-1' -name "a \\"b\\""`), [
    '-append',
    'console=ttyS0 panic=-1',
    '-name',
    'a "b"',
  ]);
  assert.deepEqual(tokenizeShell('-M q35 \\\n  -m 512 # memory\n-nographic'), [
    '-M',
    'q35',
    '-m',
    '512',
    '-nographic',
  ]);
  assert.deepEqual(tokenizeShell('a\\ b c'), ['a b', 'c']);
  assert.throws(() => tokenizeShell("-device 'x"), /unterminated single quote/);
  assert.throws(() => tokenizeShell('-device x | tee log'), /metacharacter '\|'/);
});

test('splitOptList: QemuOpts ",," escaping, implied first value, bare keys', () => {
  assert.deepEqual(splitOptList('pci-testdev,bus=pcie.1,membar=32'), {
    implied: 'pci-testdev',
    props: [
      ['bus', 'pcie.1'],
      ['membar', '32'],
    ],
  });
  assert.deepEqual(splitOptList('file=a,,b,if=none'), {
    implied: null,
    props: [
      ['file', 'a,b'],
      ['if', 'none'],
    ],
  });
  assert.deepEqual(splitOptList('q35,smm'), { implied: 'q35', props: [['smm', 'on']] });
});

test('parseSize: suffixes, hex, bare unit', () => {
  assert.equal(parseSize('4k'), 4096);
  assert.equal(parseSize('256T'), 2 ** 48);
  assert.equal(parseSize('0x1000'), 4096);
  assert.equal(parseSize('512', 2 ** 20), 512 * 2 ** 20);
  assert.equal(parseSize('2G'), 2 ** 31);
  assert.throws(() => parseSize('lots'), /not a size/);
  assert.throws(() => parseSize('16E'), QemuArgError);
});

test('parseQemuArgs: machine, memory, devices in order, ignored-by-design options listed', () => {
  const q = parseQemuArgs(
    tokenizeShell(
      `qemu-system-x86_64 -accel tcg -M q35,kernel-irqchip=split -m 2G -nographic -no-reboot -serial none -name 'my guest' -device pcie-root-port,id=rp1,chassis=1 -device e1000e,bus=rp1 -global pcie-root-port.hotplug=off`,
    ),
  );
  assert.equal(q.program, 'qemu-system-x86_64');
  assert.equal(q.machineType, 'q35');
  assert.equal(q.machineProps['kernel-irqchip'], 'split');
  assert.equal(q.ramBytes, 2 ** 31);
  assert.deepEqual(
    q.devices.map((d) => d.driver),
    ['pcie-root-port', 'e1000e'],
  );
  assert.deepEqual(q.devices[1]!.props, { bus: 'rp1' });
  assert.deepEqual(q.globals, [{ driver: 'pcie-root-port', prop: 'hotplug', value: 'off' }]);
  assert.deepEqual(q.ignored, [
    '-accel tcg',
    '-nographic',
    '-no-reboot',
    '-serial none',
    '-name my guest',
  ]);
  // Options that reach the host are not "ignored": the scenario allow-list
  // (qemu-allow.ts) refuses them and this parser does not know them.
  for (const opt of ['-kernel', '-D', '-trace', '-chardev', '-pidfile', '-L'])
    assert.throws(() => parseQemuArgs([opt, 'x']), /is not modelled/, opt);
  assert.equal(q.defaultNic, true);
});

test('parseQemuArgs: options that may move BARs are errors naming the option', () => {
  assert.throws(() => parseQemuArgs(['-usb']), /option -usb is not modelled/);
  assert.throws(
    () => parseQemuArgs(['-M', 'q35,nvdimm-persistence=cpu']),
    /-machine property "nvdimm-persistence"/,
  );
  assert.throws(() => parseQemuArgs(['-m', '1G,slots=2,maxmem=4G']), /-m slots= is not modelled/);
  assert.throws(
    () => parseQemuArgs(['-device', 'e1000e,bus=a,bus=b']),
    /property "bus" given twice/,
  );
  assert.throws(() => parseQemuArgs(['disk.img']), /unexpected argument "disk.img"/);
  assert.throws(() => parseQemuArgs(['-device']), /-device needs an argument/);
});

test('parseQemuArgs: -nic/-net/-netdev turn off the default NIC; -drive if=virtio adds virtio-blk-pci', () => {
  assert.equal(parseQemuArgs(['-nic', 'none']).defaultNic, false);
  const q = parseQemuArgs([
    '-netdev',
    'user,id=n0',
    '-nic',
    'user,model=virtio-net-pci',
    '-drive',
    'file=x,if=virtio',
  ]);
  assert.equal(q.defaultNic, false);
  assert.deepEqual(
    q.devices.map((d) => [d.driver, d.source]),
    [
      ['virtio-net-pci', '-nic'],
      ['virtio-blk-pci', '-drive'],
    ],
  );
});
