// The device catalogue and machine builder against the installed QEMU 7.2:
// QEMU's `info pci` (with -S, before any firmware runs) lists every function
// on the root bus with its IDs, slot and BAR sizes/flags. Devices behind
// ports are checked after SeaBIOS numbers the buses.
import { probeInfoPciSandboxed } from '../../bot/verify/qemu-probe.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE, nvmeBar0 } from '../../bot/kernel/model/devices.js';
import { QemuArgError } from '../../bot/kernel/model/errors.js';
import { buildMachine, bdfOf, type MFunction } from '../../bot/kernel/model/machine.js';
import { parseQemuArgs, tokenizeShell } from '../../bot/kernel/model/qemu-args.js';
import type { BootArch } from '../../bot/kernel/vocabulary.js';
import {
  parseInfoPci,
  SEABIOS_DONE,
  type InfoPciFunction,
} from '../../bot/kernel/model/qemu-info.js';

function machine(cmd: string, arch: BootArch = 'x86_64') {
  return buildMachine(parseQemuArgs(tokenizeShell(cmd)), { arch, numVfs: {}, noGuestDriver: [] });
}

function allFns(fns: MFunction[]): MFunction[] {
  return fns.flatMap((f) => [f, ...(f.secondary ? allFns(f.secondary.functions) : [])]);
}

function sameAsQemu(fns: MFunction[], info: InfoPciFunction[]): string[] {
  const diffs: string[] = [];
  for (const f of fns) {
    const i = info.find((x) => x.bus === f.bus.number && x.slot === f.slot && x.fn === f.fn);
    const where = `${bdfOf(f)} ${f.def.driver}`;
    if (!i) {
      diffs.push(`${where}: QEMU has no function there`);
      continue;
    }
    if (i.vendor !== f.def.vendor || i.device !== f.def.device)
      diffs.push(`${where}: QEMU has ${i.vendor.toString(16)}:${i.device.toString(16)}`);
    const model = f.def.bars.map(
      (b) => `BAR${b.index} ${b.size} io=${b.io} 64=${b.is64} pref=${b.prefetch}`,
    );
    if (f.def.romSize) model.push(`BAR6 ${f.def.romSize} io=false 64=false pref=false`);
    const real = i.bars.map(
      (b) => `BAR${b.index} ${b.size} io=${b.io} 64=${b.is64} pref=${b.prefetch}`,
    );
    if (JSON.stringify(model.sort()) !== JSON.stringify(real.sort()))
      diffs.push(`${where}: model [${model.join('; ')}] QEMU [${real.join('; ')}]`);
  }
  return diffs;
}

const ROOT_BUS = `-M q35 -m 512
  -object memory-backend-ram,id=m0,size=1M
  -device pcie-pci-bridge,id=b1 -device pci-bridge,id=b2,chassis_nr=1 -device pcie-root-port,id=rp,chassis=2
  -device ioh3420,id=ioh,chassis=3 -device nvme,serial=a -device nvme,serial=b,msix-exclusive-bar=on
  -device nvme,serial=c,cmb_size_mb=16 -device virtio-net-pci -device virtio-net-pci,vectors=0
  -device virtio-net-pci,disable-legacy=on -device virtio-net-pci,page-per-vq=on
  -device virtio-net-pci,modern-pio-notify=on -device virtio-blk-pci,drive=d0 -device virtio-scsi-pci
  -device virtio-rng-pci -device ivshmem-plain,memdev=m0 -device qemu-xhci -device e1000
  -device pci-testdev,membar=64K -device e1000e,addr=1e.0
  -drive if=none,id=d0,file=null-co://,format=raw`;

test('live: root-bus devices, their slots and BARs match QEMU 7.2 (info pci, -S)', async () => {
  const m = machine(ROOT_BUS);
  const info = parseInfoPci(
    await probeInfoPciSandboxed(tokenizeShell(ROOT_BUS), { binary: 'qemu-system-x86_64' }),
  );
  assert.equal(info.length, m.root.functions.length, 'same number of functions on pcie.0');
  assert.deepEqual(sameAsQemu(m.root.functions, info), []);
  // The implicit q35 devices sit where the ground-truth boots found them.
  assert.deepEqual(
    m.root.functions
      .filter((f) => f.builtin || f.def.driver === 'VGA' || f.qemuId === null)
      .slice(0, 3)
      .map((f) => [bdfOf(f), f.def.driver]),
    [
      ['0000:00:00.0', 'q35-host'],
      ['0000:00:01.0', 'VGA'],
      ['0000:00:02.0', 'e1000e'],
    ],
  );
});

