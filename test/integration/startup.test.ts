import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

describe('gateway start-up', () => {
  it('warns loudly when it starts without device profiles, and says where MQTT listens (--mqtt-host)', async () => {
    const missing = join(tmpDir(), 'no-such-devices');
    // --mqtt-host wins over the helper's SLUICE_MQTT_HOST=127.0.0.1.
    const gw = await startGateway({ dataDir: tmpDir(), devicesDir: missing, args: ['--mqtt-host', '127.0.0.2'] });
    try {
      const warn = await gw.waitForLog((l) => l.level === 40 && String(l.msg).startsWith('no device profiles'));
      expect(warn.devicesDir).toBe(missing);
      expect(gw.logs.find((l) => l.msg === 'gateway started')?.profiles).toEqual([]);
      expect(gw.logs.some((l) => l.msg === `MQTT listening on 127.0.0.2:${gw.port}`)).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});
