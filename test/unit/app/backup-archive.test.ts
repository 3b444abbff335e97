import { describe, expect, it } from 'vitest';
import { packArchive, unpackArchive } from '../../../src/app/index.js';
import { externalBrokerOptionsFrom } from '../../../src/broker/index.js';
import { configSchema } from '../../../src/config/index.js';

const meta = { created_at: '2026-12-01T10:00:00.000Z', config_only: false, schema: { store: 3 }, ledger_head: null, readings: 2 };
const files = [
  { path: 'data/sluice.db', data: Buffer.from('SQLite format 3\0 pretend') },
  { path: 'policies/a.yaml', data: Buffer.from('version: 1\n') },
];

describe('backup archive', () => {
  it('round-trips plain and sealed, and every file keeps its bytes', async () => {
    for (const passphrase of [undefined, 'correct horse battery']) {
      const archive = await packArchive(meta, files, passphrase);
      const { manifest, files: out } = await unpackArchive(archive, passphrase);
      expect(manifest).toMatchObject({ format: 1, ...meta });
      expect(manifest.files.map((f) => f.path)).toEqual(['data/sluice.db', 'policies/a.yaml']);
      for (const f of files) expect(out.get(f.path)).toEqual(f.data);
    }
  });

  it('a sealed archive shows nothing in the clear and refuses a wrong or missing passphrase and altered bytes', async () => {
    const archive = await packArchive(meta, files, 'correct horse battery');
    expect(archive.includes(Buffer.from('pretend'))).toBe(false);
    expect(archive.includes(Buffer.from('policies/a.yaml'))).toBe(false);
    await expect(unpackArchive(archive, 'wrong horse battery')).rejects.toMatchObject({ code: 'SLUICE_ERR_BACKUP_PASSPHRASE' });
    await expect(unpackArchive(archive, undefined)).rejects.toMatchObject({ code: 'SLUICE_ERR_BACKUP_PASSPHRASE' });
    const flipped = Buffer.from(archive);
    flipped[flipped.length - 20]! ^= 1;
    await expect(unpackArchive(flipped, 'correct horse battery')).rejects.toMatchObject({ code: 'SLUICE_ERR_BACKUP_PASSPHRASE' });
  });

  it('a plain archive with a damaged file, or no archive at all, is SLUICE_ERR_BACKUP_INVALID', async () => {
    await expect(unpackArchive(Buffer.from('hello world'), undefined)).rejects.toMatchObject({ code: 'SLUICE_ERR_BACKUP_INVALID' });
    const archive = await packArchive(meta, files, undefined);
    const cut = archive.subarray(0, archive.length - 8);
    await expect(unpackArchive(cut, undefined)).rejects.toMatchObject({ code: 'SLUICE_ERR_BACKUP_INVALID' });
  });
});

describe('externalBrokerOptionsFrom', () => {
  it('reads the password from the variable it names, and says which one is missing', () => {
    const config = configSchema.parse({ broker: { mode: 'external', external: { username: 'sluice', password_env: 'MY_PASS' } } });
    expect(externalBrokerOptionsFrom(config, { MY_PASS: 's3cret' })).toMatchObject({ username: 'sluice', password: 's3cret', clientId: 'sluice-gateway' });
    expect(() => externalBrokerOptionsFrom(config, {})).toThrow(/MY_PASS, which is not set/);
    expect(configSchema.safeParse({ broker: { external: { password_env: 'A', password_file: '/x' } } }).success).toBe(false);
    expect(configSchema.safeParse({ broker: { external: { url: 'http://x' } } }).success).toBe(false);
  });
});
