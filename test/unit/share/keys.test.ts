import { statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PolicyV1 } from '../../../src/policy/index.js';
import { gatewaySecret, GATEWAY_SECRET_FILE, signingKeyStatus } from '../../../src/share/index.js';

const dir = () => mkdtempSync(join(tmpdir(), 'sluice-keys-'));

describe('gateway secret and signing keys', () => {
  it('the gateway secret is 32 random bytes made once, mode 0600, and stable afterwards', () => {
    const d = dir();
    const a = gatewaySecret(d);
    expect(a).toHaveLength(32);
    expect(statSync(join(d, GATEWAY_SECRET_FILE)).mode & 0o777).toBe(0o600);
    expect(gatewaySecret(d).equals(a)).toBe(true);
    expect(gatewaySecret(dir()).equals(a)).toBe(false);
    writeFileSync(join(d, GATEWAY_SECRET_FILE), 'not hex\n');
    expect(() => gatewaySecret(d)).toThrow(/damaged/);
  });

  it('a missing signing key is reported where it was looked for, and picked up as soon as it exists', () => {
    const d = dir();
    const byEnv = { vendor: 'Acme', secret_env: 'ACME_KEY' } as PolicyV1;
    expect(signingKeyStatus(byEnv, d, {})).toEqual({ ok: false, message: expect.stringContaining('ACME_KEY') });
    expect(signingKeyStatus(byEnv, d, { ACME_KEY: 'k' })).toMatchObject({ ok: true });
    const byFile = { vendor: 'Acme', secret_file: 'acme.key' } as PolicyV1;
    expect(signingKeyStatus(byFile, d, {})).toEqual({ ok: false, message: expect.stringContaining('acme.key') });
    writeFileSync(join(d, 'acme.key'), 'secret\n', { mode: 0o600 });
    expect(signingKeyStatus(byFile, d, {})).toMatchObject({ ok: true });
  });
});
