import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock, openDatabase, silentLogger } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { DeviceRegistry, hashPassword, loadProfiles, verifyPassword } from '../../../src/devices/index.js';
import { DEVICES_DIR } from '../../helpers/gateway.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const now = 1_768_498_650_000;

async function registry(path = join(tmpDir(), 'd.db')) {
  const db = await openDatabase({ path, migrations: allMigrations, logger: silentLogger() });
  const files = loadProfiles(DEVICES_DIR).profiles;
  return { db, path, open: () => new DeviceRegistry({ db, clock: new ManualClock(now), profiles: () => files }) };
}

const storedHash = (db: Awaited<ReturnType<typeof registry>>['db'], id: string) =>
  (db.raw.prepare('SELECT password_hash AS h FROM devices WHERE id = ?').get(id) as { h: string }).h;

describe('device credentials (issue 15: the cost of a login storm)', () => {
  it('a device password is hashed at scrypt N=2^10 (1 MiB per check); the household password keeps N=2^12', async () => {
    const { db, open } = await registry();
    const added = await open().add({ id: 'plug-1', profile: 'thermostat' });
    expect(storedHash(db, 'plug-1')).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await open().authenticate('plug-1', added.password!)).not.toBeNull();
    expect(await open().authenticate('plug-1', `${added.password!}x`)).toBeNull();
    const household = await hashPassword('our household password');
    expect(household).toMatch(/^scrypt\$4096\$8\$1\$/);
    expect(await verifyPassword('our household password', household)).toBe(true);
    db.close();
  });

  it('an older, costlier device hash still logs in, and is redone at the cheaper cost at that login', async () => {
    const { db, open } = await registry();
    const added = await open().add({ id: 'plug-1', profile: 'thermostat' });
    const password = added.password!;
    // As a database from before the cheaper cost holds it.
    db.raw.prepare('UPDATE devices SET password_hash = ? WHERE id = ?').run(await hashPassword(password), 'plug-1');
    expect(await open().authenticate('plug-1', `${password}x`)).toBeNull();
    expect(storedHash(db, 'plug-1')).toMatch(/^scrypt\$4096\$/);
    const reg = open();
    expect((await reg.authenticate('plug-1', password))?.id).toBe('plug-1');
    expect(storedHash(db, 'plug-1')).toMatch(/^scrypt\$1024\$8\$1\$/);
    // The same registry (its in-memory check) and a restarted one both accept the password after the rehash.
    expect(await reg.authenticate('plug-1', password)).not.toBeNull();
    expect(await open().authenticate('plug-1', password)).not.toBeNull();
    expect(await open().authenticate('plug-1', 'not-the-password')).toBeNull();
    db.close();
  });

  it('a good login with an older hash is still accepted when the rehash cannot be written (disk full)', async () => {
    const { db, open } = await registry();
    const added = await open().add({ id: 'plug-1', profile: 'thermostat' });
    const old = await hashPassword(added.password!);
    db.raw.prepare('UPDATE devices SET password_hash = ? WHERE id = ?').run(old, 'plug-1');
    const reg = open();
    db.raw.exec("CREATE TRIGGER full BEFORE UPDATE ON devices BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END");
    expect((await reg.authenticate('plug-1', added.password!))?.id).toBe('plug-1');
    expect(storedHash(db, 'plug-1')).toBe(old);
    db.close();
  });
});