const BEHIND_PORTS = `-M q35 -m 512 -vga none -nic none
  -device pcie-root-port,id=rp1,chassis=1 -device virtio-net-pci,bus=rp1
  -device pcie-root-port,id=rp2,chassis=2 -device x3130-upstream,id=up,bus=rp2
  -device xio3130-downstream,id=dn,bus=up,chassis=3 -device nvme,serial=z,bus=dn
  -device pcie-pci-bridge,id=br -device virtio-blk-pci,bus=br,drive=d0 -drive if=none,id=d0,file=null-co://,format=raw`;

test('live: devices behind ports and bridges (virtio legacy off behind PCIe ports) match QEMU 7.2', async () => {
  const m = machine(BEHIND_PORTS);
  const info = parseInfoPci(
    await probeInfoPciSandboxed(tokenizeShell(BEHIND_PORTS), {
      binary: 'qemu-system-x86_64',
      runFirmware: SEABIOS_DONE,
    }),
  );
  const fns = allFns(m.root.functions);
  assert.equal(info.length, fns.length);
  assert.deepEqual(sameAsQemu(fns, info), []);
  const vnet = fns.find((f) => f.def.driver === 'virtio-net-pci')!;
  assert.equal(vnet.def.device, 0x1041, 'modern-only virtio behind a root port');
  assert.equal(vnet.def.pcieType, 'endpoint');
  const vblk = fns.find((f) => f.def.driver === 'virtio-blk-pci')!;
  assert.equal(vblk.def.device, 0x1001, 'transitional behind a conventional PCI bridge');
});

test('nvme BAR0 layout: doorbells, then MSI-X table and PBA on 4 KiB boundaries, rounded to a power of two', () => {
  assert.deepEqual(nvmeBar0(65, 65), { tableOffset: 0x2000, pbaOffset: 0x3000, size: 0x4000 });
  assert.deepEqual(nvmeBar0(9, 9), { tableOffset: 0x2000, pbaOffset: 0x3000, size: 0x4000 });
  const m = machine('-M q35 -device nvme,serial=x,max_ioqpairs=1000,msix_qsize=1001');
  const nvme = m.functions.find((f) => f.def.driver === 'nvme')!;
  assert.equal(nvme.def.msix!.tableOffset, 0x3000);
  assert.equal(nvme.def.bars[0]!.size, 0x8000);
});

test('catalogue: the devices of the issue are present with their facts', () => {
  for (const d of [
    'pci-testdev',
    'e1000e',
    'igb',
    'nvme',
    'virtio-net-pci',
    'virtio-blk-pci',
    'ivshmem-plain',
    'pcie-root-port',
    'ioh3420',
    'x3130-upstream',
    'xio3130-downstream',
    'pcie-pci-bridge',
    'pci-bridge',
    'custom',
  ]) {
    assert.ok(CATALOGUE[d], d);
  }
  const m = machine(
    '-M q35 -nodefaults -device pcie-root-port,id=rp,chassis=1 -device igb,id=nic,bus=rp -device ioh3420,id=p2,chassis=2 -device pcie-pci-bridge,id=br',
  );
  const by = (d: string) => m.functions.find((f) => f.def.driver === d)!.def;
  assert.equal(by('pcie-root-port').acs, true);
  assert.equal(by('ioh3420').acs, false);
  assert.equal(by('pcie-pci-bridge').pcieType, 'pcie-to-pci');
  const igb = by('igb');
  assert.deepEqual(
    [igb.sriov!.totalVfs, igb.sriov!.vfOffset, igb.sriov!.vfStride, igb.sriov!.vfDevice],
    [8, 0x80, 2, 0x10ca],
  );
  assert.deepEqual(
    igb.sriov!.vfBars.map((b) => [b.index, b.size, b.is64, b.prefetch]),
    [
      [0, 16384, true, true],
      [3, 16384, true, true],
    ],
  );
  assert.equal(igb.pcieType, 'endpoint');
  assert.equal(CATALOGUE['igb']!.inQemu72, false);
});

