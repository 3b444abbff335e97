import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packArchive, unpackArchive } from '../../src/app/index.js';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function gateway(dataDir: string): Promise<GatewayChild> {
  const gw = await startGateway({ dataDir });
  cleanups.push(() => gw.stop());
  return gw;
}

function count(dataDir: string, id: string): number {
  const r = cli(['readings', id, '--since', '7d', '--json'], { dataDir });
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

function json<T>(r: { status: number | null; stdout: string; stderr: string }): T {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Restore {
  restored: boolean;
  db_check: { ok: boolean };
  ledger: { ok: boolean; rows: number };
  config_only: boolean;
}

describe('backup and restore', { timeout: 120_000 }, () => {
  it('an online backup while a device publishes restores to a consistent gateway, and only when asked to', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo', 'thermostat');
    let gw = await gateway(dataDir);
    const device = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo' });
    cleanups.push(() => device.endAsync());
    const base = Date.now() - 3_600_000;
    let sent = 0;
    let stop = false;
    const stream = (async () => {
      for (; !stop && sent < 5000; sent++) await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20, ts: base + sent * 100 }), { qos: 1 });
    })();
    while (sent < 50) await new Promise((r) => setTimeout(r, 20));
    const file = join(tmpDir(), 'home.sluicebk');
    const made = json<{ readings: number; encrypted: boolean; files: string[]; ledger_head: unknown }>(cli(['backup', 'create', file, '--json'], { dataDir }));
    const sentAtBackup = sent;
    // Published on after the backup: the restore goes back to the backup's moment.
    while (sent < sentAtBackup + 50 && sent < 5000) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await stream;
    expect(made.encrypted).toBe(false);
    expect(made.readings).toBeGreaterThan(0);
    expect(made.files).toEqual(expect.arrayContaining(['data/sluice.db', 'config/effective.json']));
    expect(made.files.some((f) => f.startsWith('policies/'))).toBe(true);
    expect(made.files.some((f) => f.startsWith('profiles/'))).toBe(true);
    const before = count(dataDir, 'thermo');
    expect(before).toBeGreaterThan(made.readings);

    // Refused while the gateway runs, naming its pid.
    const busy = cli(['backup', 'restore', file, '--yes'], { dataDir });
    expect(busy.status).not.toBe(0);
    expect(busy.stderr).toContain('SLUICE_ERR_DATA_DIR_LOCKED');
    expect(busy.stderr).toContain(`pid ${gw.child.pid}`);
    await device.endAsync();
    await gw.stop();

    // Without --yes nothing is replaced.
    const unasked = cli(['backup', 'restore', file], { dataDir });
    expect(unasked.status).toBe(2);
    expect(unasked.stderr).toContain('SLUICE_ERR_BACKUP_OVERWRITE');
    expect(count(dataDir, 'thermo')).toBe(before);

    const restored = json<Restore>(cli(['backup', 'restore', file, '--yes', '--json'], { dataDir }));
    expect(restored).toMatchObject({ restored: true, db_check: { ok: true }, ledger: { ok: true } });
    // Exactly the backup's moment: every reading it counted, none published after.
    expect(count(dataDir, 'thermo')).toBe(made.readings);
    expect(json<{ ok: boolean }>(cli(['db', 'check', '--json'], { dataDir })).ok).toBe(true);
    expect(json<{ ok: boolean }>(cli(['ledger', 'verify', '--json'], { dataDir })).ok).toBe(true);
    const ledger = json<Array<{ kind: string }>>(cli(['ledger', 'show', '--json'], { dataDir }));
    expect(ledger.at(-1)?.kind).toBe('backup.restored');

    // The restored gateway runs: the device's credentials came back with it.
    gw = await gateway(dataDir);
    const again = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo-2' });
    cleanups.push(() => again.endAsync());
    await again.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21, ts: Date.now() - 1000 }), { qos: 1 });
    expect(count(dataDir, 'thermo')).toBe(made.readings + 1);
  });

  it('encrypted: round trip with the passphrase; a wrong or missing passphrase is refused; --config-only leaves readings out', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo', 'thermostat');
    const gw = await gateway(dataDir);
    const device = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo' });
    cleanups.push(() => device.endAsync());
    for (let i = 0; i < 5; i++) await device.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 + i, ts: Date.now() - 60_000 + i }), { qos: 1 });
    const dir = tmpDir();
    const file = join(dir, 'sealed.sluicebk');
    const env = { BK_PASS: 'correct horse battery', BK_WRONG: 'wrong horse battery' };
    const made = json<{ encrypted: boolean; readings: number }>(cli(['backup', 'create', file, '--passphrase-env', 'BK_PASS', '--json'], { dataDir, env }));
    expect(made).toMatchObject({ encrypted: true, readings: 5 });
    // Nothing readable in the sealed file.
    expect(readFileSync(file).includes(Buffer.from('SQLite format 3'))).toBe(false);
    const configOnly = join(dir, 'offsite.sluicebk');
    expect(json<{ readings: number; config_only: boolean }>(cli(['backup', 'create', configOnly, '--config-only', '--json'], { dataDir }))).toMatchObject({ readings: 0, config_only: true });
    await device.endAsync();
    await gw.stop();

    const wrong = cli(['backup', 'restore', file, '--yes', '--passphrase-env', 'BK_WRONG'], { dataDir, env });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('SLUICE_ERR_BACKUP_PASSPHRASE');
    const missing = cli(['backup', 'restore', file, '--yes'], { dataDir, env });
    expect(missing.stderr).toContain('SLUICE_ERR_BACKUP_PASSPHRASE');

    const target = tmpDir();
    const fresh = json<Restore>(cli(['backup', 'restore', file, '--passphrase-env', 'BK_PASS', '--json'], { dataDir: target, env }));
    expect(fresh).toMatchObject({ restored: true, db_check: { ok: true }, ledger: { ok: true, rows: 1 } });
    expect(count(target, 'thermo')).toBe(5);

    const offsite = tmpDir();
    expect(json<Restore>(cli(['backup', 'restore', configOnly, '--json'], { dataDir: offsite }))).toMatchObject({ restored: true, config_only: true, db_check: { ok: true } });
    expect(count(offsite, 'thermo')).toBe(0);
    expect(json<Array<{ id: string }>>(cli(['devices', 'list', '--json'], { dataDir: offsite })).map((d) => d.id)).toEqual(['thermo']);
  });

  it('refuses a backup made by a newer schema, and a file that is not a backup', async () => {
    const dataDir = tmpDir();
    addDevice(dataDir, 'thermo', 'thermostat');
    const dir = tmpDir();
    const file = join(dir, 'a.sluicebk');
    json(cli(['backup', 'create', file, '--json'], { dataDir }));
    const { manifest, files } = await unpackArchive(readFileSync(file), undefined);
    const { files: _files, format: _format, ...meta } = manifest;
    const newer = join(dir, 'newer.sluicebk');
    writeFileSync(newer, await packArchive({ ...meta, schema: { ...meta.schema, store: 99 } }, [...files].map(([path, data]) => ({ path, data })), undefined));
    const target = tmpDir();
    const r = cli(['backup', 'restore', newer, '--yes'], { dataDir: target });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('SLUICE_ERR_BACKUP_TOO_NEW');
    expect(r.stderr).toContain('store v99');
    writeFileSync(join(dir, 'junk'), 'hello');
    expect(cli(['backup', 'restore', join(dir, 'junk'), '--yes'], { dataDir: target }).stderr).toContain('SLUICE_ERR_BACKUP_INVALID');
  });
});
