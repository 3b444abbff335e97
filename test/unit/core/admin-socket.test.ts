import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminSocketServer, SluiceError, callAdmin, isSluiceError, silentLogger } from '../../../src/core/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

describe('admin socket', () => {
  it('is private to the owner and answers operations with results or typed errors', async () => {
    const path = join(tmpDir(), 's.sock');
    const server = new AdminSocketServer({
      path,
      logger: silentLogger(),
      operations: {
        echo: (p) => ({ got: p }),
        fail: () => {
          throw new SluiceError('SLUICE_ERR_DEVICE_UNKNOWN', 'no such device');
        },
      },
    });
    await server.start();
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await callAdmin(path, 'echo', { a: 1 })).toEqual({ got: { a: 1 } });
      const err = await callAdmin(path, 'fail').catch((e: unknown) => e);
      expect(isSluiceError(err, 'SLUICE_ERR_DEVICE_UNKNOWN')).toBe(true);
      const unknown = await callAdmin(path, 'constructor').catch((e: unknown) => e);
      expect(isSluiceError(unknown, 'SLUICE_ERR_USAGE')).toBe(true);
    } finally {
      await server.stop();
    }
    const gone = await callAdmin(path, 'echo').catch((e: unknown) => e);
    expect(isSluiceError(gone, 'SLUICE_ERR_ADMIN_SOCKET')).toBe(true);
  });
});