test('custom device: explicit BARs, MSI-X, SR-IOV; bad specs are errors', () => {
  const m = machine(
    '-M q35 -device custom,id=c,vendor=0x1014,device=0x04ed,bar0=mem64pref:256T,bar2=io:32,bar3=mem32:4K,msix-bar=3,msix-vectors=4',
  );
  const c0 = m.functions.find((f) => f.qemuId === 'c')!.def;
  assert.deepEqual(
    c0.bars.map((b) => [b.index, b.size, b.io, b.is64, b.prefetch]),
    [
      [0, 2 ** 48, false, true, true],
      [2, 32, true, false, false],
      [3, 4096, false, false, false],
    ],
  );
  assert.deepEqual(
    [c0.msix!.tableBar, c0.msix!.tableOffset, c0.msix!.tableSize, c0.msix!.pbaOffset],
    [3, 0, 64, 64],
  );
  assert.equal(c0.msix!.otherRegisters, undefined, 'unknown registers unless msix-only-bar=on');
  assert.throws(
    () => machine('-M q35 -device custom,bar0=mem64:4K,bar2=io:32,msix-bar=2'),
    /MSI-X table in BAR2, which is not a memory BAR/,
  );
  assert.throws(
    () => machine('-M q35 -device custom,bar0=mem64:4K,bar1=mem32:4K'),
    /BAR0 is 64-bit and uses BAR1/,
  );
  assert.throws(() => machine('-M q35 -device custom,bar0=mem32:3K'), /powers of two/);
  const c = machine(
    '-M q35 -device custom,bar0=mem32:4K,sriov-vfs=4,vf-bar0=mem64pref:16K,vf-offset=8,vf-stride=1',
  ).functions.find((f) => f.def.driver === 'custom')!;
  assert.equal(c.def.sriov!.totalVfs, 4);
});

test('machine builder: q35 and virt defaults, auto slots, buses, errors', () => {
  const q = machine(
    '-M q35 -device pcie-pci-bridge,id=b -device pci-testdev,bus=b -device pci-testdev,bus=b',
  );
  assert.deepEqual(
    allFns(q.root.functions).map((f) => `${bdfOf(f)} ${f.def.driver}`),
    [
      '0000:00:00.0 q35-host',
      '0000:00:01.0 VGA',
      '0000:00:02.0 e1000e',
      '0000:00:03.0 pcie-pci-bridge',
      '0000:01:00.0 pci-testdev',
      '0000:01:01.0 pci-testdev',
      '0000:00:1f.0 ich9-lpc',
      '0000:00:1f.2 ich9-ahci',
      '0000:00:1f.3 ich9-smbus',
    ],
  );
  const v = machine(
    '-M virt -device pcie-root-port,id=rp,chassis=1 -device e1000e,bus=rp',
    'arm64',
  );
  assert.deepEqual(
    allFns(v.root.functions).map((f) => `${bdfOf(f)} ${f.def.driver}`),
    [
      '0000:00:00.0 gpex-root',
      '0000:00:01.0 virtio-net-pci',
      '0000:00:02.0 pcie-root-port',
      '0000:01:00.0 e1000e',
    ],
  );
  assert.equal(machine('-M virt,iommu=smmuv3,gic-version=2', 'arm64').msiIsolated, false);
  assert.throws(
    () => machine('-M q35 -device pcie-root-port,id=rp,chassis=1 -device e1000e,bus=rp,addr=1'),
    /Linux only scans slot 0/,
  );
  assert.throws(() => machine('-M q35 -device e1000e,addr=5.1'), /no function 0 in that slot/);
  assert.throws(
    () => machine('-M q35 -device e1000e,addr=5.0 -device e1000e,addr=5.1'),
    /lacks multifunction=on/,
  );
  assert.throws(() => machine('-M pc'), /i440fx\) is not modelled/);
  assert.throws(() => machine('-M virt'), /arm64 only/);
  assert.throws(
    () => machine('-M q35 -device e1000e,addr=3 -device e1000e,addr=3'),
    /already taken/,
  );
  assert.throws(() => machine('-M q35 -vga cirrus'), QemuArgError);
});
