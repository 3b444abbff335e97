import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectDurability, deviceNumbers } from '../../../src/store/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

/** A fake sysfs where the data dir's real device number points at `devicePath` (under devices/). */
function fakeSys(dataDir: string, devicePath: string, partition: boolean): string {
  const sys = tmpDir('sluice-sys-');
  const { major, minor } = deviceNumbers(dataDir);
  const target = join(sys, 'devices', devicePath);
  mkdirSync(target, { recursive: true });
  if (partition) writeFileSync(join(target, 'partition'), '2\n');
  mkdirSync(join(sys, 'dev', 'block'), { recursive: true });
  const link = join(sys, 'dev', 'block', `${major}:${minor}`);
  symlinkSync(relative(join(sys, 'dev', 'block'), target), link);
  return sys;
}

describe('detectDurability', () => {
  it('chooses interval for a partition of an SD card and names the card', () => {
    const data = tmpDir();
    const sys = fakeSys(data, 'platform/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p2', true);
    const choice = detectDurability(data, { sysRoot: sys });
    expect(choice).toMatchObject({ mode: 'interval', device: 'mmcblk0' });
    expect(choice.reason).toContain('SD/MMC');
  });

  it('chooses fsync for an SSD partition, and for an mmcblk-lookalike name that is not a card', () => {
    const data = tmpDir();
    expect(detectDurability(data, { sysRoot: fakeSys(data, 'pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p1', true) })).toMatchObject({ mode: 'fsync', device: 'nvme0n1' });
    expect(detectDurability(data, { sysRoot: fakeSys(data, 'virtual/block/mmcblk0boot0', false) })).toMatchObject({ mode: 'fsync', device: 'mmcblk0boot0' });
  });

  it('follows device-mapper slaves down to the card (LVM or LUKS on an SD card)', () => {
    const data = tmpDir();
    const sys = fakeSys(data, 'virtual/block/dm-0', false);
    const card = join(sys, 'devices', 'platform', 'mmc0', 'block', 'mmcblk1', 'mmcblk1p3');
    mkdirSync(card, { recursive: true });
    writeFileSync(join(card, 'partition'), '3\n');
    mkdirSync(join(sys, 'devices', 'virtual', 'block', 'dm-0', 'slaves'));
    symlinkSync(card, join(sys, 'devices', 'virtual', 'block', 'dm-0', 'slaves', 'mmcblk1p3'));
    expect(detectDurability(data, { sysRoot: sys })).toMatchObject({ mode: 'interval', device: 'mmcblk1' });
  });

  it('falls back to fsync, saying why, when the device is not in sysfs or the dir is missing', () => {
    const data = tmpDir();
    const empty = tmpDir('sluice-sys-');
    const { major, minor } = deviceNumbers(data);
    expect(detectDurability(data, { sysRoot: empty })).toEqual({ mode: 'fsync', reason: expect.stringContaining(`${major}:${minor}`) });
    expect(detectDurability(join(data, 'missing'), { sysRoot: empty })).toEqual({ mode: 'fsync', reason: expect.stringContaining('cannot stat') });
  });
});
